package outbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/preset"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/internal/transform"
)

// Sender makes one HTTP attempt; *sender.Sender is the real one.
type Sender interface {
	Send(ctx context.Context, r *sender.Request) *sender.Result
}

// Store is what the HTTP destination reads and writes: event types (their
// schema's titles feed templates) and OAuth2 tokens shared between nodes.
type Store interface {
	EventTypeGet(ctx context.Context, name string) (*herald.EventType, error)
	TokenGet(ctx context.Context, key string) (string, time.Time, error)
	TokenPut(ctx context.Context, key, token string, expires time.Time) error
}

// HTTPOptions configure an HTTP destination. Zero values mean the
// documented defaults.
type HTTPOptions struct {
	// UserAgent is sent on every request; default Herald/<version>.
	UserAgent string
	// DefaultTimeout bounds one request when neither the endpoint nor its
	// app sets one; default 15 s.
	DefaultTimeout time.Duration
	// MaxTenantTimeout is the longest timeout an endpoint or its app may
	// set for itself (--max-tenant-timeout): a longer one, saved before
	// the ceiling was lowered, is cut to it. 0: no ceiling.
	MaxTenantTimeout time.Duration
	// PayloadFormat is the installation's body shape (standard, raw or
	// flat) for endpoints without a template; empty: standard.
	PayloadFormat string
	// MaxRenderedSize caps the bytes of a rendered request (URL, the
	// endpoint's headers and body): rendering stops there, and the
	// attempt fails with error kind policy. 0: no cap.
	MaxRenderedSize int
	// Transform runs endpoints' transformations; nil: one with the
	// default limits.
	Transform *transform.Engine
	// Now is the clock of signatures and token expiry; nil: time.Now.
	Now func() time.Time
	// Logger gets what attempt records leave out for tenants: the
	// address a refused destination resolved to. Nil: discarded.
	Logger *slog.Logger
}

// HTTP delivers to webhook endpoints: it builds the endpoint's request,
// signs it, authenticates, sends it through the sender and reads the
// answer. It is safe for concurrent use; share one.
type HTTP struct {
	snd    Sender
	st     Store
	now    func() time.Time
	log    *slog.Logger
	build  *builder
	tokens tokens
}

// NewHTTP returns an HTTP destination sending through snd.
func NewHTTP(snd Sender, st Store, o HTTPOptions) *HTTP {
	if o.UserAgent == "" {
		o.UserAgent = "Herald/" + herald.Version
	}
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &HTTP{snd: snd, st: st, now: o.Now, log: o.Logger, build: newBuilder(st, o)}
}

// Preview builds the request an attempt would send now, signed, without
// sending it. The endpoint need not be saved.
func (h *HTTP) Preview(ctx context.Context, d *Delivery) (*Request, error) {
	r, err := h.build.request(ctx, d, h.now())
	if err != nil {
		return nil, err
	}
	return &Request{Method: r.Method, URL: r.URL, Header: r.Header, Body: r.Body}, nil
}

// PreviewBatch builds the batched request the deliveries (of one batching
// endpoint, which need not be saved) would make now, signed, without
// sending it; a delivery whose element cannot be made fails it.
func (h *HTTP) PreviewBatch(ctx context.Context, ds []*Delivery) (*Request, error) {
	if len(ds) == 0 {
		return nil, ErrEmptyBatch
	}
	r, _, own, err := h.build.batch(ctx, ds, PreviewBatchID, h.now())
	if err != nil {
		return nil, err
	}
	for _, err := range own {
		if err != nil {
			return nil, err
		}
	}
	return &Request{Method: r.Method, URL: r.URL, Header: r.Header, Body: r.Body}, nil
}

// Handout builds, instead of sending it, the request of one attempt of a
// pull endpoint's delivery, signed at now: sent is exactly what Send would
// put on the wire (every header in clear), for the client that collects
// it; recorded is what the attempt's record keeps of it once the client
// acknowledges it, credentials masked as for a send.
func (h *HTTP) Handout(ctx context.Context, d *Delivery) (sent, recorded herald.AttemptRequest, err error) {
	req, err := h.build.request(ctx, d, h.now())
	if err != nil {
		return sent, recorded, err
	}
	sent = herald.AttemptRequest{Method: req.Method, URL: req.URL, Headers: flatten(req.Header), Body: string(req.Body)}
	return sent, attemptRequest(req, d.Endpoint), nil
}

