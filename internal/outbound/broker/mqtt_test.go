package broker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
	"github.com/heraldhq/herald/internal/shape"
)

const mqttTestAddr = "127.0.0.1:1883"

func mqttRand() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mqttTestTopic is a topic no other test uses.
func mqttTestTopic(t *testing.T, prefix string) string {
	name := strings.NewReplacer("+", "_", "#", "_", " ", "_").Replace(t.Name())
	return prefix + name + "/" + mqttRand()
}

// mqttTestMessage is a message as the engine makes it, with a custom
// header and a body that is not text.
func mqttTestMessage(topic string, body []byte) *outbound.Message {
	id := "msg_" + mqttRand()
	return &outbound.Message{
		Dest: &herald.Destination{Topic: topic},
		ID:   id,
		Headers: []outbound.Header{
			{Name: "webhook-id", Value: id},
			{Name: "webhook-timestamp", Value: "1700000000"},
			{Name: "webhook-signature", Value: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
			{Name: "content-type", Value: "application/json"},
			{Name: "x-tenant", Value: "acme, inc"},
		},
		Body: body,
	}
}

// mqttSubscribe reads topic on the broker at addr with paho (MQTT 5),
// from before it returns until the test ends.
func mqttSubscribe(t *testing.T, addr, topic, username, password string) <-chan *paho.Publish {
	t.Helper()
	ctx := testCtx(t)
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
	cp := &paho.Connect{ClientID: "herald-test-" + mqttRand(), KeepAlive: 30, CleanStart: true}
	if username != "" {
		cp.Username, cp.UsernameFlag, cp.Password, cp.PasswordFlag = username, true, []byte(password), true
	}
	if _, err := c.Connect(ctx, cp); err != nil {
		t.Fatalf("subscriber connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return ch
}

// mqttNext waits for the next message the subscriber gets.
func mqttNext(t *testing.T, ch <-chan *paho.Publish) *paho.Publish {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no message arrived within 10s")
		return nil
	}
}

func mqttOpen(t *testing.T, d *herald.Destination, env outbound.Env) outbound.Client {
	t.Helper()
	c, err := MQTT().Open(testCtx(t), d, env)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mqttPublishCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestMQTTCheck(t *testing.T) {
	long := strings.Repeat("a", 65536)
	cases := []struct {
		name  string
		d     herald.Destination
		field string // "" when valid
	}{
		{"plain", herald.Destination{URL: "mqtt://broker.example:1883", Topic: "orders/created"}, ""},
		{"default port", herald.Destination{URL: "mqtt://broker.example", Topic: "orders"}, ""},
		{"tls", herald.Destination{URL: "mqtts://broker.example", Topic: "orders"}, ""},
		{"trailing slash", herald.Destination{URL: "mqtt://broker.example/", Topic: "orders"}, ""},
		{"ipv6", herald.Destination{URL: "mqtt://[::1]:1883", Topic: "orders"}, ""},
		{"credentials in url", herald.Destination{URL: "mqtt://u:p@broker.example", Topic: "orders"}, ""},
		{"credentials as fields", herald.Destination{URL: "mqtt://broker.example", Username: "u", Password: "p", Topic: "orders"}, ""},
		{"template topic", herald.Destination{URL: "mqtt://broker.example", Topic: "tenants/{{payload.tenant}}/{{event_type}}"}, ""},
		{"template with #{", herald.Destination{URL: "mqtt://broker.example", Topic: "tenants/#{tenant}"}, ""},
		{"unicode topic", herald.Destination{URL: "mqtt://broker.example", Topic: "événements/créés"}, ""},

		{"no url", herald.Destination{Topic: "orders"}, "destination.url"},
		{"http url", herald.Destination{URL: "http://broker.example", Topic: "orders"}, "destination.url"},
		{"tcp url", herald.Destination{URL: "tcp://broker.example:1883", Topic: "orders"}, "destination.url"},
		{"no host", herald.Destination{URL: "mqtt://:1883", Topic: "orders"}, "destination.url"},
		{"opaque", herald.Destination{URL: "mqtt:broker.example", Topic: "orders"}, "destination.url"},
		{"bad port", herald.Destination{URL: "mqtt://broker.example:99999", Topic: "orders"}, "destination.url"},
		{"port zero", herald.Destination{URL: "mqtt://broker.example:0", Topic: "orders"}, "destination.url"},
		{"non-numeric port", herald.Destination{URL: "mqtt://broker.example:abc", Topic: "orders"}, "destination.url"},
		{"path", herald.Destination{URL: "mqtt://broker.example/orders", Topic: "orders"}, "destination.url"},
		{"query", herald.Destination{URL: "mqtt://broker.example?x=1", Topic: "orders"}, "destination.url"},
		{"fragment", herald.Destination{URL: "mqtt://broker.example#x", Topic: "orders"}, "destination.url"},
		{"username twice", herald.Destination{URL: "mqtt://u@broker.example", Username: "v", Topic: "orders"}, "destination.username"},
		{"password twice", herald.Destination{URL: "mqtt://u:p@broker.example", Password: "q", Topic: "orders"}, "destination.password"},
		{"username too long", herald.Destination{URL: "mqtt://broker.example", Username: long, Topic: "orders"}, "destination.username"},
		{"password too long", herald.Destination{URL: "mqtt://broker.example", Password: long, Topic: "orders"}, "destination.password"},
		{"no topic", herald.Destination{URL: "mqtt://broker.example"}, "destination.topic"},
		{"plus wildcard", herald.Destination{URL: "mqtt://broker.example", Topic: "orders/+/created"}, "destination.topic"},
		{"hash wildcard", herald.Destination{URL: "mqtt://broker.example", Topic: "orders/#"}, "destination.topic"},
		{"dollar", herald.Destination{URL: "mqtt://broker.example", Topic: "$SYS/x"}, "destination.topic"},
		{"nul", herald.Destination{URL: "mqtt://broker.example", Topic: "a\x00b"}, "destination.topic"},
		{"not utf-8", herald.Destination{URL: "mqtt://broker.example", Topic: "a\xffb"}, "destination.topic"},
		{"topic too long", herald.Destination{URL: "mqtt://broker.example", Topic: long}, "destination.topic"},
		{"template too long", herald.Destination{URL: "mqtt://broker.example", Topic: "{{event_type}}" + long}, "destination.topic"},

		{"subject", herald.Destination{URL: "mqtt://broker.example", Topic: "t", Subject: "s"}, "destination.subject"},
		{"stream", herald.Destination{URL: "mqtt://broker.example", Topic: "t", Stream: "s"}, "destination.stream"},
		{"exchange", herald.Destination{URL: "mqtt://broker.example", Topic: "t", Exchange: "x"}, "destination.exchange"},
		{"routing key", herald.Destination{URL: "mqtt://broker.example", Topic: "t", RoutingKey: "k"}, "destination.routing_key"},
		{"brokers", herald.Destination{URL: "mqtt://broker.example", Topic: "t", Brokers: []string{"b:9092"}}, "destination.brokers"},
		{"key", herald.Destination{URL: "mqtt://broker.example", Topic: "t", Key: "k"}, "destination.key"},
		{"sasl", herald.Destination{URL: "mqtt://broker.example", Topic: "t", SASLMechanism: "plain"}, "destination.sasl_mechanism"},
		{"tls flag", herald.Destination{URL: "mqtt://broker.example", Topic: "t", TLS: true}, "destination.tls"},
		{"max len", herald.Destination{URL: "mqtt://broker.example", Topic: "t", MaxLen: 10}, "destination.max_len"},
		{"project", herald.Destination{URL: "mqtt://broker.example", Topic: "t", Project: "p"}, "destination.project"},
		{"ordering key", herald.Destination{URL: "mqtt://broker.example", Topic: "t", OrderingKey: "k"}, "destination.ordering_key"},
		{"credentials json", herald.Destination{URL: "mqtt://broker.example", Topic: "t", CredentialsJSON: "{}"}, "destination.credentials_json"},
		{"queue url", herald.Destination{URL: "mqtt://broker.example", Topic: "t", QueueURL: "https://q"}, "destination.queue_url"},
		{"region", herald.Destination{URL: "mqtt://broker.example", Topic: "t", Region: "eu-west-1"}, "destination.region"},
		{"access key", herald.Destination{URL: "mqtt://broker.example", Topic: "t", AccessKeyID: "a"}, "destination.access_key_id"},
		{"secret key", herald.Destination{URL: "mqtt://broker.example", Topic: "t", SecretAccessKey: "s"}, "destination.secret_access_key"},
		{"group id", herald.Destination{URL: "mqtt://broker.example", Topic: "t", MessageGroupID: "g"}, "destination.message_group_id"},
		{"dedup id", herald.Destination{URL: "mqtt://broker.example", Topic: "t", DeduplicationID: "d"}, "destination.deduplication_id"},
		{"endpoint", herald.Destination{URL: "mqtt://broker.example", Topic: "t", Endpoint: "http://x"}, "destination.endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fe := wantFieldError(t, MQTT().Check(&tc.d), tc.field)
			if fe == nil {
				return
			}
			if strings.Contains(fe.Msg, "p@") || fe.Msg == "" {
				t.Fatalf("message %q", fe.Msg)
			}
		})
	}
	if err := MQTT().Check(nil); err == nil {
		t.Fatal("Check(nil) passed")
	}
	if got, ok := errors.AsType[*shape.FieldError](MQTT().Check(&herald.Destination{URL: "mqtt://b", Topic: "t", Brokers: []string{"x"}})); !ok || got.Msg != "destination.brokers does not apply to mqtt destinations" {
		t.Fatalf("other kind's field: %v", got)
	}
	if MQTT().Name() != herald.KindMQTT {
		t.Fatalf("Name = %q", MQTT().Name())
	}
	var found bool
	for _, k := range Kinds() {
		found = found || k.Name() == herald.KindMQTT
	}
	if !found {
		t.Fatal("Kinds() lacks mqtt")
	}
}

func TestMQTTHosts(t *testing.T) {
	for url, want := range map[string]string{
		"mqtt://broker.example":           "broker.example:1883",
		"mqtts://broker.example":          "broker.example:8883",
		"mqtt://u:p@broker.example:11883": "broker.example:11883",
		"mqtts://[2001:db8::1]":           "[2001:db8::1]:8883",
	} {
		got := MQTT().Hosts(&herald.Destination{URL: url, Topic: "t"})
		if len(got) != 1 || got[0] != want {
			t.Errorf("Hosts(%s) = %v, want %s", url, got, want)
		}
	}
	if got := MQTT().Hosts(&herald.Destination{URL: "http://x"}); len(got) != 0 {
		t.Errorf("Hosts of a bad url = %v", got)
	}
}

func TestMQTTPublishArrives(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	topic := mqttTestTopic(t, "herald-test/")
	sub := mqttSubscribe(t, addr, topic, "", "")
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Topic: topic}, testEnv())

	body := []byte("{\"type\":\"order.created\"}\x00\xff\xfe binary tail")
	m := mqttTestMessage(topic, body)
	ack, err := c.Publish(mqttPublishCtx(t, 10*time.Second), m)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if ack != "PUBACK (reason 0x00)" {
		t.Fatalf("ack = %q", ack)
	}
	got := mqttNext(t, sub)
	if !bytes.Equal(got.Payload, body) {
		t.Fatalf("payload = %q, want %q", got.Payload, body)
	}
	if got.Topic != topic || got.QoS != 1 || got.Retain {
		t.Fatalf("topic %q qos %d retain %v", got.Topic, got.QoS, got.Retain)
	}
	if got.Properties == nil || got.Properties.ContentType != "application/json" {
		t.Fatalf("content type property: %+v", got.Properties)
	}
	var user []outbound.Header
	for _, u := range got.Properties.User {
		user = append(user, outbound.Header{Name: u.Key, Value: u.Value})
	}
	if fmt.Sprint(user) != fmt.Sprint(m.Headers) {
		t.Fatalf("user properties\n got %v\nwant %v", user, m.Headers)
	}
	if got.Properties.User.Get("webhook-id") != m.ID {
		t.Fatalf("webhook-id = %q, want %q", got.Properties.User.Get("webhook-id"), m.ID)
	}
}

