package delivery

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
)

func answered(status int) doneMsg {
	kind := herald.ErrorKindHTTPStatus
	if status/100 == 2 {
		kind = herald.ErrorKindNone
	}
	return doneMsg{status: status, kind: kind}
}

func TestFlowHalvesOnCongestion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		m    doneMsg
	}{
		{"429", answered(http.StatusTooManyRequests)},
		{"502", answered(http.StatusBadGateway)},
		{"503", answered(http.StatusServiceUnavailable)},
		{"504", answered(http.StatusGatewayTimeout)},
	} {
		f := &flow{window: 16}
		f.adapt(c.m, 16, true)
		if f.window != 8 {
			t.Errorf("%s: window %v after one answer at 16, want 8", c.name, f.window)
		}
		for range 10 {
			f.adapt(c.m, 16, true)
		}
		if f.window != 1 {
			t.Errorf("%s: window %v after many, want the floor 1", c.name, f.window)
		}
	}
}

func TestFlowGrowsByOnePerWindow(t *testing.T) {
	t.Parallel()
	f := &flow{window: 4}
	f.adapt(answered(200), 16, true)
	if f.window != 4.25 {
		t.Fatalf("window %v after one success at 4, want 4.25 (1/window)", f.window)
	}
	// About one more per window's worth of successes.
	f.window = 4
	for range 4 {
		f.adapt(answered(200), 16, true)
	}
	if f.window < 4.8 || f.window > 5 {
		t.Fatalf("window %v after 4 successes at 4, want a little under 5", f.window)
	}
	// An answer that is not congestion counts as the endpoint coping.
	f.window = 4
	f.adapt(answered(http.StatusInternalServerError), 16, true)
	if f.window != 4.25 {
		t.Fatalf("window %v after a 500, want 4.25", f.window)
	}
	// Never past the endpoint's cap.
	for range 1000 {
		f.adapt(answered(204), 16, true)
	}
	if f.window != 16 {
		t.Fatalf("window %v after many successes, want the cap 16", f.window)
	}
}

func TestFlowIgnoresWhatSaysNothingOfLoad(t *testing.T) {
	t.Parallel()
	for _, m := range []doneMsg{
		{kind: herald.ErrorKindConnect},
		{kind: herald.ErrorKindDNS},
		{kind: herald.ErrorKindPolicy},
		// An aborted attempt (shutdown) is no answer at all.
		{status: http.StatusServiceUnavailable, kind: herald.ErrorKindHTTPStatus, released: true},
		{released: true},
	} {
		f := &flow{window: 4}
		f.adapt(m, 16, true)
		if f.window != 4 {
			t.Errorf("%+v moved the window to %v", m, f.window)
		}
	}
}

func TestFlowLatencyAboveBaseline(t *testing.T) {
	t.Parallel()
	ok := func(l time.Duration) doneMsg { return doneMsg{kind: herald.ErrorKindNone, status: 200, latency: l} }
	f := &flow{window: 16}
	f.adapt(ok(20*time.Millisecond), 16, true)
	if f.baseline != 20*time.Millisecond || f.window != 16 {
		t.Fatalf("first sample: baseline %v window %v", f.baseline, f.window)
	}
	// Far above the baseline, but under 100 ms: not congestion.
	f.adapt(ok(95*time.Millisecond), 16, true)
	if f.window != 16 {
		t.Fatalf("95 ms over a 20 ms baseline halved the window to %v", f.window)
	}
	// Over 100 ms and over four times the baseline: congestion.
	f.adapt(ok(200*time.Millisecond), 16, true)
	if f.window != 8 {
		t.Fatalf("200 ms over a ~20 ms baseline: window %v, want 8", f.window)
	}
	// A faster sample lowers the floor at once.
	f.adapt(ok(10*time.Millisecond), 16, true)
	if f.baseline != 10*time.Millisecond {
		t.Fatalf("baseline %v after a 10 ms sample", f.baseline)
	}
	// A lasting slowdown becomes the endpoint's new normal.
	f = &flow{window: 16}
	f.adapt(ok(20*time.Millisecond), 16, true)
	congested := 0
	for range 100 {
		if f.congested(ok(500 * time.Millisecond)) {
			congested++
		}
	}
	if congested == 0 || congested > 32 {
		t.Fatalf("%d of 100 samples at 500 ms over a 20 ms baseline counted as congestion; want the first ones only", congested)
	}
	if f.congested(ok(500 * time.Millisecond)) {
		t.Fatalf("500 ms still congestion after 100 samples of it (baseline %v)", f.baseline)
	}
}

func TestNodeShare(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		total int
		nodes int64
		want  int
	}{
		{32, 0, 32}, {32, 1, 32}, {32, 2, 16}, {5, 2, 3}, {1, 3, 1}, {2, 4, 1}, {10, 3, 4},
	} {
		if got := nodeShare(c.total, c.nodes); got != c.want {
			t.Errorf("nodeShare(%d, %d) = %d, want %d", c.total, c.nodes, got, c.want)
		}
	}
}

