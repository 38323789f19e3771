package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
)

func bearer(k string) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }

// mkKey creates an API key with the admin token and returns it.
func mkKey(t *testing.T, s *heraldtest.Server, body map[string]any) string {
	t.Helper()
	var k struct{ Key, Prefix string }
	s.MustDo("POST", "/v1/api-keys", body, &k, 201)
	if !strings.HasPrefix(k.Key, "hk_") || !strings.HasPrefix(k.Key, k.Prefix) {
		t.Fatalf("key %+v", k)
	}
	return k.Key
}

func TestAPIKeysAndScopes(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "B", "uid": "b"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	admin := mkKey(t, s, map[string]any{"name": "ops", "scope": "admin"})
	appA := mkKey(t, s, map[string]any{"name": "a", "scope": "app", "app": "a"})
	ro := mkKey(t, s, map[string]any{"name": "a-ro", "scope": "app", "app": "a", "read_only": true})
	expiry := time.Now().Add(1500 * time.Millisecond)
	soon := mkKey(t, s, map[string]any{"name": "brief", "scope": "admin", "expires_at": expiry.UTC().Format(time.RFC3339Nano)})

	var e apiError
	// An admin key does what the admin token does.
	if got := s.DoWith("POST", "/v1/apps", map[string]any{"name": "C"}, nil, bearer(admin)); got != 201 {
		t.Fatalf("admin key create app: %d", got)
	}
	// An app key works on its app...
	if got := s.DoWith("POST", "/v1/apps/a/endpoints", map[string]any{"url": "https://example.com/a"}, nil, bearer(appA)); got != 201 {
		t.Fatalf("app key on its app: %d", got)
	}
	if got := s.DoWith("PATCH", "/v1/apps/a", map[string]any{"name": "A2"}, nil, bearer(appA)); got != 200 {
		t.Fatalf("app key patching its app: %d", got)
	}
	// ...sees only its app in the list, cannot create or delete apps,
	// cannot change the shared catalog, keys or the global audit log.
	var apps struct{ Data []struct{ UID string } }
	s.DoWith("GET", "/v1/apps", nil, &apps, bearer(appA))
	if len(apps.Data) != 1 || apps.Data[0].UID != "a" {
		t.Fatalf("app key lists %+v", apps.Data)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/v1/apps"}, {"DELETE", "/v1/apps/a"}, {"POST", "/v1/event-types"},
		{"GET", "/v1/api-keys"}, {"POST", "/v1/api-keys"}, {"GET", "/v1/audit-log"},
	} {
		// One body for routes that take different ones: checked
		// against none.
		if got := s.Invalid().DoWith(c.method, c.path, map[string]any{"name": "x"}, &e, bearer(appA)); got != 403 || e.Error.Code != "forbidden" {
			t.Errorf("app key %s %s: %d %+v", c.method, c.path, got, e)
		}
	}
	if got := s.DoWith("GET", "/v1/event-types", nil, nil, bearer(appA)); got != 200 {
		t.Errorf("app key reading the catalog: %d", got)
	}
	// A read-only key reads, previews, and changes nothing.
	if got := s.DoWith("GET", "/v1/apps/a/endpoints", nil, nil, bearer(ro)); got != 200 {
		t.Errorf("read-only list: %d", got)
	}
	if got := s.DoWith("POST", "/v1/apps/a/endpoints/preview", map[string]any{"endpoint": map[string]any{"url": "https://example.com"}, "event_type": "lead.created", "payload": map[string]any{}}, nil, bearer(ro)); got != 200 {
		t.Errorf("read-only preview: %d", got)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/v1/apps/a/endpoints"}, {"PATCH", "/v1/apps/a"}, {"POST", "/v1/apps/a/events"},
	} {
		if got := s.Invalid().DoWith(c.method, c.path, map[string]any{"url": "https://e.com"}, &e, bearer(ro)); got != 403 || !strings.Contains(e.Error.Message, "read-only") {
			t.Errorf("read-only %s %s: %d %+v", c.method, c.path, got, e)
		}
	}
	// Expired keys and deleted keys stop working.
	if got := s.DoWith("GET", "/v1/apps", nil, nil, bearer(soon)); got != 200 {
		t.Fatalf("key before expiry: %d", got)
	}
	// Refused from its expiry on: ask until it is, a few seconds at most.
	for {
		e = apiError{}
		got := s.DoWith("GET", "/v1/apps", nil, &e, bearer(soon))
		if got != 200 {
			if got != 401 || !strings.Contains(e.Error.Message, "expired") {
				t.Fatalf("expired key: %d %+v", got, e)
			}
			break
		}
		if time.Now().After(expiry.Add(5 * time.Second)) {
			t.Fatal("key still accepted 5 s after its expiry")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var keys struct {
		Data []struct {
			ID, Name, Hash, Key string
		}
	}
	s.MustDo("GET", "/v1/api-keys", nil, &keys, 200)
	for _, k := range keys.Data {
		if k.Hash != "" || k.Key != "" {
			t.Fatalf("key material listed: %+v", k)
		}
		if k.Name == "a" {
			s.MustDo("DELETE", "/v1/api-keys/"+k.ID, nil, nil, 204)
		}
	}
	if got := s.DoWith("GET", "/v1/apps/a", nil, nil, bearer(appA)); got != 401 {
		t.Fatalf("deleted key: %d", got)
	}
	// Bad input names the field.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"scope": "admin"}, "name"},
		{map[string]any{"name": "x"}, "scope"},
		{map[string]any{"name": "x", "scope": "root"}, "scope"},
		{map[string]any{"name": "x", "scope": "app"}, "app"},
		{map[string]any{"name": "x", "scope": "app", "app": "nope"}, "app"},
		{map[string]any{"name": "x", "scope": "admin", "expires_at": "2000-01-01T00:00:00Z"}, "expires_at"},
	} {
		if got := s.Invalid().Do("POST", "/v1/api-keys", c.body, &e); got/100 != 4 || e.Error.Field != c.field {
			t.Errorf("%v: %d %+v", c.body, got, e)
		}
	}
}

// TestTenantIsolation walks every route of the API with a key of app A
// aimed at app B's resources: always 404, never B's data.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "B", "uid": "b"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "sample": map[string]any{"x": 1}}, nil, 201)
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/b/endpoints", map[string]any{"url": rc.URL}, &ep, 201)
	var ev struct{ ID string }
	s.MustDo("POST", "/v1/apps/b/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"secret_of_b": "zzz"}}, &ev, 202)
	rc.Wait(t, 1, 5*time.Second)
	var ds struct{ Data []struct{ ID string } }
	s.MustDo("GET", "/v1/apps/b/events/"+ev.ID+"/deliveries", nil, &ds, 200)
	var job struct{ ID, State string }
	s.MustDo("POST", "/v1/apps/b/endpoints/"+ep.ID+"/recover", map[string]any{"since": "2000-01-01T00:00:00Z"}, &job, 202)
	keyA := mkKey(t, s, map[string]any{"name": "a", "scope": "app", "app": "a"})

	ids := map[string]string{"/endpoints/": ep.ID, "/events/": ev.ID, "/deliveries/": ds.Data[0].ID, "/jobs/": job.ID}
	walked := 0
	for _, rt := range s.API.Routes() {
		if !strings.Contains(rt.Pattern, "{app}") || rt.Open {
			continue
		}
		for _, appRef := range []string{"b", s.AppID("b")} {
			path := strings.Replace(rt.Pattern, "{app}", appRef, 1)
			for marker, id := range ids {
				if strings.Contains(path, marker+"{id}") {
					path = strings.Replace(path, "{id}", id, 1)
				}
			}
			// One body for every route, so checked against none.
			body := map[string]any{"name": "x", "url": rc.URL, "event_type": "lead.created", "payload": map[string]any{},
				"since": "2000-01-01T00:00:00Z", "event_ids": []string{ev.ID}, "endpoint": map[string]any{"url": rc.URL}}
			var raw map[string]any
			got := s.Invalid().DoWith(rt.Method, path, body, &raw, bearer(keyA))
			walked++
			dump := fmt.Sprint(raw)
			if got != 404 {
				t.Errorf("%s %s with app A's key: %d %s", rt.Method, path, got, dump)
			}
			for _, leak := range []string{ep.ID, ev.ID, "zzz", rc.URL} {
				if strings.Contains(dump, leak) {
					t.Errorf("%s %s leaked %q: %s", rt.Method, path, leak, dump)
				}
			}
		}
	}
	// B's resources through A's own path are not found either.
	for marker, id := range ids {
		kind := strings.Trim(marker, "/")
		if kind == "deliveries" || kind == "events" || kind == "endpoints" || kind == "jobs" {
			if got := s.DoWith("GET", "/v1/apps/a/"+kind+"/"+id, nil, nil, bearer(keyA)); got != 404 {
				t.Errorf("B's %s through A's path: %d", kind, got)
			}
		}
	}
	if walked < 40 {
		t.Fatalf("walked only %d route uses; the route table seems incomplete", walked)
	}
	// Nothing reached B's receiver from A's key: one event, one request.
	// With B's own recovery finished and B's one delivery final, nothing
	// more can be sent, so the count is complete.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.MustDo("GET", "/v1/apps/b/jobs/"+job.ID, nil, &job, 200)
		if job.State != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's recovery still running: %+v", job)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var all struct {
		Data []struct {
			Status       string
			AttemptCount int `json:"attempt_count"`
		}
	}
	s.MustDo("GET", "/v1/apps/b/endpoints/"+ep.ID+"/deliveries?include_attempts=false", nil, &all, 200)
	if len(all.Data) != 1 || all.Data[0].Status != "succeeded" || all.Data[0].AttemptCount != 1 {
		t.Fatalf("B's deliveries after the walk: %+v", all.Data)
	}
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("B's receiver got %d requests", n)
	}
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	key := mkKey(t, s, map[string]any{"name": "a", "scope": "app", "app": "a"})
	var ep struct{ ID string }
	if got := s.DoWith("POST", "/v1/apps/a/endpoints", map[string]any{"url": "https://example.com/h", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"headers":       map[string]string{"Authorization": "Bearer very-secret-token", "X-Plain": "visible", "X-Auth-Key": "key-by-another-name"},
		"plain_headers": []string{"X-Plain"}}, &ep, bearer(key)); got != 201 {
		t.Fatal(got)
	}
	s.MustDo("PATCH", "/v1/apps/a/endpoints/"+ep.ID, map[string]any{"enabled": false}, nil, 200)
	var log struct {
		Data []struct {
			KeyID   string `json:"key_id"`
			AppID   string `json:"app_id"`
			Action  string
			Target  string
			Changes map[string]any
		}
	}
	s.MustDo("GET", "/v1/apps/a/audit-log", nil, &log, 200)
	if len(log.Data) < 3 || log.Data[0].Action != "endpoint.update" || log.Data[0].KeyID != "admin" || log.Data[1].Action != "endpoint.create" ||
		!strings.HasPrefix(log.Data[1].KeyID, "key_") || log.Data[1].Target != ep.ID {
		t.Fatalf("audit log %+v", log.Data)
	}
	dump := fmt.Sprint(log.Data)
	if strings.Contains(dump, "very-secret-token") || strings.Contains(dump, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") || strings.Contains(dump, "key-by-another-name") ||
		!strings.Contains(dump, "visible") {
		t.Fatalf("audit log secrets: %s", dump)
	}
	var all struct{ Data []any }
	s.MustDo("GET", "/v1/audit-log", nil, &all, 200)
	if len(all.Data) < len(log.Data) {
		t.Fatalf("global log has %d entries", len(all.Data))
	}
}

