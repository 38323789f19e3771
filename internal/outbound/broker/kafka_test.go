package broker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/shape"
)

func TestKafkaCheck(t *testing.T) {
	ok := func() herald.Destination {
		return herald.Destination{Brokers: []string{"kafka-1.example.com:9092", "10.0.0.2"}, Topic: "orders.v1"}
	}
	long := strings.Repeat("a", 250)
	manyBrokers := make([]string, 21)
	for i := range manyBrokers {
		manyBrokers[i] = fmt.Sprintf("b%d:9092", i)
	}
	tests := []struct {
		name  string
		edit  func(d *herald.Destination)
		field string // "" when valid
	}{
		{"minimal", func(d *herald.Destination) {}, ""},
		{"key template", func(d *herald.Destination) { d.Key = "{{payload.customer_id}}" }, ""},
		{"topic template", func(d *herald.Destination) { d.Topic = "events.{{event_type}}" }, ""},
		{"topic template hash", func(d *herald.Destination) { d.Topic = "events #{event_type}" }, ""},
		{"topic 249", func(d *herald.Destination) { d.Topic = long[:249] }, ""},
		{"ipv6 broker", func(d *herald.Destination) { d.Brokers = []string{"[::1]:9093", "[fe80::1]"} }, ""},
		{"sasl plain", func(d *herald.Destination) { d.SASLMechanism, d.Username, d.Password = "plain", "u", "p" }, ""},
		{"sasl scram 512 tls", func(d *herald.Destination) {
			d.SASLMechanism, d.Username, d.Password, d.TLS = "scram-sha-512", "u", "p", true
		}, ""},
		{"no brokers", func(d *herald.Destination) { d.Brokers = nil }, "destination.brokers"},
		{"too many brokers", func(d *herald.Destination) { d.Brokers = manyBrokers }, "destination.brokers"},
		{"broker with scheme", func(d *herald.Destination) { d.Brokers = []string{"kafka://h:9092"} }, "destination.brokers"},
		{"broker empty", func(d *herald.Destination) { d.Brokers = []string{""} }, "destination.brokers"},
		{"broker port 0", func(d *herald.Destination) { d.Brokers = []string{"h:0"} }, "destination.brokers"},
		{"broker port big", func(d *herald.Destination) { d.Brokers = []string{"h:70000"} }, "destination.brokers"},
		{"broker port text", func(d *herald.Destination) { d.Brokers = []string{"h:kafka"} }, "destination.brokers"},
		{"broker bare ipv6", func(d *herald.Destination) { d.Brokers = []string{"fe80::1"} }, "destination.brokers"},
		{"broker no host", func(d *herald.Destination) { d.Brokers = []string{":9092"} }, "destination.brokers"},
		{"broker credentials", func(d *herald.Destination) { d.Brokers = []string{"u:p@h:9092"} }, "destination.brokers"},
		{"no topic", func(d *herald.Destination) { d.Topic = "" }, "destination.topic"},
		{"topic space", func(d *herald.Destination) { d.Topic = "my topic" }, "destination.topic"},
		{"topic slash", func(d *herald.Destination) { d.Topic = "a/b" }, "destination.topic"},
		{"topic dot", func(d *herald.Destination) { d.Topic = "." }, "destination.topic"},
		{"topic dotdot", func(d *herald.Destination) { d.Topic = ".." }, "destination.topic"},
		{"topic 250", func(d *herald.Destination) { d.Topic = long }, "destination.topic"},
		{"key too long", func(d *herald.Destination) { d.Key = strings.Repeat("k", 5000) }, "destination.key"},
		{"url refused", func(d *herald.Destination) { d.URL = "kafka://h:9092" }, "destination.url"},
		{"subject refused", func(d *herald.Destination) { d.Subject = "s" }, "destination.subject"},
		{"stream refused", func(d *herald.Destination) { d.Stream = "s" }, "destination.stream"},
		{"exchange refused", func(d *herald.Destination) { d.Exchange = "x" }, "destination.exchange"},
		{"routing key refused", func(d *herald.Destination) { d.RoutingKey = "x" }, "destination.routing_key"},
		{"max len refused", func(d *herald.Destination) { d.MaxLen = 5 }, "destination.max_len"},
		{"project refused", func(d *herald.Destination) { d.Project = "p" }, "destination.project"},
		{"queue url refused", func(d *herald.Destination) { d.QueueURL = "http://q" }, "destination.queue_url"},
		{"secret refused", func(d *herald.Destination) { d.SecretAccessKey = "s" }, "destination.secret_access_key"},
		{"endpoint refused", func(d *herald.Destination) { d.Endpoint = "http://e" }, "destination.endpoint"},
		{"bad mechanism", func(d *herald.Destination) { d.SASLMechanism, d.Username, d.Password = "gssapi", "u", "p" }, "destination.sasl_mechanism"},
		{"mechanism upper", func(d *herald.Destination) { d.SASLMechanism, d.Username, d.Password = "PLAIN", "u", "p" }, "destination.sasl_mechanism"},
		{"mechanism no user", func(d *herald.Destination) { d.SASLMechanism, d.Password = "plain", "p" }, "destination.username"},
		{"mechanism no password", func(d *herald.Destination) { d.SASLMechanism, d.Username = "scram-sha-256", "u" }, "destination.password"},
		{"user without mechanism", func(d *herald.Destination) { d.Username = "u" }, "destination.username"},
		{"password without mechanism", func(d *herald.Destination) { d.Password = "p" }, "destination.password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ok()
			tt.edit(&d)
			err := NewKafka().Check(&d)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			fe, isField := errors.AsType[*shape.FieldError](err)
			if !isField {
				t.Fatalf("Check = %v (%T), want a *shape.FieldError on %s", err, err, tt.field)
			}
			if fe.Field != tt.field {
				t.Fatalf("Check names %s (%v), want %s", fe.Field, fe, tt.field)
			}
			if !strings.Contains(fe.Msg, tt.field) {
				t.Errorf("message %q does not name %s", fe.Msg, tt.field)
			}
		})
	}
	if err := NewKafka().Check(nil); err == nil {
		t.Error("Check(nil) passed")
	}
}

