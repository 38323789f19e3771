package delivery_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// holdingReceiver answers nothing until released (or the request ends),
// and counts the requests it holds at once.
type holdingReceiver struct {
	rc        *heraldtest.Receiver
	release   chan struct{}
	once      sync.Once
	cur, peak atomic.Int64
}

// open lets every request held go, and those to come.
func (h *holdingReceiver) open() { h.once.Do(func() { close(h.release) }) }

// newHoldingReceiver holds every request after the first skip ones,
// which it answers at once.
func newHoldingReceiver(t *testing.T, skip int) *holdingReceiver {
	h := &holdingReceiver{release: make(chan struct{})}
	h.rc = heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= skip {
			return
		}
		c := h.cur.Add(1)
		defer h.cur.Add(-1)
		for p := h.peak.Load(); c > p && !h.peak.CompareAndSwap(p, c); p = h.peak.Load() {
		}
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
	})
	// Before the receiver's own cleanup, which waits for its handlers.
	t.Cleanup(h.open)
	return h
}

// answer is one API call's status, error code and Retry-After.
type answer struct {
	status     int
	code       string
	retryAfter string
}

// flood makes n calls of POST path at once and returns a channel of
// their answers, each sent as it comes.
func flood(t *testing.T, s *heraldtest.Server, path string, body any, n int) <-chan answer {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}}
	t.Cleanup(c.CloseIdleConnections)
	out := make(chan answer, n)
	for range n {
		go func() {
			req, _ := http.NewRequest("POST", s.URL+path, bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+heraldtest.Token)
			resp, err := c.Do(req)
			if err != nil {
				out <- answer{code: err.Error()}
				return
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var e struct{ Error struct{ Code string } }
			_ = json.Unmarshal(raw, &e)
			out <- answer{status: resp.StatusCode, code: e.Error.Code, retryAfter: resp.Header.Get("Retry-After")}
		}()
	}
	return out
}

// collect reads n answers, failing the test if they take longer than
// within (they come while the receiver still holds every request it got:
// only those refused can answer).
func collect(t *testing.T, answers <-chan answer, n int, within time.Duration) []answer {
	t.Helper()
	deadline := time.After(within)
	var got []answer
	for len(got) < n {
		select {
		case a := <-answers:
			got = append(got, a)
		case <-deadline:
			t.Fatalf("%d answers of %d within %v: %+v", len(got), n, within, got)
		}
	}
	return got
}

// 300 test sends at once to a receiver that never answers: Herald holds
// the endpoint's in-flight cap of connections (2), keeps the rest of the
// app's bound (8) waiting for their turn, and answers the other 292 with
// 429 too_many_requests at once, while the receiver still holds the
// first two. Released, the 8 are sent in turn and answered 200.
func TestTestSendFlood(t *testing.T) {
	t.Parallel()
	h := newHoldingReceiver(t, 0)
	s := heraldtest.Start(t, heraldtest.Options{Timeout: time.Minute})
	ep := s.Setup(h.rc.URL+"/hook", map[string]any{"max_in_flight": 2})
	answers := flood(t, s, "/v1/apps/acme/endpoints/"+ep+"/test", map[string]any{"event_type": "lead.created", "payload": map[string]any{}}, 300)
	refused := collect(t, answers, 300-delivery.MaxManualPerApp, 30*time.Second)
	for _, a := range refused {
		if a.status != http.StatusTooManyRequests || a.code != "too_many_requests" || a.retryAfter != "1" {
			t.Fatalf("answer %+v, want 429 too_many_requests with Retry-After 1", a)
		}
	}
	h.rc.Wait(t, 2, 10*time.Second)
	if n, p := len(h.rc.Requests()), h.peak.Load(); n != 2 || p != 2 {
		t.Fatalf("the receiver got %d requests, at most %d at once, while the rest were refused; want 2 (the endpoint's cap)", n, p)
	}
	h.open()
	for _, a := range collect(t, answers, delivery.MaxManualPerApp, 30*time.Second) {
		if a.status != http.StatusOK {
			t.Fatalf("a test send that waited for its turn: %+v, want 200", a)
		}
	}
	if n, p := len(h.rc.Requests()), h.peak.Load(); n != delivery.MaxManualPerApp || p != 2 {
		t.Fatalf("the receiver got %d requests, at most %d at once; want %d, 2 at once", n, p, delivery.MaxManualPerApp)
	}
}

// Resends are bounded alike, apart from test sends.
func TestResendFlood(t *testing.T) {
	t.Parallel()
	h := newHoldingReceiver(t, 1) // the delivery's own attempt is answered
	s := heraldtest.Start(t, heraldtest.Options{Timeout: time.Minute})
	s.Setup(h.rc.URL+"/hook", map[string]any{"max_in_flight": 1})
	ev := s.Send(map[string]any{"n": 1})
	d := s.WaitDelivery(ev, "succeeded", 1, 10*time.Second)
	answers := flood(t, s, "/v1/apps/acme/deliveries/"+d.ID+"/resend", nil, 30)
	for _, a := range collect(t, answers, 30-delivery.MaxManualPerApp, 30*time.Second) {
		if a.status != http.StatusTooManyRequests || a.code != "too_many_requests" {
			t.Fatalf("answer %+v, want 429 too_many_requests", a)
		}
	}
	h.open()
	for _, a := range collect(t, answers, delivery.MaxManualPerApp, 30*time.Second) {
		if a.status != http.StatusOK {
			t.Fatalf("a resend that waited for its turn: %+v, want 200", a)
		}
	}
	if n, p := len(h.rc.Requests()), h.peak.Load(); n != 1+delivery.MaxManualPerApp || p != 1 {
		t.Fatalf("the receiver got %d requests, at most %d held at once; want %d, one at a time", n, p, 1+delivery.MaxManualPerApp)
	}
}
