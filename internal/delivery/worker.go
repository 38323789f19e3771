package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/internal/store"
)

func slog_err(err error) slog.Attr { return slog.String("error", err.Error()) }

// requestBuilder turns a delivery into the HTTP request to send.
type requestBuilder struct {
	userAgent      string
	defaultTimeout time.Duration
	// signers caches one parsed signer per secret: parsing the secret
	// for every request would cost more than signing.
	signers sync.Map
}

func newRequestBuilder(ua string, timeout time.Duration) *requestBuilder {
	return &requestBuilder{userAgent: ua, defaultTimeout: timeout}
}

// TimestampFormat is the format of the "timestamp" field of the default
// body: RFC 3339 in UTC with milliseconds.
const TimestampFormat = "2006-01-02T15:04:05.000Z07:00"

// DefaultBody is the body sent without a template:
// {"type": <event type>, "timestamp": <RFC 3339>, "data": <payload>}.
func DefaultBody(ev *herald.Event) []byte {
	b := make([]byte, 0, len(ev.Payload)+len(ev.EventType)+64)
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, ev.EventType)
	b = append(b, `,"timestamp":"`...)
	b = ev.CreatedAt.UTC().AppendFormat(b, TimestampFormat)
	b = append(b, `","data":`...)
	if len(ev.Payload) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, ev.Payload...)
	}
	return append(b, '}')
}

func (rb *requestBuilder) signer(secret string) (*signing.Signer, error) {
	if s, ok := rb.signers.Load(secret); ok {
		return s.(*signing.Signer), nil
	}
	s, err := signing.NewSigner(secret)
	if err != nil {
		return nil, err
	}
	rb.signers.Store(secret, s)
	return s, nil
}

// build makes the signed request for one attempt at time now.
func (rb *requestBuilder) build(j *store.Job, now time.Time) (*sender.Request, error) {
	body := DefaultBody(j.Event)
	s, err := rb.signer(j.Endpoint.Secret)
	if err != nil {
		return nil, fmt.Errorf("endpoint secret: %w", err)
	}
	h := make(http.Header, 6)
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", rb.userAgent)
	signing.Headers(h, j.Delivery.ID, now, s.Sign(j.Delivery.ID, now, body))
	timeout := rb.defaultTimeout
	if j.Endpoint.TimeoutMS > 0 {
		timeout = time.Duration(j.Endpoint.TimeoutMS) * time.Millisecond
	}
	return &sender.Request{Method: http.MethodPost, URL: j.Endpoint.URL, Header: h, Body: body, Timeout: timeout}, nil
}

func (e *Engine) workerLoop() {
	defer e.workersDone.Done()
	for j := range e.workCh {
		res, ok := e.attempt(e.sendCtx, j)
		if ok {
			e.recordCh <- res
		}
		e.doneCh <- doneMsg{job: j, released: !ok}
	}
}

// attempt sends one delivery and decides what follows. ok is false when
// the attempt was aborted by shutdown and must not count.
func (e *Engine) attempt(ctx context.Context, j *store.Job) (store.AttemptResult, bool) {
	now := e.o.Now()
	n := j.Delivery.AttemptCount + 1
	a := &herald.Attempt{
		ID:         herald.NewID(herald.PrefixAttempt),
		DeliveryID: j.Delivery.ID,
		Number:     n,
		CreatedAt:  now,
		Trigger:    herald.TriggerScheduled,
	}
	req, err := e.req.build(j, now)
	if err != nil {
		a.ErrorKind = herald.ErrorKindPolicy
		a.Error = err.Error()
		return store.AttemptResult{Attempt: a, Status: herald.StatusFailed, Now: now}, true
	}
	a.Request = herald.AttemptRequest{Method: req.Method, URL: req.URL, Headers: flatten(req.Header), Body: string(req.Body)}
	res := e.snd.Send(ctx, req)
	if res.Err != nil && errors.Is(res.Err, context.Canceled) && ctx.Err() != nil {
		return store.AttemptResult{}, false
	}
	end := e.o.Now()
	a.LatencyMS = float64(res.Latency.Microseconds()) / 1000
	a.ErrorKind = res.ErrorKind
	if res.StatusCode != 0 {
		a.Response = &herald.AttemptResponse{
			StatusCode:    res.StatusCode,
			Headers:       flatten(res.Header),
			Body:          string(res.Body),
			BodyTruncated: res.BodyTruncated,
		}
	}
	switch {
	case res.Err != nil:
		a.Error = res.Err.Error()
	case res.ErrorKind == herald.ErrorKindHTTPStatus:
		a.Error = fmt.Sprintf("receiver answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	}
	v := e.o.Retry.Decide(n, res.ErrorKind, res.StatusCode, res.Header, end)
	r := store.AttemptResult{Attempt: a, Status: v.Status, Now: end}
	if v.Status == herald.StatusPending {
		t := v.NextAttemptAt
		r.NextAttemptAt = &t
	}
	if v.Status != herald.StatusSucceeded {
		e.log.Debug("attempt failed", "delivery_id", j.Delivery.ID, "endpoint_id", j.Endpoint.ID,
			"attempt", n, "error_kind", string(a.ErrorKind), "error", a.Error, "status", string(v.Status))
	}
	return r, true
}

// flatten turns headers into one string per name, as they are shown.
func flatten(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	return m
}
