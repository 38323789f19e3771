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
	EventPayloadsExpire(ctx context.Context, p store.PayloadExpireParams) (store.PayloadExpireResult, error)
}

// retainPause separates two batches, so that delivery gets the writer.
const retainPause = 20 * time.Millisecond

// retainLoop removes data older than keep (none when keep is not above
// 0), and the payloads of events whose own payload retention ended, every
// interval, in small batches with pauses between them: deleting a month
// of history at once would hold the database's writer for long and stall
// delivery. An event whose payload retention is longer than keep is
// removed whole first: the shorter one wins.
func retainLoop(ctx context.Context, st retainer, keep, interval time.Duration, log *slog.Logger) {
	for {
		if keep > 0 {
			retainOnce(ctx, st, keep, log)
		}
		expireOnce(ctx, st, log)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// retainOnce removes, batch by batch, everything older than keep.
func retainOnce(ctx context.Context, st retainer, keep time.Duration, log *slog.Logger) {
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
		if res.Done || !pause(ctx) {
			break
		}
	}
	if total.Events > 0 {
		log.Info("retention removed old data", "events", total.Events, "deliveries", total.Deliveries, "attempts", total.Attempts)
	}
}

// expireOnce removes, batch by batch, the payloads due for removal now.
func expireOnce(ctx context.Context, st retainer, log *slog.Logger) {
	var total store.PayloadExpireResult
	for ctx.Err() == nil {
		res, err := st.EventPayloadsExpire(ctx, store.PayloadExpireParams{Now: time.Now(), Batch: 500})
		if err != nil {
			if ctx.Err() == nil {
				log.Error("payload retention", "error", err.Error())
			}
			break
		}
		total.Events += res.Events
		total.Deliveries += res.Deliveries
		total.Attempts += res.Attempts
		if res.Done || !pause(ctx) {
			break
		}
	}
	if total.Events > 0 {
		log.Info("payload retention removed payloads", "events", total.Events, "deliveries_failed", total.Deliveries, "attempt_bodies", total.Attempts)
	}
}

// pause waits between two batches; false when ctx ended.
func pause(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(retainPause):
		return true
	}
}
