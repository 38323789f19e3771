package api_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// sseEvent is one block of a Server-Sent Events stream.
type sseEvent struct {
	ID, Event, Data string
	Comment         bool
}

// attemptEvent is the data of an attempt event.
type attemptEvent struct {
	AttemptID      string     `json:"attempt_id"`
	DeliveryID     string     `json:"delivery_id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	EndpointID     string     `json:"endpoint_id"`
	Attempt        int        `json:"attempt"`
	StatusCode     *int       `json:"status_code"`
	ErrorKind      string     `json:"error_kind"`
	DeliveryStatus string     `json:"delivery_status"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
}

// stream is an open attempt stream.
type stream struct {
	t      *testing.T
	events chan sseEvent
	close  func()
}

// openStream opens path with token (and Last-Event-ID when lastID is
// set) and fails the test unless it answers 200 text/event-stream.
func openStream(t *testing.T, s *heraldtest.Server, path, token, lastID string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, "GET", s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	st := &stream{t: t, events: make(chan sseEvent, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(st.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					select {
					case st.events <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.Comment = true
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	st.close = func() {
		cancel()
		_ = resp.Body.Close()
		<-done
	}
	t.Cleanup(st.close)
	return st
}

// next returns the next attempt event, skipping comments and bare ids;
// it fails the test when none comes within 10 s.
func (st *stream) next(schema *openapi3.Schema) (string, attemptEvent) {
	st.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-st.events:
			if !ok {
				st.t.Fatal("the stream ended")
			}
			if ev.Event != "attempt" {
				continue
			}
			var raw any
			if err := json.Unmarshal([]byte(ev.Data), &raw); err != nil {
				st.t.Fatalf("event data is not JSON: %v: %s", err, ev.Data)
			}
			if err := schema.VisitJSON(raw, openapi3.EnableJSONSchema2020()); err != nil {
				st.t.Errorf("event data does not match AttemptEvent: %v\n%s", err, ev.Data)
			}
			var a attemptEvent
			_ = json.Unmarshal([]byte(ev.Data), &a)
			return ev.ID, a
		case <-timeout:
			st.t.Fatal("no attempt event within 10 s")
		}
	}
}

func attemptSchema(t *testing.T) *openapi3.Schema {
	return heraldtest.LoadContract(t).Doc.Components.Schemas["AttemptEvent"].Value
}

// TestAttemptStream: a stream shows each attempt as it is recorded, in
// order, with its outcome and the delivery's new status; a reconnect
// with the last id resumes after it, without repeating one; filters keep
// what they name.
func TestAttemptStream(t *testing.T) {
	pullStores(t, func(t *testing.T, s *heraldtest.Server) {
		schema := attemptSchema(t)
		rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				w.WriteHeader(500)
			}
		})
		ep := s.Setup(rc.URL, nil)
		all := openStream(t, s, "/v1/apps/acme/attempts/stream", heraldtest.Token, "")
		succeeded := openStream(t, s, "/v1/apps/acme/attempts/stream?status=succeeded&endpoint="+ep, heraldtest.Token, "")

		evt := s.Send(map[string]any{"n": 1})
		_, first := all.next(schema)
		lastID, second := all.next(schema)
		if first.EventID != evt || first.Attempt != 1 || first.StatusCode == nil || *first.StatusCode != 500 ||
			first.ErrorKind != "http_status" || first.DeliveryStatus != "pending" || first.EndpointID != ep || first.EventType != "lead.created" {
			t.Errorf("first attempt: %+v", first)
		}
		if second.DeliveryID != first.DeliveryID || second.Attempt != 2 || second.StatusCode == nil || *second.StatusCode != 200 ||
			second.DeliveryStatus != "succeeded" || second.ErrorKind != "" || second.NextAttemptAt != nil {
			t.Errorf("second attempt: %+v", second)
		}
		if _, ok := succeeded.next(schema); ok.Attempt != 2 || ok.DeliveryStatus != "succeeded" {
			t.Errorf("status=succeeded showed %+v first", ok)
		}
		all.close()

		evt2 := s.Send(map[string]any{"n": 2})
		resumed := openStream(t, s, "/v1/apps/acme/attempts/stream", heraldtest.Token, lastID)
		if _, a := resumed.next(schema); a.EventID != evt2 || a.Attempt != 1 || a.DeliveryStatus != "succeeded" {
			t.Errorf("after reconnecting with the last id, first attempt: %+v; want the new event's first", a)
		}
		again := openStream(t, s, "/v1/apps/acme/attempts/stream?cursor="+lastID, heraldtest.Token, "")
		if _, a := again.next(schema); a.EventID != evt2 {
			t.Errorf("?cursor= resumed at %+v", a)
		}
	})
}

