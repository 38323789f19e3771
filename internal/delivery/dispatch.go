package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/store"
)

// The dispatcher is one goroutine that owns the in-memory queues, so they
// need no locks. It hands a delivery to a worker only when a worker is free
// and the delivery's endpoint is below its in-flight cap, choosing apps in
// round robin and, within an app, endpoints in round robin: a burst from
// one app or a slow endpoint takes its own turn, never the others'.
//
// Each endpoint has its own FIFO queue, which is where per-key ordering
// and batching of several events into one request can later be added.

type epQueue struct {
	ep *herald.Endpoint
	// max is the endpoint's in-flight cap, from its settings or its
	// app's, else the engine's.
	max      int
	app      *appQueue
	jobs     []*store.Job
	head     int
	inFlight int
	inRing   bool
	// throttled: waiting for the rate limiter, out of the ring.
	throttled bool
}

func (q *epQueue) len() int { return len(q.jobs) - q.head }

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
	id     string
	ready  ring[*epQueue]
	inRing bool
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

type doneMsg struct {
	job *store.Job
	// The attempt's outcome, for the endpoint's adaptive window.
	status  int
	kind    herald.ErrorKind
	latency time.Duration
	// released is set when the attempt was aborted (shutdown) and the
	// delivery's lease must be given back instead of recorded.
	released bool
}

// dispatcher is the dispatch loop's state. It does no I/O and reads no
// channel: the loop feeds it, and it hands deliveries out through send, so
// that its fairness and caps are tested on their own.
type dispatcher struct {
	budget *budget
	clock  clock.Clock
	// maxInFlight is an endpoint's in-flight cap on this node.
	maxInFlight func(*herald.Endpoint) int
	// nodes is how many nodes share cluster-wide rate limits.
	nodes func() int64
	// refillBelow: an endpoint with deliveries left in the store asks for
	// more when its queue is shorter than this.
	refillBelow int
	// send hands a delivery to a free worker (never blocks: there is one).
	send func(*store.Job)
	// askRefill asks the claimer for more of an endpoint's deliveries; it
	// reports false when the request could not be queued.
	askRefill func(endpoint string) bool

	free   int
	queues map[string]*epQueue
	apps   map[string]*appQueue
	ready  ring[*appQueue]
	// refill holds endpoints already asked of the claimer, so each is
	// asked once until its claim comes back.
	refill map[string]bool
	flows  map[string]*flow
	// throttled endpoints wait for their rate limiter until wakeAt.
	throttled []*epQueue
	wakeAt    time.Time
}

func newDispatcher(workers int, b *budget, c clock.Clock) *dispatcher {
	return &dispatcher{
		budget: b,
		clock:  c,
		free:   workers,
		queues: map[string]*epQueue{},
		apps:   map[string]*appQueue{},
		refill: map[string]bool{},
		flows:  map[string]*flow{},
	}
}

