package delivery

import (
	"container/heap"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/preset"
	"github.com/heraldhq/herald/internal/store"
)

// The dispatcher is one goroutine that owns the in-memory queues, so they
// need no locks. It hands a delivery to a worker only when a worker is free
// and the delivery's endpoint is below its in-flight limit. Of the apps
// with a delivery that may go, the one with the fewest requests in flight
// gets the worker (the one served longest ago among equals), and within
// an app its endpoints take turns: a burst from one app or a slow
// endpoint uses its own share, never the others'. Requests in flight
// cannot be taken back, and a slow one holds its worker up to the
// timeout, so fairness alone would let an app that had the workers to
// itself keep a newcomer waiting that long: while several apps have work,
// none may hold more than appCap workers, which keeps the rest free.
//
// Each endpoint has its own FIFO queue, which is where per-key ordering
// and batching of several events into one request can later be added.

type epQueue struct {
	ep *herald.Endpoint
	// max is the endpoint's in-flight cap, from its settings or its
	// app's, else the engine's.
	max  int
	app  *appQueue
	jobs []*store.Job
	head int
	// manual holds test sends and resends waiting for a slot of the
	// endpoint; they go before its queued deliveries.
	manual   []*manualReq
	inFlight int
	inRing   bool
	// throttled: waiting for the rate limiter, out of the ring.
	throttled bool
	// sentAt holds when each request in flight was handed out.
	sentAt map[*store.Job]time.Time
	// slow: the endpoint's requests hold their workers long (see
	// dispatcher.slowCap).
	slow bool
	// gathering: a batching endpoint out of turn while its queue waits
	// for more deliveries, until the oldest has waited max_wait_ms.
	gathering bool
}

// oldest returns when the endpoint's oldest request in flight was handed
// out; zero when none is.
func (q *epQueue) oldest() time.Time {
	var t time.Time
	for _, at := range q.sentAt {
		if t.IsZero() || at.Before(t) {
			t = at
		}
	}
	return t
}

func (q *epQueue) len() int { return len(q.jobs) - q.head }

// idle reports whether the queue holds nothing and sends nothing.
func (q *epQueue) idle() bool {
	return q.len() == 0 && len(q.manual) == 0 && q.inFlight == 0 && !q.inRing && !q.throttled
}

func (q *epQueue) push(j *store.Job) { q.jobs = append(q.jobs, j) }

