package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/store"
)

// checkRefusal holds every refusal of tenant input to the API's contract:
// a 4xx *Error with a code and a message, naming a field of the input
// unless the body as a whole is at fault.
func checkRefusal(t *testing.T, e *Error, fields map[string]bool) {
	t.Helper()
	if e.Status < 400 || e.Status > 499 || e.Code == "" || e.Message == "" {
		t.Fatalf("refusal %d %q %q", e.Status, e.Code, e.Message)
	}
	switch {
	case e.Code == CodeMalformedJSON || e.Code == CodeTooLarge || e.Code == CodeInvalidType && e.Field == "":
		return // the body as a whole
	case e.Code == CodeUnknownField:
		return // named as the client sent it, "" included
	}
	name, _, _ := strings.Cut(e.Field, ".")
	if !fields[name] {
		t.Fatalf("refusal %s %q names field %q, not one of the input's", e.Code, e.Message, e.Field)
	}
}

// FuzzEndpointInput: an endpoint's create or update body is a tenant's
// JSON, in Herald's format or KARTE's. Never panics; every refusal is a
// 4xx *Error naming a field the client can find in what it sent (or could
// have sent); what is accepted compiles, also once stored and read back.
func FuzzEndpointInput(f *testing.F) {
	for _, s := range []string{
		// The quick start's endpoint, and one with every request setting.
		`{"url": "http://127.0.0.1:9000/webhook", "event_types": ["lead.created"]}`,
		`{"url": "https://crm.example.com/leads/{{id}}", "method": "put", "content_type": "application/x-www-form-urlencoded",
		  "headers": {"X-Lead": "{{email}}", "Authorization": "Bearer abc"}, "body_template": {"name": "{{name}}"},
		  "template_strict": true, "payload_format": "flat", "flat_event_key": "type", "filter": "payload.score > 50",
		  "retry_schedule": "5s,1m", "max_in_flight": 4, "rate_limit": 2.5, "sample_rate": 50, "timeout_ms": 3000,
		  "event_types": ["lead.*", "group:nps", "lead.created"], "description": "CRM", "enabled": false}`,
		// Presets, auth and secrets.
		`{"url": "https://hooks.slack.com/services/T/B/X", "preset": "slack", "preset_options": {"message": "{{name}}"}}`,
		`{"preset": "chatwork", "preset_options": {"room_id": "1", "api_token": "t"}, "auth": {"type": "bearer", "token": "********"}}`,
		`{"url": "https://example.com", "auth": {"type": "oauth2_client_credentials", "token_url": "https://id.example.com/token", "client_id": "c", "client_secret": "s", "token_in": "query"}}`,
		`{"url": "https://example.com", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "signature_scheme": "v1"}`,
		`{"url": "https://example.com", "signature_scheme": "v1a", "secret": "not a whsk_ key"}`,
		// KARTE's definition as its users paste it.
		`{"format": "karte", "url": "https://example.com/karte/users/#{user_id}", "method": "PUT",
		  "headers": {"X-Campaign": "#{campaign_id}"}, "hookData": {"user_id": "#{user_id}"}, "event_types": ["user.view"]}`,
		`{"format": "karte", "url": "https://example.com/karte", "method": "GET", "hookData": "#{user_id}"}`,
		`{"format": "karte", "url": "https://example.com/karte", "hookData": {"a": "#{user_id"}}`,
		`{"format": "zapier", "url": "https://example.com"}`,
		// What the decoder refuses: types, unknown fields, trailing data.
		`{"url": 1}`, `{"headers": {"X": 1}}`, `{"urll": "x"}`, `{} {}`, `[]`, `"x"`, `{"url": "https://example.com"`, ``,
		`{"sample_rate": "half", "url": "https://example.com"}`, `{"auth": {"type": "basic", "user": "x"}}`,
		`{"url": "https://example.com/{{a", "body_template": {"a": "{{"}}`,
	} {
		f.Add([]byte(s), false, false)
	}
	f.Add([]byte(`{"auth": {"type": "basic", "username": "u", "password": "********"}, "url": "https://example.com/#{x}"}`), true, true)
	endpointFields, karteFields := jsonNames(endpointInput{}), jsonNames(karteInput{})
	f.Fuzz(func(t *testing.T, body []byte, patch, hashApp bool) {
		w := httptest.NewRecorder()
		method := http.MethodPost
		if patch {
			method = http.MethodPatch
		}
		r := httptest.NewRequest(method, "/v1/apps/app_1/endpoints", bytes.NewReader(body))
		fields := endpointFields
		var probe struct{ Format string }
		if _ = json.Unmarshal(body, &probe); probe.Format != "" {
			fields = karteFields
		}
		in, e := readEndpointInput(w, r, 1<<20)
		if e != nil {
			checkRefusal(t, e, fields)
			return
		}
		app := &herald.App{ID: "app_1", UID: "acme"}
		if hashApp {
			app.TemplateSyntax = "hash"
		}
		ep := &herald.Endpoint{ID: "ep_1", AppID: app.ID, Enabled: true, EventTypes: []string{}}
		if patch {
			ep.URL = "https://example.com/hook"
			ep.Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
			ep.Auth = &herald.EndpointAuth{Type: "basic", Username: "u", Password: "p"}
			ep.Headers = map[string]string{"Authorization": "Bearer abc"}
		}
		if e := in.applyTo(ep, app, herald.TenantCeilings{}, nil); e != nil {
			checkRefusal(t, e, fields)
			return
		}
		c, err := shape.Compile(ep, shape.Options{TemplateSyntax: app.TemplateSyntax})
		if err != nil {
			t.Fatalf("accepted an endpoint that does not compile: %v", err)
		}
		// The stores keep the endpoint as JSON documents: read back, it
		// sends the same request.
		docs, err := store.EncodeEndpoint(ep)
		if err != nil {
			t.Fatalf("accepted endpoint does not encode: %v", err)
		}
		back := herald.Endpoint{ID: ep.ID, AppID: ep.AppID, URL: ep.URL}
		if err := store.DecodeEndpoint(&back, docs); err != nil {
			t.Fatalf("stored endpoint %+v does not decode: %v", docs, err)
		}
		c2, err := shape.Compile(&back, shape.Options{TemplateSyntax: app.TemplateSyntax})
		if err != nil {
			t.Fatalf("stored endpoint %+v does not compile: %v", docs, err)
		}
		// (encoding/json escapes <, > and & in the stored body template:
		// the same JSON, other bytes.)
		var saved, stored bytes.Buffer
		json.HTMLEscape(&saved, c.Effective.BodyTemplate)
		json.HTMLEscape(&stored, c2.Effective.BodyTemplate)
		c.Effective.BodyTemplate, c2.Effective.BodyTemplate = saved.Bytes(), stored.Bytes()
		if !reflect.DeepEqual(c.Effective, c2.Effective) {
			t.Fatalf("stored endpoint sends %+v, saved one %+v", c2.Effective, c.Effective)
		}
	})
}

