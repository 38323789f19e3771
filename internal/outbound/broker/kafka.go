package broker

// Kafka destinations (kind "kafka").
//
// Each delivery is one Kafka record produced to destination.topic (a
// template), on the bootstrap brokers in destination.brokers:
//   - the record value is the body, byte for byte;
//   - the record key is destination.key once rendered (a template, so that
//     one customer's events keep their order within a partition); empty:
//     no key, and the producer spreads records over the partitions;
//   - every header of the delivery is a Kafka record header with the same
//     lower-case name and its value as UTF-8 bytes: webhook-id,
//     webhook-timestamp, webhook-signature (Standard Webhooks, to verify
//     and to drop duplicates with), content-type, then the endpoint's own
//     headers, in that order.
//
// The producer asks for acks=all and is idempotent. A delivery counts only
// when the partition leader answered that every in-sync replica has the
// record; the history records "partition P offset O". Error kinds:
//   - rejected: the cluster refused the record (unknown topic, since Herald
//     never asks for topics to be created; invalid record; a record over
//     the producer's 1 MB batch limit or the topic's max.message.bytes);
//   - auth: the SASL login was refused (or the broker hung up in answer
//     to it), or the credentials may not write to the topic;
//   - policy, tls: a broker address the destination policy refuses, or a
//     certificate not trusted; these end the attempt at once;
//   - connect: the deadline came and no broker could be dialed;
//   - timeout: the deadline came without the acknowledgement (a broker
//     answering with retriable errors, such as not enough replicas, is
//     retried until then);
//   - render: the topic or key, once rendered, is not valid for Kafka.
//
// A Publish never outlives its context. A record given up in flight may
// still have been written: delivery is at least once, and consumers drop
// duplicates by webhook-id. The client reconnects on its own once the
// brokers are back.
//
// Logins are SASL (plain, scram-sha-256, scram-sha-512) with username and
// password; tls wraps every broker connection in TLS, checked against the
// system roots with the broker's host name. Every connection, to the
// bootstrap brokers and to the addresses they advertise, goes through the
// destination policy.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/shape"
)

const (
	kafkaDefaultPort = "9092"
	kafkaMaxBrokers  = 20
	// kafkaMaxTopics bounds the topics one client keeps metadata for: a
	// topic template can name a new topic with every event.
	kafkaMaxTopics = 256
	// kafkaMaxKey bounds a rendered record key.
	kafkaMaxKey = 4096
	// kafkaMaxBuffered bounds what a client holds for a slow cluster;
	// beyond it Publish waits (within its context) for room.
	kafkaMaxBuffered      = 1000
	kafkaMaxBufferedBytes = 64 << 20
)

// kafkaTopicRE is Kafka's rule for topic names.
var kafkaTopicRE = boundedRE(`^[a-zA-Z0-9._-]+$`, 1, 249)

// Kafka is the kafka destination kind, producing with franz-go.
type Kafka struct{}

// NewKafka returns the kafka destination kind.
func NewKafka() outbound.Kind { return Kafka{} }

// Name returns herald.KindKafka.
func (Kafka) Name() string { return herald.KindKafka }

func kafkaFieldErr(field, format string, a ...any) error {
	return &shape.FieldError{Field: "destination." + field, Msg: "destination." + field + ": " + fmt.Sprintf(format, a...)}
}

// kafkaHasTags reports whether a template field holds template tags,
// whose rendered value can only be checked at delivery.
func kafkaHasTags(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "#{")
}

