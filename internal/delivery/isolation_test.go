package delivery

import (
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
)

// A window starts small, grows by one per success while under ssthresh
// (doubling per round trip), then by about one per window; it grows only
// while it is what holds the endpoint back; a timeout brings it back to
// the initial window, congestion halves it.
func TestFlowSlowStart(t *testing.T) {
	t.Parallel()
	f := &flow{window: initialWindow, ssthresh: 16, initial: initialWindow}
	for i := range 14 {
		f.adapt(answered(http.StatusOK), 32, true)
		if want := float64(initialWindow + i + 1); f.window != want {
			t.Fatalf("window %v after %d successes, want %v", f.window, i+1, want)
		}
	}
	f.adapt(answered(http.StatusOK), 32, true)
	if f.window != 16+1.0/16 {
		t.Fatalf("window %v past ssthresh 16, want 16 + 1/16", f.window)
	}
	w := f.window
	for range 50 {
		f.adapt(answered(http.StatusOK), 32, false)
	}
	if f.window != w {
		t.Fatalf("window moved from %v to %v on successes that did not use it", w, f.window)
	}
	f.adapt(doneMsg{kind: herald.ErrorKindTimeout}, 32, true)
	if f.window != initialWindow || f.ssthresh != w/2 {
		t.Fatalf("after a timeout: window %v ssthresh %v; want %d and %v", f.window, f.ssthresh, initialWindow, w/2)
	}
	// Successes earn it back, quickly up to half of what it had.
	for range 6 {
		f.adapt(answered(http.StatusOK), 32, true)
	}
	if f.window != 8 {
		t.Fatalf("window %v after 6 successes from 2, want 8 (slow start up to ssthresh %v)", f.window, f.ssthresh)
	}
	g := *f
	g.adapt(doneMsg{kind: herald.ErrorKindTimeout}, 32, true)
	g.adapt(doneMsg{kind: herald.ErrorKindTimeout}, 32, true)
	if g.window != 1 {
		t.Fatalf("after two timeouts: window %v, want 1", g.window)
	}
	f.adapt(answered(http.StatusTooManyRequests), 32, true)
	if f.window != 4 || f.ssthresh != 4 {
		t.Fatalf("after a 429: window %v ssthresh %v, want 4 and 4", f.window, f.ssthresh)
	}
}

// slowStartRig is a rig whose endpoints start with the engine's initial
// window.
func slowStartRig(t *testing.T, workers int) *rig {
	r := newRig(t, workers)
	r.d.initialWindow = initialWindow
	r.d.slowAfter = slowAfter
	return r
}

// A new endpoint starts with two requests in flight, and earns more as
// they succeed while it has work waiting; one that hangs from the start
// holds two workers, not its cap of 32.
func TestDispatchSlowStart(t *testing.T) {
	t.Parallel()
	r := slowStartRig(t, 64)
	a, h := endpoint("A", "a"), endpoint("A", "h")
	r.add(a, 200)
	r.add(h, 200)
	if n, m := r.inFlightOfEndpoint("a"), r.inFlightOfEndpoint("h"); n != 2 || m != 2 {
		t.Fatalf("%d and %d in flight before any answer, want 2 each", n, m)
	}
	for i := range 30 {
		r.finishOf("a", http.StatusOK)
		if want := min(32, 3+i); r.inFlightOfEndpoint("a") != want {
			t.Fatalf("%d in flight after %d successes, want %d", r.inFlightOfEndpoint("a"), i+1, want)
		}
	}
	if n := r.inFlightOfEndpoint("h"); n != 2 {
		t.Fatalf("the endpoint that never answered has %d in flight, want 2", n)
	}
	// Its requests time out: it goes on at one at a time.
	r.end("h", doneMsg{kind: herald.ErrorKindTimeout, held: 15 * time.Second})
	r.end("h", doneMsg{kind: herald.ErrorKindTimeout, held: 15 * time.Second})
	if n := r.inFlightOfEndpoint("h"); n != 1 {
		t.Fatalf("%d in flight after timeouts, want 1", n)
	}
	// Slow now, it keeps few deliveries in memory: the rest went back
	// to the store, to be claimed as its queue drains.
	if q := r.d.queues["h"]; q.len()+q.inFlight > slowHeld || len(r.d.giveBack) < 190 || r.b.spillGen("h") == 0 {
		t.Fatalf("the hanging endpoint holds %d queued and %d in flight, %d given back; want at most %d held in all",
			q.len(), q.inFlight, len(r.d.giveBack), slowHeld)
	}
	if q := r.d.queues["h"]; func() int { per, _ := r.b.room("h"); return per }() != slowHeld-q.len()-q.inFlight {
		t.Fatalf("the hanging endpoint's room in memory is not capped at %d", slowHeld)
	}
	r.finishAll()
	if len(r.sent)+len(r.d.giveBack) != 400 {
		t.Fatalf("%d sent and %d given back of 400", len(r.sent), len(r.d.giveBack))
	}
}

