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
	TimeoutMS int `json:"timeout_ms"`
	// RequestShape says what the request looks like; its fields appear
	// inline in the endpoint's JSON.
	RequestShape
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RequestShape holds what a customer chose about the outgoing request.
// Empty fields take the preset's value, or Herald's default. The stores
// keep it as one JSON document, so that new settings need no migration.
type RequestShape struct {
	// Method is GET, POST, PUT, PATCH or DELETE; default POST.
	Method string `json:"method"`
	// ContentType is application/json (default),
	// application/x-www-form-urlencoded or text/plain.
	ContentType string `json:"content_type"`
	// Headers are added to the request; values may hold template tags.
	Headers map[string]string `json:"headers"`
	// BodyTemplate is a JSON document with template tags; empty means the
	// default body {"type", "timestamp", "data"}.
	BodyTemplate RawJSON `json:"body_template"`
	// TemplateStrict fails a delivery whose template names a missing
	// value, instead of rendering it empty.
	TemplateStrict bool `json:"template_strict"`
	// Preset fills method, content type, headers, body and sometimes URL
	// for a known destination (slack, chatwork, ...); "custom" or empty
	// for none.
	Preset string `json:"preset"`
	// PresetOptions are what the preset needs (a room id, a token, a
	// message template).
	PresetOptions map[string]string `json:"preset_options"`
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