func TestKafkaHostsAndName(t *testing.T) {
	k := NewKafka()
	if k.Name() != herald.KindKafka {
		t.Fatalf("Name = %q", k.Name())
	}
	got := k.Hosts(&herald.Destination{Brokers: []string{"a.example:19092", "b.example", "[::1]", "[::1]:9093"}})
	want := []string{"a.example:19092", "b.example:9092", "[::1]:9092", "[::1]:9093"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Hosts = %v, want %v", got, want)
	}
	found := false
	for _, kk := range Kinds() {
		found = found || kk.Name() == herald.KindKafka
	}
	if !found {
		t.Fatal("Kinds() lacks kafka")
	}
}

// kafkaTopic is a topic name of its own for a test.
func kafkaTopic(t *testing.T) string {
	name := regexp.MustCompile(`[^a-zA-Z0-9._-]`).ReplaceAllString(t.Name(), "_")
	return fmt.Sprintf("%s-%08x", name, rand.Uint32())
}

// kafkaCluster starts an in-process Kafka cluster for one test, with the
// topics given (one partition each, so that records keep their order).
func kafkaCluster(t *testing.T, topics []string, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, topics...)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func kafkaOpen(t *testing.T, d *herald.Destination, env outbound.Env) outbound.Client {
	t.Helper()
	cl, err := NewKafka().Open(testCtx(t), d, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// kafkaMessage is a delivery's message to the destination, as the
// outbound layer hands it over.
func kafkaMessage(d *herald.Destination, id string, body string) *outbound.Message {
	return &outbound.Message{
		Dest: d,
		ID:   id,
		Headers: []outbound.Header{
			{Name: "webhook-id", Value: id},
			{Name: "webhook-timestamp", Value: "1767225600"},
			{Name: "webhook-signature", Value: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
			{Name: "content-type", Value: "application/json"},
			{Name: "x-tenant", Value: "acme é"},
		},
		Body: []byte(body),
	}
}

// kafkaConsume reads topic from the start until want records came, or
// fails the test at the deadline.
func kafkaConsume(t *testing.T, addrs []string, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s before the deadline", len(recs), want, topic)
		}
		for _, e := range fs.Errors() {
			t.Logf("fetch %s[%d]: %v", e.Topic, e.Partition, e.Err)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func TestKafkaPublishArrives(t *testing.T) {
	topic := kafkaTopic(t)
	c := kafkaCluster(t, []string{topic})
	d := &herald.Destination{Brokers: c.ListenAddrs(), Topic: topic, Key: "{{payload.customer}}"}
	cl := kafkaOpen(t, d, testEnv())

	body := "{\"type\":\"order.paid\",\"data\":{\"id\":1,\"note\":\"\\u00e9 \\n\"}}\x00\xff"
	m := kafkaMessage(&herald.Destination{Brokers: d.Brokers, Topic: topic, Key: "cust_42"}, "msg_2abc", body)
	ack, err := cl.Publish(testCtx(t), m)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if ack != "partition 0 offset 0" {
		t.Fatalf("ack = %q", ack)
	}
	// A message without a key goes without one.
	m2 := kafkaMessage(&herald.Destination{Brokers: d.Brokers, Topic: topic}, "msg_2abd", "second")
	if ack, err := cl.Publish(testCtx(t), m2); err != nil || ack != "partition 0 offset 1" {
		t.Fatalf("Publish 2 = %q, %v", ack, err)
	}

	recs := kafkaConsume(t, c.ListenAddrs(), topic, 2)
	r := recs[0]
	if string(r.Value) != body {
		t.Errorf("body = %q, want %q", r.Value, body)
	}
	if string(r.Key) != "cust_42" {
		t.Errorf("key = %q", r.Key)
	}
	if len(r.Headers) != len(m.Headers) {
		t.Fatalf("headers = %v, want %v", r.Headers, m.Headers)
	}
	for i, h := range m.Headers {
		if r.Headers[i].Key != h.Name || string(r.Headers[i].Value) != h.Value {
			t.Errorf("header %d = %s: %q, want %s: %q", i, r.Headers[i].Key, r.Headers[i].Value, h.Name, h.Value)
		}
	}
	if recs[1].Key != nil || string(recs[1].Value) != "second" {
		t.Errorf("second record: key %q value %q", recs[1].Key, recs[1].Value)
	}

	// A topic template that renders to a name Kafka refuses is a render
	// error, before anything is sent.
	bad := kafkaMessage(&herald.Destination{Brokers: d.Brokers, Topic: "orders/paid"}, "msg_x", "x")
	if _, err := cl.Publish(testCtx(t), bad); outbound.ErrorKindOf(err) != herald.ErrorKindRender {
		t.Fatalf("bad rendered topic: %v (%s)", err, outbound.ErrorKindOf(err))
	}
}

// gateDialer dials through while up; down refuses new dials and cuts the
// connections it handed out, as a broker that went away.
type gateDialer struct {
	mu    sync.Mutex
	down  bool
	conns []net.Conn
	dials int
}

func (g *gateDialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dials++
	if g.down {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		g.conns = append(g.conns, c)
	}
	return c, err
}

func (g *gateDialer) set(down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down = down
	if down {
		for _, c := range g.conns {
			c.Close()
		}
		g.conns = nil
	}
}

func (g *gateDialer) dialCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.dials
}

func TestKafkaBrokerDown(t *testing.T) {
	topic := kafkaTopic(t)
	c := kafkaCluster(t, []string{topic})
	g := &gateDialer{}
	env := testEnv()
	env.Dial = g.Dial
	d := &herald.Destination{Brokers: c.ListenAddrs(), Topic: topic}
	cl := kafkaOpen(t, d, env)

	if _, err := cl.Publish(testCtx(t), kafkaMessage(d, "msg_before", "before")); err != nil {
		t.Fatalf("Publish before: %v", err)
	}
	if g.dialCount() == 0 {
		t.Fatal("the client connected without env.Dial")
	}

	g.set(true)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := cl.Publish(ctx, kafkaMessage(d, "msg_down", "down"))
	if err == nil {
		t.Fatal("Publish while the broker is down succeeded")
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("Publish took %v, past its 3s context", el)
	}
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindConnect {
		t.Fatalf("down: error kind %s (%v), want connect", k, err)
	}

	g.set(false)
	ack, err := cl.Publish(testCtx(t), kafkaMessage(d, "msg_after", "after"))
	if err != nil {
		t.Fatalf("Publish after the broker came back: %v", err)
	}
	t.Logf("after: %s", ack)
	// One partition keeps the order: the failed record, had it been
	// written, would come before "after".
	recs := kafkaConsume(t, c.ListenAddrs(), topic, 2)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Value))
	}
	if strings.Join(got, ",") != "before,after" {
		t.Fatalf("records = %v, want [before after]", got)
	}
}

