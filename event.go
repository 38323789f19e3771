package herald

import (
	"encoding/json"
	"time"
)

// RawJSON is a JSON document kept as bytes; empty means absent and encodes
// as null.
type RawJSON []byte

// MarshalJSON writes the document as is, or null when empty.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON keeps a copy of the document; null becomes empty.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = nil
		return nil
	}
	*r = append((*r)[:0], b...)
	return nil
}

var _ json.Marshaler = RawJSON(nil)

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
	// Reason: "filter" (the condition was false), or "filter_error: ..."
	// (the condition could not be evaluated).
	Reason string `json:"reason"`
}

// BulkJob is a background operation on many deliveries (a recovery), whose
// progress a client reads while it runs.
type BulkJob struct {
	ID    string `json:"id"`
	AppID string `json:"app_id"`
	Kind  string `json:"kind"`
	// State is running, succeeded or failed.
	State     string    `json:"state"`
	Total     int       `json:"total"`
	Done      int       `json:"done"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Bulk job states.
const (
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)
