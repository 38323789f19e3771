package delivery

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Herald's own event types, sent to an app's operational webhook.
const (
	EventEndpointDisabled  = herald.OperationalPrefix + "endpoint.disabled"
	EventEndpointRecovered = herald.OperationalPrefix + "endpoint.recovered"
	EventEndpointFailing   = herald.OperationalPrefix + "endpoint.failing"
	EventDeliveryExhausted = herald.OperationalPrefix + "delivery.exhausted"
	EventEndpointCreated   = herald.OperationalPrefix + "endpoint.created"
	EventEndpointUpdated   = herald.OperationalPrefix + "endpoint.updated"
	EventEndpointDeleted   = herald.OperationalPrefix + "endpoint.deleted"
)

// OperationalEventTypes lists Herald's own event types, which an app's
// operational_event_types picks from.
var OperationalEventTypes = []string{EventEndpointDisabled, EventEndpointRecovered, EventEndpointFailing,
	EventDeliveryExhausted, EventEndpointCreated, EventEndpointUpdated, EventEndpointDeleted}

// failingEvery is the least time between two herald.endpoint.failing of
// one endpoint, so that a flapping endpoint cannot flood the operator.
const failingEvery = 15 * time.Minute

// exhaustedBodyBytes is how much of the last response a
// herald.delivery.exhausted carries.
const exhaustedBodyBytes = 512

// afterRecord acts on recorded outcomes: a 410 disables its endpoint at
// once; endpoints whose deliveries keep failing for the configured window
// are disabled; an endpoint that starts failing, or succeeds again after
// failing or after being disabled and enabled again, is announced, as is
// a delivery that used up its retries.
func (e *Engine) afterRecord(ctx context.Context, items []recordItem) {
	e.signalRecorded()
	var health []store.HealthResult
	var exhausted []opEvent
	defer func() { e.emitAll(ctx, exhausted) }()
	for _, it := range items {
		ep, d := it.job.Endpoint, it.job.Delivery
		if ep.Operational || d.Test {
			continue
		}
		a := it.res.Attempt
		if a.Response != nil && a.Response.StatusCode == http.StatusGone {
			e.disable(ctx, ep, "receiver answered 410 Gone")
		}
		if a.ErrorKind != herald.ErrorKindNone {
			if since, ok := e.failing.fail(ep.ID, a.CreatedAt); ok {
				e.announceFailing(ctx, ep, a, since)
			}
		}
		switch it.res.Status {
		case herald.StatusSucceeded:
			health = append(health, store.HealthResult{AppID: ep.AppID, EndpointID: ep.ID, Succeeded: true})
			since, wasFailing := e.failing.ok(ep.ID)
			switch {
			case ep.DisabledReason != "" && ep.Enabled:
				e.recovered(ctx, ep, since)
			case wasFailing:
				e.log.Info("endpoint recovered", "app_id", ep.AppID, "endpoint_id", ep.ID, "failing_since", since.UTC())
				e.announce(ctx, ep.AppID, EventEndpointRecovered, map[string]any{
					"endpoint_id": ep.ID, "app_id": ep.AppID, "url": ep.URL,
					"was_failing_since": since, "recovered_at": a.CreatedAt.UTC(),
				})
			}
		case herald.StatusFailed:
			health = append(health, store.HealthResult{AppID: ep.AppID, EndpointID: ep.ID})
			if ev, ok := e.exhausted(ctx, it.job, a); ok {
				exhausted = append(exhausted, ev)
			}
		}
	}
	if len(health) == 0 || e.o.AutoDisableAfter <= 0 {
		return
	}
	now := e.clock.Now()
	if health = e.health.skip(health, now); len(health) == 0 {
		return
	}
	disabled, err := e.st.EndpointsTrackHealth(ctx, store.HealthParams{
		Results: health, Window: e.o.AutoDisableAfter, MinFailures: e.o.AutoDisableMinFailures, Now: now,
	})
	if err != nil {
		e.log.Error("track endpoint health", errAttr(err))
		return
	}
	e.health.tracked(health, now)
	for _, ep := range disabled {
		e.announceDisabled(ctx, ep)
	}
}

// cleanFor is how long an endpoint whose health record was left clean
// (its last result a success) is taken to still be clean: its successes
// meanwhile are not written. Another node's failures in that time keep
// their record up to this long after a success here, a second of a
// window counted in hours; this node's own failures are always written.
const cleanFor = time.Second

