package api_test

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/verify"
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
		// One body for routes that take different ones: checked
		// against none.
		if got := s.Invalid().DoWith(c.method, c.path, body, nil, tok); got != c.want {
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
		if got := s.Invalid().Do("POST", "/v1/apps/a/portal-sessions", c.body, &e); got/100 != 4 || e.Error.Field != c.field {
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
		if csp := res.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q: nothing may frame it unless the operator says so", p, csp)
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
	if got := s.Invalid().Do("GET", "/v1/nothing", nil, &e); got != 404 || e.Error.Code != "not_found" {
		t.Errorf("unknown API path: %d %+v", got, e)
	}
}

// TestPortalSessionDiesWithItsKey: a session minted with an API key
// expires no later than the key, and stops working when the key is
// deleted or expires; a session of the admin token lives its own TTL.
func TestPortalSessionDiesWithItsKey(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	mint := func(key string, body map[string]any) portalAnswer {
		t.Helper()
		var p portalAnswer
		if got := s.DoWith("POST", "/v1/apps/a/portal-sessions", body, &p, bearer(key)); got != 201 {
			t.Fatalf("mint a session: %d", got)
		}
		return p
	}
	works := func(p portalAnswer) int {
		t.Helper()
		return s.DoWith("GET", "/v1/apps/a/endpoints", nil, nil, bearer(p.Token))
	}

	// Deleted: the session stops at once on this node.
	key := mkKey(t, s, map[string]any{"name": "product", "scope": "app", "app": "a"})
	byKey := mint(key, map[string]any{"expires_in": 7 * 24 * 3600})
	byToken := mint(heraldtest.Token, map[string]any{"expires_in": 7 * 24 * 3600})
	if d := time.Until(byToken.ExpiresAt); d < 6*24*time.Hour {
		t.Errorf("a session of the admin token expires in %s, want its own 7 days", d)
	}
	if got := works(byKey); got != 200 {
		t.Fatalf("session before its key's deletion: %d", got)
	}
	var keys struct {
		Data []struct {
			ID       string `json:"id"`
			ParentID string `json:"parent_id"`
		}
	}
	s.MustDo("GET", "/v1/api-keys", nil, &keys, 200)
	parent := ""
	for _, k := range keys.Data {
		if k.ID == byKey.ID {
			parent = k.ParentID
		}
	}
	if parent == "" {
		t.Fatalf("the session's parent_id is not listed: %+v", keys.Data)
	}
	s.MustDo("DELETE", "/v1/api-keys/"+parent, nil, nil, 204)
	if got := works(byKey); got != 401 {
		t.Errorf("session after its key was deleted: %d, want 401", got)
	}
	if got := works(byToken); got != 200 {
		t.Errorf("the admin token's session after another key's deletion: %d", got)
	}

	// Expiring: the session's expiry is clamped to the key's, so it
	// stops when the key does.
	expiry := time.Now().Add(2 * time.Second).UTC()
	brief := mkKey(t, s, map[string]any{"name": "brief", "scope": "app", "app": "a", "expires_at": expiry.Format(time.RFC3339Nano)})
	clamped := mint(brief, map[string]any{"expires_in": 7 * 24 * 3600})
	if d := clamped.ExpiresAt.Sub(expiry); d > time.Millisecond || d < -time.Millisecond {
		t.Errorf("session expires_at %s, want its key's %s", clamped.ExpiresAt, expiry)
	}
	if got := works(clamped); got != 200 {
		t.Fatalf("session before its key's expiry: %d", got)
	}
	for {
		var e apiError
		got := s.DoWith("GET", "/v1/apps/a/endpoints", nil, &e, bearer(clamped.Token))
		if got != 200 {
			if got != 401 || !strings.Contains(e.Error.Message, "expired") {
				t.Fatalf("session after its key's expiry: %d %+v", got, e)
			}
			break
		}
		if time.Now().After(expiry.Add(5 * time.Second)) {
			t.Fatal("session still accepted 5 s after its key expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPortalSessionCap: an app holds at most --max-portal-sessions-per-app
// live sessions; one more is refused with 429 too_many_sessions and the
// time the soonest expires, until one ends.
func TestPortalSessionCap(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) { c.MaxPortalSessionsPerApp = 3 }})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "B", "uid": "b"}, nil, 201)
	var first portalAnswer
	s.MustDo("POST", "/v1/apps/a/portal-sessions", map[string]any{"expires_in": 600}, &first, 201)
	for range 2 {
		s.MustDo("POST", "/v1/apps/a/portal-sessions", map[string]any{"expires_in": 3600}, nil, 201)
	}
	req, _ := http.NewRequest("POST", s.URL+"/v1/apps/a/portal-sessions", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+heraldtest.Token)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e apiError
	_ = json.NewDecoder(res.Body).Decode(&e)
	res.Body.Close()
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != 429 || e.Error.Code != "too_many_sessions" || !strings.Contains(e.Error.Message, "--max-portal-sessions-per-app") {
		t.Fatalf("fourth session: %d %+v", res.StatusCode, e)
	}
	if retry < 590 || retry > 601 {
		t.Errorf("Retry-After %q, want the ~600 s until the first session expires", res.Header.Get("Retry-After"))
	}
	// Another app has its own room; ending a session makes room.
	s.MustDo("POST", "/v1/apps/b/portal-sessions", map[string]any{}, nil, 201)
	s.MustDo("DELETE", "/v1/api-keys/"+first.ID, nil, nil, 204)
	s.MustDo("POST", "/v1/apps/a/portal-sessions", map[string]any{}, nil, 201)
}

