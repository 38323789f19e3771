package delivery

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/store"
)

// workerLoop sends what the dispatcher hands it. Store calls use ctx;
// sends use sendCtx, which Shutdown cancels when its deadline passes.
func (e *Engine) workerLoop(ctx, sendCtx context.Context) {
	defer e.workersDone.Done()
	for t := range e.workCh {
		j := t.job
		e.o.Metrics.InFlight(1)
		start := e.clock.Now()
		var res store.AttemptResult
		var ok bool
		e.live.inFlight.Add(1)
		switch {
		case t.manual != nil:
			res, ok = e.manualAttempt(sendCtx, t.manual)
		case !e.mayStillSend(j):
			// Another node may hold it now: given back, not sent.
			e.o.Metrics.Fenced(1)
			e.log.Debug("lease may be lost; delivery given back unsent", "delivery_id", j.Delivery.ID)
		default:
			res, ok = e.attempt(ctx, sendCtx, j, herald.TriggerScheduled)
			// Recorded only while this node still holds the lease.
			res.Owner = e.o.Owner
		}
		e.live.inFlight.Add(-1)
		e.live.finished.Add(1)
		m := doneMsg{job: j, manual: t.manual != nil, released: !ok, held: e.clock.Now().Sub(start)}
		e.o.Metrics.InFlight(-1)
		if ok {
			a := res.Attempt
			m.kind, m.latency = a.ErrorKind, time.Duration(a.LatencyMS*float64(time.Millisecond))
			if a.Response != nil {
				m.status = a.Response.StatusCode
			}
		}
		if t.manual != nil {
			// Its caller records it.
			t.manual.done <- manualResult{res: res, ok: ok}
		} else if ok {
			e.o.Metrics.Attempt(outcome(res.Status), m.latency)
			e.recordCh <- recordItem{res: res, job: j}
		}
		e.doneCh <- m
	}
}

// manualAttempt makes a manual send's attempt, cut short when its caller
// goes away or the shutdown deadline passes.
func (e *Engine) manualAttempt(sendCtx context.Context, r *manualReq) (store.AttemptResult, bool) {
	ctx, cancel := context.WithCancel(sendCtx)
	defer cancel()
	stop := context.AfterFunc(r.ctx, cancel)
	defer stop()
	return e.attempt(ctx, ctx, r.job, r.trigger)
}

// attempt sends one delivery through the outbound layer and decides what
// follows. ok is false when the attempt was aborted (shutdown, or the
// caller of a manual send went away) and must not count. ctx serves the
// engine's own lookups, sendCtx the send.
func (e *Engine) attempt(ctx, sendCtx context.Context, j *store.Job, trigger string) (store.AttemptResult, bool) {
	now := e.clock.Now()
	n := j.Delivery.AttemptCount + 1
	app := e.app(ctx, j.Event.AppID)
	o := e.out.Send(sendCtx, &outbound.Delivery{ID: j.Delivery.ID, Event: j.Event, Endpoint: j.Endpoint, App: app})
	if o.Aborted {
		return store.AttemptResult{}, false
	}
	end := e.clock.Now()
	a := &herald.Attempt{
		ID:         herald.NewID(herald.PrefixAttempt),
		DeliveryID: j.Delivery.ID,
		Number:     n,
		CreatedAt:  now,
		Trigger:    trigger,
		Request:    o.Request,
		Response:   o.Response,
		LatencyMS:  float64(o.Latency.Microseconds()) / 1000,
		ErrorKind:  o.Kind,
		Error:      o.Error,
	}
	v := e.policy(j.Endpoint, app).Decide(n, o.Kind, o.Status, o.RetryAfter, end)
	r := store.AttemptResult{Attempt: a, Status: v.Status, Now: end, EventPayload: j.Event.Payload}
	if v.Status == herald.StatusPending {
		t := v.NextAttemptAt
		r.NextAttemptAt = &t
	}
	e.attempts.attempt(j.Delivery, r, end)
	return r, true
}

// outcome names an attempt's result for metrics.
func outcome(s herald.DeliveryStatus) string {
	if s == herald.StatusPending {
		return "retry"
	}
	return string(s)
}
