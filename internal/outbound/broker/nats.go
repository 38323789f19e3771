package broker

// NATS destinations (kind "nats").
//
// Layout for consumers: each delivery is one NATS message on the
// destination's subject (its template filled in), the body byte for byte
// as the HTTP request's body. The headers are NATS message headers with
// exactly the names Herald gives them, lower case, not canonicalized:
// webhook-id, webhook-timestamp, webhook-signature (Standard Webhooks),
// content-type, and the endpoint's own headers. Header names in NATS are
// case-sensitive: a consumer reads msg.Header.Get("webhook-id") (nats.go),
// not "Webhook-Id".
//
// With stream set the message goes through JetStream: it also carries
// Nats-Msg-Id = webhook-id, so the stream drops a retried attempt's copy
// within its duplicate window, and it is published with the expected
// stream, so a subject that stream does not hold is refused. The delivery
// counts only on the stream's acknowledgement, recorded as
// "stream NAME seq N" (with " duplicate" when the stream already had the
// message). A subject no stream holds ("no responders") or a stream that
// refuses the message is error kind rejected.
//
// Without stream it is core NATS: no acknowledgement exists, so the
// delivery counts once the server has read the message (a PING/PONG round
// trip after it), recorded as "flushed to server (core NATS, no
// persistence)": a subscriber that is not listening at that moment never
// sees it.
//
// Delivery is at least once: a publish cut by a lost connection is
// reported as failed although the server may have had it (core NATS), and
// retried; JetStream drops such a copy by its Nats-Msg-Id.
//
// Herald dials only the URLs of the destination (servers a cluster
// advertises are ignored), through the destination policy. Credentials are
// user:password in each URL, or username and password (a password alone
// is sent as a token). A refused login, or a publish the user has no
// permission for, is error kind auth; a message over the server's
// max_payload is rejected.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/shape"
)

const (
	natsDefaultPort = "4222"
	// natsMaxServers bounds the comma-separated URLs of one destination.
	natsMaxServers = 16
	// natsMaxSubject bounds a subject; NATS has no limit of its own but
	// every byte of it travels with each message.
	natsMaxSubject = 1024
	// natsMaxStream is JetStream's stream name limit (a file name).
	natsMaxStream = 255
	// natsReconnectGrace is how long a Publish that finds the connection
	// lost waits for nats.go to get it back before failing, so that a
	// broker restart costs no retry while a broker that is gone does not
	// hold the delivery for its whole timeout.
	natsReconnectGrace = time.Second
	// natsMaxReconnects bounds the background reconnect attempts after a
	// connection is lost (about half a second apart); then the
	// connection closes and the next Publish connects afresh.
	natsMaxReconnects  = 40
	natsDefaultTimeout = 10 * time.Second
)

// natsAck is the history's record of a core NATS publish.
const natsAck = "flushed to server (core NATS, no persistence)"

var errNATSClosed = errors.New("nats: client closed")

type natsKind struct{}

// NATS is the kind that publishes to a NATS subject, through JetStream
// when the destination names a stream.
func NATS() outbound.Kind { return natsKind{} }

func (natsKind) Name() string { return herald.KindNATS }

func natsField(name, format string, args ...any) error {
	return &shape.FieldError{Field: "destination." + name, Msg: name + " " + fmt.Sprintf(format, args...)}
}

func (natsKind) Check(d *herald.Destination) error {
	if d == nil {
		return natsField("url", "is required")
	}
	if err := natsNotApplicable(d); err != nil {
		return err
	}
	servers, err := natsServers(d.URL)
	if err != nil {
		return err
	}
	for _, u := range servers {
		if u.User != nil && (d.Username != "" || d.Password != "") {
			field := "username"
			if d.Username == "" {
				field = "password"
			}
			return natsField(field, "cannot be set when url carries credentials")
		}
	}
	if d.Subject == "" {
		return natsField("subject", "is required")
	}
	if natsTemplated(d.Subject) {
		if err := natsNoSpace("subject", natsFixedParts(d.Subject)); err != nil {
			return err
		}
	} else if err := natsCheckSubject(d.Subject); err != nil {
		return natsField("subject", "%s", err)
	}
	if d.Stream != "" {
		if natsTemplated(d.Stream) {
			if err := natsNoSpace("stream", natsFixedParts(d.Stream)); err != nil {
				return err
			}
		} else if err := natsCheckStream(d.Stream); err != nil {
			return natsField("stream", "%s", err)
		}
	}
	return nil
}

