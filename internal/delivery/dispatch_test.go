package delivery

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

// rig drives a dispatcher the way its loop does (fill after every
// event) and records what it hands to workers and asks of the claimer.
// After every step it checks what must always hold.
type rig struct {
	t       *testing.T
	d       *dispatcher
	b       *budget
	workers int
	nodes   int64
	// sent lists delivery ids in the order they went to workers;
	// inFlight holds what was sent and not done, oldest first.
	sent     []string
	inFlight []task
	asked    []string
	// refuse makes askRefill report a full claimer queue.
	refuse bool
	seq    map[string]int
}

// defaultCap is the in-flight cap of endpoints that set none.
const defaultCap = 32

// newRig makes a rig whose apps have no cap on their share of the
// workers: only their turns and their endpoints' limits.
func newRig(t *testing.T, workers int) *rig { return newShareRig(t, workers, 1, clock.Real) }

// newShareRig makes a rig where one app may hold at most share of the
// workers while several apps have work.
func newShareRig(t *testing.T, workers int, share float64, c clock.Clock) *rig {
	r := &rig{t: t, b: newBudget(1000, 100_000, 0), workers: workers, nodes: 1, seq: map[string]int{}}
	d := newDispatcher(workers, share, r.b, c)
	// Endpoints start with their whole window and slow ones may take
	// every worker: slow start and the workers kept for fast endpoints
	// have their own tests.
	d.initialWindow = 1 << 20
	d.slowCap = workers
	d.slowAfter = 100 * 365 * 24 * time.Hour
	d.maxInFlight = func(ep *herald.Endpoint) int {
		c := ep.MaxInFlight
		if c == 0 {
			c = defaultCap
		}
		return nodeShare(c, r.nodes)
	}
	d.nodes = func() int64 { return r.nodes }
	d.refillBelow = 3
	d.send = r.send
	d.askRefill = func(id string) bool {
		if r.refuse {
			return false
		}
		r.asked = append(r.asked, id)
		return true
	}
	r.d = d
	return r
}

var epTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// endpoint returns an enabled endpoint of app.
func endpoint(app, id string, mod ...func(*herald.Endpoint)) *herald.Endpoint {
	ep := &herald.Endpoint{ID: id, AppID: app, Enabled: true, UpdatedAt: epTime}
	for _, m := range mod {
		m(ep)
	}
	return ep
}

// capped sets an endpoint's in-flight cap.
func capped(n int) func(*herald.Endpoint) {
	return func(ep *herald.Endpoint) { ep.MaxInFlight = n }
}

// changed returns a later version of ep.
func changed(ep *herald.Endpoint, mod func(*herald.Endpoint)) *herald.Endpoint {
	c := *ep
	c.UpdatedAt = ep.UpdatedAt.Add(time.Second)
	mod(&c)
	return &c
}

// jobs makes n deliveries of ep, named after it: "a1-1", "a1-2", ...
// Their room in memory is taken as a claim takes it.
func (r *rig) jobs(ep *herald.Endpoint, n int) []*store.Job {
	var out []*store.Job
	for range n {
		r.seq[ep.ID]++
		r.b.force(ep.ID, nil)
		out = append(out, &store.Job{Delivery: &herald.Delivery{ID: fmt.Sprintf("%s-%d", ep.ID, r.seq[ep.ID])}, Endpoint: ep})
	}
	return out
}

// hand gives the dispatcher a handoff and returns what it gave back.
func (r *rig) hand(h handoff) []string {
	back := r.d.receive(h)
	r.step()
	return back
}

// add hands over n new deliveries of ep.
func (r *rig) add(ep *herald.Endpoint, n int) {
	r.t.Helper()
	if back := r.hand(handoff{jobs: r.jobs(ep, n)}); len(back) > 0 {
		r.t.Fatalf("deliveries of %s given back: %v", ep.ID, back)
	}
}

// finish ends the oldest request in flight with the given answer.
func (r *rig) finish(status int) *store.Job {
	r.t.Helper()
	if len(r.inFlight) == 0 {
		r.t.Fatal("nothing in flight")
	}
	return r.finishOf(r.inFlight[0].job.Endpoint.ID, status)
}

// finishOf ends the oldest request in flight to endpoint ep.
func (r *rig) finishOf(ep string, status int) *store.Job {
	r.t.Helper()
	return r.end(ep, answered(status))
}

