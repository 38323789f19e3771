package e2e_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	goawsapp "github.com/Admiral-Piett/goaws/app"
	goawsrouter "github.com/Admiral-Piett/goaws/app/router"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
)

// The brokers this machine runs on loopback.
const (
	natsAddr   = "127.0.0.1:4222"
	rabbitAddr = "127.0.0.1:5672"
	redisAddr  = "127.0.0.1:6379"
	mqttAddr   = "127.0.0.1:1883"
)

// message is one message as a consumer reads it from a broker: its
// headers (or attributes, properties, fields) by name, and its body.
type message struct {
	headers map[string]string
	body    []byte
}

// target is a destination set up on a broker for one test.
type target struct {
	dest map[string]any
	// read returns what arrived since its last call, waiting a moment
	// for something to come.
	read func(t *testing.T) []message
	// ack starts the history's record of the broker's acknowledgement.
	ack string
	// down and up take the broker away and bring it back.
	down, up func()
}

// kindCase is how the tests set up one kind's broker.
type kindCase struct {
	kind string
	// open makes a destination; with downable, one the test can take
	// away (a proxy in front of the broker, or a cluster restarted).
	open func(t *testing.T, downable bool) *target
	// refuse makes a destination whose broker refuses the publish until
	// fix is called.
	refuse func(t *testing.T) (tg *target, fix func())
	// creds makes a destination that logs in, and returns its
	// credentials; a target without read is only saved, not delivered to.
	creds func(t *testing.T) (tg *target, secrets []string)
}

var kinds = []kindCase{
	{kind: "nats", open: natsOpen, refuse: natsRefuse, creds: natsCreds},
	{kind: "rabbitmq", open: rabbitOpen, refuse: rabbitRefuse, creds: rabbitCreds},
	{kind: "kafka", open: kafkaOpen, refuse: kafkaRefuse, creds: kafkaCreds},
	{kind: "redis", open: redisOpen, refuse: redisRefuse, creds: redisCreds},
	{kind: "mqtt", open: mqttOpen, refuse: mqttRefuse, creds: mqttCreds},
	{kind: "gcp_pubsub", open: pubsubOpen, refuse: pubsubRefuse, creds: pubsubCreds},
	{kind: "aws_sqs", open: sqsOpen, refuse: sqsRefuse, creds: sqsCreds},
}

// name is unique to the test: t.Name() made safe for any broker, and a
// random suffix.
func name(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
	if len(n) > 40 {
		n = n[len(n)-40:]
	}
	return strings.Trim(n, "-") + "-" + hex.EncodeToString(b)
}

func random(t *testing.T) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// via is addr, or a proxy in front of it set on tg when downable.
func via(t *testing.T, tg *target, addr string, downable bool) string {
	if !downable {
		return addr
	}
	p := brokertest.NewProxy(t, addr)
	tg.down, tg.up = p.Down, p.Up
	return p.Addr()
}

// drain reads what ch holds, waiting up to 300 ms for the first.
func drain[T any](ch <-chan T) []T {
	var out []T
	wait := time.After(300 * time.Millisecond)
	for {
		if len(out) > 0 {
			select {
			case v := <-ch:
				out = append(out, v)
			default:
				return out
			}
			continue
		}
		select {
		case v := <-ch:
			out = append(out, v)
		case <-wait:
			return out
		}
	}
}

// ---- NATS (JetStream on the machine's server)

func natsStream(t *testing.T, mk bool) (stream, subject string, create func(), read func(t *testing.T) []message) {
	brokertest.NeedService(t, "NATS", natsAddr)
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	n := name(t)
	stream = "HERALD_E2E_" + strings.ToUpper(strings.ReplaceAll(n, "-", "_"))
	subject = "herald-e2e." + n
	ch := make(chan *nats.Msg, 256)
	// The test's subscriber comes with the stream: before it, nothing
	// may answer a publish to the subject, so that JetStream's "no
	// responders" refuses it.
	create = func() {
		ctx := ctxFor(t)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}, Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatal(err)
		}
		sub, err := nc.ChanSubscribe(subject, ch)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, stream)
	})
	if mk {
		create()
	}
	read = func(t *testing.T) []message {
		var out []message
		for _, m := range drain(ch) {
			out = append(out, natsMessage(m))
		}
		return out
	}
	return stream, subject, create, read
}