func (q *epQueue) pop() *store.Job {
	j := q.jobs[q.head]
	q.jobs[q.head] = nil
	q.head++
	if q.head == len(q.jobs) {
		q.jobs, q.head = q.jobs[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.jobs) {
		// Compact so a long-lived queue does not keep a large dead prefix.
		n := copy(q.jobs, q.jobs[q.head:])
		clear(q.jobs[n:])
		q.jobs, q.head = q.jobs[:n], 0
	}
	return j
}

type appQueue struct {
	id string
	// ready holds the app's endpoints that may send, in turn.
	ready ring[*epQueue]
	// queues counts the app's endpoint queues: the app is forgotten with
	// the last of them.
	queues   int
	inFlight int
	// served orders apps with as many requests in flight: the one
	// served longest ago goes first, a new one before all.
	served uint64
	// idx is the app's place in the dispatcher's heap; -1 when out.
	idx int
}

// appHeap orders the apps that may send: fewest requests in flight
// first, then the one served longest ago.
type appHeap []*appQueue

func (h appHeap) Len() int { return len(h) }

func (h appHeap) Less(i, j int) bool {
	if h[i].inFlight != h[j].inFlight {
		return h[i].inFlight < h[j].inFlight
	}
	return h[i].served < h[j].served
}

func (h appHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}

func (h *appHeap) Push(x any) {
	a := x.(*appQueue)
	a.idx = len(*h)
	*h = append(*h, a)
}

func (h *appHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	a.idx = -1
	return a
}

// ring is a round-robin list: pick returns items in turn, and removing
// the current item keeps the turn order of the others.
type ring[T any] struct {
	items []T
	next  int
}

func (r *ring[T]) add(x T) { r.items = append(r.items, x) }

// current returns the index of the item whose turn it is.
func (r *ring[T]) current() int {
	if r.next >= len(r.items) {
		r.next = 0
	}
	return r.next
}

func (r *ring[T]) advance() { r.next++ }

// remove drops the item at i; the item after it takes its turn.
func (r *ring[T]) remove(i int) {
	var zero T
	copy(r.items[i:], r.items[i+1:])
	r.items[len(r.items)-1] = zero
	r.items = r.items[:len(r.items)-1]
	r.next = i
}

// handoff brings deliveries leased to this node into memory.
type handoff struct {
	jobs []*store.Job
	// refilled names the endpoint whose refill request this answers.
	refilled string
}

// task is what a worker is handed: a queued delivery, or a manual send
// whose caller waits for its attempt.
type task struct {
	job    *store.Job
	manual *manualReq
	// batch, when set, holds the deliveries of a batching endpoint sent
	// in one request, job first.
	batch []*store.Job
}

type doneMsg struct {
	job *store.Job
	// manual is set for a test send or resend: it holds no room in memory
	// and no lease of its own.
	manual bool
	// The attempt's outcome, for the endpoint's adaptive window.
	status  int
	kind    herald.ErrorKind
	latency time.Duration
	// held is how long the attempt kept its worker.
	held time.Duration
	// released is set when the attempt was aborted (shutdown) and the
	// delivery's lease must be given back instead of recorded.
	released bool
	// batch is the task's batch (job first); nil for one delivery.
	batch []*store.Job
}

// dispatcher is the dispatch loop's state. It does no I/O and reads no
// channel: the loop feeds it, and it hands deliveries out through send, so
// that its fairness and caps are tested on their own.
type dispatcher struct {
	// batchCap bounds a batch's request: the rendered request cap (0:
	// none).
	batchCap int
	budget   *budget
	clock    clock.Clock
	// maxInFlight is an endpoint's in-flight cap on this node.
	maxInFlight func(*herald.Endpoint) int
	// nodes is how many nodes share cluster-wide rate limits.
	nodes func() int64
	// refillBelow: an endpoint with deliveries left in the store asks for
	// more when its queue is shorter than this.
	refillBelow int
	// send hands a delivery to a free worker (never blocks: there is one).
	send func(task)
	// askRefill asks the claimer for more of an endpoint's deliveries; it
	// reports false when the request could not be queued.
	askRefill func(endpoint string) bool

	workers int
	free    int
	// initialWindow is the in-flight window endpoints start with.
	initialWindow int
	// appCap is the most workers one app may hold while several apps
	// have had work within recentFor; 0: no cap.
	appCap int
	// heldBudget bounds the worker time an endpoint's requests in flight
	// hold at once: in flight × latency (see flow.limit).
	heldBudget time.Duration
	queues     map[string]*epQueue
	apps       map[string]*appQueue
	ready      appHeap
	// turn numbers the sends, for appQueue.served.
	turn uint64
	// gone remembers when apps no longer in apps last had work, so that
	// the cap holds against an app that sends now and then.
	gone     map[string]time.Time
	goneScan time.Time
	// refill holds endpoints already asked of the claimer, so each is
	// asked once until its claim comes back.
	refill map[string]bool
	flows  map[string]*flow
	// throttled endpoints wait for their rate limiter until wakeAt.
	throttled []*epQueue
	wakeAt    time.Time
	// slowCap is the most workers the slow endpoints may hold together,
	// so that the others always find free workers however many hang;
	// slowInFlight is what they hold. An endpoint is slow when its
	// requests held their workers slowAfter on average, or one of its
	// requests has been in flight that long: checkAt is when the next
	// one would be.
	slowCap      int
	slowAfter    time.Duration
	slowInFlight int
	checkAt      time.Time
	// slowWaiting holds slow endpoints with work held back by slowCap.
	slowWaiting map[*epQueue]bool
	// giveBack collects deliveries taken out of slow endpoints' queues,
	// for the loop to give back to the store.
	giveBack []string
}

// slowAfter is how long an endpoint's requests may hold their workers
// before it counts as slow: far beyond a webhook receiver's usual answer,
// far below request timeouts.
const slowAfter = time.Second

// slowShare is the share of the workers the slow endpoints may hold
// together; the rest stays for endpoints that answer quickly.
const slowShare = 0.5

// slowHeld is the least a slow endpoint may hold in memory, queued or in
// flight; it may hold twice what it may have in flight if that is more.
// Its other deliveries wait in the store: a receiver that hangs would
// otherwise keep its whole queue, and its payloads, in memory for as long
// as its requests take to time out one by one.
const slowHeld = 4

// recentFor is how long an app that had work counts as one of several:
// long beside request timeouts and the gaps between a steady app's
// events, so that the cap holds against an app that sends now and then;
// short enough that an installation whose one app is busy soon has every
// worker for it again.
const recentFor = 10 * time.Minute

// heldPerWorker is the worker time each worker adds to an endpoint's
// budget: an endpoint's requests in flight may hold at once what all the
// workers together give in this long (see flow.limit).
const heldPerWorker = 100 * time.Millisecond

// newDispatcher makes a dispatcher of workers workers; one app may hold
// at most maxAppShare of them while other apps have work (1: no cap).
func newDispatcher(workers int, maxAppShare float64, b *budget, c clock.Clock) *dispatcher {
	d := &dispatcher{
		budget:        b,
		clock:         c,
		initialWindow: initialWindow,
		workers:       workers,
		free:          workers,
		heldBudget:    time.Duration(workers) * heldPerWorker,
		queues:        map[string]*epQueue{},
		apps:          map[string]*appQueue{},
		gone:          map[string]time.Time{},
		refill:        map[string]bool{},
		flows:         map[string]*flow{},
		slowCap:       max(1, int(slowShare*float64(workers))),
		slowAfter:     slowAfter,
		slowWaiting:   map[*epQueue]bool{},
	}
	if maxAppShare > 0 && maxAppShare < 1 {
		d.appCap = max(1, int(maxAppShare*float64(workers)))
	}
	return d
}

func (e *Engine) dispatchLoop(ctx context.Context) {
	defer close(e.dispDone)
	d := newDispatcher(e.o.Workers, e.o.MaxAppShare, e.budget, e.clock)
	d.initialWindow = e.o.InitialWindow
	d.batchCap = e.o.Ceilings.MaxBatchBytes
	d.maxInFlight = func(ep *herald.Endpoint) int { return e.maxInFlight(ctx, ep) }
	d.nodes = e.nodes.Load
	d.refillBelow = e.o.QueuePerEndpoint / 2
	d.send = func(t task) { e.workCh <- t }
	d.askRefill = func(id string) bool {
		select {
		case e.claimFor <- id:
			return true
		default:
			return false
		}
	}
	timer := e.clock.NewTimer(time.Hour)
	defer timer.Stop()
	stopping := false
	var toRelease []string
	rel := newReleaser()
	var releases sync.WaitGroup
	releases.Go(func() { rel.run(ctx, e.release) })
	for {
		if !stopping {
			d.fill()
		} else if d.free == e.o.Workers {
			break
		}
		stop := e.stopDisp
		if stopping {
			stop = nil
		}
		var wake <-chan time.Time
		if at := d.nextWake(); !at.IsZero() {
			timer.Reset(max(at.Sub(e.clock.Now()), 0))
			wake = timer.C()
		}
		select {
		case <-wake:
			now := e.clock.Now()
			if !d.wakeAt.IsZero() && !d.wakeAt.After(now) {
				d.unthrottle()
			}
			if !d.checkAt.IsZero() && !d.checkAt.After(now) {
				d.checkSlow()
			}
		case h := <-e.jobsCh:
			toRelease = append(toRelease, d.receive(h)...)
		case m := <-e.manualCh:
			switch {
			case m.cancel:
				d.cancelManual(m.req)
			case stopping:
				m.req.abort()
			default:
				d.addManual(m.req)
			}
		case m := <-e.doneCh:
			d.done(m)
			if m.released && !m.manual {
				if m.batch == nil {
					toRelease = append(toRelease, m.job.Delivery.ID)
				}
				for _, j := range m.batch {
					toRelease = append(toRelease, j.Delivery.ID)
				}
			}
		case ep := <-e.ctlCh:
			if ep == nil {
				d.reshare()
				continue
			}
			toRelease = append(toRelease, d.update(ep)...)
		case <-stop:
			stopping = true
		}
		toRelease = append(toRelease, d.giveBack...)
		d.giveBack = d.giveBack[:0]
		if !stopping && len(toRelease) > 0 {
			// Off the loop: it must not wait for the store.
			rel.add(toRelease)
			toRelease = nil
		}
	}
	// Give back what is still queued: it goes out after a restart or
	// from another node, with the same webhook-id.
	toRelease = append(toRelease, d.drain()...)
	close(e.workCh)
	rel.add(toRelease)
	rel.close()
	// The store may be closed once Shutdown returns.
	releases.Wait()
}

// releaser gives leases back to the store off the dispatch loop, one call
// at a time with every id that piled up meanwhile. When a fan-out
// overflows the memory budget the loop hands back thousands of deliveries
// a second; a call each would queue thousands of write transactions on
// the store's writer, ahead of the events being accepted.
type releaser struct {
	mu     sync.Mutex
	ids    []string
	closed bool
	wake   chan struct{}
}

func newReleaser() *releaser { return &releaser{wake: make(chan struct{}, 1)} }

func (r *releaser) add(ids []string) {
	if len(ids) == 0 {
		return
	}
	r.mu.Lock()
	r.ids = append(r.ids, ids...)
	r.mu.Unlock()
	r.signal()
}

// close makes run return once it has released what was added.
func (r *releaser) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.signal()
}