// end ends the oldest request in flight to endpoint ep with m.
func (r *rig) end(ep string, m doneMsg) *store.Job {
	r.t.Helper()
	i := slices.IndexFunc(r.inFlight, func(t task) bool { return t.job.Endpoint.ID == ep })
	if i < 0 {
		r.t.Fatalf("nothing in flight to %s", ep)
	}
	t := r.inFlight[i]
	r.inFlight = slices.Delete(r.inFlight, i, i+1)
	m.job, m.manual = t.job, t.manual != nil
	r.d.done(m)
	r.step()
	return t.job
}

// finishAll answers 200 to everything until nothing is left.
func (r *rig) finishAll() {
	for len(r.inFlight) > 0 {
		r.finish(http.StatusOK)
	}
}

// finishAllOf is finishAll, then checks that want deliveries were sent
// in all: none was lost or left queued.
func (r *rig) finishAllOf(want int) {
	r.t.Helper()
	r.finishAll()
	if len(r.sent) != want {
		r.t.Fatalf("%d sent of %d", len(r.sent), want)
	}
}

func (r *rig) update(ep *herald.Endpoint) []string {
	back := r.d.update(ep)
	r.step()
	return back
}

func (r *rig) send(t task) {
	r.t.Helper()
	j := t.job
	q := r.d.queues[j.Endpoint.ID]
	if q == nil {
		r.t.Fatalf("%s sent without a queue", j.Delivery.ID)
	}
	// The dispatcher counted it already: it must still be within the
	// endpoint's cap and its limit (adaptive window, worker time), and
	// its app within its cap.
	if f := r.d.flows[j.Endpoint.ID]; q.inFlight > q.max || q.inFlight > f.limit(r.d.heldBudget) {
		r.t.Errorf("%s sent with %d in flight to %s; cap %d, limit %v", j.Delivery.ID, q.inFlight, j.Endpoint.ID, q.max, f.limit(r.d.heldBudget))
	}
	if a := q.app; r.d.appCap > 0 && a.inFlight > r.d.appCap && r.d.several() {
		r.t.Errorf("%s sent with %d in flight for app %s; its cap is %d", j.Delivery.ID, a.inFlight, a.id, r.d.appCap)
	}
	if !j.Endpoint.Enabled && t.manual == nil {
		r.t.Errorf("%s sent to disabled endpoint %s", j.Delivery.ID, j.Endpoint.ID)
	}
	r.sent = append(r.sent, j.Delivery.ID)
	r.inFlight = append(r.inFlight, t)
}

// step runs the loop's fill, then checks the dispatcher's books.
func (r *rig) step() {
	r.t.Helper()
	r.d.fill()
	d := r.d
	inFlight, queued, manual := 0, 0, 0
	byApp := map[*appQueue]int{}
	for id, q := range d.queues {
		inFlight += q.inFlight
		queued += q.len()
		byApp[q.app] += q.inFlight
		if q.inFlight < 0 {
			r.t.Fatalf("%s: %d in flight", id, q.inFlight)
		}
		if d.apps[q.app.id] != q.app {
			r.t.Fatalf("%s: its app %s is not the dispatcher's", id, q.app.id)
		}
		// A queue with nothing to send or wait for is forgotten: kept, it
		// would count its app among those with work.
		if q.idle() {
			r.t.Fatalf("%s: kept with nothing queued, waiting or in flight", id)
		}
	}
	for _, t := range r.inFlight {
		if t.manual != nil {
			manual++
		}
	}
	for a, n := range byApp {
		if a.inFlight != n {
			r.t.Fatalf("app %s counts %d in flight, its endpoints %d", a.id, a.inFlight, n)
		}
	}
	if inFlight != len(r.inFlight) || d.free != r.workers-inFlight {
		r.t.Fatalf("books: %d in flight by queue, %d by workers, %d free of %d", inFlight, len(r.inFlight), d.free, r.workers)
	}
	// Every delivery held is counted in the budget, none twice; manual
	// sends take no room.
	if r.b.total != inFlight-manual+queued {
		r.t.Fatalf("budget counts %d, memory holds %d in flight and %d queued", r.b.total, inFlight-manual, queued)
	}
	// No worker idles while a delivery could go.
	if d.free > 0 {
		for id, q := range d.queues {
			if d.canSend(q) && !d.atCap(q.app) {
				r.t.Fatalf("%d workers free while %s has %d queued and may send", d.free, id, q.len())
			}
		}
	}
}

