package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	cases := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"missing", http.Header{}, 401},
		{"wrong token", http.Header{"Authorization": {"Bearer nope"}}, 401},
		{"wrong scheme", http.Header{"Authorization": {"Basic " + heraldtest.Token}}, 401},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}, 401},
		{"right", http.Header{"Authorization": {"Bearer " + heraldtest.Token}}, 200},
		{"scheme case-insensitive", http.Header{"Authorization": {"bearer " + heraldtest.Token}}, 200},
	}
	for _, c := range cases {
		// A request without a well-formed bearer token breaks the
		// contract on purpose.
		srv := s
		if c.want == 401 {
			srv = s.Invalid()
		}
		for _, path := range []string{"/v1/apps", "/v1/event-types", "/v1/apps/x/events"} {
			var e apiError
			got := srv.DoWith("GET", path, nil, &e, c.header)
			want := c.want
			if want == 200 && path == "/v1/apps/x/events" {
				want = 404
			}
			if got != want {
				t.Errorf("%s %s: status %d, want %d", c.name, path, got, want)
			}
			if got == 401 && e.Error.Code != "unauthorized" {
				t.Errorf("%s: code %q", c.name, e.Error.Code)
			}
		}
	}
	// Health needs no token.
	if got := s.DoWith("GET", "/healthz", nil, nil, http.Header{}); got != 200 {
		t.Errorf("healthz: %d", got)
	}
}

