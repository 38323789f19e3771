package delivery

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

// recordItem is an attempt's result with the delivery it belongs to.
type recordItem struct {
	res store.AttemptResult
	job *store.Job
	// rest are the other deliveries of the same batched request: recorded
	// in the same store call, so that a batch's history is written whole.
	rest []recordItem
}

// appendTo appends the item and the rest of its batch to items.
func (r recordItem) appendTo(items []recordItem) []recordItem {
	rest := r.rest
	r.rest = nil
	return append(append(items, r), rest...)
}

// recordLoop writes attempt results in batches: while one batch commits,
// the next gathers, so recording keeps up with many workers at the cost of
// one transaction per batch rather than per attempt.
func (e *Engine) recordLoop(ctx context.Context) {
	defer close(e.recordDone)
	batch := make([]recordItem, 0, 1024)
	for {
		r, ok := <-e.recordCh
		if !ok {
			return
		}
		batch = r.appendTo(batch[:0])
	gather:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-e.recordCh:
				if !ok {
					e.record(ctx, batch)
					return
				}
				batch = r.appendTo(batch)
			default:
				break gather
			}
		}
		e.record(ctx, batch)
	}
}

func (e *Engine) record(ctx context.Context, items []recordItem) {
	batch := make([]store.AttemptResult, len(items))
	for i, it := range items {
		batch[i] = it.res
	}
	// A failed write is tried again: dropping it would lose the outcome,
	// and the lease keeps the deliveries from being sent twice meanwhile.
	// Once shutting down, a few tries only: the deliveries stay leased and
	// go out again after the restart, which is safe, if not ideal.
	delay := 50 * time.Millisecond
	for try := 1; ; try++ {
		err := e.st.DeliveriesRecord(ctx, batch)
		if err == nil {
			break
		}
		var lost bool
		if items, batch, lost = e.fenced(items, batch, err); lost {
			break
		}
		if e.isStopping() && try >= 5 {
			e.log.Error("record attempts failed at shutdown; they will be sent again after restart", errAttr(err), "count", len(batch))
			return
		}
		e.log.Error("record attempts failed; retrying", errAttr(err), "count", len(batch))
		clock.Sleep(e.clock, delay, nil)
		if delay < 5*time.Second {
			delay *= 2
		}
	}
	e.afterRecord(ctx, items)
	for _, it := range items {
		if it.job != nil && it.job.Delivery.OrderingKey != "" && it.res.Status != herald.StatusPending {
			// The next delivery of its key may go now.
			e.wakeClaimer()
			break
		}
	}
	var earliest time.Time
	for _, r := range batch {
		if r.Status == herald.StatusPending && r.NextAttemptAt != nil {
			if earliest.IsZero() || r.NextAttemptAt.Before(earliest) {
				earliest = *r.NextAttemptAt
			}
		}
	}
	if !earliest.IsZero() {
		select {
		case e.retryAtCh <- earliest:
		default:
			// The claimer's poll finds it anyway.
		}
	}
}