// kafkaRefuseProduce makes the cluster answer every produce with code.
func kafkaRefuseProduce(c *kfake.Cluster, code int16) {
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

func TestKafkaNotAcknowledged(t *testing.T) {
	t.Run("refused record", func(t *testing.T) {
		topic := kafkaTopic(t)
		c := kafkaCluster(t, []string{topic})
		kafkaRefuseProduce(c, kerr.InvalidRecord.Code)
		d := &herald.Destination{Brokers: c.ListenAddrs(), Topic: topic}
		_, err := kafkaOpen(t, d, testEnv()).Publish(testCtx(t), kafkaMessage(d, "msg_1", "x"))
		if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRejected {
			t.Fatalf("error kind %s (%v), want rejected", k, err)
		}
	})
	t.Run("not enough replicas", func(t *testing.T) {
		// Retriable on the broker's word: retried until the context ends.
		topic := kafkaTopic(t)
		c := kafkaCluster(t, []string{topic})
		kafkaRefuseProduce(c, kerr.NotEnoughReplicas.Code)
		d := &herald.Destination{Brokers: c.ListenAddrs(), Topic: topic}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		ack, err := kafkaOpen(t, d, testEnv()).Publish(ctx, kafkaMessage(d, "msg_1", "x"))
		if err == nil {
			t.Fatalf("Publish succeeded (%s) without an acknowledgement", ack)
		}
		if k := outbound.ErrorKindOf(err); k != herald.ErrorKindTimeout {
			t.Fatalf("error kind %s (%v), want timeout", k, err)
		}
	})
	t.Run("unknown topic", func(t *testing.T) {
		c := kafkaCluster(t, nil)
		d := &herald.Destination{Brokers: c.ListenAddrs(), Topic: kafkaTopic(t)}
		_, err := kafkaOpen(t, d, testEnv()).Publish(testCtx(t), kafkaMessage(d, "msg_1", "x"))
		if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRejected {
			t.Fatalf("error kind %s (%v), want rejected", k, err)
		}
		if !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Errorf("error %v does not say the topic is unknown", err)
		}
	})
}

