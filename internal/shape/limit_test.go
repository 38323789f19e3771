package shape_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/template"
)

// limitEvent is the event the size tests build requests for.
func limitEvent(payload string) shape.Event {
	return shape.Event{
		Event: &herald.Event{ID: "evt_1", AppID: "app_1", EventType: "lead.created", Payload: herald.RawJSON(payload),
			CreatedAt: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)},
		App:      &herald.App{ID: "app_1", UID: "acme", Name: "Acme"},
		Endpoint: &herald.Endpoint{ID: "ep_1"},
	}
}

// requestSize is what the cap counts: the URL, the endpoint's header names
// and values (not the Content-Type Herald sets) and the body.
func requestSize(r *shape.Request) int {
	n := len(r.URL) + len(r.Body)
	for k, vs := range r.Header {
		if k == "Content-Type" {
			continue
		}
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

// TestBuildSizeCap builds each kind of request with the cap at its exact
// size (it passes, unchanged) and at every size below (it fails with a
// TooLargeError), for every content type, payload format and method.
func TestBuildSizeCap(t *testing.T) {
	const payload = `{"name":"山田 太郎","company":"Acme & <Co>","score":42,"tags":["a","b"],"lead":{"email":"a@example.com"}}`
	withTags := map[string]string{"X-Lead": "{{name}} / {{company}}", "X-Static": "herald"}
	cases := []struct {
		name    string
		ep      herald.Endpoint
		payload string
	}{
		{name: "json standard", ep: herald.Endpoint{URL: "https://example.com/hook"}},
		{name: "json raw", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{PayloadFormat: "raw"}}},
		{name: "json flat", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{PayloadFormat: "flat"}}},
		{name: "json flat, not an object", payload: `["x","y"]`, ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{PayloadFormat: "flat"}}},
		{name: "json standard, empty payload", payload: " ", ep: herald.Endpoint{URL: "https://example.com/hook"}},
		{name: "json template", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{
			BodyTemplate: herald.RawJSON(`{"who":"{{name}}","lead":"{{lead}}","all":"{{payload}}","n":"{{score}}","text":"{{company}} ({{tags}})"}`)}}},
		{name: "json template in URL and headers", ep: herald.Endpoint{URL: "https://example.com/{{app.uid}}/{{company}}?n={{name}}", RequestShape: herald.RequestShape{
			Headers: withTags, BodyTemplate: herald.RawJSON(`{"who":"{{name}}"}`)}}},
		{name: "form standard", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{ContentType: herald.ContentForm}}},
		{name: "form raw", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{ContentType: herald.ContentForm, PayloadFormat: "raw"}}},
		{name: "form flat", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{ContentType: herald.ContentForm, PayloadFormat: "flat"}}},
		{name: "form template", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{ContentType: herald.ContentForm,
			Headers: withTags, BodyTemplate: herald.RawJSON(`{"name":"{{name}}","company":"{{company}}","lead":{"x":"{{lead}}"},"n":7}`)}}},
		{name: "plain standard", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{ContentType: herald.ContentPlain}}},
		{name: "plain raw", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{ContentType: herald.ContentPlain, PayloadFormat: "raw"}}},
		{name: "plain text template", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{ContentType: herald.ContentPlain,
			BodyTemplate: herald.RawJSON(`"New lead: {{name}} of {{company}}\n{{lead}}"`)}}},
		{name: "plain JSON template", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{ContentType: herald.ContentPlain,
			BodyTemplate: herald.RawJSON(`{"who":"{{name}}","lead":"{{lead}}"}`)}}},
		{name: "GET standard", ep: herald.Endpoint{URL: "https://example.com/hook?k=v", RequestShape: herald.RequestShape{Method: "GET"}}},
		{name: "GET flat", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{Method: "GET", PayloadFormat: "flat"}}},
		{name: "DELETE template", ep: herald.Endpoint{URL: "https://example.com/{{app.uid}}", RequestShape: herald.RequestShape{Method: "DELETE",
			Headers: withTags, BodyTemplate: herald.RawJSON(`{"name":"{{name}}","lead":"{{lead}}"}`)}}},
		{name: "GET without fields", ep: herald.Endpoint{URL: "https://example.com/hook", RequestShape: herald.RequestShape{Method: "GET",
			BodyTemplate: herald.RawJSON(`{}`)}}},
		{name: "preset", ep: herald.Endpoint{URL: "https://hooks.slack.com/services/T/B/X", RequestShape: herald.RequestShape{Preset: "slack",
			PresetOptions: map[string]string{"message": "{{name}} at {{company}}"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.payload
			if p == "" {
				p = payload
			}
			ev := limitEvent(p)
			unlimited, err := shape.Compile(&c.ep, shape.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want, err := unlimited.Build(ev)
			if err != nil {
				t.Fatal(err)
			}
			size := requestSize(want)
			at, err := shape.Compile(&c.ep, shape.Options{MaxSize: size})
			if err != nil {
				t.Fatal(err)
			}
			got, err := at.Build(ev)
			if err != nil {
				t.Fatalf("cap at the size (%d bytes): %v", size, err)
			}
			if got.URL != want.URL || string(got.Body) != string(want.Body) || requestSize(got) != size {
				t.Fatalf("cap at the size: %s %q, want %s %q", got.URL, got.Body, want.URL, want.Body)
			}
			for max := 1; max < size; max++ {
				below, err := shape.Compile(&c.ep, shape.Options{MaxSize: max})
				if err != nil {
					t.Fatal(err)
				}
				r, err := below.Build(ev)
				var tl *shape.TooLargeError
				var re *shape.RenderError
				if !errors.As(err, &tl) || tl.Max != max || !errors.As(err, &re) || !errors.Is(err, template.ErrTooLarge) {
					t.Fatalf("cap %d of %d: %+v, %v; want a RenderError with a TooLargeError", max, size, r, err)
				}
			}
		})
	}
}

// TestBuildSizeCapNamesTheField checks that the error names the part that
// passed the cap, and says what the cap is.
func TestBuildSizeCapNamesTheField(t *testing.T) {
	big := `{"big":"` + strings.Repeat("x", 4000) + `"}`
	cases := []struct {
		name, field string
		ep          herald.Endpoint
	}{
		{name: "url", field: "url", ep: herald.Endpoint{URL: "https://example.com/{{big}}"}},
		{name: "header", field: "headers.X-Big", ep: herald.Endpoint{URL: "https://example.com/", RequestShape: herald.RequestShape{
			Headers: map[string]string{"X-Big": "{{big}}"}}}},
		{name: "body template", field: "body_template", ep: herald.Endpoint{URL: "https://example.com/", RequestShape: herald.RequestShape{
			BodyTemplate: herald.RawJSON(`{"a":"{{big}}"}`)}}},
		{name: "query fields", field: "body_template", ep: herald.Endpoint{URL: "https://example.com/", RequestShape: herald.RequestShape{
			Method: "GET", BodyTemplate: herald.RawJSON(`{"a":"{{big}}"}`)}}},
		{name: "default body", field: "payload", ep: herald.Endpoint{URL: "https://example.com/"}},
		{name: "default form", field: "payload", ep: herald.Endpoint{URL: "https://example.com/", RequestShape: herald.RequestShape{ContentType: herald.ContentForm}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			comp, err := shape.Compile(&c.ep, shape.Options{MaxSize: 1000})
			if err != nil {
				t.Fatal(err)
			}
			_, err = comp.Build(limitEvent(big))
			var re *shape.RenderError
			if !errors.As(err, &re) || re.Field != c.field || !errors.Is(err, template.ErrTooLarge) {
				t.Fatalf("%v; want a too-large error on %s", err, c.field)
			}
			if !strings.Contains(err.Error(), "over 1000 bytes") {
				t.Fatalf("message %q does not say the cap", err)
			}
		})
	}
}
