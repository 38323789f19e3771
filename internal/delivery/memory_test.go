package delivery

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
)

// Large payloads to an endpoint that does not answer: memory holds what
// --queue-memory allows and no more, the rest waits in the store,
// pending and leased to no one, and all of it goes out, once each, when
// the endpoint answers again.
func TestEngineQueueMemory(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const budget = 1 << 20
		const events = 40
		gate := make(chan struct{})
		var once sync.Once
		open := func() { once.Do(func() { close(gate) }) }
		var r *engineRig
		var mu sync.Mutex
		var peak int64
		sample := func() {
			_, mem := r.e.budget.held()
			mu.Lock()
			peak = max(peak, mem)
			mu.Unlock()
		}
		r = startEngine(t, Options{QueueMemory: budget}, func(context.Context, int, *outbound.Delivery) outbound.Outcome {
			sample()
			<-gate
			return answer(http.StatusOK)
		})
		t.Cleanup(open)
		ep := r.endpoint(nil)
		var ids []string
		for range events {
			// Each its own payload, as each API request decodes its own.
			payload := herald.RawJSON(`{"blob":"` + strings.Repeat("x", 100_000) + `"}`)
			res, err := r.e.Enqueue(context.Background(), &herald.Event{AppID: r.app.ID, EventType: "lead.created", Payload: payload})
			if err != nil || res.Err != nil {
				t.Fatalf("enqueue: %v %v", err, res.Err)
			}
			ids = append(ids, res.Event.ID)
			synctest.Wait()
			sample()
		}
		held, mem := r.e.budget.held()
		if mem > budget {
			t.Fatalf("%d deliveries hold %d bytes, over the budget of %d", held, mem, budget)
		}
		if held >= events || held < 4 {
			t.Fatalf("%d of %d deliveries held in memory; want the budget's worth (about 9)", held, events)
		}
		if r.e.budget.spillGen(ep.ID) == 0 {
			t.Fatal("nothing was left in the store")
		}
		// What is not in memory is in the store, leased to no one.
		pending := 0
		for _, id := range ids {
			d := r.delivery(id)
			if d.Status != herald.StatusPending {
				t.Fatalf("delivery %s is %s while the endpoint hangs", d.ID, d.Status)
			}
			pending++
		}
		if pending != events {
			t.Fatalf("%d pending, want %d", pending, events)
		}
		open()
		synctest.Wait()
		seen := map[string]int{}
		for _, c := range r.sent() {
			seen[c.delivery]++
		}
		if len(seen) != events || len(r.sent()) != events {
			t.Fatalf("%d calls for %d deliveries, want %d for %d", len(r.sent()), len(seen), events, events)
		}
		for _, id := range ids {
			if d := r.delivery(id); d.Status != herald.StatusSucceeded || d.AttemptCount != 1 {
				t.Errorf("event %s: %s with %d attempts", id, d.Status, d.AttemptCount)
			}
		}
		if peak > budget {
			t.Fatalf("peak %d bytes held, over the budget of %d", peak, budget)
		}
		if n, mem := r.e.budget.held(); n != 0 || mem != 0 {
			t.Fatalf("after all was sent: %d deliveries, %d bytes still counted", n, mem)
		}
	})
}
