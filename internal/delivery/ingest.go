package delivery

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

type ingestReq struct {
	ev  *herald.Event
	res chan ingestRes
}

type ingestRes struct {
	r   store.EnqueueResult
	err error
}

// Enqueue stores an event and its deliveries and returns once they are
// durably committed. Concurrent calls share one transaction (group commit):
// the first caller's batch is written while the next callers gather, so
// throughput grows with load while each caller still waits for its own
// commit. The event's ID and CreatedAt are set when empty.
func (e *Engine) Enqueue(ctx context.Context, ev *herald.Event) (store.EnqueueResult, error) {
	if ev.ID == "" {
		ev.ID = herald.NewID(herald.PrefixEvent)
	}
	// Attempts of its deliveries made on this node link to the caller's
	// span (the API's ingest span).
	e.links.Put(ev.ID, trace.SpanContextFromContext(ctx))
	req := &ingestReq{ev: ev, res: make(chan ingestRes, 1)}
	select {
	case <-e.stopped:
		return store.EnqueueResult{}, ErrStopped
	default:
	}
	select {
	case e.ingestCh <- req:
	case <-e.stopped:
		return store.EnqueueResult{}, ErrStopped
	case <-ctx.Done():
		return store.EnqueueResult{}, ctx.Err()
	}
	// Once handed over, the event is committed (or refused) whatever the
	// caller does, so wait for the verdict unless the caller left.
	select {
	case r := <-req.res:
		return r.r, r.err
	case <-ctx.Done():
		// The committer has the event: it may yet be committed.
		return store.EnqueueResult{}, &store.UnavailableError{Cause: ctx.Err(), MaybeCommitted: true}
	case <-e.ingestDone:
		// The committer stopped; if it did not take this event before
		// (a handover racing with Shutdown), nothing ever will.
		select {
		case r := <-req.res:
			return r.r, r.err
		default:
			return store.EnqueueResult{}, ErrStopped
		}
	}
}

func (e *Engine) commitLoop(ctx context.Context) {
	defer close(e.ingestDone)
	batch := make([]*ingestReq, 0, e.o.MaxBatch)
	for {
		var first *ingestReq
		select {
		case first = <-e.ingestCh:
		case <-e.stopIngest:
			// Commit what callers already handed over.
			for {
				select {
				case r := <-e.ingestCh:
					batch = append(batch[:0], r)
					e.commit(ctx, batch)
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	gather:
		for len(batch) < e.o.MaxBatch {
			select {
			case r := <-e.ingestCh:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		e.commit(ctx, batch)
	}
}

func (e *Engine) commit(ctx context.Context, batch []*ingestReq) {
	now := e.clock.Now()
	evs := make([]*herald.Event, len(batch))
	for i, r := range batch {
		if r.ev.CreatedAt.IsZero() {
			r.ev.CreatedAt = now
		}
		evs[i] = r.ev
	}
	// What routing reads (each event type's group, each app) is read
	// before the transaction: its callback only computes, so the writer
	// is held for as short a time as it can be, and no read of another
	// connection waits inside it.
	groups := map[string]string{}
	apps := map[string]*herald.App{}
	for _, ev := range evs {
		if _, ok := groups[ev.EventType]; !ok {
			groups[ev.EventType] = e.router.group(ctx, ev.EventType)
		}
		if _, ok := apps[ev.AppID]; !ok {
			apps[ev.AppID] = e.app(ctx, ev.AppID)
		}
	}
	// Memory reserved for each event's leased deliveries, by event id:
	// an event the store refuses (its app's quota) gives its share back.
	reserved := map[string][]string{}
	byID := make(map[string]*herald.Event, len(evs))
	for _, ev := range evs {
		byID[ev.ID] = ev
	}
	// spilled: a delivery was left in the store for want of memory, for
	// an endpoint whose queue is not fed through refills.
	spilled := false
	// pulled: the pull endpoints that got deliveries, whose waiting
	// pulls are woken once they are committed.
	var pulled []string
	res, err := e.st.EventsEnqueue(ctx, store.EnqueueParams{
		Events:     evs,
		LeasedOnly: true,
		Route: func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
			matched, routing := e.router.route(ev, groups[ev.EventType], apps[ev.AppID], eps)
			ev.Routing = routing
			var ts []store.Target
			for _, ep := range matched {
				if ep.IsPull() {
					// Never sent by a node: its clients pull it.
					ts = append(ts, store.Target{Endpoint: ep})
					pulled = append(pulled, ep.ID)
					continue
				}
				if e.o.NoDelivery {
					// Worker nodes claim it.
					ts = append(ts, store.Target{Endpoint: ep})
					continue
				}
				if store.OrderingKey(ev, ep) != "" {
					// Ordered: it waits in the store for the earlier
					// deliveries of its key, and a claim, which checks
					// them, takes it.
					ts = append(ts, store.Target{Endpoint: ep})
					spilled = true
					continue
				}
				lease := e.budget.tryReserve(ep.ID, ev)
				if lease {
					reserved[ev.ID] = append(reserved[ev.ID], ep.ID)
				} else if !e.budget.slowCapped(ep.ID) {
					// A slow endpoint's deliveries come in through
					// its refills, as its queue drains.
					spilled = true
				}
				ts = append(ts, store.Target{Endpoint: ep, Lease: lease})
			}
			return ts
		},
		LeaseOwner:       e.o.Owner,
		LeaseUntil:       now.Add(e.o.LeaseDuration),
		IdempotencySince: now.Add(-e.o.IdempotencyWindow),
	})
	if err != nil {
		for evID, ids := range reserved {
			for _, id := range ids {
				e.budget.release(id, byID[evID])
			}
		}
		e.log.Error("enqueue batch failed", errAttr(err), "events", len(batch))
		for _, r := range batch {
			r.res <- ingestRes{err: err}
		}
		return
	}
	var leased []*store.Job
	accepted := 0
	for i, r := range res {
		if r.Err != nil {
			for _, id := range reserved[evs[i].ID] {
				e.budget.release(id, evs[i])
			}
		}
		if r.Err == nil && !r.Duplicate {
			accepted++
		}
		leased = append(leased, r.Jobs...)
	}
	e.o.Metrics.EventsAccepted(accepted)
	e.pulls.notify(pulled...)
	if len(leased) > 0 {
		e.jobsCh <- handoff{jobs: leased}
	}
	if spilled && !e.o.NoDelivery {
		e.wakeClaimer()
	}
	for i, r := range batch {
		r.res <- ingestRes{r: res[i]}
	}
}

// nextLease is when a lease taken now runs out.
func (e *Engine) nextLease() time.Time { return e.clock.Now().Add(e.o.LeaseDuration) }
