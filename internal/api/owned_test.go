package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// appSettings is what these tests read back of an app.
type appSettings struct {
	UID                      string `json:"uid"`
	Name                     string `json:"name"`
	MonthlyDeliveryQuota     int64  `json:"monthly_delivery_quota"`
	MaxEndpointsPerEventType int    `json:"max_endpoints_per_event_type"`
	MaxInFlight              int    `json:"max_in_flight"`
}

// An app key is the customer's own: it cannot lift the limits the
// operator set for its app nor rename the product's handle for it, and
// whatever else it sent in the same call is not applied either. Values
// sent back unchanged pass (the console sends the whole form).
func TestOperatorOwnedAppSettings(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme", "monthly_delivery_quota": 10, "max_endpoints_per_event_type": 3}, nil, 201)
	tenant := mkKey(t, s, map[string]any{"name": "acme", "scope": "app", "app": "acme"})
	want := appSettings{UID: "acme", Name: "Acme", MonthlyDeliveryQuota: 10, MaxEndpointsPerEventType: 3}
	check := func(what string) {
		t.Helper()
		var got appSettings
		s.MustDo("GET", "/v1/apps/acme", nil, &got, 200)
		if got != want {
			t.Fatalf("%s: the app is %+v, want %+v", what, got, want)
		}
	}

	for _, c := range []struct {
		field string
		body  map[string]any
	}{
		{"monthly_delivery_quota", map[string]any{"monthly_delivery_quota": 0}},
		{"monthly_delivery_quota", map[string]any{"name": "Acme (unlimited)", "monthly_delivery_quota": 1_000_000}},
		{"uid", map[string]any{"uid": "someone-else"}},
		{"uid", map[string]any{"uid": ""}},
		{"max_endpoints_per_event_type", map[string]any{"max_endpoints_per_event_type": 0, "max_in_flight": 2}},
		{"max_endpoints_per_event_type_per_channel", map[string]any{"max_endpoints_per_event_type_per_channel": 5}},
	} {
		var e apiError
		got := s.DoWith("PATCH", "/v1/apps/acme", c.body, &e, bearer(tenant))
		if got != http.StatusForbidden || e.Error.Code != "forbidden" || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.field) {
			t.Errorf("app key PATCH %v: %d %+v, want 403 forbidden naming %s", c.body, got, e, c.field)
		}
		check(fmt.Sprintf("after the app key's PATCH %v", c.body))
	}

	// The whole form, operator's values unchanged, with the tenant's own
	// settings changed: accepted.
	var got appSettings
	if code := s.DoWith("PATCH", "/v1/apps/acme", map[string]any{"name": "Acme Corp", "uid": "acme", "monthly_delivery_quota": 10,
		"max_endpoints_per_event_type": 3, "max_in_flight": 8, "timeout_ms": 2000, "retry_schedule": "5s,1m"}, &got, bearer(tenant)); code != 200 {
		t.Fatalf("app key sending the operator's values unchanged: %d", code)
	}
	want.Name, want.MaxInFlight = "Acme Corp", 8
	check("after the app key's PATCH of its own settings")

	// The operator changes them, with the admin token or an admin key.
	admin := mkKey(t, s, map[string]any{"name": "ops", "scope": "admin"})
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"monthly_delivery_quota": 20}, nil, 200)
	if code := s.DoWith("PATCH", "/v1/apps/acme", map[string]any{"uid": "acme-corp", "max_endpoints_per_event_type": 0}, nil, bearer(admin)); code != 200 {
		t.Fatalf("admin key: %d", code)
	}
	s.MustDo("GET", "/v1/apps/acme-corp", nil, &got, 200)
	if got.MonthlyDeliveryQuota != 20 || got.MaxEndpointsPerEventType != 0 {
		t.Fatalf("after the operator's changes: %+v", got)
	}

	// A portal session cannot change its app at all.
	var ps struct{ Token string }
	s.MustDo("POST", "/v1/apps/acme-corp/portal-sessions", map[string]any{}, &ps, 201)
	var e apiError
	if code := s.DoWith("PATCH", "/v1/apps/acme-corp", map[string]any{"monthly_delivery_quota": 0}, &e, bearer(ps.Token)); code != 403 || e.Error.Code != "forbidden" {
		t.Fatalf("portal session PATCH of the quota: %d %+v", code, e)
	}
}
