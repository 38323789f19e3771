package api_test

import (
	"database/sql"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/heraldhq/herald/internal/heraldtest"
)

type portalAnswer struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	AppID     string    `json:"app_id"`
	ReadOnly  bool      `json:"read_only"`
}

func TestPortalSessions(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	var a, b struct{ ID string }
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, &a, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "B", "uid": "b"}, &b, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	var epB struct{ ID string }
	s.MustDo("POST", "/v1/apps/b/endpoints", map[string]any{"url": "https://example.com/b"}, &epB, 201)

	var p portalAnswer
	before := time.Now()
	s.MustDo("POST", "/v1/apps/a/portal-sessions", map[string]any{"expires_in": 120, "primary_color": "#ff6600", "language": "ja", "logo_url": "https://cdn.example.com/logo.png"}, &p, 201)
	if p.AppID != a.ID || p.ReadOnly || !strings.HasPrefix(p.Token, "hk_") {
		t.Fatalf("session %+v", p)
	}
	if d := p.ExpiresAt.Sub(before); d < 110*time.Second || d > 125*time.Second {
		t.Errorf("expires_at %s is %s away, want about 120 s", p.ExpiresAt, d)
	}
	u, err := url.Parse(p.URL)
	if err != nil || u.String() != s.URL+"/portal/?"+u.RawQuery+"#token="+p.Token {
		t.Fatalf("url %q", p.URL)
	}
	if q := u.Query(); q.Get("primary_color") != "#ff6600" || q.Get("language") != "ja" || q.Get("logo_url") != "https://cdn.example.com/logo.png" {
		t.Errorf("theme in the url: %v", q)
	}
	// The link opens the portal's page.
	res, err := http.Get(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "/console/assets/js/main.js") || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("portal page: %d %s", res.StatusCode, page)
	}

	// The token is scoped to its app and to the portal's routes.
	tok := bearer(p.Token)
	var who struct {
		Scope    string `json:"scope"`
		AppID    string `json:"app_id"`
		ReadOnly bool   `json:"read_only"`
	}
	if got := s.DoWith("GET", "/v1/whoami", nil, &who, tok); got != 200 || who.Scope != "portal" || who.AppID != a.ID {
		t.Fatalf("whoami: %d %+v", got, who)
	}
	var ep struct{ ID string }
	if got := s.DoWith("POST", "/v1/apps/a/endpoints", map[string]any{"url": "https://example.com/a"}, &ep, tok); got != 201 {
		t.Fatalf("portal creates an endpoint: %d", got)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/v1/apps/a/endpoints/" + ep.ID, 200},
		{"PATCH", "/v1/apps/a/endpoints/" + ep.ID, 200},
		{"GET", "/v1/apps/a/endpoints/" + ep.ID + "/stats", 200},
		{"GET", "/v1/apps/a/endpoints/" + ep.ID + "/deliveries", 200},
		{"GET", "/v1/apps/a/events", 200},
		{"GET", "/v1/event-types", 200},
		{"GET", "/v1/apps/a", 200},
		// Another app's things do not exist for it.
		{"GET", "/v1/apps/b/endpoints/" + epB.ID, 404},
		{"GET", "/v1/apps/a/endpoints/" + epB.ID, 404},
		{"GET", "/v1/apps/b", 404},
		// The product's own routes are closed.
		{"POST", "/v1/apps/a/events", 403},
		{"PATCH", "/v1/apps/a", 403},
		{"DELETE", "/v1/apps/a", 403},
		{"GET", "/v1/apps", 403},
		{"POST", "/v1/apps/a/portal-sessions", 403},
		{"GET", "/v1/apps/a/usage", 403},
		{"GET", "/v1/apps/a/audit-log", 403},
		{"GET", "/v1/api-keys", 403},
		{"POST", "/v1/event-types", 403},
	} {
		body := map[string]any{"enabled": true}
		if c.method == "POST" {
			body = map[string]any{"event_type": "lead.created", "payload": map[string]any{}}
		}
		if got := s.DoWith(c.method, c.path, body, nil, tok); got != c.want {
			t.Errorf("portal %s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}

	// A read-only session reads and previews only.
	var ro portalAnswer
	s.MustDo("POST", "/v1/apps/a/portal-sessions", map[string]any{"read_only": true}, &ro, 201)
	if !ro.ReadOnly || strings.Contains(ro.URL, "?") {
		t.Errorf("read-only session %+v", ro)
	}
	if got := s.DoWith("GET", "/v1/apps/a/endpoints", nil, nil, bearer(ro.Token)); got != 200 {
		t.Errorf("read-only list: %d", got)
	}
	if got := s.DoWith("PATCH", "/v1/apps/a/endpoints/"+ep.ID, map[string]any{"enabled": false}, nil, bearer(ro.Token)); got != 403 {
		t.Errorf("read-only patch: %d", got)
	}

	// Bad input names its field.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"expires_in": 10}, "expires_in"},
		{map[string]any{"expires_in": 30 * 24 * 3600}, "expires_in"},
		{map[string]any{"expires_in": "1h"}, "expires_in"},
		{map[string]any{"primary_color": "red"}, "primary_color"},
		{map[string]any{"logo_url": "javascript:alert(1)"}, "logo_url"},
		{map[string]any{"language": "fr"}, "language"},
		{map[string]any{"theme": "dark"}, "theme"},
	} {
		var e apiError
		if got := s.Do("POST", "/v1/apps/a/portal-sessions", c.body, &e); got/100 != 4 || e.Error.Field != c.field {
			t.Errorf("%v: %d %+v, want a 4xx naming %s", c.body, got, e, c.field)
		}
	}
	if got := s.Do("POST", "/v1/apps/missing/portal-sessions", map[string]any{}, nil); got != 404 {
		t.Errorf("unknown app: %d", got)
	}

	// An app key may open sessions for its own app only; revoking the
	// session's key ends it.
	appKey := mkKey(t, s, map[string]any{"name": "a", "scope": "app", "app": "a"})
	if got := s.DoWith("POST", "/v1/apps/b/portal-sessions", map[string]any{}, nil, bearer(appKey)); got != 404 {
		t.Errorf("app key, other app: %d", got)
	}
	var mine portalAnswer
	if got := s.DoWith("POST", "/v1/apps/a/portal-sessions", map[string]any{}, &mine, bearer(appKey)); got != 201 {
		t.Fatalf("app key, own app: %d", got)
	}
	s.MustDo("DELETE", "/v1/api-keys/"+mine.ID, nil, nil, 204)
	if got := s.DoWith("GET", "/v1/whoami", nil, nil, bearer(mine.Token)); got != 401 {
		t.Errorf("revoked session: %d", got)
	}
}

func TestPortalSessionExpires(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{PublicURL: "https://hooks.example.com/"})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	var p portalAnswer
	s.MustDo("POST", "/v1/apps/a/portal-sessions", map[string]any{"expires_in": 60}, &p, 201)
	if !strings.HasPrefix(p.URL, "https://hooks.example.com/portal/#token=hk_") {
		t.Errorf("url %q does not start with the public URL", p.URL)
	}
	// The clock is real: move the key's expiry into the past instead of
	// waiting a minute.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.Dir, "herald.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `UPDATE api_keys SET expires_at = ? WHERE id = ?`,
		time.Now().Add(-time.Second).UnixMicro(), p.ID); err != nil {
		t.Fatal(err)
	}
	var e apiError
	if got := s.DoWith("GET", "/v1/whoami", nil, &e, bearer(p.Token)); got != 401 || !strings.Contains(e.Error.Message, "expired") {
		t.Errorf("expired session: %d %+v", got, e)
	}
}