// A filled-in topic comes with the message, not from the destination the
// client was opened with.
func TestMQTTPublishRenderedTopic(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	topic := mqttTestTopic(t, "herald-test/")
	sub := mqttSubscribe(t, addr, topic+"/order.created", "", "")
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Topic: topic + "/{{event_type}}"}, testEnv())
	if _, err := c.Publish(mqttPublishCtx(t, 10*time.Second), mqttTestMessage(topic+"/order.created", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if got := mqttNext(t, sub); got.Topic != topic+"/order.created" {
		t.Fatalf("topic %q", got.Topic)
	}
	for _, bad := range []string{topic + "/+", topic + "/#", "$SYS/x", ""} {
		_, err := c.Publish(mqttPublishCtx(t, 10*time.Second), mqttTestMessage(bad, []byte("x")))
		if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRender {
			t.Fatalf("topic %q: kind %q (%v), want render", bad, k, err)
		}
		if re, ok := errors.AsType[*shape.RenderError](err); !ok || re.Field != "destination.topic" {
			t.Fatalf("topic %q: %v", bad, err)
		}
	}
	m := mqttTestMessage(topic, []byte("x"))
	m.Headers = append(m.Headers, outbound.Header{Name: "x-bad", Value: "a\x00b"})
	if _, err := c.Publish(mqttPublishCtx(t, 10*time.Second), m); outbound.ErrorKindOf(err) != herald.ErrorKindRender {
		t.Fatalf("NUL in a header: %v", err)
	}
}

// The broker takes a message no one subscribes to: still a success, with
// reason 0x10 in the ack.
func TestMQTTNoSubscribers(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	topic := mqttTestTopic(t, "herald-test/")
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Topic: topic}, testEnv())
	ack, err := c.Publish(mqttPublishCtx(t, 10*time.Second), mqttTestMessage(topic, []byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	if ack != "PUBACK (reason 0x10)" {
		t.Fatalf("ack = %q", ack)
	}
}

func TestMQTTBrokerDown(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	topic := mqttTestTopic(t, "herald-test/")
	sub := mqttSubscribe(t, addr, topic, "", "")
	p := brokertest.NewProxy(t, addr)
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + p.Addr(), Topic: topic}, testEnv())

	publish := func(body string) error {
		_, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(topic, []byte(body)))
		return err
	}
	if err := publish("A"); err != nil {
		t.Fatal(err)
	}
	if got := mqttNext(t, sub); string(got.Payload) != "A" {
		t.Fatalf("got %q", got.Payload)
	}

	p.Down()
	err := publish("B")
	if err == nil {
		t.Fatal("the broker is away, yet the publish succeeded")
	}
	// The pooled connection was cut: the client tries a new one, which
	// the closed port refuses.
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindConnect {
		t.Fatalf("kind %q (%v), want connect", k, err)
	}
	t.Logf("broker away: %v", err)
	if err := publish("B2"); outbound.ErrorKindOf(err) != herald.ErrorKindConnect {
		t.Fatalf("second publish while down: %v", err)
	}

	p.Up()
	if err := publish("C"); err != nil {
		t.Fatalf("after up, on the same client: %v", err)
	}
	if err := publish("D"); err != nil {
		t.Fatal(err)
	}
	// What failed never reached the broker: the next messages are C and D.
	for _, want := range []string{"C", "D"} {
		if got := mqttNext(t, sub); string(got.Payload) != want {
			t.Fatalf("got %q, want %q", got.Payload, want)
		}
	}
}

