package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
)

// Bounds of a pull's query parameters. A pull holds a request open for
// its wait: the cap keeps it well within proxies' idle timeouts and the
// server's own. A handout's visibility must leave its client time to
// forward it (at least a second) and may not keep a lost delivery from
// its retries for long (at most 12 hours).
const (
	defaultPullWait       = 30 * time.Second
	maxPullWait           = 60 * time.Second
	defaultPullVisibility = 60 * time.Second
	minPullVisibility     = time.Second
	maxPullVisibility     = 12 * time.Hour
	defaultPullLimit      = 10
)

// pullDuration reads a duration parameter: a Go duration ("30s", "1m")
// or whole seconds ("30").
func pullDuration(r *http.Request, name string, def, lo, hi time.Duration) (time.Duration, *Error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.Atoi(v)
		if nerr != nil {
			return 0, errInvalid(name, "%s must be a duration such as 30s, or seconds", name)
		}
		d = time.Duration(n) * time.Second
	}
	if d < lo || d > hi {
		return 0, errInvalid(name, "%s must be from %s to %s", name, lo, hi)
	}
	return d, nil
}

// pullEndpoint resolves {app} and {id} to a pull endpoint; a push
// endpoint gets 409, a disabled one 409 too: nothing would ever come.
func (s *Server) pullEndpoint(r *http.Request) (*herald.Endpoint, *Error) {
	ep, e := s.endpoint(r)
	if e != nil {
		return nil, e
	}
	if !ep.IsPull() {
		return nil, &Error{Status: http.StatusConflict, Code: CodeNotPullEndpoint,
			Message: "this is a push endpoint: Herald sends its deliveries to its url; only a pull endpoint (kind pull) is pulled"}
	}
	if !ep.Enabled {
		return nil, &Error{Status: http.StatusConflict, Code: CodeEndpointDisabled,
			Message: "this endpoint is disabled: it hands out nothing until it is enabled again"}
	}
	return ep, nil
}

// pull hands out due deliveries of a pull endpoint, waiting for some:
// GET .../endpoints/{id}/pull?wait=30s&limit=10&visibility=60s.
func (s *Server) pull(w http.ResponseWriter, r *http.Request) *Error {
	wait, e := pullDuration(r, "wait", defaultPullWait, 0, maxPullWait)
	if e != nil {
		return e
	}
	vis, e := pullDuration(r, "visibility", defaultPullVisibility, minPullVisibility, maxPullVisibility)
	if e != nil {
		return e
	}
	limit := defaultPullLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > delivery.MaxPullLimit {
			return errInvalid("limit", "limit must be a number from 1 to %d", delivery.MaxPullLimit)
		}
		limit = n
	}
	ep, e := s.pullEndpoint(r)
	if e != nil {
		return e
	}
	// A server shutting down ends the wait: the pull answers what it
	// has (nothing), instead of holding the shutdown for up to a minute.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.drainCtx, cancel)
	defer stop()
	got, err := s.eng.Pull(ctx, ep, delivery.PullParams{Wait: wait, Visibility: vis, Limit: limit})
	if err != nil && ctx.Err() != nil && r.Context().Err() == nil {
		got, err = []delivery.Handout{}, nil
	}
	if err != nil {
		if be, ok := errors.AsType[*delivery.BusyError](err); ok {
			setRetryAfter(w, time.Second)
			return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Message: be.Error()}
		}
		if r.Context().Err() != nil {
			return nil // the client left: nobody reads an answer
		}
		return storeError(err, "endpoint")
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": got})
	return nil
}

// ackInput is the body of an acknowledgement.
type ackInput struct {
	Results *[]ackResult `json:"results"`
}

type ackResult struct {
	DeliveryID *string `json:"delivery_id"`
	// StatusCode is the receiver's answer, 0 or absent when none came
	// (then Error says why).
	StatusCode    *int     `json:"status_code"`
	Body          *string  `json:"body"`
	BodyTruncated *bool    `json:"body_truncated"`
	Error         *string  `json:"error"`
	LatencyMS     *float64 `json:"latency_ms"`
}

// maxAckError bounds the error text kept per result.
const maxAckError = 1024

// ack records what a pull client's receiver answered:
// POST .../endpoints/{id}/ack {"results": [...]}.
func (s *Server) ack(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.pullEndpoint(r)
	if e != nil && e.Code == CodeEndpointDisabled {
		// A disabled endpoint still takes the outcomes of what it
		// handed out before.
		ep, e = s.endpoint(r)
	}
	if e != nil {
		return e
	}
	var in ackInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Results == nil {
		return errRequired("results")
	}
	rs := *in.Results
	if len(rs) == 0 || len(rs) > delivery.MaxAckResults {
		return errInvalid("results", "results must hold from 1 to %d results", delivery.MaxAckResults)
	}
	out := make([]delivery.AckResult, len(rs))
	for i, x := range rs {
		field := "results[" + strconv.Itoa(i) + "]."
		if x.DeliveryID == nil || *x.DeliveryID == "" {
			return errRequired(field + "delivery_id")
		}
		a := delivery.AckResult{DeliveryID: *x.DeliveryID}
		if x.StatusCode != nil {
			a.StatusCode = *x.StatusCode
			if a.StatusCode != 0 && (a.StatusCode < 100 || a.StatusCode > 599) {
				return errInvalid(field+"status_code", "status_code must be an HTTP status from 100 to 599, or 0 when no answer came")
			}
		}
		if x.Error != nil {
			a.Error = *x.Error
			if len(a.Error) > maxAckError {
				return errInvalid(field+"error", "error is longer than %d bytes", maxAckError)
			}
		}
		if a.StatusCode == 0 && a.Error == "" {
			return errInvalid(field+"status_code", "give the receiver's status_code, or an error saying why none came")
		}
		if x.Body != nil {
			a.Body = *x.Body
		}
		if x.BodyTruncated != nil {
			a.BodyTruncated = *x.BodyTruncated
		}
		if x.LatencyMS != nil {
			if *x.LatencyMS < 0 || *x.LatencyMS > float64(time.Hour/time.Millisecond) {
				return errInvalid(field+"latency_ms", "latency_ms must be from 0 to %d", time.Hour/time.Millisecond)
			}
			a.Latency = time.Duration(*x.LatencyMS * float64(time.Millisecond))
		}
		out[i] = a
	}
	got, err := s.eng.Ack(r.Context(), ep, out, s.o.MaxResponseBody)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return unavailable(err, "some results may have been recorded; send them again: those recorded answer not_handed_out")
		}
		return storeError(err, "endpoint")
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": got})
	return nil
}
