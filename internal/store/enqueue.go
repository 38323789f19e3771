package store

import (
	"fmt"

	"github.com/heraldhq/herald"
)

// RouteSubscribed is the route of an EnqueueParams without one: every
// endpoint subscribed to the event's type and listening to its channels,
// none leased.
func RouteSubscribed(ev *herald.Event, eps []*herald.Endpoint) []Target {
	var ts []Target
	for _, ep := range eps {
		if ep.Subscribes(ev.EventType, "") && ep.ListensTo(ev.Channels) {
			ts = append(ts, Target{Endpoint: ep})
		}
	}
	return ts
}

// RouteFunc returns p.Route, or RouteSubscribed when it is nil.
func (p EnqueueParams) RouteFunc() func(ev *herald.Event, endpoints []*herald.Endpoint) []Target {
	if p.Route == nil {
		return RouteSubscribed
	}
	return p.Route
}

// RouteEvent routes ev among eps with route and takes the event's
// deliveries from q, the transaction's quotas. Route may record its
// routing on ev, which is stored with the event: it runs before the event
// is written, and the routing comes back as its column value. An event
// that does not fit in its app's quota is refused (nothing of it is to be
// stored); err is a failure that ends the transaction.
func RouteEvent(route func(*herald.Event, []*herald.Endpoint) []Target, q *Quotas, ev *herald.Event, eps []*herald.Endpoint) (
	targets []Target, routing *string, refused *QuotaError, err error) {
	targets = route(ev, eps)
	if refused, err = q.TakeEvent(ev, len(targets)); err != nil || refused != nil {
		return nil, nil, refused, err
	}
	if routing, err = RoutingJSON(ev.Routing); err != nil {
		return nil, nil, nil, fmt.Errorf("routing: %w", err)
	}
	return targets, routing, nil, nil
}

// DeliveryIDFunc returns p.NewDeliveryID, or herald.NewID of deliveries
// when it is nil.
func (p EnqueueParams) DeliveryIDFunc() func() string {
	if p.NewDeliveryID == nil {
		return func() string { return herald.NewID(herald.PrefixDelivery) }
	}
	return p.NewDeliveryID
}

// NewJob returns the job of the delivery EventsEnqueue creates for ev (as
// stored) and t, with an id from newID: pending, due at once, created with
// the event.
// It fails when the route returned a target that cannot be stored: one
// without endpoint, or one asking for a lease with no LeaseOwner to hold
// it. The driver writes the lease (LeaseOwner until LeaseUntil) when the
// job is Leased.
func (p EnqueueParams) NewJob(ev *herald.Event, t Target, newID func() string) (*Job, error) {
	if t.Endpoint == nil {
		return nil, fmt.Errorf("event %q: route returned a target without endpoint", ev.ID)
	}
	next := ev.CreatedAt
	d := &herald.Delivery{
		ID:            newID(),
		AppID:         ev.AppID,
		EventID:       ev.ID,
		EndpointID:    t.Endpoint.ID,
		EventType:     ev.EventType,
		Status:        herald.StatusPending,
		NextAttemptAt: &next,
		CreatedAt:     ev.CreatedAt,
		UpdatedAt:     ev.CreatedAt,
	}
	if t.Lease && p.LeaseOwner == "" {
		return nil, fmt.Errorf("event %q: route asked for a lease but LeaseOwner is empty", ev.ID)
	}
	j := &Job{Delivery: d, Event: ev, Endpoint: t.Endpoint, Leased: t.Lease}
	if t.Lease {
		j.LeaseUntil = p.LeaseUntil
	}
	return j, nil
}

// Keeps reports whether j belongs in a result's Jobs.
func (p EnqueueParams) Keeps(j *Job) bool { return j.Leased || !p.LeasedOnly }
