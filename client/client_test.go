package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/heraldtest"
)

func ptr[T any](v T) *T { return &v }

// TestClientAgainstHerald drives a real server through the client: create
// an app, an event type and an endpoint, send an event and see it
// delivered, page through lists, and get typed errors.
func TestClientAgainstHerald(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	h, err := client.New(s.URL, heraldtest.Token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	for i := range 3 {
		res, err := h.CreateAppWithResponse(ctx, client.AppCreate{Name: fmt.Sprintf("App %d", i), UID: ptr(fmt.Sprintf("app-%d", i))})
		if err != nil || res.JSON201 == nil {
			t.Fatalf("create app %d: %v", i, err)
		}
	}
	if _, err := h.CreateEventTypeWithResponse(ctx, client.EventTypeCreate{Name: "lead.created"}); err != nil {
		t.Fatal(err)
	}
	var in client.EndpointCreate
	if err := in.FromEndpointInput(client.EndpointInput{URL: ptr(rc.URL), EventTypes: ptr([]string{"lead.created"})}); err != nil {
		t.Fatal(err)
	}
	ep, err := h.CreateEndpointWithResponse(ctx, "app-0", in)
	if err != nil || ep.JSON201 == nil {
		t.Fatalf("create endpoint: %v", err)
	}
	ev, err := h.CreateEventWithResponse(ctx, "app-0", nil, client.EventCreate{EventType: "lead.created", Payload: map[string]any{"id": 42}})
	if err != nil || ev.JSON202 == nil {
		t.Fatalf("create event: %v", err)
	}
	got := rc.Wait(t, 1, 10*time.Second)
	if !strings.Contains(string(got[0].Body), `"id":42`) {
		t.Errorf("receiver got %s", got[0].Body)
	}

	// Every app, one per page.
	var uids []string
	for app, err := range client.Pages(ctx, func(ctx context.Context, cursor *string) ([]client.App, *string, error) {
		res, err := h.ListAppsWithResponse(ctx, &client.ListAppsParams{Limit: ptr(1), Cursor: cursor})
		if err != nil {
			return nil, nil, err
		}
		return res.JSON200.Data, res.JSON200.NextCursor, nil
	}) {
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, *app.UID)
	}
	if strings.Join(uids, ",") != "app-2,app-1,app-0" {
		t.Errorf("apps paged one by one: %v", uids)
	}
	n := 0
	for _, err := range h.Endpoints(ctx, "app-0") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("Endpoints: %d, want 1", n)
	}

	// Errors are typed, with the field at fault.
	_, err = h.GetAppWithResponse(ctx, "nope")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != client.ErrorCodeNotFound {
		t.Errorf("get of a missing app: %v", err)
	}
	if err := in.FromEndpointInput(client.EndpointInput{URL: ptr("ftp://example.com/")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.CreateEndpointWithResponse(ctx, "app-0", in)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 422 || apiErr.Field != "url" {
		t.Errorf("endpoint with an ftp URL: %v", err)
	}
	for _, err := range h.Endpoints(ctx, "missing-app") {
		if client.CodeOf(err) != client.ErrorCodeNotFound {
			t.Errorf("iterating a missing app's endpoints: %v", err)
		}
	}
	bad, err := client.New(s.URL, "wrong-token")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.ListAppsWithResponse(ctx, nil); client.CodeOf(err) != client.ErrorCodeUnauthorized {
		t.Errorf("wrong token: %v", err)
	}
}

// flaky is a proxy in front of a server that spoils the first request to
// one path, then passes everything through, and records what it saw.
type flaky struct {
	*httptest.Server
	mu   sync.Mutex
	keys []string // Idempotency-Key of each request to path
}

func newFlaky(t *testing.T, target, path string, spoil func(w http.ResponseWriter, r *http.Request, forward func())) *flaky {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f := &flaky{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			proxy.ServeHTTP(w, r)
			return
		}
		f.mu.Lock()
		f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
		first := len(f.keys) == 1
		f.mu.Unlock()
		if first {
			spoil(w, r, func() { proxy.ServeHTTP(httptest.NewRecorder(), r) })
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *flaky) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keys...)
}

// TestClientRetries: a 503 with Retry-After is waited out and tried
// again, and an answer lost after the server acted is retried with the
// same idempotency key, so the event is taken once.
func TestClientRetries(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup("https://example.com/hooks", nil)
	const path = "/v1/apps/acme/events"
	body := client.EventCreate{EventType: "lead.created", Payload: map[string]any{"n": 1}}

	t.Run("503 with Retry-After", func(t *testing.T) {
		f := newFlaky(t, s.URL, path, func(w http.ResponseWriter, r *http.Request, _ func()) {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"code":"unavailable","message":"try again"}}`)
		})
		h, err := client.New(f.URL, heraldtest.Token)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res, err := h.CreateEventWithResponse(t.Context(), "acme", nil, body)
		if err != nil || res.JSON202 == nil {
			t.Fatalf("create event through a 503: %v", err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("retried after %v, before the Retry-After of 1s", waited)
		}
		if keys := f.seen(); len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
			t.Errorf("idempotency keys of the two tries: %q", keys)
		}
	})

	t.Run("answer lost after the event was taken", func(t *testing.T) {
		f := newFlaky(t, s.URL, path, func(w http.ResponseWriter, r *http.Request, forward func()) {
			forward()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		h, err := client.New(f.URL, heraldtest.Token)
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.CreateEventWithResponse(t.Context(), "acme", nil, body)
		if err != nil || res.JSON202 == nil {
			t.Fatalf("create event through a lost answer: %v", err)
		}
		keys := f.seen()
		if len(keys) != 2 || keys[0] != keys[1] {
			t.Fatalf("idempotency keys of the two tries: %q", keys)
		}
		var events struct{ Data []struct{ ID string } }
		s.MustDo("GET", "/v1/apps/acme/events?limit=250", nil, &events, 200)
		seen := map[string]int{}
		for _, e := range events.Data {
			seen[e.ID]++
		}
		if seen[res.JSON202.ID] != 1 || len(events.Data) != 2 {
			t.Errorf("events after the retried create: %+v, want the first test's and this one, once", events.Data)
		}
	})

	t.Run("Retry-After beyond MaxWait", func(t *testing.T) {
		f := newFlaky(t, s.URL, path, func(w http.ResponseWriter, r *http.Request, _ func()) {
			w.Header().Set("Retry-After", "3600")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"code":"rate_limited","message":"slow down"}}`)
		})
		h, err := client.NewWithOptions(f.URL, heraldtest.Token, client.Options{MaxWait: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.CreateEventWithResponse(t.Context(), "acme", nil, body)
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != client.ErrorCodeRateLimited || apiErr.RetryAfter != time.Hour {
			t.Fatalf("a 429 asking for an hour: %v", err)
		}
		if n := len(f.seen()); n != 1 {
			t.Errorf("%d tries, want 1", n)
		}
	})
}
