package api

import (
	"encoding/json"
	"strings"
)

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
	// CampaignID links the action to KARTE's campaign on KARTE's side
	// (KARTE's page says to leave it as it is). Herald does not use it,
	// so it is kept in the endpoint's metadata as karte.campaignId,
	// shown with the endpoint, so that a definition pastes whole.
	CampaignID *string `json:"campaignId"`
}

// endpointInput is the endpoint equivalent to the KARTE definition: hash
// tags, hookData as the body.
func (k *karteInput) endpointInput() endpointInput {
	hash := "hash"
	in := endpointInput{URL: k.URL, Method: k.Method, Description: k.Description, EventTypes: k.EventTypes,
		Enabled: k.Enabled, Filter: k.Filter, SampleRate: k.SampleRate, TemplateSyntax: &hash, names: karteNames}
	if len(k.Headers) > 0 {
		in.Headers = &k.Headers
	}
	if len(k.HookData) > 0 {
		in.BodyTemplate = optionalJSON{set: true, raw: k.HookData}
	}
	if k.CampaignID != nil {
		in.Metadata = &map[string]string{karteCampaignKey: *k.CampaignID}
	}
	return in
}

// karteNames are the endpoint fields a KARTE definition fills under names
// of its own.
var karteNames = map[string]string{"body_template": "hookData", "metadata": "campaignId"}

// karteCampaignKey is the metadata key a KARTE definition's campaignId is
// kept under.
const karteCampaignKey = "karte.campaignId"

// renamed gives a refusal the field names of the format the input came in:
// a KARTE user who pasted hookData is told about hookData.
func (in *endpointInput) renamed(e *Error) *Error {
	if e == nil {
		return nil
	}
	if name, ok := in.names[e.Field]; ok {
		if rest, found := strings.CutPrefix(e.Message, e.Field); found {
			e.Message = name + rest
		}
		e.Field = name
	}
	return e
}
