package broker

// MQTT destinations (kind "mqtt"): each delivery is one MQTT 5 PUBLISH at
// QoS 1 to destination.topic (its tags filled in) on the broker at
// destination.url. MQTT 5 is required: a 3.1.1-only broker refuses the
// CONNECT (CONNACK 0x84, error kind connect).
//
// What a consumer receives:
//   - the payload is the body, byte for byte (the body the endpoint's HTTP
//     request would carry);
//   - every header is one MQTT 5 user property, named exactly as the HTTP
//     header, lower case, in the order Herald sets them: webhook-id,
//     webhook-timestamp, webhook-signature (Standard Webhooks),
//     content-type, and the endpoint's own headers;
//   - content-type is also the PUBLISH's Content Type property;
//   - the message is not retained and carries no expiry.
//
// A consumer verifies the Standard Webhooks signature over
// "<webhook-id>.<webhook-timestamp>.<payload>" as for HTTP, reading the
// three values from the user properties, and drops duplicates by
// webhook-id: delivery is at least once (a PUBLISH whose PUBACK was lost
// with the connection is sent again, by the retry, or within the same
// attempt when the pooled connection turns out to have died while idle).
//
// Acknowledgement: a delivery succeeds only on the broker's PUBACK with a
// reason code below 0x80; the history records "PUBACK (reason 0x00)", or
// "PUBACK (reason 0x10)" when the broker says no one subscribes to the
// topic (a success: the broker took the message). A PUBACK of 0x80 or
// more is error kind rejected, with the code and the broker's reason (an
// ACL refusing the topic: 0x87). A CONNACK refusing the login (0x86 bad
// user name or password, 0x87 not authorized, which Mosquitto 2.0 sends
// for a wrong password too, 0x8A banned, 0x8C bad authentication method)
// is auth; other CONNACK refusals are connect. No PUBACK before the
// delivery's timeout is timeout (the message may still have arrived; the
// next publish opens a new connection); a connection lost before the
// PUBACK is network; a broker that cannot be reached is connect; a
// message larger than the broker's Maximum Packet Size is rejected
// before it is sent.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/shape"
)

const (
	mqttDefaultPort    = "1883"
	mqttDefaultTLSPort = "8883"
	// mqttKeepAlive makes the broker and the client notice a dead pooled
	// connection while it sits idle.
	mqttKeepAlive = 30
	// mqttPacketTimeout is only a backstop: the delivery's context bounds
	// a publish, env.Timeout bounds connecting.
	mqttPacketTimeout = 2 * time.Minute
	// mqttDefaultConnectTimeout applies when env.Timeout is zero.
	mqttDefaultConnectTimeout = 10 * time.Second
	// mqttMaxString is the longest string MQTT encodes (a two-byte length).
	mqttMaxString = 65535
	// mqttMaxInbound bounds a packet from the broker (CONNACK, PUBACK,
	// DISCONNECT: small ones; Herald subscribes to nothing). paho would
	// allocate whatever length a packet's header claims, up to 256 MiB.
	mqttMaxInbound = 256 << 10
	// mqttReceiveMaximum is what Herald tells the broker it takes in
	// flight; paho sizes a queue by it (65535 when unsaid).
	mqttReceiveMaximum = 16
)

var (
	errMQTTClosed   = errors.New("mqtt: the client is closed")
	errMQTTConnLost = errors.New("mqtt: the connection to the broker was lost before the PUBACK")
)

// MQTT is the mqtt destination kind (MQTT 5, QoS 1).
func MQTT() outbound.Kind { return mqttKind{} }

type mqttKind struct{}

func (mqttKind) Name() string { return herald.KindMQTT }

