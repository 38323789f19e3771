package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/cache"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/template"
)

func errAttr(err error) slog.Attr { return slog.String("error", err.Error()) }

// requestBuilder turns a delivery into the HTTP request to send.
type requestBuilder struct {
	st             Store
	userAgent      string
	defaultTimeout time.Duration
	// payloadFormat is the installation's default body shape.
	payloadFormat string
	// signers caches one parsed signer per secret: parsing the secret
	// for every request would cost more than signing.
	signers sync.Map
	// tlsConfigs caches endpoints' own TLS settings by version.
	tlsConfigs sync.Map
	// shapes caches compiled request shapes by endpoint version and
	// event type (titles come from the event type's schema).
	shapesMu sync.Mutex
	shapes   map[shapeKey]*shape.Compiled
	apps     *cache.Cache[herald.App]
	titles   *cache.Cache[map[string]string]
}

type shapeKey struct {
	endpoint  string
	updated   time.Time
	eventType string
	// format is the default payload format in force (the app's or the
	// installation's), which an app may change without the endpoint.
	format string
}

func newRequestBuilder(st Store, ua string, timeout time.Duration, now func() time.Time) *requestBuilder {
	return &requestBuilder{st: st, userAgent: ua, defaultTimeout: timeout,
		shapes: map[shapeKey]*shape.Compiled{}, apps: cache.New[herald.App](now), titles: cache.New[map[string]string](now)}
}

func (rb *requestBuilder) signer(secret string) (signing.Scheme, error) {
	if s, ok := rb.signers.Load(secret); ok {
		return s.(signing.Scheme), nil
	}
	s, err := signing.NewScheme(secret)
	if err != nil {
		return nil, err
	}
	rb.signers.Store(secret, s)
	return s, nil
}

// compiled returns the endpoint's request shape for an event type.
func (rb *requestBuilder) compiled(ctx context.Context, ep *herald.Endpoint, eventType string) (*shape.Compiled, error) {
	format := rb.payloadFormat
	a := rb.app(ctx, ep.AppID)
	if a.PayloadFormat != "" {
		format = a.PayloadFormat
	}
	k := shapeKey{ep.ID, ep.UpdatedAt, eventType, format + "/" + a.TemplateSyntax}
	// An endpoint not yet saved (a preview) has no id to cache it by.
	cacheable := ep.ID != ""
	if cacheable {
		rb.shapesMu.Lock()
		c := rb.shapes[k]
		rb.shapesMu.Unlock()
		if c != nil {
			return c, nil
		}
	}
	titles, ok := rb.titles.Get(eventType)
	if !ok {
		if et, err := rb.st.EventTypeGet(ctx, eventType); err == nil && len(et.Schema) > 0 {
			titles, _ = template.TitlesFromSchema(et.Schema)
		}
		rb.titles.Put(eventType, titles)
	}
	c, err := shape.Compile(ep, shape.Options{Titles: titles, PayloadFormat: format, TemplateSyntax: a.TemplateSyntax})
	if err != nil || !cacheable {
		return c, err
	}
	rb.shapesMu.Lock()
	if len(rb.shapes) > 10_000 {
		clear(rb.shapes)
	}
	rb.shapes[k] = c
	rb.shapesMu.Unlock()
	return c, nil
}

func (rb *requestBuilder) app(ctx context.Context, id string) *herald.App {
	if a, ok := rb.apps.Get(id); ok {
		return &a
	}
	a, err := rb.st.AppGet(ctx, id)
	if err != nil {
		// Templates then see empty app fields; the app being gone, the
		// delivery is about to vanish with it anyway.
		return &herald.App{ID: id}
	}
	rb.apps.Put(id, *a)
	return a
}