// Check validates a kafka destination's fields.
func (Kafka) Check(d *herald.Destination) error {
	if d == nil {
		return kafkaFieldErr("brokers", "is required for kafka destinations")
	}
	if d.URL != "" {
		return kafkaFieldErr("url", "does not apply to kafka destinations; list the bootstrap addresses (host:port) in destination.brokers")
	}
	if err := refuseOthers(d, herald.KindKafka, "brokers", "topic", "key", "sasl_mechanism", "username", "password", "tls"); err != nil {
		return err
	}
	if len(d.Brokers) == 0 {
		return kafkaFieldErr("brokers", "is required: the bootstrap addresses, host:port")
	}
	if len(d.Brokers) > kafkaMaxBrokers {
		return kafkaFieldErr("brokers", "lists %d addresses; at most %d", len(d.Brokers), kafkaMaxBrokers)
	}
	for i, b := range d.Brokers {
		if _, err := kafkaHostPort(b); err != nil {
			return kafkaFieldErr("brokers", "address %d (%q): %v", i+1, b, err)
		}
	}
	if d.Topic == "" {
		return kafkaFieldErr("topic", "is required for kafka destinations")
	}
	if !kafkaHasTags(d.Topic) {
		if err := kafkaCheckTopic(d.Topic); err != nil {
			return kafkaFieldErr("topic", "%v", err)
		}
	}
	if len(d.Key) > kafkaMaxKey {
		return kafkaFieldErr("key", "is %d bytes long; at most %d", len(d.Key), kafkaMaxKey)
	}
	switch d.SASLMechanism {
	case "":
		if d.Username != "" {
			return kafkaFieldErr("username", "applies only with destination.sasl_mechanism (plain, scram-sha-256 or scram-sha-512)")
		}
		if d.Password != "" {
			return kafkaFieldErr("password", "applies only with destination.sasl_mechanism (plain, scram-sha-256 or scram-sha-512)")
		}
	case "plain", "scram-sha-256", "scram-sha-512":
		if d.Username == "" {
			return kafkaFieldErr("username", "is required with sasl_mechanism %s", d.SASLMechanism)
		}
		if d.Password == "" {
			return kafkaFieldErr("password", "is required with sasl_mechanism %s", d.SASLMechanism)
		}
	default:
		return kafkaFieldErr("sasl_mechanism", "%q is not one of plain, scram-sha-256, scram-sha-512", d.SASLMechanism)
	}
	return nil
}

// kafkaCheckTopic applies Kafka's rules to a topic name.
func kafkaCheckTopic(topic string) error {
	if topic == "." || topic == ".." {
		return fmt.Errorf("%q is not a valid Kafka topic name", topic)
	}
	if !kafkaTopicRE.MatchString(topic) {
		return fmt.Errorf("%q is not a valid Kafka topic name: 1 to 249 of a-z, A-Z, 0-9, '.', '_', '-'", topic)
	}
	return nil
}

// kafkaHostPort checks a broker address and fills in Kafka's default port.
func kafkaHostPort(addr string) (string, error) {
	if addr == "" {
		return "", errors.New("is empty")
	}
	if strings.Contains(addr, "://") || strings.ContainsAny(addr, "/ \t@?#") {
		return "", errors.New("must be host:port, without scheme, path or credentials")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Count(addr, ":") > 0 && !strings.HasPrefix(addr, "[") {
			if strings.Count(addr, ":") > 1 {
				return "", errors.New("an IPv6 address must be in brackets: [addr]:port")
			}
			return "", errors.New("must be host:port")
		}
		host, port = strings.Trim(addr, "[]"), kafkaDefaultPort
	}
	if host == "" {
		return "", errors.New("has no host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return net.JoinHostPort(host, port), nil
}

// Hosts returns the bootstrap brokers, with Kafka's default port filled in.
func (Kafka) Hosts(d *herald.Destination) []string {
	if d == nil {
		return nil
	}
	var hosts []string
	for _, b := range d.Brokers {
		if hp, err := kafkaHostPort(b); err == nil {
			hosts = append(hosts, hp)
		}
	}
	return hosts
}

// Open makes a producer for the destination; it connects at the first
// Publish.
func (k Kafka) Open(ctx context.Context, d *herald.Destination, env outbound.Env) (outbound.Client, error) {
	if err := k.Check(d); err != nil {
		return nil, err
	}
	if env.Dial == nil {
		return nil, errors.New("kafka: no dialer")
	}
	timeout := env.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := &kafkaClient{topics: map[string]int{}, authCh: make(chan struct{})}
	c.dialer = &kafkaDialer{dial: env.Dial, timeout: timeout, tls: d.TLS, refused: c.refused}
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.Hosts(d)...),
		kgo.Dialer(c.dialer.DialContext),
		kgo.DialTimeout(timeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// A Publish's context is the bound: a record still in flight when
		// it ends is given up, though it may land (at least once).
		kgo.AllowIdempotentProduceCancellation(),
		kgo.RecordDeliveryTimeout(2 * time.Minute),
		kgo.ProduceRequestTimeout(timeout),
		kgo.RetryTimeout(timeout),
		kgo.UnknownTopicRetries(2),
		kgo.ProducerLinger(0),
		kgo.MaxBufferedRecords(kafkaMaxBuffered),
		kgo.MaxBufferedBytes(kafkaMaxBufferedBytes),
		kgo.ConnIdleTimeout(time.Minute),
		kgo.MetadataMinAge(time.Second),
		kgo.DisableClientMetrics(),
		kgo.WithHooks(c),
	}
	if m := kafkaSASL(d); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	c.cl = cl
	return c, nil
}

func kafkaSASL(d *herald.Destination) sasl.Mechanism {
	switch d.SASLMechanism {
	case "plain":
		return plain.Auth{User: d.Username, Pass: d.Password}.AsMechanism()
	case "scram-sha-256":
		return scram.Auth{User: d.Username, Pass: d.Password}.AsSha256Mechanism()
	case "scram-sha-512":
		return scram.Auth{User: d.Username, Pass: d.Password}.AsSha512Mechanism()
	}
	return nil
}

// kafkaDialer makes every broker connection through Herald's dialer (so
// the destination policy applies to advertised addresses too), does TLS
// over it when asked, and remembers how the last dial went, to tell a
// Publish that ran out of time whether no broker could be reached.
type kafkaDialer struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	timeout time.Duration
	tls     bool

	// refused is told of failures that waiting does not mend (an address
	// the policy refuses, a certificate not trusted).
	refused func(error)

	mu      sync.Mutex
	lastErr error
}