func (mqttKind) Check(d *herald.Destination) error {
	if d == nil {
		return &shape.FieldError{Field: "destination", Msg: "destination is required for mqtt endpoints"}
	}
	if err := refuseOthers(d, herald.KindMQTT, "url", "username", "password", "topic"); err != nil {
		return err
	}
	u, err := mqttParseURL(d.URL)
	if err != nil {
		return err
	}
	if u.User != nil && u.User.Username() != "" && d.Username != "" {
		return &shape.FieldError{Field: "destination.username", Msg: "username is set both in url and in username; use one"}
	}
	if _, ok := u.User.Password(); ok && d.Password != "" {
		return &shape.FieldError{Field: "destination.password", Msg: "password is set both in url and in password; use one"}
	}
	for _, f := range []struct{ name, v string }{{"username", d.Username}, {"password", d.Password}} {
		if len(f.v) > mqttMaxString {
			return &shape.FieldError{Field: "destination." + f.name, Msg: fmt.Sprintf("%s is longer than MQTT's %d bytes", f.name, mqttMaxString)}
		}
	}
	if d.Username != "" && !mqttValidString(d.Username) {
		return &shape.FieldError{Field: "destination.username", Msg: "username must be UTF-8 without NUL characters"}
	}
	if d.Topic == "" {
		return &shape.FieldError{Field: "destination.topic", Msg: "topic is required for mqtt destinations"}
	}
	if strings.Contains(d.Topic, "{{") || strings.Contains(d.Topic, "#{") {
		// A template: its fixed parts cannot be told from its tags here;
		// the topic is checked again once filled in, at each delivery.
		if len(d.Topic) > mqttMaxString || !mqttValidString(d.Topic) {
			return &shape.FieldError{Field: "destination.topic", Msg: "topic must be UTF-8 without NUL characters, at most 65535 bytes"}
		}
		return nil
	}
	if msg := mqttTopicProblem(d.Topic); msg != "" {
		return &shape.FieldError{Field: "destination.topic", Msg: msg}
	}
	return nil
}

func (mqttKind) Hosts(d *herald.Destination) []string {
	if d == nil {
		return nil
	}
	u, err := mqttParseURL(d.URL)
	if err != nil {
		return nil
	}
	return []string{mqttAddr(u)}
}

func (k mqttKind) Open(ctx context.Context, d *herald.Destination, env outbound.Env) (outbound.Client, error) {
	if err := k.Check(d); err != nil {
		return nil, err
	}
	if env.Dial == nil {
		return nil, errors.New("mqtt: no dialer")
	}
	u, _ := mqttParseURL(d.URL)
	c := &mqttClient{
		dest:     *d,
		addr:     mqttAddr(u),
		tls:      u.Scheme == "mqtts",
		host:     u.Hostname(),
		username: d.Username,
		password: d.Password,
		env:      env,
		dialing:  make(chan struct{}, 1),
	}
	if u.User != nil {
		if name := u.User.Username(); name != "" {
			c.username = name
		}
		if pw, ok := u.User.Password(); ok {
			c.password = pw
		}
	}
	return c, nil
}