// TestAPIRateLimitPerApp: an app's keys and portal sessions draw on one
// bucket (--api-rate-limit), so minting sessions or keys gives an app no
// more throughput; another app has its own; the admin token (the
// product's own ingest) is not throttled unless --admin-rate-limit says
// so.
func TestAPIRateLimitPerApp(t *testing.T) {
	t.Parallel()
	// One request per second, in bursts of one: a refill between two
	// requests in a row would take a second.
	s := heraldtest.Start(t, heraldtest.Options{APIRateLimit: 1})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "B", "uid": "b"}, nil, 201)
	keyA := mkKey(t, s, map[string]any{"name": "a", "scope": "app", "app": "a"})
	keyB := mkKey(t, s, map[string]any{"name": "b", "scope": "app", "app": "b"})
	var session portalAnswer
	s.MustDo("POST", "/v1/apps/a/portal-sessions", map[string]any{}, &session, 201)

	get := func(h http.Header) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.URL+"/v1/whoami", nil)
		req.Header = h
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	// Use up app A's bucket with its key...
	for i := 0; ; i++ {
		code, retry := get(bearer(keyA))
		if code == 429 {
			if retry == "" {
				t.Fatal("429 without Retry-After")
			}
			break
		}
		if code != 200 || i > 10 {
			t.Fatalf("app key: %d after %d requests at 1 per second", code, i+1)
		}
	}
	// ...and the app's portal session finds it empty too; app B does not.
	var e apiError
	if got := s.DoWith("GET", "/v1/whoami", nil, &e, bearer(session.Token)); got != 429 || e.Error.Code != "rate_limited" {
		t.Errorf("portal session of the throttled app: %d %+v, want 429 rate_limited", got, e)
	}
	if got, _ := get(bearer(keyB)); got != 200 {
		t.Errorf("another app's key: %d", got)
	}
	// The admin token is not throttled by default.
	for i := range 30 {
		if got, _ := get(bearer(heraldtest.Token)); got != 200 {
			t.Fatalf("admin token, request %d: %d", i+1, got)
		}
	}

	// With --admin-rate-limit, admin credentials are.
	s2 := heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) { c.AdminRateLimit = 1 }})
	limited := 0
	for range 5 {
		if got := s2.Do("GET", "/v1/whoami", nil, nil); got == 429 {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("5 requests in a row with --admin-rate-limit 1: none refused")
	}
}

