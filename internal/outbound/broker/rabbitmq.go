package broker

// RabbitMQ destinations (AMQP 0-9-1), with github.com/rabbitmq/amqp091-go.
//
// Where a message goes: destination.exchange (an existing exchange; Herald
// never declares it; empty is the default exchange) with
// destination.routing_key (a template; with the default exchange it names
// the queue). The broker is destination.url, amqp://host:5672/vhost or
// amqps://host:5671/vhost (TLS); credentials are user:password in the URL
// or destination.username/password (neither: the AMQP default guest/guest).
//
// What a consumer receives: the body exactly as the HTTP request would
// carry it, and these message properties:
//
//	delivery_mode  2 (persistent)
//	message_id     the webhook-id (the delivery id, the same on every attempt)
//	content_type   the content-type header
//	timestamp      the webhook-timestamp (seconds)
//	headers        a table with every header as a string, lower-case names:
//	               webhook-id, webhook-timestamp, webhook-signature,
//	               content-type and the endpoint's own headers
//
// A consumer verifies the Standard Webhooks signature from the headers
// table's webhook-id, webhook-timestamp and webhook-signature and the body.
//
// How the acknowledgement is recorded: messages are published mandatory on
// channels in confirm mode. A delivery succeeds only when the broker
// confirms the message (basic.ack) and did not return it; the history
// records "confirmed by exchange X (routing key K)". A negative
// confirmation (basic.nack), a message returned as unroutable (no queue
// bound for the routing key, although RabbitMQ confirms it too), or an
// exchange that does not exist fail as rejected; a refused login or a
// permission refused on the vhost or exchange fails as auth; no confirm
// before the attempt's deadline fails as timeout (so does a write the
// broker holds back, under a memory or disk alarm: the connection is cut
// and made again at the next publish); a vhost that does not exist, or a
// connection the broker refuses for another reason, fails as connect; a
// connection lost fails as network. Delivery is at least
// once: a message whose confirm was lost with the connection may have
// reached its queue, and its retry carries the same message_id.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/shape"
)

const (
	// rabbitChannels bounds the publishes in flight on one client, each on
	// its own channel, so that a confirm or a return is never mistaken for
	// another message's.
	rabbitChannels = 8
	// rabbitShortstr is AMQP's limit on names (exchange, routing key, vhost).
	rabbitShortstr = 255
	// rabbitDefaultTimeout bounds connecting when neither the context nor
	// Env.Timeout does.
	rabbitDefaultTimeout = 30 * time.Second
	// rabbitMaxHeartbeat bounds the heartbeat a URL may ask for, in
	// seconds (the client's default is 10).
	rabbitMaxHeartbeat = 60
)

var errRabbitClosed = errors.New("rabbitmq: client closed")

// RabbitMQ is the rabbitmq destination kind: messages published to an
// exchange of a RabbitMQ broker, with publisher confirms.
type RabbitMQ struct{}

// NewRabbitMQ returns the rabbitmq destination kind.
func NewRabbitMQ() outbound.Kind { return RabbitMQ{} }

// Name is herald.KindRabbitMQ.
func (RabbitMQ) Name() string { return herald.KindRabbitMQ }

func rabbitField(name, format string, args ...any) error {
	return &shape.FieldError{Field: "destination." + name, Msg: fmt.Sprintf(format, args...)}
}

