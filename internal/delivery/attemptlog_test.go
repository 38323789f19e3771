package delivery

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

func failure(d *herald.Delivery, n int) store.AttemptResult {
	return store.AttemptResult{Status: herald.StatusPending, Attempt: &herald.Attempt{Number: n, DeliveryID: d.ID,
		Response: &herald.AttemptResponse{StatusCode: 500}, ErrorKind: herald.ErrorKindHTTPStatus, Error: "HTTP 500"}}
}

// TestAttemptLogRateLimitsPerEndpoint: a dead endpoint gets three lines
// at once, then one a second that counts those left out; another
// endpoint is not held up by it; successes are not logged.
func TestAttemptLogRateLimitsPerEndpoint(t *testing.T) {
	var buf bytes.Buffer
	l := newAttemptLog(slog.New(slog.NewTextHandler(&buf, nil)), false)
	dead := &herald.Delivery{ID: "dlv_1", AppID: "app_1", EndpointID: "ep_dead", EventType: "e"}
	other := &herald.Delivery{ID: "dlv_2", AppID: "app_1", EndpointID: "ep_other", EventType: "e"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		l.attempt(dead, failure(dead, i+1), t0.Add(time.Duration(i)*time.Millisecond))
	}
	l.attempt(other, failure(other, 1), t0)
	l.attempt(other, store.AttemptResult{Status: herald.StatusSucceeded, Attempt: &herald.Attempt{Number: 2,
		Response: &herald.AttemptResponse{StatusCode: 200}}}, t0)
	l.attempt(dead, failure(dead, 101), t0.Add(1100*time.Millisecond))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	count := func(parts ...string) int {
		n := 0
		for _, line := range lines {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				n++
			}
		}
		return n
	}
	if got := count("attempt failed", "endpoint_id=ep_dead", "delivery_id=dlv_1", "status_code=500", "error_kind=http_status"); got != 4 {
		t.Errorf("dead endpoint: %d lines, want 3 at once and 1 a second later:\n%s", got, buf.String())
	}
	if got := count("endpoint_id=ep_dead", "left_out=97"); got != 1 {
		t.Errorf("the line a second later does not count the 97 left out:\n%s", buf.String())
	}
	if got := count("endpoint_id=ep_other"); got != 1 {
		t.Errorf("other endpoint: %d lines, want its one failure (and no success):\n%s", got, buf.String())
	}
}

// TestAttemptLogEverything: --log-deliveries logs every attempt, successes
// too, without a limit.
func TestAttemptLogEverything(t *testing.T) {
	var buf bytes.Buffer
	l := newAttemptLog(slog.New(slog.NewTextHandler(&buf, nil)), true)
	d := &herald.Delivery{ID: "dlv_1", AppID: "app_1", EndpointID: "ep_1", EventType: "e"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		l.attempt(d, failure(d, i+1), t0)
	}
	l.attempt(d, store.AttemptResult{Status: herald.StatusSucceeded, Attempt: &herald.Attempt{Number: 11,
		Response: &herald.AttemptResponse{StatusCode: 200}}}, t0)
	if got := strings.Count(buf.String(), "attempt failed"); got != 10 {
		t.Errorf("%d failures logged, want 10", got)
	}
	if got := strings.Count(buf.String(), "attempt succeeded"); got != 1 {
		t.Errorf("%d successes logged, want 1", got)
	}
}