func TestValidationErrors(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{MaxBodyBytes: 4096})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	cases := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"malformed", "POST", "/v1/apps", `{"name":`, 400, "malformed_json", ""},
		{"not json", "POST", "/v1/apps", `name=x`, 400, "malformed_json", ""},
		{"empty body", "POST", "/v1/apps", ``, 400, "malformed_json", ""},
		{"array body", "POST", "/v1/apps", `[1,2]`, 400, "invalid_type", ""},
		{"trailing data", "POST", "/v1/apps", `{"name":"a"}{}`, 400, "malformed_json", ""},
		{"unknown field", "POST", "/v1/apps", `{"name":"a","nme":"b"}`, 400, "unknown_field", "nme"},
		{"wrong type", "POST", "/v1/apps", `{"name":5}`, 400, "invalid_type", "name"},
		{"missing name", "POST", "/v1/apps", `{}`, 422, "required", "name"},
		{"blank name", "POST", "/v1/apps", `{"name":"  "}`, 422, "required", "name"},
		{"bad uid", "POST", "/v1/apps", `{"name":"a","uid":"has space"}`, 422, "invalid", "uid"},
		{"uid like id", "POST", "/v1/apps", `{"name":"a","uid":"app_x"}`, 422, "invalid", "uid"},
		{"uid taken", "POST", "/v1/apps", `{"name":"a","uid":"acme"}`, 409, "conflict", "uid"},
		{"too large", "POST", "/v1/apps", `{"name":"` + strings.Repeat("x", 5000) + `"}`, 413, "too_large", ""},
		{"event type name missing", "POST", "/v1/event-types", `{"description":"x"}`, 422, "required", "name"},
		{"event type bad name", "POST", "/v1/event-types", `{"name":"a b"}`, 422, "invalid", "name"},
		{"event type taken", "POST", "/v1/event-types", `{"name":"lead.created"}`, 409, "conflict", "name"},
		{"schema not object", "POST", "/v1/event-types", `{"name":"x","schema":"str"}`, 422, "invalid", "schema"},
		{"rename event type", "PATCH", "/v1/event-types/lead.created", `{"name":"other"}`, 422, "invalid", "name"},
		{"url missing", "POST", "/v1/apps/acme/endpoints", `{}`, 422, "required", "url"},
		{"url port", "POST", "/v1/apps/acme/endpoints", `{"url":"http://example.com:65536"}`, 422, "invalid", "url"},
		{"url scheme", "POST", "/v1/apps/acme/endpoints", `{"url":"ftp://example.com/"}`, 422, "invalid", "url"},
		{"url no scheme", "POST", "/v1/apps/acme/endpoints", `{"url":"example.com/hook"}`, 422, "invalid", "url"},
		{"url no host", "POST", "/v1/apps/acme/endpoints", `{"url":"http:///hook"}`, 422, "invalid", "url"},
		{"url userinfo", "POST", "/v1/apps/acme/endpoints", `{"url":"https://u:p@example.com/"}`, 422, "invalid", "url"},
		{"url type", "POST", "/v1/apps/acme/endpoints", `{"url":42}`, 400, "invalid_type", "url"},
		{"event_types type", "POST", "/v1/apps/acme/endpoints", `{"url":"http://example.com","event_types":"a"}`, 400, "invalid_type", "event_types"},
		{"event_types item", "POST", "/v1/apps/acme/endpoints", `{"url":"http://example.com","event_types":[""]}`, 422, "required", "event_types"},
		{"bad secret", "POST", "/v1/apps/acme/endpoints", `{"url":"http://example.com","secret":"whsec_!!"}`, 422, "invalid", "secret"},
		{"bad timeout", "POST", "/v1/apps/acme/endpoints", `{"url":"http://example.com","timeout_ms":-5}`, 422, "invalid", "timeout_ms"},
		{"enabled type", "POST", "/v1/apps/acme/endpoints", `{"url":"http://example.com","enabled":"yes"}`, 400, "invalid_type", "enabled"},
		{"endpoint of missing app", "POST", "/v1/apps/nope/endpoints", `{"url":"http://example.com"}`, 404, "not_found", ""},
		{"event type missing", "POST", "/v1/apps/acme/events", `{"payload":{}}`, 422, "required", "event_type"},
		{"payload missing", "POST", "/v1/apps/acme/events", `{"event_type":"lead.created"}`, 422, "required", "payload"},
		{"payload null", "POST", "/v1/apps/acme/events", `{"event_type":"lead.created","payload":null}`, 422, "required", "payload"},
		{"undeclared type", "POST", "/v1/apps/acme/events", `{"event_type":"lead.deleted","payload":{}}`, 422, "invalid", "event_type"},
		{"type is case-sensitive", "POST", "/v1/apps/acme/events", `{"event_type":"Lead.Created","payload":{}}`, 422, "invalid", "event_type"},
		{"event of missing app", "POST", "/v1/apps/nope/events", `{"event_type":"lead.created","payload":{}}`, 404, "not_found", ""},
		{"bad limit", "GET", "/v1/apps?limit=0", ``, 400, "invalid", "limit"},
		{"limit not a number", "GET", "/v1/apps?limit=ten", ``, 400, "invalid", "limit"},
		{"limit too big", "GET", "/v1/apps?limit=100000", ``, 400, "invalid", "limit"},
		{"bad since", "GET", "/v1/apps/acme/events?since=yesterday", ``, 400, "invalid", "since"},
		{"bad status", "GET", "/v1/apps/acme/endpoints/x/deliveries?status=done", ``, 400, "invalid", "status"},
		{"missing app", "GET", "/v1/apps/nope", ``, 404, "not_found", ""},
		{"missing event type", "GET", "/v1/event-types/nope", ``, 404, "not_found", ""},
		{"missing endpoint", "GET", "/v1/apps/acme/endpoints/ep_nope", ``, 404, "not_found", ""},
		{"missing event", "GET", "/v1/apps/acme/events/evt_nope", ``, 404, "not_found", ""},
		{"missing delivery", "GET", "/v1/apps/acme/deliveries/dlv_nope", ``, 404, "not_found", ""},
		{"wrong method", "PUT", "/v1/apps", `{}`, 405, "method_not_allowed", ""},
		{"unknown route", "GET", "/v1/nothing", ``, 404, "not_found", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			var e apiError
			got := s.Invalid().Do(c.method, c.path, body, &e)
			if got != c.status || e.Error.Code != c.code || e.Error.Field != c.field {
				t.Fatalf("got %d %q field %q (%s); want %d %q field %q", got, e.Error.Code, e.Error.Field, e.Error.Message, c.status, c.code, c.field)
			}
			if e.Error.Message == "" {
				t.Fatal("error without a message")
			}
		})
	}
}

func TestAppCRUD(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	var a struct {
		ID, Name  string
		UID       *string
		CreatedAt string `json:"created_at"`
	}
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "No uid"}, &a, 201)
	if a.UID != nil || !strings.HasPrefix(a.ID, "app_") || a.CreatedAt == "" {
		t.Fatalf("created %+v", a)
	}
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, &a, 201)
	id := a.ID
	// Reachable by id and by uid.
	for _, ref := range []string{id, "acme"} {
		s.MustDo("GET", "/v1/apps/"+ref, nil, &a, 200)
		if a.ID != id {
			t.Fatalf("GET %s gave %s", ref, a.ID)
		}
	}
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"name": "Acme Inc", "uid": "acme-inc"}, &a, 200)
	if a.Name != "Acme Inc" || *a.UID != "acme-inc" {
		t.Fatalf("patched %+v", a)
	}
	s.MustDo("GET", "/v1/apps/acme", nil, nil, 404)
	s.MustDo("DELETE", "/v1/apps/acme-inc", nil, nil, 204)
	s.MustDo("GET", "/v1/apps/"+id, nil, nil, 404)
}

