package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// orderedKeys is how many ordering keys ordered spreads its events over.
const orderedKeys = 1000

// orderKeys is the keys of ordered for n events: orderedKeys, fewer when
// n is small (--quick), so that each key still has about ten events and
// the order check has something to check.
func orderKeys(n int) int { return max(1, min(orderedKeys, n/10)) }

// batched's endpoint setting.
const (
	batchMaxEvents = 100
	batchMaxWaitMS = 50
)

// keyedBurst sends events 0..n-1 of s from conc callers, key by key: the
// keys are split between the callers, and each sends its keys' events in
// turn, the next event of a key only once the last one is accepted. So a
// key's events are accepted in seq order, which is the order the receiver
// expects them in.
func keyedBurst(ctx context.Context, clients []*client, s *stream, n, conc int) {
	conc = max(1, min(conc, s.keys))
	var wg sync.WaitGroup
	for w := range conc {
		c := clients[w%len(clients)]
		wg.Go(func() {
			for base := 0; base < n; base += s.keys {
				for k := w; k < s.keys; k += conc {
					if seq := base + k; seq < n && ctx.Err() == nil {
						send(ctx, c, s, seq)
					}
				}
			}
		})
	}
	wg.Wait()
}

// ordered runs throughput without ordering keys, then with them, on one
// server: the cost of holding each key to one delivery at a time.
func (r *runner) ordered(sc *Scenario) error {
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	keys := orderKeys(r.sz.events)
	var errs []error
	for _, c := range []struct {
		name string
		keys int
	}{{"unordered (no key)", 0}, {fmt.Sprintf("ordered (%d keys)", keys), keys}} {
		s := r.newStream("ordered", r.sz.events, 1)
		s.keys = c.keys
		row, err := r.burstCase(sc.Name, c.name, nodes, s, r.sz.events)
		r.rc.remove(s)
		row.OutOfOrder = s.outOfOrder.Load()
		if row.OutOfOrder > 0 {
			err = errors.Join(err, fmt.Errorf("%s: %d events arrived before their key's previous event", c.name, row.OutOfOrder))
		}
		sc.Rows = append(sc.Rows, row)
		errorNotes(sc, s)
		if errs = append(errs, err); isStartError(err) || r.ctx.Err() != nil {
			break
		}
	}
	sc.Notes = append(sc.Notes, fmt.Sprintf("ordered: event seq carries ordering_key k<seq mod %d>; the receiver checks that each arrives after its key's previous event; out of order: %d", keys, outOfOrderOf(sc.Rows)))
	return errors.Join(errs...)
}

func outOfOrderOf(rows []Row) int64 {
	var n int64
	for _, row := range rows {
		n += row.OutOfOrder
	}
	return n
}

// batched runs throughput unbatched, then batched, on one server:
// deliveries/s counts events (array elements), requests/s the requests.
func (r *runner) batched(sc *Scenario) error {
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	var errs []error
	for _, c := range []struct {
		name  string
		batch map[string]any
	}{{"unbatched", nil}, {fmt.Sprintf("batched (max %d, %d ms)", batchMaxEvents, batchMaxWaitMS),
		map[string]any{"max_events": batchMaxEvents, "max_wait_ms": batchMaxWaitMS}}} {
		s := r.newStream("batched", r.sz.events, 1)
		if c.batch != nil {
			s.settings = map[string]any{"batch": c.batch}
		}
		row, err := r.burstCase(sc.Name, c.name, nodes, s, r.sz.events)
		r.rc.remove(s)
		row.Requests = s.requests.Load()
		// Over the same span as deliveries/s.
		var rps float64
		if row.Deliveries > 0 {
			rps = row.DeliveriesPerSec * float64(row.Requests) / float64(row.Deliveries)
		}
		sc.Notes = append(sc.Notes, fmt.Sprintf("%s: %d events in %d requests, %.0f requests/s", c.name, row.Deliveries, row.Requests, rps))
		sc.Rows = append(sc.Rows, row)
		errorNotes(sc, s)
		if errs = append(errs, err); isStartError(err) || r.ctx.Err() != nil {
			break
		}
	}
	sc.Notes = append(sc.Notes, "deliveries/s counts events delivered (array elements of a batch), not requests")
	return errors.Join(errs...)
}