func (e *Engine) dispatchLoop(ctx context.Context) {
	defer close(e.dispDone)
	d := newDispatcher(e.o.Workers, e.budget, e.clock)
	d.maxInFlight = func(ep *herald.Endpoint) int { return e.maxInFlight(ctx, ep) }
	d.nodes = e.nodes.Load
	d.refillBelow = e.o.QueuePerEndpoint / 2
	d.send = func(j *store.Job) { e.workCh <- j }
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
	var releases sync.WaitGroup
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
		if !d.wakeAt.IsZero() {
			timer.Reset(max(d.wakeAt.Sub(e.clock.Now()), 0))
			wake = timer.C()
		}
		select {
		case <-wake:
			d.unthrottle()
		case h := <-e.jobsCh:
			toRelease = append(toRelease, d.receive(h)...)
		case m := <-e.doneCh:
			d.done(m)
			if m.released {
				toRelease = append(toRelease, m.job.Delivery.ID)
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
		if !stopping && len(toRelease) > 0 {
			// Off the loop: it must not wait for the store.
			ids := toRelease
			releases.Go(func() { e.release(ctx, ids) })
			toRelease = nil
		}
	}
	// Give back what is still queued: it goes out after a restart or
	// from another node, with the same webhook-id.
	toRelease = append(toRelease, d.drain()...)
	close(e.workCh)
	e.release(ctx, toRelease)
	// The store may be closed once Shutdown returns.
	releases.Wait()
}

func (e *Engine) release(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	if err := e.st.DeliveriesRelease(ctx, e.o.Owner, ids); err != nil {
		// The leases then run out on their own (or are cleared at the
		// next start), so nothing is lost, only delayed.
		e.log.Warn("release leases failed", errAttr(err), "count", len(ids))
	}
}

func (d *dispatcher) queue(ep *herald.Endpoint) *epQueue {
	q := d.queues[ep.ID]
	if q == nil {
		a := d.apps[ep.AppID]
		if a == nil {
			a = &appQueue{id: ep.AppID}
			d.apps[ep.AppID] = a
		}
		q = &epQueue{ep: ep, app: a, max: d.maxInFlight(ep)}
		d.queues[ep.ID] = q
	}
	return q
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
	// Keep the newest settings: a job read before an update must not
	// bring back the old ones.
	if j.Endpoint.UpdatedAt.After(q.ep.UpdatedAt) {
		q.ep = j.Endpoint
		q.max = d.maxInFlight(q.ep)
	}
	if !q.ep.Enabled {
		d.budget.release(j.Endpoint.ID)
		return false
	}
	q.push(j)
	d.makeReady(q)
	return true
}

func (d *dispatcher) canSend(q *epQueue) bool {
	if q.len() == 0 || !q.ep.Enabled || q.throttled {
		return false
	}
	return q.inFlight < int(d.flow(q).window)
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
			q.throttled = false
			d.makeReady(q)
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
		q.throttled = false
		d.makeReady(q)
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

func (d *dispatcher) makeReady(q *epQueue) {
	if q.inRing || !d.canSend(q) {
		return
	}
	q.inRing = true
	q.app.ready.add(q)
	if !q.app.inRing {
		q.app.inRing = true
		d.ready.add(q.app)
	}
}

// fill hands deliveries to free workers, one per turn of app and endpoint.
func (d *dispatcher) fill() {
	for d.free > 0 && len(d.ready.items) > 0 {
		ai := d.ready.current()
		a := d.ready.items[ai]
		ei := a.ready.current()
		q := a.ready.items[ei]
		if !d.canSend(q) {
			// Its cap or window fell while it waited for its turn
			// (a node joined, it answered 503): it comes back as its
			// requests end.
			d.leave(ai, ei)
			continue
		}
		if f := d.flow(q); f.limiter != nil {
			now := d.clock.Now()
			r := f.limiter.ReserveN(now, 1)
			if delay := r.DelayFrom(now); delay > 0 {
				r.CancelAt(now)
				d.leave(ai, ei)
				d.throttle(q, now.Add(delay))
				continue
			}
		}
		j := q.pop()
		j.Endpoint = q.ep
		q.inFlight++
		d.free--
		a.ready.advance()
		d.ready.advance()
		if !d.canSend(q) {
			d.leave(ai, ei)
		}
		d.send(j)
	}
}

// leave takes the endpoint at ei of the app at ai out of turn, and the app
// too when none of its endpoints is left in turn.
func (d *dispatcher) leave(ai, ei int) {
	a := d.ready.items[ai]
	a.ready.items[ei].inRing = false
	a.ready.remove(ei)
	if len(a.ready.items) == 0 {
		a.inRing = false
		d.ready.remove(ai)
	}
}

func (d *dispatcher) done(m doneMsg) {
	d.free++
	id := m.job.Endpoint.ID
	d.budget.release(id)
	q := d.queues[id]
	if q == nil {
		return
	}
	q.inFlight--
	d.flow(q).adapt(m, q.max)
	d.makeReady(q)
	// Ask for more from the store when this endpoint left some there
	// and its queue runs low.
	if q.len() < d.refillBelow && !d.refill[id] && d.budget.spillGen(id) != 0 && d.askRefill(id) {
		d.refill[id] = true
	}
	if q.len() == 0 && q.inFlight == 0 && !q.inRing && !q.throttled {
		delete(d.queues, id)
		delete(d.refill, id)
		if !q.app.inRing && len(q.app.ready.items) == 0 {
			delete(d.apps, q.app.id)
		}
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
		d.budget.release(ep.ID)
	}
	if q.inRing {
		for i, x := range q.app.ready.items {
			if x == q {
				q.app.ready.remove(i)
				break
			}
		}
		q.inRing = false
		if len(q.app.ready.items) == 0 && q.app.inRing {
			for i, x := range d.ready.items {
				if x == q.app {
					d.ready.remove(i)
					break
				}
			}
			q.app.inRing = false
		}
	}
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
// back to the store.
func (d *dispatcher) drain() []string {
	var ids []string
	for _, q := range d.queues {
		for q.len() > 0 {
			j := q.pop()
			ids = append(ids, j.Delivery.ID)
			d.budget.release(j.Endpoint.ID)
		}
	}
	return ids
}