func natsMessage(m *nats.Msg) message {
	h := map[string]string{}
	for k, v := range m.Header {
		h[k] = v[0]
	}
	return message{headers: h, body: m.Data}
}

func natsOpen(t *testing.T, downable bool) *target {
	stream, subject, _, read := natsStream(t, true)
	tg := &target{read: read, ack: "stream " + stream + " seq "}
	tg.dest = map[string]any{"url": "nats://" + via(t, tg, natsAddr, downable), "subject": subject, "stream": stream}
	return tg
}

func natsRefuse(t *testing.T) (*target, func()) {
	// The stream does not exist yet: JetStream has no responder for the
	// subject, and the publish is not acknowledged.
	stream, subject, create, read := natsStream(t, false)
	return &target{read: read, ack: "stream " + stream + " seq ",
		dest: map[string]any{"url": "nats://" + natsAddr, "subject": subject, "stream": stream}}, create
}

func natsCreds(t *testing.T) (*target, []string) {
	password := "nats-pw-" + random(t)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, Username: "herald", Password: password, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	addr := s.Addr().String()
	nc, err := nats.Connect("nats://"+addr, nats.UserInfo("herald", password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	subject := "herald-e2e." + name(t)
	ch := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe(subject, ch); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	read := func(t *testing.T) []message {
		var out []message
		for _, m := range drain(ch) {
			out = append(out, natsMessage(m))
		}
		return out
	}
	return &target{read: read, ack: "flushed to server",
		dest: map[string]any{"url": "nats://" + addr, "username": "herald", "password": password, "subject": subject}}, []string{password}
}

// ---- RabbitMQ

type rabbitBox struct {
	ch                   *amqp.Channel
	exchange, queue, key string
	deliveries           <-chan amqp.Delivery
}

func rabbitSetup(t *testing.T, url string, bind bool) *rabbitBox {
	brokertest.NeedService(t, "RabbitMQ", rabbitAddr)
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("test connection: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	n := name(t)
	b := &rabbitBox{ch: ch, exchange: n + "-x", queue: n + "-q", key: "events." + n}
	if err := ch.ExchangeDeclare(b.exchange, "direct", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.ExchangeDelete(b.exchange, false, false) })
	if bind {
		b.bind(t)
	}
	return b
}

func (b *rabbitBox) bind(t *testing.T) {
	if _, err := b.ch.QueueDeclare(b.queue, false, true, true, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.ch.QueueBind(b.queue, b.key, b.exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	d, err := b.ch.Consume(b.queue, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.deliveries = d
}

func (b *rabbitBox) read(t *testing.T) []message {
	if b.deliveries == nil {
		return nil
	}
	var out []message
	for _, d := range drain(b.deliveries) {
		h := map[string]string{}
		for k, v := range d.Headers {
			h[k] = fmt.Sprint(v)
		}
		out = append(out, message{headers: h, body: d.Body})
	}
	return out
}

func rabbitOpen(t *testing.T, downable bool) *target {
	b := rabbitSetup(t, "amqp://guest:guest@"+rabbitAddr+"/", true)
	tg := &target{read: b.read, ack: "confirmed by exchange " + b.exchange}
	tg.dest = map[string]any{"url": "amqp://guest:guest@" + via(t, tg, rabbitAddr, downable) + "/", "exchange": b.exchange, "routing_key": b.key}
	return tg
}

func rabbitRefuse(t *testing.T) (*target, func()) {
	// No queue is bound for the routing key: the broker returns the
	// message as unroutable.
	b := rabbitSetup(t, "amqp://guest:guest@"+rabbitAddr+"/", false)
	return &target{read: b.read, ack: "confirmed by exchange " + b.exchange,
		dest: map[string]any{"url": "amqp://guest:guest@" + rabbitAddr + "/", "exchange": b.exchange, "routing_key": b.key}}, func() { b.bind(t) }
}

// rabbitCreds logs in as a user of the test's own, made with rabbitmqctl
// (the broker runs here, as the same user).
func rabbitCreds(t *testing.T) (*target, []string) {
	brokertest.NeedService(t, "RabbitMQ", rabbitAddr)
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/rabbitmqctl"); serr != nil {
			if os.Getenv("HERALD_CI") != "" {
				t.Fatalf("rabbitmqctl is not installed: %v", err)
			}
			t.Skipf("rabbitmqctl is not installed, so no user can be made: %v", err)
		}
		ctl = "/usr/sbin/rabbitmqctl"
	}
	user, password := "herald-"+random(t), "rabbit-pw-"+random(t)
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, ctl, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("rabbitmqctl %s: %v: %s", args[0], err, out)
		}
		return nil
	}
	if err := run("add_user", user, password); err != nil {
		// rabbitmqctl needs the broker's Erlang cookie, which only root
		// or the broker's own user can read.
		if os.Getenv("HERALD_CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	t.Cleanup(func() {
		if err := run("delete_user", user); err != nil {
			t.Error(err)
		}
	})
	if err := run("set_permissions", "-p", "/", user, ".*", ".*", ".*"); err != nil {
		t.Fatal(err)
	}
	url := "amqp://" + user + ":" + password + "@" + rabbitAddr + "/"
	b := rabbitSetup(t, url, true)
	return &target{read: b.read, ack: "confirmed by exchange " + b.exchange,
		dest: map[string]any{"url": url, "exchange": b.exchange, "routing_key": b.key}}, []string{password}
}

// ---- Kafka (kfake, in process)

type kafkaBox struct {
	mu      sync.Mutex
	cluster *kfake.Cluster
	topic   string
	opts    []kfake.Opt
	client  []kgo.Opt
	seen    int
}

func (k *kafkaBox) start(t *testing.T) {
	c, err := kfake.NewCluster(k.opts...)
	if err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	k.cluster = c
	k.mu.Unlock()
}

func (k *kafkaBox) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cluster != nil {
		k.cluster.Close()
		k.cluster = nil
	}
}