// An endpoint that never has more than one delivery waiting never needs
// a larger window, and does not get one: when it starts hanging, it
// holds the workers it used, not its cap.
func TestDispatchWindowGrowsOnlyWhenUsed(t *testing.T) {
	t.Parallel()
	r := slowStartRig(t, 64)
	e := endpoint("A", "e")
	for range 100 {
		r.add(e, 1)
		r.finishOf("e", http.StatusOK)
	}
	r.add(e, 50)
	if n := r.inFlightOfEndpoint("e"); n > initialWindow+1 {
		t.Fatalf("%d in flight after 100 one-at-a-time successes, want at most %d", n, initialWindow+1)
	}
	r.finishAllOf(150)
}

// Endpoints whose requests hold their workers long may together hold at
// most half of them: however many hang, the other half stays for
// endpoints that answer.
func TestDispatchKeepsWorkersForFastEndpoints(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := newShareRig(t, 16, 1, clock.Real)
		r.d.initialWindow = initialWindow
		r.d.slowCap = 8 // as newDispatcher sets it for 16 workers
		r.d.slowAfter = slowAfter
		var hanging []string
		for i := range 20 {
			id := fmt.Sprintf("h%d", i)
			hanging = append(hanging, id)
			r.add(endpoint("A", id), 5)
		}
		// Before anything is known of them, each takes its initial
		// window: 8 of them fill the workers.
		if len(r.inFlight) != 16 {
			t.Fatalf("%d in flight, want all 16 workers", len(r.inFlight))
		}
		// A second later they are slow. As their requests time out,
		// the workers they free go to them only while the slow ones
		// hold fewer than 8.
		time.Sleep(slowAfter)
		r.d.checkSlow()
		r.step()
		if r.d.slowInFlight != 16 {
			t.Fatalf("%d slow requests counted, want 16", r.d.slowInFlight)
		}
		timeout := doneMsg{kind: herald.ErrorKindTimeout, held: 15 * time.Second}
		for _, id := range hanging {
			for r.inFlightOfEndpoint(id) > 0 {
				r.end(id, timeout)
			}
		}
		if n := len(r.inFlight); n != 8 {
			t.Fatalf("%d in flight to the hanging endpoints, want 8 of 16 workers", n)
		}
		// A healthy endpoint finds the other 8.
		f := endpoint("A", "f", func(ep *herald.Endpoint) { ep.MaxInFlight = 64 })
		r.d.initialWindow = 64
		r.add(f, 20)
		if n := r.inFlightOfEndpoint("f"); n != 8 {
			t.Fatalf("the healthy endpoint has %d in flight, want the 8 workers kept for it", n)
		}
		for r.inFlightOfEndpoint("f") > 0 {
			r.finishOf("f", http.StatusOK)
		}
		if n := len(r.inFlight); n != 8 || r.d.free != 8 {
			t.Fatalf("%d in flight and %d free once the healthy endpoint is done; want the hanging ones held to 8", n, r.d.free)
		}
		// An endpoint answering quickly again is no longer slow.
		for _, id := range hanging {
			for r.inFlightOfEndpoint(id) > 0 {
				r.end(id, held(10*time.Millisecond))
			}
		}
		for range 200 {
			if len(r.inFlight) == 0 {
				break
			}
			r.end(r.inFlight[0].job.Endpoint.ID, held(10*time.Millisecond))
		}
		if len(r.inFlight) != 0 || r.d.slowInFlight != 0 {
			t.Fatalf("%d in flight, %d counted slow after all answered", len(r.inFlight), r.d.slowInFlight)
		}
		if len(r.sent)+len(r.d.giveBack) != 120 {
			t.Fatalf("%d sent and %d given back of 120", len(r.sent), len(r.d.giveBack))
		}
	})
}

func (r *rig) inFlightOfEndpoint(id string) (n int) {
	for _, t := range r.inFlight {
		if t.job.Endpoint.ID == id {
			n++
		}
	}
	return n
}

// A window an endpoint does not use settles toward twice what it has in
// flight, never below the initial window; one without slow start (tests'
// flows) keeps its window.
func TestFlowSettles(t *testing.T) {
	t.Parallel()
	f := &flow{window: 32, ssthresh: 32, initial: initialWindow}
	for range 400 {
		f.settle(1)
	}
	if f.window < initialWindow || f.window > initialWindow+0.1 {
		t.Fatalf("window %v after 400 answers with 1 in flight, want about %d", f.window, initialWindow)
	}
	f.window = 32
	for range 400 {
		f.settle(5)
	}
	if f.window < 10 || f.window > 10.1 {
		t.Fatalf("window %v after 400 answers with 5 in flight, want about 10", f.window)
	}
	g := &flow{window: 32}
	g.settle(1)
	if g.window != 32 {
		t.Fatalf("a flow without an initial window settled to %v", g.window)
	}
}
