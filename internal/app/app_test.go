package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
)

const token = "app-test-token"

// testConfig is `herald serve` with its defaults, on a fresh data dir
// and a free port.
func testConfig(t *testing.T) *config.Serve {
	cfg := config.Defaults(app.Vars())
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.AdminToken = token
	return &cfg
}

// call sends a request to h in-process and returns the status and body.
func call(h http.Handler, method, path, body string) (int, string) {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// The settings are checked before anything is opened: a bad one leaves
// no data dir behind, and its error names the flag.
func TestNewRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		set  func(*config.Serve)
		want string
	}{
		{func(c *config.Serve) { c.RetrySchedule = "5s,5x" }, `--retry-schedule: retry schedule item 2 "5x"`},
		{func(c *config.Serve) { c.DestinationAllowCIDRs = "10.0.0.0/33" }, "--destination-allow-cidrs: "},
		{func(c *config.Serve) { c.DestinationDenyCIDRs = "nope" }, "--destination-deny-cidrs: "},
		{func(c *config.Serve) { c.Workers = 0 }, "--workers must be at least 1"},
		// The installation's own schedule lives under the ceilings too.
		{func(c *config.Serve) { c.RetrySchedule = strings.TrimSuffix(strings.Repeat("1s,", 31), ",") },
			"--retry-schedule: 31 retries, more than the 30 this installation allows (--max-retries)"},
		{func(c *config.Serve) { c.RetrySchedule = "5s,100ms" },
			"--retry-schedule: retry schedule item 2 (100ms) is shorter than 1s, the least wait this installation allows (--min-retry-delay)"},
		{func(c *config.Serve) { c.PortalFrameAncestors = "https://ok.example.com *" }, "--portal-frame-ancestors: *: list the origins"},
		{func(c *config.Serve) { c.PortalFrameAncestors = "https://a.example.com; script-src *" }, `--portal-frame-ancestors: "https://a.example.com;" is not an origin`},
		{func(c *config.Serve) { c.PortalFrameAncestors = "https://a.example.com/path" }, `--portal-frame-ancestors: "https://a.example.com/path" is not an origin`},
		{func(c *config.Serve) { c.MaxPortalSessionsPerApp = -1 }, "--admin-rate-limit and --max-portal-sessions-per-app must not be negative"},
	} {
		cfg := testConfig(t)
		c.set(cfg)
		a, err := app.New(context.Background(), cfg, app.Deps{})
		if err == nil {
			_ = a.Shutdown(context.Background())
			t.Errorf("accepted; want %q", c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("error %q, want it to start with %q", err, c.want)
		}
		if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
			t.Errorf("%q: the data dir was made: %v", c.want, err)
		}
	}
}

// requireFree fails the test unless a new server can take cfg's data dir.
func requireFree(t *testing.T, cfg *config.Serve) {
	t.Helper()
	a, err := app.New(context.Background(), cfg, app.Deps{})
	if err != nil {
		t.Fatalf("the data dir is still held: %v", err)
	}
	_ = a.Shutdown(context.Background())
}

// New holds the data dir until Shutdown; Start serves the handler on the
// address; Shutdown logs its steps in order and frees the data dir.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	// A file takes the server's concurrent writes whole.
	logs, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	logged := func() string { b, _ := os.ReadFile(logs.Name()); return string(b) }
	a, err := app.New(context.Background(), cfg, app.Deps{Stderr: logs})
	if err != nil {
		t.Fatal(err)
	}
	// Built, not started: the handler answers in-process.
	if code, body := call(a.Handler(), "GET", "/v1/apps", ""); code != 200 {
		t.Fatalf("GET /v1/apps before Start: %d %s", code, body)
	}
	if _, err := app.New(context.Background(), cfg, app.Deps{}); err == nil || !strings.Contains(err.Error(), "in use by another herald process") {
		t.Fatalf("a second server on the data dir: %v", err)
	}

	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.URL(), "http://127.0.0.1:") || strings.HasSuffix(a.URL(), ":0") {
		t.Fatalf("URL %q", a.URL())
	}
	resp, err := http.Get(a.URL() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz on %s: %v %v", a.URL(), err, resp)
	}
	resp.Body.Close()
	if !strings.Contains(logged(), `msg="herald is listening" addr=`+a.URL()+" ") {
		t.Fatalf("no listening line with the address:\n%s", logged())
	}

	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	log := logged()
	listening, shutting, stopped := strings.Index(log, "herald is listening"), strings.Index(log, `msg="shutting down" timeout=30s`), strings.Index(log, "msg=stopped")
	if listening < 0 || shutting < listening || stopped < shutting {
		t.Fatalf("log lines out of order:\n%s", log)
	}
	if _, err := http.Get(a.URL() + "/healthz"); err == nil {
		t.Fatal("still serving after Shutdown")
	}

	// The data dir is free again, and a server that never started frees
	// it too.
	requireFree(t, cfg)
	requireFree(t, cfg)
}

// A failed Start (the address is taken) stops what it started, and
// Shutdown still frees the data dir.
func TestStartFailsOnABusyAddress(t *testing.T) {
	t.Parallel()
	busy := httptest.NewServer(http.NotFoundHandler())
	defer busy.Close()
	cfg := testConfig(t)
	cfg.Addr = strings.TrimPrefix(busy.URL, "http://")
	a, err := app.New(context.Background(), cfg, app.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "listen on "+cfg.Addr) {
		t.Fatalf("Start on a busy address: %v", err)
	}
	_ = a.Shutdown(context.Background())
	requireFree(t, cfg)
}

// The destination flags reach the policy that checks endpoint URLs:
// refused by default, allowed by --allow-private-destinations or an allow
// range, and refused again by a deny range, which wins.
func TestDestinationFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		set  func(*config.Serve)
		want int
	}{
		{"default", func(*config.Serve) {}, 422},
		{"allow private", func(c *config.Serve) { c.AllowPrivateDestinations = true }, 201},
		{"allow range", func(c *config.Serve) { c.DestinationAllowCIDRs = "10.0.0.0/8, 127.0.0.0/8" }, 201},
		{"deny wins", func(c *config.Serve) {
			c.AllowPrivateDestinations = true
			c.DestinationDenyCIDRs = "127.0.0.1/32"
		}, 422},
	} {
		cfg := testConfig(t)
		c.set(cfg)
		a, err := app.New(context.Background(), cfg, app.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		h := a.Handler()
		if code, body := call(h, "POST", "/v1/apps", `{"name": "Acme", "uid": "acme"}`); code != 201 {
			t.Fatalf("%s: create app: %d %s", c.name, code, body)
		}
		code, body := call(h, "POST", "/v1/apps/acme/endpoints", `{"url": "http://127.0.0.1:9/hook"}`)
		if code != c.want || code == 422 && !strings.Contains(body, "destination not allowed") {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
		_ = a.Shutdown(context.Background())
	}
}