func (k *kafkaBox) addrs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cluster.ListenAddrs()
}

// read reads the topic from its start with a new consumer, and returns the
// records past those it returned before.
func (k *kafkaBox) read(t *testing.T) []message {
	opts := append([]kgo.Opt{kgo.SeedBrokers(k.addrs()...), kgo.ConsumeTopics(k.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond)}, k.client...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var recs []*kgo.Record
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		recs = append(recs, fs.Records()...)
		if len(recs) > k.seen {
			break
		}
	}
	var out []message
	for i, r := range recs {
		if i < k.seen {
			continue
		}
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		out = append(out, message{headers: h, body: r.Value})
	}
	if len(recs) > k.seen {
		k.seen = len(recs)
	}
	return out
}

func newKafka(t *testing.T, topics bool, opts ...kfake.Opt) *kafkaBox {
	k := &kafkaBox{topic: name(t)}
	k.opts = []kfake.Opt{kfake.NumBrokers(1)}
	if topics {
		k.opts = append(k.opts, kfake.SeedTopics(1, k.topic))
	}
	k.opts = append(k.opts, opts...)
	k.start(t)
	t.Cleanup(k.stop)
	return k
}

func kafkaOpen(t *testing.T, downable bool) *target {
	var k *kafkaBox
	if downable {
		// The brokers advertise their own address, so a proxy in front of
		// the bootstrap address would not hold them: the cluster stops and
		// starts again on the same port instead.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		k = newKafka(t, true, kfake.Ports(port))
	} else {
		k = newKafka(t, true)
	}
	tg := &target{read: k.read, ack: "partition ", dest: map[string]any{"brokers": k.addrs(), "topic": k.topic}}
	if downable {
		tg.down, tg.up = k.stop, func() { k.start(t) }
	}
	return tg
}

