package broker

// Redis Streams destinations (kind "redis").
//
// Each delivery is one XADD to the stream destination.stream (a template)
// on the server of destination.url (redis://host:6379/0, rediss:// for
// TLS; the path is the database number), with an entry id chosen by the
// server ("*"). When destination.max_len is above 0 the XADD carries
// MAXLEN ~ max_len, so Redis trims the stream to about that many entries.
//
// The entry's fields, in this order, all values as strings:
//
//	webhook-id          the delivery id, the same on every attempt
//	webhook-timestamp   Standard Webhooks timestamp (Unix seconds)
//	webhook-signature   Standard Webhooks signature ("v1,<base64>" ...)
//	content-type        the payload's media type
//	<header>            each of the endpoint's own headers, by its
//	                    lower-case name, in the endpoint's order
//	body                the payload, byte for byte
//
// A field whose header the delivery lacks is left out (webhook-id never
// is: it falls back to the delivery id). A custom header named body, webhook-id, webhook-timestamp,
// webhook-signature or content-type is skipped, so that it can never stand
// in for those fields; a header repeated under the same name keeps its
// first value only (XRANGE readers often read the fields into a map). A
// consumer verifies the signature over webhook-id, webhook-timestamp and
// body exactly as for an HTTP delivery.
//
// The URL names one server: Redis Cluster and Sentinel are not followed
// (a MOVED or READONLY answer fails the attempt as rejected).
//
// The delivery counts once XADD answered with the new entry's id; the
// attempt's history records it as "entry <id>" ("entry 1733340000000-0").
// A Publish sends at most one XADD (the client does not retry on its own;
// Herald's retry schedule does). If the connection breaks after Redis ran
// the XADD but before its answer came back, the attempt fails yet the
// entry exists, and the retry adds it again: delivery is at least once,
// and consumers drop duplicates by webhook-id.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

const (
	redisDefaultPort = "6379"
	// redisPoolSize bounds the connections one destination holds; a
	// delivery beyond it waits for a free one within its context.
	redisPoolSize = 4
	// redisMaxStreamKey bounds the stream key, fixed or rendered.
	redisMaxStreamKey = 1024
	// redisDefaultTimeout bounds a command when neither the context nor
	// the environment does.
	redisDefaultTimeout = 10 * time.Second
)

// redisReserved are the entry fields Herald writes itself; a custom header
// of one of these names is skipped.
var redisReserved = map[string]bool{
	"webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
	"content-type": true, "body": true,
}

// Redis returns the kind that appends deliveries to a Redis stream.
func Redis() outbound.Kind {
	// go-redis reports failed dials to a process-wide logger on stderr:
	// a tenant's broker address and error do not belong in Herald's log,
	// and the attempt records them already.
	redisQuiet.Do(func() { redis.SetLogger(redisNoLog{}) })
	return redisKind{}
}

var redisQuiet sync.Once

// redisNoLog discards go-redis's own log lines.
type redisNoLog struct{}

func (redisNoLog) Printf(context.Context, string, ...any) {}

type redisKind struct{}

func (redisKind) Name() string { return herald.KindRedis }

// redisAddr is what a destination URL says, once checked.
type redisAddr struct {
	host, port         string
	tls                bool
	db                 int
	username, password string
	hasCreds           bool
}

func redisField(name, format string, args ...any) error {
	return &shape.FieldError{Field: "destination." + name, Msg: fmt.Sprintf(format, args...)}
}

