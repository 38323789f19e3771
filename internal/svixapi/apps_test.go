package svixapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// validation is the body of Svix's 422 answers.
type validation struct {
	Detail []struct {
		Loc  []string `json:"loc"`
		Msg  string   `json:"msg"`
		Type string   `json:"type"`
	} `json:"detail"`
}

// wantInvalid calls the route and checks a 422 locating field.
func wantInvalid(t *testing.T, s *heraldtest.Server, method, path string, body any, where, field string) {
	t.Helper()
	var v validation
	got := s.Do(method, path, body, &v)
	if got != http.StatusUnprocessableEntity || len(v.Detail) != 1 || len(v.Detail[0].Loc) != 2 ||
		v.Detail[0].Loc[0] != where || v.Detail[0].Loc[1] != field || v.Detail[0].Msg == "" || v.Detail[0].Type == "" {
		t.Fatalf("%s %s %v: %d %+v, want 422 at [%s %s]", method, path, body, got, v, where, field)
	}
}

// wantNotFound calls the route and checks Svix's 404.
func wantNotFound(t *testing.T, s *heraldtest.Server, method, path string, body any) {
	t.Helper()
	var e svixError
	if got := s.Do(method, path, body, &e); got != http.StatusNotFound || e.Code != "not_found" || e.Detail == "" {
		t.Fatalf("%s %s: %d %+v, want 404 not_found", method, path, got, e)
	}
}