// build makes the signed request for one attempt at time now.
func (rb *requestBuilder) build(ctx context.Context, j *store.Job, now time.Time) (*sender.Request, error) {
	c, err := rb.compiled(ctx, j.Endpoint, j.Event.EventType)
	if err != nil {
		return nil, fmt.Errorf("endpoint settings: %w", err)
	}
	app := rb.app(ctx, j.Event.AppID)
	r, err := c.Build(shape.Event{Event: j.Event, App: app, Endpoint: j.Endpoint})
	if err != nil {
		return nil, err
	}
	s, err := rb.signer(j.Endpoint.Secret)
	if err != nil {
		return nil, fmt.Errorf("endpoint secret: %w", err)
	}
	sig := s.Sign(j.Delivery.ID, now, r.Body)
	if ep := j.Endpoint; ep.PreviousSecret != "" && ep.PreviousSecretExpiresAt != nil && now.Before(*ep.PreviousSecretExpiresAt) {
		// During a rotation both secrets sign, space-separated, as
		// Standard Webhooks allows: receivers on either secret verify.
		if old, err := rb.signer(ep.PreviousSecret); err == nil {
			sig += " " + old.Sign(j.Delivery.ID, now, r.Body)
		}
	}
	r.Header.Set("User-Agent", rb.userAgent)
	signing.Headers(r.Header, j.Delivery.ID, now, sig)
	req := &sender.Request{Method: r.Method, URL: r.URL, Header: r.Header, Body: r.Body, Timeout: rb.timeout(j.Endpoint, app)}
	if ep := j.Endpoint; ep.TLSCABundle != "" || ep.TLSClientCert != "" {
		cfg, err := rb.tlsConfig(ep)
		if err != nil {
			return nil, fmt.Errorf("endpoint TLS settings: %w", err)
		}
		req.TLS, req.TLSKey = cfg, ep.ID+"@"+ep.UpdatedAt.String()
	}
	return req, nil
}