func (r *releaser) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *releaser) run(ctx context.Context, release func(context.Context, []string)) {
	for range r.wake {
		r.mu.Lock()
		ids, closed := r.ids, r.closed
		r.ids = nil
		r.mu.Unlock()
		release(ctx, ids)
		if closed {
			return
		}
	}
}

// nextWake is when the loop must wake by itself: an endpoint's rate
// limiter has a token again, or a request in flight turns slow.
func (d *dispatcher) nextWake() time.Time {
	switch {
	case d.wakeAt.IsZero():
		return d.checkAt
	case d.checkAt.IsZero() || d.wakeAt.Before(d.checkAt):
		return d.wakeAt
	}
	return d.checkAt
}

func (e *Engine) release(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	if err := e.st.DeliveriesRelease(ctx, e.o.Owner, ids); err != nil {
		// Tried again after the next heartbeat (or cleared when the
		// node leaves or restarts), so nothing is lost, only delayed.
		e.log.Warn("release leases failed", errAttr(err), "count", len(ids))
		e.rememberUnreleased(ids)
	}
}

// queue returns the endpoint's queue, made (with its app's) when new.
func (d *dispatcher) queue(ep *herald.Endpoint) *epQueue {
	q := d.queues[ep.ID]
	if q == nil {
		a := d.apps[ep.AppID]
		if a == nil {
			a = &appQueue{id: ep.AppID, idx: -1}
			d.apps[ep.AppID] = a
			delete(d.gone, ep.AppID)
		}
		a.queues++
		q = &epQueue{ep: ep, app: a, max: d.maxInFlight(ep)}
		if f := d.flows[ep.ID]; f != nil && f.held >= d.slowAfter {
			q.slow = true
		}
		d.queues[ep.ID] = q
	}
	return q
}

