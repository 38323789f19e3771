package herald

import "time"

// Endpoint is a URL an app's customer subscribed to some event types.
type Endpoint struct {
	ID          string `json:"id"`
	AppID       string `json:"app_id"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// EventTypes lists the subscribed event type names; empty means every
	// event of the app.
	EventTypes []string `json:"event_types"`
	Enabled    bool     `json:"enabled"`
	// Secret is the whsec_ signing secret. It is never part of the
	// endpoint's JSON: the API serves it from a route of its own.
	Secret string `json:"-"`
	// TimeoutMS overrides the installation's request timeout when above 0.
	TimeoutMS int       `json:"timeout_ms"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Subscribes reports whether the endpoint receives events of the given type.
// Matching is exact and case-sensitive.
func (e *Endpoint) Subscribes(eventType string) bool {
	if len(e.EventTypes) == 0 {
		return true
	}
	for _, t := range e.EventTypes {
		if t == eventType {
			return true
		}
	}
	return false
}