func TestKafkaAuth(t *testing.T) {
	for _, mech := range []struct{ kfake, herald string }{
		{"SCRAM-SHA-256", "scram-sha-256"},
		{"SCRAM-SHA-512", "scram-sha-512"},
		{"PLAIN", "plain"},
	} {
		t.Run(mech.herald, func(t *testing.T) {
			topic := kafkaTopic(t)
			c := kafkaCluster(t, []string{topic}, kfake.EnableSASL(), kfake.Superuser(mech.kfake, "herald", "right-password"))
			good := &herald.Destination{Brokers: c.ListenAddrs(), Topic: topic,
				SASLMechanism: mech.herald, Username: "herald", Password: "right-password"}
			if ack, err := kafkaOpen(t, good, testEnv()).Publish(testCtx(t), kafkaMessage(good, "msg_1", "x")); err != nil {
				t.Fatalf("good login: %v", err)
			} else {
				t.Logf("good login: %s", ack)
			}
			bad := *good
			bad.Password = "wrong-password"
			badCl := kafkaOpen(t, &bad, testEnv())
			_, err := badCl.Publish(testCtx(t), kafkaMessage(&bad, "msg_2", "x"))
			if k := outbound.ErrorKindOf(err); k != herald.ErrorKindAuth {
				t.Fatalf("wrong password: error kind %s (%v), want auth", k, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := badCl.Publish(ctx, kafkaMessage(&bad, "msg_3", "x")); outbound.ErrorKindOf(err) != herald.ErrorKindAuth {
				t.Fatalf("wrong password, again: %v (%s), want auth", err, outbound.ErrorKindOf(err))
			}
		})
	}
}

func TestKafkaConcurrentPublish(t *testing.T) {
	topic := kafkaTopic(t)
	c := kafkaCluster(t, []string{topic})
	d := &herald.Destination{Brokers: c.ListenAddrs(), Topic: topic}
	cl := kafkaOpen(t, d, testEnv())
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf("body-%d", i)
			if _, err := cl.Publish(testCtx(t), kafkaMessage(d, fmt.Sprintf("msg_%d", i), body)); err != nil {
				errs <- fmt.Errorf("publish %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for _, r := range kafkaConsume(t, c.ListenAddrs(), topic, n) {
		if seen[string(r.Value)] {
			t.Errorf("%s arrived twice", r.Value)
		}
		seen[string(r.Value)] = true
	}
	for i := range n {
		if !seen[fmt.Sprintf("body-%d", i)] {
			t.Errorf("body-%d did not arrive", i)
		}
	}
}

func TestKafkaCloseThenPublish(t *testing.T) {
	topic := kafkaTopic(t)
	c := kafkaCluster(t, []string{topic})
	d := &herald.Destination{Brokers: c.ListenAddrs(), Topic: topic}
	cl, err := NewKafka().Open(testCtx(t), d, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Publish(testCtx(t), kafkaMessage(d, "msg_1", "x")); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if ack, err := cl.Publish(testCtx(t), kafkaMessage(d, "msg_2", "x")); err == nil {
		t.Fatalf("Publish after Close succeeded: %s", ack)
	}
}

func TestKafkaOpenRefusesBadDestination(t *testing.T) {
	_, err := NewKafka().Open(testCtx(t), &herald.Destination{Topic: "t"}, testEnv())
	if fe, ok := errors.AsType[*shape.FieldError](err); !ok || fe.Field != "destination.brokers" {
		t.Fatalf("Open = %v", err)
	}
}

func TestKafkaPolicyAppliesToEveryDial(t *testing.T) {
	topic := kafkaTopic(t)
	c := kafkaCluster(t, []string{topic})
	env := testEnv()
	var asked []string
	var mu sync.Mutex
	env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		asked = append(asked, addr)
		mu.Unlock()
		return nil, &netpolicy.BlockedError{Addr: netip.MustParseAddr("127.0.0.1"), Rule: "private"}
	}
	d := &herald.Destination{Brokers: c.ListenAddrs(), Topic: topic}
	// A refusal does not mend by waiting: the Publish ends without
	// waiting for its context.
	start := time.Now()
	_, err := kafkaOpen(t, d, env).Publish(testCtx(t), kafkaMessage(d, "msg_1", "x"))
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("Publish took %v", el)
	}
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindPolicy {
		t.Fatalf("error kind %s (%v), want policy", k, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 || asked[0] != c.ListenAddrs()[0] {
		t.Fatalf("env.Dial was asked for %v", asked)
	}
}

func TestKafkaTLSUnknownAuthority(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kfake"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	topic := kafkaTopic(t)
	c := kafkaCluster(t, []string{topic}, kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}))
	d := &herald.Destination{Brokers: c.ListenAddrs(), Topic: topic, TLS: true}
	start := time.Now()
	_, err = kafkaOpen(t, d, testEnv()).Publish(testCtx(t), kafkaMessage(d, "msg_1", "x"))
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("Publish took %v", el)
	}
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindTLS {
		t.Fatalf("error kind %s (%v), want tls", k, err)
	}
}

func TestKafkaTopicsBounded(t *testing.T) {
	d := &herald.Destination{Brokers: []string{"127.0.0.1:1"}, Topic: "t"}
	cl, err := NewKafka().Open(testCtx(t), d, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kc := cl.(*kafkaClient)
	if err := kc.enter("busy"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 * kafkaMaxTopics {
		topic := fmt.Sprintf("t%d", i)
		if err := kc.enter(topic); err != nil {
			// Only while a drop is under way, and then as a refusal.
			if outbound.ErrorKindOf(err) != herald.ErrorKindRejected {
				t.Fatalf("enter %s: %v", topic, err)
			}
			continue
		}
		kc.leave(topic)
	}
	kc.tmu.Lock()
	n, busy := len(kc.topics), kc.topics["busy"]
	kc.tmu.Unlock()
	if n > 2*kafkaMaxTopics || busy != 1 {
		t.Fatalf("%d topics kept (busy: %d), want at most %d with busy kept", n, busy, 2*kafkaMaxTopics)
	}
}

func TestKafkaRecordTooLarge(t *testing.T) {
	topic := kafkaTopic(t)
	c := kafkaCluster(t, []string{topic})
	d := &herald.Destination{Brokers: c.ListenAddrs(), Topic: topic}
	cl := kafkaOpen(t, d, testEnv())
	_, err := cl.Publish(testCtx(t), kafkaMessage(d, "msg_big", strings.Repeat("x", 2<<20)))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRejected {
		t.Fatalf("2 MiB record: error kind %s (%v), want rejected", k, err)
	}
	// The client goes on with the next one.
	if _, err := cl.Publish(testCtx(t), kafkaMessage(d, "msg_small", "small")); err != nil {
		t.Fatalf("after the large record: %v", err)
	}
}

func TestKafkaClusterRestart(t *testing.T) {
	// The cluster itself goes away and comes back on the same port, as a
	// broker restarting (without its data: a new cluster).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	topic := kafkaTopic(t)
	c1 := kafkaCluster(t, []string{topic}, kfake.Ports(port))
	d := &herald.Destination{Brokers: c1.ListenAddrs(), Topic: topic}
	cl := kafkaOpen(t, d, testEnv())
	if _, err := cl.Publish(testCtx(t), kafkaMessage(d, "msg_1", "first")); err != nil {
		t.Fatalf("first: %v", err)
	}
	c1.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = cl.Publish(ctx, kafkaMessage(d, "msg_2", "while down"))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindConnect {
		t.Fatalf("down: error kind %s (%v), want connect", k, err)
	}
	c2 := kafkaCluster(t, []string{topic}, kfake.Ports(port))
	if _, err := cl.Publish(testCtx(t), kafkaMessage(d, "msg_3", "after")); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	recs := kafkaConsume(t, c2.ListenAddrs(), topic, 1)
	if len(recs) != 1 || string(recs[0].Value) != "after" {
		t.Fatalf("records after the restart: %d, first %q", len(recs), recs[0].Value)
	}
}
