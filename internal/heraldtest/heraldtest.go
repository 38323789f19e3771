// Package heraldtest starts a whole Herald in a test through the production
// wiring (app.New): a real SQLite file in a temporary data dir, the
// delivery engine with the real sender and destination policy, and the API
// on a real HTTP listener on 127.0.0.1; and it gives receivers that record
// what reached them. Tests of the API and of delivery use it so they
// exercise the same parts a user runs. Every request its client makes and
// every answer it gets is checked against the API's OpenAPI document
// (contract.go), so those tests hold the document true as well.
package heraldtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sealed"
)

// Token is the admin token of every test server.
const Token = "test-admin-token"

// Options adjust a test server. Each field but the hooks is a flag of
// `herald serve`; every other setting is the flag's default, except those
// Start sets (see there).
type Options struct {
	// RetrySchedule (--retry-schedule) defaults to "100ms,100ms,100ms".
	RetrySchedule string
	// Timeout (--request-timeout) defaults to 5 s.
	Timeout time.Duration
	// MaxBodyBytes (--max-event-size) caps API request bodies; default
	// 1 MiB.
	MaxBodyBytes int64
	// AllowUndeclaredEventTypes accepts events of types not in the catalog.
	AllowUndeclaredEventTypes bool
	// APIRateLimit and MaxEndpointsPerApp set the API's limits (0: none,
	// so that tests are not throttled unless they ask to be).
	APIRateLimit       float64
	MaxEndpointsPerApp int
	// MetricsToken guards /metrics when set.
	MetricsToken string
	// PublicURL is the address portal links start with; empty: the
	// test server's own (clear it in Config to run without one).
	PublicURL string
	// Config has the last word on the configuration, as flags would: to
	// refuse private destinations again (AllowPrivateDestinations) with
	// allow or deny CIDRs, to set the worker counts, ...
	Config func(*config.Serve)
	// Resolver replaces DNS for the destination policy.
	Resolver netpolicy.Resolver
	// Engine adjusts the engine options no flag sets, after Start's own
	// (a poll interval of 50 ms).
	Engine func(*delivery.Options)
	// Store wraps the driver's store (under the encryption of secrets),
	// to count what reaches it.
	Store func(store.Store) store.Store
	// API adjusts the API options no flag sets (the attempt stream's
	// timings).
	API func(*api.Options)
}

// Server is a running Herald.
type Server struct {
	URL   string
	Store *sealed.Store
	// Dir is the data dir: the database file, the lock, the key file.
	Dir    string
	Engine *delivery.Engine
	API    *api.Server
	// Node names the server on leases and metrics.
	Node string
	// Tracing tells whether the server created an OTLP exporter.
	Tracing bool
	t       testing.TB
	logs    *syncBuffer
	// invalid marks a Server from Invalid: its requests are not checked
	// against the OpenAPI document.
	invalid bool
	stop    func()
}

// Stop shuts the server down as SIGTERM does, at once rather than at
// cleanup: a test then starts another on the same Dir (a restart).
func (s *Server) Stop() { s.stop() }

// Log returns what the server logged so far, for tests of what operators
// see (and tenants must not).
func (s *Server) Log() string { return s.logs.String() }

// Logged reports whether one line the server logged holds every one of
// parts.
func (s *Server) Logged(parts ...string) bool {
	for line := range strings.Lines(s.Log()) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// Start runs a Herald for the test and stops it at cleanup. Beyond the
// flags' defaults it listens on 127.0.0.1:0 (its --public-url), uses Token, delivers to
// private addresses (the receivers are on 127.0.0.1; set
// AllowPrivateDestinations back to false in Config to test the policy),
// allows retry waits of any length (--min-retry-delay 0), runs 32
// workers and waits at most 5 s for requests in flight at shutdown. Its logs are shown when the test fails.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	cfg := config.Defaults(app.Vars())
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = Token
	cfg.AllowPrivateDestinations = true
	cfg.RetrySchedule = "100ms,100ms,100ms"
	if o.RetrySchedule != "" {
		cfg.RetrySchedule = o.RetrySchedule
	}
	// Tests retry within milliseconds, the installation and tenants alike.
	cfg.MinRetryDelay = 0
	cfg.RequestTimeout = 5 * time.Second
	if o.Timeout != 0 {
		cfg.RequestTimeout = o.Timeout
	}
	if o.MaxBodyBytes != 0 {
		cfg.MaxEventSize = o.MaxBodyBytes
	}
	cfg.Workers = 32
	cfg.AllowUndeclaredEventTypes = o.AllowUndeclaredEventTypes
	cfg.APIRateLimit = o.APIRateLimit
	cfg.MaxEndpointsPerApp = o.MaxEndpointsPerApp
	cfg.MetricsToken = o.MetricsToken
	// Listening before New gives the address portal links start with.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	cfg.PublicURL = "http://" + ln.Addr().String()
	if o.PublicURL != "" {
		cfg.PublicURL = o.PublicURL
	}
	cfg.ShutdownTimeout = 5 * time.Second
	if o.Config != nil {
		o.Config(&cfg)
	}

	logs := &syncBuffer{}
	// Registered first, so it runs after the server stopped and shows
	// its last lines too.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("herald's log:\n%s", logs.String())
		}
	})
	ctx := context.Background()
	a, err := app.New(ctx, &cfg, app.Deps{Stdout: logs, Stderr: logs, Test: app.TestHooks{
		Resolver: o.Resolver,
		Store:    o.Store,
		API:      o.API,
		Listener: ln,
		Engine: func(eo *delivery.Options) {
			// The backstop poll finds what nothing announced; a test
			// should not wait a second for it.
			eo.PollInterval = 50 * time.Millisecond
			if o.Engine != nil {
				o.Engine(eo)
			}
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Shutdown(ctx)
		t.Fatal(err)
	}
	stop := sync.OnceFunc(func() { _ = a.Shutdown(context.Background()) })
	t.Cleanup(stop)
	return &Server{URL: a.URL(), Store: a.Store(), Dir: cfg.DataDir, Engine: a.Engine(), API: a.Handler(), Node: a.Node(), Tracing: a.Tracing(), t: t, logs: logs, stop: stop}
}

// syncBuffer is a bytes.Buffer the server's goroutines may write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Do calls the API with the admin token and decodes the JSON answer (if
// any) into out. It returns the status code. The request and the answer
// are checked against the OpenAPI document (see Client).
func (s *Server) Do(method, path string, body any, out any) int {
	s.t.Helper()
	return s.DoWith(method, path, body, out, http.Header{"Authorization": {"Bearer " + Token}})
}

// DoWith calls the API with the given headers.
func (s *Server) DoWith(method, path string, body any, out any, h http.Header) int {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A stream opened: it would not end; read it through Client.
		return resp.StatusCode
	}
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: answer %d is not JSON: %v: %s", method, path, resp.StatusCode, err, raw)
		}
	}
	return resp.StatusCode
}

