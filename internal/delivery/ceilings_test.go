package delivery

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
)

// A retry schedule saved before the operator lowered the ceilings (here
// 2,000 instant retries, written straight to the store as an old row
// would be) is held to them when used: at most MaxRetries retries, none
// sooner than MinRetryDelay. The app's schedule likewise.
func TestEngineHoldsSchedulesToCeilings(t *testing.T) {
	t.Parallel()
	s := time.Second
	flood := strings.TrimSuffix(strings.Repeat("0s,", 2000), ",")
	for _, c := range []struct {
		name     string
		endpoint string
		app      string
		at       []time.Duration
	}{
		{"the endpoint's", flood, "", []time.Duration{0, s, 2 * s, 3 * s}},
		{"the app's", "", "100ms,100ms,100ms,100ms,100ms,5s", []time.Duration{0, s, 2 * s, 3 * s}},
		{"within the ceilings", "2s,5s", flood, []time.Duration{0, 2 * s, 7 * s}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := startEngine(t, Options{Retry: RetryPolicy{Schedule: []time.Duration{time.Hour}},
					Ceilings: herald.TenantCeilings{MaxRetries: 3, MinRetryDelay: s}}, always(http.StatusServiceUnavailable))
				r.app.RetrySchedule = c.app
				if err := r.db.AppUpdate(context.Background(), r.app); err != nil {
					t.Fatal(err)
				}
				r.endpoint(func(ep *herald.Endpoint) { ep.RetrySchedule = c.endpoint })
				ev := r.enqueue(1)[0]
				time.Sleep(24 * time.Hour)
				if got := r.times(); !slices.Equal(got, c.at) {
					t.Fatalf("%d attempts, sent at %v, want %v", len(got), got[:min(len(got), 8)], c.at)
				}
				if d := r.delivery(ev); d.Status != herald.StatusFailed || d.AttemptCount != len(c.at) {
					t.Fatalf("delivery %s after %d attempts, want failed after %d", d.Status, d.AttemptCount, len(c.at))
				}
			})
		})
	}
}

// An in-flight cap an endpoint or its app saved above the ceiling is held
// to it; the installation's own cap is the operator's and is not.
func TestEngineHoldsInFlightToCeiling(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name          string
		endpoint, app int
		want          int
	}{
		{"the endpoint's", 10, 0, 2},
		{"the app's", 0, 10, 2},
		{"the installation's", 0, 0, 4},
		{"within the ceiling", 1, 10, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				gate := newHoldGate()
				r := startEngine(t, Options{Workers: 16, InitialWindow: 64, MaxInFlightPerEndpoint: 4, Ceilings: herald.TenantCeilings{MaxInFlight: 2}}, gate.answer)
				r.app.MaxInFlight = c.app
				if err := r.db.AppUpdate(context.Background(), r.app); err != nil {
					t.Fatal(err)
				}
				r.endpoint(func(ep *herald.Endpoint) { ep.MaxInFlight = c.endpoint })
				r.enqueue(10)
				synctest.Wait()
				first := len(r.sent())
				close(gate.open)
				synctest.Wait()
				if n := len(r.sent()); first != c.want || n != 10 || gate.most() != c.want {
					t.Fatalf("%d requests in flight at first, %d sent of 10, at most %d at once; want %d at once", first, n, gate.most(), c.want)
				}
			})
		})
	}
}