// forget drops a queue that holds and sends nothing, and its app with
// its last queue; the app is remembered as gone for recentFor.
func (d *dispatcher) forget(q *epQueue) {
	id := q.ep.ID
	delete(d.queues, id)
	delete(d.refill, id)
	delete(d.slowWaiting, q)
	a := q.app
	if a.queues--; a.queues == 0 {
		delete(d.apps, a.id)
		d.gone[a.id] = d.clock.Now()
	}
}

// newer takes ep's settings for q when they are newer than those it has:
// a job read before an update must not bring back the old ones.
func (d *dispatcher) newer(q *epQueue, ep *herald.Endpoint) {
	if ep.UpdatedAt.After(q.ep.UpdatedAt) {
		q.ep = ep
		q.max = d.maxInFlight(q.ep)
	}
}

// receive queues the deliveries of a handoff; it returns those to give
// back to the store because their endpoint takes none now.
func (d *dispatcher) receive(h handoff) []string {
	if h.refilled != "" {
		// The refill request came back: the endpoint may ask again.
		delete(d.refill, h.refilled)
	}
	var back []string
	for _, j := range h.jobs {
		if !d.add(j) {
			back = append(back, j.Delivery.ID)
		}
	}
	return back
}

// add queues a delivery; it returns false when the endpoint takes none
// now (disabled), and the delivery's lease must be given back.
func (d *dispatcher) add(j *store.Job) bool {
	q := d.queue(j.Endpoint)
	d.newer(q, j.Endpoint)
	if !q.ep.Enabled {
		d.budget.release(j.Endpoint.ID, j.Event)
		if q.idle() {
			d.forget(q)
		}
		return false
	}
	q.push(j)
	d.gathered(q)
	d.makeReady(q)
	return true
}