// A pooled connection cut while idle is replaced within the same Publish.
func TestMQTTStaleConnection(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	topic := mqttTestTopic(t, "herald-test/")
	sub := mqttSubscribe(t, addr, topic, "", "")
	p := brokertest.NewProxy(t, addr)
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + p.Addr(), Topic: topic}, testEnv())
	for _, body := range []string{"A", "B"} {
		if _, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(topic, []byte(body))); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if got := mqttNext(t, sub); string(got.Payload) != body {
			t.Fatalf("got %q, want %q", got.Payload, body)
		}
		p.Down()
		p.Up()
	}
}

// mqttAckDropper forwards to target but, after the CONNACK, drops
// everything the broker sends: the broker gets the PUBLISH, Herald never
// sees its PUBACK.
func mqttAckDropper(t *testing.T, target string) (addr string, conns func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var open []net.Conn
	accepted := 0
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
	})
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
			mu.Lock()
			open = append(open, c, b)
			accepted++
			mu.Unlock()
			go io.Copy(b, c)
			go func() {
				// One packet: the fixed header's first byte, its
				// variable-length remaining length, then that many bytes.
				hdr := make([]byte, 1)
				if _, err := io.ReadFull(b, hdr); err != nil {
					return
				}
				first := hdr[0]
				n, mult := 0, 1
				for i := 0; i < 4; i++ {
					if _, err := io.ReadFull(b, hdr[:1]); err != nil {
						return
					}
					n += int(hdr[0]&0x7f) * mult
					mult *= 128
					if hdr[0]&0x80 == 0 {
						break
					}
				}
				pkt := make([]byte, n)
				if _, err := io.ReadFull(b, pkt); err != nil {
					return
				}
				out := append([]byte{first}, encodeMQTTLen(n)...)
				c.Write(append(out, pkt...))
				io.Copy(io.Discard, b)
			}()
		}
	}()
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return accepted
	}
}