// FuzzParseAuth: an endpoint's auth is a tenant's JSON. Never panics;
// refusals name a field of auth; what is accepted has a known type and
// every credential that type needs, and "********" never replaces a
// stored secret with itself.
func FuzzParseAuth(f *testing.F) {
	for _, s := range []string{
		`{"type": "basic", "username": "u", "password": "p"}`,
		`{"type": "bearer", "token": "t"}`,
		`{"type": "oauth2_client_credentials", "token_url": "https://id.example.com/oauth/token", "client_id": "c", "client_secret": "s", "scope": "a b", "audience": "x", "token_in": "header"}`,
		`{"type": "oauth2_client_credentials", "token_url": "ftp://x", "client_id": "c", "client_secret": "s"}`,
		`{"type": "oauth2_client_credentials", "token_url": "https://x", "client_id": "c", "client_secret": "s", "token_in": "body"}`,
		`{"type": "basic", "username": "u", "password": "********"}`,
		`{"type": "bearer", "token": "********"}`,
		`{"type": "basic", "username": "u"}`,
		`{"type": "digest"}`, `{"type": "basic"}`, `{"type": "bearer", "tokn": "t"}`, `[]`, `null`, `{"type": 1}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	fields := map[string]bool{"auth": true}
	f.Fuzz(func(t *testing.T, raw []byte, stored bool) {
		if !json.Valid(raw) {
			// The endpoint's decoder has already refused it.
			return
		}
		var old *herald.EndpointAuth
		if stored {
			old = &herald.EndpointAuth{Type: "basic", Username: "u", Password: "old-p", Token: "old-t", ClientSecret: "old-s"}
		}
		if string(raw) == "null" {
			raw = nil
		}
		a, e := parseAuth(raw, old)
		if e != nil {
			checkRefusal(t, e, fields)
			return
		}
		if a == nil {
			if raw != nil {
				t.Fatalf("%s accepted as no auth", raw)
			}
			return
		}
		need := map[string][]string{
			"basic":                     {a.Username, a.Password},
			"bearer":                    {a.Token},
			"oauth2_client_credentials": {a.TokenURL, a.ClientID, a.ClientSecret},
		}[a.Type]
		if need == nil {
			t.Fatalf("accepted auth type %q", a.Type)
		}
		for _, v := range need {
			if v == "" {
				t.Fatalf("accepted %s auth without a credential: %+v", a.Type, a)
			}
		}
		if a.Type == "oauth2_client_credentials" && herald.ValidateURL(a.TokenURL) != nil {
			t.Fatalf("accepted token_url %q", a.TokenURL)
		}
		for _, v := range []string{a.Password, a.Token, a.ClientSecret} {
			if v == "********" && stored {
				t.Fatalf("the mask replaced a stored secret: %+v", a)
			}
		}
	})
}