// MustDo is Do that fails the test unless the status is want.
func (s *Server) MustDo(method, path string, body any, out any, want int) {
	s.t.Helper()
	var raw json.RawMessage
	got := s.Do(method, path, body, &raw)
	if got != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatal(err)
		}
	}
}

// AppID returns the id of the app with this uid.
func (s *Server) AppID(uid string) string {
	s.t.Helper()
	var a struct{ ID string }
	s.MustDo("GET", "/v1/apps/"+uid, nil, &a, 200)
	return a.ID
}

// Setup creates an app (uid "acme"), an event type "lead.created" and an
// endpoint of that app pointing at url; it returns the endpoint's id.
func (s *Server) Setup(url string, extra map[string]any) string {
	s.t.Helper()
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	body := map[string]any{"url": url}
	for k, v := range extra {
		body[k] = v
	}
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
	return ep.ID
}

// Send posts an event of type lead.created to app acme and returns its id.
func (s *Server) Send(payload any) string {
	s.t.Helper()
	var ev struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": payload}, &ev, 202)
	return ev.ID
}

// MustSend posts an event of the given type to app acme and returns its id.
func (s *Server) MustSend(t testing.TB, eventType string, payload any) string {
	t.Helper()
	var ev struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": eventType, "payload": payload}, &ev, 202)
	return ev.ID
}

// Delivery is a delivery as the API shows it.
type Delivery struct {
	ID            string           `json:"id"`
	EventID       string           `json:"event_id"`
	EndpointID    string           `json:"endpoint_id"`
	Status        string           `json:"status"`
	AttemptCount  int              `json:"attempt_count"`
	NextAttemptAt *time.Time       `json:"next_attempt_at"`
	Attempts      []herald.Attempt `json:"attempts"`
}

// WaitDelivery polls the event's deliveries until the first one has the
// wanted status (and, when attempts > 0, that many attempts).
func (s *Server) WaitDelivery(eventID, status string, attempts int, within time.Duration) Delivery {
	s.t.Helper()
	deadline := time.Now().Add(within)
	var last Delivery
	for time.Now().Before(deadline) {
		var pg struct{ Data []Delivery }
		s.MustDo("GET", "/v1/apps/acme/events/"+eventID+"/deliveries", nil, &pg, 200)
		if len(pg.Data) > 0 {
			last = pg.Data[0]
			if last.Status == status && (attempts == 0 || last.AttemptCount == attempts) {
				return last
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("event %s: delivery did not reach %s with %d attempts within %v; last: %+v", eventID, status, attempts, within, last)
	return last
}

// Request is one request a Receiver got.
type Request struct {
	At     time.Time
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Receiver is an HTTP server on 127.0.0.1 that records every request and
// answers with Handler (200 "ok" when nil).
type Receiver struct {
	URL     string
	mu      sync.Mutex
	reqs    []Request
	handler func(n int, w http.ResponseWriter, r *http.Request)
	notify  chan struct{}
	srv     *httptest.Server
}

// NewReceiver starts a receiver; handler gets the 1-based number of the
// request. It is closed at cleanup.
func NewReceiver(t testing.TB, handler func(n int, w http.ResponseWriter, r *http.Request)) *Receiver {
	rc := &Receiver{handler: handler, notify: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	rc.URL = rc.srv.URL
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, Request{At: time.Now(), Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	n := len(rc.reqs)
	rc.mu.Unlock()
	select {
	case rc.notify <- struct{}{}:
	default:
	}
	if rc.handler != nil {
		rc.handler(n, w, r)
		return
	}
	_, _ = w.Write([]byte("ok"))
}

// Requests returns a copy of what was received so far.
func (rc *Receiver) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.reqs...)
}

// Wait blocks until at least n requests arrived, or fails the test.
func (rc *Receiver) Wait(t testing.TB, n int, within time.Duration) []Request {
	t.Helper()
	deadline := time.After(within)
	for {
		if r := rc.Requests(); len(r) >= n {
			return r
		}
		select {
		case <-rc.notify:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("receiver got %d requests, want %d within %v", len(rc.Requests()), n, within)
		}
	}
}
