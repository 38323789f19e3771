package delivery

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
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
		if t.batch != nil {
			e.batchTask(ctx, sendCtx, t.batch, start)
			continue
		}
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
			e.o.Metrics.Attempt(j.Event.AppID, j.Endpoint.ID, outcome(res.Status), m.latency)
			e.recordCh <- recordItem{res: res, job: j}
		}
		e.doneCh <- m
	}
}

// batchTask sends a batching endpoint's deliveries in one request and
// records an attempt for each; the whole batch is given back unsent when
// the lease of any of them may be lost.
func (e *Engine) batchTask(ctx, sendCtx context.Context, jobs []*store.Job, start time.Time) {
	m := doneMsg{job: jobs[0], batch: jobs}
	var results []store.AttemptResult
	ok := true
	for _, j := range jobs {
		if !e.mayStillSend(j) {
			e.o.Metrics.Fenced(1)
			e.log.Debug("lease may be lost; batch given back unsent", "delivery_id", j.Delivery.ID)
			ok = false
			break
		}
	}
	if ok {
		results, ok = e.attemptBatch(ctx, sendCtx, jobs)
	}
	m.released, m.held = !ok, e.clock.Now().Sub(start)
	e.live.inFlight.Add(-1)
	e.live.finished.Add(1)
	e.o.Metrics.InFlight(-1)
	if ok {
		// The endpoint's window adapts to the request, not to a
		// delivery left out of it (cancelled, or failed alone).
		a := results[0].Attempt
		for _, r := range results {
			if r.Attempt.BatchID != "" {
				a = r.Attempt
				break
			}
		}
		m.kind, m.latency = a.ErrorKind, time.Duration(a.LatencyMS*float64(time.Millisecond))
		if a.Response != nil {
			m.status = a.Response.StatusCode
		}
		items := make([]recordItem, len(results))
		for i, res := range results {
			res.Owner = e.o.Owner
			e.o.Metrics.Attempt(jobs[i].Event.AppID, jobs[i].Endpoint.ID, outcome(res.Status), m.latency)
			items[i] = recordItem{res: res, job: jobs[i]}
		}
		first := items[0]
		first.rest = items[1:]
		e.recordCh <- first
	}
	e.doneCh <- m
}

// attemptBatch sends deliveries of one batching endpoint in one request
// and decides, for each under its own retry schedule, what follows from
// the receiver's one answer. ok is false when the send was aborted.
func (e *Engine) attemptBatch(ctx, sendCtx context.Context, jobs []*store.Job) ([]store.AttemptResult, bool) {
	now := e.clock.Now()
	ep := jobs[0].Endpoint
	app := e.app(ctx, jobs[0].Event.AppID)
	ds := make([]*outbound.Delivery, len(jobs))
	for i, j := range jobs {
		ds[i] = &outbound.Delivery{ID: j.Delivery.ID, Event: j.Event, Endpoint: j.Endpoint, App: app}
	}
	sendCtx, span := e.startAttemptSpan(sendCtx, jobs[0], jobs[0].Delivery.AttemptCount+1)
	defer span.End()
	o := outbound.BatchOutcome{Outcome: outbound.Outcome{Kind: herald.ErrorKindPolicy, Error: "this destination sends no batches"}}
	if bo, ok := e.out.(BatchOutbound); ok {
		o = bo.SendBatch(sendCtx, ds)
	}
	if o.Aborted {
		span.SetStatus(codes.Error, "aborted")
		return nil, false
	}
	endAttemptSpan(span, jobs[0], o.Outcome)
	end := e.clock.Now()
	policy := e.policy(ep, app)
	results := make([]store.AttemptResult, len(jobs))
	for i, j := range jobs {
		n := j.Delivery.AttemptCount + 1
		mine, batchID := o.Outcome, o.BatchID
		if own, ok := o.Own[i]; ok {
			// Left out of the batch: it failed alone, before sending.
			mine, batchID = own, ""
		} else {
			if each, ok := o.Each[i]; ok {
				// The receiver answered for it alone (a lead's result).
				mine = each
			}
			if o.Requests != nil {
				mine.Request = o.Requests[i]
			}
		}
		results[i] = e.recordAttempt(j, policy, n, herald.TriggerScheduled, batchID, mine, now, end)
	}
	return results, true
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
	sendCtx, span := e.startAttemptSpan(sendCtx, j, n)
	defer span.End()
	o := e.out.Send(sendCtx, &outbound.Delivery{ID: j.Delivery.ID, Event: j.Event, Endpoint: j.Endpoint, App: app})
	if o.Aborted {
		span.SetStatus(codes.Error, "aborted")
		return store.AttemptResult{}, false
	}
	endAttemptSpan(span, j, o)
	end := e.clock.Now()
	return e.recordAttempt(j, e.policy(j.Endpoint, app), n, trigger, "", o, now, end), true
}

// recordAttempt makes attempt n of j, begun at now and answered at end,
// from its outcome o (batchID: the batch it went in, if any), decides by
// policy what follows, and hands it to the attempt log. A delivery the
// endpoint's transformation cancelled ends cancelled.
func (e *Engine) recordAttempt(j *store.Job, policy *RetryPolicy, n int, trigger, batchID string, o outbound.Outcome, now, end time.Time) store.AttemptResult {
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
		BatchID:    batchID,
	}
	v := policy.Decide(n, o.Kind, o.Status, o.RetryAfter, end)
	if o.Cancelled {
		v = Verdict{Status: herald.StatusCancelled}
	}
	r := store.AttemptResult{Attempt: a, Status: v.Status, Now: end, EventPayload: j.Event.Payload}
	if v.Status == herald.StatusPending {
		t := v.NextAttemptAt
		r.NextAttemptAt = &t
	}
	e.attempts.attempt(j.Delivery, r, end)
	return r
}

// outcome names an attempt's result for metrics.
func outcome(s herald.DeliveryStatus) string {
	if s == herald.StatusPending {
		return "retry"
	}
	return string(s)
}

// startAttemptSpan starts the span of one attempt, linked to the ingest
// span of its event when this node remembers it (see tracing.Links).
func (e *Engine) startAttemptSpan(ctx context.Context, j *store.Job, n int) (context.Context, trace.Span) {
	if e.links == nil {
		// Traces are off: no span, and nothing built for one on the
		// path every attempt takes.
		return ctx, trace.SpanFromContext(ctx)
	}
	// A new trace per attempt, whatever the caller's context holds: the
	// link, not parenthood, ties it to its event.
	opts := []trace.SpanStartOption{trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		tracing.AttrAppID.String(j.Event.AppID),
		tracing.AttrEndpointID.String(j.Endpoint.ID),
		tracing.AttrDeliveryID.String(j.Delivery.ID),
		tracing.AttrAttempt.Int(n),
	)}
	if sc, ok := e.links.Get(j.Event.ID); ok {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	return e.tracer.Start(ctx, tracing.SpanAttempt, opts...)
}

// endAttemptSpan records what came of an attempt on its span.
func endAttemptSpan(span trace.Span, j *store.Job, o outbound.Outcome) {
	if !span.IsRecording() {
		return
	}
	u := o.Request.URL
	if u == "" {
		u = j.Endpoint.URL
	}
	span.SetAttributes(tracing.AttrURLFull.String(tracing.SafeURL(u)))
	if o.Response != nil {
		span.SetAttributes(tracing.AttrStatusCode.Int(o.Response.StatusCode))
	}
	if o.Kind != herald.ErrorKindNone {
		span.SetAttributes(tracing.AttrErrorKind.String(string(o.Kind)))
		span.SetStatus(codes.Error, o.Error)
	}
}
