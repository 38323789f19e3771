package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestOrderingFieldErrors: bad ordering settings and keys are refused
// with the field named; good ones read back.
func TestOrderingFieldErrors(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "msg.sent"}, nil, 201)
	var ep struct {
		ID                  string `json:"id"`
		OrderingKeyTemplate string `json:"ordering_key_template"`
		OrderingOnFailure   string `json:"ordering_on_failure"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/hook",
		"ordering_key_template": "{{payload.conversation.id}}", "ordering_on_failure": "pause"}, &ep, 201)
	if ep.OrderingKeyTemplate != "{{payload.conversation.id}}" || ep.OrderingOnFailure != "pause" {
		t.Fatalf("endpoint reads back %+v", ep)
	}
	var cleared map[string]any
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"ordering_on_failure": "unblock", "ordering_key_template": ""}, &cleared, 200)
	if cleared["ordering_key_template"] != nil || cleared["ordering_on_failure"] != nil {
		t.Fatalf("endpoint after clearing reads back ordering_key_template %v, ordering_on_failure %v", cleared["ordering_key_template"], cleared["ordering_on_failure"])
	}
	cases := []struct {
		method, path string
		body         map[string]any
		field        string
	}{
		{"PATCH", "/v1/apps/acme/endpoints/" + ep.ID, map[string]any{"ordering_on_failure": "later"}, "ordering_on_failure"},
		{"PATCH", "/v1/apps/acme/endpoints/" + ep.ID, map[string]any{"ordering_key_template": "{{payload.id"}, "ordering_key_template"},
		{"PATCH", "/v1/apps/acme/endpoints/" + ep.ID, map[string]any{"ordering_key_template": strings.Repeat("x", 1025)}, "ordering_key_template"},
		{"POST", "/v1/apps/acme/events", map[string]any{"event_type": "msg.sent", "payload": map[string]any{}, "ordering_key": strings.Repeat("k", 257)}, "ordering_key"},
		{"POST", "/v1/apps/acme/events", map[string]any{"event_type": "msg.sent", "payload": map[string]any{}, "ordering_key": 7}, ""},
	}
	for _, c := range cases {
		var e apiError
		code := s.Invalid().Do(c.method, c.path, c.body, &e)
		if code/100 != 4 || c.field != "" && e.Error.Field != c.field {
			t.Errorf("%s %s %v: %d %+v, want a 4xx naming %q", c.method, c.path, c.body, code, e, c.field)
		}
	}
	var ev struct {
		OrderingKey string `json:"ordering_key"`
	}
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "msg.sent", "payload": map[string]any{}, "ordering_key": strings.Repeat("k", 256)}, &ev, 202)
	if len(ev.OrderingKey) != 256 {
		t.Fatalf("event ordering key reads back %d bytes, want 256", len(ev.OrderingKey))
	}
	// A repeated Idempotency-Key with another ordering key is another
	// event, refused as a mismatch.
	first := map[string]any{"event_type": "msg.sent", "payload": map[string]any{"n": 1}, "ordering_key": "a"}
	idem := http.Header{"Authorization": {"Bearer " + heraldtest.Token}, "Idempotency-Key": {"order-1"}}
	if code := s.DoWith("POST", "/v1/apps/acme/events", first, nil, idem); code != 202 {
		t.Fatalf("first event: %d", code)
	}
	if code := s.DoWith("POST", "/v1/apps/acme/events", first, nil, idem); code != 202 {
		t.Fatalf("repeated event: %d", code)
	}
	first["ordering_key"] = "b"
	var e apiError
	if code := s.Invalid().DoWith("POST", "/v1/apps/acme/events", first, &e, idem); code != 409 || e.Error.Field != "Idempotency-Key" {
		t.Fatalf("repeated key, other ordering key: %d %+v", code, e)
	}
}