// wantOrder checks the endpoints of the deliveries sent so far, in order.
func (r *rig) wantOrder(want, what string) {
	r.t.Helper()
	if got := r.order(); got != want {
		r.t.Fatalf("%s: sent %s, want %s", what, got, want)
	}
}

// order returns the endpoints of the deliveries sent, in order.
func (r *rig) order() string {
	var eps []string
	for _, id := range r.sent {
		eps = append(eps, id[:strings.IndexByte(id, '-')])
	}
	return strings.Join(eps, " ")
}

// One app's burst does not take another app's turns: with one worker,
// the apps alternate while both have work.
func TestDispatchRoundRobinBetweenApps(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	a, b := endpoint("A", "a"), endpoint("B", "b")
	r.add(a, 6)
	r.add(b, 2)
	r.finishAll()
	r.wantOrder("a b a b a a a a", "the apps take turns")

	// All at once, with more workers: the quiet app is in the first round.
	r = newRig(t, 3)
	r.hand(handoff{jobs: append(r.jobs(a, 100), r.jobs(b, 1)...)})
	r.wantOrder("a b a", "first round: b is served at once")
	r.finishAllOf(101)
}

// Apps are served in turn first, then the endpoints of an app: an app
// with two endpoints gets no more turns than an app with one.
func TestDispatchRoundRobinBetweenEndpoints(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	a1, a2, b := endpoint("A", "a1"), endpoint("A", "a2"), endpoint("B", "b")
	r.add(a1, 10)
	r.add(a2, 3)
	r.add(b, 10)
	for range 10 {
		r.finish(http.StatusOK)
	}
	r.wantOrder("a1 b a2 b a1 b a2 b a1 b a2", "apps in turn, then the endpoints of A")
	r.finishAll()
	r.wantOrder("a1 b a2 b a1 b a2 b a1 b a2 b a1 b a1 b a1 b a1 b a1 a1 a1", "once a2 is done, a1 takes A's turns")
}

// An endpoint's in-flight cap holds, and the workers it cannot use serve
// other endpoints.
func TestDispatchInFlightCap(t *testing.T) {
	t.Parallel()
	r := newRig(t, 8)
	slow := endpoint("A", "s", capped(3))
	other := endpoint("B", "o")
	r.add(slow, 10)
	r.add(other, 10)
	count := func(prefix string) (n int) {
		for _, t := range r.inFlight {
			if t.job.Endpoint.ID == prefix {
				n++
			}
		}
		return n
	}
	if s, o := count("s"), count("o"); s != 3 || o != 5 {
		t.Fatalf("in flight: %d to the capped endpoint (cap 3), %d to the other; want 3 and 5", s, o)
	}
	// The rig checks the cap at every send until both are done.
	r.finishAllOf(20)
}

// Deliveries of one endpoint go out in the order they came, also past
// the queue's compaction of its consumed prefix.
func TestDispatchFIFO(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	ep := endpoint("A", "e")
	r.add(ep, 1500)
	for range 1100 {
		r.finish(http.StatusOK)
	}
	r.add(ep, 1000)
	r.finishAllOf(2500)
	for i, id := range r.sent {
		if want := fmt.Sprintf("e-%d", i+1); id != want {
			t.Fatalf("send %d was %s, want %s", i+1, id, want)
		}
	}
	if len(r.d.queues) != 0 || len(r.d.apps) != 0 || r.b.total != 0 {
		t.Fatalf("left behind: %d queues, %d apps, budget %d", len(r.d.queues), len(r.d.apps), r.b.total)
	}
}

// A disabled endpoint's queued deliveries are given back, in order; its
// requests in flight finish; deliveries read before the change are
// refused; an older version of the endpoint changes nothing; enabling it
// again lets deliveries go.
func TestDispatchDisabledEndpoint(t *testing.T) {
	t.Parallel()
	r := newRig(t, 4)
	e := endpoint("A", "e", capped(2))
	o := endpoint("B", "o")
	r.add(e, 6)
	off := changed(e, func(ep *herald.Endpoint) { ep.Enabled = false })
	if back := r.update(off); !slices.Equal(back, []string{"e-3", "e-4", "e-5", "e-6"}) {
		t.Fatalf("given back %v, want the queued e-3..e-6 in order", back)
	}
	// Read by a claim before the change, handed over after it.
	if back := r.hand(handoff{jobs: r.jobs(e, 1)}); !slices.Equal(back, []string{"e-7"}) {
		t.Fatalf("a delivery read before the change: given back %v", back)
	}
	// An update older than the one applied is ignored.
	if back := r.update(e); back != nil {
		t.Fatalf("an older version gave back %v", back)
	}
	r.add(o, 3)
	// In flight: e-1, e-2 and o's; nothing more of e.
	r.finishAll()
	r.wantOrder("e e o o o", "nothing of e after it was disabled")
	if r.b.total != 0 {
		t.Fatalf("budget still counts %d", r.b.total)
	}

	on := changed(off, func(ep *herald.Endpoint) { ep.Enabled = true })
	r.update(on)
	r.add(on, 2)
	r.finishAll()
	r.wantOrder("e e o o o e e", "after enabling")
}