// Send makes one attempt of the delivery.
func (h *HTTP) Send(ctx context.Context, d *Delivery) Outcome {
	ep := d.Endpoint
	req, err := h.build.request(ctx, d, h.now())
	if errors.Is(err, ErrCancelled) {
		return Outcome{Cancelled: true, Error: err.Error()}
	}
	if err != nil && ctx.Err() != nil {
		// Shutdown, or the caller went away, while the transformation
		// ran: the attempt never happened.
		return Outcome{Aborted: true}
	}
	if err != nil {
		// The request cannot be built for this event (a strict template
		// met a missing value, the filled-in URL is invalid): sending
		// again would fail the same way.
		return Outcome{Kind: BuildErrorKind(err), Error: err.Error()}
	}
	o, _ := h.exchange(ctx, ep, d.App, d.ID, req, 0)
	return o
}

// exchange sends a built request to ep, an endpoint of app, and reads
// the answer; id names what was sent (a delivery or a batch) in logs. A
// batch of elements (0 for a single delivery) gets, from a preset that
// reads per-element results, one result per element when the request as
// a whole went through.
func (h *HTTP) exchange(ctx context.Context, ep *herald.Endpoint, app *herald.App, id string, req *sender.Request, elements int) (Outcome, []preset.Result) {
	d := &Delivery{ID: id, Endpoint: ep, App: app}
	if d.App != nil && d.App.PropagateTraceContext {
		// The attempt's span, for receivers that trace; outside the
		// signed content (id.timestamp.body), so it changes no
		// signature, and recorded with the request's other headers.
		tracing.Inject(ctx, req.Header)
	}
	p := preset.Lookup(ep.Preset)
	auth := ep.Auth
	if auth == nil && p != nil {
		auth = p.Auth(ep.PresetOptions)
	}
	var res *sender.Result
	if auth != nil {
		if err := h.authorize(ctx, auth, req, false); err != nil {
			res = &sender.Result{ErrorKind: herald.ErrorKindAuth, Err: err}
		} else {
			res = h.snd.Send(ctx, req)
			if res.StatusCode == http.StatusUnauthorized && auth.Type == "oauth2_client_credentials" {
				// The token may have been revoked: fetch a new one and
				// try once more within this attempt.
				if err := h.authorize(ctx, auth, req, true); err != nil {
					res = &sender.Result{ErrorKind: herald.ErrorKindAuth, Err: err}
				} else {
					res = h.snd.Send(ctx, req)
				}
			}
		}
	}
	o := Outcome{Request: attemptRequest(req, ep)}
	if res == nil {
		res = h.snd.Send(ctx, req)
	}
	if aborted(ctx, res) {
		return Outcome{Aborted: true}, nil
	}
	o.Status = res.StatusCode
	var vendorErr string
	var results []preset.Result
	answer := func(body []byte) (preset.Verdict, string) {
		if elements == 0 {
			return p.Answer(body)
		}
		v, msg, rs := p.BatchAnswer(body, elements)
		results = rs
		return v, msg
	}
	if p != nil && p.ReadsAnswers() && res.ErrorKind == herald.ErrorKindNone {
		verdict, msg := answer(res.Body)
		if verdict == preset.TokenRejected && auth != nil {
			// The vendor refused the token: fetch a new one and send once
			// more within this attempt. That second try is the attempt's
			// outcome, whatever happens to it.
			if err := h.authorize(ctx, auth, req, true); err != nil {
				res = &sender.Result{ErrorKind: herald.ErrorKindAuth, Err: err}
			} else {
				res = h.snd.Send(ctx, req)
			}
			if aborted(ctx, res) {
				return Outcome{Aborted: true}, nil
			}
			o.Request, o.Status = attemptRequest(req, ep), res.StatusCode
			verdict, msg, results = preset.OK, "", nil
			if res.ErrorKind == herald.ErrorKindNone {
				verdict, msg = answer(res.Body)
			}
		}
		switch verdict {
		case preset.Retry, preset.TokenRejected:
			o.Status, vendorErr = http.StatusServiceUnavailable, msg
		case preset.Final:
			o.Status, vendorErr = http.StatusBadRequest, msg
		}
		if vendorErr != "" {
			res.ErrorKind = herald.ErrorKindHTTPStatus
		}
	}
	if vendorErr == "" && res.Err == nil && res.StatusCode != 0 &&
		(res.ErrorKind == herald.ErrorKindNone || res.ErrorKind == herald.ErrorKindHTTPStatus) {
		// The endpoint's (or app's) success_statuses decide, not 2xx
		// alone: immdio counts only 200 as received.
		res.ErrorKind = herald.ErrorKindHTTPStatus
		if herald.StatusSucceeds(herald.EffectiveSuccessStatuses(ep, d.App), res.StatusCode) {
			res.ErrorKind = herald.ErrorKindNone
		}
	}
	o.Latency = res.Latency
	o.Kind = res.ErrorKind
	if be, ok := errors.AsType[*netpolicy.BlockedError](res.Err); ok {
		// The attempt says only what kind of address it was; the
		// operator may need to know which.
		h.log.Warn("destination refused", "app_id", ep.AppID, "endpoint_id", ep.ID, "delivery_id", d.ID, "destination", be)
	}
	if res.StatusCode != 0 {
		o.Response = &herald.AttemptResponse{
			StatusCode:    res.StatusCode,
			Body:          string(res.Body),
			BodyTruncated: res.BodyTruncated,
		}
		o.Response.Headers, o.Response.HeadersTruncated = keptHeaders(res.Header)
	}
	switch {
	case res.Err != nil:
		o.Error = res.Err.Error()
	case vendorErr != "":
		o.Error = vendorErr
	case res.ErrorKind == herald.ErrorKindHTTPStatus:
		o.Error = fmt.Sprintf("receiver answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	}
	if o.Status == http.StatusTooManyRequests || o.Status == http.StatusServiceUnavailable {
		// The only answers whose wait is honoured (RFC 9110 also allows
		// it on redirects, which are never followed).
		if wait, ok := RetryAfter(res.Header, h.now()); ok {
			o.RetryAfter = &wait
		}
	}
	return o, results
}

// aborted reports whether a send ended because ctx was cancelled
// (shutdown, or the caller went away) rather than by the receiver's doing.
func aborted(ctx context.Context, res *sender.Result) bool {
	return res.Err != nil && errors.Is(res.Err, context.Canceled) && ctx.Err() != nil
}

// attemptRequest records a request as sent to an endpoint: custom header
// values masked but those its plain_headers names, credentials masked.
func attemptRequest(r *sender.Request, ep *herald.Endpoint) herald.AttemptRequest {
	return herald.AttemptRequest{Method: r.Method, URL: maskQueryToken(r.URL), Headers: herald.MaskRequestHeaders(flatten(r.Header), ep.PlainHeaders), Body: string(r.Body)}
}

// maxRetryAfterHeader caps what a Retry-After header is read as, before
// the retry policy's own cap.
const maxRetryAfterHeader = 365 * 24 * time.Hour

// RetryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (a date in the past means now), at most a year either way.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	// Past int64, ParseInt gives the largest value and ErrRange: still
	// delay-seconds, capped below.
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfterHeader/time.Second) {
			secs = int64(maxRetryAfterHeader / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfterHeader), true
	}
	return 0, false
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

// Limits of the response headers kept in an attempt record. The
// transport already refuses more than sender.MaxResponseHeaderBytes; these
// bound what every attempt of a hostile receiver adds to the store, and a
// real receiver's useful headers fit easily.
const (
	MaxKeptHeaders     = 50
	MaxKeptHeaderBytes = 8 << 10
)

// ellipsis ends a header value that was cut short.
const ellipsis = "…"

// keptHeaders flattens response headers for the attempt record: at most
// MaxKeptHeaders names, MaxKeptHeaderBytes of names and values in all, in
// name order (the same answer is always kept the same way). The last value
// that does not fit is cut, ending in "…"; truncated says whether anything
// was left out or cut.
func keptHeaders(h http.Header) (kept map[string]string, truncated bool) {
	kept = make(map[string]string, min(len(h), MaxKeptHeaders))
	left := MaxKeptHeaderBytes
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if len(kept) == MaxKeptHeaders || len(k)+len(ellipsis) >= left {
			return kept, true
		}
		left -= len(k)
		v := strings.Join(h[k], ", ")
		if len(v) > left {
			v, truncated = cut(v, left-len(ellipsis))+ellipsis, true
		}
		left -= len(v)
		kept[k] = v
	}
	return kept, truncated
}

// cut returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	for n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// flatten turns headers into one string per name, as they are shown.
func flatten(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	return m
}

// BuildErrorKind is the error kind of a request that could not be built:
// transform where the endpoint's transformation failed (none where it
// cancelled the delivery), render where the templates made it unsendable (a URL invalid after
// substitution, a missing value in strict mode), policy otherwise. A
// request over --max-rendered-size stays policy: the size cap, not the
// definition, stops it.
func BuildErrorKind(err error) herald.ErrorKind {
	if errors.Is(err, ErrCancelled) {
		return herald.ErrorKindNone
	}
	if _, ok := errors.AsType[*transform.Error](err); ok {
		return herald.ErrorKindTransform
	}
	if _, ok := errors.AsType[*shape.RenderError](err); ok {
		if _, big := errors.AsType[*shape.TooLargeError](err); !big {
			return herald.ErrorKindRender
		}
	}
	return herald.ErrorKindPolicy
}
