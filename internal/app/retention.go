package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// retainer is what retention needs of the store.
type retainer interface {
	Retain(ctx context.Context, p store.RetainParams) (store.RetainResult, error)
}

// retainLoop removes data older than keep, every interval, in small
// batches with pauses between them: deleting a month of history at once
// would hold the database's writer for long and stall delivery.
func retainLoop(ctx context.Context, st retainer, keep, interval time.Duration, log *slog.Logger) {
	if keep <= 0 {
		return
	}
	for {
		var total store.RetainResult
		for ctx.Err() == nil {
			res, err := st.Retain(ctx, store.RetainParams{Before: time.Now().Add(-keep), Batch: 500})
			if err != nil {
				if ctx.Err() == nil {
					log.Error("retention", "error", err.Error())
				}
				break
			}
			total.Events += res.Events
			total.Deliveries += res.Deliveries
			total.Attempts += res.Attempts
			if res.Done {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		if total.Events > 0 {
			log.Info("retention removed old data", "events", total.Events, "deliveries", total.Deliveries, "attempts", total.Attempts)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