// natsNotApplicable refuses the fields of other kinds.
func natsNotApplicable(d *herald.Destination) error {
	set := []struct {
		name string
		on   bool
	}{
		{"exchange", d.Exchange != ""},
		{"routing_key", d.RoutingKey != ""},
		{"brokers", len(d.Brokers) > 0},
		{"topic", d.Topic != ""},
		{"key", d.Key != ""},
		{"sasl_mechanism", d.SASLMechanism != ""},
		{"tls", d.TLS},
		{"max_len", d.MaxLen != 0},
		{"project", d.Project != ""},
		{"ordering_key", d.OrderingKey != ""},
		{"credentials_json", d.CredentialsJSON != ""},
		{"queue_url", d.QueueURL != ""},
		{"region", d.Region != ""},
		{"access_key_id", d.AccessKeyID != ""},
		{"secret_access_key", d.SecretAccessKey != ""},
		{"message_group_id", d.MessageGroupID != ""},
		{"deduplication_id", d.DeduplicationID != ""},
		{"endpoint", d.Endpoint != ""},
	}
	for _, f := range set {
		if f.on {
			if f.name == "tls" {
				return natsField("tls", "does not apply to nats destinations (use a tls:// URL)")
			}
			return natsField(f.name, "does not apply to nats destinations")
		}
	}
	return nil
}

// natsServers parses the destination's URL: one or more comma-separated
// nats:// or tls:// server URLs. Messages never quote the URL, which may
// hold a password.
func natsServers(raw string) ([]*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, natsField("url", "is required")
	}
	parts := strings.Split(raw, ",")
	if len(parts) > natsMaxServers {
		return nil, natsField("url", "lists more than %d servers", natsMaxServers)
	}
	var out []*url.URL
	for i, p := range parts {
		p = strings.TrimSpace(p)
		nth := ""
		if len(parts) > 1 {
			nth = fmt.Sprintf(" (server %d)", i+1)
		}
		if p == "" {
			return nil, natsField("url", "has an empty server URL%s", nth)
		}
		u, err := url.Parse(p)
		if err != nil {
			return nil, natsField("url", "is not a valid URL%s", nth)
		}
		if u.Scheme != "nats" && u.Scheme != "tls" {
			return nil, natsField("url", "must start with nats:// or tls://%s", nth)
		}
		if u.Opaque != "" || u.Hostname() == "" {
			return nil, natsField("url", "needs a host (nats://host:4222)%s", nth)
		}
		if port := u.Port(); port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return nil, natsField("url", "has a port out of range 1-65535%s", nth)
			}
		} else if strings.HasSuffix(u.Host, ":") {
			return nil, natsField("url", "has an empty port%s", nth)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, natsField("url", "must be only scheme, credentials, host and port%s", nth)
		}
		out = append(out, u)
	}
	return out, nil
}

func (natsKind) Hosts(d *herald.Destination) []string {
	if d == nil {
		return nil
	}
	servers, err := natsServers(d.URL)
	if err != nil {
		return nil
	}
	hosts := make([]string, 0, len(servers))
	for _, u := range servers {
		port := u.Port()
		if port == "" {
			port = natsDefaultPort
		}
		hosts = append(hosts, net.JoinHostPort(u.Hostname(), port))
	}
	return hosts
}

func natsTemplated(s string) bool { return strings.Contains(s, "{{") || strings.Contains(s, "#{") }

// natsFixedParts is s without its template tags ({{...}} and #{...}).
func natsFixedParts(s string) string {
	var b strings.Builder
	for s != "" {
		i, open, close := -1, "", ""
		if j := strings.Index(s, "{{"); j >= 0 {
			i, open, close = j, "{{", "}}"
		}
		if j := strings.Index(s, "#{"); j >= 0 && (i < 0 || j < i) {
			i, open, close = j, "#{", "}"
		}
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		rest := s[i+len(open):]
		k := strings.Index(rest, close)
		if k < 0 {
			break
		}
		s = rest[k+len(close):]
	}
	return b.String()
}

func natsNoSpace(field, fixed string) error {
	for _, r := range fixed {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return natsField(field, "has a space or control character outside its template tags")
		}
	}
	return nil
}

