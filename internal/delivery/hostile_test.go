package delivery_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/outbound"
)

// hostile is a receiver on 127.0.0.1 whose answers attack Herald, and the
// one attempt Herald records of it.
type hostile struct {
	t *testing.T
	// gone is closed when the handler returns: Herald let go of the
	// connection (a write failed, or the request's context ended).
	gone    chan struct{}
	written atomic.Int64
	rc      *heraldtest.Receiver
	// release ends handlers that wait, at the end of the test.
	release chan struct{}
}

func newHostile(t *testing.T, h func(x *hostile, w http.ResponseWriter, r *http.Request)) *hostile {
	x := &hostile{t: t, gone: make(chan struct{}), release: make(chan struct{})}
	x.rc = heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			defer close(x.gone)
		}
		h(x, w, r)
	})
	// Before the receiver's own cleanup, which waits for its handlers.
	t.Cleanup(func() { close(x.release) })
	return x
}

// write writes p and flushes it, counting what went out.
func (x *hostile) write(w http.ResponseWriter, p []byte) error {
	n, err := w.Write(p)
	x.written.Add(int64(n))
	if err == nil {
		err = http.NewResponseController(w).Flush()
	}
	return err
}

// waitGone fails the test unless the handler returned within d.
func (x *hostile) waitGone(d time.Duration) {
	x.t.Helper()
	select {
	case <-x.gone:
	case <-time.After(d):
		x.t.Fatalf("the hostile receiver still holds Herald's connection after %v (%d bytes written)", d, x.written.Load())
	}
}

// A receiver costs Herald bounded memory, and one worker for at most the
// request timeout, whatever it answers; what is recorded is bounded too.
func TestHostileReceivers(t *testing.T) {
	t.Parallel()
	const maxBody = 1024
	// start sends one event to the hostile receiver and returns its
	// delivery once the first attempt is recorded.
	start := func(t *testing.T, x *hostile, extra map[string]any) heraldtest.Delivery {
		s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h", Config: func(c *config.Serve) { c.MaxResponseBody = maxBody }})
		s.Setup(x.rc.URL+"/hook", extra)
		ev := s.Send(map[string]any{"x": 1})
		var d heraldtest.Delivery
		waitFor(t, func() bool {
			var pg struct{ Data []heraldtest.Delivery }
			s.MustDo("GET", "/v1/apps/acme/events/"+ev+"/deliveries", nil, &pg, 200)
			d = pg.Data[0]
			return d.AttemptCount == 1
		})
		return d
	}

	t.Run("never answers", func(t *testing.T) {
		t.Parallel()
		x := newHostile(t, func(x *hostile, w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-x.release:
			}
		})
		d := start(t, x, map[string]any{"timeout_ms": 300})
		a := d.Attempts[0]
		if a.ErrorKind != "timeout" || a.Response != nil || !strings.Contains(a.Error, "no response within 300ms") || d.Status != "pending" {
			t.Fatalf("delivery %s, attempt %+v", d.Status, a)
		}
		x.waitGone(10 * time.Second)
	})

	t.Run("endless body", func(t *testing.T) {
		t.Parallel()
		x := newHostile(t, func(x *hostile, w http.ResponseWriter, r *http.Request) {
			chunk := []byte(strings.Repeat("x", 32<<10))
			for x.write(w, chunk) == nil {
			}
		})
		d := start(t, x, nil)
		a := d.Attempts[0]
		if d.Status != "succeeded" || a.Response == nil || len(a.Response.Body) != maxBody || !a.Response.BodyTruncated {
			t.Fatalf("delivery %s, attempt %+v", d.Status, a)
		}
		// Herald read the kept part and a bounded drain, then closed the
		// connection: the writes failed. What went out fits in the
		// sockets' buffers, not in an endless stream.
		x.waitGone(10 * time.Second)
		if n := x.written.Load(); n > 32<<20 {
			t.Fatalf("the receiver wrote %d bytes before Herald closed the connection", n)
		}
	})

	t.Run("huge Content-Length then drip", func(t *testing.T) {
		t.Parallel()
		x := newHostile(t, func(x *hostile, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000000000000")
			for x.write(w, []byte("x")) == nil {
				select {
				case <-r.Context().Done():
					return
				case <-x.release:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
		d := start(t, x, map[string]any{"timeout_ms": 500})
		a := d.Attempts[0]
		if a.ErrorKind != "timeout" || !strings.Contains(a.Error, "response body not complete within 500ms") || a.Response == nil ||
			a.Response.StatusCode != 200 || len(a.Response.Body) > maxBody || d.Status != "pending" {
			t.Fatalf("delivery %s, attempt %+v", d.Status, a)
		}
		x.waitGone(10 * time.Second)
	})

	t.Run("redirect to itself", func(t *testing.T) {
		t.Parallel()
		x := newHostile(t, func(x *hostile, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		})
		d := start(t, x, nil)
		a := d.Attempts[0]
		if d.Status != "failed" || a.ErrorKind != "http_status" || a.Response.StatusCode != 302 || a.Response.Headers["Location"] != "/hook" {
			t.Fatalf("delivery %s, attempt %+v", d.Status, a)
		}
		if n := len(x.rc.Requests()); n != 1 {
			t.Fatalf("the redirect was followed: %d requests", n)
		}
	})

	t.Run("Retry-After 999999", func(t *testing.T) {
		t.Parallel()
		x := newHostile(t, func(x *hostile, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "999999")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		d := start(t, x, nil)
		a := d.Attempts[0]
		if d.Status != "pending" || d.NextAttemptAt == nil {
			t.Fatalf("delivery %+v", d)
		}
		// Capped at 24 hours by the retry policy (the schedule alone
		// would retry in an hour).
		if wait := d.NextAttemptAt.Sub(a.CreatedAt); wait < 24*time.Hour || wait > 24*time.Hour+time.Minute {
			t.Fatalf("next attempt %v after the first, want 24h", wait)
		}
	})

	t.Run("header bomb", func(t *testing.T) {
		t.Parallel()
		x := newHostile(t, func(x *hostile, w http.ResponseWriter, r *http.Request) {
			v := strings.Repeat("b", 8<<10)
			for i := range 600 {
				w.Header().Set(fmt.Sprintf("X-Bomb-%03d", i), v)
			}
			w.WriteHeader(http.StatusOK)
		})
		d := start(t, x, nil)
		a := d.Attempts[0]
		if a.ErrorKind != "network" || a.Response != nil || !strings.Contains(a.Error, "exceeded 65536 bytes") || d.Status != "pending" {
			t.Fatalf("delivery %s, attempt %+v", d.Status, a)
		}
		x.waitGone(10 * time.Second)
	})

	t.Run("many headers", func(t *testing.T) {
		t.Parallel()
		x := newHostile(t, func(x *hostile, w http.ResponseWriter, r *http.Request) {
			for i := range 300 {
				w.Header().Set(fmt.Sprintf("X-Many-%03d", i), strings.Repeat("m", 150))
			}
		})
		d := start(t, x, nil)
		a := d.Attempts[0]
		if d.Status != "succeeded" || a.Response == nil || !a.Response.HeadersTruncated {
			t.Fatalf("delivery %s, attempt %+v", d.Status, a)
		}
		size := 0
		for k, v := range a.Response.Headers {
			size += len(k) + len(v)
		}
		if len(a.Response.Headers) > outbound.MaxKeptHeaders || size > outbound.MaxKeptHeaderBytes {
			t.Fatalf("kept %d headers, %d bytes", len(a.Response.Headers), size)
		}
	})
}
