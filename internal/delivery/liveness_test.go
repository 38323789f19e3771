package delivery

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// logBuffer collects an engine's log lines, from any goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An attempt that ends after another node took its delivery over (this
// node was presumed dead) is not recorded and not retried: the new owner
// sends the delivery.
func TestEngineFencedResultDropped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var logs logBuffer
		gate := make(chan struct{})
		r := startEngine(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))},
			func(_ context.Context, n int, _ *outbound.Delivery) outbound.Outcome {
				if n == 1 {
					<-gate
				}
				return answer(http.StatusInternalServerError)
			})
		r.endpoint(nil)
		ev := r.enqueue(1)[0]
		synctest.Wait()
		if n := len(r.sent()); n != 1 {
			t.Fatalf("%d requests in flight, want 1", n)
		}
		// Another node, hours later by its clock, finds this node's
		// heartbeat old and takes the delivery over.
		n, err := r.db.LeasesReleaseDead(context.Background(), time.Now().Add(4*time.Hour), time.Hour)
		if err != nil || n != 1 {
			t.Fatalf("LeasesReleaseDead: %d, %v; want 1 lease", n, err)
		}
		if n := r.claimable(); n != 1 {
			t.Fatalf("another node claimed %d, want 1", n)
		}
		close(gate)
		synctest.Wait()
		d := r.delivery(ev)
		if len(d.Attempts) != 0 || d.Status != herald.StatusPending || d.NextAttemptAt == nil {
			t.Fatalf("fenced delivery: status %s with %d attempts, want pending with none recorded", d.Status, len(d.Attempts))
		}
		if n := r.claimable(); n != 0 {
			t.Fatalf("the fenced delivery was given back (%d claimable): it is the other node's", n)
		}
		if !strings.Contains(logs.String(), "attempts not recorded: their leases were taken over by another node") {
			t.Fatalf("no warning about the lost lease in the log:\n%s", logs.String())
		}
		if n := len(r.sent()); n != 1 {
			t.Fatalf("%d requests, want the 1 (no retry of a fenced delivery)", n)
		}
	})
}

// flakyBeat is a store whose heartbeats fail while failing is set.
type flakyBeat struct {
	*sqlite.DB
	failing atomic.Bool
}

func (s *flakyBeat) NodeHeartbeat(ctx context.Context, node string, now time.Time, within time.Duration) (int, error) {
	if s.failing.Load() {
		return 0, errors.New("store unreachable")
	}
	return s.DB.NodeHeartbeat(ctx, node, now, within)
}

// A node whose heartbeats fail long enough that others may presume it
// dead sends nothing more of what it holds: it gives it back, and claims
// and sends it again once its heartbeats come back, each delivery once.
func TestEngineStopsSendingWithoutHeartbeats(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var st *flakyBeat
		gate := make(chan struct{})
		r := startEngineOn(t, func(db *sqlite.DB) Store { st = &flakyBeat{DB: db}; return st },
			Options{HeartbeatInterval: time.Second, PollInterval: time.Second},
			func(_ context.Context, n int, _ *outbound.Delivery) outbound.Outcome {
				if n == 1 {
					<-gate
				}
				return answer(http.StatusOK)
			})
		r.endpoint(func(ep *herald.Endpoint) { ep.MaxInFlight = 1 })
		evs := r.enqueue(3)
		synctest.Wait()
		st.failing.Store(true)
		// Past 3 intervals less half an interval since the last beat.
		time.Sleep(3 * time.Second)
		synctest.Wait()
		close(gate)
		synctest.Wait()
		if n := len(r.sent()); n != 1 {
			t.Fatalf("%d requests while heartbeats failed, want only the 1 already in flight", n)
		}
		if d := r.delivery(evs[0]); d.Status != herald.StatusSucceeded {
			t.Fatalf("the attempt in flight (lease still the node's): status %s, want succeeded", d.Status)
		}
		st.failing.Store(false)
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(r.sent()); n != 3 {
			t.Fatalf("%d requests after heartbeats came back, want 3 (each delivery once)", n)
		}
		for _, ev := range evs {
			if d := r.delivery(ev); d.Status != herald.StatusSucceeded || len(d.Attempts) != 1 {
				t.Fatalf("delivery of %s: status %s with %d attempts, want succeeded with 1", ev, d.Status, len(d.Attempts))
			}
		}
	})
}

