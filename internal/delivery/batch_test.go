package delivery

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/preset"
)

// sentBatches returns the batched requests made so far.
func (r *engineRig) sentBatches() []sentBatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

// enqueueKeyed accepts an event with an ordering key.
func (r *engineRig) enqueueKeyed(key string) string {
	r.t.Helper()
	res, err := r.e.Enqueue(context.Background(), &herald.Event{AppID: r.app.ID, EventType: "lead.created", Payload: herald.RawJSON(`{}`), OrderingKey: key})
	if err != nil || res.Err != nil {
		r.t.Fatalf("enqueue: %v %v", err, res.Err)
	}
	return res.Event.ID
}

// TestEngineBatchGathers: a batching endpoint's deliveries go max_events
// at a time, a batch short of max_events waits max_wait_ms from its
// oldest delivery (not a moment less), and each delivery's attempt
// carries its batch's id.
func TestEngineBatchGathers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{}, always(http.StatusOK))
		r.endpoint(func(ep *herald.Endpoint) { ep.Batch = &herald.BatchSettings{MaxEvents: 3, MaxWaitMS: 10_000} })
		events := r.enqueue(7)
		synctest.Wait()
		if got := r.sentBatches(); len(got) != 2 || len(got[0].ids) != 3 || len(got[1].ids) != 3 {
			t.Fatalf("at once: batches %+v, want two of 3", got)
		}
		time.Sleep(10*time.Second - time.Millisecond)
		synctest.Wait()
		if got := r.sentBatches(); len(got) != 2 {
			t.Fatalf("before max_wait_ms: %d batches, want the lone delivery still held", len(got))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		got := r.sentBatches()
		if len(got) != 3 || len(got[2].ids) != 1 || got[2].at != 10*time.Second {
			t.Fatalf("batches %+v, want a third of 1 at 10s", got)
		}
		inBatch := map[string]string{}
		for _, b := range got {
			for _, id := range b.ids {
				if inBatch[id] != "" {
					t.Fatalf("delivery %s in two batches", id)
				}
				inBatch[id] = b.id
			}
		}
		for _, ev := range events {
			d := r.delivery(ev)
			if d.Status != herald.StatusSucceeded || len(d.Attempts) != 1 || d.Attempts[0].BatchID != inBatch[d.ID] || d.Attempts[0].BatchID == "" {
				t.Fatalf("delivery %s: %s, attempts %+v; want succeeded once in batch %s", d.ID, d.Status, d.Attempts, inBatch[d.ID])
			}
		}
	})
}

// TestEngineBatchZeroWait: with max_wait_ms 0, a lone delivery goes at
// once.
func TestEngineBatchZeroWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{}, always(http.StatusOK))
		r.endpoint(func(ep *herald.Endpoint) { ep.Batch = &herald.BatchSettings{MaxEvents: 5} })
		r.enqueue(1)
		synctest.Wait()
		if got := r.sentBatches(); len(got) != 1 || got[0].at != 0 {
			t.Fatalf("batches %+v, want one at once", got)
		}
	})
}

// TestEngineBatchRetry: a 500 on a batch fails every delivery in it, and
// the retry sends the same deliveries together again; all end succeeded.
func TestEngineBatchRetry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{Retry: RetryPolicy{Schedule: []time.Duration{time.Minute}}}, script(answer(http.StatusInternalServerError)))
		r.endpoint(func(ep *herald.Endpoint) { ep.Batch = &herald.BatchSettings{MaxEvents: 4, MaxWaitMS: 1000} })
		events := r.enqueue(4)
		time.Sleep(time.Hour)
		synctest.Wait()
		got := r.sentBatches()
		if len(got) != 2 || !slices.Equal(sorted(got[0].ids), sorted(got[1].ids)) || len(got[0].ids) != 4 || got[1].at != time.Minute {
			t.Fatalf("batches %+v, want the same 4 deliveries at 0 and 1m", got)
		}
		for _, ev := range events {
			d := r.delivery(ev)
			if d.Status != herald.StatusSucceeded || len(d.Attempts) != 2 ||
				d.Attempts[0].BatchID != got[0].id || d.Attempts[1].BatchID != got[1].id || d.Attempts[0].Response.StatusCode != 500 {
				t.Fatalf("delivery %s: %s with %d attempts, want succeeded after a 500, each attempt with its batch", d.ID, d.Status, len(d.Attempts))
			}
		}
	})
}