func encodeMQTTLen(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func TestMQTTNotAcknowledged(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	topic := mqttTestTopic(t, "herald-test/")
	dropper, conns := mqttAckDropper(t, addr)
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + dropper, Topic: topic}, testEnv())
	start := time.Now()
	ack, err := c.Publish(mqttPublishCtx(t, 1500*time.Millisecond), mqttTestMessage(topic, []byte("x")))
	if err == nil {
		t.Fatalf("no PUBACK came, yet the publish succeeded: %q", ack)
	}
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindTimeout {
		t.Fatalf("kind %q (%v), want timeout", k, err)
	}
	t.Logf("no PUBACK: %v", err)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the publish took %v past its 1.5s context", d)
	}
	// The connection that lost a PUBACK is not used again.
	_, err = c.Publish(mqttPublishCtx(t, 500*time.Millisecond), mqttTestMessage(topic, []byte("y")))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindTimeout {
		t.Fatalf("second publish: kind %q (%v), want timeout", k, err)
	}
	if n := conns(); n != 2 {
		t.Fatalf("%d connections for two publishes that timed out, want 2", n)
	}
}

// mqttAuthBroker starts a Mosquitto of the test's own that accepts only
// herald/secret, who may use herald/allowed/# alone.
func mqttAuthBroker(t *testing.T) string {
	t.Helper()
	return brokertest.StartMosquitto(t, "herald", "secret", "user herald\ntopic readwrite herald/allowed/#\n").Addr
}