// cleanHealth remembers the endpoints whose health record this node left
// clean, and until when that is trusted: at steady rates every record
// batch was followed by a health transaction that changed nothing, about
// a tenth of a delivery's cost.
type cleanHealth struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// skip returns results without the successes of endpoints known clean.
func (c *cleanHealth) skip(results []store.HealthResult, now time.Time) []store.HealthResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := results[:0]
	for _, r := range results {
		if !r.Succeeded {
			delete(c.until, r.EndpointID)
		} else if now.Before(c.until[r.EndpointID]) {
			continue
		}
		kept = append(kept, r)
	}
	return kept
}

// tracked notes the endpoints whose record the batch just written left
// clean: those whose last result in it was a success.
func (c *cleanHealth) tracked(results []store.HealthResult, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.until == nil || len(c.until) > 100_000 {
		c.until = map[string]time.Time{}
	}
	for _, t := range store.FoldHealth(results) {
		if t.Reset && t.Failures == 0 {
			c.until[t.EndpointID] = now.Add(cleanFor)
		} else {
			delete(c.until, t.EndpointID)
		}
	}
}

func (e *Engine) disable(ctx context.Context, ep *herald.Endpoint, reason string) {
	got, err := e.st.EndpointDisable(ctx, ep.AppID, ep.ID, reason, e.clock.Now())
	if err != nil || got == nil {
		return
	}
	e.announceDisabled(ctx, got)
}

func (e *Engine) announceDisabled(ctx context.Context, ep *herald.Endpoint) {
	e.log.Warn("endpoint disabled", "endpoint_id", ep.ID, "reason", ep.DisabledReason)
	e.EndpointChanged(ep)
	e.emit(ctx, ep.AppID, EventEndpointDisabled, map[string]any{
		"endpoint_id": ep.ID, "app_id": ep.AppID, "url": ep.URL,
		"reason": ep.DisabledReason, "disabled_at": ep.DisabledAt,
	})
}

// announceFailing tells the operator that an endpoint began failing.
func (e *Engine) announceFailing(ctx context.Context, ep *herald.Endpoint, a *herald.Attempt, since time.Time) {
	e.log.Info("endpoint failing", "app_id", ep.AppID, "endpoint_id", ep.ID, "error_kind", string(a.ErrorKind), "error", a.Error)
	p := map[string]any{"endpoint_id": ep.ID, "app_id": ep.AppID, "url": ep.URL, "failing_since": since.UTC(),
		"error_kind": a.ErrorKind, "error": a.Error, "status_code": nil}
	if a.Response != nil {
		p["status_code"] = a.Response.StatusCode
	}
	e.announce(ctx, ep.AppID, EventEndpointFailing, p)
}

// opEvent is one of Herald's own events to send.
type opEvent struct {
	appID, eventType string
	payload          map[string]any
}

// exhausted is the herald.delivery.exhausted of a delivery that failed
// for good (its retries ran out, or its failure was final), with what the
// receiver last answered; false when its app does not take it.
func (e *Engine) exhausted(ctx context.Context, j *store.Job, a *herald.Attempt) (opEvent, bool) {
	d, ep := j.Delivery, j.Endpoint
	if !e.takes(ctx, d.AppID, EventDeliveryExhausted) {
		return opEvent{}, false
	}
	p := map[string]any{"delivery_id": d.ID, "event_id": d.EventID, "event_type": d.EventType,
		"endpoint_id": ep.ID, "app_id": d.AppID, "url": ep.URL, "attempts": a.Number,
		"last_status_code": nil, "last_error_kind": a.ErrorKind, "last_error": a.Error, "last_response_body": ""}
	if a.Response != nil {
		p["last_status_code"] = a.Response.StatusCode
		body := a.Response.Body
		if len(body) > exhaustedBodyBytes {
			body = strings.ToValidUTF8(body[:exhaustedBodyBytes], "")
		}
		p["last_response_body"] = body
	}
	return opEvent{appID: d.AppID, eventType: EventDeliveryExhausted, payload: p}, true
}

// emitAll sends events at once rather than one after the other, so that
// a batch of deliveries exhausted together (a dead endpoint's) costs the
// recorder one group commit, not one each.
func (e *Engine) emitAll(ctx context.Context, evs []opEvent) {
	if len(evs) == 0 {
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, ev := range evs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			e.emit(ctx, ev.appID, ev.eventType, ev.payload)
		}()
	}
	wg.Wait()
}

// Announce sends one of Herald's own events about an app (an endpoint
// created, changed or deleted) to its operational webhook, when it has
// one that takes that type; otherwise nothing is stored.
func (e *Engine) Announce(ctx context.Context, appID, eventType string, payload map[string]any) {
	e.announce(ctx, appID, eventType, payload)
}