// Settings changes reach queued deliveries: each is sent with the newest
// version of its endpoint, whether the change came as an update or with
// a delivery read after it.
func TestDispatchNewestEndpointSettings(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	v1 := endpoint("A", "e")
	r.add(v1, 1) // sent at once
	v2 := changed(v1, func(ep *herald.Endpoint) { ep.URL = "https://v2.example" })
	r.update(v2)
	r.add(v1, 1) // read before the update
	var urls []string
	urls = append(urls, r.finish(http.StatusOK).Endpoint.URL)
	v3 := changed(v2, func(ep *herald.Endpoint) { ep.URL = "https://v3.example" })
	r.hand(handoff{jobs: r.jobs(v3, 1)}) // read after a change the dispatcher has not heard of yet
	urls = append(urls, r.finish(http.StatusOK).Endpoint.URL)
	r.add(v1, 1)
	r.update(v2) // late news of an older version
	for len(r.inFlight) > 0 {
		urls = append(urls, r.finish(http.StatusOK).Endpoint.URL)
	}
	if want := []string{"", "https://v2.example", "https://v3.example", "https://v3.example"}; !slices.Equal(urls, want) {
		t.Fatalf("sent with URLs %q, want %q", urls, want)
	}
}

// At shutdown, everything still queued is given back; what is in flight
// is not (it is recorded or released when it ends).
func TestDispatchDrain(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3)
	a, b := endpoint("A", "a"), endpoint("B", "b")
	r.hand(handoff{jobs: append(r.jobs(a, 4), r.jobs(b, 3)...)})
	var inFlight []string
	for _, t := range r.inFlight {
		inFlight = append(inFlight, t.job.Delivery.ID)
	}
	back := r.d.drain()
	slices.Sort(back)
	if want := []string{"a-3", "a-4", "b-2", "b-3"}; !slices.Equal(back, want) || !slices.Equal(inFlight, []string{"a-1", "b-1", "a-2"}) {
		t.Fatalf("drained %v, want %v (in flight: %v)", back, want, inFlight)
	}
	if r.b.total != 3 {
		t.Fatalf("budget counts %d after the drain; want the 3 in flight", r.b.total)
	}
	if again := r.d.drain(); len(again) != 0 {
		t.Fatalf("second drain gave %v", again)
	}
}

// An endpoint with deliveries left in the store asks the claimer for more
// as its queue runs low, once until the answer comes back.
func TestDispatchAskRefill(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1)
	e, o := endpoint("A", "e"), endpoint("B", "o")
	r.b.markSpilled(e.ID)
	r.add(e, 5)
	r.add(o, 2)
	r.finishAll()
	if !slices.Equal(r.asked, []string{"e"}) {
		t.Fatalf("asked %v; want e once as its queue fell below 3 (o left nothing in the store)", r.asked)
	}
	// The claim comes back with more: e may ask again.
	r.hand(handoff{jobs: r.jobs(e, 3), refilled: e.ID})
	r.finish(http.StatusOK)
	if !slices.Equal(r.asked, []string{"e", "e"}) {
		t.Fatalf("asked %v after the refill came back; want e asked again", r.asked)
	}
	// A request the claimer could not queue is made again at the next turn.
	r.hand(handoff{refilled: e.ID})
	r.refuse = true
	r.finish(http.StatusOK)
	r.refuse = false
	r.finish(http.StatusOK)
	if !slices.Equal(r.asked, []string{"e", "e", "e"}) {
		t.Fatalf("asked %v; want e asked again after a refused request", r.asked)
	}
	// The claim found the store empty: no more asking.
	r.hand(handoff{refilled: e.ID})
	r.b.clearSpilled(e.ID, r.b.spillGen(e.ID))
	r.add(e, 3)
	r.finishAll()
	if len(r.asked) != 3 {
		t.Fatalf("asked %v after the store ran out", r.asked)
	}
}

