package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/template"
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
		OrderingKey:   OrderingKey(ev, t.Endpoint),
		Status:        herald.StatusPending,
		NextAttemptAt: &next,
		CreatedAt:     ev.CreatedAt,
		UpdatedAt:     ev.CreatedAt,
	}
	if t.Lease && p.LeaseOwner == "" {
		return nil, fmt.Errorf("event %q: route asked for a lease but LeaseOwner is empty", ev.ID)
	}
	// An ordered delivery waits for the earlier ones of its key: only a
	// claim, which checks them, may lease it.
	lease := t.Lease && d.OrderingKey == ""
	j := &Job{Delivery: d, Event: ev, Endpoint: t.Endpoint, Leased: lease}
	if lease {
		j.LeaseUntil = p.LeaseUntil
	}
	return j, nil
}

// Keeps reports whether j belongs in a result's Jobs.
func (p EnqueueParams) Keeps(j *Job) bool { return j.Leased || !p.LeasedOnly }

// OrderingKey returns the ordering key of ev's delivery to ep: the
// event's own, else ep's ordering_key_template rendered on the event; ""
// when there is none (the delivery is not ordered). A rendered key longer
// than herald.MaxOrderingKey is replaced by its SHA-256, so that equal
// keys stay equal and the stored key stays bounded; a template that does
// not render (a value the payload lacks, bad syntax saved by hand) gives
// no key.
func OrderingKey(ev *herald.Event, ep *herald.Endpoint) string {
	if ev.OrderingKey != "" {
		return ev.OrderingKey
	}
	src := ep.OrderingKeyTemplate
	if src == "" {
		return ""
	}
	t, err := keyTemplates.parse(src)
	if err != nil {
		return ""
	}
	payload, _ := template.DecodePayload(ev.Payload)
	k, err := t.RenderLimit(&template.Data{
		Payload:    payload,
		RawPayload: ev.Payload,
		Event:      template.EventInfo{ID: ev.ID, Type: ev.EventType, Timestamp: ev.CreatedAt},
		App:        template.AppInfo{ID: ev.AppID},
		Endpoint:   template.EndpointInfo{ID: ep.ID},
	}, nil, maxRenderedKey)
	if err != nil {
		return ""
	}
	if len(k) > herald.MaxOrderingKey {
		sum := sha256.Sum256([]byte(k))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return k
}

// keyTemplates holds parsed ordering key templates: a template is parsed
// once, not per delivery (the engine's route and the store's NewJob both
// render it).
var keyTemplates = &templateCache{m: map[string]*template.Text{}}

// templateCache maps template sources to their parsed form, up to
// maxCachedTemplates of them (then it starts over: there are about as many
// as endpoints with a template).
type templateCache struct {
	mu sync.Mutex
	m  map[string]*template.Text
}

const maxCachedTemplates = 4096

func (c *templateCache) parse(src string) (*template.Text, error) {
	c.mu.Lock()
	t, ok := c.m[src]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	// Strict: a value the payload lacks is no key, rather than a key
	// made of the template's literal text alone, shared by every such event.
	t, err := template.ParseText(src, template.Options{Strict: true})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedTemplates {
		clear(c.m)
	}
	c.m[src] = t
	c.mu.Unlock()
	return t, nil
}

// maxRenderedKey bounds what rendering an ordering key template may build.
const maxRenderedKey = 64 << 10
