package delivery

import (
	"slices"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/preset"
	"github.com/heraldhq/herald/internal/store"
)

// batchHeadroom is what a batch leaves of the rendered request cap for the
// URL, the headers and the elements' own fields.
const batchHeadroom = 4096

// elementSize is about what a delivery adds to a batch's body: its
// payload and its element's fields.
func elementSize(j *store.Job) int {
	return len(j.Event.Payload) + len(j.Delivery.ID) + len(j.Event.EventType) + 80
}

// batchBytes is the most element bytes one batch of ep may hold: its
// max_bytes, within the rendered request cap (0: none).
func (d *dispatcher) batchBytes(ep *herald.Endpoint) int {
	limit := preset.Batching(ep).MaxBytes
	if d.batchCap > 0 {
		c := max(d.batchCap-batchHeadroom, 1)
		if limit <= 0 || limit > c {
			limit = c
		}
	}
	return limit
}

// dueAt is when a queued delivery became due: its wait for a batch
// counts from then.
func dueAt(j *store.Job) time.Time {
	if t := j.Delivery.NextAttemptAt; t != nil {
		return *t
	}
	return j.Delivery.CreatedAt
}

// batchWait reports whether a batching endpoint's queue should wait for
// more deliveries, and until when: not once it holds a full batch (by
// count or bytes), nor once its oldest delivery has waited max_wait_ms.
func (d *dispatcher) batchWait(q *epQueue) (time.Time, bool) {
	b := preset.Batching(q.ep)
	if b == nil || q.len() >= b.MaxEvents {
		return time.Time{}, false
	}
	until := dueAt(q.jobs[q.head]).Add(time.Duration(b.MaxWaitMS) * time.Millisecond)
	if !d.clock.Now().Before(until) {
		return time.Time{}, false
	}
	if limit := d.batchBytes(q.ep); limit > 0 {
		n := 0
		for _, j := range q.jobs[q.head:] {
			if n += elementSize(j); n >= limit {
				return time.Time{}, false
			}
		}
	}
	return until, true
}

// gather takes a batching endpoint out of turn until until, or until its
// queue holds a full batch (add).
func (d *dispatcher) gather(q *epQueue, until time.Time) {
	q.gathering = true
	d.throttle(q, until)
}

// gathered puts a gathering endpoint whose batch is full back in turn.
func (d *dispatcher) gathered(q *epQueue) {
	if !q.gathering {
		return
	}
	if _, wait := d.batchWait(q); wait {
		return
	}
	if i := slices.Index(d.throttled, q); i >= 0 {
		d.throttled = slices.Delete(d.throttled, i, i+1)
	}
	d.wake(q)
}

// takeBatch takes from a batching endpoint's queue the deliveries that go
// with first (already taken) in one request: up to max_events and the
// batch's bytes, in queue order. It stops before a second delivery of an
// ordering key already in the batch, so that a batch never sends a key's
// deliveries but in order (the claim hands out one per key at a time, so
// this is a safeguard), and before a delivery the memory budget has no
// room for.
func (d *dispatcher) takeBatch(q *epQueue, first *store.Job) []*store.Job {
	b := preset.Batching(q.ep)
	jobs := []*store.Job{first}
	limit := d.batchBytes(q.ep)
	size := elementSize(first)
	var keys map[string]bool
	if k := first.Delivery.OrderingKey; k != "" {
		keys = map[string]bool{k: true}
	}
	for len(jobs) < b.MaxEvents && q.len() > 0 {
		j := q.jobs[q.head]
		if k := j.Delivery.OrderingKey; k != "" {
			if keys[k] {
				break
			}
			if keys == nil {
				keys = map[string]bool{}
			}
			keys[k] = true
		}
		n := elementSize(j)
		if limit > 0 && size+n > limit {
			break
		}
		if !d.budget.tryRender(j.Event) {
			break
		}
		q.pop()
		j.Endpoint = q.ep
		jobs = append(jobs, j)
		size += n
	}
	return jobs
}
