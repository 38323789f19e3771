package broker

// Google Cloud Pub/Sub (kind gcp_pubsub).
//
// Layout for consumers: each delivery is one Pub/Sub message on
// projects/<project>/topics/<topic>. Its data is the body, byte for byte.
// Its attributes are the headers, each under its exact lower-case name:
// webhook-id, webhook-timestamp, webhook-signature, content-type and the
// endpoint's own headers (a name given twice has its values joined with
// ", "). With ordering_key set, the message carries the rendered ordering
// key and the publisher sends the messages of one key one after the other,
// in the order the deliveries were attempted (a subscription needs message
// ordering enabled to receive them in that order).
//
// Acknowledgement: a delivery succeeds only once Pub/Sub returned the
// message's server id; the history records "message id <id>". Pub/Sub
// deduplicates nothing: a publish reported as failed (a timeout, a broken
// connection) may still have been stored by the server, so a retry can
// publish the same delivery twice. Delivery is at least once; consumers
// drop duplicates by the webhook-id attribute.

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/pubsub/v2"
	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/shape"
)

const (
	// pubsubHost is the service's address when no emulator endpoint is set.
	pubsubHost = "pubsub.googleapis.com:443"
	// pubsubScope is what a service-account key is used for.
	pubsubScope = "https://www.googleapis.com/auth/pubsub"
	// pubsubMaxCredentials bounds the key a tenant can make Herald parse.
	pubsubMaxCredentials = 16 << 10
	// pubsubMaxOrderingKey is Pub/Sub's own limit, in bytes.
	pubsubMaxOrderingKey = 1024
	// pubsubRPCTimeout bounds one publish RPC, retries included; it runs
	// detached from the caller's context inside the client library.
	pubsubRPCTimeout = 30 * time.Second
	// pubsubMaxOutstanding bounds what one client holds in flight: past it
	// Publish waits (within its context) instead of buffering.
	pubsubMaxOutstanding      = 256
	pubsubMaxOutstandingBytes = 64 << 20
)

