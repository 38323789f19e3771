package api_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestNewEndpointsEnabled: an app whose new endpoints start disabled
// (Pendo's) makes endpoints created without "enabled" disabled; an
// explicit "enabled": true still wins, and null returns to the
// installation's default (enabled).
func TestNewEndpointsEnabled(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Pendo", "uid": "acme", "new_endpoints_enabled": false}, nil, 201)
	var app struct {
		NewEndpointsEnabled *bool `json:"new_endpoints_enabled"`
	}
	s.MustDo("GET", "/v1/apps/acme", nil, &app, 200)
	if app.NewEndpointsEnabled == nil || *app.NewEndpointsEnabled {
		t.Fatalf("new_endpoints_enabled = %v, want false", app.NewEndpointsEnabled)
	}
	create := func(body map[string]any) bool {
		t.Helper()
		body["url"] = rc.URL
		var ep struct{ Enabled bool }
		s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
		return ep.Enabled
	}
	if create(map[string]any{}) {
		t.Error("an endpoint created without enabled started enabled; want disabled")
	}
	if !create(map[string]any{"enabled": true}) {
		t.Error(`"enabled": true at creation did not win`)
	}
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"new_endpoints_enabled": nil}, &app, 200)
	if app.NewEndpointsEnabled != nil {
		t.Fatalf("new_endpoints_enabled = %v after null, want null", *app.NewEndpointsEnabled)
	}
	if !create(map[string]any{}) {
		t.Error("with the installation's default, a new endpoint started disabled")
	}
	var e struct{ Error struct{ Field string } }
	if code := s.Invalid().Do("PATCH", "/v1/apps/acme", map[string]any{"new_endpoints_enabled": "no"}, &e); code != 422 || e.Error.Field != "new_endpoints_enabled" {
		t.Errorf(`"no": %d %+v, want 422 naming new_endpoints_enabled`, code, e)
	}
}