func TestMQTTAuth(t *testing.T) {
	addr := mqttAuthBroker(t)
	topic := mqttTestTopic(t, "herald/allowed/")
	for name, d := range map[string]herald.Destination{
		"wrong password":      {URL: "mqtt://" + addr, Username: "herald", Password: "wrong", Topic: topic},
		"wrong password, url": {URL: "mqtt://herald:wrong@" + addr, Topic: topic},
		"unknown user":        {URL: "mqtt://" + addr, Username: "nobody", Password: "secret", Topic: topic},
		"no credentials":      {URL: "mqtt://" + addr, Topic: topic},
	} {
		t.Run(name, func(t *testing.T) {
			c := mqttOpen(t, &d, testEnv())
			_, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(topic, []byte("x")))
			if k := outbound.ErrorKindOf(err); k != herald.ErrorKindAuth {
				t.Fatalf("kind %q (%v), want auth", k, err)
			}
			t.Logf("refused: %v", err)
			if strings.Contains(err.Error(), "wrong") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
	sub := mqttSubscribe(t, addr, topic, "herald", "secret")
	for name, d := range map[string]herald.Destination{
		"fields": {URL: "mqtt://" + addr, Username: "herald", Password: "secret", Topic: topic},
		"url":    {URL: "mqtt://herald:secret@" + addr, Topic: topic},
	} {
		c := mqttOpen(t, &d, testEnv())
		if _, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(topic, []byte(name))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := mqttNext(t, sub); string(got.Payload) != name {
			t.Fatalf("got %q, want %q", got.Payload, name)
		}
	}
}

// A PUBACK of 0x80 or more (here Mosquitto's ACL: not authorized) is a
// rejection, never a success.
func TestMQTTRejected(t *testing.T) {
	addr := mqttAuthBroker(t)
	topic := mqttTestTopic(t, "herald/denied/")
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Username: "herald", Password: "secret", Topic: topic}, testEnv())
	ack, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(topic, []byte("x")))
	if err == nil {
		t.Fatalf("refused by the ACL, yet a success: %q", ack)
	}
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRejected {
		t.Fatalf("kind %q (%v), want rejected", k, err)
	}
	t.Logf("refused by the ACL: %v", err)
	if !strings.Contains(err.Error(), "0x87") {
		t.Fatalf("the error does not give the reason code: %v", err)
	}
	// The connection stays usable.
	allowed := mqttTestTopic(t, "herald/allowed/")
	if _, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(allowed, []byte("x"))); err != nil {
		t.Fatalf("after the rejection: %v", err)
	}
}

