package herald

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// PrefixEndpointTemplate starts the ids of endpoint templates.
const PrefixEndpointTemplate = "eptpl_"

// MaxEndpointTemplates bounds an app's endpoint templates.
const MaxEndpointTemplates = 100

// EndpointTemplate is an app's reusable request definition (SATORI's
// webhook defined once and attached to several forms): endpoints that
// reference it take its URL and request shape, except the fields they
// set themselves (Endpoint.TemplateOverrides).
type EndpointTemplate struct {
	ID          string `json:"id"`
	AppID       string `json:"app_id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	URL         string `json:"url"`
	// RequestShape appears inline in the template's JSON. Its header
	// values and secret preset options are encrypted at rest, as an
	// endpoint's are.
	RequestShape
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Template fields an endpoint may take from its template, as named in
// Endpoint.TemplateOverrides. Headers and preset options are overridden
// one by one: "headers/<name>", "preset_options/<name>".
var TemplateFields = []string{"url", "method", "content_type", "body_template", "payload_format",
	"flat_event_key", "template_syntax", "template_strict", "preset"}

// ApplyTemplate sets, on an endpoint that references t, every template
// field the endpoint does not override to the template's value. Its own
// headers and preset options (the overridden names) are kept over the
// template's; plain_headers is the union of both. The endpoint's other
// fields are not touched.
func ApplyTemplate(ep *Endpoint, t *EndpointTemplate) {
	own := func(f string) bool { return slices.Contains(ep.TemplateOverrides, f) }
	if !own("url") {
		ep.URL = t.URL
	}
	if !own("method") {
		ep.Method = t.Method
	}
	if !own("content_type") {
		ep.ContentType = t.ContentType
	}
	if !own("body_template") {
		ep.BodyTemplate = t.BodyTemplate
	}
	if !own("payload_format") {
		ep.PayloadFormat = t.PayloadFormat
	}
	if !own("flat_event_key") {
		ep.FlatEventKey = t.FlatEventKey
	}
	if !own("template_syntax") {
		ep.TemplateSyntax = t.TemplateSyntax
	}
	if !own("template_strict") {
		ep.TemplateStrict = t.TemplateStrict
	}
	if !own("preset") {
		ep.Preset = t.Preset
	}
	ep.Headers = mergeOwn(t.Headers, ep.Headers, ep.TemplateOverrides, "headers/")
	ep.PresetOptions = mergeOwn(t.PresetOptions, ep.PresetOptions, ep.TemplateOverrides, "preset_options/")
	plain := slices.Clone(t.PlainHeaders)
	for _, h := range ep.PlainHeaders {
		if !slices.ContainsFunc(plain, func(x string) bool { return strings.EqualFold(x, h) }) && ep.Headers[h] != "" {
			plain = append(plain, h)
		}
	}
	ep.PlainHeaders = plain
}

// mergeOwn returns the template's values with the endpoint's own (the
// names listed under prefix in overrides) over them; names compare
// case-insensitively, as headers do.
func mergeOwn(tpl, cur map[string]string, overrides []string, prefix string) map[string]string {
	out := maps.Clone(tpl)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range cur {
		if !slices.ContainsFunc(overrides, func(o string) bool { return strings.EqualFold(o, prefix+k) }) {
			continue
		}
		for tk := range out {
			if strings.EqualFold(tk, k) {
				delete(out, tk)
			}
		}
		out[k] = v
	}
	if len(out) == 0 && tpl == nil {
		return nil
	}
	return out
}
