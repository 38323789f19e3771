package broker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
	"github.com/heraldhq/herald/internal/shape"
)

const rabbitTestAddr = "127.0.0.1:5672"

// rabbitName is a name unique to the test, for its exchange and queue.
func rabbitName(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	n := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
	return "herald-" + n + "-" + hex.EncodeToString(b)
}

// rabbitQueue is what a test declares on the broker (Herald does not):
// a direct exchange and a queue bound to it with key, on the test's own
// connection, and a consumer of the queue.
type rabbitQueue struct {
	exchange, queue, key string
	ch                   *amqp.Channel
	deliveries           <-chan amqp.Delivery
}

func rabbitSetup(t *testing.T, queueArgs amqp.Table) *rabbitQueue {
	t.Helper()
	needService(t, "RabbitMQ", rabbitTestAddr)
	conn, err := amqp.Dial("amqp://guest:guest@" + rabbitTestAddr + "/")
	if err != nil {
		t.Fatalf("test connection: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	name := rabbitName(t)
	q := &rabbitQueue{exchange: name + "-x", queue: name + "-q", key: "events." + name, ch: ch}
	if err := ch.ExchangeDeclare(q.exchange, "direct", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.ExchangeDelete(q.exchange, false, false) })
	if _, err := ch.QueueDeclare(q.queue, false, true, true, false, queueArgs); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.queue, q.key, q.exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	return q
}

func (q *rabbitQueue) consume(t *testing.T) {
	t.Helper()
	d, err := q.ch.Consume(q.queue, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	q.deliveries = d
}

// next waits for the next message on the queue.
func (q *rabbitQueue) next(t *testing.T) amqp.Delivery {
	t.Helper()
	select {
	case d, ok := <-q.deliveries:
		if !ok {
			t.Fatal("the consumer's channel closed")
		}
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no message arrived within 10s")
	}
	return amqp.Delivery{}
}

// ready is the number of messages waiting in the queue.
func (q *rabbitQueue) ready(t *testing.T) int {
	t.Helper()
	st, err := q.ch.QueueDeclarePassive(q.queue, false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st.Messages
}

func rabbitDest(addr string, q *rabbitQueue) *herald.Destination {
	return &herald.Destination{URL: "amqp://guest:guest@" + addr + "/", Exchange: q.exchange, RoutingKey: q.key}
}

func rabbitOpen(t *testing.T, d *herald.Destination) outbound.Client {
	t.Helper()
	c, err := NewRabbitMQ().Open(testCtx(t), d, testEnv())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func rabbitMsg(d *herald.Destination, id string, body string) *outbound.Message {
	return &outbound.Message{
		Dest: d,
		ID:   id,
		Headers: []outbound.Header{
			{Name: "webhook-id", Value: id},
			{Name: "webhook-timestamp", Value: "1764806400"},
			{Name: "webhook-signature", Value: "v1,c2lnbmF0dXJl" + id},
			{Name: "content-type", Value: "application/json"},
			{Name: "x-tenant", Value: "acme"},
		},
		Body: []byte(body),
	}
}

func rabbitPublish(t *testing.T, c outbound.Client, m *outbound.Message) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
	defer cancel()
	return c.Publish(ctx, m)
}

func TestRabbitMQCheck(t *testing.T) {
	long := strings.Repeat("a", 256)
	cases := []struct {
		name  string
		d     herald.Destination
		field string // "" when valid
	}{
		{"exchange and key", herald.Destination{URL: "amqp://h:5672/prod", Exchange: "events", RoutingKey: "order.created"}, ""},
		{"default exchange", herald.Destination{URL: "amqps://u:p@h/", RoutingKey: "orders"}, ""},
		{"exchange without key", herald.Destination{URL: "amqp://h", Exchange: "fanout"}, ""},
		{"key template", herald.Destination{URL: "amqp://h", Exchange: "e", RoutingKey: "{{event_type}}." + long}, ""},
		{"credentials fields", herald.Destination{URL: "amqp://h", Username: "u", Password: "p", RoutingKey: "q"}, ""},
		{"heartbeat", herald.Destination{URL: "amqp://h?heartbeat=30", RoutingKey: "q"}, ""},
		{"ipv6", herald.Destination{URL: "amqp://[::1]:5673/", RoutingKey: "q"}, ""},

		{"no url", herald.Destination{RoutingKey: "q"}, "destination.url"},
		{"http url", herald.Destination{URL: "http://h", RoutingKey: "q"}, "destination.url"},
		{"no host", herald.Destination{URL: "amqp:///vhost", RoutingKey: "q"}, "destination.url"},
		{"bad port", herald.Destination{URL: "amqp://h:99999", RoutingKey: "q"}, "destination.url"},
		{"cert file", herald.Destination{URL: "amqps://h?certfile=/etc/passwd&keyfile=/etc/shadow", RoutingKey: "q"}, "destination.url"},
		{"bad heartbeat", herald.Destination{URL: "amqp://h?heartbeat=x", RoutingKey: "q"}, "destination.url"},
		{"no heartbeat", herald.Destination{URL: "amqp://h?heartbeat=0", RoutingKey: "q"}, "destination.url"},
		{"long heartbeat", herald.Destination{URL: "amqp://h?heartbeat=3600", RoutingKey: "q"}, "destination.url"},
		{"other parameter", herald.Destination{URL: "amqp://h?channel_max=1", RoutingKey: "q"}, "destination.url"},
		{"fragment", herald.Destination{URL: "amqp://h/#x", RoutingKey: "q"}, "destination.url"},
		{"opaque", herald.Destination{URL: "amqp:h", RoutingKey: "q"}, "destination.url"},
		{"space in url", herald.Destination{URL: "amqp://h/ v", RoutingKey: "q"}, "destination.url"},
		{"long vhost", herald.Destination{URL: "amqp://h/" + long, RoutingKey: "q"}, "destination.url"},
		{"credentials twice", herald.Destination{URL: "amqp://u:p@h", Username: "v", RoutingKey: "q"}, "destination.username"},
		{"password twice", herald.Destination{URL: "amqp://u:p@h", Password: "v", RoutingKey: "q"}, "destination.password"},
		{"password alone", herald.Destination{URL: "amqp://h", Password: "p", RoutingKey: "q"}, "destination.username"},
		{"no key, default exchange", herald.Destination{URL: "amqp://h"}, "destination.routing_key"},
		{"long key", herald.Destination{URL: "amqp://h", RoutingKey: long}, "destination.routing_key"},
		{"control in key", herald.Destination{URL: "amqp://h", RoutingKey: "a\nb"}, "destination.routing_key"},
		{"long exchange", herald.Destination{URL: "amqp://h", Exchange: long, RoutingKey: "q"}, "destination.exchange"},
		{"template exchange", herald.Destination{URL: "amqp://h", Exchange: "{{event_type}}", RoutingKey: "q"}, "destination.exchange"},
		{"subject", herald.Destination{URL: "amqp://h", RoutingKey: "q", Subject: "s"}, "destination.subject"},
		{"brokers", herald.Destination{URL: "amqp://h", RoutingKey: "q", Brokers: []string{"k:9092"}}, "destination.brokers"},
		{"tls", herald.Destination{URL: "amqp://h", RoutingKey: "q", TLS: true}, "destination.tls"},
		{"max_len", herald.Destination{URL: "amqp://h", RoutingKey: "q", MaxLen: 10}, "destination.max_len"},
		{"queue_url", herald.Destination{URL: "amqp://h", RoutingKey: "q", QueueURL: "https://sqs"}, "destination.queue_url"},
		{"endpoint", herald.Destination{URL: "amqp://h", RoutingKey: "q", Endpoint: "http://x"}, "destination.endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fe := wantFieldError(t, NewRabbitMQ().Check(&tc.d), tc.field)
			if fe == nil {
				return
			}
			if strings.Contains(fe.Msg, "shadow") || strings.Contains(fe.Msg, ":p@") {
				t.Fatalf("message repeats the URL: %s", fe.Msg)
			}
		})
	}
	if err := NewRabbitMQ().Check(nil); err == nil {
		t.Fatal("Check(nil) passed")
	}
}

func TestRabbitMQHosts(t *testing.T) {
	for url, want := range map[string]string{
		"amqp://h/v":         "h:5672",
		"amqps://u:p@h":      "h:5671",
		"amqp://h:1234":      "h:1234",
		"amqps://[::1]:5671": "[::1]:5671",
	} {
		got := NewRabbitMQ().Hosts(&herald.Destination{URL: url, RoutingKey: "q"})
		if len(got) != 1 || got[0] != want {
			t.Errorf("Hosts(%s) = %v, want %s", url, got, want)
		}
	}
	if NewRabbitMQ().Name() != herald.KindRabbitMQ {
		t.Fatal("Name")
	}
}

func TestRabbitMQOpenRefusesBadDestination(t *testing.T) {
	_, err := NewRabbitMQ().Open(testCtx(t), &herald.Destination{URL: "amqp://h", Topic: "t", RoutingKey: "q"}, testEnv())
	if fe, ok := errors.AsType[*shape.FieldError](err); !ok || fe.Field != "destination.topic" {
		t.Fatalf("Open = %v, want a field error on destination.topic", err)
	}
}

func TestRabbitMQPublishArrives(t *testing.T) {
	q := rabbitSetup(t, nil)
	q.consume(t)
	d := rabbitDest(rabbitTestAddr, q)
	c := rabbitOpen(t, d)
	body := "{\"type\":\"order.created\",\"data\":{\"n\":\"\u00e9\\u0000\"}}\x00\xff"
	m := rabbitMsg(d, "msg_2Z"+rabbitName(t), body)
	ack, err := rabbitPublish(t, c, m)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if want := fmt.Sprintf("confirmed by exchange %s (routing key %s)", q.exchange, q.key); ack != want {
		t.Fatalf("ack %q, want %q", ack, want)
	}
	got := q.next(t)
	if !bytes.Equal(got.Body, []byte(body)) {
		t.Fatalf("body %q, want %q", got.Body, body)
	}
	for _, h := range m.Headers {
		if v, ok := got.Headers[h.Name]; !ok || v != h.Value {
			t.Errorf("header %s = %#v, want %q", h.Name, v, h.Value)
		}
	}
	if len(got.Headers) != len(m.Headers) {
		t.Errorf("headers %v, want exactly %v", got.Headers, m.Headers)
	}
	if got.MessageId != m.ID || got.ContentType != "application/json" || got.DeliveryMode != amqp.Persistent {
		t.Errorf("message_id %q content_type %q delivery_mode %d", got.MessageId, got.ContentType, got.DeliveryMode)
	}
	if got.Timestamp.Unix() != 1764806400 {
		t.Errorf("timestamp %v", got.Timestamp)
	}
	if got.Exchange != q.exchange || got.RoutingKey != q.key {
		t.Errorf("arrived through %q %q", got.Exchange, got.RoutingKey)
	}
}

func TestRabbitMQDefaultExchangeAndCredentialFields(t *testing.T) {
	q := rabbitSetup(t, nil)
	q.consume(t)
	d := &herald.Destination{URL: "amqp://" + rabbitTestAddr, Username: "guest", Password: "guest", RoutingKey: q.queue}
	c := rabbitOpen(t, d)
	ack, err := rabbitPublish(t, c, rabbitMsg(d, "msg_default", "{}"))
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if want := "confirmed by the default exchange (routing key " + q.queue + ")"; ack != want {
		t.Fatalf("ack %q, want %q", ack, want)
	}
	if got := q.next(t); got.MessageId != "msg_default" {
		t.Fatalf("arrived %q", got.MessageId)
	}
}

// waitClosed waits until the client has seen its connection go away.
func rabbitWaitLost(t *testing.T, c outbound.Client) {
	t.Helper()
	rc := c.(*rabbitClient)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc.lock <- struct{}{}
		lost := rc.conn == nil || rc.conn.IsClosed()
		<-rc.lock
		if lost {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the client did not see its connection go away within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRabbitMQBrokerDown(t *testing.T) {
	t.Run("url credentials", func(t *testing.T) { rabbitBrokerDown(t, false) })
	// The login given as fields is kept for the next connection.
	t.Run("credential fields", func(t *testing.T) { rabbitBrokerDown(t, true) })
}

func rabbitBrokerDown(t *testing.T, fields bool) {
	q := rabbitSetup(t, nil)
	q.consume(t)
	p := brokertest.NewProxy(t, rabbitTestAddr)
	d := rabbitDest(p.Addr(), q)
	if fields {
		d.URL, d.Username, d.Password = "amqp://"+p.Addr()+"/", "guest", "guest"
	}
	c := rabbitOpen(t, d)

	if _, err := rabbitPublish(t, c, rabbitMsg(d, "before", "1")); err != nil {
		t.Fatalf("Publish before down: %v", err)
	}
	if got := q.next(t); got.MessageId != "before" {
		t.Fatalf("arrived %q", got.MessageId)
	}

	p.Down()
	rabbitWaitLost(t, c)
	_, err := rabbitPublish(t, c, rabbitMsg(d, "while-down", "2"))
	if err == nil {
		t.Fatal("Publish succeeded with the broker down")
	}
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindConnect {
		t.Fatalf("error kind %q (%v), want connect", k, err)
	}

	p.Up()
	ack, err := rabbitPublish(t, c, rabbitMsg(d, "after", "3"))
	if err != nil {
		t.Fatalf("Publish after up, same client: %v", err)
	}
	if ack == "" {
		t.Fatal("no ack text")
	}
	if got := q.next(t); got.MessageId != "after" {
		t.Fatalf("arrived %q, want after (the failed publish must not arrive)", got.MessageId)
	}
	if n := q.ready(t); n != 0 {
		t.Fatalf("%d more messages in the queue", n)
	}
}

// A connection cut while it is open (the client has not noticed yet) fails
// the publish as network or connect, and the next one reconnects.
func TestRabbitMQBrokerCutMidway(t *testing.T) {
	q := rabbitSetup(t, nil)
	q.consume(t)
	p := brokertest.NewProxy(t, rabbitTestAddr)
	d := rabbitDest(p.Addr(), q)
	c := rabbitOpen(t, d)
	if _, err := rabbitPublish(t, c, rabbitMsg(d, "one", "1")); err != nil {
		t.Fatal(err)
	}
	q.next(t)
	p.Down()
	_, err := rabbitPublish(t, c, rabbitMsg(d, "two", "2"))
	if err == nil {
		t.Fatal("Publish succeeded with the broker cut off")
	}
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindConnect && k != herald.ErrorKindNetwork {
		t.Fatalf("error kind %q (%v), want connect or network", k, err)
	}
	p.Up()
	if _, err := rabbitPublish(t, c, rabbitMsg(d, "three", "3")); err != nil {
		t.Fatalf("after up: %v", err)
	}
	if got := q.next(t); got.MessageId != "three" {
		t.Fatalf("arrived %q", got.MessageId)
	}
}

func TestRabbitMQUnroutableIsRejected(t *testing.T) {
	q := rabbitSetup(t, nil)
	d := rabbitDest(rabbitTestAddr, q)
	d.RoutingKey = "nobody.listens"
	c := rabbitOpen(t, d)
	_, err := rabbitPublish(t, c, rabbitMsg(d, "lost", "x"))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRejected {
		t.Fatalf("Publish = %v (kind %q), want rejected", err, k)
	}
	if !strings.Contains(err.Error(), "NO_ROUTE") {
		t.Fatalf("error %v does not say why", err)
	}
	// The channel stays usable: a routable message goes through.
	good := rabbitDest(rabbitTestAddr, q)
	if _, err := rabbitPublish(t, c, rabbitMsg(good, "found", "y")); err != nil {
		t.Fatalf("Publish after a return: %v", err)
	}
}

func TestRabbitMQNackIsRejected(t *testing.T) {
	// A full queue that refuses more makes the broker nack the publish.
	q := rabbitSetup(t, amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"})
	d := rabbitDest(rabbitTestAddr, q)
	c := rabbitOpen(t, d)
	if _, err := rabbitPublish(t, c, rabbitMsg(d, "first", "1")); err != nil {
		t.Fatalf("first Publish: %v", err)
	}
	_, err := rabbitPublish(t, c, rabbitMsg(d, "second", "2"))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRejected {
		t.Fatalf("Publish = %v (kind %q), want rejected", err, k)
	}
	if !strings.Contains(err.Error(), "nack") {
		t.Fatalf("error %v does not say nack", err)
	}
}

func TestRabbitMQMissingExchangeIsRejected(t *testing.T) {
	q := rabbitSetup(t, nil)
	q.consume(t)
	d := rabbitDest(rabbitTestAddr, q)
	c := rabbitOpen(t, d)
	if _, err := rabbitPublish(t, c, rabbitMsg(d, "one", "1")); err != nil {
		t.Fatal(err)
	}
	q.next(t)
	if err := q.ch.ExchangeDelete(q.exchange, false, false); err != nil {
		t.Fatal(err)
	}
	_, err := rabbitPublish(t, c, rabbitMsg(d, "two", "2"))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRejected {
		t.Fatalf("Publish = %v (kind %q), want rejected", err, k)
	}
	if !strings.Contains(err.Error(), "NOT_FOUND") {
		t.Fatalf("error %v does not say why", err)
	}
	// The channel the broker closed is replaced.
	if err := q.ch.ExchangeDeclare(q.exchange, "direct", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := q.ch.QueueBind(q.queue, q.key, q.exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rabbitPublish(t, c, rabbitMsg(d, "three", "3")); err != nil {
		t.Fatalf("Publish after the exchange is back: %v", err)
	}
	if got := q.next(t); got.MessageId != "three" {
		t.Fatalf("arrived %q", got.MessageId)
	}
}

func TestRabbitMQAuth(t *testing.T) {
	needService(t, "RabbitMQ", rabbitTestAddr)
	for name, d := range map[string]*herald.Destination{
		"url":    {URL: "amqp://guest:wrong@" + rabbitTestAddr + "/", RoutingKey: "q"},
		"fields": {URL: "amqp://" + rabbitTestAddr + "/", Username: "guest", Password: "wrong", RoutingKey: "q"},
		"user":   {URL: "amqp://" + rabbitTestAddr + "/", Username: "nobody-" + rabbitName(t), Password: "x", RoutingKey: "q"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // the broker delays each refused login
			c := rabbitOpen(t, d)
			_, err := rabbitPublish(t, c, rabbitMsg(d, "x", "x"))
			if k := outbound.ErrorKindOf(err); k != herald.ErrorKindAuth {
				t.Fatalf("Publish = %v (kind %q), want auth", err, k)
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

func TestRabbitMQDialsThroughEnv(t *testing.T) {
	needService(t, "RabbitMQ", rabbitTestAddr)
	env := testEnv()
	var dialed []string
	var mu sync.Mutex
	env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return nil, &netpolicy.BlockedError{Addr: netip.MustParseAddr("127.0.0.1"), Rule: "private"}
	}
	d := &herald.Destination{URL: "amqp://guest:guest@" + rabbitTestAddr + "/", RoutingKey: "q"}
	c, err := NewRabbitMQ().Open(testCtx(t), d, env)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = rabbitPublish(t, c, rabbitMsg(d, "x", "x"))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindPolicy {
		t.Fatalf("Publish = %v (kind %q), want policy", err, k)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) != 1 || dialed[0] != rabbitTestAddr {
		t.Fatalf("dialed %v", dialed)
	}
}

func TestRabbitMQConcurrent(t *testing.T) {
	q := rabbitSetup(t, nil)
	q.consume(t)
	d := rabbitDest(rabbitTestAddr, q)
	c := rabbitOpen(t, d)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := rabbitPublish(t, c, rabbitMsg(d, fmt.Sprintf("msg-%d", i), fmt.Sprint(i))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Publish: %v", err)
	}
	seen := map[string]bool{}
	for range n {
		got := q.next(t)
		if seen[got.MessageId] {
			t.Fatalf("%s arrived twice", got.MessageId)
		}
		seen[got.MessageId] = true
	}
	for i := range n {
		if !seen[fmt.Sprintf("msg-%d", i)] {
			t.Errorf("msg-%d did not arrive", i)
		}
	}
}

func TestRabbitMQClose(t *testing.T) {
	q := rabbitSetup(t, nil)
	d := rabbitDest(rabbitTestAddr, q)
	c, err := NewRabbitMQ().Open(testCtx(t), d, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rabbitPublish(t, c, rabbitMsg(d, "one", "1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rabbitPublish(t, c, rabbitMsg(d, "two", "2")); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Closed before it ever connected.
	c2, err := NewRabbitMQ().Open(testCtx(t), d, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if _, err := rabbitPublish(t, c2, rabbitMsg(d, "three", "3")); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
}

// rabbitStall forwards connections to target and can hold back what
// either side sends: the broker's confirms (toClient), or the client's
// bytes, as a broker that stopped reading (toBroker).
type rabbitStall struct {
	addr               string
	toClient, toBroker sync.Mutex
}

func newRabbitStall(t *testing.T, target string) *rabbitStall {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &rabbitStall{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); b.Close() })
			go rabbitGatedCopy(b, c, &s.toBroker)
			go rabbitGatedCopy(c, b, &s.toClient)
		}
	}()
	return s
}

func rabbitGatedCopy(dst, src net.Conn, gate *sync.Mutex) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			gate.Lock()
			_, werr := dst.Write(buf[:n])
			gate.Unlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestRabbitMQNoConfirmIsTimeout(t *testing.T) {
	q := rabbitSetup(t, nil)
	q.consume(t)
	s := newRabbitStall(t, rabbitTestAddr)
	d := rabbitDest(s.addr, q)
	c := rabbitOpen(t, d)
	if _, err := rabbitPublish(t, c, rabbitMsg(d, "one", "1")); err != nil {
		t.Fatal(err)
	}
	q.next(t)

	s.toClient.Lock()
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	_, err := c.Publish(ctx, rabbitMsg(d, "two", "2"))
	cancel()
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindTimeout {
		s.toClient.Unlock()
		t.Fatalf("Publish = %v (kind %q), want timeout", err, k)
	}
	// The broker did take "two" (at least once: the retry carries the same
	// message_id for the consumer to drop it).
	if got := q.next(t); got.MessageId != "two" {
		t.Fatalf("arrived %q", got.MessageId)
	}
	s.toClient.Unlock()

	if _, err := rabbitPublish(t, c, rabbitMsg(d, "three", "3")); err != nil {
		t.Fatalf("Publish once the broker answers again: %v", err)
	}
	if got := q.next(t); got.MessageId != "three" {
		t.Fatalf("arrived %q", got.MessageId)
	}
}

// A broker that stops reading (as RabbitMQ does to publishers under a
// memory or disk alarm) blocks the client's write: the deadline ends the
// publish as a timeout, and the next publish connects again.
func TestRabbitMQStuckWriteIsTimeout(t *testing.T) {
	q := rabbitSetup(t, nil)
	q.consume(t)
	s := newRabbitStall(t, rabbitTestAddr)
	d := rabbitDest(s.addr, q)
	c := rabbitOpen(t, d)
	if _, err := rabbitPublish(t, c, rabbitMsg(d, "one", "1")); err != nil {
		t.Fatal(err)
	}
	q.next(t)

	s.toBroker.Lock()
	big := rabbitMsg(d, "big", strings.Repeat("x", 12<<20))
	ctx, cancel := context.WithTimeout(testCtx(t), 500*time.Millisecond)
	start := time.Now()
	_, err := c.Publish(ctx, big)
	cancel()
	s.toBroker.Unlock()
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindTimeout {
		t.Fatalf("Publish = %v (kind %q), want timeout", err, k)
	}
	t.Logf("stalled publish: %v", err)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Publish returned after %v, past its deadline", el)
	}

	if _, err := rabbitPublish(t, c, rabbitMsg(d, "after", "2")); err != nil {
		t.Fatalf("Publish after the stall: %v", err)
	}
	for {
		got := q.next(t)
		if got.MessageId == "after" {
			break
		}
		if got.MessageId != "big" {
			t.Fatalf("arrived %q", got.MessageId)
		}
	}
}