func TestWhoami(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	var who map[string]any
	s.MustDo("GET", "/v1/whoami", nil, &who, 200)
	if who["scope"] != "admin" || who["key_id"] != "admin" || who["read_only"] != false {
		t.Errorf("admin whoami %v", who)
	}
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	ro := mkKey(t, s, map[string]any{"name": "a", "scope": "app", "app": "a", "read_only": true})
	if got := s.DoWith("GET", "/v1/whoami", nil, &who, bearer(ro)); got != 200 || who["scope"] != "app" || who["read_only"] != true || who["app_id"] == "" {
		t.Errorf("app key whoami %d %v", got, who)
	}
	if got := s.DoWith("GET", "/v1/whoami", nil, nil, bearer("hk_nope")); got != 401 {
		t.Errorf("bad key: %d", got)
	}
}

func TestConsoleServed(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := noRedirect.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}
	for _, c := range []struct{ path, location string }{{"/", "/console/"}, {"/console", "/console/"}, {"/portal", "/portal/"}} {
		if res, _ := get(c.path); res.StatusCode/100 != 3 || res.Header.Get("Location") != c.location {
			t.Errorf("GET %s: %d to %q", c.path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// Deep links get the app's page, which routes in the browser.
	for _, p := range []string{"/console/", "/console/apps/app_x/endpoints/ep_y", "/portal/endpoints/ep_y"} {
		res, body := get(p)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `<div id="root"`) {
			t.Errorf("GET %s: %d %s", p, res.StatusCode, res.Header.Get("Content-Type"))
		}
		frame := strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors *")
		if frame != strings.HasPrefix(p, "/portal/") {
			t.Errorf("GET %s: CSP %q: only the portal may be framed", p, res.Header.Get("Content-Security-Policy"))
		}
	}
	res, body := get("/console/assets/js/main.js")
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "javascript") || !strings.Contains(body, "import") {
		t.Fatalf("main.js: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// Revalidation by ETag.
	req, _ := http.NewRequest("GET", s.URL+"/console/assets/js/main.js", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", res2.StatusCode)
	}
	if res, _ := get("/console/assets/missing.js"); res.StatusCode != 404 {
		t.Errorf("missing asset: %d", res.StatusCode)
	}
	// The API keeps its JSON errors next to the console.
	var e apiError
	if got := s.Do("GET", "/v1/nothing", nil, &e); got != 404 || e.Error.Code != "not_found" {
		t.Errorf("unknown API path: %d %+v", got, e)
	}
}
