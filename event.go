package herald

import (
	"encoding/json"
	"time"
)

// Event is something that happened in the product, handed to Herald for one
// app. Herald fans it out to a Delivery per subscribed endpoint.
type Event struct {
	ID        string  `json:"id"`
	AppID     string  `json:"app_id"`
	EventType string  `json:"event_type"`
	Payload   RawJSON `json:"payload"`
	// Version is the version of the event type the payload is in; ""
	// for the type's implicit first version.
	Version string `json:"version,omitempty"`
	// IdempotencyKey, when given, makes a repeated POST within 24 hours
	// return this event instead of creating another.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// OrderingKey, when given, orders the event's deliveries: those of
	// one key to one endpoint are sent one at a time, in acceptance
	// order. At most MaxOrderingKey bytes.
	OrderingKey string `json:"ordering_key,omitempty"`
	// Routing says which endpoints the event went to and which it did
	// not, and why; set when the event is stored.
	Routing *Routing `json:"routing,omitempty"`
	// Channels route the event: an endpoint with channels receives it
	// only if it carries one of them (Endpoint.ListensTo). Tags are
	// labels to find it by. Both are at most a few short names.
	Channels Names `json:"channels"`
	Tags     Names `json:"tags"`
	// PayloadExpiresAt, when set, is when the payload is to be removed
	// (asked for with the event; bounded by the installation's
	// retention). Once removed, Payload is nil and PayloadExpired true;
	// the event, its deliveries and their attempts stay.
	PayloadExpiresAt *time.Time `json:"-"`
	PayloadExpired   bool       `json:"payload_expired"`
	CreatedAt        time.Time  `json:"created_at"`
}

// MaxOrderingKey bounds an ordering key, given or rendered, in bytes.
const MaxOrderingKey = 256

// PayloadGone reports whether the event's payload was removed, or is due
// for removal at now (the retention job may not have run yet): it must
// not be sent any more.
func (e *Event) PayloadGone(now time.Time) bool {
	return e.PayloadExpired || e.PayloadExpiresAt != nil && !now.Before(*e.PayloadExpiresAt)
}

// Names is a list of short names (an event's channels or tags) that is
// shown as [] when empty, never null.
type Names []string

// MarshalJSON writes the names, [] when there are none.
func (n Names) MarshalJSON() ([]byte, error) {
	if n == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(n))
}

// Routing is what became of an event's subscribed endpoints.
type Routing struct {
	// Matched lists the endpoints that got a delivery.
	Matched []string `json:"matched"`
	// Skipped lists subscribed endpoints left out, with the reason.
	Skipped []Skip `json:"skipped"`
}

// Skip is one endpoint an event did not go to.
type Skip struct {
	EndpointID string `json:"endpoint_id"`
	// Reason: "channel" (the endpoint listens to channels the event
	// does not carry), "filter" (the condition was false),
	// "filter_error: ..." (the condition could not be evaluated),
	// "test_stage" (the endpoint is in stage test and the event does not
	// meet its test_filter), or "sampled_out" (left out by the
	// endpoint's sample_rate).
	Reason string `json:"reason"`
}
