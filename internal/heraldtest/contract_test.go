package heraldtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that keeps the failures reported to it, so
// that a test can see what the contract check says about a call.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func (r *recorder) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

// TestContractCatchesDrift: the check every API test runs through fails
// on a field a handler sends undocumented, a status an operation does
// not list, and a request the document calls invalid (unless the test
// marked it so), naming the operation and the field. A real Herald
// cannot be made to drift on purpose, so a stand-in answers here as a
// Herald whose handlers grew a field would.
func TestContractCatchesDrift(t *testing.T) {
	t.Parallel()
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/whoami":
			_, _ = io.WriteString(w, `{"key_id":"admin","scope":"admin","read_only":false,"expires_at":null,"tenant_secret":"x"}`)
		case "/v1/apps":
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, `{"error":{"code":"invalid","message":"no"}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"code":"not_found","message":"no"}}`)
		}
	}))
	t.Cleanup(fake.Close)

	for _, c := range []struct {
		name         string
		invalid      bool
		method, path string
		body         any
		want         []string
		wantNone     bool
	}{
		{name: "undocumented field", method: "GET", path: "/v1/whoami",
			want: []string{"operation whoami", "tenant_secret"}},
		{name: "undocumented status", method: "POST", path: "/v1/apps", body: map[string]any{"name": "A"},
			want: []string{"operation createApp", "418"}},
		{name: "invalid request", method: "POST", path: "/v1/apps", body: map[string]any{"name": "A", "nmae": "B"},
			want: []string{"operation createApp", "request does not match", "nmae"}},
		{name: "invalid request, marked", invalid: true, method: "POST", path: "/v1/apps/acme/events", body: map[string]any{"nmae": "B"},
			wantNone: true},
		{name: "unknown route", method: "GET", path: "/v1/nothing",
			want: []string{"no operation of the OpenAPI document"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			s := &Server{URL: fake.URL, t: rec}
			if c.invalid {
				s = s.Invalid()
			}
			s.Do(c.method, c.path, c.body, nil)
			got := rec.failures()
			if c.wantNone && got != "" {
				t.Fatalf("reported %s", got)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("report lacks %q:\n%s", w, got)
				}
			}
		})
	}
}