// tlsConfig builds (once per endpoint version) the TLS settings of an
// endpoint with its own CA bundle or client certificate.
func (rb *requestBuilder) tlsConfig(ep *herald.Endpoint) (*tls.Config, error) {
	k := shapeKey{endpoint: ep.ID, updated: ep.UpdatedAt, eventType: "tls"}
	if v, ok := rb.tlsConfigs.Load(k); ok {
		return v.(*tls.Config), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ep.TLSCABundle != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ep.TLSCABundle)) {
			return nil, errors.New("tls_ca_bundle holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if ep.TLSClientCert != "" {
		pair, err := tls.X509KeyPair([]byte(ep.TLSClientCert), []byte(ep.TLSClientKey))
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	rb.tlsConfigs.Store(k, cfg)
	return cfg, nil
}

func (e *Engine) workerLoop() {
	defer e.workersDone.Done()
	for j := range e.workCh {
		e.o.Metrics.InFlight(1)
		res, ok := e.attempt(e.sendCtx, j, herald.TriggerScheduled)
		e.o.Metrics.InFlight(-1)
		m := doneMsg{job: j, released: !ok}
		if ok {
			a := res.Attempt
			m.kind, m.latency = a.ErrorKind, time.Duration(a.LatencyMS*float64(time.Millisecond))
			if a.Response != nil {
				m.status = a.Response.StatusCode
			}
			e.o.Metrics.Attempt(outcome(res.Status), m.latency)
			e.recordCh <- recordItem{res: res, job: j}
		}
		e.doneCh <- m
	}
}

// attempt sends one delivery and decides what follows. ok is false when
// the attempt was aborted by shutdown and must not count.
func (e *Engine) attempt(ctx context.Context, j *store.Job, trigger string) (store.AttemptResult, bool) {
	now := e.o.Now()
	n := j.Delivery.AttemptCount + 1
	a := &herald.Attempt{
		ID:         herald.NewID(herald.PrefixAttempt),
		DeliveryID: j.Delivery.ID,
		Number:     n,
		CreatedAt:  now,
		Trigger:    trigger,
	}
	req, err := e.req.build(e.bg, j, now)
	if err != nil {
		// The request cannot be built for this event (a strict template
		// met a missing value, the filled-in URL is invalid): sending
		// again would fail the same way.
		a.ErrorKind = herald.ErrorKindPolicy
		a.Error = err.Error()
		return store.AttemptResult{Attempt: a, Status: herald.StatusFailed, Now: now}, true
	}
	var res *sender.Result
	auth := j.Endpoint.Auth
	if auth == nil {
		auth = shape.PresetAuth(j.Endpoint)
	}
	if auth != nil {
		if err := e.authorize(ctx, auth, req, false); err != nil {
			res = &sender.Result{ErrorKind: herald.ErrorKindAuth, Err: err}
		} else {
			res = e.snd.Send(ctx, req)
			if res.StatusCode == http.StatusUnauthorized && auth.Type == "oauth2_client_credentials" {
				// The token may have been revoked: fetch a new one and
				// try once more within this attempt.
				if err := e.authorize(ctx, auth, req, true); err != nil {
					res = &sender.Result{ErrorKind: herald.ErrorKindAuth, Err: err}
				} else {
					res = e.snd.Send(ctx, req)
				}
			}
		}
	}
	a.Request = herald.AttemptRequest{Method: req.Method, URL: maskQueryToken(req.URL), Headers: shape.MaskHeaders(flatten(req.Header)), Body: string(req.Body)}
	if res == nil {
		res = e.snd.Send(ctx, req)
	}
	if res.Err != nil && errors.Is(res.Err, context.Canceled) && ctx.Err() != nil {
		return store.AttemptResult{}, false
	}
	// Marketo answers 200 with its own error codes: a token error is
	// worth one refresh, a rate or quota error a retry, anything else is
	// final. decideStatus is the status the retry policy decides on.
	decideStatus := res.StatusCode
	var vendorErr string
	if j.Endpoint.Preset == "marketo" && res.ErrorKind == herald.ErrorKindNone {
		verdict, msg := marketoOutcome(res.Body)
		if verdict == marketoTokenError && auth != nil {
			if err := e.authorize(ctx, auth, req, true); err == nil {
				res = e.snd.Send(ctx, req)
				if res.ErrorKind == herald.ErrorKindNone {
					verdict, msg = marketoOutcome(res.Body)
				}
			}
		}
		switch verdict {
		case marketoRetry, marketoTokenError:
			decideStatus, vendorErr = http.StatusServiceUnavailable, msg
		case marketoFinal:
			decideStatus, vendorErr = http.StatusBadRequest, msg
		}
		if vendorErr != "" {
			res.ErrorKind = herald.ErrorKindHTTPStatus
		}
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
	case vendorErr != "":
		a.Error = vendorErr
	case res.ErrorKind == herald.ErrorKindHTTPStatus:
		a.Error = fmt.Sprintf("receiver answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	}
	v := e.policy(j.Endpoint, e.req.app(ctx, j.Event.AppID)).Decide(n, res.ErrorKind, decideStatus, res.Header, end)
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

// maskQueryToken hides an access token sent in the query.
func maskQueryToken(raw string) string {
	if !strings.Contains(raw, "access_token=") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	if q.Has("access_token") {
		q.Set("access_token", "********")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// outcome names an attempt's result for metrics.
func outcome(s herald.DeliveryStatus) string {
	if s == herald.StatusPending {
		return "retry"
	}
	return string(s)
}

// flatten turns headers into one string per name, as they are shown.
func flatten(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	return m
}

// Preview builds the request an attempt would send for this endpoint and
// event right now, signed, without sending it. The endpoint need not be
// saved; the request uses a placeholder webhook-id.
func (e *Engine) Preview(ctx context.Context, ep *herald.Endpoint, ev *herald.Event) (*sender.Request, error) {
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = e.o.Now()
	}
	j := &store.Job{Delivery: &herald.Delivery{ID: PreviewWebhookID}, Event: ev, Endpoint: ep}
	return e.req.build(ctx, j, e.o.Now())
}

// PreviewWebhookID stands for the delivery id in previews.
const PreviewWebhookID = "dlv_preview"