// The dispatcher's view of an endpoint's flow: the window starts at the
// endpoint's cap and follows it down, and the rate limit is shared
// between the nodes.
func TestDispatcherFlow(t *testing.T) {
	t.Parallel()
	nodes := int64(1)
	d := newDispatcher(1, 1, newBudget(10, 10, 0), clock.Real)
	d.nodes = func() int64 { return nodes }
	q := &epQueue{ep: &herald.Endpoint{ID: "ep"}, max: 8}
	first := d.flow(q)
	f := first
	if f.window != initialWindow || f.ssthresh != 8 || f.limiter != nil {
		t.Fatalf("new flow: window %v ssthresh %v limiter %v; want slow start from %d", f.window, f.ssthresh, f.limiter, initialWindow)
	}
	q.max = 1
	if f = d.flow(q); f.window != 1 {
		t.Fatalf("window %v after the cap fell to 1", f.window)
	}
	q.ep = &herald.Endpoint{ID: "ep", EndpointSettings: herald.EndpointSettings{RateLimit: 40}}
	f = d.flow(q)
	if f.limiter == nil || f.rate != 40 || f.limiter.Burst() != 4 {
		t.Fatalf("rate limit 40/s: limiter %v rate %v", f.limiter != nil, f.rate)
	}
	nodes = 4
	f = d.flow(q)
	if f.rate != 10 || float64(f.limiter.Limit()) != 10 || f.limiter.Burst() != 1 {
		t.Fatalf("40/s over 4 nodes: rate %v limit %v burst %d, want 10/s burst 1", f.rate, f.limiter.Limit(), f.limiter.Burst())
	}
	q.ep = &herald.Endpoint{ID: "ep"}
	if f = d.flow(q); f.limiter != nil || f.rate != 0 {
		t.Fatal("limiter kept after the rate limit was removed")
	}
	if f != first {
		t.Fatal("the endpoint's flow was replaced: its window and limiter must carry over")
	}
}

// held is a 200 that kept its worker for d.
func held(d time.Duration) doneMsg {
	m := answered(http.StatusOK)
	m.held, m.latency = d, d
	return m
}

// A receiver that always answers 200 after 10 s is never congested by its
// own measure, so its window stays whole; what it may have in flight is
// bounded by the worker time it holds instead: 25.6 s of budget (256
// workers × 100 ms) allows two such requests at once.
func TestFlowLimitFollowsWorkerTime(t *testing.T) {
	t.Parallel()
	const budget = 256 * heldPerWorker
	f := &flow{window: 64}
	if n := f.limit(budget); n != 64 {
		t.Fatalf("limit %d before any answer, want the window 64", n)
	}
	for range 20 {
		f.adapt(held(10*time.Second), 64, true)
	}
	if f.window != 64 {
		t.Fatalf("window %v: a steady 10 s is not congestion, the window stays", f.window)
	}
	if n := f.limit(budget); n != 2 {
		t.Fatalf("limit %d at 10 s a request, want 2 (25.6 s of worker time)", n)
	}
	// Slower still: one at a time, never none.
	for range 50 {
		f.adapt(held(5*time.Minute), 64, true)
	}
	if n := f.limit(budget); n != 1 {
		t.Fatalf("limit %d at 5 min a request, want 1", n)
	}
	// Fast again: within a hundred answers (two seconds at 20 ms, one
	// at a time) the worker time no longer binds, the window (halved
	// by the jump to 5 min) does.
	for range 100 {
		f.adapt(held(20*time.Millisecond), 64, true)
	}
	if n := f.limit(budget); n != int(f.window) || n < 8 {
		t.Fatalf("limit %d after fast answers (held %v), want the window %v", n, f.held, f.window)
	}
	// Between the two: 1 s a request allows 25.
	f = &flow{window: 64}
	f.adapt(held(time.Second), 64, true)
	if n := f.limit(budget); n != 25 {
		t.Fatalf("limit %d at 1 s a request, want 25", n)
	}
}

// Every attempt that ended counts in the worker time, answered or not:
// timeouts and connection errors held their worker too. An aborted one
// (shutdown) does not: it says nothing of the receiver.
func TestFlowWorkerTimeCountsEveryEnd(t *testing.T) {
	t.Parallel()
	const budget = 10 * time.Second
	for _, m := range []doneMsg{
		{kind: herald.ErrorKindTimeout, held: 30 * time.Second},
		{kind: herald.ErrorKindConnect, held: 30 * time.Second},
		{kind: herald.ErrorKindHTTPStatus, status: 500, held: 30 * time.Second},
	} {
		f := &flow{window: 16}
		f.adapt(m, 16, true)
		if n := f.limit(budget); n != 1 {
			t.Errorf("%s after 30 s: limit %d, want 1", m.kind, n)
		}
	}
	f := &flow{window: 16}
	f.adapt(doneMsg{released: true, held: time.Hour}, 16, true)
	if n := f.limit(budget); n != 16 || f.held != 0 {
		t.Fatalf("an aborted attempt moved the limit to %d (held %v)", n, f.held)
	}
}