// addManual queues a test send or resend for the endpoint's next free
// slot. It goes whether the endpoint is enabled or not: testing an
// endpoint before enabling it is what test sends are for.
func (d *dispatcher) addManual(r *manualReq) {
	q := d.queue(r.job.Endpoint)
	d.newer(q, r.job.Endpoint)
	q.manual = append(q.manual, r)
	d.makeReady(q)
}

// cancelManual drops a manual send whose caller went away before its
// turn came; one already handed to a worker is aborted by its context.
func (d *dispatcher) cancelManual(r *manualReq) {
	q := d.queues[r.job.Endpoint.ID]
	if q == nil {
		return
	}
	if i := slices.Index(q.manual, r); i >= 0 {
		q.manual = slices.Delete(q.manual, i, i+1)
		r.abort()
		d.leaveIfStuck(q)
	}
}

// dropCanceled answers the manual sends at the head of q whose caller
// already went away, so that none takes a worker for nothing.
func (d *dispatcher) dropCanceled(q *epQueue) {
	for len(q.manual) > 0 && q.manual[0].ctx.Err() != nil {
		q.manual[0].abort()
		q.manual = slices.Delete(q.manual, 0, 1)
	}
}

func (d *dispatcher) canSend(q *epQueue) bool {
	if q.throttled {
		return false
	}
	if len(q.manual) == 0 && (q.len() == 0 || !q.ep.Enabled) {
		return false
	}
	if q.slow && d.slowInFlight >= d.slowCap {
		d.slowWaiting[q] = true
		return false
	}
	return q.inFlight < d.flow(q).limit(d.heldBudget)
}

// setSlow marks an endpoint slow or not, moving its requests in flight
// in or out of the slow endpoints' count.
func (d *dispatcher) setSlow(q *epQueue, slow bool) {
	if q.slow == slow {
		return
	}
	q.slow = slow
	if slow {
		d.slowInFlight += q.inFlight
		d.trimSlow(q)
	} else {
		d.slowInFlight -= q.inFlight
		d.budget.setSlowCap(q.ep.ID, -1)
		delete(d.slowWaiting, q)
		d.makeReady(q)
	}
	d.wakeSlow()
}