// parseRedisURL checks a destination URL; errors name destination.url.
func parseRedisURL(raw string) (*redisAddr, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, redisField("url", "url is required for redis destinations (redis://host:6379/0)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the URL, which may carry a password.
		return nil, redisField("url", "url is not a valid URL")
	}
	a := &redisAddr{}
	switch u.Scheme {
	case "redis":
	case "rediss":
		a.tls = true
	default:
		return nil, redisField("url", "url must start with redis:// or rediss://")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, redisField("url", "url has no host (redis://host:6379/0)")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, redisField("url", "url takes no query or fragment: only redis://[user:password@]host[:port][/db]")
	}
	a.host, a.port = u.Hostname(), u.Port()
	if a.port == "" {
		a.port = redisDefaultPort
	}
	if p, err := strconv.Atoi(a.port); err != nil || p < 1 || p > 65535 {
		return nil, redisField("url", "url has an invalid port")
	}
	switch path := strings.TrimPrefix(u.Path, "/"); {
	case path == "":
	default:
		db, err := strconv.Atoi(path)
		if err != nil || db < 0 || db > math.MaxInt32 || strings.HasPrefix(path, "+") {
			return nil, redisField("url", "the url's path is the database number (redis://host:6379/0)")
		}
		a.db = db
	}
	if u.User != nil {
		a.hasCreds = true
		a.username = u.User.Username()
		p, ok := u.User.Password()
		if !ok || p == "" {
			return nil, redisField("url", "url has a user name but no password (redis://user:password@host or redis://:password@host)")
		}
		a.password = p
	}
	return a, nil
}

func (redisKind) Check(d *herald.Destination) error {
	if d == nil {
		return redisField("url", "url is required for redis destinations (redis://host:6379/0)")
	}
	a, err := parseRedisURL(d.URL)
	if err != nil {
		return err
	}
	if a.hasCreds && (d.Username != "" || d.Password != "") {
		f := "username"
		if d.Password != "" {
			f = "password"
		}
		return redisField(f, "%s cannot be set when the url carries credentials", f)
	}
	if d.Username != "" && d.Password == "" {
		return redisField("password", "password is required with username")
	}
	if err := checkRedisStream(d.Stream); err != nil {
		return err
	}
	if d.MaxLen < 0 {
		return redisField("max_len", "max_len must be 0 (never trimmed) or more")
	}
	return refuseOthers(d, herald.KindRedis, "url", "username", "password", "stream", "max_len")
}

// checkRedisStream checks the stream key, a template: only its fixed
// parts when it has tags. Redis keys are binary-safe, so the only rules
// are that it is there and bounded.
func checkRedisStream(s string) error {
	if s == "" {
		return redisField("stream", "stream is required for redis destinations")
	}
	if len(s) > redisMaxStreamKey {
		return redisField("stream", "stream is longer than %d bytes", redisMaxStreamKey)
	}
	if strings.Contains(s, "{{") || strings.Contains(s, "#{") {
		return nil
	}
	if strings.TrimSpace(s) == "" {
		return redisField("stream", "stream is blank")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return redisField("stream", "stream contains a control character")
		}
	}
	return nil
}

func (redisKind) Hosts(d *herald.Destination) []string {
	if d == nil {
		return nil
	}
	a, err := parseRedisURL(d.URL)
	if err != nil {
		return nil
	}
	return []string{net.JoinHostPort(a.host, a.port)}
}

func (k redisKind) Open(ctx context.Context, d *herald.Destination, env outbound.Env) (outbound.Client, error) {
	if err := k.Check(d); err != nil {
		return nil, err
	}
	if env.Dial == nil {
		return nil, errors.New("redis: no dialer")
	}
	a, _ := parseRedisURL(d.URL)
	user, pass := a.username, a.password
	if !a.hasCreds {
		user, pass = d.Username, d.Password
	}
	timeout := env.Timeout
	if timeout <= 0 {
		timeout = redisDefaultTimeout
	}
	addr := net.JoinHostPort(a.host, a.port)
	var tlsConf *tls.Config
	if a.tls {
		tlsConf = &tls.Config{ServerName: a.host, MinVersion: tls.VersionTLS12, RootCAs: redisTestRoots}
	}
	dial := env.Dial
	opt := &redis.Options{
		Addr:     addr,
		Protocol: 2,
		// The login and the database are sent by OnConnect rather than
		// by the client's HELLO: HELLO's AUTH takes any password where
		// none is configured, so a password the server does not expect
		// would pass unnoticed; AUTH tells it.
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			if pass != "" {
				var err error
				if user != "" {
					err = cn.AuthACL(ctx, user, pass).Err()
				} else {
					err = cn.Auth(ctx, pass).Err()
				}
				if err != nil {
					return err
				}
			}
			if db := a.db; db > 0 {
				return cn.Select(ctx, db).Err()
			}
			return nil
		},
		// Every connection goes through env.Dial (the destination
		// policy); TLS is laid on it here rather than by the client's
		// own dialer, which would dial by itself.
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if tlsConf == nil {
				return newRedisReplyConn(c), nil
			}
			tc := tls.Client(c, tlsConf)
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return newRedisReplyConn(tc), nil
		},
		DialTimeout: timeout,
		// One dial per attempt and no command retries: Herald retries the
		// delivery on its schedule, and a retried XADD may add twice.
		DialerRetries:         1,
		MaxRetries:            -1,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		ContextTimeoutEnabled: true,
		PoolSize:              redisPoolSize,
		MaxActiveConns:        redisPoolSize,
		MaxIdleConns:          redisPoolSize,
		PipelinePoolSize:      -1,
		PoolTimeout:           timeout,
		ConnMaxIdleTime:       5 * time.Minute,
		ReadBufferSize:        4096,
		WriteBufferSize:       4096,
		DisableIdentity:       true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
	return &redisClient{rdb: redis.NewClient(opt), dest: d}, nil
}