// TestAttemptStreamRefusals: bad filters get 400 naming the parameter,
// another app's key 404, a portal session 403, and a stream beyond the
// app's limit 429.
func TestAttemptStreamRefusals(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup("http://127.0.0.1:9/", nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	other := mkKey(t, s, map[string]any{"name": "other", "scope": "app", "app": "other"})
	own := mkKey(t, s, map[string]any{"name": "own", "scope": "app", "app": "acme", "read_only": true})

	for _, c := range []struct{ query, field string }{
		{"status=nope", "status"},
		{"endpoint=ep_nope", "endpoint"},
		{"cursor=not-a-cursor", "cursor"},
		{"statuss=failed", "statuss"},
	} {
		var e struct{ Error struct{ Code, Field string } }
		if got := s.Invalid().Do("GET", "/v1/apps/acme/attempts/stream?"+c.query, nil, &e); got != 400 || e.Error.Field != c.field {
			t.Errorf("?%s: %d %+v; want 400 naming %s", c.query, got, e.Error, c.field)
		}
	}
	if got := s.DoWith("GET", "/v1/apps/acme/attempts/stream", nil, nil, bearer(other)); got != 404 {
		t.Errorf("another app's key: %d, want 404", got)
	}
	var p portalAnswer
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{}, &p, 201)
	if got := s.DoWith("GET", "/v1/apps/acme/attempts/stream", nil, nil, bearer(p.Token)); got != 403 {
		t.Errorf("portal session: %d, want 403", got)
	}

	// The app's keys and the admin token share the app's streams.
	for i := range 10 {
		tok := own
		if i%2 == 0 {
			tok = heraldtest.Token
		}
		openStream(t, s, "/v1/apps/acme/attempts/stream", tok, "")
	}
	var e struct{ Error struct{ Code string } }
	if got := s.DoWith("GET", "/v1/apps/acme/attempts/stream", nil, &e, bearer(own)); got != 429 || e.Error.Code != "too_many_requests" {
		t.Errorf("11th stream: %d %+v, want 429", got, e.Error)
	}
	// Another app's streams are its own.
	openStream(t, s, "/v1/apps/other/attempts/stream", other, "")
}

// TestAttemptStreamAcrossNodes: two nodes share a PostgreSQL database; a
// stream opened on one shows the attempts the other made.
func TestAttemptStreamAcrossNodes(t *testing.T) {
	t.Parallel()
	db := heraldtest.PostgresDatabase(t, "herald_stream_")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfg := func(c *config.Serve) {
		c.DatabaseURL = db
		c.EncryptionKey = "k1:" + base64.StdEncoding.EncodeToString(key)
	}
	a := heraldtest.Start(t, heraldtest.Options{Config: cfg})
	b := heraldtest.Start(t, heraldtest.Options{Config: cfg})
	rc := heraldtest.NewReceiver(t, nil)
	ep := a.Setup(rc.URL, nil)
	schema := attemptSchema(t)
	st := openStream(t, a, "/v1/apps/acme/attempts/stream", heraldtest.Token, "")

	// An event taken by node b is leased to b at once and sent from its
	// memory: node a never sees it but through the store.
	var ev struct{ ID string }
	b.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"n": 1}}, &ev, 202)
	rc.Wait(t, 1, 10*time.Second)
	if _, got := st.next(schema); got.EventID != ev.ID || got.EndpointID != ep || got.DeliveryStatus != "succeeded" {
		t.Errorf("node a's stream showed %+v; want node b's attempt of %s", got, ev.ID)
	}
}

// TestAttemptStreamTimings: a quiet stream sends heartbeats; an attempt
// this node records wakes the stream before its poll (here an hour
// away); a stream ends when its age runs out.
func TestAttemptStreamTimings(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{API: func(o *api.Options) {
		o.StreamPoll = time.Hour
		o.StreamHeartbeat = 20 * time.Millisecond
	}})
	rc := heraldtest.NewReceiver(t, nil)
	s.Setup(rc.URL, nil)
	st := openStream(t, s, "/v1/apps/acme/attempts/stream", heraldtest.Token, "")
	for beats := 0; beats < 2; {
		select {
		case ev := <-st.events:
			if ev.Comment && ev.Event == "" {
				beats++
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat within 10 s")
		}
	}
	evt := s.Send(map[string]any{"n": 1})
	if _, a := st.next(attemptSchema(t)); a.EventID != evt {
		t.Errorf("woken stream showed %+v", a)
	}

	// Behind a server with a read timeout (herald serve has one), the
	// stream outlives it: the timeout bounds reading the request only.
	srv := httptest.NewUnstartedServer(s.API)
	srv.Config.ReadTimeout = 50 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	behind := *s
	behind.URL = srv.URL
	long := openStream(t, &behind, "/v1/apps/acme/attempts/stream", heraldtest.Token, "")
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		select {
		case _, open := <-long.events:
			if !open {
				t.Fatalf("the stream ended after %v, past the server's read timeout", time.Since(start))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat within 10 s")
		}
	}

	short := heraldtest.Start(t, heraldtest.Options{API: func(o *api.Options) { o.StreamMaxAge = 100 * time.Millisecond }})
	short.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	old := openStream(t, short, "/v1/apps/acme/attempts/stream", heraldtest.Token, "")
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, open := <-old.events:
			if !open {
				return // ended by the server
			}
		case <-deadline:
			t.Fatal("a stream past its age did not end")
		}
	}
}