func TestEndpointCRUDAndSecret(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup("https://example.com/hook", map[string]any{"description": "CRM"})
	var ep map[string]any
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &ep, 200)
	if ep["enabled"] != true || ep["description"] != "CRM" || ep["secret"] != nil {
		t.Fatalf("endpoint %v", ep)
	}
	if et, _ := ep["event_types"].([]any); et == nil || len(et) != 0 {
		t.Fatalf("event_types should be [] (every event): %v", ep["event_types"])
	}
	var sec struct{ Secret string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/secret", nil, &sec, 200)
	if !strings.HasPrefix(sec.Secret, "whsec_") {
		t.Fatalf("secret %q", sec.Secret)
	}
	// A given secret is kept.
	var ep2 struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/2", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, &ep2, 201)
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep2.ID+"/secret", nil, &sec, 200)
	if sec.Secret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" {
		t.Fatalf("secret %q", sec.Secret)
	}
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"enabled": false, "event_types": []string{"lead.created", "lead.created"}}, &ep, 200)
	if ep["enabled"] != false || len(ep["event_types"].([]any)) != 1 {
		t.Fatalf("patched %v", ep)
	}
	// Another app cannot see it.
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	s.MustDo("GET", "/v1/apps/other/endpoints/"+epID, nil, nil, 404)
	s.MustDo("DELETE", "/v1/apps/other/endpoints/"+epID, nil, nil, 404)
	s.MustDo("DELETE", "/v1/apps/acme/endpoints/"+epID, nil, nil, 204)
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, nil, 404)
}

func TestEventTypeCRUD(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	var et map[string]any
	s.MustDo("POST", "/v1/event-types", map[string]any{
		"name": "conversation_created", "description": "A conversation began",
		"schema": map[string]any{"type": "object"}, "sample": map[string]any{"id": 1},
	}, &et, 201)
	s.MustDo("GET", "/v1/event-types/conversation_created", nil, &et, 200)
	if et["description"] != "A conversation began" || et["sample"].(map[string]any)["id"] != float64(1) {
		t.Fatalf("got %v", et)
	}
	// Names are case-sensitive.
	s.MustDo("GET", "/v1/event-types/Conversation_Created", nil, nil, 404)
	s.MustDo("PATCH", "/v1/event-types/conversation_created", map[string]any{"sample": nil, "description": "d"}, &et, 200)
	if et["sample"] != nil || et["description"] != "d" || et["schema"] == nil {
		t.Fatalf("patched %v", et)
	}
	s.MustDo("DELETE", "/v1/event-types/conversation_created", nil, nil, 204)
	s.MustDo("GET", "/v1/event-types/conversation_created", nil, nil, 404)
}