// A rate-limited endpoint leaves the turn while it waits for a token,
// without holding up the others, and comes back exactly when its wait is
// over. Time is the bubble's: every wait passes at once, to the instant.
func TestDispatchRateLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 10)
		limited := endpoint("A", "l", func(ep *herald.Endpoint) { ep.RateLimit = 10 }) // burst 1, then one per 100 ms
		free := endpoint("B", "f")
		slower := endpoint("C", "s", func(ep *herald.Endpoint) { ep.RateLimit = 4 }) // one per 250 ms
		t0 := time.Now()
		sentAt := map[string]time.Duration{}
		send := r.d.send
		r.d.send = func(t task) {
			sentAt[t.job.Delivery.ID] = time.Since(t0)
			send(t)
		}
		// wakeUps is the loop's timer, until no endpoint waits.
		wakeUps := func() {
			for !r.d.wakeAt.IsZero() {
				time.Sleep(time.Until(r.d.wakeAt))
				r.d.unthrottle()
				r.step()
				r.finishAll()
			}
		}
		// spaced checks that n deliveries of ep, from number first, went
		// out one every period from t0.
		spaced := func(ep string, first, n int, every time.Duration) {
			for i := range n {
				id := fmt.Sprintf("%s-%d", ep, first+i)
				if want := time.Duration(i) * every; sentAt[id] != want {
					t.Errorf("%s sent at %v, want %v", id, sentAt[id], want)
				}
			}
		}

		r.add(limited, 5)
		r.add(free, 5)
		r.add(slower, 3)
		r.wantOrder("l f f f f f s", "at once: one of l and s (their bursts), all of f")
		if want := t0.Add(100 * time.Millisecond); !r.d.wakeAt.Equal(want) {
			t.Fatalf("wake at %v, want %v", r.d.wakeAt.Sub(t0), want.Sub(t0))
		}
		r.finishAll()
		// Waking early changes nothing.
		time.Sleep(50 * time.Millisecond)
		r.d.unthrottle()
		r.step()
		if len(r.sent) != 7 || !r.d.wakeAt.Equal(t0.Add(100*time.Millisecond)) {
			t.Fatalf("after an early wake-up: %d sent, wake at %v", len(r.sent), r.d.wakeAt.Sub(t0))
		}
		wakeUps()
		spaced("l", 1, 5, 100*time.Millisecond)
		spaced("s", 1, 3, 250*time.Millisecond)

		// Two nodes share the limit: 5/s each.
		r.nodes = 2
		time.Sleep(time.Second) // the limiter's bucket refills
		t0 = time.Now()
		r.add(limited, 3)
		wakeUps()
		spaced("l", 6, 3, 200*time.Millisecond)
	})
}

// An endpoint whose cap falls while it waits for a worker (another node
// joined, so it takes a smaller share) gets no request beyond the new
// cap.
func TestDispatchCapFallsWhileWaiting(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3)
	e := endpoint("A", "e", capped(4))
	o := endpoint("B", "o")
	r.hand(handoff{jobs: append(r.jobs(e, 10), r.jobs(o, 10)...)})
	r.wantOrder("e o e", "first round")
	// e has 2 in flight and waits in turn for a worker when a second
	// node's heartbeat halves its share to 2.
	r.nodes = 2
	r.d.reshare()
	r.step()
	// Workers free up from o's requests: none may take e past 2.
	r.finishOf("o", http.StatusOK)
	r.finishOf("o", http.StatusOK)
	r.wantOrder("e o e o o", "e is at its new cap")
	// The rig fails the test on any send past the cap.
	r.finishAllOf(20)
}

// An endpoint whose window halves (it answered 503) while it waits for a
// worker gets no request beyond the new window.
func TestDispatchWindowFallsWhileWaiting(t *testing.T) {
	t.Parallel()
	r := newRig(t, 7)
	e := endpoint("A", "e", capped(8))
	r.add(e, 20)
	// 7 in flight, below the window of 8: e is in turn for the next
	// free worker. The 503 halves the window to 4 with 6 in flight.
	r.finish(http.StatusServiceUnavailable)
	if n := len(r.inFlight); n > 6 {
		t.Fatalf("%d in flight after the window fell to 4", n)
	}
	// Below the window again, e goes on.
	for range 3 {
		r.finish(http.StatusOK)
	}
	r.finishAllOf(20)
}

