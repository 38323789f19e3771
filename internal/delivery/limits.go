package delivery

import (
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/heraldhq/herald"
)

// flow is what the dispatcher keeps per endpoint beyond its queue: its
// rate limiter, its adaptive in-flight window and how long its requests
// hold a worker. It outlives the queue, which goes when empty: a fresh
// limiter would let a trickle of events exceed the rate, and a fresh
// latency would let a slow endpoint take its whole window again.
type flow struct {
	limiter *rate.Limiter
	rate    float64
	// window is the adaptive in-flight cap within the endpoint's max: it
	// starts at initialWindow and grows by one per success up to
	// ssthresh (slow start), then by one per window of successes
	// (additive increase); congestion halves it, a failure to answer
	// brings it back to initialWindow. ssthresh 0: no slow start.
	window   float64
	ssthresh float64
	// initial is the window a timeout brings it back to; 0: initialWindow.
	initial float64
	// share is the endpoint's in-flight cap when the window was last
	// bounded by it.
	share float64
	// baseline is a slowly rising floor of observed latency; a sample far
	// above it counts as congestion.
	baseline time.Duration
	// held is a moving average of how long the endpoint's attempts kept
	// their worker, whatever they ended with; 0 until the first ends.
	held     time.Duration
	measured bool
	lastUsed time.Time
}

// limit is how many requests the endpoint may have in flight: its window,
// and no more than keep the worker time they hold (in flight × held)
// within budget, at least one. A receiver that answers 200 after 10
// seconds is not congested by its own measure (it always was that slow),
// yet each request it gets keeps a worker 10 seconds: the slower it
// answers, the fewer requests it may hold at once.
func (f *flow) limit(budget time.Duration) int {
	n := int(f.window)
	if f.held > 0 && budget > 0 {
		n = min(n, max(1, int(budget/f.held)))
	}
	return n
}

// nodeShare divides a cluster-wide limit between the live nodes, so that
// together they hold it: each takes its share, rounded up for in-flight
// caps (at least 1), and an equal part of a rate.
func nodeShare(total int, nodes int64) int {
	if nodes <= 1 {
		return total
	}
	return max(1, int(math.Ceil(float64(total)/float64(nodes))))
}

// initialWindow is the default in-flight window of an endpoint not yet
// heard from, or that stopped answering: a receiver that hangs from its
// first request holds this many workers, not its whole max, until its
// requests time out.
const initialWindow = 2

func (d *dispatcher) flow(q *epQueue) *flow {
	f := d.flows[q.ep.ID]
	if f == nil {
		f = &flow{window: float64(min(d.initialWindow, q.max)), ssthresh: float64(q.max), initial: float64(d.initialWindow)}
		d.flows[q.ep.ID] = f
	}
	f.lastUsed = d.clock.Now()
	r := q.ep.RateLimit
	if r > 0 {
		if n := d.nodes(); n > 1 {
			r /= float64(n)
		}
		if f.limiter == nil || f.rate != r {
			f.limiter = rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r/10))))
			f.rate = r
		}
	} else {
		f.limiter, f.rate = nil, 0
	}
	// A window that was full when the node's share grew (a node left)
	// takes the new share at once instead of growing into it one success
	// at a time.
	if f.share > 0 && float64(q.max) > f.share && f.window >= f.share {
		f.window = float64(q.max)
	}
	f.share = float64(q.max)
	f.window = math.Max(1, math.Min(f.window, float64(q.max)))
	return f
}

// congested reports whether an attempt's outcome says the endpoint is
// overloaded: 429, 502, 503, 504, a timeout, or a latency far above its
// usual.
func (f *flow) congested(m doneMsg) bool {
	switch m.status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	if m.kind == herald.ErrorKindTimeout {
		return true
	}
	if m.latency > 0 {
		if f.baseline == 0 || m.latency < f.baseline {
			f.baseline = m.latency
		} else {
			// Let the floor rise slowly, so a lasting change of the
			// endpoint's speed becomes its new normal.
			f.baseline += (m.latency - f.baseline) / 64
		}
		return m.latency > 100*time.Millisecond && m.latency > 4*f.baseline
	}
	return false
}

// failed reports whether an attempt got no answer within its timeout:
// the receiver hangs, and a new window must be earned. A refused
// connection or a name that does not resolve says nothing of load and
// holds no worker for long.
func failed(k herald.ErrorKind) bool { return k == herald.ErrorKindTimeout }

// adapt moves the window after an attempt: back to initialWindow when
// the receiver did not answer, halve on congestion, and on success grow
// (by one while under ssthresh, by about one per window of successes
// beyond) when the window was what held the endpoint back (limited):
// an endpoint that never uses its window does not earn a larger one, so
// that when it starts hanging it holds no more workers than it used.
// Every attempt that ended, answered or not, counts in how long the
// endpoint holds a worker.
func (f *flow) adapt(m doneMsg, max int, limited bool) {
	if m.released {
		return
	}
	if !f.measured {
		f.held, f.measured = m.held, true
	} else {
		// An eighth of each new sample: a lasting change shows within a
		// few windows, one odd request does not swing the limit.
		f.held += (m.held - f.held) / 8
	}
	if failed(m.kind) {
		restart := f.initial
		if restart == 0 {
			restart = initialWindow
		}
		f.ssthresh = math.Max(restart, f.window/2)
		f.window = math.Max(1, math.Min(f.window/2, restart))
		return
	}
	if f.congested(m) {
		f.window = math.Max(1, f.window/2)
		if f.ssthresh != 0 {
			f.ssthresh = f.window
		}
		return
	}
	if !limited {
		return
	}
	if m.kind == herald.ErrorKindNone || m.kind == herald.ErrorKindHTTPStatus {
		if f.window < f.ssthresh {
			f.window = math.Min(float64(max), f.window+1)
		} else {
			f.window = math.Min(float64(max), f.window+1/f.window)
		}
	}
}

// settle lets a window the endpoint does not use shrink toward twice
// what it had in flight (never below its initial window): an endpoint
// that once had a burst, then sends a few at a time, would otherwise keep
// a window it no longer needs, and take all of it when it starts to hang.
func (f *flow) settle(used int) {
	if f.initial <= 0 {
		return
	}
	floor := math.Max(f.initial, float64(2*used))
	if f.window > floor {
		f.window -= (f.window - floor) / 32
	}
}

// nodesAlive is shared with the heartbeat loop.
type nodesAlive = atomic.Int64
