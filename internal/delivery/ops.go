package delivery

import (
	"encoding/json"
	"net/http"

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
func (e *Engine) afterRecord(items []recordItem) {
	var health []store.HealthResult
	for _, it := range items {
		ep, d := it.job.Endpoint, it.job.Delivery
		if ep.Operational || d.Test {
			continue
		}
		a := it.res.Attempt
		if a.Response != nil && a.Response.StatusCode == http.StatusGone {
			e.disable(ep, "receiver answered 410 Gone")
		}
		switch it.res.Status {
		case herald.StatusSucceeded:
			health = append(health, store.HealthResult{AppID: ep.AppID, EndpointID: ep.ID, Succeeded: true})
			if ep.DisabledReason != "" && ep.Enabled {
				e.recovered(ep)
			}
		case herald.StatusFailed:
			health = append(health, store.HealthResult{AppID: ep.AppID, EndpointID: ep.ID})
		}
	}
	if len(health) == 0 || e.o.AutoDisableAfter <= 0 {
		return
	}
	disabled, err := e.st.EndpointsTrackHealth(e.bg, store.HealthParams{
		Results: health, Window: e.o.AutoDisableAfter, MinFailures: e.o.AutoDisableMinFailures, Now: e.o.Now(),
	})
	if err != nil {
		e.log.Error("track endpoint health", errAttr(err))
		return
	}
	for _, ep := range disabled {
		e.announceDisabled(ep)
	}
}

func (e *Engine) disable(ep *herald.Endpoint, reason string) {
	got, err := e.st.EndpointDisable(e.bg, ep.AppID, ep.ID, reason, e.o.Now())
	if err != nil || got == nil {
		return
	}
	e.announceDisabled(got)
}

func (e *Engine) announceDisabled(ep *herald.Endpoint) {
	e.log.Warn("endpoint disabled", "endpoint_id", ep.ID, "reason", ep.DisabledReason)
	e.EndpointChanged(ep)
	e.emit(ep, EventEndpointDisabled, map[string]any{
		"endpoint_id": ep.ID, "app_id": ep.AppID, "url": ep.URL,
		"reason": ep.DisabledReason, "disabled_at": ep.DisabledAt,
	})
}

// recovered clears the disabled record of an endpoint that succeeds again
// after being re-enabled, and announces it.
func (e *Engine) recovered(ep *herald.Endpoint) {
	cur, err := e.st.EndpointGet(e.bg, ep.AppID, ep.ID)
	if err != nil || cur.DisabledReason == "" {
		return
	}
	reason, at := cur.DisabledReason, cur.DisabledAt
	cur.DisabledReason, cur.DisabledAt = "", nil
	cur.UpdatedAt = e.o.Now()
	if err := e.st.EndpointUpdate(e.bg, cur); err != nil {
		e.log.Error("clear disabled reason", errAttr(err), "endpoint_id", ep.ID)
		return
	}
	e.EndpointChanged(cur)
	e.emit(cur, EventEndpointRecovered, map[string]any{
		"endpoint_id": cur.ID, "app_id": cur.AppID, "url": cur.URL,
		"was_disabled_reason": reason, "was_disabled_at": at, "recovered_at": cur.UpdatedAt,
	})
}

// emit sends one of Herald's own events through the normal path: stored,
// signed, retried, and delivered to the app's operational endpoint only.
func (e *Engine) emit(ep *herald.Endpoint, eventType string, payload map[string]any) {
	b, err := json.Marshal(payload)
	if err != nil {
		return
	}
	// Enqueue returns at once when the engine is stopping; the event is
	// then lost, which the log says.
	ev := &herald.Event{AppID: ep.AppID, EventType: eventType, Payload: b}
	if _, err := e.Enqueue(e.bg, ev); err != nil {
		e.log.Error("emit operational event", errAttr(err), "event_type", eventType, "endpoint_id", ep.ID)
	}
}