// inFlightOf counts the requests in flight of app.
func (r *rig) inFlightOf(app string) (n int) {
	for _, t := range r.inFlight {
		if t.job.Endpoint.AppID == app {
			n++
		}
	}
	return n
}

// leastBusy makes the rig check, at every send, that the worker went to
// an app with the fewest requests in flight of those that could use it.
func (r *rig) leastBusy() {
	send := r.d.send
	r.d.send = func(t task) {
		r.t.Helper()
		got := r.d.apps[t.job.Endpoint.AppID]
		for _, a := range r.d.apps {
			if a == got || r.d.atCap(a) || !slices.ContainsFunc(a.ready.items, r.d.canSend) {
				continue
			}
			// got is counted already.
			if a.inFlight < got.inFlight-1 {
				r.t.Errorf("%s sent with %d in flight for app %s while app %s, with %d, could send",
					t.job.Delivery.ID, got.inFlight-1, got.id, a.id, a.inFlight)
			}
		}
		send(t)
	}
}

// An app alone may use every worker, whatever its cap.
func TestDispatchAppAloneUsesAllWorkers(t *testing.T) {
	t.Parallel()
	r := newShareRig(t, 8, 0.5, clock.Real)
	a1, a2 := endpoint("A", "a1"), endpoint("A", "a2")
	r.add(a1, 20)
	r.add(a2, 20)
	if n := r.inFlightOf("A"); n != 8 {
		t.Fatalf("the only app has %d of 8 workers", n)
	}
	r.finishAllOf(40)
}

// Apps with work share the workers equally: each free worker goes to the
// app with the fewest requests in flight, so an app that had them all
// gets none back while another app below its share has work, until the
// others hold as many.
func TestDispatchFairShare(t *testing.T) {
	t.Parallel()
	r := newRig(t, 9) // no cap: the share alone
	r.leastBusy()
	a, b, c := endpoint("A", "a"), endpoint("B", "b"), endpoint("C", "c")
	r.add(a, 100)
	if n := r.inFlightOf("A"); n != 9 {
		t.Fatalf("A alone has %d of 9 workers", n)
	}
	r.add(b, 100)
	r.add(c, 100)
	// Each of A's requests that ends hands its worker to B or C, in
	// turn, until the three hold three each.
	for range 6 {
		r.finishOf("a", http.StatusOK)
	}
	r.wantOrder(strings.TrimSpace(strings.Repeat("a ", 9))+" b c b c b c", "A's workers go to B and C")
	for _, app := range []string{"A", "B", "C"} {
		if n := r.inFlightOf(app); n != 3 {
			t.Fatalf("app %s has %d of 9 workers in flight, want its share of 3", app, n)
		}
	}
	// From there each app's ending request is replaced by its own.
	for range 30 {
		r.finish(http.StatusOK)
		for _, app := range []string{"A", "B", "C"} {
			if n := r.inFlightOf(app); n != 3 {
				t.Fatalf("app %s has %d in flight, want 3", app, n)
			}
		}
	}
	// The checks of leastBusy held at every send until all was sent.
	r.finishAllOf(300)
}

// While two apps have work, neither holds more than its cap: the one that
// had every worker gets no new one until it is under the cap, and the
// workers it cannot use stay free for the other.
func TestDispatchAppCap(t *testing.T) {
	t.Parallel()
	r := newShareRig(t, 8, 0.5, clock.Real) // cap 4
	r.leastBusy()
	a := endpoint("A", "a")
	b := endpoint("B", "b")
	r.add(a, 100)
	r.add(b, 1)
	if n := r.inFlightOf("A"); n != 8 {
		t.Fatalf("A alone had %d of 8 workers", n)
	}
	// b waits for a worker: A's first to end goes to it; A, at 7 of a
	// cap of 4, gets none of the next three either, though B has
	// nothing left to send.
	for range 4 {
		r.finishOf("a", http.StatusOK)
	}
	if got, want := r.order(), strings.TrimSpace(strings.Repeat("a ", 8))+" b"; got != want {
		t.Fatalf("sent %s, want %s", got, want)
	}
	if a, free := r.inFlightOf("A"), r.d.free; a != 4 || free != 3 {
		t.Fatalf("A has %d in flight and %d workers are free; want 4 (its cap) and 3", a, free)
	}
	// Under its cap, A takes free workers again, never past the cap
	// (the rig fails any send over it).
	r.finishOf("b", http.StatusOK)
	r.finishOf("a", http.StatusOK)
	if a := r.inFlightOf("A"); a != 4 {
		t.Fatalf("A has %d in flight, want its cap of 4", a)
	}
	r.add(b, 20)
	if b := r.inFlightOf("B"); b != 4 {
		t.Fatalf("B has %d in flight, want the 4 workers A may not take", b)
	}
	r.finishAllOf(121)
}