func TestMQTTConcurrent(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	topic := mqttTestTopic(t, "herald-test/")
	sub := mqttSubscribe(t, addr, topic, "", "")
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Topic: topic}, testEnv())
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := c.Publish(mqttPublishCtx(t, 20*time.Second), mqttTestMessage(topic, []byte(fmt.Sprint("m", i))))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range n {
		seen[string(mqttNext(t, sub).Payload)] = true
	}
	for i := range n {
		if !seen[fmt.Sprint("m", i)] {
			t.Fatalf("m%d did not arrive (got %d distinct)", i, len(seen))
		}
	}
}

func TestMQTTClose(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	topic := mqttTestTopic(t, "herald-test/")
	c, err := MQTT().Open(testCtx(t), &herald.Destination{URL: "mqtt://" + addr, Topic: topic}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(topic, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if ack, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(topic, []byte("x"))); err == nil {
		t.Fatalf("publish after Close succeeded: %q", ack)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Closing a client that never connected is fine too.
	c2, err := MQTT().Open(testCtx(t), &herald.Destination{URL: "mqtt://" + addr, Topic: topic}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(topic, []byte("x"))); err == nil {
		t.Fatal("publish after Close succeeded")
	}
}

// Every connection goes through env.Dial: refused there, the publish is a
// policy error though the broker is up.
func TestMQTTDialsThroughEnv(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	env := testEnv()
	var dialed []string
	var mu sync.Mutex
	env.Dial = func(ctx context.Context, network, a string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, a)
		mu.Unlock()
		return nil, &netpolicy.BlockedError{Rule: "private", Host: "127.0.0.1"}
	}
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Topic: "herald-test/x"}, env)
	_, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage("herald-test/x", []byte("x")))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindPolicy {
		t.Fatalf("kind %q (%v), want policy", k, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) != 1 || dialed[0] != addr {
		t.Fatalf("dialed %v", dialed)
	}
}

// mqtts:// to a server whose certificate no one vouches for is a tls
// error.
func TestMQTTTLSUntrusted(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	c := mqttOpen(t, &herald.Destination{URL: "mqtts://" + addr, Topic: "t"}, testEnv())
	_, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage("t", []byte("x")))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindTLS {
		t.Fatalf("kind %q (%v), want tls", k, err)
	}
}