// TestPortalNeedsPublicURL: without --public-url there are no portal
// links, rather than links built from the request's Host header, which
// the caller chooses.
func TestPortalNeedsPublicURL(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) { c.PublicURL = "" }})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	var e apiError
	if got := s.Do("POST", "/v1/apps/a/portal-sessions", map[string]any{}, &e); got != 409 || e.Error.Code != "public_url_unset" ||
		!strings.Contains(e.Error.Message, "--public-url") {
		t.Fatalf("portal session without --public-url: %d %+v", got, e)
	}
	var keys struct{ Data []any }
	s.MustDo("GET", "/v1/api-keys", nil, &keys, 200)
	if len(keys.Data) != 0 {
		t.Fatalf("a refused session left a key: %v", keys.Data)
	}
}

// TestPortalHidesOperationalEndpoint: the app's operational endpoint,
// Herald's own events (herald.*) and their deliveries do not exist for a
// portal session: not listed, 404 on every route, while the product
// (the admin token) sees them.
func TestPortalHidesOperationalEndpoint(t *testing.T) {
	t.Parallel()
	ops := heraldtest.NewReceiver(t, nil)
	gone := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	var ep, later struct{ ID string }
	s.MustDo("POST", "/v1/apps/a/endpoints", map[string]any{"url": gone.URL}, &ep, 201)
	// The operational endpoint comes between two of the customer's, so
	// that pages must read past it.
	s.MustDo("PATCH", "/v1/apps/a", map[string]any{"operational_webhook_url": ops.URL}, nil, 200)
	s.MustDo("POST", "/v1/apps/a/endpoints", map[string]any{"url": "https://example.com/later", "event_types": []string{"other.*"}}, &later, 201)
	// The receiver's 410 disables the endpoint, which Herald announces
	// to the operational webhook.
	s.MustDo("POST", "/v1/apps/a/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"n": 1}}, nil, 202)
	ops.Wait(t, 1, 10*time.Second)

	var eps struct {
		Data []struct {
			ID          string `json:"id"`
			Operational bool   `json:"operational"`
		}
	}
	s.MustDo("GET", "/v1/apps/a/endpoints", nil, &eps, 200)
	opID := ""
	for _, e := range eps.Data {
		if e.Operational {
			opID = e.ID
		}
	}
	var evs struct {
		Data []struct {
			ID        string `json:"id"`
			EventType string `json:"event_type"`
		}
	}
	s.MustDo("GET", "/v1/apps/a/events", nil, &evs, 200)
	opEvent := ""
	for _, e := range evs.Data {
		if strings.HasPrefix(e.EventType, "herald.") {
			opEvent = e.ID
		}
	}
	var ds struct{ Data []struct{ ID string } }
	s.MustDo("GET", "/v1/apps/a/endpoints/"+opID+"/deliveries", nil, &ds, 200)
	if opID == "" || opEvent == "" || len(ds.Data) != 1 {
		t.Fatalf("setup: operational endpoint %q, event %q, deliveries %+v", opID, opEvent, ds.Data)
	}
	opDelivery := ds.Data[0].ID

	var p portalAnswer
	s.MustDo("POST", "/v1/apps/a/portal-sessions", map[string]any{}, &p, 201)
	tok := bearer(p.Token)
	var raw json.RawMessage
	for _, path := range []string{"/v1/apps/a/endpoints", "/v1/apps/a/endpoints?limit=1", "/v1/apps/a/events", "/v1/apps/a/events?limit=1",
		"/v1/apps/a/endpoints/" + ep.ID + "/deliveries"} {
		if got := s.DoWith("GET", path, nil, &raw, tok); got != 200 {
			t.Fatalf("portal GET %s: %d %s", path, got, raw)
		}
		for _, hidden := range []string{opID, opEvent, opDelivery, "herald."} {
			if strings.Contains(string(raw), hidden) {
				t.Errorf("portal GET %s shows %s: %s", path, hidden, raw)
			}
		}
	}
	// Pages of one still find the visible rows after the hidden one.
	var walked []string
	for path := "/v1/apps/a/endpoints?limit=1"; len(walked) < 5; {
		var one struct {
			Data       []struct{ ID string }
			NextCursor *string `json:"next_cursor"`
		}
		s.DoWith("GET", path, nil, &one, tok)
		for _, e := range one.Data {
			walked = append(walked, e.ID)
		}
		if one.NextCursor == nil {
			break
		}
		path = "/v1/apps/a/endpoints?limit=1&cursor=" + *one.NextCursor
	}
	if strings.Join(walked, " ") != later.ID+" "+ep.ID {
		t.Errorf("portal's endpoints, by pages of one: %v, want %s %s", walked, later.ID, ep.ID)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/apps/a/endpoints/" + opID},
		{"PATCH", "/v1/apps/a/endpoints/" + opID},
		{"DELETE", "/v1/apps/a/endpoints/" + opID},
		{"GET", "/v1/apps/a/endpoints/" + opID + "/secret"},
		{"POST", "/v1/apps/a/endpoints/" + opID + "/secret/rotate"},
		{"POST", "/v1/apps/a/endpoints/" + opID + "/test"},
		{"POST", "/v1/apps/a/endpoints/" + opID + "/send"},
		{"POST", "/v1/apps/a/endpoints/" + opID + "/preview"},
		{"POST", "/v1/apps/a/endpoints/" + opID + "/recover"},
		{"GET", "/v1/apps/a/endpoints/" + opID + "/stats"},
		{"GET", "/v1/apps/a/endpoints/" + opID + "/deliveries"},
		{"GET", "/v1/apps/a/events/" + opEvent},
		{"GET", "/v1/apps/a/events/" + opEvent + "/deliveries"},
		{"GET", "/v1/apps/a/deliveries/" + opDelivery},
		{"POST", "/v1/apps/a/deliveries/" + opDelivery + "/resend"},
	} {
		body := map[string]any{"enabled": true, "event_type": "lead.created", "payload": map[string]any{}, "event_ids": []string{opEvent},
			"since": "2000-01-01T00:00:00Z"}
		if c.method == "GET" || c.method == "DELETE" || strings.HasSuffix(c.path, "/resend") || strings.HasSuffix(c.path, "/rotate") {
			body = nil
		}
		// One body for routes that take different ones: checked
		// against none.
		if got := s.Invalid().DoWith(c.method, c.path, body, &raw, tok); got != 404 {
			t.Errorf("portal %s %s: %d %s, want 404", c.method, c.path, got, raw)
		}
	}
	// Herald's own events cannot be pushed to the customer's endpoint.
	var e apiError
	if got := s.DoWith("POST", "/v1/apps/a/endpoints/"+ep.ID+"/send", map[string]any{"event_ids": []string{opEvent}}, &e, tok); got != 422 || e.Error.Field != "event_ids" {
		t.Errorf("portal sends a herald.* event: %d %+v", got, e)
	}
	// The product still reaches all of it.
	s.MustDo("GET", "/v1/apps/a/endpoints/"+opID, nil, nil, 200)
	s.MustDo("GET", "/v1/apps/a/deliveries/"+opDelivery, nil, nil, 200)
	if n := len(ops.Requests()); n != 1 {
		t.Errorf("the operational webhook got %d requests, want 1", n)
	}
}

// TestReadOnlyCannotSign: read-only keys and sessions read no signing
// secret, and their previews carry no signature a receiver would accept,
// so nothing they get can be replayed as a signed webhook.
func TestReadOnlyCannotSign(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	var ep, ed struct{ ID string }
	s.MustDo("POST", "/v1/apps/a/endpoints", map[string]any{"url": "https://example.com/h"}, &ep, 201)
	s.MustDo("POST", "/v1/apps/a/endpoints", map[string]any{"url": "https://example.com/e", "signature_scheme": "v1a"}, &ed, 201)
	var secret, key struct{ Secret string }
	s.MustDo("GET", "/v1/apps/a/endpoints/"+ep.ID+"/secret", nil, &secret, 200)
	s.MustDo("GET", "/v1/apps/a/endpoints/"+ed.ID+"/secret", nil, &key, 200)
	var pub struct {
		PublicKey string `json:"public_key"`
	}
	s.MustDo("GET", "/v1/apps/a/endpoints/"+ed.ID+"/public-key", nil, &pub, 200)
	hmacV, err := verify.New(secret.Secret)
	if err != nil {
		t.Fatal(err)
	}
	edV, err := verify.NewPublic(pub.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	roKey := mkKey(t, s, map[string]any{"name": "ro", "scope": "app", "app": "a", "read_only": true})
	var roSession portalAnswer
	s.MustDo("POST", "/v1/apps/a/portal-sessions", map[string]any{"read_only": true}, &roSession, 201)

	// preview returns the request a caller's preview shows, as a receiver
	// would get it.
	preview := func(h http.Header, path string, body map[string]any) (http.Header, []byte) {
		t.Helper()
		var out struct {
			Headers map[string]string `json:"headers"`
			Body    string            `json:"body"`
		}
		if got := s.DoWith("POST", path, body, &out, h); got != 200 {
			t.Fatalf("preview %s: %d", path, got)
		}
		hd := http.Header{}
		for k, v := range out.Headers {
			hd.Set(k, v)
		}
		return hd, []byte(out.Body)
	}
	forged := map[string]any{"event_type": "lead.created", "payload": map[string]any{"amount": 1_000_000}}
	// The check itself works: the product's preview verifies.
	if hd, body := preview(bearer(heraldtest.Token), "/v1/apps/a/endpoints/"+ep.ID+"/preview", forged); hmacV.Verify(hd, body) != nil {
		t.Fatalf("the admin's preview does not verify: %v", hd)
	}
	for name, h := range map[string]http.Header{"read-only key": bearer(roKey), "read-only session": bearer(roSession.Token)} {
		var e apiError
		for _, id := range []string{ep.ID, ed.ID} {
			if got := s.DoWith("GET", "/v1/apps/a/endpoints/"+id+"/secret", nil, &e, h); got != 403 || e.Error.Code != "forbidden" {
				t.Errorf("%s reads a secret: %d %+v", name, got, e)
			}
		}
		for id, v := range map[string]*verify.Verifier{ep.ID: hmacV, ed.ID: edV} {
			hd, body := preview(h, "/v1/apps/a/endpoints/"+id+"/preview", forged)
			if err := v.Verify(hd, body); err == nil {
				t.Errorf("%s: its preview of %s carries a valid signature: %v", name, id, hd)
			}
			if sig := hd.Get("Webhook-Signature"); !strings.HasSuffix(sig, ",<signature: not shown to read-only callers>") {
				t.Errorf("%s: signature header %q", name, sig)
			}
		}
		// Previews of unsaved settings with the endpoint's secret given
		// are left unsigned too.
		hd, body := preview(h, "/v1/apps/a/endpoints/preview", map[string]any{"endpoint": map[string]any{"url": "https://example.com/h",
			"secret": secret.Secret}, "event_type": "lead.created", "payload": map[string]any{}})
		if hmacV.Verify(hd, body) == nil || !strings.Contains(hd.Get("Webhook-Signature"), "not shown") {
			t.Errorf("%s: unsaved preview signature %q", name, hd.Get("Webhook-Signature"))
		}
	}
}

// TestPortalFrameAncestors: by default no site may frame the portal; the
// operator lists the origins that may (--portal-frame-ancestors).
func TestPortalFrameAncestors(t *testing.T) {
	t.Parallel()
	csp := func(s *heraldtest.Server, path string) string {
		t.Helper()
		res, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		_, frame, _ := strings.Cut(res.Header.Get("Content-Security-Policy"), "frame-ancestors ")
		return frame
	}
	def := heraldtest.Start(t, heraldtest.Options{})
	for _, p := range []string{"/portal/", "/portal/endpoints/ep_x", "/console/"} {
		if got := csp(def, p); got != "'none'" {
			t.Errorf("default: %s frame-ancestors %q, want 'none'", p, got)
		}
	}
	set := heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) {
		c.PortalFrameAncestors = "https://app.example.com, https://*.example.org:8443/ 'self'"
	}})
	if got := csp(set, "/portal/"); got != "https://app.example.com https://*.example.org:8443 'self'" {
		t.Errorf("configured: portal frame-ancestors %q", got)
	}
	if got := csp(set, "/console/"); got != "'none'" {
		t.Errorf("configured: console frame-ancestors %q, want 'none'", got)
	}
}

