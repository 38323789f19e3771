package svixapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

type accessOut struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

type whoami struct {
	Scope     string    `json:"scope"`
	AppID     string    `json:"app_id"`
	ReadOnly  bool      `json:"read_only"`
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func TestPortalAccess(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	var app appOut
	s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Acme", "uid": "acme"}, &app, 201)

	var raw json.RawMessage
	s.MustDo("POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"featureFlags": []string{"x"}}, &raw, 200)
	if k := keys(t, raw); k != "token,url" {
		t.Fatalf("AppPortalAccessOut fields: %s", k)
	}
	var out accessOut
	_ = json.Unmarshal(raw, &out)
	if !strings.Contains(out.URL, "/portal/") || !strings.Contains(out.URL, out.Token) || out.Token == "" {
		t.Fatalf("access: %+v", out)
	}
	var who whoami
	if got := s.DoWith("GET", "/v1/whoami", nil, &who, bearer(out.Token)); got != 200 || who.Scope != "portal" || who.AppID != app.ID || who.ReadOnly {
		t.Fatalf("the token: %d %+v", got, who)
	}
	if d := time.Until(who.ExpiresAt); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour {
		t.Fatalf("default expiry in %v, want 7 days", d)
	}
	// The token reaches its app's endpoints through the Svix API.
	if got := s.DoWith("POST", "/api/v1/app/acme/endpoint", map[string]any{"url": "https://example.com/p"}, nil, bearer(out.Token)); got != 201 {
		t.Fatalf("the portal token creating an endpoint: %d", got)
	}

	// Read-only: readOnly, or capabilities [ViewBase]; expiry in seconds.
	for _, body := range []map[string]any{
		{"readOnly": true, "expiry": 3600},
		{"capabilities": []string{"ViewBase"}, "expiry": 3600},
	} {
		s.MustDo("POST", "/api/v1/auth/app-portal-access/acme", body, &out, 200)
		s.DoWith("GET", "/v1/whoami", nil, &who, bearer(out.Token))
		if !who.ReadOnly || time.Until(who.ExpiresAt) > time.Hour {
			t.Fatalf("%v: %+v", body, who)
		}
	}
	s.MustDo("POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"capabilities": []string{"ViewBase", "ViewEndpointSecret", "ManageEndpointSecret", "CreateAttempts", "ManageEndpoint", "ManageTransformations"}}, &out, 200)
	s.DoWith("GET", "/v1/whoami", nil, &who, bearer(out.Token))
	if who.ReadOnly {
		t.Fatalf("every capability: read-only")
	}
	if who.Role != "admin" {
		t.Fatalf("every capability: role %q, want admin", who.Role)
	}
	// Endpoints and test sends, the secret read but not managed: a
	// developer. Without reading the secret, no session of Herald's fits.
	s.MustDo("POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"capabilities": []string{"ViewBase", "ViewEndpointSecret", "CreateAttempts", "ManageEndpoint"}}, &out, 200)
	s.DoWith("GET", "/v1/whoami", nil, &who, bearer(out.Token))
	if who.ReadOnly || who.Role != "developer" {
		t.Fatalf("capabilities without managing the secret: %+v, want role developer", who)
	}
	wantInvalid(t, s, "POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"capabilities": []string{"ViewBase", "CreateAttempts", "ManageEndpoint"}}, "body", "capabilities")
	wantInvalid(t, s, "POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"capabilities": []string{"ViewBase", "ViewEndpointSecret", "CreateAttempts", "ManageEndpoint"}, "readOnly": true}, "body", "readOnly")
	wantInvalid(t, s, "POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"capabilities": []string{"ViewBase", "ManageEndpoint"}}, "body", "capabilities")
	wantInvalid(t, s, "POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"capabilities": []string{"ManageEndpoint"}}, "body", "capabilities")
	wantInvalid(t, s, "POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"capabilities": []string{"ViewBase", "Fly"}}, "body", "capabilities")
	wantInvalid(t, s, "POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"sessionId": "s1"}, "body", "sessionId")
	wantInvalid(t, s, "POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"expiry": 10}, "body", "expiry")
	wantInvalid(t, s, "POST", "/api/v1/auth/app-portal-access/acme", map[string]any{"expiry": 8 * 24 * 3600}, "body", "expiry")

	// application makes the app when there is none.
	s.MustDo("POST", "/api/v1/auth/app-portal-access/onthefly", map[string]any{"application": map[string]any{"name": "On the fly"}}, &out, 200)
	var made appOut
	s.MustDo("GET", "/api/v1/app/onthefly", nil, &made, 200)
	if made.Name != "On the fly" {
		t.Fatalf("app made: %+v", made)
	}
	var v validation
	if got := s.Do("POST", "/api/v1/auth/app-portal-access/other", map[string]any{"application": map[string]any{"uid": "x"}}, &v); got != 422 ||
		strings.Join(v.Detail[0].Loc, ".") != "body.application.name" {
		t.Fatalf("application without a name: %d %+v", got, v)
	}
	wantNotFound(t, s, "POST", "/api/v1/auth/app-portal-access/nosuch", map[string]any{})

	// dashboard-access (1.x) answers the same.
	s.MustDo("POST", "/api/v1/auth/dashboard-access/acme", nil, &raw, 200)
	if k := keys(t, raw); k != "token,url" {
		t.Fatalf("DashboardAccessOut fields: %s", k)
	}

	// Another app's key, no token.
	key := appKey(t, s, "onthefly")
	if got := s.DoWith("POST", "/api/v1/auth/app-portal-access/acme", map[string]any{}, nil, key); got != 404 {
		t.Fatalf("another app's key: %d", got)
	}
	if got := s.DoWith("POST", "/api/v1/auth/app-portal-access/onthefly", map[string]any{}, nil, key); got != 200 {
		t.Fatalf("the app's own key: %d", got)
	}
	var e svixError
	if got := s.DoWith("POST", "/api/v1/auth/app-portal-access/acme", map[string]any{}, &e, nil); got != 401 {
		t.Fatalf("no token: %d", got)
	}
}

func TestLogoutAndExpireAll(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	session := func(app string, body any) string {
		var out accessOut
		s.MustDo("POST", "/api/v1/auth/app-portal-access/"+app, body, &out, 200)
		return out.Token
	}

	// A portal token logs itself out, read-only too.
	for _, body := range []any{map[string]any{}, map[string]any{"readOnly": true}} {
		tok := session("acme", body)
		if got := s.DoWith("POST", "/api/v1/auth/logout", nil, nil, bearer(tok)); got != 204 {
			t.Fatalf("logout: %d", got)
		}
		if got := s.DoWith("GET", "/api/v1/app/acme", nil, nil, bearer(tok)); got != 401 {
			t.Fatalf("after logout: %d", got)
		}
	}
	// The admin token and API keys are not logged out.
	var v validation
	if got := s.Do("POST", "/api/v1/auth/logout", nil, &v); got != 422 || v.Detail[0].Loc[1] != "authorization" {
		t.Fatalf("admin logout: %d %+v", got, v)
	}
	key := appKey(t, s, "acme")
	if got := s.DoWith("POST", "/api/v1/auth/logout", nil, nil, key); got != 422 {
		t.Fatalf("key logout: %d", got)
	}
	if got := s.DoWith("GET", "/api/v1/app/acme", nil, nil, key); got != 200 {
		t.Fatalf("the key after a refused logout: %d", got)
	}
	if got := s.DoWith("POST", "/api/v1/auth/logout", nil, nil, nil); got != 401 {
		t.Fatalf("logout without a token: %d", got)
	}

	// expire-all ends the app's sessions, not another app's.
	a1, a2, o := session("acme", map[string]any{}), session("acme", map[string]any{"readOnly": true}), session("other", map[string]any{})
	if got := s.DoWith("POST", "/api/v1/auth/app/acme/expire-all", map[string]any{}, nil, key); got != 204 {
		t.Fatalf("expire-all: %d", got)
	}
	for _, tok := range []string{a1, a2} {
		if got := s.DoWith("GET", "/api/v1/app/acme", nil, nil, bearer(tok)); got != 401 {
			t.Fatalf("after expire-all: %d", got)
		}
	}
	if got := s.DoWith("GET", "/api/v1/app/other", nil, nil, bearer(o)); got != 200 {
		t.Fatalf("another app's session after expire-all: %d", got)
	}
	if got := s.DoWith("POST", "/api/v1/auth/app/other/expire-all", map[string]any{}, nil, key); got != 404 {
		t.Fatalf("expire-all of another app: %d", got)
	}
	if got := s.DoWith("POST", "/api/v1/auth/app/other/expire-all", map[string]any{}, nil, bearer(o)); got != 403 {
		t.Fatalf("a portal token expiring all: %d", got)
	}
	if got := s.Do("POST", "/api/v1/auth/app/other/expire-all", nil, nil); got != 204 {
		t.Fatalf("expire-all without a body: %d", got)
	}
	wantInvalid(t, s, "POST", "/api/v1/auth/app/acme/expire-all", map[string]any{"expiry": 60}, "body", "expiry")
	wantInvalid(t, s, "POST", "/api/v1/auth/app/acme/expire-all", map[string]any{"sessionIds": []string{"s"}}, "body", "sessionIds")
	wantNotFound(t, s, "POST", "/api/v1/auth/app/nosuch/expire-all", map[string]any{})
}
