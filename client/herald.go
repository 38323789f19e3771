// Package client is Herald's Go client, generated from the API's OpenAPI
// document (client.gen.go: every operation, request and answer type) with
// what the document cannot say written around it: the token on every
// request, retries of 429 and 503 answers that honour Retry-After, an
// idempotency key on every POST so that a retried request is not applied
// twice, error answers returned as *APIError, and iterators over lists.
//
//	h, err := client.New("http://127.0.0.1:8080", token)
//	res, err := h.CreateEventWithResponse(ctx, "acme", nil, client.CreateEventJSONRequestBody{
//		EventType: "lead.created", Payload: map[string]any{"id": 42}})
//	for app, err := range h.Apps(ctx) { ... }
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Herald is a client of one Herald server. Its methods are the generated
// ones of ClientWithResponses; an answer of status 400 or above comes back
// as an *APIError, never as a response.
type Herald struct {
	*ClientWithResponses
}

// Options tune a client; the zero value is the default.
type Options struct {
	// HTTPClient sends the requests; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Retries is how many times a request answered 429 or 503, or
	// failing before any answer came back, is tried again: 3 when 0, none
	// when negative. A request without an idempotency key that is not a
	// GET, PUT or DELETE is retried only when an answer came back (the
	// server then did nothing).
	Retries int
	// MaxWait is the longest wait before a retry, 30 s when 0: an answer
	// asking for longer (Retry-After) is returned as an *APIError instead.
	MaxWait time.Duration
	// UserAgent is sent with every request, after Herald's own.
	UserAgent string
}

// New returns a client of the Herald at server (its base URL, e.g.
// http://127.0.0.1:8080) that sends token with every request.
func New(server, token string) (*Herald, error) {
	return NewWithOptions(server, token, Options{})
}

// NewWithOptions is New with options.
func NewWithOptions(server, token string, o Options) (*Herald, error) {
	if token == "" {
		return nil, errors.New("herald client: no token")
	}
	d := &doer{hc: o.HTTPClient, token: token, retries: o.Retries, maxWait: o.MaxWait, ua: "herald-go"}
	if d.hc == nil {
		d.hc = http.DefaultClient
	}
	switch {
	case d.retries == 0:
		d.retries = 3
	case d.retries < 0:
		d.retries = 0
	}
	if d.maxWait <= 0 {
		d.maxWait = 30 * time.Second
	}
	if o.UserAgent != "" {
		d.ua += " " + o.UserAgent
	}
	c, err := NewClientWithResponses(strings.TrimSuffix(server, "/"), WithHTTPClient(d))
	if err != nil {
		return nil, err
	}
	return &Herald{ClientWithResponses: c}, nil
}

// APIError is an answer of status 400 or above, with the error body every
// such answer carries.
type APIError struct {
	StatusCode int
	Code       ErrorCode
	Message    string
	// Field names the offending input (a JSON field, a query parameter, a
	// header) when there is one.
	Field string
	// RetryAfter is the answer's Retry-After, 0 when it had none.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("herald: %d %s: %s", e.StatusCode, e.Code, e.Message)
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	return s
}

// CodeOf returns the error code of err when it is (or wraps) an *APIError,
// and "" otherwise.
func CodeOf(err error) ErrorCode {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 1 << 20

// doer sends the generated client's requests: it adds the token and the
// idempotency key, retries, and turns error answers into *APIError.
type doer struct {
	hc      *http.Client
	token   string
	ua      string
	retries int
	maxWait time.Duration
}

func (d *doer) Do(req *http.Request) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("User-Agent", d.ua)
	if req.Method == http.MethodPost && req.Header.Get("Idempotency-Key") == "" {
		req.Header.Set("Idempotency-Key", newKey())
	}
	safe := req.Method == http.MethodGet || req.Method == http.MethodHead ||
		req.Method == http.MethodPut || req.Method == http.MethodDelete ||
		req.Header.Get("Idempotency-Key") != ""
	for try := 0; ; try++ {
		r := req
		if try > 0 && req.Body != nil {
			if req.GetBody == nil {
				return nil, errors.New("herald client: cannot send the request body again")
			}
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		res, err := d.hc.Do(r)
		if err != nil {
			if try >= d.retries || !safe || req.Context().Err() != nil {
				return nil, err
			}
			if werr := wait(req.Context(), backoff(try)); werr != nil {
				return nil, err
			}
			continue
		}
		if res.StatusCode < 400 {
			return res, nil
		}
		apiErr := readError(res)
		retryable := res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable
		if !retryable || try >= d.retries || apiErr.RetryAfter > d.maxWait {
			return nil, apiErr
		}
		pause := apiErr.RetryAfter
		if pause == 0 {
			pause = backoff(try)
		}
		if err := wait(req.Context(), pause); err != nil {
			return nil, err
		}
	}
}

// readError reads an error answer into an *APIError; a body that is not
// Herald's error shape keeps the status and the first bytes as message.
func readError(res *http.Response) *APIError {
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	e := &APIError{StatusCode: res.StatusCode, RetryAfter: retryAfter(res.Header.Get("Retry-After"), time.Now())}
	var body Error
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
		if body.Error.Field != nil {
			e.Field = *body.Error.Field
		}
		return e
	}
	e.Message = strings.TrimSpace(string(bytes.ToValidUTF8(b[:min(len(b), 200)], nil)))
	if e.Message == "" {
		e.Message = http.StatusText(res.StatusCode)
	}
	return e
}

// retryAfter reads a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > math.MaxInt64/int64(time.Second) {
			return math.MaxInt64
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the wait before retry number try+1 when the answer did not
// say: half a second doubled each time, up to 8 s, with jitter so that
// clients turned away together do not come back together.
func backoff(try int) time.Duration {
	d := 500 * time.Millisecond << min(try, 4)
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newKey returns a random idempotency key.
func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "idem_" + hex.EncodeToString(b[:])
}