// announce is emit for the events an app picks: without an operational
// webhook taking the type, none is stored (a dead endpoint's exhausted
// deliveries would otherwise fill the history with events no one gets).
func (e *Engine) announce(ctx context.Context, appID, eventType string, payload map[string]any) {
	if e.takes(ctx, appID, eventType) {
		e.emit(ctx, appID, eventType, payload)
	}
}

// takes reports whether the app's operational webhook takes the type.
func (e *Engine) takes(ctx context.Context, appID, eventType string) bool {
	app := e.app(ctx, appID)
	return app.OperationalWebhookURL != "" &&
		(len(app.OperationalEventTypes) == 0 || slices.Contains(app.OperationalEventTypes, eventType))
}

// recovered clears the disabled record of an endpoint that succeeds again
// after being re-enabled, and announces it (with since when it had been
// failing, when this node saw it fail).
func (e *Engine) recovered(ctx context.Context, ep *herald.Endpoint, failingSince time.Time) {
	cur, err := e.st.EndpointGet(ctx, ep.AppID, ep.ID)
	if err != nil || cur.DisabledReason == "" {
		return
	}
	reason, at := cur.DisabledReason, cur.DisabledAt
	cur.DisabledReason, cur.DisabledAt = "", nil
	cur.UpdatedAt = e.clock.Now()
	if err := e.st.EndpointUpdate(ctx, cur); err != nil {
		e.log.Error("clear disabled reason", errAttr(err), "endpoint_id", ep.ID)
		return
	}
	e.EndpointChanged(cur)
	e.log.Info("endpoint recovered", "app_id", cur.AppID, "endpoint_id", cur.ID, "was_disabled_reason", reason)
	p := map[string]any{
		"endpoint_id": cur.ID, "app_id": cur.AppID, "url": cur.URL,
		"was_disabled_reason": reason, "was_disabled_at": at, "recovered_at": cur.UpdatedAt,
	}
	if !failingSince.IsZero() {
		p["was_failing_since"] = failingSince.UTC()
	}
	e.emit(ctx, cur.AppID, EventEndpointRecovered, p)
}

// emit sends one of Herald's own events through the normal path: stored,
// signed, retried, and delivered to the app's operational endpoint only.
func (e *Engine) emit(ctx context.Context, appID, eventType string, payload map[string]any) {
	b, err := json.Marshal(payload)
	if err != nil {
		return
	}
	// Enqueue returns at once when the engine is stopping; the event is
	// then lost, which the log says.
	ev := &herald.Event{AppID: appID, EventType: eventType, Payload: b}
	if _, err := e.Enqueue(ctx, ev); err != nil {
		e.log.Error("emit operational event", errAttr(err), "event_type", eventType, "endpoint_id", payload["endpoint_id"])
	}
}

// failingTracker remembers, per endpoint, whether its latest attempt on
// this node failed and since when, to announce the turn from succeeding
// to failing (at most once per failingEvery) and back.
type failingTracker struct {
	mu  sync.Mutex
	eps map[string]*failingState
}

type failingState struct {
	since     time.Time // of the first failure of the current run
	announced time.Time // the latest herald.endpoint.failing
	failing   bool
	told      bool // this run was announced
}

// fail records a failed attempt at `at`; it says whether the endpoint
// just began failing and that is to be announced, and since when.
func (f *failingTracker) fail(id string, at time.Time) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.eps == nil || len(f.eps) >= 100_000 {
		f.prune()
	}
	st := f.eps[id]
	if st == nil {
		st = &failingState{}
		f.eps[id] = st
	}
	if st.failing {
		return st.since, false
	}
	st.failing, st.since, st.told = true, at, false
	if !st.announced.IsZero() && at.Sub(st.announced) < failingEvery {
		return st.since, false
	}
	st.announced, st.told = at, true
	return st.since, true
}

// ok records a success: it returns since when the endpoint had been
// failing, and whether that run was announced (then so is its end).
func (f *failingTracker) ok(id string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.eps[id]
	if st == nil || !st.failing {
		return time.Time{}, false
	}
	st.failing = false
	return st.since, st.told
}

// prune forgets the endpoints not failing, to bound the map.
func (f *failingTracker) prune() {
	if f.eps == nil {
		f.eps = map[string]*failingState{}
		return
	}
	for id, st := range f.eps {
		if !st.failing {
			delete(f.eps, id)
		}
	}
	if len(f.eps) >= 100_000 {
		f.eps = map[string]*failingState{}
	}
}
