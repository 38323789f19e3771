package svixapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

type eventTypeOut struct {
	Name        string                     `json:"name"`
	Description string                     `json:"description"`
	Archived    bool                       `json:"archived"`
	Deprecated  bool                       `json:"deprecated"`
	Schemas     map[string]json.RawMessage `json:"schemas"`
	GroupName   *string                    `json:"groupName"`
}

func TestEventTypes(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	schema := map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string"}},
		"required": []string{"id"}, "examples": []any{map[string]any{"id": "first"}, map[string]any{"id": "second"}}}

	var raw json.RawMessage
	s.MustDo("POST", "/api/v1/event-type", map[string]any{"name": "user.signup", "description": "A user signed up",
		"schemas": map[string]any{"1": schema}, "groupName": "users", "featureFlags": []string{"beta"}, "archived": false}, &raw, 201)
	if got := keys(t, raw); got != "archived,createdAt,deprecated,description,featureFlag,featureFlags,groupName,name,schemas,updatedAt" {
		t.Fatalf("EventTypeOut fields: %s", got)
	}
	var et eventTypeOut
	_ = json.Unmarshal(raw, &et)
	if et.Name != "user.signup" || et.Description != "A user signed up" || et.Archived || et.Deprecated ||
		et.GroupName == nil || *et.GroupName != "users" || len(et.Schemas["1"]) == 0 || len(et.Schemas) != 1 {
		t.Fatalf("created: %s", raw)
	}
	// Herald's own view: schema, group, and the first example as sample.
	var native struct {
		Schema map[string]any
		Sample map[string]any
		Group  string
	}
	s.MustDo("GET", "/v1/event-types/user.signup", nil, &native, 200)
	if native.Group != "users" || native.Schema["type"] != "object" || native.Sample["id"] != "first" {
		t.Fatalf("Herald's event type: %+v", native)
	}

	// PATCH the fields given; deprecated is Herald's.
	s.MustDo("PATCH", "/api/v1/event-type/user.signup", map[string]any{"deprecated": true}, &et, 200)
	if !et.Deprecated || et.Description != "A user signed up" || et.Schemas == nil {
		t.Fatalf("PATCH: %+v", et)
	}
	s.MustDo("PATCH", "/api/v1/event-type/user.signup", map[string]any{"schemas": nil}, &et, 200)
	if et.Schemas != nil {
		t.Fatalf("PATCH schemas null: %+v", et)
	}

	// PUT upserts: 201, then 200 replacing (what is not given is reset).
	s.MustDo("PUT", "/api/v1/event-type/order.paid", map[string]any{"description": "Paid", "groupName": "orders", "deprecated": true}, &et, 201)
	if et.Name != "order.paid" || *et.GroupName != "orders" || !et.Deprecated {
		t.Fatalf("PUT created: %+v", et)
	}
	s.MustDo("PUT", "/api/v1/event-type/order.paid", map[string]any{"description": "Paid, really"}, &et, 200)
	if et.Description != "Paid, really" || et.GroupName != nil || et.Deprecated {
		t.Fatalf("PUT replaced: %+v", et)
	}

	// Refused: archived, other schema versions, a bad schema, unknown
	// fields, a name in a PATCH.
	wantInvalid(t, s, "POST", "/api/v1/event-type", map[string]any{"name": "a.b", "description": "x", "archived": true}, "body", "archived")
	wantInvalid(t, s, "PATCH", "/api/v1/event-type/order.paid", map[string]any{"archived": true}, "body", "archived")
	wantInvalid(t, s, "POST", "/api/v1/event-type", map[string]any{"name": "a.b", "description": "x", "schemas": map[string]any{"2": schema}}, "body", "schemas")
	wantInvalid(t, s, "POST", "/api/v1/event-type", map[string]any{"name": "a.b", "description": "x", "schemas": map[string]any{"1": 5}}, "body", "schemas")
	wantInvalid(t, s, "POST", "/api/v1/event-type", map[string]any{"name": "a.b"}, "body", "description")
	wantInvalid(t, s, "POST", "/api/v1/event-type", map[string]any{"name": "a.b", "description": "x", "color": "red"}, "body", "color")
	wantInvalid(t, s, "POST", "/api/v1/event-type", map[string]any{"name": "bad name", "description": "x"}, "body", "name")
	wantInvalid(t, s, "PATCH", "/api/v1/event-type/order.paid", map[string]any{"name": "other"}, "body", "name")
	wantInvalid(t, s, "GET", "/api/v1/event-type?with_content=maybe", nil, "query", "with_content")

	// Lists: with_content=false leaves schemas out; pages until done.
	for _, n := range []string{"c.1", "c.2", "c.3"} {
		s.MustDo("POST", "/api/v1/event-type", map[string]any{"name": n, "description": n}, nil, 201)
	}
	var names []string
	iter := ""
	for n := 0; ; n++ {
		var p struct {
			Data     []json.RawMessage `json:"data"`
			Iterator *string           `json:"iterator"`
			Done     bool              `json:"done"`
		}
		u := "/api/v1/event-type?limit=2&with_content=false&include_archived=true"
		if iter != "" {
			u += "&iterator=" + iter
		}
		s.MustDo("GET", u, nil, &p, 200)
		for _, d := range p.Data {
			if k := keys(t, d); k != "archived,createdAt,deprecated,description,featureFlag,featureFlags,groupName,name,updatedAt" {
				t.Fatalf("with_content=false: %s", k)
			}
			var x eventTypeOut
			_ = json.Unmarshal(d, &x)
			names = append(names, x.Name)
		}
		if p.Done {
			break
		}
		if p.Iterator == nil || n > 10 {
			t.Fatalf("not done and no iterator")
		}
		iter = *p.Iterator
	}
	if len(names) != 5 {
		t.Fatalf("listed %v", names)
	}
	var withContent struct{ Data []json.RawMessage }
	s.MustDo("GET", "/api/v1/event-type?with_content=true", nil, &withContent, 200)
	if k := keys(t, withContent.Data[0]); k != "archived,createdAt,deprecated,description,featureFlag,featureFlags,groupName,name,schemas,updatedAt" {
		t.Fatalf("with_content=true: %s", k)
	}

	// Deleting deletes for good, expunge or not; an app key may read the
	// catalog, not change it.
	if got := s.Do("DELETE", "/api/v1/event-type/c.1", nil, nil); got != http.StatusNoContent {
		t.Fatalf("DELETE: %d", got)
	}
	if got := s.Do("DELETE", "/api/v1/event-type/c.2?expunge=true", nil, nil); got != http.StatusNoContent {
		t.Fatalf("DELETE expunge: %d", got)
	}
	wantNotFound(t, s, "GET", "/api/v1/event-type/c.1", nil)
	wantNotFound(t, s, "PATCH", "/api/v1/event-type/c.1", map[string]any{"description": "x"})
	wantNotFound(t, s, "DELETE", "/api/v1/event-type/c.1", nil)

	s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	key := appKey(t, s, "acme")
	if got := s.DoWith("GET", "/api/v1/event-type/c.3", nil, nil, key); got != http.StatusOK {
		t.Fatalf("app key reading: %d", got)
	}
	var e svixError
	if got := s.DoWith("DELETE", "/api/v1/event-type/c.3", nil, &e, key); got != http.StatusForbidden {
		t.Fatalf("app key deleting: %d %+v", got, e)
	}
	if got := s.DoWith("GET", "/api/v1/event-type", nil, &e, nil); got != http.StatusUnauthorized {
		t.Fatalf("no token: %d", got)
	}
	if got := s.Do("POST", "/api/v1/event-type/import/openapi", map[string]any{}, &e); got != http.StatusNotImplemented || e.Code != "not_implemented" {
		t.Fatalf("import openapi: %d %+v", got, e)
	}
}