func (d *kafkaDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	conn, err := d.dial(ctx, network, addr)
	if err == nil && d.tls {
		host, _, _ := net.SplitHostPort(addr)
		tc := tls.Client(conn, &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12})
		if err = tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			conn = nil
		} else {
			conn = tc
		}
	}
	d.mu.Lock()
	d.lastErr = err
	d.mu.Unlock()
	if k := outbound.ErrorKindOf(err); err != nil && (k == herald.ErrorKindPolicy || k == herald.ErrorKindTLS) && d.refused != nil {
		d.refused(err)
	}
	return conn, err
}

// failed returns the last dial's error, nil when it connected.
func (d *kafkaDialer) failed() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastErr
}

type kafkaClient struct {
	cl     *kgo.Client
	dialer *kafkaDialer

	tmu     sync.Mutex
	topics  map[string]int // topic -> publishes in progress
	purging bool

	mu     sync.Mutex
	closed bool
	// authErr is the last refused login (or policy or TLS refusal),
	// until a connection succeeds; authCh is closed on each refusal.
	authErr error
	authCh  chan struct{}
}

// Publish produces one record and waits for the acks=all answer.
func (c *kafkaClient) Publish(ctx context.Context, m *outbound.Message) (string, error) {
	if m == nil || m.Dest == nil {
		return "", errors.New("kafka: no message")
	}
	topic := m.Dest.Topic
	if err := kafkaCheckTopic(topic); err != nil {
		return "", outbound.Fail(herald.ErrorKindRender, fmt.Errorf("destination.topic: %w", err))
	}
	if len(m.Dest.Key) > kafkaMaxKey {
		return "", outbound.Fail(herald.ErrorKindRender, fmt.Errorf("destination.key: the rendered key is %d bytes long; at most %d", len(m.Dest.Key), kafkaMaxKey))
	}
	if err := c.enter(topic); err != nil {
		return "", err
	}
	defer c.leave(topic)

	c.mu.Lock()
	authCh := c.authCh
	c.mu.Unlock()
	// A record failed only because an earlier one in its partition was
	// given up (that one's context ended, not ours) is produced again.
	for tries := 1; ; tries++ {
		r, err := c.produce(ctx, topic, m, authCh)
		if err == nil {
			return fmt.Sprintf("partition %d offset %d", r.Partition, r.Offset), nil
		}
		// A topic dropped (kafkaMaxTopics) just as this publish came in
		// fails its record the same way.
		swept := ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
			errors.Is(err, kgo.ErrRecordTimeout) || strings.Contains(err.Error(), "topic purged"))
		// A topic deleted and made again (or a cluster that came back
		// new) has a new id: the client forgets the old one and tries
		// again.
		recreated := ctx.Err() == nil && errors.Is(err, kerr.UnknownTopicID)
		if (!swept && !recreated) || tries == 3 {
			return "", c.classify(ctx, err)
		}
		if recreated {
			purged := make(chan struct{})
			go func() { c.cl.PurgeTopicsFromClient(topic); close(purged) }()
			select {
			case <-purged:
			case <-ctx.Done():
				return "", c.classify(ctx, err)
			}
		}
	}
}

// produce produces m once and waits for its outcome, the end of ctx, or a
// refused login.
func (c *kafkaClient) produce(ctx context.Context, topic string, m *outbound.Message, authCh <-chan struct{}) (*kgo.Record, error) {
	rec := &kgo.Record{Topic: topic, Value: m.Body}
	if m.Dest.Key != "" {
		rec.Key = []byte(m.Dest.Key)
	}
	rec.Headers = make([]kgo.RecordHeader, len(m.Headers))
	for i, h := range m.Headers {
		rec.Headers[i] = kgo.RecordHeader{Key: h.Name, Value: []byte(h.Value)}
	}
	type result struct {
		r   *kgo.Record
		err error
	}
	done := make(chan result, 1)
	c.cl.Produce(ctx, rec, func(r *kgo.Record, err error) { done <- result{r, err} })
	select {
	case res := <-done:
		return res.r, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-authCh:
		c.mu.Lock()
		err := c.authErr
		c.mu.Unlock()
		return nil, &kafkaRefusal{err}
	}
}