// natsCheckSubject checks a subject to publish to: dot-separated
// non-empty tokens, no whitespace, no wildcard token.
func natsCheckSubject(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if len(s) > natsMaxSubject {
		return fmt.Errorf("is longer than %d bytes", natsMaxSubject)
	}
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return errors.New("has a space or control character")
		}
	}
	for _, tok := range strings.Split(s, ".") {
		switch tok {
		case "":
			return errors.New("has an empty token (leading, trailing or double dot)")
		case "*", ">":
			return errors.New("has a wildcard (* or >): a message needs a concrete subject")
		}
	}
	return nil
}

// natsCheckStream checks a JetStream stream name.
func natsCheckStream(s string) error {
	if len(s) > natsMaxStream {
		return fmt.Errorf("is longer than %d bytes", natsMaxStream)
	}
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) || strings.ContainsRune(`.*>/\`, r) {
			return errors.New("must not contain spaces, dots, wildcards (* >), slashes or unprintable characters")
		}
	}
	return nil
}

func (k natsKind) Open(ctx context.Context, d *herald.Destination, env outbound.Env) (outbound.Client, error) {
	if err := k.Check(d); err != nil {
		return nil, err
	}
	if env.Dial == nil {
		return nil, errors.New("nats: no dialer")
	}
	if env.Timeout <= 0 {
		env.Timeout = natsDefaultTimeout
	}
	dest := *d
	return &natsClient{d: &dest, env: env}, nil
}

// natsClient is one destination's client: a single nats.go connection,
// made at the first Publish and made again when it closed for good.
type natsClient struct {
	d   *herald.Destination
	env outbound.Env

	mu      sync.Mutex
	closed  bool
	conn    *natsConn
	pending *natsAttempt
}

// natsAttempt is a connect in progress; Publishes wait for it, each up to
// its own context.
type natsAttempt struct {
	done chan struct{}
	conn *natsConn
	err  error
}

// natsConn is a nats.go connection with what Publish needs to know of its
// state: nats.go tells of disconnects through callbacks only.
type natsConn struct {
	nc *nats.Conn
	js jetstream.JetStream

	mu      sync.Mutex
	up      bool
	lost    chan struct{} // closed when the connection is lost
	back    chan struct{} // closed when it is back (or closed for good)
	gone    bool          // closed for good
	dialErr error         // the last failed dial, nil after a good one
}

func newNATSConn() *natsConn {
	back := make(chan struct{})
	close(back)
	return &natsConn{up: true, lost: make(chan struct{}), back: back}
}

func (s *natsConn) onDisconnect(*nats.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up {
		s.up = false
		close(s.lost)
		s.back = make(chan struct{})
	}
}

func (s *natsConn) onReconnect(*nats.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.up && !s.gone {
		s.up = true
		close(s.back)
		s.lost = make(chan struct{})
	}
}

func (s *natsConn) onClosed(*nats.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return
	}
	s.gone = true
	if s.up {
		s.up = false
		close(s.lost)
	} else {
		close(s.back)
	}
}

func (s *natsConn) state() (up, gone bool, lost, back chan struct{}, dialErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up, s.gone, s.lost, s.back, s.dialErr
}

// natsDialer dials through the destination policy; nats.go's dialer
// interface has no context, so each dial gets the connect timeout.
type natsDialer struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	timeout time.Duration
	conn    *natsConn
}

func (d natsDialer) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	c, err := d.dial(ctx, network, addr)
	d.conn.mu.Lock()
	d.conn.dialErr = err
	d.conn.mu.Unlock()
	return c, err
}

func (c *natsClient) options(s *natsConn) []nats.Option {
	opts := []nats.Option{
		nats.Name("herald"),
		nats.SetCustomDialer(natsDialer{dial: c.env.Dial, timeout: c.env.Timeout, conn: s}),
		// The dialer resolves the name, under the destination policy.
		nats.SkipHostLookup(),
		nats.IgnoreDiscoveredServers(),
		nats.Timeout(c.env.Timeout),
		// No buffering while disconnected: a publish then fails at once
		// instead of reporting a message that may never leave.
		nats.ReconnectBufSize(-1),
		nats.MaxReconnects(natsMaxReconnects),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, 250*time.Millisecond),
		nats.PingInterval(30 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.NoCallbacksAfterClientClose(),
		nats.DisconnectErrHandler(s.onDisconnect),
		nats.ReconnectHandler(s.onReconnect),
		nats.ClosedHandler(s.onClosed),
		// Asynchronous errors are read back from LastError by Publish.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	if c.d.Username != "" {
		opts = append(opts, nats.UserInfo(c.d.Username, c.d.Password))
	} else if c.d.Password != "" {
		opts = append(opts, nats.Token(c.d.Password))
	}
	return opts
}

// connect returns the client's connection, connecting if it has none or
// the one it had closed for good. A failed connect is not kept: the next
// Publish tries again.
func (c *natsClient) connect(ctx context.Context) (*natsConn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errNATSClosed
	}
	if c.conn != nil && !c.conn.nc.IsClosed() {
		s := c.conn
		c.mu.Unlock()
		return s, nil
	}
	c.conn = nil
	a := c.pending
	if a == nil {
		a = &natsAttempt{done: make(chan struct{})}
		c.pending = a
		go c.dial(a)
	}
	c.mu.Unlock()
	select {
	case <-a.done:
		return a.conn, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *natsClient) dial(a *natsAttempt) {
	s := newNATSConn()
	nc, err := nats.Connect(c.d.URL, c.options(s)...)
	var js jetstream.JetStream
	if err == nil {
		js, err = jetstream.New(nc)
		if err != nil {
			nc.Close()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = nil
	switch {
	case err != nil:
		a.err = natsConnectErr(err)
	case c.closed:
		nc.Close()
		a.err = errNATSClosed
	default:
		s.nc, s.js = nc, js
		c.conn, a.conn = s, s
	}
	close(a.done)
}

func natsAuthErr(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired)
}

func natsConnectErr(err error) error {
	switch {
	case natsAuthErr(err):
		return outbound.Fail(herald.ErrorKindAuth, err)
	case errors.Is(err, nats.ErrNoServers):
		return outbound.Fail(herald.ErrorKindConnect, err)
	}
	return err
}

// awaitUp waits, at most natsReconnectGrace within ctx, for a lost
// connection to come back.
func (c *natsClient) awaitUp(ctx context.Context, s *natsConn) error {
	up, gone, _, back, _ := s.state()
	if up {
		return nil
	}
	if !gone {
		t := time.NewTimer(natsReconnectGrace)
		defer t.Stop()
		select {
		case <-back:
		case <-t.C:
		case <-ctx.Done():
		}
	}
	up, gone, _, _, dialErr := s.state()
	if up {
		return nil
	}
	if last := s.nc.LastError(); last != nil && natsAuthErr(last) {
		return outbound.Fail(herald.ErrorKindAuth, last)
	}
	if dialErr != nil {
		// Its own kind: connect, policy, dns, timeout...
		return fmt.Errorf("nats: not connected (reconnecting): %w", dialErr)
	}
	what := "reconnecting"
	if gone {
		what = "connection closed"
	}
	return outbound.Fail(herald.ErrorKindConnect, fmt.Errorf("nats: not connected (%s)", what))
}

func (c *natsClient) Publish(ctx context.Context, m *outbound.Message) (string, error) {
	if m == nil {
		return "", outbound.Fail(herald.ErrorKindRender, errors.New("nats: no message"))
	}
	d := m.Dest
	if d == nil {
		d = c.d
	}
	if err := natsCheckSubject(d.Subject); err != nil {
		return "", outbound.Fail(herald.ErrorKindRender, fmt.Errorf("nats: subject %q %s", natsClip(d.Subject), err))
	}
	if d.Stream != "" {
		if err := natsCheckStream(d.Stream); err != nil {
			return "", outbound.Fail(herald.ErrorKindRender, fmt.Errorf("nats: stream %q %s", natsClip(d.Stream), err))
		}
	}
	hdr := nats.Header{}
	for _, h := range m.Headers {
		if h.Name == "" || strings.ContainsAny(h.Name, ": \t\r\n") || strings.ContainsAny(h.Value, "\r\n") {
			return "", outbound.Fail(herald.ErrorKindRender, fmt.Errorf("nats: header %q cannot be sent as a NATS header", natsClip(h.Name)))
		}
		hdr[h.Name] = append(hdr[h.Name], h.Value)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.env.Timeout)
		defer cancel()
	}
	// One more try when the message did not leave because the connection
	// was just lost (the reconnect grace may bring it back) or was closed
	// for good.
	for try := 0; ; try++ {
		s, err := c.connect(ctx)
		if err != nil {
			return "", err
		}
		if err := c.awaitUp(ctx, s); err != nil {
			// nats.go gave up reconnecting: connect afresh, once.
			if s.nc.IsClosed() && try == 0 && ctx.Err() == nil {
				continue
			}
			return "", err
		}
		msg := &nats.Msg{Subject: d.Subject, Header: natsCloneHeader(hdr), Data: m.Body}
		ack, unsent, err := c.publishOn(ctx, s, msg, d.Stream, m.ID)
		if unsent && try == 0 && ctx.Err() == nil {
			continue
		}
		return ack, err
	}
}

// natsCloneHeader copies h, since JetStream's options add to a message's
// headers and a retried publish must start from the delivery's own.
func natsCloneHeader(h nats.Header) nats.Header {
	out := make(nats.Header, len(h)+2)
	for k, v := range h {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func (c *natsClient) publishOn(ctx context.Context, s *natsConn, msg *nats.Msg, stream, id string) (ack string, unsent bool, err error) {
	up, _, lost, _, _ := s.state()
	if !up {
		return "", true, outbound.Fail(herald.ErrorKindConnect, errors.New("nats: not connected"))
	}
	// A lost connection cuts the publish short instead of leaving it to
	// wait for an answer that cannot come.
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errLost := errors.New("nats: connection lost during the publish; the server may or may not have the message")
	go func() {
		select {
		case <-lost:
			cancel(errLost)
		case <-pctx.Done():
		}
	}()
	before := s.nc.Stats().Reconnects
	lastBefore := s.nc.LastError()
	fail := func(err error) (string, bool, error) {
		if errors.Is(context.Cause(pctx), errLost) && ctx.Err() == nil {
			return "", false, outbound.Fail(herald.ErrorKindNetwork, errLost)
		}
		if last := s.nc.LastError(); last != nil && last != lastBefore && natsDenied(last, msg.Subject) {
			return "", false, outbound.Fail(herald.ErrorKindAuth, last)
		}
		switch {
		case errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrConnectionReconnecting):
			return "", true, outbound.Fail(herald.ErrorKindConnect, err)
		case errors.Is(err, nats.ErrConnectionClosed):
			return "", false, outbound.Fail(herald.ErrorKindNetwork, err)
		case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrHeadersNotSupported):
			return "", false, outbound.Fail(herald.ErrorKindRejected, err)
		case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
			return "", false, outbound.Fail(herald.ErrorKindRejected, fmt.Errorf("nats: no stream holds subject %q (no responders): %w", natsClip(msg.Subject), err))
		case errors.Is(err, jetstream.ErrInvalidJSAck):
			return "", false, outbound.Fail(herald.ErrorKindRejected, err)
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
			return "", false, outbound.Fail(herald.ErrorKindTimeout, fmt.Errorf("nats: no acknowledgement in time: %w", err))
		}
		if _, ok := errors.AsType[*jetstream.APIError](err); ok {
			return "", false, outbound.Fail(herald.ErrorKindRejected, err)
		}
		return "", false, err
	}
	if stream == "" {
		if err := s.nc.PublishMsg(msg); err != nil {
			return fail(err)
		}
		if err := s.nc.FlushWithContext(pctx); err != nil {
			return fail(err)
		}
		// A flush queued while reconnecting is answered by the new
		// connection, which may never have had the message.
		if s.nc.Stats().Reconnects != before {
			return "", false, outbound.Fail(herald.ErrorKindNetwork, errLost)
		}
		// The server answers a publish it does not permit with an error
		// before the PONG, and otherwise drops it silently.
		if last := s.nc.LastError(); last != nil && last != lastBefore && natsDenied(last, msg.Subject) {
			return "", false, outbound.Fail(herald.ErrorKindAuth, last)
		}
		return natsAck, false, nil
	}
	pa, err := s.js.PublishMsg(pctx, msg, jetstream.WithExpectStream(stream), jetstream.WithMsgID(id))
	if err != nil {
		return fail(err)
	}
	ack = fmt.Sprintf("stream %s seq %d", pa.Stream, pa.Sequence)
	if pa.Duplicate {
		ack += " duplicate"
	}
	return ack, false, nil
}

// natsDenied reports whether err is the server's refusal to let this
// connection publish to subject.
func natsDenied(err error, subject string) bool {
	return errors.Is(err, nats.ErrPermissionViolation) &&
		strings.Contains(strings.ToLower(err.Error()), strings.ToLower(`publish to "`+subject+`"`))
}

// natsClip shortens a value quoted in an error.
func natsClip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func (c *natsClient) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.conn != nil {
		c.conn.nc.Close()
		c.conn = nil
	}
	return nil
}