// mqttParseURL checks destination.url: mqtt:// or mqtts://, a host, a
// port in range, nothing after the authority.
func mqttParseURL(raw string) (*url.URL, error) {
	bad := func(msg string) error { return &shape.FieldError{Field: "destination.url", Msg: msg} }
	if raw == "" {
		return nil, bad("url is required for mqtt destinations (mqtt://host:1883 or mqtts://host:8883)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's message may quote the password: say only what is wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, bad("url is not a valid URL: " + err.Error())
	}
	if u.Scheme != "mqtt" && u.Scheme != "mqtts" {
		return nil, bad("url must start with mqtt:// or mqtts://")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, bad("url has no host (mqtt://host:1883)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, bad("url's port must be between 1 and 65535")
		}
	}
	if u.Path != "" && u.Path != "/" {
		return nil, bad("url must not have a path: the topic is destination.topic")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, bad("url must not have a query or a fragment")
	}
	if u.User != nil && len(u.User.String()) > 2*mqttMaxString {
		return nil, bad("url's credentials are too long for MQTT")
	}
	return u, nil
}

// mqttAddr is the host:port to dial, the scheme's default port filled in.
func mqttAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = mqttDefaultPort
		if u.Scheme == "mqtts" {
			port = mqttDefaultTLSPort
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// mqttTopicProblem says what makes topic unusable as a PUBLISH topic
// name, or "" when nothing does.
func mqttTopicProblem(topic string) string {
	switch {
	case topic == "":
		return "topic is empty"
	case len(topic) > mqttMaxString:
		return fmt.Sprintf("topic is longer than MQTT's %d bytes", mqttMaxString)
	case !mqttValidString(topic):
		return "topic must be UTF-8 without NUL characters"
	case strings.ContainsAny(topic, "+#"):
		return "topic must not contain the wildcards + or #: a message is published to one topic"
	case strings.HasPrefix(topic, "$"):
		return "topic must not start with $ (reserved for the broker's own topics)"
	}
	return ""
}

// mqttClip shortens a reason string the broker sent, for the history.
func mqttClip(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

func mqttValidString(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// mqttClient publishes to one MQTT destination over one connection at a
// time, made at the first Publish and made again by a later Publish once
// it is lost.
type mqttClient struct {
	dest               herald.Destination
	addr, host         string
	tls                bool
	username, password string
	env                outbound.Env

	// dialing is held by the one goroutine that connects, so that
	// concurrent publishes share one new connection; a channel, so that a
	// publish waiting for it can give up when its context ends.
	dialing chan struct{}

	mu     sync.Mutex
	cur    *mqttConn
	closed bool
}

// mqttConn is one MQTT session: a paho client over one net.Conn.
type mqttConn struct {
	pc   *paho.Client
	raw  net.Conn
	lost context.Context // ends when the connection is gone
	// maxPacket is the broker's Maximum Packet Size; 0: none said.
	maxPacket uint32

	mu         sync.Mutex
	disconnect *paho.Disconnect // the broker's DISCONNECT, if it sent one
}

func (cc *mqttConn) alive() bool { return cc.lost.Err() == nil }

// close says goodbye to the broker (a clean DISCONNECT, so that it does
// not publish a will or count an error) and waits for paho's goroutines.
func (cc *mqttConn) close() {
	_ = cc.raw.SetWriteDeadline(time.Now().Add(time.Second))
	_ = cc.pc.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

// lostErr is the error of a publish whose connection was lost.
func (cc *mqttConn) lostErr() error {
	cc.mu.Lock()
	d := cc.disconnect
	cc.mu.Unlock()
	if d == nil {
		return outbound.Fail(herald.ErrorKindNetwork, errMQTTConnLost)
	}
	reason := ""
	if d.Properties != nil && d.Properties.ReasonString != "" {
		reason = ": " + mqttClip(d.Properties.ReasonString)
	}
	return outbound.Fail(herald.ErrorKindNetwork, fmt.Errorf("%w (the broker sent DISCONNECT, reason 0x%02x%s)", errMQTTConnLost, d.ReasonCode, reason))
}

func (c *mqttClient) Publish(ctx context.Context, m *outbound.Message) (string, error) {
	if m == nil {
		return "", errors.New("mqtt: no message")
	}
	topic := c.dest.Topic
	if m.Dest != nil {
		topic = m.Dest.Topic
	}
	if msg := mqttTopicProblem(topic); msg != "" {
		return "", outbound.Fail(herald.ErrorKindRender, &shape.RenderError{Field: "destination.topic", Err: fmt.Errorf("after filling in its tags, %s", msg)})
	}
	props := &paho.PublishProperties{User: make(paho.UserProperties, 0, len(m.Headers))}
	for _, h := range m.Headers {
		if !mqttValidString(h.Name) || !mqttValidString(h.Value) || len(h.Name) > mqttMaxString || len(h.Value) > mqttMaxString {
			return "", outbound.Fail(herald.ErrorKindRender, &shape.RenderError{Field: "headers", Err: fmt.Errorf("header %q cannot be an MQTT user property (UTF-8 without NUL, at most 65535 bytes)", h.Name)})
		}
		props.User.Add(h.Name, h.Value)
		if h.Name == "content-type" && props.ContentType == "" {
			props.ContentType = h.Value
		}
	}
	size := mqttPacketSize(topic, props, len(m.Body))

	for attempt := 0; ; attempt++ {
		cc, fresh, err := c.conn(ctx)
		if err != nil {
			return "", err
		}
		if cc.maxPacket != 0 && size > int(cc.maxPacket) {
			return "", outbound.Fail(herald.ErrorKindRejected, fmt.Errorf("mqtt: the message is %d bytes, more than the broker's maximum packet size of %d", size, cc.maxPacket))
		}
		ack, err := c.publishOn(ctx, cc, &paho.Publish{QoS: 1, Topic: topic, Payload: m.Body, Properties: props})
		if err == nil {
			return ack, nil
		}
		if outbound.ErrorKindOf(err) == herald.ErrorKindTimeout {
			// A PUBACK that does not come still holds one of the
			// broker's in-flight slots: enough of them and every later
			// publish on this connection would wait in vain. A new
			// connection starts afresh.
			c.drop(cc)
			return "", err
		}
		if !errors.Is(err, errMQTTConnLost) {
			return "", err
		}
		c.drop(cc)
		// A pooled connection may have died while idle (the broker
		// restarted): try once on a new one rather than fail a delivery
		// the broker never saw. At least once: the lost PUBLISH may have
		// reached the broker, and consumers drop duplicates by webhook-id.
		if fresh || attempt > 0 || ctx.Err() != nil {
			return "", err
		}
	}
}

// publishOn publishes p on cc and waits for its PUBACK.
func (c *mqttClient) publishOn(ctx context.Context, cc *mqttConn, p *paho.Publish) (string, error) {
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// paho forgets a pending PUBLISH when its connection ends without
	// telling the publisher: stop waiting as soon as the connection does.
	stop := context.AfterFunc(cc.lost, func() { cancel(errMQTTConnLost) })
	defer stop()

	resp, err := cc.pc.Publish(pctx, p)
	switch {
	case resp != nil && resp.ReasonCode >= 0x80:
		return "", outbound.Fail(herald.ErrorKindRejected, fmt.Errorf("mqtt: the broker refused the message: PUBACK reason 0x%02x (%s)", resp.ReasonCode, mqttReason(resp.ReasonCode, resp.Properties)))
	case err == nil && resp == nil:
		return "", outbound.Fail(herald.ErrorKindRejected, errors.New("mqtt: no PUBACK"))
	case err == nil:
		return fmt.Sprintf("PUBACK (reason 0x%02x)", resp.ReasonCode), nil
	case errors.Is(context.Cause(pctx), errMQTTConnLost), errors.Is(err, session.ErrNoConnection), !cc.alive():
		return "", cc.lostErr()
	case errors.Is(err, paho.ErrInvalidArguments):
		// The broker's CONNACK ruled it out (no QoS 1, say).
		return "", outbound.Fail(herald.ErrorKindRejected, fmt.Errorf("mqtt: %w", err))
	case errors.Is(err, context.DeadlineExceeded):
		return "", outbound.Fail(herald.ErrorKindTimeout, fmt.Errorf("mqtt: no PUBACK in time: %w", err))
	}
	return "", fmt.Errorf("mqtt: publish: %w", err)
}

// mqttReason names a PUBACK reason code, with the broker's reason string.
func mqttReason(code byte, props *paho.PublishResponseProperties) string {
	name := map[byte]string{
		0x80: "unspecified error",
		0x83: "implementation specific error",
		0x87: "not authorized",
		0x90: "topic name invalid",
		0x91: "packet identifier in use",
		0x97: "quota exceeded",
		0x99: "payload format invalid",
	}[code]
	if name == "" {
		name = "refused"
	}
	if props != nil && props.ReasonString != "" {
		name += ": " + mqttClip(props.ReasonString)
	}
	return name
}

// mqttPacketSize is the encoded size of the PUBLISH, to compare with the
// broker's Maximum Packet Size before sending: a broker disconnects a
// client that sends a larger one.
func mqttPacketSize(topic string, props *paho.PublishProperties, body int) int {
	p := 0
	if props.ContentType != "" {
		p += 1 + 2 + len(props.ContentType)
	}
	for _, u := range props.User {
		p += 1 + 2 + len(u.Key) + 2 + len(u.Value)
	}
	rest := 2 + len(topic) + 2 + mqttVBILen(p) + p + body // topic, packet id, properties, payload
	return 1 + mqttVBILen(rest) + rest
}

// mqttVBILen is the length of n as an MQTT variable byte integer.
func mqttVBILen(n int) int {
	l := 1
	for n >= 128 {
		n /= 128
		l++
	}
	return l
}

// conn returns the live connection, connecting when there is none; fresh
// says it was made by this call.
func (c *mqttClient) conn(ctx context.Context) (cc *mqttConn, fresh bool, err error) {
	if cc, err := c.current(); cc != nil || err != nil {
		return cc, false, err
	}
	select {
	case c.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, false, outbound.Fail(herald.ErrorKindTimeout, fmt.Errorf("mqtt: waiting to connect to %s: %w", c.addr, ctx.Err()))
	}
	defer func() { <-c.dialing }()
	// Another publish may have connected while this one waited.
	if cc, err := c.current(); cc != nil || err != nil {
		return cc, false, err
	}
	cc, err = c.connect(ctx)
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cc.close()
		return nil, false, errMQTTClosed
	}
	c.cur = cc
	c.mu.Unlock()
	return cc, true, nil
}

// current is the pooled connection if it is still up.
func (c *mqttClient) current() (*mqttConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errMQTTClosed
	}
	if c.cur != nil && !c.cur.alive() {
		c.cur = nil
	}
	return c.cur, nil
}

// drop forgets cc if it is still the pooled connection, closing it.
func (c *mqttClient) drop(cc *mqttConn) {
	c.mu.Lock()
	if c.cur == cc {
		c.cur = nil
	}
	c.mu.Unlock()
	cc.close()
}

// connect dials through env.Dial (the destination policy), wraps the
// connection in TLS for mqtts://, and opens an MQTT 5 session with a new
// client id and a clean start.
func (c *mqttClient) connect(ctx context.Context) (*mqttConn, error) {
	timeout := c.env.Timeout
	if timeout <= 0 {
		timeout = mqttDefaultConnectTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	raw, err := c.env.Dial(cctx, "tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: connecting to %s: %w", c.addr, err)
	}
	if c.tls {
		tc := tls.Client(raw, &tls.Config{ServerName: c.host, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(cctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("mqtt: TLS with %s: %w", c.addr, err)
		}
		raw = tc
	}

	id := make([]byte, 8)
	_, _ = rand.Read(id)
	cc := &mqttConn{raw: raw}
	cc.pc = paho.NewClient(paho.ClientConfig{
		Conn:          packets.NewThreadSafeConn(&mqttLimitConn{Conn: raw, max: mqttMaxInbound}),
		PacketTimeout: mqttPacketTimeout,
		// Herald only publishes; anything the broker sends is dropped.
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(paho.PublishReceived) (bool, error) { return true, nil }},
		OnServerDisconnect: func(d *paho.Disconnect) {
			cc.mu.Lock()
			cc.disconnect = d
			cc.mu.Unlock()
		},
	})
	cp := &paho.Connect{
		ClientID:   "herald-" + hex.EncodeToString(id),
		KeepAlive:  mqttKeepAlive,
		CleanStart: true,
		Properties: &paho.ConnectProperties{
			RequestProblemInfo: true,
			ReceiveMaximum:     new(uint16(mqttReceiveMaximum)),
			MaximumPacketSize:  new(uint32(mqttMaxInbound)),
		},
	}
	if c.username != "" {
		cp.Username, cp.UsernameFlag = c.username, true
	}
	if c.password != "" {
		cp.Password, cp.PasswordFlag = []byte(c.password), true
	}

	ca, err := cc.pc.Connect(cctx, cp)
	if err != nil {
		if ca != nil && ca.ReasonCode >= 0x80 {
			return nil, mqttConnackError(c.addr, ca)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, outbound.Fail(herald.ErrorKindTimeout, fmt.Errorf("mqtt: no CONNACK from %s in time: %w", c.addr, err))
		}
		// The connection was made: what broke it is the network's.
		if outbound.ErrorKindOf(err) == herald.ErrorKindConnect {
			return nil, fmt.Errorf("mqtt: connecting to %s: %w", c.addr, err)
		}
		return nil, outbound.Fail(herald.ErrorKindNetwork, fmt.Errorf("mqtt: connecting to %s: %w", c.addr, err))
	}
	if ca.Properties != nil && ca.Properties.MaximumPacketSize != nil {
		cc.maxPacket = *ca.Properties.MaximumPacketSize
	}
	lost, markLost := context.WithCancel(context.Background())
	cc.lost = lost
	go func() {
		<-cc.pc.Done()
		markLost()
	}()
	return cc, nil
}

// mqttConnackError is the error of a CONNACK that refused the session:
// auth when it refused the credentials, connect otherwise.
func mqttConnackError(addr string, ca *paho.Connack) error {
	names := map[byte]string{
		0x80: "unspecified error",
		0x84: "unsupported protocol version: the broker must speak MQTT 5",
		0x85: "client identifier not valid",
		0x86: "bad user name or password",
		0x87: "not authorized",
		0x88: "server unavailable",
		0x89: "server busy",
		0x8A: "banned",
		0x8C: "bad authentication method",
		0x95: "packet too large",
		0x97: "quota exceeded",
		0x9F: "connection rate exceeded",
	}
	name := names[ca.ReasonCode]
	if name == "" {
		name = "refused"
	}
	if ca.Properties != nil && ca.Properties.ReasonString != "" {
		name += ": " + mqttClip(ca.Properties.ReasonString)
	}
	err := fmt.Errorf("mqtt: %s refused the connection: CONNACK reason 0x%02x (%s)", addr, ca.ReasonCode, name)
	switch ca.ReasonCode {
	case 0x86, 0x87, 0x8A, 0x8C:
		return outbound.Fail(herald.ErrorKindAuth, err)
	}
	return outbound.Fail(herald.ErrorKindConnect, err)
}

func (c *mqttClient) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cc := c.cur
	c.cur = nil
	c.mu.Unlock()
	if cc != nil {
		cc.close()
	}
	return nil
}

var errMQTTTooLarge = errors.New("mqtt: the broker sent a packet larger than Herald takes")

// mqttLimitConn follows the MQTT framing of what the broker sends and
// fails the connection on a packet longer than max, before paho
// allocates room for it.
type mqttLimitConn struct {
	net.Conn
	max int

	err    error
	left   int  // body bytes of the current packet still to pass
	inLen  bool // reading the remaining length
	length int
	mult   int
	nLen   int
}

// Read is called by one goroutine at a time (paho's reader).
func (c *mqttLimitConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	for i := 0; i < n; {
		switch {
		case c.left > 0:
			k := min(c.left, n-i)
			c.left -= k
			i += k
		case !c.inLen:
			// The fixed header's first byte: type and flags.
			c.inLen, c.length, c.mult, c.nLen = true, 0, 1, 0
			i++
		default:
			b := p[i]
			i++
			c.length += int(b&0x7f) * c.mult
			c.mult *= 128
			c.nLen++
			if b&0x80 == 0 || c.nLen == 4 {
				c.inLen = false
				if c.length > c.max {
					c.err = fmt.Errorf("%w (%d bytes, at most %d)", errMQTTTooLarge, c.length, c.max)
					c.Conn.Close()
					// Withhold the length's last byte: given it, paho
					// would not see the error before allocating.
					return i - 1, c.err
				}
				c.left = c.length
			}
		}
	}
	return n, err
}