// TestEndPortalSessions: a session ends itself (read-only too) and no
// other; the product ends one or all of an app's sessions.
func TestEndPortalSessions(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "B", "uid": "b"}, nil, 201)
	session := func(app string, readOnly bool) portalAnswer {
		var p portalAnswer
		s.MustDo("POST", "/v1/apps/"+app+"/portal-sessions", map[string]any{"read_only": readOnly}, &p, 201)
		return p
	}
	var e struct{ Error struct{ Code string } }
	for _, readOnly := range []bool{false, true} {
		p, other := session("a", readOnly), session("a", false)
		tok := bearer(p.Token)
		if got := s.DoWith("DELETE", "/v1/apps/a/portal-sessions/"+other.ID, nil, &e, tok); got != 404 || e.Error.Code != "not_found" {
			t.Fatalf("a session ending another: %d %+v", got, e)
		}
		if got := s.DoWith("DELETE", "/v1/apps/a/portal-sessions/"+p.ID, nil, nil, tok); got != 204 {
			t.Fatalf("read_only %v: ending itself: %d", readOnly, got)
		}
		if got := s.DoWith("GET", "/v1/whoami", nil, nil, tok); got != 401 {
			t.Fatalf("read_only %v: the ended session still works: %d", readOnly, got)
		}
		if got := s.DoWith("GET", "/v1/whoami", nil, nil, bearer(other.Token)); got != 200 {
			t.Fatalf("the other session: %d", got)
		}
		var audit struct {
			Data []struct{ Action, Target string }
		}
		s.MustDo("GET", "/v1/apps/a/audit-log", nil, &audit, 200)
		if len(audit.Data) == 0 || audit.Data[0].Action != "portal_session.delete" || audit.Data[0].Target != p.ID {
			t.Fatalf("audit: %+v", audit.Data)
		}
	}
	// The product: one by id (not another app's, not an API key), or all.
	key := mkKey(t, s, map[string]any{"name": "k", "scope": "app", "app": "a"})
	var keyID struct {
		KeyID string `json:"key_id"`
	}
	s.DoWith("GET", "/v1/whoami", nil, &keyID, bearer(key))
	b := session("b", false)
	if got := s.DoWith("DELETE", "/v1/apps/a/portal-sessions/"+b.ID, nil, &e, bearer(key)); got != 404 {
		t.Fatalf("another app's session: %d", got)
	}
	if got := s.Do("DELETE", "/v1/apps/a/portal-sessions/"+keyID.KeyID, nil, &e); got != 404 {
		t.Fatalf("an API key as a session: %d", got)
	}
	one := session("a", false)
	if got := s.DoWith("DELETE", "/v1/apps/a/portal-sessions/"+one.ID, nil, nil, bearer(key)); got != 204 {
		t.Fatalf("the app's key ending a session: %d", got)
	}
	all := []portalAnswer{session("a", false), session("a", true)}
	if got := s.DoWith("DELETE", "/v1/apps/a/portal-sessions", nil, &e, bearer(all[0].Token)); got != 403 {
		t.Fatalf("a session ending all: %d", got)
	}
	if got := s.DoWith("DELETE", "/v1/apps/a/portal-sessions", nil, nil, bearer(key)); got != 204 {
		t.Fatalf("ending all: %d", got)
	}
	for _, p := range all {
		if got := s.DoWith("GET", "/v1/whoami", nil, nil, bearer(p.Token)); got != 401 {
			t.Fatalf("a session after ending all: %d", got)
		}
	}
	for _, tok := range []string{key, b.Token} {
		if got := s.DoWith("GET", "/v1/whoami", nil, nil, bearer(tok)); got != 200 {
			t.Fatalf("the key, or another app's session, after ending all: %d", got)
		}
	}
}
