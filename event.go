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
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}