// TestEngineBatchOrdering: deliveries of one ordering key never share a
// batch out of order: each key's deliveries are sent in acceptance
// order, keys interleaved within batches.
func TestEngineBatchOrdering(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{}, always(http.StatusOK))
		r.endpoint(func(ep *herald.Endpoint) { ep.Batch = &herald.BatchSettings{MaxEvents: 10, MaxWaitMS: 100} })
		want := map[string][]string{}
		for i := range 12 {
			key := fmt.Sprintf("k%d", i%3)
			want[key] = append(want[key], r.enqueueKeyed(key))
			// Ids made in one millisecond need not sort in the order
			// they were made: a tick apart, acceptance order is plain.
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		keyOf := map[string]string{}
		for key, evs := range want {
			for _, ev := range evs {
				keyOf[r.delivery(ev).ID] = key
			}
		}
		gotByKey := map[string][]string{}
		total := 0
		for _, b := range r.sentBatches() {
			seen := map[string]bool{}
			for _, id := range b.ids {
				k := keyOf[id]
				if seen[k] {
					t.Fatalf("batch %v holds two deliveries of key %s", b.ids, k)
				}
				seen[k] = true
				gotByKey[k] = append(gotByKey[k], id)
				total++
			}
		}
		if total != 12 {
			t.Fatalf("%d deliveries sent, want 12", total)
		}
		for key, evs := range want {
			var ids []string
			for _, ev := range evs {
				ids = append(ids, r.delivery(ev).ID)
			}
			if !slices.Equal(gotByKey[key], ids) {
				t.Errorf("key %s sent %v, want %v", key, gotByKey[key], ids)
			}
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestEngineBatchMaxBytes: a batch holds no more element bytes than
// max_bytes, and a queue that has reached them goes without waiting.
func TestEngineBatchMaxBytes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{}, always(http.StatusOK))
		// Each element of these events weighs about 125 bytes: two fit.
		r.endpoint(func(ep *herald.Endpoint) {
			ep.Batch = &herald.BatchSettings{MaxEvents: 10, MaxWaitMS: 10_000, MaxBytes: 300}
		})
		r.enqueue(5)
		synctest.Wait()
		got := r.sentBatches()
		if len(got) != 2 || len(got[0].ids) != 2 || len(got[1].ids) != 2 || got[1].at != 0 {
			t.Fatalf("at once: batches %+v, want two of 2", got)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := r.sentBatches(); len(got) != 3 || len(got[2].ids) != 1 {
			t.Fatalf("batches %+v, want the last delivery alone after max_wait_ms", got)
		}
	})
}

// TestEngineMarketoBatches: a Marketo endpoint batches without settings
// of its own, up to 300 leads per request with no added wait: 301 leads
// due at once go as 300 and 1. A batch answered lead by lead records
// each delivery's own outcome: a skipped lead fails with its reason, a
// lead to retry is retried alone, the others succeed.
func TestEngineMarketoBatches(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		r := startEngine(t, Options{Retry: RetryPolicy{Schedule: []time.Duration{time.Minute}}}, func(_ context.Context, n int, _ *outbound.Delivery) outbound.Outcome {
			if n == 1 {
				<-gate
			}
			return answer(http.StatusOK)
		})
		r.mu.Lock()
		r.each = func(ds []*outbound.Delivery) map[int]outbound.Outcome {
			each := map[int]outbound.Outcome{}
			for i := range ds {
				each[i] = answer(http.StatusOK)
			}
			if len(ds) == preset.MarketoMaxLeads {
				skipped := answer(http.StatusBadRequest)
				skipped.Error = "Marketo skipped the lead: 1006 Field 'x' not found"
				each[1] = skipped
				each[2] = answer(http.StatusServiceUnavailable)
			}
			return each
		}
		r.mu.Unlock()
		r.endpoint(func(ep *herald.Endpoint) {
			ep.Preset = "marketo"
			ep.MaxInFlight = 1
		})
		// The first lead's request is held: the next 301 are due at once
		// when it ends.
		r.enqueue(1)
		synctest.Wait()
		events := r.enqueue(301)
		synctest.Wait()
		close(gate)
		synctest.Wait()
		got := r.sentBatches()
		if len(got) != 3 || len(got[0].ids) != 1 || len(got[1].ids) != 300 || len(got[2].ids) != 1 || got[1].at != 0 {
			sizes := []int{}
			for _, b := range got {
				sizes = append(sizes, len(b.ids))
			}
			t.Fatalf("batches of %v, want 1, then 300 and 1 at once", sizes)
		}
		skipped, retried := r.delivery(events[1]), r.delivery(events[2])
		if skipped.ID != got[1].ids[1] || retried.ID != got[1].ids[2] {
			t.Fatalf("batch %v does not hold the leads in order", got[1].ids[:3])
		}
		if skipped.Status != herald.StatusFailed || len(skipped.Attempts) != 1 || skipped.Attempts[0].Error != "Marketo skipped the lead: 1006 Field 'x' not found" || skipped.Attempts[0].BatchID != got[1].id {
			t.Fatalf("skipped lead: %s, attempts %+v; want failed with Marketo's reason, in its batch", skipped.Status, skipped.Attempts)
		}
		if retried.Status != herald.StatusPending || len(retried.Attempts) != 1 {
			t.Fatalf("lead to retry: %s with %d attempts, want pending", retried.Status, len(retried.Attempts))
		}
		if d := r.delivery(events[0]); d.Status != herald.StatusSucceeded || d.Attempts[0].BatchID != got[1].id {
			t.Fatalf("lead 0: %s %+v, want succeeded in the batch", d.Status, d.Attempts)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if d := r.delivery(events[2]); d.Status != herald.StatusSucceeded || len(d.Attempts) != 2 {
			t.Fatalf("lead retried: %s with %d attempts, want succeeded on its retry", d.Status, len(d.Attempts))
		}
		if n := len(r.sentBatches()); n != 4 {
			t.Fatalf("%d requests, want the retried lead alone in a fourth", n)
		}
	})
}
