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
	ev, d, a := inBatches(ctx, log, "retention", func() (int64, int64, int64, bool, error) {
		res, err := st.Retain(ctx, store.RetainParams{Before: time.Now().Add(-keep), Batch: 500})
		return res.Events, res.Deliveries, res.Attempts, res.Done, err
	})
	if ev > 0 {
		log.Info("retention removed old data", "events", ev, "deliveries", d, "attempts", a)
	}
}

// expireOnce removes, batch by batch, the payloads due for removal now.
func expireOnce(ctx context.Context, st retainer, log *slog.Logger) {
	ev, d, a := inBatches(ctx, log, "payload retention", func() (int64, int64, int64, bool, error) {
		res, err := st.EventPayloadsExpire(ctx, store.PayloadExpireParams{Now: time.Now(), Batch: 500})
		return res.Events, res.Deliveries, res.Attempts, res.Done, err
	})
	if ev > 0 {
		log.Info("payload retention removed payloads", "events", ev, "deliveries_failed", d, "attempt_bodies", a)
	}
}

// inBatches runs step until it is done, fails or ctx ends, pausing
// between batches, and adds up what the steps counted.
func inBatches(ctx context.Context, log *slog.Logger, what string, step func() (events, deliveries, attempts int64, done bool, err error)) (events, deliveries, attempts int64) {
	for ctx.Err() == nil {
		e, d, a, done, err := step()
		if err != nil {
			if ctx.Err() == nil {
				log.Error(what, "error", err.Error())
			}
			break
		}
		events, deliveries, attempts = events+e, deliveries+d, attempts+a
		if done || !pause(ctx) {
			break
		}
	}
	return events, deliveries, attempts
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