var (
	// Project ids: 6-30 lower-case letters, digits and hyphens, starting
	// with a letter; old domain-scoped ones carry "domain:" in front.
	pubsubProjectRe = regexp.MustCompile(`^([a-z0-9][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// Topic ids: 3-255 characters, a letter first, then [A-Za-z0-9-_.~+%].
	pubsubTopicRe = boundedRE(`^[A-Za-z][A-Za-z0-9\-_.~+%]+$`, 3, 255)
)

// PubSub is the gcp_pubsub kind: messages published to a Google Cloud
// Pub/Sub topic with the official client.
type PubSub struct{}

// NewPubSub returns the gcp_pubsub kind.
func NewPubSub() outbound.Kind { return PubSub{} }

// Name is herald.KindGCPPubSub.
func (PubSub) Name() string { return herald.KindGCPPubSub }

func pubsubField(name, format string, args ...any) error {
	return &shape.FieldError{Field: "destination." + name, Msg: fmt.Sprintf(format, args...)}
}

// Check validates project, topic, ordering_key, credentials_json and
// endpoint, and refuses the fields of other kinds.
func (PubSub) Check(d *herald.Destination) error {
	if d == nil {
		return pubsubField("project", "project is required")
	}
	if err := refuseOthers(d, herald.KindGCPPubSub, "project", "topic", "ordering_key", "credentials_json", "endpoint"); err != nil {
		return err
	}
	switch {
	case d.Project == "":
		return pubsubField("project", "project is required")
	case !pubsubProjectRe.MatchString(d.Project):
		return pubsubField("project", "project must be a Google Cloud project id: 6 to 30 lower-case letters, digits and hyphens, starting with a letter")
	}
	switch {
	case d.Topic == "":
		return pubsubField("topic", "topic is required")
	case strings.Contains(d.Topic, "/"):
		return pubsubField("topic", "topic is the topic id alone, without projects/.../topics/")
	case !pubsubTopicRe.MatchString(d.Topic):
		return pubsubField("topic", "topic must be 3 to 255 characters, start with a letter and hold only letters, digits and - _ . ~ + %%")
	case strings.HasPrefix(strings.ToLower(d.Topic), "goog"):
		return pubsubField("topic", `topic must not start with "goog"`)
	}
	if len(d.OrderingKey) > pubsubMaxOrderingKey && !pubsubHasTags(d.OrderingKey) {
		return pubsubField("ordering_key", "ordering_key must be at most %d bytes", pubsubMaxOrderingKey)
	}
	if d.Endpoint != "" {
		if _, err := pubsubEndpoint(d.Endpoint); err != nil {
			return pubsubField("endpoint", "%v", err)
		}
		if d.CredentialsJSON != "" {
			return pubsubField("credentials_json", "credentials_json is not sent to an emulator endpoint: leave one of them empty")
		}
	}
	if d.CredentialsJSON == "" && d.Endpoint == "" {
		return pubsubField("credentials_json", "credentials_json is required (the installation's own Google credentials are not lent to endpoints)")
	}
	if d.CredentialsJSON != "" {
		if err := pubsubCheckKey(d.CredentialsJSON); err != nil {
			return pubsubField("credentials_json", "%v", err)
		}
	}
	return nil
}

func pubsubHasTags(s string) bool { return strings.Contains(s, "{{") || strings.Contains(s, "#{") }

// pubsubEndpoint returns an emulator endpoint's host:port: "host:port" or
// "http://host:port" (port 80 when left out). No other scheme: the
// endpoint is spoken to without TLS and without credentials.
func pubsubEndpoint(s string) (string, error) {
	hostport := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", errors.New("endpoint must be host:port or http://host:port")
		}
		if u.Scheme != "http" {
			return "", errors.New("endpoint must be host:port or http://host:port of an emulator (no TLS)")
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return "", errors.New("endpoint must be http://host:port alone, without credentials, path or query")
		}
		hostport = u.Host
		if u.Port() == "" {
			hostport = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return "", errors.New("endpoint must be host:port or http://host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", errors.New("endpoint's port must be a number from 1 to 65535")
	}
	if strings.ContainsAny(host, " /?#@") {
		return "", errors.New("endpoint's host is not a valid host name")
	}
	return net.JoinHostPort(host, port), nil
}

// pubsubCheckKey checks a service-account key without ever quoting it: the
// other credential types (external accounts, impersonation...) could make
// Herald fetch URLs or run commands a tenant chose, so only a
// service_account key is taken.
func pubsubCheckKey(s string) error {
	if len(s) > pubsubMaxCredentials {
		return fmt.Errorf("credentials_json must be at most %d bytes", pubsubMaxCredentials)
	}
	var k struct {
		Type           string `json:"type"`
		ClientEmail    string `json:"client_email"`
		PrivateKey     string `json:"private_key"`
		PrivateKeyID   string `json:"private_key_id"`
		UniverseDomain string `json:"universe_domain"`
	}
	if err := json.Unmarshal([]byte(s), &k); err != nil {
		return errors.New("credentials_json must be a service-account key: a JSON object")
	}
	switch {
	case k.Type != "service_account":
		return errors.New(`credentials_json must be a service-account key ("type": "service_account")`)
	case k.ClientEmail == "" || !strings.Contains(k.ClientEmail, "@"):
		return errors.New("credentials_json lacks client_email")
	case k.PrivateKeyID == "":
		return errors.New("credentials_json lacks private_key_id")
	case k.UniverseDomain != "" && k.UniverseDomain != "googleapis.com":
		return errors.New(`credentials_json's universe_domain must be "googleapis.com"`)
	}
	block, _ := pem.Decode([]byte(k.PrivateKey))
	if block == nil {
		return errors.New("credentials_json's private_key is not a PEM key")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return errors.New("credentials_json's private_key cannot be read")
		}
	}
	return nil
}

// Hosts is the emulator endpoint when set, else Pub/Sub's own address.
func (PubSub) Hosts(d *herald.Destination) []string {
	if d.Endpoint != "" {
		if hp, err := pubsubEndpoint(d.Endpoint); err == nil {
			return []string{hp}
		}
		return nil
	}
	return []string{pubsubHost}
}