// Check validates url, username/password, exchange and routing_key and
// refuses the fields of other kinds.
func (RabbitMQ) Check(d *herald.Destination) error {
	if d == nil {
		return rabbitField("url", "url is required (amqp://host:5672/vhost)")
	}
	if err := refuseOthers(d, herald.KindRabbitMQ, "url", "username", "password", "exchange", "routing_key"); err != nil {
		return err
	}
	u, err := rabbitParseURL(d.URL)
	if err != nil {
		return err
	}
	if u.User != nil && (d.Username != "" || d.Password != "") {
		name := "username"
		if d.Username == "" {
			name = "password"
		}
		return rabbitField(name, "%s cannot be set when url carries credentials: give them in one place", name)
	}
	if d.Password != "" && d.Username == "" {
		return rabbitField("username", "username is required with password")
	}
	if err := rabbitCheckName("username", d.Username); err != nil {
		return err
	}
	if strings.Contains(d.Exchange, "{{") || strings.Contains(d.Exchange, "#{") {
		return rabbitField("exchange", "exchange is not a template: give the exchange's name")
	}
	if err := rabbitCheckName("exchange", d.Exchange); err != nil {
		return err
	}
	if d.RoutingKey == "" && d.Exchange == "" {
		return rabbitField("routing_key", "routing_key is required with the default exchange (empty exchange), where it names the queue")
	}
	if !strings.Contains(d.RoutingKey, "{{") && !strings.Contains(d.RoutingKey, "#{") {
		if err := rabbitCheckName("routing_key", d.RoutingKey); err != nil {
			return err
		}
	} else if !utf8.ValidString(d.RoutingKey) {
		return rabbitField("routing_key", "routing_key is not valid UTF-8")
	}
	return nil
}

// rabbitCheckName checks an AMQP short string: at most 255 bytes of UTF-8
// without control characters.
func rabbitCheckName(field, s string) error {
	if len(s) > rabbitShortstr {
		return rabbitField(field, "%s is longer than %d bytes", field, rabbitShortstr)
	}
	if !utf8.ValidString(s) {
		return rabbitField(field, "%s is not valid UTF-8", field)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return rabbitField(field, "%s contains a control character", field)
	}
	return nil
}

// rabbitParseURL checks destination.url. It is stricter than the client's
// own parser: a host is required (not the client's localhost default), and
// query parameters other than heartbeat are refused, since certfile,
// keyfile and cacertfile would make Herald read files of its own host.
func rabbitParseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, rabbitField("url", "url is required (amqp://host:5672/vhost)")
	}
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return nil, rabbitField("url", "url contains white space or a control character")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error quotes the URL, password and all: keep only its
		// reason.
		msg := "url is not a valid URL"
		if ue, ok := errors.AsType[*url.Error](err); ok {
			msg += ": " + ue.Err.Error()
		}
		return nil, rabbitField("url", "%s", msg)
	}
	if u.Scheme != "amqp" && u.Scheme != "amqps" {
		return nil, rabbitField("url", "url must start with amqp:// or amqps://")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, rabbitField("url", "url needs a host: amqp://host:5672/vhost")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, rabbitField("url", "url's port must be between 1 and 65535")
		}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, rabbitField("url", "url cannot have a fragment (#)")
	}
	for k, vs := range u.Query() {
		if k != "heartbeat" {
			return nil, rabbitField("url", "url parameter %q is not supported (only heartbeat)", k)
		}
		// Heartbeats are how a connection the network dropped silently is
		// found lost and made again: they cannot be turned off.
		for _, v := range vs {
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > rabbitMaxHeartbeat {
				return nil, rabbitField("url", "url parameter heartbeat must be between 1 and %d seconds", rabbitMaxHeartbeat)
			}
		}
	}
	if vhost := strings.TrimPrefix(u.Path, "/"); len(vhost) > rabbitShortstr {
		return nil, rabbitField("url", "url's vhost is longer than %d bytes", rabbitShortstr)
	}
	if u.User != nil {
		if err := rabbitCheckName("url", u.User.Username()); err != nil {
			return nil, rabbitField("url", "url's user name is too long or has invalid characters")
		}
	}
	return u, nil
}

// Hosts returns the broker's host:port (5672 for amqp, 5671 for amqps).
func (RabbitMQ) Hosts(d *herald.Destination) []string {
	if d == nil {
		return nil
	}
	u, err := rabbitParseURL(d.URL)
	if err != nil {
		return nil
	}
	return []string{rabbitAddr(u)}
}

func rabbitAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "5672"
		if u.Scheme == "amqps" {
			port = "5671"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Open makes a client of the destination; it connects at the first
// Publish.
func (k RabbitMQ) Open(ctx context.Context, d *herald.Destination, env outbound.Env) (outbound.Client, error) {
	if err := k.Check(d); err != nil {
		return nil, err
	}
	if env.Dial == nil {
		return nil, errors.New("rabbitmq: no dialer")
	}
	u, _ := rabbitParseURL(d.URL)
	c := &rabbitClient{
		url:      d.URL,
		env:      env,
		exchange: d.Exchange,
		key:      d.RoutingKey,
		lock:     make(chan struct{}, 1),
		slots:    make(chan struct{}, rabbitChannels),
		idle:     make(chan *rabbitChannel, rabbitChannels),
		done:     make(chan struct{}),
	}
	if d.Username != "" {
		c.sasl = []amqp.Authentication{&amqp.PlainAuth{Username: d.Username, Password: d.Password}}
	}
	if u.Scheme == "amqps" {
		c.tls = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	}
	return c, nil
}

// rabbitClient is one AMQP connection, made at the first Publish and made
// again when it was lost, and up to rabbitChannels confirm-mode channels
// on it, each carrying one publish at a time.
type rabbitClient struct {
	url      string
	sasl     []amqp.Authentication
	tls      *tls.Config
	env      outbound.Env
	exchange string
	key      string

	// lock (a one-slot semaphore, so that waiting honours the context)
	// guards conn and raw and is held while connecting.
	lock chan struct{}
	conn *amqp.Connection
	raw  net.Conn

	// slots holds one token per publish in flight; idle holds the channels
	// between publishes. Both are bounded by rabbitChannels.
	slots chan struct{}
	idle  chan *rabbitChannel

	done      chan struct{}
	closeOnce sync.Once
}

// rabbitChannel is a channel in confirm mode with its listeners.
type rabbitChannel struct {
	conn    *amqp.Connection
	raw     net.Conn
	ch      *amqp.Channel
	returns chan amqp.Return
	closes  chan *amqp.Error
}

func (rc *rabbitChannel) alive() bool {
	return !rc.ch.IsClosed() && !rc.conn.IsClosed()
}

// discard closes the channel without waiting: its last publish's state is
// unknown (a confirm or return may still come), so it is not reused.
func (rc *rabbitChannel) discard() {
	go rc.ch.Close()
}

// Publish sends m to the exchange and waits for its publisher confirm.
func (c *rabbitClient) Publish(ctx context.Context, m *outbound.Message) (string, error) {
	select {
	case <-c.done:
		return "", errRabbitClosed
	default:
	}
	if m == nil {
		return "", errors.New("rabbitmq: no message")
	}
	exchange, key := c.exchange, c.key
	if m.Dest != nil {
		exchange, key = m.Dest.Exchange, m.Dest.RoutingKey
	}
	if len(key) > rabbitShortstr {
		return "", outbound.Fail(herald.ErrorKindRender, fmt.Errorf("rabbitmq: the routing key is longer than %d bytes once filled in", rabbitShortstr))
	}
	if key == "" && exchange == "" {
		return "", outbound.Fail(herald.ErrorKindRender, errors.New("rabbitmq: the routing key is empty once filled in, and the default exchange needs it to name the queue"))
	}
	pub := rabbitPublishing(m)

	select {
	case c.slots <- struct{}{}:
	case <-c.done:
		return "", errRabbitClosed
	case <-ctx.Done():
		return "", outbound.Fail(herald.ErrorKindTimeout, fmt.Errorf("rabbitmq: waiting for a free channel: %w", ctx.Err()))
	}
	defer func() { <-c.slots }()

	rc, err := c.channel(ctx)
	if err != nil {
		return "", err
	}
	ack, reuse, err := c.publishOn(ctx, rc, exchange, key, pub)
	if reuse {
		select {
		case c.idle <- rc:
		default:
			rc.discard()
		}
	} else {
		rc.discard()
	}
	return ack, err
}

func rabbitPublishing(m *outbound.Message) amqp.Publishing {
	headers := make(amqp.Table, len(m.Headers))
	pub := amqp.Publishing{
		DeliveryMode: amqp.Persistent,
		MessageId:    m.ID,
		Body:         m.Body,
		Headers:      headers,
	}
	for _, h := range m.Headers {
		name := strings.ToLower(h.Name)
		headers[name] = h.Value
		switch name {
		case "content-type":
			pub.ContentType = h.Value
		case "webhook-timestamp":
			if s, err := strconv.ParseInt(h.Value, 10, 64); err == nil {
				pub.Timestamp = time.Unix(s, 0)
			}
		case "webhook-id":
			if pub.MessageId == "" {
				pub.MessageId = h.Value
			}
		}
	}
	if pub.Timestamp.IsZero() {
		pub.Timestamp = time.Now()
	}
	return pub
}

// publishOn publishes on rc and waits for the confirm; reuse says whether
// rc is in a known state and may carry the next publish.
func (c *rabbitClient) publishOn(ctx context.Context, rc *rabbitChannel, exchange, key string, pub amqp.Publishing) (ack string, reuse bool, err error) {
	// A return still waiting is an earlier message's (one both returned
	// and nacked): it must not be taken for this one, a retry of which
	// carries the same message id.
	rabbitDrain(rc.returns)
	type sent struct {
		dc  *amqp.DeferredConfirmation
		err error
	}
	// The client's write is not bounded by a context and blocks while the
	// broker holds back publishers (a memory or disk alarm): it runs aside,
	// and a deadline cuts the connection's socket under it.
	res := make(chan sent, 1)
	go func() {
		dc, err := rc.ch.PublishWithDeferredConfirm(exchange, key, true, false, pub)
		res <- sent{dc, err}
	}()
	var s sent
	select {
	case s = <-res:
	case <-ctx.Done():
		rc.raw.Close()
		return "", false, outbound.Fail(herald.ErrorKindTimeout, fmt.Errorf("rabbitmq: sending the message: %w", ctx.Err()))
	}
	if s.err != nil {
		return "", false, rabbitChannelError(rc, s.err)
	}
	if s.dc == nil {
		return "", false, errors.New("rabbitmq: the channel is not in confirm mode")
	}
	select {
	case <-s.dc.Done():
	case <-ctx.Done():
		return "", false, outbound.Fail(herald.ErrorKindTimeout, fmt.Errorf("rabbitmq: no publisher confirm from the broker: %w", ctx.Err()))
	}
	if !s.dc.Acked() {
		// The channel's closing reason, if it closed, is delivered before
		// its pending confirms are failed.
		select {
		case e, ok := <-rc.closes:
			if ok && e != nil {
				return "", false, rabbitChannelError(rc, e)
			}
			return "", false, rabbitChannelError(rc, amqp.ErrClosed)
		default:
		}
		if !rc.alive() {
			return "", false, rabbitChannelError(rc, amqp.ErrClosed)
		}
		return "", true, outbound.Fail(herald.ErrorKindRejected, fmt.Errorf("rabbitmq: the broker did not confirm the message (nack) on %s", rabbitWhere(exchange, key)))
	}
	// A mandatory message that no queue took comes back before its
	// confirm, on the same channel: one waiting here is this message's.
returns:
	for {
		select {
		case r, ok := <-rc.returns:
			if !ok {
				break returns
			}
			if r.MessageId == pub.MessageId {
				return "", true, outbound.Fail(herald.ErrorKindRejected, fmt.Errorf("rabbitmq: the broker returned the message: %d %s (%s)", r.ReplyCode, r.ReplyText, rabbitWhere(exchange, key)))
			}
		default:
			break returns
		}
	}
	if exchange == "" {
		return fmt.Sprintf("confirmed by the default exchange (routing key %s)", key), true, nil
	}
	return fmt.Sprintf("confirmed by exchange %s (routing key %s)", exchange, key), true, nil
}

func rabbitDrain(returns chan amqp.Return) {
	for {
		select {
		case _, ok := <-returns:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

func rabbitWhere(exchange, key string) string {
	if exchange == "" {
		return fmt.Sprintf("default exchange, routing key %q", key)
	}
	return fmt.Sprintf("exchange %q, routing key %q", exchange, key)
}

// rabbitChannelError gives the error a channel failed with its kind: the
// broker closing the channel over this message (no such exchange, access
// refused) is rejected or auth; the connection going away is network.
func rabbitChannelError(rc *rabbitChannel, err error) error {
	if ae, ok := errors.AsType[*amqp.Error](err); ok && ae.Server && ae.Recover && !rc.conn.IsClosed() {
		err = fmt.Errorf("rabbitmq: the broker closed the channel: %w", err)
		if ae.Code == amqp.AccessRefused {
			return outbound.Fail(herald.ErrorKindAuth, err)
		}
		return outbound.Fail(herald.ErrorKindRejected, err)
	}
	if k := outbound.ErrorKindOf(err); k == herald.ErrorKindTimeout {
		return err
	}
	return outbound.Fail(herald.ErrorKindNetwork, fmt.Errorf("rabbitmq: the connection was lost: %w", err))
}

// channel returns an idle channel or opens one, connecting first when the
// connection is missing or lost.
func (c *rabbitClient) channel(ctx context.Context) (*rabbitChannel, error) {
idle:
	for {
		select {
		case rc := <-c.idle:
			if rc.alive() {
				return rc, nil
			}
			rc.discard()
		default:
			break idle
		}
	}
	// A connection found lost while opening the channel is made again
	// once: nothing was sent on it yet.
	for try := 0; ; try++ {
		conn, raw, err := c.connection(ctx)
		if err != nil {
			return nil, err
		}
		rc, err := c.openChannel(ctx, conn, raw)
		if err == nil {
			return rc, nil
		}
		if try == 0 && conn.IsClosed() && ctx.Err() == nil {
			continue
		}
		return nil, err
	}
}

// openChannel opens a channel in confirm mode. The client's calls are not
// bounded by a context: they run aside, and a channel that comes after
// the deadline is closed.
func (c *rabbitClient) openChannel(ctx context.Context, conn *amqp.Connection, raw net.Conn) (*rabbitChannel, error) {
	type opened struct {
		rc  *rabbitChannel
		err error
	}
	res := make(chan opened, 1)
	go func() {
		ch, err := conn.Channel()
		if err != nil {
			res <- opened{nil, err}
			return
		}
		rc := &rabbitChannel{
			conn:    conn,
			raw:     raw,
			ch:      ch,
			returns: ch.NotifyReturn(make(chan amqp.Return, 4)),
			closes:  ch.NotifyClose(make(chan *amqp.Error, 1)),
		}
		if err := ch.Confirm(false); err != nil {
			ch.Close()
			res <- opened{nil, err}
			return
		}
		res <- opened{rc, nil}
	}()
	select {
	case o := <-res:
		if o.err != nil {
			if conn.IsClosed() {
				return nil, outbound.Fail(herald.ErrorKindNetwork, fmt.Errorf("rabbitmq: opening a channel: %w", o.err))
			}
			return nil, fmt.Errorf("rabbitmq: opening a channel: %w", o.err)
		}
		return o.rc, nil
	case <-ctx.Done():
		go func() {
			if o := <-res; o.rc != nil {
				o.rc.ch.Close()
			}
		}()
		return nil, outbound.Fail(herald.ErrorKindTimeout, fmt.Errorf("rabbitmq: opening a channel: %w", ctx.Err()))
	}
}

// connection returns the open connection, or makes one.
func (c *rabbitClient) connection(ctx context.Context) (*amqp.Connection, net.Conn, error) {
	select {
	case c.lock <- struct{}{}:
	case <-c.done:
		return nil, nil, errRabbitClosed
	case <-ctx.Done():
		return nil, nil, outbound.Fail(herald.ErrorKindTimeout, fmt.Errorf("rabbitmq: waiting to connect: %w", ctx.Err()))
	}
	defer func() { <-c.lock }()
	select {
	case <-c.done:
		return nil, nil, errRabbitClosed
	default:
	}
	if c.conn != nil && !c.conn.IsClosed() {
		return c.conn, c.raw, nil
	}
	if c.raw != nil {
		c.raw.Close()
		c.conn, c.raw = nil, nil
	}
	conn, raw, err := c.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	c.conn, c.raw = conn, raw
	return conn, raw, nil
}

// rabbitConn remembers whether a read timed out, so that the handshake's
// deadline passing is not taken for a refused login (the client reports
// any failure at that step as bad credentials).
type rabbitConn struct {
	net.Conn
	mu       sync.Mutex
	timedOut bool
}

func (rc *rabbitConn) Read(p []byte) (int, error) {
	n, err := rc.Conn.Read(p)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			rc.mu.Lock()
			rc.timedOut = true
			rc.mu.Unlock()
		}
	}
	return n, err
}

func (rc *rabbitConn) didTimeOut() bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.timedOut
}

// dial connects through env.Dial and logs in, within env.Timeout and ctx.
func (c *rabbitClient) dial(ctx context.Context) (*amqp.Connection, net.Conn, error) {
	timeout := c.env.Timeout
	if timeout <= 0 {
		timeout = rabbitDefaultTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := dctx.Deadline()

	var made atomic.Pointer[rabbitConn]
	cfg := amqp.Config{
		SASL:            c.sasl,
		TLSClientConfig: c.tls,
		Dial: func(network, addr string) (net.Conn, error) {
			conn, err := c.env.Dial(dctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The handshake is bounded by the connection's deadline, which
			// the client clears once it is done.
			if err := conn.SetDeadline(deadline); err != nil {
				conn.Close()
				return nil, err
			}
			raw := &rabbitConn{Conn: conn}
			made.Store(raw)
			return raw, nil
		},
	}
	if c.tls != nil {
		cfg.TLSClientConfig = c.tls.Clone()
	}
	// A context ended early (not by its deadline) cuts the handshake short.
	stop := context.AfterFunc(dctx, func() {
		if raw := made.Load(); raw != nil {
			raw.SetDeadline(time.Now())
		}
	})
	conn, err := amqp.DialConfig(c.url, cfg)
	stopped := stop()
	if err == nil && !stopped {
		conn.Close()
		made.Load().Close()
		err = dctx.Err()
	}
	raw := made.Load()
	if err != nil {
		return nil, nil, rabbitDialError(dctx, err, raw)
	}
	return conn, raw, nil
}

// rabbitDialError gives a failed connection its error kind: auth when the
// broker refused the login or the vhost, connect when no AMQP connection
// could be made, timeout past the deadline.
func rabbitDialError(ctx context.Context, err error, raw *rabbitConn) error {
	timedOut := ctx.Err() != nil || (raw != nil && raw.didTimeOut())
	err = fmt.Errorf("rabbitmq: connecting: %w", err)
	if ae, ok := errors.AsType[*amqp.Error](err); ok {
		switch {
		case timedOut:
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", err, ctx.Err())
			}
			return outbound.Fail(herald.ErrorKindTimeout, err)
		case ae.Code == amqp.AccessRefused,
			ae.Code == amqp.NotAllowed && strings.Contains(strings.ToLower(ae.Reason), "refused"):
			return outbound.Fail(herald.ErrorKindAuth, err)
		default:
			return outbound.Fail(herald.ErrorKindConnect, err)
		}
	}
	switch k := outbound.ErrorKindOf(err); k {
	case herald.ErrorKindNetwork:
		// The connection was made but the AMQP handshake failed.
		return outbound.Fail(herald.ErrorKindConnect, err)
	default:
		return err
	}
}

// Close closes the connection; a later Publish fails.
func (c *rabbitClient) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.lock <- struct{}{}
		conn, raw := c.conn, c.raw
		c.conn, c.raw = nil, nil
		<-c.lock
		if conn != nil {
			timeout := c.env.Timeout
			if timeout <= 0 {
				timeout = rabbitDefaultTimeout
			}
			conn.CloseDeadline(time.Now().Add(timeout))
			raw.Close()
		}
	idle:
		for {
			select {
			case rc := <-c.idle:
				rc.discard()
			default:
				break idle
			}
		}
	})
	return nil
}
