package delivery

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

var retryNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func after(p *RetryPolicy, n int, status int, retryAfter *time.Duration) (herald.DeliveryStatus, time.Duration) {
	kind := herald.ErrorKindHTTPStatus
	if status/100 == 2 {
		kind = herald.ErrorKindNone
	}
	v := p.Decide(n, kind, status, retryAfter, retryNow)
	if v.Status != herald.StatusPending {
		return v.Status, 0
	}
	return v.Status, v.NextAttemptAt.Sub(retryNow)
}

func TestRetryJitter(t *testing.T) {
	t.Parallel()
	r := 0.0
	p := &RetryPolicy{Schedule: []time.Duration{10 * time.Second, 0}, Jitter: 0.2, rand: func() float64 { return r }}
	for _, c := range []struct {
		r    float64
		want time.Duration
	}{
		{0, 8 * time.Second},                    // the shortest: 20 % early
		{0.25, 9 * time.Second},                 // 10 % early
		{0.5, 10 * time.Second},                 // on schedule
		{0.75, 11 * time.Second},                // 10 % late
		{0.999999, 11999996 * time.Microsecond}, // just under 20 % late
	} {
		r = c.r
		if s, wait := after(p, 1, 500, nil); s != herald.StatusPending || wait != c.want {
			t.Errorf("rand %v: %s in %v, want pending in %v", c.r, s, wait, c.want)
		}
	}
	// A zero wait stays zero: jitter spreads waits, it does not make one.
	r = 0.99
	if _, wait := after(p, 2, 500, nil); wait != 0 {
		t.Errorf("zero wait jittered to %v", wait)
	}
	// No jitter asked: the source is not even read.
	p = &RetryPolicy{Schedule: []time.Duration{time.Minute}, rand: func() float64 { t.Fatal("rand read without jitter"); return 0 }}
	if _, wait := after(p, 1, 503, nil); wait != time.Minute {
		t.Errorf("without jitter: %v", wait)
	}
}

func TestRetryAfterOnlyOn429And503(t *testing.T) {
	t.Parallel()
	ra := func(d time.Duration) *time.Duration { return &d }
	p := &RetryPolicy{Schedule: []time.Duration{time.Minute, time.Minute}, Jitter: 0.5, MaxRetryAfter: time.Hour,
		rand: func() float64 { return 0 }}
	for _, c := range []struct {
		name       string
		n, status  int
		retryAfter *time.Duration
		want       herald.DeliveryStatus
		wait       time.Duration
	}{
		// Honoured as asked, without jitter: the receiver said when.
		{"429", 1, http.StatusTooManyRequests, ra(2 * time.Minute), herald.StatusPending, 2 * time.Minute},
		{"503", 1, http.StatusServiceUnavailable, ra(5 * time.Second), herald.StatusPending, 5 * time.Second},
		{"503 now", 1, http.StatusServiceUnavailable, ra(0), herald.StatusPending, 0},
		{"capped", 1, http.StatusTooManyRequests, ra(48 * time.Hour), herald.StatusPending, time.Hour},
		// Other statuses keep the schedule (jittered: rand 0 is 50 % early).
		{"500", 1, http.StatusInternalServerError, ra(5 * time.Second), herald.StatusPending, 30 * time.Second},
		{"502", 1, http.StatusBadGateway, ra(5 * time.Second), herald.StatusPending, 30 * time.Second},
		{"504", 1, http.StatusGatewayTimeout, ra(5 * time.Second), herald.StatusPending, 30 * time.Second},
		// A final answer stays final, whatever it asks.
		{"400", 1, http.StatusBadRequest, ra(5 * time.Second), herald.StatusFailed, 0},
		// The schedule bounds the number of retries, Retry-After or not.
		{"exhausted 503", 3, http.StatusServiceUnavailable, ra(5 * time.Second), herald.StatusFailed, 0},
		{"exhausted 500", 3, http.StatusInternalServerError, nil, herald.StatusFailed, 0},
		{"last retry", 2, http.StatusInternalServerError, nil, herald.StatusPending, 30 * time.Second},
		{"success", 3, http.StatusOK, nil, herald.StatusSucceeded, 0},
	} {
		if s, wait := after(p, c.n, c.status, c.retryAfter); s != c.want || wait != c.wait {
			t.Errorf("%s: %s in %v, want %s in %v", c.name, s, wait, c.want, c.wait)
		}
	}
	// No cap set: the receiver's wait as asked.
	p.MaxRetryAfter = 0
	if _, wait := after(p, 1, http.StatusTooManyRequests, ra(48*time.Hour)); wait != 48*time.Hour {
		t.Errorf("uncapped Retry-After: %v", wait)
	}
	// No schedule: no retries at all.
	p = &RetryPolicy{}
	if s, _ := after(p, 1, http.StatusServiceUnavailable, ra(time.Second)); s != herald.StatusFailed {
		t.Errorf("without a schedule a 503 is %s", s)
	}
}
