// Package sender makes one HTTP attempt of a webhook delivery and describes
// its outcome in terms the delivery engine can act on. Retrying is the
// engine's business; the sender's is to make each attempt cheap (connections
// are kept alive and reused per destination) and to say precisely why an
// attempt did not succeed, so that the engine and the people reading the
// attempt log can tell a receiver's answer from a failure on the way there.
package sender

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/cache"
)

// Defaults for zero Options and Request fields.
const (
	defaultMaxResponseBody     = 64 << 10
	defaultMaxIdleConnsPerHost = 512
	defaultDialTimeout         = 10 * time.Second
	defaultTimeout             = 30 * time.Second

	// minMaxIdleConns bounds the idle pool across all destinations; it is
	// raised to MaxIdleConnsPerHost when that is larger, so one busy
	// destination can always keep its share.
	minMaxIdleConns = 4096
	idleConnTimeout = 90 * time.Second
	tcpKeepAlive    = 30 * time.Second

	// maxDrain is how much of a response body beyond the kept part is read
	// and thrown away so that the connection can be reused. Past it, closing
	// the connection is cheaper than reading on.
	maxDrain = 256 << 10

	// tlsSessionCacheSize is the number of destinations whose TLS sessions
	// are remembered for resumption on reconnect.
	tlsSessionCacheSize = 1024

	// MaxResponseHeaderBytes bounds the header block of an answer: beyond
	// it the attempt fails (network) instead of Herald holding whatever a
	// receiver sends (Go's default lets 10 MiB through, per request, on
	// every worker).
	MaxResponseHeaderBytes = 64 << 10
)

// Options configure a Sender. Zero values mean the documented defaults.
type Options struct {
	// UserAgent identifies Herald to receivers. When set it is sent on
	// every request without a User-Agent of its own (an endpoint's typed
	// one is sent as typed); when empty the request's own header, or Go's
	// default, is sent.
	UserAgent string
	// MaxResponseBody is how many bytes of a response body are kept; the
	// attempt log needs enough to debug a receiver, not its whole answer.
	// Zero or less means 64 KiB.
	MaxResponseBody int64
	// MaxIdleConnsPerHost is how many idle keep-alive connections are kept
	// per destination, which bounds the reconnect cost of bursts to one
	// receiver. Zero or less means 512.
	MaxIdleConnsPerHost int
	// DialTimeout bounds establishing a connection, including the TLS
	// handshake. Connections are made on behalf of the pool and may outlive
	// the request that asked for one, so this bounds them even then; the
	// request's own Timeout still bounds how long a request waits for one.
	// Zero or less means 10 s.
	DialTimeout time.Duration
	// DialContext replaces the dialer, for tests and for an address policy
	// that must see every address actually dialled. An error it returns
	// whose chain holds a value with an ErrorKind() herald.ErrorKind method
	// (for example a policy refusal) is reported with that kind; any other
	// error is a connect failure. Nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Resolver, when set, is used by the default dialer, so name resolution
	// can be controlled without replacing the dialer (tests use it to
	// simulate DNS failures). It is unused when DialContext is set.
	Resolver *net.Resolver
	// TLSClientConfig is the base TLS configuration, e.g. extra root CAs or
	// a client certificate. It is cloned; ServerName is filled in per
	// destination and NextProtos defaults to h2 and http/1.1. Nil means Go's
	// defaults, under which certificates are always verified.
	TLSClientConfig *tls.Config
}

// Request is one HTTP request to make. The engine builds and validates it;
// the sender does not modify it, so it may be reused for another attempt.
type Request struct {
	Method string
	URL    string // absolute http or https URL
	Header http.Header
	// Body is sent as is, with its length. Treat it as immutable: when a
	// receiver answers before reading all of it, the transport may still be
	// writing it briefly after Send has returned.
	Body []byte
	// Timeout bounds the whole exchange (connect, send, response headers and
	// the capped body read) so that one slow receiver cannot hold a worker
	// for longer than its budget. Zero or less means 30 s.
	Timeout time.Duration
	// TLS, when set, replaces the sender's TLS settings for this request
	// (an endpoint's own CA bundle, client certificate); TLSKey names the
	// setting, so requests with the same one share connections.
	TLS    *tls.Config
	TLSKey string
}