// redisTestRoots replaces the system's roots for rediss in tests; nil in
// Herald.
var redisTestRoots *x509.CertPool

type redisClient struct {
	rdb    *redis.Client
	dest   *herald.Destination
	closed atomic.Bool
}

var errRedisClosed = errors.New("redis: the client is closed")

func (c *redisClient) Publish(ctx context.Context, m *outbound.Message) (string, error) {
	if c.closed.Load() {
		return "", errRedisClosed
	}
	if m == nil {
		return "", errors.New("redis: no message")
	}
	d := m.Dest
	if d == nil {
		d = c.dest
	}
	stream := d.Stream
	if stream == "" || len(stream) > redisMaxStreamKey {
		return "", outbound.Fail(herald.ErrorKindRender, fmt.Errorf("redis: the stream key is empty or longer than %d bytes", redisMaxStreamKey))
	}
	if m.Dest == nil && (strings.Contains(stream, "{{") || strings.Contains(stream, "#{")) {
		// Tags left in would put every delivery in one literal key.
		return "", outbound.Fail(herald.ErrorKindRender, errors.New("redis: the stream key's template was not filled in"))
	}
	args := &redis.XAddArgs{Stream: stream, ID: "*", Values: redisFields(m)}
	if d.MaxLen > 0 {
		args.MaxLen, args.Approx = d.MaxLen, true
	}
	id, err := c.rdb.XAdd(ctx, args).Result()
	if err != nil {
		if c.closed.Load() {
			return "", errRedisClosed
		}
		return "", redisFail(err)
	}
	if id == "" {
		return "", outbound.Fail(herald.ErrorKindRejected, errors.New("redis: XADD answered no entry id"))
	}
	return "entry " + id, nil
}

// redisFields lays the message out as the entry's fields (see the top of
// this file).
func redisFields(m *outbound.Message) []any {
	get := func(name string) (string, bool) {
		for _, h := range m.Headers {
			if strings.EqualFold(h.Name, name) {
				return h.Value, true
			}
		}
		return "", false
	}
	vals := make([]any, 0, 2*(len(m.Headers)+2))
	id, ok := get("webhook-id")
	if !ok {
		id = m.ID
	}
	vals = append(vals, "webhook-id", id)
	for _, name := range []string{"webhook-timestamp", "webhook-signature", "content-type"} {
		if v, ok := get(name); ok {
			vals = append(vals, name, v)
		}
	}
	seen := map[string]bool{}
	for _, h := range m.Headers {
		name := strings.ToLower(h.Name)
		if name == "" || redisReserved[name] || seen[name] {
			continue
		}
		seen[name] = true
		vals = append(vals, name, h.Value)
	}
	// A string, not []byte: go-redis writes both as a bulk string, and a
	// string keeps the body from being aliased while queued.
	return append(vals, "body", string(m.Body))
}

