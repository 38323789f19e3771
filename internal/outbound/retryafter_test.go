package outbound_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/outbound"
)

const year = 365 * 24 * time.Hour

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{"seconds", retryAfter("120"), 2 * time.Minute, true},
		{"zero", retryAfter("0"), 0, true},
		{"spaces", retryAfter(" 7 "), 7 * time.Second, true},
		{"date", retryAfter(t0.Add(90 * time.Second).Format(http.TimeFormat)), 90 * time.Second, true},
		{"RFC 850 date", retryAfter(t0.Add(time.Hour).Format(time.RFC850)), time.Hour, true},
		{"past date means now", retryAfter(t0.Add(-time.Hour).Format(http.TimeFormat)), 0, true},
		{"huge seconds capped at a year", retryAfter("999999999"), year, true},
		{"seconds beyond int64 capped too", retryAfter("99999999999999999999"), year, true},
		{"far date capped at a year", retryAfter(t0.Add(3 * year).Format(http.TimeFormat)), year, true},
		{"negative beyond int64", retryAfter("-99999999999999999999"), 0, false},
		{"negative", retryAfter("-5"), 0, false},
		{"fraction", retryAfter("1.5"), 0, false},
		{"garbage", retryAfter("soon"), 0, false},
		{"empty", retryAfter(""), 0, false},
		{"absent", http.Header{}, 0, false},
		{"no header at all", nil, 0, false},
	} {
		got, ok := outbound.RetryAfter(c.header, t0)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func retryAfter(v string) http.Header { return http.Header{"Retry-After": {v}} }

// Send reads the receiver's Retry-After, dates against its own clock.
func TestSendReadsRetryAfter(t *testing.T) {
	t.Parallel()
	srv := serve(t, &receiver{answer: func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/date" {
			w.Header().Set("Retry-After", t0.Add(90*time.Second).Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}})
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now})
	for path, want := range map[string]struct {
		status int
		wait   time.Duration
	}{"/seconds": {429, 2 * time.Minute}, "/date": {503, 90 * time.Second}} {
		o := h.Send(context.Background(), newDelivery(t, srv.URL+path))
		if o.Status != want.status || o.RetryAfter == nil || *o.RetryAfter != want.wait || o.Response.Headers["Retry-After"] == "" {
			t.Errorf("%s: status %d, retry after %v, want %d and %v", path, o.Status, o.RetryAfter, want.status, want.wait)
		}
	}
}
