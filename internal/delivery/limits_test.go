package delivery_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

func TestRateLimitAndMaxInFlight(t *testing.T) {
	t.Parallel()
	var cur, peak atomic.Int64
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		c := cur.Add(1)
		for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		cur.Add(-1)
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL, map[string]any{"rate_limit": 25, "max_in_flight": 3})
	for i := range 60 {
		s.Send(map[string]any{"i": i})
	}
	reqs := rc.Wait(t, 60, 10*time.Second)
	worst := 0
	for i := range reqs {
		c := 0
		for j := i; j < len(reqs) && reqs[j].At.Sub(reqs[i].At) < time.Second; j++ {
			c++
		}
		worst = max(worst, c)
	}
	if worst > 28 {
		t.Fatalf("%d requests within one second; rate_limit is 25/s", worst)
	}
	if p := peak.Load(); p > 3 {
		t.Fatalf("%d in flight; max_in_flight is 3", p)
	}
}

// An endpoint answering 503 gets fewer requests at once (the window
// halves), then more again once it recovers.
func TestAdaptiveWindow(t *testing.T) {
	t.Parallel()
	var cur, peakWhileFailing atomic.Int64
	var failing atomic.Bool
	failing.Store(true)
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		c := cur.Add(1)
		defer cur.Add(-1)
		time.Sleep(20 * time.Millisecond)
		if failing.Load() {
			if n > 40 {
				for p := peakWhileFailing.Load(); c > p && !peakWhileFailing.CompareAndSwap(p, c); p = peakWhileFailing.Load() {
				}
			}
			w.WriteHeader(503)
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "10ms,10ms,10ms,10ms,10ms,10ms,10ms,10ms"})
	s.Setup(rc.URL, map[string]any{"max_in_flight": 16})
	for i := range 100 {
		s.Send(map[string]any{"i": i})
	}
	rc.Wait(t, 200, 20*time.Second)
	if p := peakWhileFailing.Load(); p > 4 {
		t.Fatalf("%d requests in flight while the endpoint kept answering 503; the window should have narrowed", p)
	}
	failing.Store(false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var pend struct{ Data []any }
		var eps struct{ Data []struct{ ID string } }
		s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &eps, 200)
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+eps.Data[0].ID+"/deliveries?status=pending&include_attempts=false", nil, &pend, 200)
		if len(pend.Data) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending after the endpoint recovered", len(pend.Data))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