// keys returns the JSON object's field names.
func keys(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(sorted(out), ",")
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

type appOut struct {
	ID           string            `json:"id"`
	UID          *string           `json:"uid"`
	Name         string            `json:"name"`
	Metadata     map[string]string `json:"metadata"`
	RateLimit    *int              `json:"rateLimit"`
	ThrottleRate *int              `json:"throttleRate"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
}

// appKey creates an app-scoped API key of the app.
func appKey(t *testing.T, s *heraldtest.Server, app string) http.Header {
	t.Helper()
	var k struct{ Key string }
	s.MustDo("POST", "/v1/api-keys", map[string]any{"name": "k", "scope": "app", "app": app}, &k, 201)
	return http.Header{"Authorization": {"Bearer " + k.Key}}
}

func TestApplications(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})

	var raw json.RawMessage
	s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Acme", "uid": "acme"}, &raw, 201)
	if got := keys(t, raw); got != "createdAt,id,metadata,name,rateLimit,throttleRate,uid,updatedAt" {
		t.Fatalf("ApplicationOut fields: %s", got)
	}
	var a appOut
	_ = json.Unmarshal(raw, &a)
	if !strings.HasPrefix(a.ID, "app_") || a.UID == nil || *a.UID != "acme" || a.Name != "Acme" || a.Metadata == nil ||
		len(a.Metadata) != 0 || a.RateLimit != nil || a.ThrottleRate != nil || a.CreatedAt.IsZero() {
		t.Fatalf("created: %s", raw)
	}

	// get_if_exists answers the app of the uid (200), without it a
	// second app of the uid is a conflict.
	var again appOut
	s.MustDo("POST", "/api/v1/app?get_if_exists=true", map[string]any{"name": "Other", "uid": "acme"}, &again, 200)
	if again.ID != a.ID || again.Name != "Acme" {
		t.Fatalf("get_if_exists: %+v, want %s", again, a.ID)
	}
	var e svixError
	if got := s.Do("POST", "/api/v1/app", map[string]any{"name": "Other", "uid": "acme"}, &e); got != http.StatusConflict || e.Detail == "" {
		t.Fatalf("duplicate uid: %d %+v", got, e)
	}
	var fresh appOut
	s.MustDo("POST", "/api/v1/app?get_if_exists=true", map[string]any{"name": "Fresh", "uid": "fresh"}, &fresh, 201)

	// By id and by uid.
	for _, ref := range []string{a.ID, "acme"} {
		var got appOut
		s.MustDo("GET", "/api/v1/app/"+ref, nil, &got, 200)
		if got.ID != a.ID {
			t.Fatalf("GET %s: %+v", ref, got)
		}
	}

	// PUT upserts: 201 under the path's uid, then 200.
	var put appOut
	s.MustDo("PUT", "/api/v1/app/beta", map[string]any{"name": "Beta"}, &put, 201)
	if put.UID == nil || *put.UID != "beta" || put.Name != "Beta" {
		t.Fatalf("PUT created: %+v", put)
	}
	s.MustDo("PUT", "/api/v1/app/beta", map[string]any{"name": "Beta 2"}, &put, 200)
	if put.Name != "Beta 2" || *put.UID != "beta" {
		t.Fatalf("PUT updated: %+v", put)
	}
	wantNotFound(t, s, "PUT", "/api/v1/app/app_nosuchapp", map[string]any{"name": "X"})

	// PATCH the fields given; uid null clears the uid.
	var patched appOut
	s.MustDo("PATCH", "/api/v1/app/beta", map[string]any{"name": "Beta 3"}, &patched, 200)
	if patched.Name != "Beta 3" || patched.UID == nil || *patched.UID != "beta" {
		t.Fatalf("PATCH: %+v", patched)
	}
	s.MustDo("PATCH", "/api/v1/app/beta", map[string]any{"uid": nil}, &patched, 200)
	if patched.UID != nil {
		t.Fatalf("PATCH uid null: %+v", patched)
	}

	// What Herald cannot honour is refused, located.
	wantInvalid(t, s, "POST", "/api/v1/app", map[string]any{"name": "X", "throttleRate": 5}, "body", "throttleRate")
	wantInvalid(t, s, "POST", "/api/v1/app", map[string]any{"name": "X", "rateLimit": 5}, "body", "rateLimit")
	wantInvalid(t, s, "PATCH", "/api/v1/app/acme", map[string]any{"throttleRate": 1}, "body", "throttleRate")
	wantInvalid(t, s, "POST", "/api/v1/app", map[string]any{"uid": "x"}, "body", "name")
	wantInvalid(t, s, "POST", "/api/v1/app", map[string]any{"name": "X", "bogus": 1}, "body", "bogus")
	wantInvalid(t, s, "POST", "/api/v1/app", map[string]any{"name": 7}, "body", "name")
	wantInvalid(t, s, "POST", "/api/v1/app", map[string]any{"name": "X", "uid": "has space"}, "body", "uid")
	wantInvalid(t, s, "GET", "/api/v1/app?exclude_apps_with_no_endpoints=true", nil, "query", "exclude_apps_with_no_endpoints")
	wantInvalid(t, s, "GET", "/api/v1/app?foo=1", nil, "query", "foo")
	s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Nulls", "throttleRate": nil, "rateLimit": nil}, nil, 201)

	// Pages through the iterator until done.
	for i := range 5 {
		s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Bulk " + string(rune('a'+i))}, nil, 201)
	}
	seen := map[string]bool{}
	iter := ""
	for n := 0; ; n++ {
		var p struct {
			Data         []appOut `json:"data"`
			Iterator     *string  `json:"iterator"`
			PrevIterator *string  `json:"prevIterator"`
			Done         bool     `json:"done"`
		}
		u := "/api/v1/app?limit=2"
		if iter != "" {
			u += "&iterator=" + iter
		}
		s.MustDo("GET", u, nil, &p, 200)
		for _, x := range p.Data {
			if seen[x.ID] {
				t.Fatalf("app %s listed twice", x.ID)
			}
			seen[x.ID] = true
		}
		if p.Done {
			if p.Iterator != nil {
				t.Fatalf("done with an iterator")
			}
			break
		}
		if p.Iterator == nil || n > 10 {
			t.Fatalf("not done and no iterator: %+v", p)
		}
		iter = *p.Iterator
	}
	if len(seen) != 9 {
		t.Fatalf("listed %d apps, want 9", len(seen))
	}

	// 404, 401, another app's key.
	wantNotFound(t, s, "GET", "/api/v1/app/nosuch", nil)
	if got := s.DoWith("GET", "/api/v1/app/acme", nil, &e, nil); got != http.StatusUnauthorized || e.Detail == "" {
		t.Fatalf("without a token: %d %+v", got, e)
	}
	key := appKey(t, s, "fresh")
	if got := s.DoWith("GET", "/api/v1/app/acme", nil, &e, key); got != http.StatusNotFound {
		t.Fatalf("another app's key: %d %+v", got, e)
	}
	if got := s.DoWith("GET", "/api/v1/app/fresh", nil, nil, key); got != http.StatusOK {
		t.Fatalf("own app's key: %d", got)
	}
	if got := s.DoWith("DELETE", "/api/v1/app/fresh", nil, &e, key); got != http.StatusForbidden {
		t.Fatalf("app key deleting its app: %d %+v", got, e)
	}

	if got := s.Do("DELETE", "/api/v1/app/beta", nil, nil); got != http.StatusNotFound {
		// beta's uid was cleared above: by id.
		t.Fatalf("DELETE by a cleared uid: %d", got)
	}
	if got := s.Do("DELETE", "/api/v1/app/"+put.ID, nil, nil); got != http.StatusNoContent {
		t.Fatalf("DELETE: %d", got)
	}
	wantNotFound(t, s, "GET", "/api/v1/app/"+put.ID, nil)
}
