package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestUnknownFieldSuggestion: an unknown field one edit away from a field
// of the route gets "did you mean"; one further away gets none.
func TestUnknownFieldSuggestion(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup("http://127.0.0.1:9/hook", nil)
	for _, c := range []struct {
		name, path, body, field, want string
	}{
		{"swap", "/v1/apps", `{"nmae":"a"}`, "nmae", `did you mean "name"?`},
		{"missing letter", "/v1/apps/acme/events", `{"evnt_type":"lead.created","payload":{}}`, "evnt_type", `did you mean "event_type"?`},
		{"singular", "/v1/apps/acme/endpoints", `{"url":"http://127.0.0.1:9/","event_type":["lead.created"]}`, "event_type", `did you mean "event_types"?`},
		{"extra letter", "/v1/event-types", `{"name":"x","descriptions":"y"}`, "descriptions", `did you mean "description"?`},
		{"wrong letter", "/v1/apps/acme/endpoints", `{"url":"http://127.0.0.1:9/","timeout_mz":5}`, "timeout_mz", `did you mean "timeout_ms"?`},
		{"too far", "/v1/apps", `{"name":"a","colour":"red"}`, "colour", ""},
	} {
		var e apiError
		if got := s.Do("POST", c.path, c.body, &e); got != 400 || e.Error.Code != "unknown_field" || e.Error.Field != c.field {
			t.Errorf("%s: %d %q field %q, want 400 unknown_field %q", c.name, got, e.Error.Code, e.Error.Field, c.field)
		}
		if c.want == "" && strings.Contains(e.Error.Message, "did you mean") || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%s: message %q, want %q", c.name, e.Error.Message, c.want)
		}
	}
}

// TestIdempotencyMismatch: a key repeated with the same body (as JSON,
// whatever its spacing or key order) answers the first event; with
// another payload or event type, 409 idempotency_mismatch, and nothing
// new is stored.
func TestIdempotencyMismatch(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup("http://127.0.0.1:9/hook", nil)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.updated"}, nil, 201)
	send := func(key, body string) (int, string, apiError) {
		var out struct {
			ID string
			apiError
		}
		code := s.DoWith("POST", "/v1/apps/acme/events", body, &out, http.Header{
			"Authorization": {"Bearer " + heraldtest.Token}, "Idempotency-Key": {key}})
		return code, out.ID, out.apiError
	}
	code, first, _ := send("k1", `{"event_type":"lead.created","payload":{"id":"42","n":1}}`)
	if code != 202 || first == "" {
		t.Fatalf("first: %d %q", code, first)
	}
	for _, body := range []string{
		`{"event_type":"lead.created","payload":{"id":"42","n":1}}`,
		`{"payload": {"n": 1, "id": "42"}, "event_type": "lead.created"}`,
	} {
		if code, id, _ := send("k1", body); code != 202 || id != first {
			t.Errorf("same body %s: %d %s, want 202 %s", body, code, id, first)
		}
	}
	for _, body := range []string{
		`{"event_type":"lead.created","payload":{"id":"43","n":1}}`,
		`{"event_type":"lead.created","payload":{"id":"42","n":1.0}}`,
		`{"event_type":"lead.created","payload":{"id":"42"}}`,
		`{"event_type":"lead.updated","payload":{"id":"42","n":1}}`,
	} {
		code, _, e := send("k1", body)
		if code != 409 || e.Error.Code != "idempotency_mismatch" || e.Error.Field != "Idempotency-Key" || !strings.Contains(e.Error.Message, first) {
			t.Errorf("other body %s: %d %+v, want 409 idempotency_mismatch naming %s", body, code, e.Error, first)
		}
	}
	var list struct{ Data []struct{ ID string } }
	s.MustDo("GET", "/v1/apps/acme/events", nil, &list, 200)
	if len(list.Data) != 1 {
		t.Fatalf("%d events stored, want 1", len(list.Data))
	}
	// Another key takes the other body.
	if code, id, _ := send("k2", `{"event_type":"lead.created","payload":{"id":"43"}}`); code != 202 || id == first {
		t.Fatalf("new key: %d %s", code, id)
	}
}

// TestSubscriptionToUndeclaredType: an endpoint may subscribe only to
// declared event types (exact names; wildcards and groups are free),
// unless undeclared types are allowed; an endpoint keeps names it had.
func TestSubscriptionToUndeclaredType(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup("http://127.0.0.1:9/hook", nil)
	for _, types := range [][]string{{"lead.craeted"}, {"lead.created", "lead.craeted"}} {
		var e apiError
		code := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://127.0.0.1:9/", "event_types": types}, &e)
		if code != 422 || e.Error.Code != "invalid" || e.Error.Field != "event_types" || !strings.Contains(e.Error.Message, `"lead.craeted" is not in the catalog; did you mean "lead.created"?`) {
			t.Errorf("%v: %d %+v, want 422 naming lead.craeted", types, code, e.Error)
		}
	}
	// Nothing near: where to go instead.
	var far apiError
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "invoice.paid"}, nil, 201)
	if code := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://127.0.0.1:9/", "event_types": []string{"order.shipped"}}, &far); code != 422 ||
		far.Error.Message != `event type "order.shipped" is not in the catalog; create it with POST /v1/event-types first, or subscribe with a wildcard (order.*) or a group (group:<name>)` {
		t.Errorf("far from the catalog: %d %q", code, far.Error.Message)
	}
	// An event of a type one typo away gets the same help.
	if code := s.Do("POST", "/v1/apps/acme/events", map[string]any{"event_type": "Lead.created", "payload": map[string]any{}}, &far); code != 422 ||
		far.Error.Field != "event_type" || !strings.HasSuffix(far.Error.Message, `did you mean "lead.created"?`) {
		t.Errorf("event of a misspelt type: %d %+v", code, far.Error)
	}

	var ep struct {
		ID         string
		EventTypes []string `json:"event_types"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://127.0.0.1:9/",
		"event_types": []string{"lead.created", "lead.*", "group:sales", "invoice.*"}}, &ep, 201)
	var e apiError
	if code := s.Do("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"event_types": []string{"lead.created", "lead.gone"}}, &e); code != 422 || !strings.Contains(e.Error.Message, `"lead.gone"`) {
		t.Errorf("update: %d %+v", code, e.Error)
	}

	// A type deleted from the catalog stays on the endpoints subscribed
	// to it, which can still be edited.
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.lost"}, nil, 201)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"event_types": []string{"lead.created", "lead.lost"}}, nil, 200)
	s.MustDo("DELETE", "/v1/event-types/lead.lost", nil, nil, 204)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"description": "kept", "event_types": []string{"lead.lost", "lead.created"}}, &ep, 200)
	if len(ep.EventTypes) != 2 || ep.EventTypes[0] != "lead.lost" {
		t.Errorf("kept types: %v", ep.EventTypes)
	}

	// With undeclared types allowed, anything goes.
	open := heraldtest.Start(t, heraldtest.Options{AllowUndeclaredEventTypes: true})
	open.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	open.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://127.0.0.1:9/", "event_types": []string{"lead.craeted"}}, nil, 201)
}
