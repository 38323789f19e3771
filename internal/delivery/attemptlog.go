package delivery

import (
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Bounds of the attempt log: per endpoint, a burst of attemptLogBurst
// lines, then one every attemptLogEvery; a line tells how many were left
// out since the last. The endpoints remembered are bounded too: past
// attemptLogEndpoints, those quiet for a minute are forgotten.
const (
	attemptLogBurst     = 3
	attemptLogEvery     = time.Second
	attemptLogEndpoints = 10_000
)

// attemptLog writes one line per failed attempt at info, so that an
// operator sees why deliveries fail without turning debug on, while a
// dead endpoint (or a thousand of them) cannot flood the log: lines are
// rate-limited per endpoint. With all set (--log-deliveries) it writes
// every attempt, successes too, unlimited: for development.
type attemptLog struct {
	log *slog.Logger
	all bool
	mu  sync.Mutex
	eps map[string]*endpointLog
}

// endpointLog is one endpoint's allowance: tokens refill one per
// attemptLogEvery up to attemptLogBurst.
type endpointLog struct {
	tokens  float64
	last    time.Time
	dropped int
}

func newAttemptLog(log *slog.Logger, all bool) *attemptLog {
	return &attemptLog{log: log, all: all, eps: map[string]*endpointLog{}}
}

// attempt logs one recorded attempt result of delivery d.
func (l *attemptLog) attempt(d *herald.Delivery, r store.AttemptResult, now time.Time) {
	failed := r.Attempt.ErrorKind != herald.ErrorKindNone || (r.Status != herald.StatusSucceeded && r.Status != herald.StatusCancelled)
	if !failed && !l.all {
		return
	}
	dropped := 0
	if !l.all {
		var ok bool
		if ok, dropped = l.allow(d.EndpointID, now); !ok {
			return
		}
	}
	a := r.Attempt
	attrs := []any{"app_id", d.AppID, "endpoint_id", d.EndpointID, "delivery_id", d.ID, "event_type", d.EventType,
		"attempt", a.Number, "status", string(r.Status), "latency_ms", a.LatencyMS}
	if a.Response != nil {
		attrs = append(attrs, "status_code", a.Response.StatusCode)
	}
	if a.ErrorKind != herald.ErrorKindNone {
		attrs = append(attrs, "error_kind", string(a.ErrorKind), "error", a.Error)
	}
	if r.NextAttemptAt != nil {
		attrs = append(attrs, "next_attempt_at", r.NextAttemptAt.UTC())
	}
	if dropped > 0 {
		attrs = append(attrs, "left_out", dropped)
	}
	msg := "attempt failed"
	if !failed {
		msg = "attempt succeeded"
	}
	l.log.Info(msg, attrs...)
}

// allow takes a token of the endpoint's, and says how many lines were
// left out since its last one.
func (l *attemptLog) allow(endpointID string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ep := l.eps[endpointID]
	if ep == nil {
		if len(l.eps) >= attemptLogEndpoints {
			for id, o := range l.eps {
				if now.Sub(o.last) > time.Minute {
					delete(l.eps, id)
				}
			}
		}
		ep = &endpointLog{tokens: attemptLogBurst, last: now}
		if len(l.eps) < attemptLogEndpoints {
			l.eps[endpointID] = ep
		}
	}
	ep.tokens = min(attemptLogBurst, ep.tokens+float64(now.Sub(ep.last))/float64(attemptLogEvery))
	ep.last = now
	if ep.tokens < 1 {
		ep.dropped++
		return false, 0
	}
	ep.tokens--
	dropped := ep.dropped
	ep.dropped = 0
	return true, dropped
}