// Result is the outcome of one attempt. As with http.RoundTripper, a
// response of any status is a result, not an error: Err is set only when no
// complete response arrived, and ErrorKind is what retry decisions should be
// based on.
type Result struct {
	// StatusCode is the status the receiver answered with, or 0 when no
	// response arrived. It is kept when the response broke off or timed out
	// while its body was being read (ErrorKind then says so).
	StatusCode int
	// Header holds the response headers.
	Header http.Header
	// Body is the start of the response body, at most MaxResponseBody bytes.
	Body []byte
	// BodyTruncated reports that the receiver sent more than Body holds.
	BodyTruncated bool
	// Latency runs from the start of Send to the end of the body read or the
	// failure, on the monotonic clock.
	Latency time.Duration
	// ErrorKind is "" for a complete 2xx response, ErrorKindHTTPStatus for a
	// complete response with any other status (including 3xx: redirects
	// are never followed), and otherwise the kind of failure that prevented
	// a complete response.
	ErrorKind herald.ErrorKind
	// Err describes the failure in a human-readable form that starts with
	// its kind, e.g. "connect: dial tcp 127.0.0.1:1: connect: connection
	// refused". It is nil whenever a complete response arrived. When the
	// caller's context was cancelled, errors.Is(Err, context.Canceled)
	// holds.
	Err error
}

// Sender makes webhook requests over its own connection pool. It holds no
// state per request, so one Sender should be shared by all workers: that is
// what lets connections to a destination be reused. It is safe for
// concurrent use.
type Sender struct {
	client    *http.Client
	transport *http.Transport
	// userAgent is the User-Agent header value, nil for none. It is shared
	// by all requests; the transport only reads it.
	userAgent   []string
	maxBody     int64
	dialTimeout time.Duration
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsConfig   *tls.Config

	// opts and variants serve requests with TLS settings of their own (an
	// endpoint's CA bundle or client certificate): each distinct setting
	// gets a sender of its own, so connections made with one client
	// certificate are never reused for another endpoint.
	opts Options
	// mu makes finding or making a variant one step, so that requests
	// asking at once share one variant and its connections.
	mu       sync.Mutex
	variants *cache.LRU[string, *Sender]
}

// maxVariants bounds the senders kept for distinct TLS settings (keyed by
// endpoint version, which tenants control): past it the least recently
// used one is dropped and its idle connections closed, the others keep
// theirs.
const maxVariants = 1000

func (s *Sender) variant(key string, cfg *tls.Config) *Sender {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.variants.Get(key); ok {
		return v
	}
	o := s.opts
	o.TLSClientConfig = cfg
	v := New(o)
	s.variants.Put(key, v)
	return v
}

