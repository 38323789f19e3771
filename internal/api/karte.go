package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
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

// readKarteInput decodes a KARTE definition into the equivalent endpoint.
// KARTE's definition grows fields of its own over time, and its users
// paste it as they find it: a field Herald knows neither as KARTE's nor
// as an endpoint's is kept in the endpoint's metadata as karte.<field>
// (its string, or its JSON text), shown with the endpoint, rather than
// refused. Endpoint fields (stage, channels, metadata…) may sit beside
// the definition's and apply as they would to any endpoint.
func readKarteInput(w http.ResponseWriter, r *http.Request, limit int64) (endpointInput, *Error) {
	var fields map[string]json.RawMessage
	if e := decode(w, r, limit, &fields); e != nil {
		return endpointInput{}, e
	}
	kartes, own := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	kept := map[string]string{}
	for name, v := range fields {
		switch {
		case karteFields[name]:
			kartes[name] = v
		case endpointFields[name]:
			own[name] = v
		default:
			kept[karteMetadataPrefix+name] = karteKeptValue(v)
		}
	}
	var k karteInput
	if e := decodeFields(kartes, &k); e != nil {
		return endpointInput{}, e
	}
	var in endpointInput
	if e := decodeFields(own, &in); e != nil {
		return endpointInput{}, e
	}
	if in.BodyTemplate.set && len(k.HookData) > 0 {
		return endpointInput{}, errInvalid("hookData", "hookData and body_template are the same thing; give one")
	}
	k.apply(&in)
	if k.CampaignID != nil {
		kept[karteCampaignKey] = *k.CampaignID
	}
	if len(kept) > 0 {
		m := map[string]string{}
		if in.Metadata != nil {
			m = *in.Metadata
		}
		for key, v := range kept {
			if _, set := m[key]; !set {
				m[key] = v
			}
		}
		in.Metadata = &m
	}
	return in, nil
}

// apply sets on in the endpoint equivalent to the KARTE definition: hash
// tags, hookData as the body.
func (k *karteInput) apply(in *endpointInput) {
	hash := "hash"
	in.URL, in.Method, in.Description, in.EventTypes = k.URL, k.Method, k.Description, k.EventTypes
	in.Enabled, in.Filter, in.SampleRate = k.Enabled, k.Filter, k.SampleRate
	in.TemplateSyntax, in.names = &hash, karteNames
	if len(k.Headers) > 0 {
		in.Headers = &k.Headers
	}
	if len(k.HookData) > 0 {
		in.BodyTemplate = optionalJSON{set: true, raw: k.HookData}
	}
}

// decodeFields decodes the named JSON values into dst as the API decodes
// a request body (a wrong type is a 400 naming the field).
func decodeFields(fields map[string]json.RawMessage, dst any) *Error {
	b, err := json.Marshal(fields)
	if err != nil { // not expected: the values were decoded as JSON
		return errInvalid("", "request body: %v", err)
	}
	r := &http.Request{Body: io.NopCloser(bytes.NewReader(b))}
	return decode(nil, r, int64(len(b))+1, dst)
}

// karteKeptValue is how a definition field Herald does not use is kept in
// metadata: a string as it is, anything else as its JSON text.
func karteKeptValue(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}

// jsonNames lists the JSON names of a struct's fields.
func jsonNames(v any) map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

var (
	// karteFields are the fields of KARTE's definition Herald reads
	// (and "format").
	karteFields = jsonNames(karteInput{})
	// endpointFields are the endpoint API's own fields.
	endpointFields = jsonNames(endpointInput{})
)

// karteMetadataPrefix starts the metadata keys a KARTE definition's
// unused fields are kept under.
const karteMetadataPrefix = "karte."

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