func TestMaxEndpointsPerApp(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{MaxEndpointsPerApp: 2})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	for i := range 2 {
		s.MustDo("POST", "/v1/apps/a/endpoints", map[string]any{"url": fmt.Sprintf("https://example.com/%d", i)}, nil, 201)
	}
	var e apiError
	if got := s.Do("POST", "/v1/apps/a/endpoints", map[string]any{"url": "https://example.com/3"}, &e); got != 422 || e.Error.Code != "limit_exceeded" {
		t.Fatalf("third endpoint: %d %+v", got, e)
	}
}

// FuzzParseBearer: never panics; a well-formed header gives its token back.
func FuzzParseBearer(f *testing.F) {
	f.Add("Bearer abc")         // the usual form
	f.Add("bearer   hk_xyz  ")  // case and spaces
	f.Add("Basic dXNlcjpwYXNz") // another scheme
	f.Add("Bearer")             // no token
	f.Add("Bearer a b")         // two tokens
	f.Add("Bearer \x00\xff")    // bytes that are not text
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := api.ParseBearer(h)
		if ok && (tok == "" || strings.ContainsAny(tok, " \t")) {
			t.Fatalf("%q gave token %q", h, tok)
		}
		if ok {
			if again, ok2 := api.ParseBearer("Bearer " + tok); !ok2 || again != tok {
				t.Fatalf("token %q does not round-trip", tok)
			}
		}
	})
}