// trimSlow bounds what a slow endpoint holds in memory: the newest of its
// queued deliveries beyond its cap go back to the store, to be claimed
// again as its queue drains.
func (d *dispatcher) trimSlow(q *epQueue) {
	held := max(slowHeld, 2*d.flow(q).limit(d.heldBudget))
	d.budget.setSlowCap(q.ep.ID, held)
	excess := min(q.len(), q.inFlight+q.len()-held)
	if excess <= 0 {
		return
	}
	for range excess {
		j := q.jobs[len(q.jobs)-1]
		q.jobs[len(q.jobs)-1] = nil
		q.jobs = q.jobs[:len(q.jobs)-1]
		d.giveBack = append(d.giveBack, j.Delivery.ID)
		d.budget.release(q.ep.ID, j.Event)
	}
	if q.len() == 0 {
		q.jobs, q.head = q.jobs[:0], 0
	}
	d.budget.markSpilled(q.ep.ID)
	d.leaveIfStuck(q)
}

// wakeSlow puts the slow endpoints held back by slowCap back in turn once
// there is room under it.
func (d *dispatcher) wakeSlow() {
	if d.slowInFlight >= d.slowCap || len(d.slowWaiting) == 0 {
		return
	}
	ws := d.slowWaiting
	d.slowWaiting = map[*epQueue]bool{}
	for q := range ws {
		if d.queues[q.ep.ID] == q {
			d.makeReady(q)
		}
	}
}

// checkSlow marks slow the endpoints whose oldest request in flight has
// held its worker slowAfter, and returns when to check again.
func (d *dispatcher) checkSlow() {
	now := d.clock.Now()
	d.checkAt = time.Time{}
	for _, q := range d.queues {
		if q.inFlight == 0 || q.slow {
			continue
		}
		o := q.oldest()
		if o.IsZero() {
			continue
		}
		if due := o.Add(d.slowAfter); !due.After(now) {
			d.setSlow(q, true)
		} else if d.checkAt.IsZero() || due.Before(d.checkAt) {
			d.checkAt = due
		}
	}
}

// several reports whether more than one app has had work on this node
// within recentFor: then no app may hold more than appCap workers.
func (d *dispatcher) several() bool {
	if len(d.apps) >= 2 {
		return true
	}
	if len(d.gone) == 0 {
		return false
	}
	// Forget apps gone for long, at most once a minute: an app counts
	// for recentFor, and at most a minute more.
	if now := d.clock.Now(); now.Sub(d.goneScan) >= time.Minute {
		d.goneScan = now
		for id, at := range d.gone {
			if now.Sub(at) >= recentFor {
				delete(d.gone, id)
			}
		}
	}
	return len(d.apps)+len(d.gone) >= 2
}

// atCap reports whether app a holds all the workers one app may.
func (d *dispatcher) atCap(a *appQueue) bool {
	return d.appCap > 0 && a.inFlight >= d.appCap && d.several()
}

// throttle takes an endpoint out of turn until its rate limiter has a
// token again.
func (d *dispatcher) throttle(q *epQueue, until time.Time) {
	q.throttled = true
	d.throttled = append(d.throttled, q)
	if d.wakeAt.IsZero() || until.Before(d.wakeAt) {
		d.wakeAt = until
	}
}

// unthrottle puts endpoints whose wait is over back in turn.
func (d *dispatcher) unthrottle() {
	now := d.clock.Now()
	d.wakeAt = time.Time{}
	keep := d.throttled[:0]
	for _, q := range d.throttled {
		f := d.flows[q.ep.ID]
		if f == nil || f.limiter == nil {
			d.wake(q)
			continue
		}
		if wait := f.limiter.ReserveN(now, 1); wait.OK() {
			delay := wait.DelayFrom(now)
			wait.CancelAt(now)
			if delay > 0 {
				keep = append(keep, q)
				if d.wakeAt.IsZero() || now.Add(delay).Before(d.wakeAt) {
					d.wakeAt = now.Add(delay)
				}
				continue
			}
		}
		d.wake(q)
	}
	d.throttled = keep
	// Forget the flows of endpoints idle for long, to bound memory.
	if len(d.flows) > 10_000 {
		cutoff := now.Add(-time.Hour)
		for id, f := range d.flows {
			if f.lastUsed.Before(cutoff) && d.queues[id] == nil {
				delete(d.flows, id)
			}
		}
	}
}