// redisFail gives an XADD error its error kind: a server's refusal of the
// login is auth, any other server error reply (WRONGTYPE, OOM, READONLY,
// ...) is the message rejected; a pool wait that ran out is a timeout;
// connection errors keep the kind of what they wrap.
func redisFail(err error) error {
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		upper := strings.ToUpper(msg)
		switch {
		case strings.HasPrefix(upper, "WRONGPASS"), strings.HasPrefix(upper, "NOAUTH"),
			strings.HasPrefix(upper, "NOPERM"),
			// Before a login, Redis refuses long commands this way.
			strings.Contains(upper, "UNAUTHENTICATED"),
			strings.Contains(upper, "INVALID PASSWORD"),
			strings.Contains(upper, "WITHOUT ANY PASSWORD CONFIGURED"),
			strings.Contains(upper, "INVALID USERNAME-PASSWORD"):
			return outbound.Fail(herald.ErrorKindAuth, err)
		}
		return outbound.Fail(herald.ErrorKindRejected, err)
	}
	if errors.Is(err, redis.ErrPoolTimeout) {
		return outbound.Fail(herald.ErrorKindTimeout, err)
	}
	return err
}

func (c *redisClient) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	err := c.rdb.Close()
	if errors.Is(err, redis.ErrClosed) {
		return nil
	}
	return err
}

// A destination's server is the tenant's choice, and the client allocates
// what a reply header announces before reading it; redisReplyConn reads
// the replies' headers as they pass and cuts the connection at one larger
// than Herald ever needs (XADD answers an id of a few dozen bytes).
const (
	redisMaxBulk      = 64 << 10
	redisMaxAggregate = 1024
	redisMaxHeader    = 24
)

var errRedisReplyTooLarge = errors.New("redis: the server's reply is larger than Herald accepts")

// redisReplyConn checks RESP2/RESP3 reply framing on reads.
type redisReplyConn struct {
	net.Conn
	state int  // redisAtType, redisInLine, redisInLength or redisInBulk
	kind  byte // the type byte of the header being read
	num   []byte
	skip  int64 // bulk bytes (and CRLF) left to pass over
	err   error
}

// redisReplySysConn keeps the client's liveness check (which needs the
// socket) working on a plain TCP connection.
type redisReplySysConn struct{ *redisReplyConn }

func (c redisReplySysConn) SyscallConn() (syscall.RawConn, error) {
	return c.redisReplyConn.Conn.(syscall.Conn).SyscallConn()
}

const (
	redisAtType = iota
	redisInLine
	redisInLength
	redisInBulk
)

func newRedisReplyConn(c net.Conn) net.Conn {
	rc := &redisReplyConn{Conn: c}
	if _, ok := c.(syscall.Conn); ok {
		return redisReplySysConn{rc}
	}
	return rc
}

func (c *redisReplyConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	if cerr := c.scan(p[:n]); cerr != nil {
		c.err = cerr
		c.Conn.Close()
		return 0, cerr
	}
	return n, err
}

func (c *redisReplyConn) scan(b []byte) error {
	for i := 0; i < len(b); i++ {
		switch c.state {
		case redisAtType:
			c.kind = b[i]
			switch c.kind {
			case '+', '-', ':', ',', '#', '_', '(':
				c.state = redisInLine
			case '$', '=', '!', '*', '%', '~', '>', '|':
				c.state, c.num = redisInLength, c.num[:0]
			default:
				return fmt.Errorf("redis: unexpected reply type %q", c.kind)
			}
		case redisInLine:
			// Simple lines are bounded by the client's read buffer.
			if b[i] == '\n' {
				c.state = redisAtType
			}
		case redisInLength:
			if b[i] != '\n' {
				if len(c.num) >= redisMaxHeader {
					return errRedisReplyTooLarge
				}
				c.num = append(c.num, b[i])
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSuffix(string(c.num), "\r"), 10, 64)
			if err != nil {
				return fmt.Errorf("redis: unexpected reply length %q", c.num)
			}
			c.state = redisAtType
			switch c.kind {
			case '$', '=', '!':
				if n > redisMaxBulk {
					return errRedisReplyTooLarge
				}
				if n >= 0 {
					c.state, c.skip = redisInBulk, n+2
				}
			default:
				if n > redisMaxAggregate {
					return errRedisReplyTooLarge
				}
			}
		case redisInBulk:
			k := min(int64(len(b)-i), c.skip)
			c.skip -= k
			i += int(k) - 1
			if c.skip == 0 {
				c.state = redisAtType
			}
		}
	}
	return nil
}