// A connection that died a moment ago, before the client noticed, is
// replaced within the same Publish: the PUBLISH written on the dead one
// is lost with it, the one on the new connection is acknowledged.
func TestMQTTConnectionDiesUnnoticed(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	topic := mqttTestTopic(t, "herald-test/")
	sub := mqttSubscribe(t, addr, topic, "", "")
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Topic: topic}, testEnv())
	for i := range 5 {
		body := fmt.Sprint("m", i)
		if _, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(topic, []byte(body))); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if got := mqttNext(t, sub); string(got.Payload) != body {
			t.Fatalf("got %q, want %q", got.Payload, body)
		}
		mc := c.(*mqttClient)
		mc.mu.Lock()
		cur := mc.cur
		mc.mu.Unlock()
		cur.raw.Close()
	}
}

// mqttFakeBroker accepts connections on loopback and answers each with
// reply once the client has written something (its CONNECT).
func mqttFakeBroker(t *testing.T, reply []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Read(make([]byte, 512)); err != nil {
					return
				}
				c.Write(reply)
				io.Copy(io.Discard, c)
			})
		}
	})
	return ln.Addr().String()
}

// A broker that announces a huge packet does not make Herald allocate it.
func TestMQTTHugePacketFromBroker(t *testing.T) {
	// A CONNACK whose remaining length says 200 MiB.
	reply := append([]byte{0x20}, encodeMQTTLen(200<<20)...)
	addr := mqttFakeBroker(t, reply)
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Topic: "t"}, testEnv())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage("t", []byte("x")))
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("publish succeeded")
	}
	if !errors.Is(err, errMQTTTooLarge) {
		t.Fatalf("err = %v, want the packet refused as too large", err)
	}
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindNetwork {
		t.Fatalf("kind %q (%v), want network", k, err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Fatalf("allocated %d MiB for one refused packet", grew>>20)
	}
}

// A CONNACK refusing a server-side reason other than credentials is a
// connect error, with the reason code.
func TestMQTTConnackRefused(t *testing.T) {
	for code, want := range map[byte]herald.ErrorKind{
		0x88: herald.ErrorKindConnect, // server unavailable
		0x84: herald.ErrorKindConnect, // unsupported protocol version
		0x86: herald.ErrorKindAuth,    // bad user name or password
		0x8C: herald.ErrorKindAuth,    // bad authentication method
	} {
		// CONNACK: flags 0, reason code, properties length 0.
		addr := mqttFakeBroker(t, []byte{0x20, 3, 0, code, 0})
		c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Topic: "t"}, testEnv())
		_, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage("t", []byte("x")))
		if k := outbound.ErrorKindOf(err); k != want {
			t.Errorf("CONNACK 0x%02x: kind %q (%v), want %q", code, k, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("0x%02x", code)) {
			t.Errorf("CONNACK 0x%02x: %v", code, err)
		}
	}
}

// A broker that accepts the TCP connection but never answers the CONNECT
// is a timeout, bounded by env.Timeout.
func TestMQTTNoConnack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	env := testEnv()
	env.Timeout = 500 * time.Millisecond
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + ln.Addr().String(), Topic: "t"}, env)
	start := time.Now()
	_, err = c.Publish(mqttPublishCtx(t, 10*time.Second), mqttTestMessage("t", []byte("x")))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindTimeout {
		t.Fatalf("kind %q (%v), want timeout", k, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v with a 500ms connect timeout", d)
	}
}

