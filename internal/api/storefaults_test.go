package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/store"
)

// faultyStore fails every call with a refused connection while down is
// set, and, while hangCommit is set, commits events and then does not
// answer until the caller's deadline: a commit whose answer was lost.
type faultyStore struct {
	store.Store
	down, hangCommit atomic.Bool
}

func (f *faultyStore) fail() error {
	if f.down.Load() {
		return fmt.Errorf("dial tcp 127.0.0.1:5432: %w", syscall.ECONNREFUSED)
	}
	return nil
}

func (f *faultyStore) AppGet(ctx context.Context, id string) (*herald.App, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.AppGet(ctx, id)
}

func (f *faultyStore) AppList(ctx context.Context, p store.ListParams) ([]*herald.App, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.AppList(ctx, p)
}

func (f *faultyStore) APIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.APIKeyByHash(ctx, hash)
}

func (f *faultyStore) EventList(ctx context.Context, p store.EventListParams) ([]*herald.Event, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.EventList(ctx, p)
}

func (f *faultyStore) EventsEnqueue(ctx context.Context, p store.EnqueueParams) ([]store.EnqueueResult, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	res, err := f.Store.EventsEnqueue(ctx, p)
	if err == nil && f.hangCommit.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return res, err
}

// call answers status, Retry-After, error code and message.
func call(t *testing.T, s *heraldtest.Server, bearer, method, path string, body any, h http.Header) (int, string, string, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &e)
	return res.StatusCode, res.Header.Get("Retry-After"), e.Error.Code, e.Error.Message
}

// TestStoreDownAnswers503: with the store refusing connections, reads,
// writes and key lookups answer 503 unavailable with Retry-After (never
// 500, never the store's error text), for the admin token and app keys
// alike; the log has one line for the outage, not one per request.
func TestStoreDownAnswers503(t *testing.T) {
	t.Parallel()
	f := &faultyStore{}
	s := heraldtest.Start(t, heraldtest.Options{
		Store:  func(st store.Store) store.Store { f.Store = st; return f },
		Config: func(c *config.Serve) { c.StoreTimeout = 500 * time.Millisecond },
	})
	s.Setup("http://127.0.0.1:9/", nil)
	var key struct{ Key string }
	s.MustDo("POST", "/v1/api-keys", map[string]any{"name": "k", "scope": "app", "app": "acme"}, &key, 201)

	f.down.Store(true)
	event := map[string]any{"event_type": "lead.created", "payload": map[string]any{"a": 1}}
	for _, c := range []struct{ bearer, method, path string }{
		{heraldtest.Token, "POST", "/v1/apps/acme/events"},
		{key.Key, "POST", "/v1/apps/acme/events"},
		{heraldtest.Token, "GET", "/v1/apps"},
		{heraldtest.Token, "GET", "/v1/apps/acme/events"},
	} {
		var body any
		if c.method == "POST" {
			body = event
		}
		for range 3 {
			code, retry, errCode, msg := call(t, s, c.bearer, c.method, c.path, body, nil)
			if code != 503 || retry == "" || errCode != "unavailable" || strings.Contains(msg, "5432") {
				t.Fatalf("%s %s with the store down: %d %q %s %q; want 503 unavailable with Retry-After", c.method, c.path, code, retry, errCode, msg)
			}
		}
	}
	code, retry, body := get(t, s.Client(), s.URL+"/readyz", nil)
	if code != 503 || retry == "" || strings.TrimSpace(body) != `{"status":"unavailable","store":"unreachable"}` {
		t.Fatalf("/readyz with the store down: %d %q %s", code, retry, body)
	}
	f.down.Store(false)
	deadline := time.Now().Add(2 * time.Second)
	for {
		code, _, _, _ := call(t, s, key.Key, "POST", "/v1/apps/acme/events", event, nil)
		if code == 202 {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("POST event once the store is back: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(s.Log(), "level=ERROR"); n != 1 || !s.Logged("the store is unreachable") || !s.Logged("the store is back") {
		t.Fatalf("%d ERROR lines; want one for the outage, and one line when it ended:\n%s", n, s.Log())
	}
}

// TestUnconfirmedCommitSaysSo: an event committed whose confirmation did
// not come within --store-timeout answers 503 saying it may have been
// stored; retried with the same Idempotency-Key, it is the same event.
func TestUnconfirmedCommitSaysSo(t *testing.T) {
	t.Parallel()
	f := &faultyStore{}
	s := heraldtest.Start(t, heraldtest.Options{
		Store:  func(st store.Store) store.Store { f.Store = st; return f },
		Config: func(c *config.Serve) { c.StoreTimeout = 300 * time.Millisecond },
	})
	s.Setup("http://127.0.0.1:9/", nil)
	event := map[string]any{"event_type": "lead.created", "payload": map[string]any{"a": 1}}
	idem := http.Header{"Idempotency-Key": {"lead-1"}}

	f.hangCommit.Store(true)
	start := time.Now()
	code, retry, errCode, msg := call(t, s, heraldtest.Token, "POST", "/v1/apps/acme/events", event, idem)
	if code != 503 || retry == "" || errCode != "unavailable" || !strings.Contains(msg, "may have been stored; retry with the same Idempotency-Key") {
		t.Fatalf("unconfirmed commit: %d %q %s %q", code, retry, errCode, msg)
	}
	if d := time.Since(start); d > 3*300*time.Millisecond {
		t.Fatalf("unconfirmed commit answered after %s with --store-timeout 300ms", d)
	}
	f.hangCommit.Store(false)
	var events struct{ Data []struct{ ID string } }
	// Calls fail at once until a probe finds the store back.
	deadline := time.Now().Add(2 * time.Second)
	for s.Do("GET", "/v1/apps/acme/events", nil, &events) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the store never came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(events.Data) != 1 {
		t.Fatalf("%d events stored, want the 1 whose answer was lost", len(events.Data))
	}
	deadline = time.Now().Add(2 * time.Second)
	for {
		var ev struct{ ID string }
		got := s.DoWith("POST", "/v1/apps/acme/events", event, &ev,
			http.Header{"Authorization": {"Bearer " + heraldtest.Token}, "Idempotency-Key": {"lead-1"}})
		if got == 202 {
			if ev.ID != events.Data[0].ID {
				t.Fatalf("the retry made event %s, want the stored %s", ev.ID, events.Data[0].ID)
			}
			break
		}
		if got != 503 || time.Now().After(deadline) {
			t.Fatalf("retry: %d", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
