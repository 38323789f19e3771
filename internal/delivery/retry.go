package delivery

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/duration"
)

// DefaultRetrySchedule waits before each retry: seven retries over about
// 28 hours, so a receiver down for a day still gets its events.
const DefaultRetrySchedule = "5s,5m,30m,2h,5h,10h,10h"

// ParseSchedule reads a comma-separated list of durations ("5s,1m,1h,1d").
// Each is the wait before one more retry; an empty list means no retries.
func ParseSchedule(s string) ([]time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]time.Duration, 0, len(parts))
	for i, p := range parts {
		d, err := duration.Parse(p)
		if err != nil {
			return nil, fmt.Errorf("retry schedule item %d %q: not a duration like 30s, 5m, 2h or 1d", i+1, strings.TrimSpace(p))
		}
		if d < 0 {
			return nil, fmt.Errorf("retry schedule item %d %q: must not be negative", i+1, strings.TrimSpace(p))
		}
		out = append(out, d)
	}
	return out, nil
}

// CheckSchedule refuses a retry schedule beyond the operator's ceilings:
// more entries than c.MaxRetries, or a wait below c.MinRetryDelay. Each
// retry is a request to the receiver and a row of history, so a schedule
// of many short waits would turn one event into a flood.
func CheckSchedule(waits []time.Duration, c herald.TenantCeilings) error {
	if c.MaxRetries > 0 && len(waits) > c.MaxRetries {
		return fmt.Errorf("%d retries, more than the %d this installation allows (--max-retries)", len(waits), c.MaxRetries)
	}
	for i, d := range waits {
		if d < c.MinRetryDelay {
			return fmt.Errorf("retry schedule item %d (%s) is shorter than %s, the least wait this installation allows (--min-retry-delay)",
				i+1, d, c.MinRetryDelay)
		}
	}
	return nil
}

// RetryPolicy decides, from an attempt's outcome, whether and when to try
// again. It is a pure function of its inputs (and of the jitter source), so
// the schedule is tested without waiting.
type RetryPolicy struct {
	// Schedule holds the wait before each retry.
	Schedule []time.Duration
	// Jitter spreads each wait by up to this fraction either way, so that
	// deliveries failed together do not retry in lockstep.
	Jitter float64
	// MaxRetryAfter caps how far a receiver's Retry-After can push a retry.
	MaxRetryAfter time.Duration
	// rand returns a number in [0,1); nil means math/rand/v2.
	rand func() float64
}

// Verdict is the decision for one attempt.
type Verdict struct {
	Status herald.DeliveryStatus
	// NextAttemptAt is set when Status is pending.
	NextAttemptAt time.Time
}

// Retryable reports whether an attempt with this outcome may succeed when
// tried again: transport failures, timeouts, 429 and 5xx. Herald's own
// refusals and every other status are final.
func Retryable(kind herald.ErrorKind, status int) bool {
	switch kind {
	case herald.ErrorKindNone:
		return false
	case herald.ErrorKindHTTPStatus:
		// A 2xx recorded as a failure is one outside the endpoint's
		// success_statuses: retried like a 5xx.
		return status == http.StatusTooManyRequests || status >= 500 || (status >= 200 && status < 300)
	case herald.ErrorKindPolicy, herald.ErrorKindRender, herald.ErrorKindTransform:
		// The definition, not the destination, is wrong: only a change
		// of the endpoint (and a resend) can help.
		return false
	default:
		return true
	}
}

// Decide returns what happens after attempt number n (1 for the first try)
// ended at now with the given error kind and status; retryAfter is the
// wait the destination asked for, nil for none, and counts on 429 and 503
// answers only.
func (p *RetryPolicy) Decide(n int, kind herald.ErrorKind, status int, retryAfter *time.Duration, now time.Time) Verdict {
	if kind == herald.ErrorKindNone && status >= 100 {
		// The sender has held the status to the endpoint's
		// success_statuses (2xx unless set otherwise).
		return Verdict{Status: herald.StatusSucceeded}
	}
	if !Retryable(kind, status) || n > len(p.Schedule) {
		return Verdict{Status: herald.StatusFailed}
	}
	if retryAfter != nil && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		d := *retryAfter
		if p.MaxRetryAfter > 0 && d > p.MaxRetryAfter {
			d = p.MaxRetryAfter
		}
		return Verdict{Status: herald.StatusPending, NextAttemptAt: now.Add(d)}
	}
	d := p.Schedule[n-1]
	if p.Jitter > 0 && d > 0 {
		r := rand.Float64
		if p.rand != nil {
			r = p.rand
		}
		d = time.Duration(float64(d) * (1 + p.Jitter*(2*r()-1)))
	}
	return Verdict{Status: herald.StatusPending, NextAttemptAt: now.Add(d)}
}