// wake ends an endpoint's wait for its rate limiter; one emptied
// meanwhile (disabled) is forgotten.
func (d *dispatcher) wake(q *epQueue) {
	q.throttled, q.gathering = false, false
	d.makeReady(q)
	if q.idle() {
		d.forget(q)
	}
}

// makeReady puts an endpoint that may send in its app's turn, and its
// app among those served.
func (d *dispatcher) makeReady(q *epQueue) {
	if q.inRing || !d.canSend(q) {
		return
	}
	q.inRing = true
	q.app.ready.add(q)
	d.enter(q.app)
}

// enter puts an app with endpoints in turn among those served, unless it
// is at its cap; one already there takes its new place.
func (d *dispatcher) enter(a *appQueue) {
	if a.idx >= 0 {
		heap.Fix(&d.ready, a.idx)
		return
	}
	if len(a.ready.items) > 0 && !d.atCap(a) {
		heap.Push(&d.ready, a)
	}
}

// out takes an app out of those served.
func (d *dispatcher) out(a *appQueue) {
	if a.idx >= 0 {
		heap.Remove(&d.ready, a.idx)
	}
}

// fill hands deliveries to free workers: each to the app with the fewest
// requests in flight (among equals, the one served longest ago), and
// within it to its endpoints in turn.
func (d *dispatcher) fill() {
	for d.free > 0 && len(d.ready) > 0 {
		a := d.ready[0]
		if d.atCap(a) {
			// Another app came: this one waits until it is under its
			// cap (done puts it back).
			d.out(a)
			continue
		}
		ei := a.ready.current()
		q := a.ready.items[ei]
		d.dropCanceled(q)
		if !d.canSend(q) {
			// Its cap or window fell while it waited for its turn
			// (a node joined, it answered 503): it comes back as its
			// requests end.
			d.leave(a, ei)
			continue
		}
		var nextJob *store.Job
		if len(q.manual) > 0 {
			nextJob = q.manual[0].job
		} else {
			nextJob = q.jobs[q.head]
			if until, wait := d.batchWait(q); wait {
				d.leave(a, ei)
				d.gather(q, until)
				continue
			}
		}
		if !d.budget.tryRender(nextJob.Event) {
			// The request bodies being sent fill their share of
			// memory: the next one goes when one of them ends.
			return
		}
		if f := d.flow(q); f.limiter != nil {
			now := d.clock.Now()
			r := f.limiter.ReserveN(now, 1)
			if delay := r.DelayFrom(now); delay > 0 {
				r.CancelAt(now)
				d.budget.doneRender(nextJob.Event)
				d.leave(a, ei)
				d.throttle(q, now.Add(delay))
				continue
			}
		}
		var t task
		if len(q.manual) > 0 {
			t = task{job: q.manual[0].job, manual: q.manual[0]}
			q.manual = slices.Delete(q.manual, 0, 1)
		} else {
			t = task{job: q.pop()}
			t.job.Endpoint = q.ep
			if preset.Batching(q.ep) != nil {
				t.batch = d.takeBatch(q, t.job)
			}
		}
		q.inFlight++
		a.inFlight++
		d.free--
		now := d.clock.Now()
		if q.sentAt == nil {
			q.sentAt = map[*store.Job]time.Time{}
		}
		q.sentAt[t.job] = now
		if q.slow {
			d.slowInFlight++
		} else if d.checkAt.IsZero() {
			d.checkAt = now.Add(d.slowAfter)
		}
		d.turn++
		a.served = d.turn
		a.ready.advance()
		if !d.canSend(q) {
			d.leave(a, ei)
		}
		if a.idx >= 0 {
			heap.Fix(&d.ready, a.idx)
		}
		d.send(t)
	}
}

