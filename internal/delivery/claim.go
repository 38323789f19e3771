package delivery

import (
	"context"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// generalPerEndpoint caps how many deliveries of one endpoint a general
// claim takes, so that one endpoint's backlog cannot fill it.
const generalPerEndpoint = 100

// claimLoop brings deliveries from the store into memory: retries when
// they fall due, deliveries left in the store when memory was full
// (endpoint by endpoint, as their queues drain), and, at start, whatever a
// previous process left. It sleeps until the earliest known due time, or
// a wake-up, with PollInterval as a backstop.
func (e *Engine) claimLoop(ctx context.Context) {
	defer close(e.claimDone)
	var nextRetry time.Time
	timer := e.clock.NewTimer(e.o.PollInterval)
	defer timer.Stop()
	for {
		general := false
		var endpoints []string
		select {
		case <-e.stopClaim:
			return
		case <-e.claimWake:
			general = true
		case <-timer.C():
			general = true
		case t := <-e.retryAtCh:
			if nextRetry.IsZero() || t.Before(nextRetry) {
				nextRetry = t
			}
		case id := <-e.claimFor:
			endpoints = append(endpoints, id)
		gather:
			for {
				select {
				case id := <-e.claimFor:
					endpoints = append(endpoints, id)
				default:
					break gather
				}
			}
		}
		now := e.clock.Now()
		for _, id := range endpoints {
			e.claimEndpoint(ctx, id, now)
		}
		if !nextRetry.IsZero() && !now.Before(nextRetry) {
			general = true
			nextRetry = time.Time{}
		}
		if general {
			if next := e.claimGeneral(ctx, now); !next.IsZero() && (nextRetry.IsZero() || next.Before(nextRetry)) {
				nextRetry = next
			}
		}
		wait := e.o.PollInterval
		if !nextRetry.IsZero() {
			if d := nextRetry.Sub(e.clock.Now()); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		timer.Reset(wait)
	}
}

// claimEndpoint refills one endpoint's queue from the store.
func (e *Engine) claimEndpoint(ctx context.Context, id string, now time.Time) {
	per, total := e.budget.room(id)
	limit := min(per, total, e.memLimit())
	gen := e.budget.spillGen(id)
	if limit <= 0 || !e.mayClaim() {
		// Ask again when the queue drains further.
		e.handOver(ctx, nil, id)
		return
	}
	jobs, err := e.st.DeliveriesClaim(ctx, store.ClaimParams{
		Owner: e.o.Owner, LeaseUntil: now.Add(e.o.LeaseDuration), Now: now,
		Limit: limit, EndpointID: id,
	})
	if err != nil {
		e.log.Error("claim failed", errAttr(err), "endpoint_id", id)
		e.handOver(ctx, nil, id)
		return
	}
	if len(jobs) < limit {
		e.budget.clearSpilled(id, gen)
	}
	e.handOver(ctx, jobs, id)
}

// memLimit is how many deliveries of the mean size memory has room for;
// at least one when nothing is held, so that a payload larger than the
// whole budget still goes out, alone.
func (e *Engine) memLimit() int {
	free, mean := e.budget.memRoom()
	if n, _ := e.budget.held(); n == 0 {
		return max(1, int(min(free/mean, 1<<30)))
	}
	return int(max(0, min(free/mean, 1<<30)))
}

// claimGeneral claims due deliveries of any endpoint while memory has
// room, and returns when the next not-yet-due delivery falls due.
func (e *Engine) claimGeneral(ctx context.Context, now time.Time) time.Time {
	if !e.mayClaim() {
		// Nothing claimed now would be sent; the heartbeat that comes
		// back wakes the claimer.
		return time.Time{}
	}
	for {
		_, total := e.budget.room("")
		limit := min(total, 1000, e.memLimit())
		if limit < 1 || total < generalPerEndpoint {
			return time.Time{}
		}
		// With little memory left, fewer per endpoint, so that the
		// claim still reaches several endpoints.
		perEndpoint := min(generalPerEndpoint, max(1, limit/4))
		jobs, err := e.st.DeliveriesClaim(ctx, store.ClaimParams{
			Owner: e.o.Owner, LeaseUntil: now.Add(e.o.LeaseDuration), Now: now,
			Limit: limit, PerEndpoint: perEndpoint,
		})
		if err != nil {
			e.log.Error("claim failed", errAttr(err))
			return time.Time{}
		}
		per := map[string]int{}
		for _, j := range jobs {
			per[j.Endpoint.ID]++
		}
		for id, n := range per {
			if n == perEndpoint {
				// Probably more where these came from: refill this
				// endpoint as its queue drains.
				e.budget.markSpilled(id)
			}
		}
		if kept := e.handOver(ctx, jobs, ""); kept < len(jobs) || len(jobs) < limit {
			break
		}
	}
	next, err := e.st.NextDueAt(ctx)
	if err != nil || next == nil || !next.After(now) {
		return time.Time{}
	}
	return *next
}

// handOver passes claimed deliveries to the dispatcher, as many as
// memory has room for: the others are given back to the store at once,
// their endpoints marked to be refilled as memory frees. An endpoint
// claim always sends a (possibly empty) batch so the dispatcher knows the
// request came back and may ask again. It returns how many it kept.
func (e *Engine) handOver(ctx context.Context, jobs []*store.Job, endpoint string) int {
	kept := jobs[:0:0]
	var back []string
	for _, j := range jobs {
		if e.budget.tryReserve(j.Endpoint.ID, j.Event) {
			kept = append(kept, j)
		} else {
			back = append(back, j.Delivery.ID)
		}
	}
	e.release(ctx, back)
	if len(kept) == 0 && endpoint == "" {
		return 0
	}
	e.jobsCh <- handoff{jobs: kept, refilled: endpoint}
	return len(kept)
}

// extendLoop renews this node's leases while it makes progress, so that
// deliveries waiting in memory are never taken over by another node.
//
// The whole in-memory queue stays leased, not only what is in flight:
// the lease is what keeps two nodes from sending one delivery, and a
// live node's leases hold nothing back, since it sends them itself. What
// a dead node held is released by owner as soon as its heartbeats stop
// (see beat), queued or in flight alike, so the lease's length only
// matters for a node that beats but makes no progress: then the
// extension stops and the leases run out.
func (e *Engine) extendLoop(ctx context.Context) {
	defer close(e.extendDone)
	t := e.clock.NewTicker(e.o.LeaseDuration / 3)
	defer t.Stop()
	for {
		select {
		case <-e.stopExtend:
			return
		case <-t.C():
			if !e.shouldExtend() {
				e.log.Warn("no attempt ended since the last lease extension while some are under way; leases are left to run out")
				continue
			}
			until := e.nextLease()
			if err := e.st.LeasesExtend(ctx, e.o.Owner, until); err != nil {
				e.log.Error("extend leases failed", errAttr(err))
				continue
			}
			e.live.extendedUntil.Store(until.UnixNano())
		}
	}
}
