package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestAppMetadataAndHeaders: an app's metadata and webhook_headers are
// kept, shown ({} when none) and bounded.
func TestAppMetadataAndHeaders(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	var a struct {
		Metadata       map[string]string `json:"metadata"`
		WebhookHeaders string            `json:"webhook_headers"`
	}
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, &a, 201)
	if a.Metadata == nil || len(a.Metadata) != 0 || a.WebhookHeaders != "" {
		t.Fatalf("new app: %+v", a)
	}
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"metadata": map[string]string{"plan": "pro", "region": "eu"}, "webhook_headers": "svix"}, nil, 200)
	s.MustDo("GET", "/v1/apps/acme", nil, &a, 200)
	if a.Metadata["plan"] != "pro" || a.Metadata["region"] != "eu" || a.WebhookHeaders != "svix" {
		t.Fatalf("after patch: %+v", a)
	}
	// A PATCH replaces the map as a whole.
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"metadata": map[string]string{"plan": "free"}}, nil, 200)
	a.Metadata = nil
	s.MustDo("GET", "/v1/apps/acme", nil, &a, 200)
	if len(a.Metadata) != 1 || a.Metadata["plan"] != "free" || a.WebhookHeaders != "svix" {
		t.Fatalf("after second patch: %+v", a)
	}
	many := map[string]string{}
	for i := range 51 {
		many[fmt.Sprint("k", i)] = "v"
	}
	for name, body := range map[string]map[string]any{
		"too many keys":  {"metadata": many},
		"long key":       {"metadata": map[string]string{strings.Repeat("k", 65): "v"}},
		"long value":     {"metadata": map[string]string{"k": strings.Repeat("v", 1025)}},
		"headers choice": {"webhook_headers": "custom"},
	} {
		var e apiError
		if got := s.Invalid().Do("PATCH", "/v1/apps/acme", body, &e); got != 422 || !strings.HasPrefix(name, "headers") && e.Error.Field != "metadata" {
			t.Errorf("%s: %d field %q", name, got, e.Error.Field)
		}
		if strings.HasPrefix(name, "headers") && e.Error.Field != "webhook_headers" {
			t.Errorf("%s: field %q", name, e.Error.Field)
		}
	}
}

type svixEndpoint struct {
	ID             string            `json:"id"`
	UID            *string           `json:"uid"`
	Metadata       map[string]string `json:"metadata"`
	Channels       []string          `json:"channels"`
	WebhookHeaders string            `json:"webhook_headers"`
}

// TestEndpointSvixFields: uid, metadata, channels and webhook_headers of
// an endpoint: kept, shown, validated, the uid unique and accepted in
// place of the id.
func TestEndpointSvixFields(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	var plain svixEndpoint
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://127.0.0.1:9/x"}, &plain, 201)
	if plain.UID != nil || plain.Metadata == nil || len(plain.Metadata) != 0 || plain.Channels == nil || len(plain.Channels) != 0 || plain.WebhookHeaders != "" {
		t.Fatalf("plain endpoint: %+v", plain)
	}
	var ep svixEndpoint
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{
		"url": "http://127.0.0.1:9/y", "uid": "billing-1", "metadata": map[string]string{"team": "a"},
		"channels": []string{"project_1", "project_1", "org:2"}, "webhook_headers": "svix",
	}, &ep, 201)
	if ep.UID == nil || *ep.UID != "billing-1" || ep.Metadata["team"] != "a" || strings.Join(ep.Channels, ",") != "project_1,org:2" || ep.WebhookHeaders != "svix" {
		t.Fatalf("created: %+v", ep)
	}
	// Every route with an endpoint {id} takes the uid too.
	var got svixEndpoint
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1", nil, &got, 200)
	if got.ID != ep.ID {
		t.Fatalf("by uid: %+v", got)
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1/secret", nil, nil, 200)
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1/stats", nil, nil, 200)
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1/deliveries", nil, nil, 200)
	s.MustDo("GET", "/v1/apps/acme/endpoints/nobody/secret", nil, nil, 404)
	// Taken by another endpoint: 409, on create and on update.
	for _, c := range []struct{ method, path string }{{"POST", "/v1/apps/acme/endpoints"}, {"PATCH", "/v1/apps/acme/endpoints/" + plain.ID}} {
		var e apiError
		if code := s.Do(c.method, c.path, map[string]any{"url": "http://127.0.0.1:9/z", "uid": "billing-1"}, &e); code != 409 || e.Error.Code != "conflict" || e.Error.Field != "uid" {
			t.Errorf("%s taken uid: %d %+v", c.method, code, e.Error)
		}
	}
	// Saving the endpoint with its own uid is no conflict.
	got = svixEndpoint{}
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/billing-1", map[string]any{"uid": "billing-1", "metadata": map[string]string{}}, &got, 200)
	if len(got.Metadata) != 0 || *got.UID != "billing-1" {
		t.Fatalf("patched: %+v", got)
	}
	// null clears the uid; the old one then finds nothing.
	got = svixEndpoint{}
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/billing-1", map[string]any{"uid": nil, "channels": []string{}}, &got, 200)
	if got.UID != nil || len(got.Channels) != 0 || got.WebhookHeaders != "svix" {
		t.Fatalf("cleared: %+v", got)
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1", nil, nil, 404)
	// Once freed, the uid may be taken by another.
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+plain.ID, map[string]any{"uid": "billing-1"}, nil, 200)
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1", nil, &got, 200)
	if got.ID != plain.ID {
		t.Fatalf("uid moved: %+v", got)
	}

	tooMany := make([]string, 11)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("c", i)
	}
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"uid chars", map[string]any{"uid": "a b"}, "uid"},
		{"uid like an id", map[string]any{"uid": "ep_123"}, "uid"},
		{"uid long", map[string]any{"uid": strings.Repeat("u", 257)}, "uid"},
		{"uid type", map[string]any{"uid": 5}, "uid"},
		{"metadata", map[string]any{"metadata": map[string]string{"": "x"}}, "metadata"},
		{"channels count", map[string]any{"channels": tooMany}, "channels"},
		{"channel chars", map[string]any{"channels": []string{"a/b"}}, "channels"},
		{"channel empty", map[string]any{"channels": []string{""}}, "channels"},
		{"channel long", map[string]any{"channels": []string{strings.Repeat("c", 129)}}, "channels"},
		{"headers", map[string]any{"webhook_headers": "both"}, "webhook_headers"},
	} {
		body := map[string]any{"url": "http://127.0.0.1:9/q"}
		for k, v := range c.body {
			body[k] = v
		}
		var e apiError
		code := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", body, &e)
		if code != 422 || e.Error.Field != c.field {
			t.Errorf("%s: %d %+v", c.name, code, e.Error)
		}
	}
}