func kafkaRefuse(t *testing.T) (*target, func()) {
	// The topic does not exist, and Herald never asks for it to be made.
	k := newKafka(t, false)
	fix := func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(k.addrs()...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = k.topic, 1, 1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxFor(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		if c := resp.Topics[0].ErrorCode; c != 0 {
			t.Fatalf("create topic: error code %d", c)
		}
	}
	return &target{read: k.read, ack: "partition ", dest: map[string]any{"brokers": k.addrs(), "topic": k.topic}}, fix
}

func kafkaCreds(t *testing.T) (*target, []string) {
	password := "kafka-pw-" + random(t)
	k := newKafka(t, true, kfake.EnableSASL(), kfake.Superuser("PLAIN", "herald", password))
	k.client = []kgo.Opt{kgo.SASL(plain.Auth{User: "herald", Pass: password}.AsMechanism())}
	return &target{read: k.read, ack: "partition ", dest: map[string]any{"brokers": k.addrs(), "topic": k.topic,
		"sasl_mechanism": "plain", "username": "herald", "password": password}}, []string{password}
}

// ---- Redis Streams

func redisReader(admin *redis.Client, key string) func(t *testing.T) []message {
	last := "-"
	return func(t *testing.T) []message {
		deadline := time.Now().Add(300 * time.Millisecond)
		for {
			res, err := admin.Do(ctxFor(t), "XRANGE", key, last, "+").Slice()
			if err != nil && !strings.Contains(err.Error(), "WRONGTYPE") {
				t.Fatalf("XRANGE %s: %v", key, err)
			}
			var out []message
			for _, r := range res {
				pair := r.([]any)
				id := pair[0].(string)
				if id == last {
					continue
				}
				last = id
				m := message{headers: map[string]string{}}
				f := pair[1].([]any)
				for i := 0; i+1 < len(f); i += 2 {
					if f[i].(string) == "body" {
						m.body = []byte(f[i+1].(string))
					} else {
						m.headers[f[i].(string)] = f[i+1].(string)
					}
				}
				out = append(out, m)
			}
			if len(out) > 0 || time.Now().After(deadline) {
				return out
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func redisKey(t *testing.T, addr, password string) (*redis.Client, string) {
	admin := redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { admin.Close() })
	key := "herald-e2e:" + name(t)
	t.Cleanup(func() { admin.Del(context.Background(), key) })
	return admin, key
}

func redisOpen(t *testing.T, downable bool) *target {
	brokertest.NeedService(t, "Redis", redisAddr)
	admin, key := redisKey(t, redisAddr, "")
	tg := &target{read: redisReader(admin, key), ack: "entry "}
	tg.dest = map[string]any{"url": "redis://" + via(t, tg, redisAddr, downable), "stream": key}
	return tg
}

func redisRefuse(t *testing.T) (*target, func()) {
	// The key holds a string: XADD answers WRONGTYPE.
	brokertest.NeedService(t, "Redis", redisAddr)
	admin, key := redisKey(t, redisAddr, "")
	if err := admin.Set(ctxFor(t), key, "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	return &target{read: redisReader(admin, key), ack: "entry ", dest: map[string]any{"url": "redis://" + redisAddr, "stream": key}},
		func() {
			if err := admin.Del(ctxFor(t), key).Err(); err != nil {
				t.Fatal(err)
			}
		}
}

func redisCreds(t *testing.T) (*target, []string) {
	password := "redis-pw-" + random(t)
	addr := brokertest.StartRedis(t, "--requirepass", password)
	admin, key := redisKey(t, addr, password)
	return &target{read: redisReader(admin, key), ack: "entry ", dest: map[string]any{"url": "redis://:" + password + "@" + addr, "stream": key}}, []string{password}
}

// ---- MQTT 5

func mqttSubscribe(t *testing.T, addr, topic, username, password string) func(t *testing.T) []message {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *paho.Publish, 256)
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			ch <- p.Packet
			return true, nil
		}},
	})
	cp := &paho.Connect{ClientID: "herald-e2e-" + random(t), KeepAlive: 30, CleanStart: true}
	if username != "" {
		cp.Username, cp.UsernameFlag, cp.Password, cp.PasswordFlag = username, true, []byte(password), true
	}
	ctx := ctxFor(t)
	if _, err := c.Connect(ctx, cp); err != nil {
		t.Fatalf("subscriber connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}})
	if err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] >= 0x80 {
		t.Fatalf("subscribe %s refused: %v", topic, sa.Reasons)
	}
	return func(t *testing.T) []message {
		var out []message
		for _, p := range drain(ch) {
			h := map[string]string{}
			if p.Properties != nil {
				for _, u := range p.Properties.User {
					h[u.Key] = u.Value
				}
			}
			out = append(out, message{headers: h, body: p.Payload})
		}
		return out
	}
}

func mqttOpen(t *testing.T, downable bool) *target {
	brokertest.NeedService(t, "Mosquitto", mqttAddr)
	topic := "herald-e2e/" + name(t)
	tg := &target{read: mqttSubscribe(t, mqttAddr, topic, "", ""), ack: "PUBACK"}
	tg.dest = map[string]any{"url": "mqtt://" + via(t, tg, mqttAddr, downable), "topic": topic}
	return tg
}

func mqttRefuse(t *testing.T) (*target, func()) {
	// The ACL lets the user read the topic but not publish to it: the
	// PUBACK says 0x87, not authorized.
	password := "mqtt-pw-" + random(t)
	m := brokertest.StartMosquitto(t, "herald", password, "user herald\ntopic read herald/#\n")
	topic := "herald/e2e/" + name(t)
	read := mqttSubscribe(t, m.Addr, topic, "herald", password)
	return &target{read: read, ack: "PUBACK", dest: map[string]any{"url": "mqtt://" + m.Addr, "username": "herald", "password": password, "topic": topic}},
		func() { m.SetACL("user herald\ntopic readwrite herald/#\n") }
}

func mqttCreds(t *testing.T) (*target, []string) {
	password := "mqtt-pw-" + random(t)
	m := brokertest.StartMosquitto(t, "herald", password, "user herald\ntopic readwrite herald/#\n")
	topic := "herald/e2e/" + name(t)
	read := mqttSubscribe(t, m.Addr, topic, "herald", password)
	return &target{read: read, ack: "PUBACK", dest: map[string]any{"url": "mqtt://" + m.Addr, "username": "herald", "password": password, "topic": topic}}, []string{password}
}

// ---- Google Pub/Sub (pstest, in process)

const pubsubProject = "herald-e2e"

type pubsubBox struct {
	admin      *pubsub.Client
	topic, sub string
	ready      bool
}

func newPubSub(t *testing.T) (*pubsubBox, string) {
	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	t.Cleanup(func() { srv.Close() })
	admin, err := pubsub.NewClient(ctxFor(t), pubsubProject, option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	n := name(t)
	return &pubsubBox{admin: admin, topic: n, sub: "projects/" + pubsubProject + "/subscriptions/" + n + "-sub"}, srv.Addr
}

func (b *pubsubBox) create(t *testing.T) {
	ctx := ctxFor(t)
	topic := "projects/" + pubsubProject + "/topics/" + b.topic
	if _, err := b.admin.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.admin.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{Name: b.sub, Topic: topic, AckDeadlineSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	b.ready = true
}

func (b *pubsubBox) read(t *testing.T) []message {
	if !b.ready {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := b.admin.SubscriptionAdminClient.Pull(ctx, &pb.PullRequest{Subscription: b.sub, MaxMessages: 100})
	if err != nil {
		return nil
	}
	var out []message
	var ids []string
	for _, m := range r.ReceivedMessages {
		out = append(out, message{headers: m.Message.Attributes, body: m.Message.Data})
		ids = append(ids, m.AckId)
	}
	if len(ids) > 0 {
		if err := b.admin.SubscriptionAdminClient.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: b.sub, AckIds: ids}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func pubsubOpen(t *testing.T, downable bool) *target {
	b, addr := newPubSub(t)
	b.create(t)
	tg := &target{read: b.read, ack: "message id "}
	tg.dest = map[string]any{"project": pubsubProject, "topic": b.topic, "endpoint": via(t, tg, addr, downable)}
	return tg
}

func pubsubRefuse(t *testing.T) (*target, func()) {
	// No such topic: Pub/Sub answers NotFound, no message id.
	b, addr := newPubSub(t)
	return &target{read: b.read, ack: "message id ", dest: map[string]any{"project": pubsubProject, "topic": b.topic, "endpoint": addr}},
		func() { b.create(t) }
}

// pubsubCreds is saved only: a service-account key is for Google itself,
// and an emulator endpoint takes none.
func pubsubCreds(t *testing.T) (*target, []string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	keyID := random(t)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	js, _ := json.Marshal(map[string]any{
		"type": "service_account", "project_id": pubsubProject, "private_key_id": keyID, "private_key": pemKey,
		"client_email": "herald@herald-e2e.iam.gserviceaccount.com", "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token",
	})
	lines := strings.Split(pemKey, "\n")
	return &target{dest: map[string]any{"project": pubsubProject, "topic": "t-" + random(t), "credentials_json": string(js)}},
		[]string{keyID, lines[len(lines)/2]}
}

// ---- Amazon SQS (goaws, in process)

// goaws v0.4.5 speaks SQS's Query protocol only, while Herald's client
// speaks the JSON protocol (as the AWS SDKs do since 2023). sqsJSON stands
// in front of goaws and turns Herald's SendMessage into the Query form
// and the answer back, so that Herald runs as it would against SQS; the
// test's own client speaks Query to goaws directly.
var goawsOnce sync.Once

func newGoAWS(t *testing.T) (*httptest.Server, *sqs.Client) {
	goawsOnce.Do(func() {
		// goaws leaves SenderId empty without an account, which the
		// SDK's XML decoder refuses; and it logs every request.
		goawsapp.CurrentEnvironment.AccountID = "000000000000"
		logrus.SetLevel(logrus.WarnLevel)
	})
	srv := httptest.NewServer(sqsJSON(goawsrouter.New()))
	t.Cleanup(srv.Close)
	api := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAHERALDE2E0000001", "test", "")},
		func(o *sqs.Options) { o.Protocol = awsquery.New(schemas.AmazonSQS) })
	return srv, api
}

// sqsJSON translates SQS JSON-protocol SendMessage requests for next, a
// Query-protocol server; other requests pass as they are.
func sqsJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		if target == "" {
			next.ServeHTTP(w, r)
			return
		}
		fail := func(status int, code, msg string) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.Header().Set("X-Amzn-Query-Error", code+";Sender")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
		}
		if target != "AmazonSQS.SendMessage" {
			fail(400, "UnsupportedOperation", target+" is not translated")
			return
		}
		var in struct {
			QueueUrl, MessageBody, MessageGroupId, MessageDeduplicationId string
			MessageAttributes                                             map[string]struct{ DataType, StringValue string }
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			fail(400, "InvalidParameterValue", err.Error())
			return
		}
		form := url.Values{"Action": {"SendMessage"}, "Version": {"2012-11-05"}, "QueueUrl": {in.QueueUrl}, "MessageBody": {in.MessageBody}}
		if in.MessageGroupId != "" {
			form.Set("MessageGroupId", in.MessageGroupId)
		}
		if in.MessageDeduplicationId != "" {
			form.Set("MessageDeduplicationId", in.MessageDeduplicationId)
		}
		names := slices.Sorted(maps.Keys(in.MessageAttributes))
		for i, n := range names {
			p := fmt.Sprintf("MessageAttribute.%d.", i+1)
			form.Set(p+"Name", n)
			form.Set(p+"Value.DataType", in.MessageAttributes[n].DataType)
			form.Set(p+"Value.StringValue", in.MessageAttributes[n].StringValue)
		}
		q := httptest.NewRequest("POST", "/", strings.NewReader(form.Encode()))
		q.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, q)
		if rec.Code != http.StatusOK {
			var e struct {
				Error struct{ Code, Message string } `xml:"Error"`
			}
			_ = xml.Unmarshal(rec.Body.Bytes(), &e)
			fail(rec.Code, e.Error.Code, e.Error.Message)
			return
		}
		var out struct {
			Result struct {
				MD5OfMessageAttributes, MD5OfMessageBody, MessageId, SequenceNumber string
			} `xml:"SendMessageResult"`
		}
		if err := xml.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			fail(500, "InternalError", err.Error())
			return
		}
		ans := map[string]string{"MD5OfMessageBody": out.Result.MD5OfMessageBody, "MessageId": out.Result.MessageId}
		if out.Result.MD5OfMessageAttributes != "" {
			ans["MD5OfMessageAttributes"] = out.Result.MD5OfMessageAttributes
		}
		if out.Result.SequenceNumber != "" {
			ans["SequenceNumber"] = out.Result.SequenceNumber
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_ = json.NewEncoder(w).Encode(ans)
	})
}