// New returns a Sender with its own transport, so that pool sizes, timeouts
// and the refusal to use a proxy or follow redirects cannot be changed by
// other code sharing http.DefaultTransport.
func New(o Options) *Sender {
	s := &Sender{
		opts:        o,
		maxBody:     o.MaxResponseBody,
		dialTimeout: o.DialTimeout,
		dial:        o.DialContext,
		variants: cache.NewLRU(maxVariants, cache.LRUOptions[string, *Sender]{
			OnEvict: func(_ string, v *Sender) { v.CloseIdleConnections() }}),
	}
	if o.UserAgent != "" {
		s.userAgent = []string{o.UserAgent}
	}
	if s.maxBody <= 0 {
		s.maxBody = defaultMaxResponseBody
	}
	if s.dialTimeout <= 0 {
		s.dialTimeout = defaultDialTimeout
	}
	if s.dial == nil {
		d := &net.Dialer{
			Timeout:   s.dialTimeout,
			KeepAlive: tcpKeepAlive,
			Resolver:  o.Resolver,
		}
		s.dial = d.DialContext
	}
	perHost := o.MaxIdleConnsPerHost
	if perHost <= 0 {
		perHost = defaultMaxIdleConnsPerHost
	}

	if o.TLSClientConfig != nil {
		s.tlsConfig = o.TLSClientConfig.Clone()
	} else {
		s.tlsConfig = &tls.Config{}
	}
	if len(s.tlsConfig.NextProtos) == 0 {
		s.tlsConfig.NextProtos = []string{"h2", "http/1.1"}
	}
	if s.tlsConfig.ClientSessionCache == nil {
		s.tlsConfig.ClientSessionCache = tls.NewLRUClientSessionCache(tlsSessionCacheSize)
	}

	s.transport = &http.Transport{
		// No proxy, whatever HTTP_PROXY and friends say: the address policy
		// in the dialer must see the receiver's real address, and a proxy
		// would both hide it and become a way around the policy.
		Proxy:       nil,
		DialContext: s.dialPlain,
		// TLS is set up here rather than by the transport so that every
		// handshake failure, whatever its form, is reported as a TLS
		// failure and never mistaken for a broken connection. The transport
		// still negotiates HTTP/2 from the handshake's ALPN result.
		DialTLSContext:      s.dialTLS,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        max(minMaxIdleConns, perHost),
		MaxIdleConnsPerHost: perHost,
		IdleConnTimeout:     idleConnTimeout,
		// What a receiver makes Herald hold is bounded: the headers here,
		// the body by MaxResponseBody, the time by the request's Timeout.
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		// Send the request exactly as the engine built and recorded it,
		// without an added Accept-Encoding, and keep the body as received.
		DisableCompression: true,
	}
	s.client = &http.Client{
		Transport: s.transport,
		// A redirect is the receiver's answer, recorded as such; following
		// it would send the payload somewhere the customer did not
		// configure.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return s
}

// CloseIdleConnections closes pooled connections that are not in use, e.g.
// before shutdown or after an endpoint's address changed. Connections in use
// are left alone.
func (s *Sender) CloseIdleConnections() {
	if s == nil {
		return
	}
	if s.variants != nil {
		s.variants.Range(func(_ string, v *Sender) { v.CloseIdleConnections() })
	}
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
}

// errAttemptTimeout is the cancellation cause of a request's own deadline; it
// tells that deadline apart from the caller cancelling or timing out the
// parent context.
var errAttemptTimeout = errors.New("attempt timeout")

// Send makes one attempt and reports its outcome. It never returns nil and
// never panics on a malformed Request: one the engine should not have built
// is refused with ErrorKindPolicy. A done ctx (cancelled at shutdown, or
// past a deadline of the caller's) aborts the attempt; that is the caller's
// doing, not the receiver's, so it is reported as ErrorKindNetwork rather
// than as a timeout, with ctx.Err() in Err's chain.
func (s *Sender) Send(ctx context.Context, r *Request) *Result {
	if s != nil && r != nil && r.TLS != nil {
		c := *r
		c.TLS = nil
		return s.variant(r.TLSKey, r.TLS).Send(ctx, &c)
	}
	start := time.Now()
	res := &Result{}
	defer func() { res.Latency = time.Since(start) }()

	if s == nil || s.client == nil {
		res.ErrorKind = herald.ErrorKindPolicy
		res.Err = &sendError{msg: "policy: sender not initialized (use sender.New)"}
		return res
	}
	if r == nil {
		res.ErrorKind = herald.ErrorKindPolicy
		res.Err = &sendError{msg: "policy: nil request"}
		return res
	}
	if ctx == nil {
		ctx = context.Background()
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	reqCtx, cancel := context.WithTimeoutCause(ctx, timeout, errAttemptTimeout)
	defer cancel()

	req, err := s.newRequest(reqCtx, r)
	if err != nil {
		res.ErrorKind = herald.ErrorKindPolicy
		res.Err = err
		return res
	}

	resp, err := s.client.Do(req)
	if err != nil {
		res.ErrorKind, res.Err = s.classify(ctx, reqCtx, timeout, err, false)
		return res
	}
	res.StatusCode = resp.StatusCode
	res.Header = resp.Header
	res.Body, res.BodyTruncated, err = s.readBody(resp)
	switch {
	case err != nil:
		res.ErrorKind, res.Err = s.classify(ctx, reqCtx, timeout, err, true)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		res.ErrorKind = herald.ErrorKindHTTPStatus
	}
	return res
}

// newRequest turns r into an *http.Request, refusing what the transport
// would reject or misinterpret, so that such requests are reported as
// policy refusals rather than as network failures.
func (s *Sender) newRequest(ctx context.Context, r *Request) (*http.Request, error) {
	if r.Method == "" {
		return nil, &sendError{msg: "policy: empty request method"}
	}
	if !validToken(r.Method) {
		return nil, &sendError{msg: fmt.Sprintf("policy: invalid request method %q", r.Method)}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, nil)
	if err != nil {
		return nil, &sendError{msg: "policy: invalid request: " + err.Error(), err: err}
	}
	if u := req.URL; u.Scheme != "http" && u.Scheme != "https" {
		return nil, &sendError{msg: fmt.Sprintf("policy: unsupported URL scheme %q (want http or https)", u.Scheme)}
	} else if u.Hostname() == "" {
		return nil, &sendError{msg: "policy: request URL has no host"}
	}

	h := req.Header
	for k, vs := range r.Header {
		if !validToken(k) {
			return nil, &sendError{msg: fmt.Sprintf("policy: invalid header name %q", k)}
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return nil, &sendError{msg: fmt.Sprintf("policy: invalid value for header %q", k)}
			}
		}
		// Canonical keys, so that a differently spelled duplicate cannot
		// be sent twice.
		ck := http.CanonicalHeaderKey(k)
		if prev, ok := h[ck]; ok {
			h[ck] = append(slices.Clip(prev), vs...)
		} else {
			h[ck] = vs // shared, not copied: nothing below modifies it
		}
	}
	if s.userAgent != nil && len(h["User-Agent"]) == 0 {
		h["User-Agent"] = s.userAgent
	}

	if len(r.Body) > 0 {
		body := r.Body
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		// GetBody lets the transport replay the request on a new
		// connection when a reused one turns out to be dead before
		// anything was written.
		req.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(body)), nil
		}
	} else {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	return req, nil
}