// The size guard follows the framing however the bytes are cut up: many
// packets in one read, a length split across reads.
func TestMQTTLimitConnFraming(t *testing.T) {
	var stream []byte
	for _, n := range []int{0, 2, 127, 128, 300, 16383, 16384, 1000} {
		stream = append(stream, 0x40)
		stream = append(stream, encodeMQTTLen(n)...)
		stream = append(stream, bytes.Repeat([]byte{0x80}, n)...)
	}
	for _, chunk := range []int{1, 2, 3, 7, 4096, len(stream)} {
		a, b := net.Pipe()
		go func() {
			for i := 0; i < len(stream); i += chunk {
				b.Write(stream[i:min(i+chunk, len(stream))])
			}
			b.Close()
		}()
		lc := &mqttLimitConn{Conn: a, max: 16384}
		got, err := io.ReadAll(lc)
		if err != nil || !bytes.Equal(got, stream) {
			t.Fatalf("chunks of %d: %d bytes, %v", chunk, len(got), err)
		}
		a.Close()
	}
	// One byte over: refused.
	over := append([]byte{0x40}, encodeMQTTLen(16385)...)
	a, b := net.Pipe()
	go func() { b.Write(over); b.Close() }()
	if _, err := io.ReadAll(&mqttLimitConn{Conn: a, max: 16384}); !errors.Is(err, errMQTTTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
}

// mqttConnack is a CONNACK packet with the given reason code and
// properties (already encoded).
func mqttConnack(code byte, props []byte) []byte {
	body := append([]byte{0, code}, encodeMQTTLen(len(props))...)
	body = append(body, props...)
	return append(append([]byte{0x20}, encodeMQTTLen(len(body))...), body...)
}

// The broker's reason string reaches the error, cut short.
func TestMQTTConnackReasonString(t *testing.T) {
	reason := strings.Repeat("r", 5000)
	props := append([]byte{0x1F, byte(len(reason) >> 8), byte(len(reason))}, reason...)
	addr := mqttFakeBroker(t, mqttConnack(0x87, props))
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Topic: "t"}, testEnv())
	_, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage("t", []byte("x")))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindAuth {
		t.Fatalf("kind %q (%v), want auth", k, err)
	}
	if !strings.Contains(err.Error(), "rrrr") || len(err.Error()) > 400 {
		t.Fatalf("error of %d bytes: %.300s", len(err.Error()), err)
	}
}

// A message larger than the broker's Maximum Packet Size is refused
// before it is sent (the broker would drop the connection for it).
func TestMQTTMaximumPacketSize(t *testing.T) {
	addr := mqttFakeBroker(t, mqttConnack(0, []byte{0x27, 0, 0, 1, 0})) // 256 bytes
	c := mqttOpen(t, &herald.Destination{URL: "mqtt://" + addr, Topic: "t"}, testEnv())
	_, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage("t", bytes.Repeat([]byte("x"), 1000)))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRejected {
		t.Fatalf("kind %q (%v), want rejected", k, err)
	}
	if !strings.Contains(err.Error(), "maximum packet size of 256") {
		t.Fatalf("%v", err)
	}
}

// mqttPacketSize is the size paho writes.
func TestMQTTPacketSize(t *testing.T) {
	for _, body := range []int{0, 1, 100, 16000, 200000} {
		m := mqttTestMessage("tenants/acme/order.created", bytes.Repeat([]byte("x"), body))
		props := &paho.PublishProperties{ContentType: "application/json"}
		for _, h := range m.Headers {
			props.User.Add(h.Name, h.Value)
		}
		p := &paho.Publish{QoS: 1, PacketID: 7, Topic: m.Dest.Topic, Payload: m.Body, Properties: props}
		var buf bytes.Buffer
		if _, err := p.Packet().WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if got := mqttPacketSize(m.Dest.Topic, props, body); got != buf.Len() {
			t.Errorf("body %d: size %d, paho writes %d", body, got, buf.Len())
		}
	}
}

// Close leaves no goroutine of the client behind.
func TestMQTTCloseReleasesGoroutines(t *testing.T) {
	addr := needService(t, "Mosquitto", mqttTestAddr)
	topic := mqttTestTopic(t, "herald-test/")
	before := runtime.NumGoroutine()
	c, err := MQTT().Open(testCtx(t), &herald.Destination{URL: "mqtt://" + addr, Topic: topic}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.Publish(mqttPublishCtx(t, 5*time.Second), mqttTestMessage(topic, []byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	if during := runtime.NumGoroutine(); during <= before {
		t.Fatalf("%d goroutines while connected, %d before: the count cannot tell", during, before)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