type sqsBox struct {
	api       *sqs.Client
	name, url string
}

func (b *sqsBox) create(t *testing.T) {
	if _, err := b.api.CreateQueue(ctxFor(t), &sqs.CreateQueueInput{QueueName: aws.String(b.name)}); err != nil {
		t.Fatalf("create queue: %v", err)
	}
	t.Cleanup(func() { b.api.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(b.url)}) })
}

func (b *sqsBox) read(t *testing.T) []message {
	out, err := b.api.ReceiveMessage(ctxFor(t), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.url), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		return nil
	}
	var got []message
	for _, m := range out.Messages {
		h := map[string]string{}
		for k, v := range m.MessageAttributes {
			if v.StringValue != nil {
				h[k] = *v.StringValue
			}
		}
		got = append(got, message{headers: h, body: []byte(aws.ToString(m.Body))})
		_, _ = b.api.DeleteMessage(ctxFor(t), &sqs.DeleteMessageInput{QueueUrl: aws.String(b.url), ReceiptHandle: m.ReceiptHandle})
	}
	if len(got) == 0 {
		time.Sleep(100 * time.Millisecond)
	}
	return got
}

func newSQS(t *testing.T, create bool) (*sqsBox, string) {
	srv, api := newGoAWS(t)
	n := name(t)
	b := &sqsBox{api: api, name: n, url: srv.URL + "/000000000000/" + n}
	if create {
		b.create(t)
	}
	return b, strings.TrimPrefix(srv.URL, "http://")
}

func sqsDest(b *sqsBox, addr, secret string) map[string]any {
	return map[string]any{"queue_url": b.url, "region": "us-east-1", "endpoint": "http://" + addr,
		"access_key_id": "AKIAHERALDE2E0000001", "secret_access_key": secret}
}

func sqsOpen(t *testing.T, downable bool) *target {
	b, addr := newSQS(t, true)
	tg := &target{read: b.read, ack: "message id "}
	tg.dest = sqsDest(b, via(t, tg, addr, downable), "sqs-secret-"+random(t))
	return tg
}

func sqsRefuse(t *testing.T) (*target, func()) {
	// No such queue yet: SQS answers QueueDoesNotExist.
	b, addr := newSQS(t, false)
	return &target{read: b.read, ack: "message id ", dest: sqsDest(b, addr, "sqs-secret-"+random(t))}, func() { b.create(t) }
}

func sqsCreds(t *testing.T) (*target, []string) {
	b, addr := newSQS(t, true)
	secret := "sqs-secret-" + random(t)
	return &target{read: b.read, ack: "message id ", dest: sqsDest(b, addr, secret)}, []string{secret}
}
