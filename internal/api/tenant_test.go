package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// Tenants set their delivery settings only within the installation's
// ceilings, on apps and endpoints, created or changed: a schedule of
// thousands of instant retries (a flood against any target, and a full
// attempts table), a cap of a thousand requests in flight or a two-minute
// timeout are refused, naming the field and the ceiling.
func TestTenantCeilings(t *testing.T) {
	t.Parallel()
	defaults := config.Defaults(app.Vars())
	s := heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) {
		// Start allows any retry wait; these tests need the default.
		c.MinRetryDelay = defaults.MinRetryDelay
		c.RetrySchedule = "1s,1s"
	}})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/hook"}, &ep, 201)
	tenant := mkKey(t, s, map[string]any{"name": "acme", "scope": "app", "app": "acme"})

	repeat := func(wait string, n int) string { return strings.TrimSuffix(strings.Repeat(wait+",", n), ",") }
	type call struct{ method, path string }
	calls := []call{
		{"POST", "/v1/apps"},
		{"PATCH", "/v1/apps/acme"},
		{"POST", "/v1/apps/acme/endpoints"},
		{"PATCH", "/v1/apps/acme/endpoints/" + ep.ID},
	}
	for _, c := range []struct {
		field string
		value any
		name  string
		says  []string
	}{
		{"retry_schedule", repeat("0s", 2000), "2,000 instant retries", []string{"2000 retries", "30", "--max-retries"}},
		{"retry_schedule", repeat("1s", 31), "31 retries", []string{"31 retries", "30", "--max-retries"}},
		{"retry_schedule", "5s,100ms", "a 100ms wait", []string{"item 2", "100ms", "1s", "--min-retry-delay"}},
		{"max_in_flight", 1000, "1,000 in flight", []string{"from 1 to 64", "--max-tenant-in-flight"}},
		{"timeout_ms", 120_000, "a two-minute timeout", []string{"from 1 to 30000", "30s", "--max-tenant-timeout"}},
	} {
		for _, cl := range calls {
			body := map[string]any{c.field: c.value}
			h := bearer(tenant)
			switch cl.path {
			case "/v1/apps":
				body["name"] = "Other"
				h = bearer(heraldtest.Token) // only the operator creates apps
			case "/v1/apps/acme/endpoints":
				body["url"] = "https://example.com/other"
			}
			var e apiError
			got := s.DoWith(cl.method, cl.path, body, &e, h)
			if got != 422 || e.Error.Code != "invalid" || e.Error.Field != c.field {
				t.Errorf("%s %s with %s: %d %+v, want 422 invalid on %s", cl.method, cl.path, c.name, got, e, c.field)
				continue
			}
			for _, w := range c.says {
				if !strings.Contains(e.Error.Message, w) {
					t.Errorf("%s %s with %s: message %q does not say %q", cl.method, cl.path, c.name, e.Error.Message, w)
				}
			}
		}
	}

	// At the ceilings, everything is accepted.
	atCeilings := map[string]any{"retry_schedule": repeat("1s", 30), "max_in_flight": 64, "timeout_ms": 30_000}
	for _, cl := range calls[1:] {
		body := map[string]any{}
		for k, v := range atCeilings {
			body[k] = v
		}
		if cl.path == "/v1/apps/acme/endpoints" {
			body["url"] = "https://example.com/third"
		}
		if got := s.DoWith(cl.method, cl.path, body, nil, bearer(tenant)); got/100 != 2 {
			t.Errorf("%s %s at the ceilings: %d", cl.method, cl.path, got)
		}
	}
}

// The ceilings are the operator's to set: lowered, they refuse what the
// defaults allow; the installation's own settings are not bound by them.
func TestTenantCeilingsFollowTheFlags(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) {
		c.MaxTenantInFlight, c.MaxTenantTimeout, c.MaxRetries, c.MinRetryDelay = 4, 2*time.Second, 3, 500*time.Millisecond
		c.MaxInFlight, c.RequestTimeout, c.RetrySchedule = 32, 10*time.Second, "1s,1s,1s"
	}})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	for _, c := range []struct {
		field string
		value any
		says  string
	}{
		{"max_in_flight", 5, "from 1 to 4"},
		{"timeout_ms", 2001, "from 1 to 2000 (2s"},
		{"retry_schedule", "1s,1s,1s,1s", "4 retries, more than the 3"},
		{"retry_schedule", "1s,499ms", "shorter than 500ms"},
	} {
		var e apiError
		if got := s.Do("PATCH", "/v1/apps/acme", map[string]any{c.field: c.value}, &e); got != 422 || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.says) {
			t.Errorf("%s %v: %d %+v, want 422 saying %q", c.field, c.value, got, e, c.says)
		}
	}
	var ep struct {
		EffectiveDelivery struct {
			RetrySchedule string `json:"retry_schedule"`
			TimeoutMS     int    `json:"timeout_ms"`
			MaxInFlight   int    `json:"max_in_flight"`
		} `json:"effective_delivery"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/hook"}, &ep, 201)
	if e := ep.EffectiveDelivery; e.MaxInFlight != 32 || e.TimeoutMS != 10_000 || e.RetrySchedule != "1s,1s,1s" {
		t.Fatalf("the installation's own settings in force: %+v, want them as set", e)
	}
}