// leave takes the endpoint at ei out of its app's turn, and the app out
// of those served when none of its endpoints is left in turn. An
// endpoint left with nothing (its last manual sends were dropped) is
// forgotten: a queue kept would keep its app counted among those with
// work.
func (d *dispatcher) leave(a *appQueue, ei int) {
	q := a.ready.items[ei]
	q.inRing = false
	a.ready.remove(ei)
	if len(a.ready.items) == 0 {
		d.out(a)
	}
	if q.idle() {
		d.forget(q)
	}
}

// leaveIfStuck takes q out of turn when it can no longer send, and
// forgets it when it holds nothing.
func (d *dispatcher) leaveIfStuck(q *epQueue) {
	if q.inRing && !d.canSend(q) {
		if i := slices.Index(q.app.ready.items, q); i >= 0 {
			d.leave(q.app, i)
		}
	}
	if q.idle() {
		d.forget(q)
	}
}

func (d *dispatcher) done(m doneMsg) {
	d.free++
	d.budget.doneRender(m.job.Event)
	id := m.job.Endpoint.ID
	if !m.manual {
		d.budget.release(id, m.job.Event)
	}
	for _, j := range m.batch[min(1, len(m.batch)):] {
		d.budget.doneRender(j.Event)
		d.budget.release(id, j.Event)
	}
	q := d.queues[id]
	if q == nil {
		return
	}
	// The window held the endpoint back if every slot of it was taken.
	f := d.flow(q)
	used := q.inFlight
	limited := used >= int(f.window)
	q.inFlight--
	q.app.inFlight--
	delete(q.sentAt, m.job)
	if q.slow {
		d.slowInFlight--
	}
	f.adapt(m, q.max, limited)
	if !limited && !m.released {
		f.settle(used)
	}
	o := q.oldest()
	d.setSlow(q, f.held >= d.slowAfter || (!o.IsZero() && d.clock.Now().Sub(o) >= d.slowAfter))
	if q.slow {
		// Its limit moved with this answer.
		d.trimSlow(q)
	}
	d.wakeSlow()
	d.makeReady(q)
	// One fewer in flight: the app moves up, or is back under its cap.
	d.enter(q.app)
	// Ask for more from the store when this endpoint left some there
	// and its queue runs low.
	if q.len() < d.refillBelow && !d.refill[id] && d.budget.spillGen(id) != 0 && d.askRefill(id) {
		d.refill[id] = true
	}
	if q.idle() {
		d.forget(q)
	}
}

// update applies new endpoint settings; it returns the deliveries to give
// back to the store when the endpoint no longer takes deliveries.
func (d *dispatcher) update(ep *herald.Endpoint) []string {
	q := d.queues[ep.ID]
	if q == nil {
		return nil
	}
	if ep.UpdatedAt.Before(q.ep.UpdatedAt) {
		return nil
	}
	q.ep = ep
	q.max = d.maxInFlight(ep)
	if ep.Enabled {
		d.makeReady(q)
		return nil
	}
	var ids []string
	for q.len() > 0 {
		j := q.pop()
		ids = append(ids, j.Delivery.ID)
		d.budget.release(ep.ID, j.Event)
	}
	d.leaveIfStuck(q)
	return ids
}

// reshare recomputes every queue's cap after the node count changed.
func (d *dispatcher) reshare() {
	for _, q := range d.queues {
		q.max = d.maxInFlight(q.ep)
		d.makeReady(q)
	}
}

// drain empties every queue at shutdown and returns the deliveries to give
// back to the store; manual sends still waiting are aborted.
func (d *dispatcher) drain() []string {
	var ids []string
	for _, q := range d.queues {
		for q.len() > 0 {
			j := q.pop()
			ids = append(ids, j.Delivery.ID)
			d.budget.release(j.Endpoint.ID, j.Event)
		}
		for _, r := range q.manual {
			r.abort()
		}
		q.manual = nil
	}
	return ids
}