// Open makes the client without waiting for a connection: gRPC connects
// in the background (through env.Dial, which gets the host name and so
// resolves and checks it under the destination policy) and reconnects by
// itself after the service went away.
func (k PubSub) Open(ctx context.Context, d *herald.Destination, env outbound.Env) (outbound.Client, error) {
	if err := k.Check(d); err != nil {
		return nil, err
	}
	if env.Dial == nil {
		return nil, errors.New("gcp_pubsub: no dialer")
	}
	connect := env.Timeout
	if connect <= 0 {
		connect = 10 * time.Second
	}
	pc := &pubsubClient{}
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, connect)
		defer cancel()
		conn, err := env.Dial(ctx, "tcp", addr)
		if err != nil {
			// gRPC keeps only the text of a dial error; kept here, its
			// kind (policy, dns, connect) reaches the attempt.
			pc.dialErr.Store(&err)
		} else {
			pc.dialErr.Store(nil)
		}
		return conn, err
	}
	opts := []option.ClientOption{
		option.WithGRPCDialOption(grpc.WithContextDialer(dial)),
		// A short reconnect backoff, so that a pooled client is usable again
		// soon after the service comes back.
		option.WithGRPCDialOption(grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: connect,
		})),
		option.WithGRPCConnectionPool(1),
		option.WithTelemetryDisabled(),
	}
	if d.Endpoint != "" {
		hp, _ := pubsubEndpoint(d.Endpoint)
		opts = append(opts,
			option.WithEndpoint(hp),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	} else if d.CredentialsJSON != "" {
		// A self-signed JWT: no token exchange, so no request to an address
		// the key names.
		creds, err := credentials.NewCredentialsFromJSON(credentials.ServiceAccount, []byte(d.CredentialsJSON), &credentials.DetectOptions{
			Scopes:           []string{pubsubScope},
			UseSelfSignedJWT: true,
			Client:           env.HTTP,
		})
		if err != nil {
			return nil, outbound.Fail(herald.ErrorKindAuth, errors.New("gcp_pubsub: the service-account key cannot be used"))
		}
		opts = append(opts, option.WithAuthCredentials(creds))
	}
	cfg := &pubsub.ClientConfig{TopicAdminCallOptions: pubsubCallOptions()}
	c, err := pubsub.NewClientWithConfig(ctx, d.Project, cfg, opts...)
	if err != nil {
		if strings.Contains(err.Error(), "credentials") {
			return nil, outbound.Fail(herald.ErrorKindAuth, fmt.Errorf("gcp_pubsub: %w", err))
		}
		return nil, fmt.Errorf("gcp_pubsub: %w", err)
	}
	p := c.Publisher(d.Topic)
	p.PublishSettings.CountThreshold = 1
	p.PublishSettings.DelayThreshold = time.Millisecond
	p.PublishSettings.Timeout = pubsubRPCTimeout
	p.PublishSettings.FlowControlSettings = pubsub.FlowControlSettings{
		MaxOutstandingMessages: pubsubMaxOutstanding,
		MaxOutstandingBytes:    pubsubMaxOutstandingBytes,
		LimitExceededBehavior:  pubsub.FlowControlBlock,
	}
	p.EnableMessageOrdering = d.OrderingKey != ""
	pc.c, pc.p, pc.topic = c, p, p.String()
	return pc, nil
}

// pubsubCallOptions keeps the library's retries of a publish short: Herald
// retries the delivery on its own schedule, and an attempt should say soon
// that the service is away rather than hold the message for a minute.
func pubsubCallOptions() *vkit.TopicAdminCallOptions {
	return &vkit.TopicAdminCallOptions{
		Publish: []gax.CallOption{gax.WithRetry(func() gax.Retryer { return &pubsubRetryer{} })},
	}
}

// pubsubRetryer retries a publish twice on the service's transient codes.
type pubsubRetryer struct{ n int }