func TestPagination(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	for i := range 7 {
		s.MustDo("POST", "/v1/apps", map[string]any{"name": fmt.Sprintf("app %d", i)}, nil, 201)
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		var pg struct {
			Data       []struct{ ID, Name string }
			NextCursor *string `json:"next_cursor"`
		}
		s.MustDo("GET", "/v1/apps?limit=3&cursor="+cursor, nil, &pg, 200)
		pages++
		for _, a := range pg.Data {
			if seen[a.ID] {
				t.Fatalf("app %s on two pages", a.ID)
			}
			seen[a.ID] = true
		}
		if pg.NextCursor == nil {
			break
		}
		cursor = *pg.NextCursor
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("saw %d apps in %d pages", len(seen), pages)
	}
	// Events newest first, filtered by time.
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	var ids []string
	for i := range 5 {
		ids = append(ids, s.Send(map[string]any{"n": i}))
	}
	var evs struct {
		Data []struct {
			ID        string
			CreatedAt string `json:"created_at"`
		}
	}
	s.MustDo("GET", "/v1/apps/acme/events?limit=10", nil, &evs, 200)
	if len(evs.Data) != 5 || evs.Data[0].ID != ids[4] {
		t.Fatalf("events %+v", evs.Data)
	}
	s.MustDo("GET", "/v1/apps/acme/events?since="+evs.Data[1].CreatedAt, nil, &evs, 200)
	if len(evs.Data) != 2 {
		t.Fatalf("since: %d events", len(evs.Data))
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL, nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	send := func(app, key string) (string, http.Header) {
		var ev struct{ ID string }
		h := http.Header{"Authorization": {"Bearer " + heraldtest.Token}, "Idempotency-Key": {key}}
		req, _ := json.Marshal(map[string]any{"event_type": "lead.created", "payload": map[string]any{"k": key}})
		if got := s.DoWith("POST", "/v1/apps/"+app+"/events", req, &ev, h); got != 202 {
			t.Fatalf("status %d", got)
		}
		return ev.ID, nil
	}
	first, _ := send("acme", "key-1")
	again, _ := send("acme", "key-1")
	if first != again {
		t.Fatalf("same key gave %s then %s", first, again)
	}
	other, _ := send("acme", "key-2")
	otherApp, _ := send("other", "key-1")
	if other == first || otherApp == first {
		t.Fatal("a different key or app must create a new event")
	}
	var evs struct{ Data []any }
	s.MustDo("GET", "/v1/apps/acme/events", nil, &evs, 200)
	if len(evs.Data) != 2 {
		t.Fatalf("acme has %d events, want 2", len(evs.Data))
	}
	// Only one delivery went out for the repeated key.
	rc.Wait(t, 2, 5*1e9)
	var ds struct{ Data []any }
	s.MustDo("GET", "/v1/apps/acme/events/"+first+"/deliveries", nil, &ds, 200)
	if len(ds.Data) != 1 {
		t.Fatalf("%d deliveries for the repeated event", len(ds.Data))
	}
	// The event keeps its key and says where it was routed.
	var ev struct {
		IdempotencyKey string `json:"idempotency_key"`
		Routing        struct{ Matched []string }
	}
	s.MustDo("GET", "/v1/apps/acme/events/"+first, nil, &ev, 200)
	if ev.IdempotencyKey != "key-1" || len(ev.Routing.Matched) != 1 {
		t.Fatalf("event %+v", ev)
	}
}

func TestEventTypeImport(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "keep.me", "description": "old"}, nil, 201)
	catalog := map[string]any{"event_types": []any{
		map[string]any{"name": "nps.submitted", "group": "nps", "schema": map[string]any{"type": "object", "properties": map[string]any{"score": map[string]any{"type": "integer"}}}, "sample": map[string]any{"score": 9}},
		map[string]any{"name": "keep.me", "description": "new"},
	}}
	var out struct {
		Created, Updated, Unchanged []string
		DryRun                      bool `json:"dry_run"`
	}
	dry := map[string]any{"event_types": catalog["event_types"], "dry_run": true}
	s.MustDo("POST", "/v1/event-types/import", dry, &out, 200)
	if fmt.Sprint(out.Created, out.Updated) != "[nps.submitted] [keep.me]" || !out.DryRun {
		t.Fatalf("dry run %+v", out)
	}
	s.MustDo("GET", "/v1/event-types/nps.submitted", nil, nil, 404)
	s.MustDo("POST", "/v1/event-types/import", catalog, &out, 200)
	var et map[string]any
	s.MustDo("GET", "/v1/event-types/keep.me", nil, &et, 200)
	if et["description"] != "new" {
		t.Fatalf("updated %v", et)
	}
	s.MustDo("POST", "/v1/event-types/import", catalog, &out, 200)
	if len(out.Unchanged) != 2 || len(out.Created)+len(out.Updated) != 0 {
		t.Fatalf("re-import %+v", out)
	}
	// One bad entry (a sample against its schema) changes nothing.
	bad := map[string]any{"event_types": []any{
		map[string]any{"name": "fresh.one"},
		map[string]any{"name": "nps.other", "schema": map[string]any{"type": "object", "required": []string{"score"}}, "sample": map[string]any{}},
	}}
	var e apiError
	if got := s.Do("POST", "/v1/event-types/import", bad, &e); got != 422 || e.Error.Field != "event_types.1.sample" {
		t.Fatalf("bad entry: %d %+v", got, e)
	}
	s.MustDo("GET", "/v1/event-types/fresh.one", nil, nil, 404)
}
