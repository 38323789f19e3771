package outbound_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/internal/store/sealed"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// t0 is the fixed time of the tests' clocks; the event was created just
// before it.
var (
	t0        = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	eventTime = time.Date(2026, 3, 2, 9, 29, 58, 123_000_000, time.UTC)
)

// clock is a settable HTTPOptions.Now, so that signatures and token
// expiry are checked at known times without waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newStore opens a real SQLite store, sealed as a server runs it (access
// tokens are encrypted at rest).
func newStore(t *testing.T) *sealed.Store {
	t.Helper()
	raw, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.ParseKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	st := sealed.New(raw, keys)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newHTTP is an HTTP destination over a sender of its own, as a node has.
func newHTTP(t *testing.T, st outbound.Store, o outbound.HTTPOptions) *outbound.HTTP {
	snd := sender.New(sender.Options{})
	t.Cleanup(snd.CloseIdleConnections)
	return outbound.NewHTTP(snd, st, o)
}

var endpointSeq atomic.Int64

// newDelivery is a delivery of a lead.created event to a new endpoint at
// url with a fresh signing secret. Endpoint ids are unique, as the
// destination caches per endpoint.
func newDelivery(t *testing.T, url string) *outbound.Delivery {
	t.Helper()
	secret, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	n := endpointSeq.Add(1)
	return &outbound.Delivery{
		ID: fmt.Sprintf("dlv_%d", n),
		Event: &herald.Event{ID: fmt.Sprintf("evt_%d", n), AppID: "app_1", EventType: "lead.created",
			Payload: herald.RawJSON(`{"name":"Ann","n":1}`), CreatedAt: eventTime},
		Endpoint: &herald.Endpoint{ID: fmt.Sprintf("ep_%d", n), AppID: "app_1", URL: url, Enabled: true, Secret: secret,
			CreatedAt: eventTime, UpdatedAt: eventTime},
		App: &herald.App{ID: "app_1", UID: "acme", Name: "Acme"},
	}
}

// received is one request as a receiver got it.
type received struct {
	Method     string
	RequestURI string
	Header     http.Header
	Body       []byte
	// ClientCN is the common name of the client certificate, if any.
	ClientCN string
}

// receiver records the requests that reach it, then answers with answer
// (200 with an empty body when nil). answer may read r.Body again.
type receiver struct {
	answer func(w http.ResponseWriter, r *http.Request)
	mu     sync.Mutex
	reqs   []received
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	got := record(r)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, got)
	rc.mu.Unlock()
	if rc.answer != nil {
		rc.answer(w, r)
	}
}

// record reads a request as it arrived, leaving its body to read again.
func record(r *http.Request) received {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	got := received{Method: r.Method, RequestURI: r.RequestURI, Header: r.Header.Clone(), Body: body}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		got.ClientCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	return got
}

// requests returns what reached the receiver so far. Send returns after
// the answer, so everything a Send caused is there when it returns.
func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

// last returns the latest request, failing the test if there is none.
func (rc *receiver) last(t *testing.T) received {
	t.Helper()
	reqs := rc.requests()
	if len(reqs) == 0 {
		t.Fatal("nothing reached the receiver")
	}
	return reqs[len(reqs)-1]
}

// serve starts h on 127.0.0.1 for the test. At the end it cuts the
// connections first, so that handlers still waiting on a request return.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// blockUntilDone never answers: it waits until the client goes away.
// arrived, when not nil, is told of each request as it comes.
func blockUntilDone(arrived chan<- struct{}) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if arrived != nil {
			select {
			case arrived <- struct{}{}:
			case <-r.Context().Done():
				return
			}
		}
		<-r.Context().Done()
	}
}

// cancelOnArrival returns a context cancelled as soon as a request
// arrives: an attempt cut short while it waits for an answer.
func cancelOnArrival(t *testing.T, arrived <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		select {
		case <-arrived:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx
}

// wantOK fails the test unless the outcome is a 2xx success.
func wantOK(t *testing.T, o outbound.Outcome) {
	t.Helper()
	if o.Kind != "" || o.Error != "" || o.Status/100 != 2 || o.Response == nil || o.Aborted {
		t.Fatalf("outcome kind %q status %d error %q response %+v aborted %v, want a success", o.Kind, o.Status, o.Error, o.Response, o.Aborted)
	}
}