func (r *pubsubRetryer) Retry(err error) (time.Duration, bool) {
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted, codes.Internal, codes.Unknown:
	default:
		return 0, false
	}
	if r.n >= 2 {
		return 0, false
	}
	r.n++
	return time.Duration(r.n) * 150 * time.Millisecond, true
}

type pubsubClient struct {
	c     *pubsub.Client
	p     *pubsub.Publisher
	topic string

	closed atomic.Bool
	// dialErr is the last connection's error, nil once one connected.
	dialErr atomic.Pointer[error]
}

var errPubSubClosed = errors.New("gcp_pubsub: client closed")

// Publish sends one message and waits for its server id.
func (c *pubsubClient) Publish(ctx context.Context, m *outbound.Message) (string, error) {
	if c.closed.Load() {
		return "", errPubSubClosed
	}
	if m == nil {
		return "", errors.New("gcp_pubsub: no message")
	}
	attrs := make(map[string]string, len(m.Headers))
	for _, h := range m.Headers {
		if strings.HasPrefix(strings.ToLower(h.Name), "goog") {
			return "", outbound.Fail(herald.ErrorKindRejected, fmt.Errorf("gcp_pubsub: header %q: attribute names starting with \"goog\" are reserved by Pub/Sub", h.Name))
		}
		if v, ok := attrs[h.Name]; ok {
			attrs[h.Name] = v + ", " + h.Value
		} else {
			attrs[h.Name] = h.Value
		}
	}
	var key string
	if m.Dest != nil && c.p.EnableMessageOrdering {
		key = m.Dest.OrderingKey
	}
	res := c.p.Publish(ctx, &pubsub.Message{Data: m.Body, Attributes: attrs, OrderingKey: key})
	id, err := res.Get(ctx)
	if err != nil {
		if key != "" {
			// The library holds back every later message of the key after
			// an error; the next attempt must be able to go.
			c.p.ResumePublish(key)
		}
		return "", c.error(err)
	}
	if id == "" {
		return "", outbound.Fail(herald.ErrorKindRejected, errors.New("gcp_pubsub: the service returned no message id"))
	}
	return "message id " + id, nil
}

// error gives a publish error its error kind.
func (c *pubsubClient) error(err error) error {
	topic := c.topic
	if _, ok := errors.AsType[pubsub.ErrPublishingPaused](err); ok {
		return fmt.Errorf("gcp_pubsub: not sent: an earlier message with the same ordering key failed, and order is kept: %w", err)
	}
	if errors.Is(err, pubsub.ErrPublisherStopped) {
		return errPubSubClosed
	}
	s, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("gcp_pubsub: %w", err)
	}
	e := fmt.Errorf("gcp_pubsub: %s: %w", topic, err)
	switch s.Code() {
	case codes.PermissionDenied, codes.Unauthenticated:
		return outbound.Fail(herald.ErrorKindAuth, e)
	case codes.NotFound, codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted, codes.OutOfRange, codes.AlreadyExists:
		return outbound.Fail(herald.ErrorKindRejected, e)
	case codes.DeadlineExceeded:
		return outbound.Fail(herald.ErrorKindTimeout, e)
	case codes.Unavailable:
		// gRPC says "while dialing" when no connection could be made.
		if strings.Contains(s.Message(), "dialing") || strings.Contains(s.Message(), "connection refused") {
			if de := c.dialErr.Load(); de != nil {
				if k := outbound.ErrorKindOf(*de); k != herald.ErrorKindNetwork {
					return fmt.Errorf("gcp_pubsub: %s: %w", topic, *de)
				}
			}
			return outbound.Fail(herald.ErrorKindConnect, e)
		}
		return outbound.Fail(herald.ErrorKindNetwork, e)
	case codes.Canceled:
		if errors.Is(err, context.DeadlineExceeded) {
			return outbound.Fail(herald.ErrorKindTimeout, e)
		}
	}
	return outbound.Fail(herald.ErrorKindNetwork, e)
}

// Close stops the publisher and closes the connections; a Publish still
// waiting fails.
func (c *pubsubClient) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	// Connections first, so that Stop does not wait for a service that is
	// away.
	err := c.c.Close()
	c.p.Stop()
	return err
}
