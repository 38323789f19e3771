package delivery

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Herald's own event types, sent to an app's operational webhook.
const (
	EventEndpointDisabled  = herald.OperationalPrefix + "endpoint.disabled"
	EventEndpointRecovered = herald.OperationalPrefix + "endpoint.recovered"
)

// afterRecord acts on recorded outcomes: a 410 disables its endpoint at
// once; endpoints whose deliveries keep failing for the configured window
// are disabled; an endpoint re-enabled after being disabled that succeeds
// again is announced as recovered.
func (e *Engine) afterRecord(ctx context.Context, items []recordItem) {
	e.signalRecorded()
	var health []store.HealthResult
	for _, it := range items {
		ep, d := it.job.Endpoint, it.job.Delivery
		if ep.Operational || d.Test {
			continue
		}
		a := it.res.Attempt
		if a.Response != nil && a.Response.StatusCode == http.StatusGone {
			e.disable(ctx, ep, "receiver answered 410 Gone")
		}
		switch it.res.Status {
		case herald.StatusSucceeded:
			health = append(health, store.HealthResult{AppID: ep.AppID, EndpointID: ep.ID, Succeeded: true})
			if ep.DisabledReason != "" && ep.Enabled {
				e.recovered(ctx, ep)
			}
		case herald.StatusFailed:
			health = append(health, store.HealthResult{AppID: ep.AppID, EndpointID: ep.ID})
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
	e.emit(ctx, ep, EventEndpointDisabled, map[string]any{
		"endpoint_id": ep.ID, "app_id": ep.AppID, "url": ep.URL,
		"reason": ep.DisabledReason, "disabled_at": ep.DisabledAt,
	})
}

// recovered clears the disabled record of an endpoint that succeeds again
// after being re-enabled, and announces it.
func (e *Engine) recovered(ctx context.Context, ep *herald.Endpoint) {
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
	e.emit(ctx, cur, EventEndpointRecovered, map[string]any{
		"endpoint_id": cur.ID, "app_id": cur.AppID, "url": cur.URL,
		"was_disabled_reason": reason, "was_disabled_at": at, "recovered_at": cur.UpdatedAt,
	})
}

// emit sends one of Herald's own events through the normal path: stored,
// signed, retried, and delivered to the app's operational endpoint only.
func (e *Engine) emit(ctx context.Context, ep *herald.Endpoint, eventType string, payload map[string]any) {
	b, err := json.Marshal(payload)
	if err != nil {
		return
	}
	// Enqueue returns at once when the engine is stopping; the event is
	// then lost, which the log says.
	ev := &herald.Event{AppID: ep.AppID, EventType: eventType, Payload: b}
	if _, err := e.Enqueue(ctx, ev); err != nil {
		e.log.Error("emit operational event", errAttr(err), "event_type", eventType, "endpoint_id", ep.ID)
	}
}
