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
	// Reason: "filter" (the condition was false), "filter_error: ..."
	// (the condition could not be evaluated), or "sampled_out" (left out
	// by the endpoint's sample_rate).
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

// APIKey is a credential for the API besides the admin token. The key
// itself is shown once, when created; the store keeps only its hash.
type APIKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Scope is "admin" (everything) or "app" (one app's resources).
	Scope string `json:"scope"`
	AppID string `json:"app_id,omitempty"`
	// ReadOnly keys can read but not change.
	ReadOnly  bool       `json:"read_only"`
	ExpiresAt *time.Time `json:"expires_at"`
	// Prefix is the key's first characters, so a person can tell keys
	// apart without the key.
	Prefix    string    `json:"prefix"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// AuditEntry records one change of configuration: who, when, what.
type AuditEntry struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
	// KeyID is the API key that made the change ("admin" for the admin
	// token, "herald" for Herald's own changes).
	KeyID string `json:"key_id"`
	// AppID is the app concerned; empty for installation-wide changes.
	AppID  string `json:"app_id,omitempty"`
	Action string `json:"action"`
	Target string `json:"target"`
	// Changes holds the fields set (secrets masked), as JSON.
	Changes RawJSON `json:"changes"`
}