// The cap holds against an app that sends now and then: an app that had
// work within recentFor still counts, though it has none now. Once it
// has been quiet that long, the busy app may have every worker again.
func TestDispatchAppCapRemembersRecentApps(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := newShareRig(t, 8, 0.25, clock.Real) // cap 2
		b := endpoint("B", "b")
		r.add(b, 1)
		r.finishOf("b", http.StatusOK)
		if len(r.d.apps) != 0 {
			t.Fatalf("%d apps left in memory", len(r.d.apps))
		}
		a := endpoint("A", "a")
		r.add(a, 100)
		if n := r.inFlightOf("A"); n != 2 {
			t.Fatalf("A has %d in flight a moment after B's last delivery; want its cap of 2", n)
		}
		time.Sleep(recentFor - time.Minute)
		r.finishOf("a", http.StatusOK)
		if n := r.inFlightOf("A"); n != 2 {
			t.Fatalf("A has %d in flight %v after B's last delivery; want its cap of 2", n, recentFor-time.Minute)
		}
		// B forgotten (within the minute after recentFor), A's next
		// answer lets it take every worker.
		time.Sleep(2 * time.Minute)
		r.finishOf("a", http.StatusOK)
		if n := r.inFlightOf("A"); n != 8 {
			t.Fatalf("A has %d in flight once B is long quiet; want all 8 workers", n)
		}
		r.finishAllOf(101)
	})
}

// manualReq makes a manual send of ep for the rig, with its caller's
// context.
func (r *rig) manual(ctx context.Context, ep *herald.Endpoint, id string) *manualReq {
	return &manualReq{ctx: ctx, job: &store.Job{Delivery: &herald.Delivery{ID: id}, Endpoint: ep}, done: make(chan manualResult, 1)}
}

// Manual sends take the endpoint's next free slot, ahead of its queued
// deliveries, within its limit and its app's cap; a disabled endpoint
// takes them too; one whose caller left is dropped without a worker;
// those waiting at shutdown are aborted.
func TestDispatchManualSends(t *testing.T) {
	t.Parallel()
	r := newShareRig(t, 4, 0.5, clock.Real) // cap 2 when two apps have work
	e := endpoint("A", "e", capped(1))
	r.add(e, 3)
	m1 := r.manual(context.Background(), e, "m-1")
	r.d.addManual(m1)
	r.step()
	r.wantOrder("e", "the manual send waits for the endpoint's one slot")
	r.finishOf("e", http.StatusOK)
	r.wantOrder("e m", "the manual send goes before the queued deliveries")
	r.end("e", answered(http.StatusOK))
	r.wantOrder("e m e", "then the queue")
	if r.b.total != 2 {
		t.Fatalf("budget counts %d; the manual send must take no room", r.b.total)
	}

	// A caller that left before its turn: its send is dropped, answered
	// as aborted, and takes no worker.
	ctx, cancel := context.WithCancel(context.Background())
	gone := r.manual(ctx, e, "m-2")
	r.d.addManual(gone)
	later := r.manual(context.Background(), e, "m-3")
	r.d.addManual(later)
	cancel()
	r.step()
	r.finishOf("e", http.StatusOK)
	r.wantOrder("e m e m", "the send whose caller left is skipped")
	if res := <-gone.done; res.ok {
		t.Fatal("the dropped send was answered as sent")
	}
	// Withdrawn while waiting.
	w := r.manual(context.Background(), e, "m-4")
	r.d.addManual(w)
	r.d.cancelManual(w)
	r.step()
	if res := <-w.done; res.ok {
		t.Fatal("the withdrawn send was answered as sent")
	}

	// A disabled endpoint takes manual sends, and no delivery.
	r.finishAll()
	off := changed(e, func(ep *herald.Endpoint) { ep.Enabled = false })
	r.update(off)
	r.d.addManual(r.manual(context.Background(), off, "m-5"))
	r.step()
	r.finishAll()
	r.wantOrder("e m e m e m", "a test send to the disabled endpoint")

	// An endpoint whose one manual send is dropped is forgotten with its
	// app: the rig fails on a queue kept with nothing.
	one := newRig(t, 1)
	one.add(endpoint("A", "a"), 1)
	ctx, cancel = context.WithCancel(context.Background())
	left := one.manual(ctx, endpoint("C", "x"), "m-x")
	one.d.addManual(left)
	cancel()
	one.finishAllOf(1)
	if res := <-left.done; res.ok || len(one.d.apps) != 0 || len(one.d.queues) != 0 {
		t.Fatalf("after a dropped send: answered %v, %d apps and %d queues left", res.ok, len(one.d.apps), len(one.d.queues))
	}

	// Waiting at shutdown: aborted.
	r.add(endpoint("B", "b", capped(1)), 1)
	waiting := r.manual(context.Background(), endpoint("B", "b", capped(1)), "m-6")
	r.d.addManual(waiting)
	r.step()
	if back := r.d.drain(); len(back) != 0 {
		t.Fatalf("drained %v", back)
	}
	if res := <-waiting.done; res.ok {
		t.Fatal("a manual send waiting at shutdown was answered as sent")
	}
}

