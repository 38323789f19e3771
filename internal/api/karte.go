package api

import "encoding/json"

// karteInput is a KARTE webhook action as its users define it: url,
// method, headers and hookData, with #{...} variables. It is pasted into
// the endpoint API as is, with "format": "karte" added.
type karteInput struct {
	Format      string            `json:"format"`
	URL         *string           `json:"url"`
	Method      *string           `json:"method"`
	Headers     map[string]string `json:"headers"`
	HookData    json.RawMessage   `json:"hookData"`
	Description *string           `json:"description"`
	EventTypes  *[]string         `json:"event_types"`
	Enabled     *bool             `json:"enabled"`
	Filter      *string           `json:"filter"`
	SampleRate  optionalJSON      `json:"sample_rate"`
}

// endpointInput is the endpoint equivalent to the KARTE definition: hash
// tags, hookData as the body.
func (k *karteInput) endpointInput() endpointInput {
	hash := "hash"
	in := endpointInput{URL: k.URL, Method: k.Method, Description: k.Description, EventTypes: k.EventTypes,
		Enabled: k.Enabled, Filter: k.Filter, SampleRate: k.SampleRate, TemplateSyntax: &hash}
	if len(k.Headers) > 0 {
		in.Headers = &k.Headers
	}
	if len(k.HookData) > 0 {
		in.BodyTemplate = optionalJSON{set: true, raw: k.HookData}
	}
	return in
}