// When a node leaves, the others' share of an endpoint's in-flight cap
// jumps back at once, not one success at a time.
func TestEngineShareJumpsBackWhenANodeLeaves(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		gate := newHoldGate()
		// Beats a minute apart: the held requests stay well within
		// their lease.
		r := startEngine(t, Options{Workers: 8, HeartbeatInterval: time.Minute}, gate.answer)
		heartbeat(t, r, 2)
		r.endpoint(func(ep *herald.Endpoint) { ep.MaxInFlight = 4 })
		r.enqueue(20)
		synctest.Wait()
		if n := len(r.sent()); n != 2 {
			t.Fatalf("%d in flight with 2 nodes, want the share of 2", n)
		}
		if err := r.db.NodeLeave(context.Background(), "node-other-0"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(r.e.o.HeartbeatInterval)
		synctest.Wait()
		if got := r.e.nodes.Load(); got != 1 {
			t.Fatalf("engine sees %d nodes after the other left, want 1", got)
		}
		if n := len(r.sent()); n != 4 {
			t.Fatalf("%d in flight once alone, before any answer, want the whole cap of 4", n)
		}
		close(gate.open)
		synctest.Wait()
	})
}

// A node that still beats but whose requests all hang past any timeout
// is stuck: its leases are not renewed and run out, so that another node
// takes its deliveries (the lease is the backstop for what heartbeats
// cannot tell).
func TestEngineStuckNodeLetsLeasesRunOut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		gate := newHoldGate()
		r := startEngine(t, Options{HeartbeatInterval: time.Minute}, gate.answer)
		r.endpoint(func(ep *herald.Endpoint) { ep.MaxInFlight = 1 })
		r.enqueue(3)
		synctest.Wait()
		// Renewals every 20 minutes see attempts under way, none ended.
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if n := r.claimable(); n != 0 {
			t.Fatalf("%d claimable by another node within the lease, want 0", n)
		}
		time.Sleep(31 * time.Minute)
		synctest.Wait()
		if n := r.claimable(); n != 3 {
			t.Fatalf("%d claimable by another node once the lease ran out, want all 3", n)
		}
		close(gate.open)
		synctest.Wait()
		if n := len(r.sent()); n != 1 {
			t.Fatalf("%d requests, want only the one that hung (the others are another node's now)", n)
		}
	})
}

// A node whose attempts keep ending renews its leases for as long as it
// holds deliveries, however long its queue takes.
func TestEngineWorkingNodeKeepsLeases(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{HeartbeatInterval: time.Minute}, func(context.Context, int, *outbound.Delivery) outbound.Outcome {
			time.Sleep(10 * time.Minute)
			return answer(http.StatusOK)
		})
		r.endpoint(func(ep *herald.Endpoint) { ep.MaxInFlight = 1 })
		r.enqueue(20)
		// Three hours: the last lease taken ran out long ago, but the
		// node sends one every ten minutes and keeps renewing.
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		if n := r.claimable(); n != 0 {
			t.Fatalf("%d claimable by another node from a working node, want 0", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(r.sent()); n != 20 {
			t.Fatalf("%d sent, want 20", n)
		}
	})
}

// A node stopped cleanly leaves: the others count it out at their next
// heartbeat, not once its heartbeat is old.
func TestEngineShutdownLeaves(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{}, always(http.StatusOK))
		ctx := context.Background()
		if n, err := r.db.NodeHeartbeat(ctx, "node-other", time.Now(), time.Hour); err != nil || n != 2 {
			t.Fatalf("another node counts %d (%v) with the engine running, want 2", n, err)
		}
		if err := r.e.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := r.db.NodeHeartbeat(ctx, "node-other", time.Now(), time.Hour); err != nil || n != 1 {
			t.Fatalf("another node counts %d (%v) once the engine stopped, want 1", n, err)
		}
	})
}
