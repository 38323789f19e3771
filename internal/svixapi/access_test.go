package svixapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// mappedRoutes is every operation of this part of the API that Herald
// honours, each on app acme's things.
var mappedRoutes = []string{
	"POST /api/v1/app", "GET /api/v1/app", "GET /api/v1/app/acme", "PUT /api/v1/app/acme",
	"PATCH /api/v1/app/acme", "DELETE /api/v1/app/acme",
	"POST /api/v1/event-type", "GET /api/v1/event-type", "GET /api/v1/event-type/lead.created",
	"PUT /api/v1/event-type/lead.created", "PATCH /api/v1/event-type/lead.created", "DELETE /api/v1/event-type/lead.created",
	"POST /api/v1/app/acme/endpoint", "GET /api/v1/app/acme/endpoint", "GET /api/v1/app/acme/endpoint/main",
	"PUT /api/v1/app/acme/endpoint/main", "PATCH /api/v1/app/acme/endpoint/main", "DELETE /api/v1/app/acme/endpoint/main",
	"GET /api/v1/app/acme/endpoint/main/secret", "POST /api/v1/app/acme/endpoint/main/secret/rotate",
	"GET /api/v1/app/acme/endpoint/main/headers", "PUT /api/v1/app/acme/endpoint/main/headers",
	"PATCH /api/v1/app/acme/endpoint/main/headers", "POST /api/v1/app/acme/endpoint/main/recover",
	"POST /api/v1/app/acme/endpoint/main/replay-missing", "POST /api/v1/app/acme/endpoint/main/send-example",
	"GET /api/v1/app/acme/endpoint/main/stats",
	"POST /api/v1/auth/app-portal-access/acme", "POST /api/v1/auth/dashboard-access/acme",
	"POST /api/v1/auth/logout", "POST /api/v1/auth/app/acme/expire-all",
}

// TestAccess: without a token every operation answers 401, with a bad
// one too; another app's key never reaches acme's things (404, or 403
// where only an admin may act), and changes nothing.
func TestAccess(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	svixSetup(t, s)
	s.MustDo("POST", "/api/v1/app/acme/endpoint", map[string]any{"url": "https://example.com/hook", "uid": "main"}, nil, 201)
	s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	other := appKey(t, s, "other")
	bodies := map[string]any{
		"POST /api/v1/app":                                   map[string]any{"name": "X"},
		"PUT /api/v1/app/acme":                               map[string]any{"name": "X"},
		"PATCH /api/v1/app/acme":                             map[string]any{"name": "X"},
		"POST /api/v1/event-type":                            map[string]any{"name": "x.y", "description": "x"},
		"PUT /api/v1/event-type/lead.created":                map[string]any{"description": "x"},
		"PATCH /api/v1/event-type/lead.created":              map[string]any{"description": "x"},
		"POST /api/v1/app/acme/endpoint":                     map[string]any{"url": "https://example.com/x"},
		"PUT /api/v1/app/acme/endpoint/main":                 map[string]any{"url": "https://example.com/x"},
		"PATCH /api/v1/app/acme/endpoint/main":               map[string]any{"description": "x"},
		"PUT /api/v1/app/acme/endpoint/main/headers":         map[string]any{"headers": map[string]string{"X-A": "1"}},
		"PATCH /api/v1/app/acme/endpoint/main/headers":       map[string]any{"headers": map[string]string{"X-A": "1"}},
		"POST /api/v1/app/acme/endpoint/main/recover":        map[string]any{"since": "2026-01-01T00:00:00Z"},
		"POST /api/v1/app/acme/endpoint/main/replay-missing": map[string]any{"since": "2026-01-01T00:00:00Z"},
		"POST /api/v1/app/acme/endpoint/main/send-example":   map[string]any{"eventType": "lead.created"},
	}
	for _, rt := range mappedRoutes {
		method, p, _ := strings.Cut(rt, " ")
		body := bodies[rt]
		if body == nil && method != "GET" && method != "DELETE" {
			body = map[string]any{}
		}
		for name, h := range map[string]http.Header{"no token": nil, "a bad token": {"Authorization": {"Bearer hk_nope"}}} {
			var e svixError
			if got := s.DoWith(method, p, body, &e, h); got != http.StatusUnauthorized || e.Code == "" || e.Detail == "" {
				t.Errorf("%s with %s: %d %+v, want 401", rt, name, got, e)
			}
		}
		var raw json.RawMessage
		got := s.DoWith(method, p, body, &raw, other)
		switch {
		case rt == "POST /api/v1/auth/logout" && got == 422: // not a portal token
		case rt == "GET /api/v1/app" || rt == "GET /api/v1/event-type" || rt == "GET /api/v1/event-type/lead.created":
			if got != 200 || strings.Contains(string(raw), `"acme"`) {
				t.Errorf("%s with another app's key: %d %s", rt, got, raw)
			}
		case got != http.StatusNotFound && got != http.StatusForbidden:
			t.Errorf("%s with another app's key: %d %s, want 404 or 403", rt, got, raw)
		}
	}
	// acme and its endpoint are as they were.
	var a appOut
	s.MustDo("GET", "/api/v1/app/acme", nil, &a, 200)
	var ep endpointOut
	s.MustDo("GET", "/api/v1/app/acme/endpoint/main", nil, &ep, 200)
	if a.Name != "Acme" || ep.URL != "https://example.com/hook" {
		t.Fatalf("changed by another app's key: %+v %+v", a, ep)
	}
}