// OnBrokerConnect tells Publishes waiting on the cluster that it refused
// the login: that does not mend by waiting.
func (c *kafkaClient) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		c.mu.Lock()
		c.authErr = nil
		c.mu.Unlock()
	} else if kafkaIsAuth(err) {
		c.refused(err)
	}
}

// OnBrokerRead notes a broker that hangs up in answer to Herald's
// credentials (as brokers speaking the older SASL flow do, and kfake)
// as a refused login.
func (c *kafkaClient) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == int16(kmsg.SASLAuthenticate) && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		c.refused(fmt.Errorf("%w: the broker closed the connection in answer to the credentials", kerr.SaslAuthenticationFailed))
	}
}

func (c *kafkaClient) refused(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.authErr = err
	close(c.authCh)
	c.authCh = make(chan struct{})
}

func kafkaIsAuth(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState) || errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

// enter counts a publish to topic in, refusing after Close. Past
// kafkaMaxTopics topics, those with nothing in progress are dropped from
// the client, so that its metadata stays bounded; the drop runs on its
// own, as it waits on the client's metadata loop, and up to twice as
// many are held meanwhile.
func (c *kafkaClient) enter(topic string) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return errors.New("kafka: client closed")
	}
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if _, ok := c.topics[topic]; !ok && len(c.topics) >= kafkaMaxTopics && !c.purging {
		var idle []string
		for t, n := range c.topics {
			if n == 0 {
				idle = append(idle, t)
				delete(c.topics, t)
			}
		}
		if len(idle) > 0 {
			c.purging = true
			go func() {
				c.cl.PurgeTopicsFromClient(idle...)
				c.tmu.Lock()
				c.purging = false
				c.tmu.Unlock()
			}()
		}
	}
	if _, ok := c.topics[topic]; !ok && len(c.topics) >= 2*kafkaMaxTopics {
		// Still dropping the last lot: hold no more until it is done.
		return outbound.Fail(herald.ErrorKindRejected, fmt.Errorf("kafka: more than %d topics in use at once", 2*kafkaMaxTopics))
	}
	c.topics[topic]++
	return nil
}

func (c *kafkaClient) leave(topic string) {
	c.tmu.Lock()
	c.topics[topic]--
	c.tmu.Unlock()
}

// kafkaRefusal is a Publish ended early by a refusal that waiting does
// not mend.
type kafkaRefusal struct{ err error }

func (r *kafkaRefusal) Error() string { return r.err.Error() }
func (r *kafkaRefusal) Unwrap() error { return r.err }

// classify marks a produce error with its attempt's error kind.
func (c *kafkaClient) classify(ctx context.Context, err error) error {
	var ke *kerr.Error
	if r, ok := errors.AsType[*kafkaRefusal](err); ok && !kafkaIsAuth(err) {
		// Policy or TLS: outbound.ErrorKindOf finds it in the chain.
		return fmt.Errorf("kafka: %w", r.err)
	}
	switch {
	case kafkaIsAuth(err):
		return outbound.Fail(herald.ErrorKindAuth, fmt.Errorf("kafka: %w", err))
	case errors.Is(err, kgo.ErrClientClosed):
		return fmt.Errorf("kafka: client closed: %w", err)
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), ctx.Err() != nil:
		// Out of time: say why when no broker could be dialed (connect,
		// policy, dns or tls then), else no acknowledgement came.
		c.mu.Lock()
		aerr := c.authErr
		c.mu.Unlock()
		if aerr != nil && kafkaIsAuth(aerr) {
			return outbound.Fail(herald.ErrorKindAuth, fmt.Errorf("kafka: %w", aerr))
		}
		if derr := c.dialer.failed(); derr != nil {
			return fmt.Errorf("kafka: no broker reachable: %w", derr)
		}
		return outbound.Fail(herald.ErrorKindTimeout, fmt.Errorf("kafka: no acknowledgement in time: %w", err))
	case errors.As(err, &ke), errors.Is(err, kgo.ErrRecordRetries):
		return outbound.Fail(herald.ErrorKindRejected, fmt.Errorf("kafka: the cluster refused the record: %w", err))
	}
	if derr := c.dialer.failed(); derr != nil {
		return fmt.Errorf("kafka: %w (last connection: %w)", err, derr)
	}
	return fmt.Errorf("kafka: %w", err)
}

// Close releases the producer's connections; later Publishes fail.
func (c *kafkaClient) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cl.Close()
	return nil
}
