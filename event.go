package herald

import "time"

// Event is something that happened in the product, handed to Herald for one
// app. Herald fans it out to a Delivery per subscribed endpoint.
type Event struct {
	ID        string  `json:"id"`
	AppID     string  `json:"app_id"`
	EventType string  `json:"event_type"`
	Payload   RawJSON `json:"payload"`
	// IdempotencyKey, when given, makes a repeated POST within 24 hours
	// return this event instead of creating another.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Routing says which endpoints the event went to and which it did
	// not, and why; set when the event is stored.
	Routing   *Routing  `json:"routing,omitempty"`
	CreatedAt time.Time `json:"created_at"`
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
	// Reason: "filter" (the condition was false), "filter_error: ..."
	// (the condition could not be evaluated), or "sampled_out" (left out
	// by the endpoint's sample_rate).
	Reason string `json:"reason"`
}