// An endpoint whose requests hold their worker long gets fewer at once,
// though it answers 200: with 8 workers (800 ms of worker time), one
// that takes 400 ms may have 2 in flight, the rest going to others.
func TestDispatchSlowEndpointHoldsLess(t *testing.T) {
	t.Parallel()
	r := newRig(t, 8)
	slow, fast := endpoint("A", "s"), endpoint("B", "f")
	r.add(slow, 30)
	if n := r.inFlightOf("A"); n != 8 {
		t.Fatalf("%d in flight before any answer, want all 8 workers (cap 32)", n)
	}
	slowly := held(400 * time.Millisecond)
	for range 8 {
		r.end("s", slowly)
	}
	if n := r.inFlightOf("A"); n != 2 {
		t.Fatalf("%d in flight to the slow endpoint, want 2", n)
	}
	r.add(fast, 10)
	if n := r.inFlightOf("B"); n != 6 {
		t.Fatalf("%d in flight to the other, want the 6 workers left", n)
	}
	for len(r.inFlight) > 0 {
		if r.inFlight[0].job.Endpoint.ID == "s" {
			r.end("s", slowly)
		} else {
			r.finish(http.StatusOK)
		}
	}
	if len(r.sent) != 40 {
		t.Fatalf("%d sent of 40", len(r.sent))
	}
}

// An endpoint disabled while it waits for its rate limiter gives back
// its queue, and is forgotten when its wait ends.
func TestDispatchThrottledThenDisabled(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, 4)
		e := endpoint("A", "e", func(ep *herald.Endpoint) { ep.RateLimit = 1 })
		r.add(e, 3)
		r.finishAll()
		off := changed(e, func(ep *herald.Endpoint) { ep.Enabled = false })
		if back := r.update(off); len(back) != 2 {
			t.Fatalf("given back %v, want the 2 waiting", back)
		}
		time.Sleep(time.Until(r.d.wakeAt))
		r.d.unthrottle()
		r.step() // the rig fails on a queue kept with nothing
		if len(r.d.queues) != 0 || len(r.d.apps) != 0 {
			t.Fatalf("%d queues and %d apps left", len(r.d.queues), len(r.d.apps))
		}
	})
}

// The releaser makes one store call at a time, with every id added while
// the previous call ran, and releases what was added before close.
func TestReleaserCoalesces(t *testing.T) {
	t.Parallel()
	r := newReleaser()
	calls := make(chan []string)
	proceed := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(context.Background(), func(_ context.Context, ids []string) {
			calls <- ids
			<-proceed
		})
	}()
	r.add([]string{"a"})
	if got := <-calls; !slices.Equal(got, []string{"a"}) {
		t.Fatalf("first call %v", got)
	}
	// While the first call runs, three more batches pile up.
	r.add([]string{"b", "c"})
	r.add([]string{"d"})
	r.add(nil)
	r.add([]string{"e"})
	r.close()
	proceed <- struct{}{}
	if got := <-calls; !slices.Equal(got, []string{"b", "c", "d", "e"}) {
		t.Fatalf("second call %v, want every id added meanwhile in one call", got)
	}
	proceed <- struct{}{}
	<-done
}