// readBody reads at most s.maxBody bytes of the response body, then drains a
// bounded amount more so the connection can go back to the pool, and closes
// the body. The error is that of the capped read; once the kept part is
// complete, failures while draining do not matter.
func (s *Sender) readBody(resp *http.Response) (body []byte, truncated bool, err error) {
	rc := resp.Body
	defer rc.Close()

	limit := s.maxBody
	cl := resp.ContentLength
	known := cl >= 0 && cl <= limit // the whole body fits and its size is known
	var buf []byte
	if known {
		buf = make([]byte, 0, cl)
	} else {
		buf = make([]byte, 0, min(limit, 512))
	}
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			if known {
				break // all promised bytes are here; the drain sees EOF
			}
			nb := make([]byte, len(buf), min(limit, int64(2*cap(buf))))
			copy(nb, buf)
			buf = nb
		}
		n, rerr := rc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			return buf, false, nil
		}
		if rerr != nil {
			return buf, false, rerr
		}
	}
	// Any byte past the kept part means truncation. Reading to EOF lets
	// the transport reuse the connection; if the body is longer than
	// maxDrain, Close (deferred) closes the connection instead.
	extra, _ := io.CopyN(io.Discard, rc, maxDrain)
	return buf, extra > 0, nil
}

// validToken reports whether s is a non-empty RFC 9110 token, the syntax of
// methods and header names.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v can be sent as a header value: no
// control characters other than horizontal tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
