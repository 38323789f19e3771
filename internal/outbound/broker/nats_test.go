package broker

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
	"github.com/heraldhq/herald/internal/shape"
)

const natsTestAddr = "127.0.0.1:4222"

func TestNATSCheck(t *testing.T) {
	ok := func() herald.Destination {
		return herald.Destination{URL: "nats://127.0.0.1:4222", Subject: "orders.created"}
	}
	cases := []struct {
		name  string
		edit  func(d *herald.Destination)
		field string // "" for a good destination
	}{
		{"plain", func(d *herald.Destination) {}, ""},
		{"tls and several servers", func(d *herald.Destination) { d.URL = "tls://a.example:4443, nats://b.example" }, ""},
		{"credentials in URL", func(d *herald.Destination) { d.URL = "nats://u:p@h:4222" }, ""},
		{"username and password", func(d *herald.Destination) { d.Username, d.Password = "u", "p" }, ""},
		{"token", func(d *herald.Destination) { d.Password = "tok" }, ""},
		{"stream", func(d *herald.Destination) { d.Stream = "ORDERS_1-x" }, ""},
		{"template subject", func(d *herald.Destination) { d.Subject = "orders.{{event_type}}.{{payload.id | upper}}" }, ""},
		{"hash template subject", func(d *herald.Destination) { d.Subject = "orders.#{event_type}" }, ""},
		{"template stream", func(d *herald.Destination) { d.Stream = "S_{{app.uid}}" }, ""},
		{"trailing slash", func(d *herald.Destination) { d.URL = "nats://h:4222/" }, ""},

		{"no url", func(d *herald.Destination) { d.URL = "" }, "url"},
		{"http url", func(d *herald.Destination) { d.URL = "http://h:4222" }, "url"},
		{"no host", func(d *herald.Destination) { d.URL = "nats://:4222" }, "url"},
		{"bad port", func(d *herald.Destination) { d.URL = "nats://h:99999" }, "url"},
		{"empty port", func(d *herald.Destination) { d.URL = "nats://h:" }, "url"},
		{"path", func(d *herald.Destination) { d.URL = "nats://h:4222/x" }, "url"},
		{"query", func(d *herald.Destination) { d.URL = "nats://h:4222?x=1" }, "url"},
		{"empty server", func(d *herald.Destination) { d.URL = "nats://a,,nats://b" }, "url"},
		{"too many servers", func(d *herald.Destination) { d.URL = strings.Repeat("nats://h,", 16) + "nats://h" }, "url"},
		{"unparsable", func(d *herald.Destination) { d.URL = "nats://h:4222/%zz" }, "url"},
		{"credentials twice", func(d *herald.Destination) { d.URL = "nats://u:p@h"; d.Username = "v" }, "username"},
		{"token twice", func(d *herald.Destination) { d.URL = "nats://u:p@h"; d.Password = "v" }, "password"},
		{"no subject", func(d *herald.Destination) { d.Subject = "" }, "subject"},
		{"subject space", func(d *herald.Destination) { d.Subject = "orders created" }, "subject"},
		{"subject star", func(d *herald.Destination) { d.Subject = "orders.*" }, "subject"},
		{"subject gt", func(d *herald.Destination) { d.Subject = "orders.>" }, "subject"},
		{"subject empty token", func(d *herald.Destination) { d.Subject = "orders..x" }, "subject"},
		{"subject trailing dot", func(d *herald.Destination) { d.Subject = "orders." }, "subject"},
		{"subject too long", func(d *herald.Destination) { d.Subject = strings.Repeat("a", 1025) }, "subject"},
		{"subject template space", func(d *herald.Destination) { d.Subject = "orders {{event_type}}" }, "subject"},
		{"stream dot", func(d *herald.Destination) { d.Stream = "A.B" }, "stream"},
		{"stream space", func(d *herald.Destination) { d.Stream = "A B" }, "stream"},
		{"stream star", func(d *herald.Destination) { d.Stream = "A*" }, "stream"},
		{"stream slash", func(d *herald.Destination) { d.Stream = "A/B" }, "stream"},
		{"stream too long", func(d *herald.Destination) { d.Stream = strings.Repeat("S", 256) }, "stream"},
		{"brokers", func(d *herald.Destination) { d.Brokers = []string{"k:9092"} }, "brokers"},
		{"exchange", func(d *herald.Destination) { d.Exchange = "x" }, "exchange"},
		{"routing_key", func(d *herald.Destination) { d.RoutingKey = "x" }, "routing_key"},
		{"topic", func(d *herald.Destination) { d.Topic = "x" }, "topic"},
		{"key", func(d *herald.Destination) { d.Key = "x" }, "key"},
		{"sasl", func(d *herald.Destination) { d.SASLMechanism = "plain" }, "sasl_mechanism"},
		{"tls flag", func(d *herald.Destination) { d.TLS = true }, "tls"},
		{"max_len", func(d *herald.Destination) { d.MaxLen = 5 }, "max_len"},
		{"project", func(d *herald.Destination) { d.Project = "p" }, "project"},
		{"ordering_key", func(d *herald.Destination) { d.OrderingKey = "k" }, "ordering_key"},
		{"credentials_json", func(d *herald.Destination) { d.CredentialsJSON = "{}" }, "credentials_json"},
		{"queue_url", func(d *herald.Destination) { d.QueueURL = "http://q" }, "queue_url"},
		{"region", func(d *herald.Destination) { d.Region = "eu" }, "region"},
		{"access_key_id", func(d *herald.Destination) { d.AccessKeyID = "a" }, "access_key_id"},
		{"secret_access_key", func(d *herald.Destination) { d.SecretAccessKey = "s" }, "secret_access_key"},
		{"message_group_id", func(d *herald.Destination) { d.MessageGroupID = "g" }, "message_group_id"},
		{"deduplication_id", func(d *herald.Destination) { d.DeduplicationID = "d" }, "deduplication_id"},
		{"endpoint", func(d *herald.Destination) { d.Endpoint = "http://e" }, "endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := ok()
			c.edit(&d)
			err := NATS().Check(&d)
			if c.field == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			fe, isField := errors.AsType[*shape.FieldError](err)
			if !isField {
				t.Fatalf("Check = %v (%T), want a field error on destination.%s", err, err, c.field)
			}
			if fe.Field != "destination."+c.field || fe.Msg == "" {
				t.Fatalf("Check names %q (%q), want destination.%s", fe.Field, fe.Msg, c.field)
			}
			if strings.Contains(fe.Msg, ":p@") {
				t.Fatalf("message shows the password: %q", fe.Msg)
			}
		})
	}
	d := herald.Destination{URL: "nats://h", Subject: "s", Brokers: []string{"k:9092"}}
	if fe, _ := errors.AsType[*shape.FieldError](NATS().Check(&d)); fe == nil || fe.Msg != "destination.brokers does not apply to nats destinations" {
		t.Fatalf("Check = %v", fe)
	}
	if err := NATS().Check(nil); err == nil {
		t.Fatal("Check(nil) passed")
	}
	if NATS().Name() != herald.KindNATS {
		t.Fatalf("Name = %q", NATS().Name())
	}
}

func TestNATSHosts(t *testing.T) {
	d := &herald.Destination{URL: "nats://u:p@a.example, tls://b.example:4443,nats://[::1]", Subject: "x"}
	got := strings.Join(NATS().Hosts(d), " ")
	if want := "a.example:4222 b.example:4443 [::1]:4222"; got != want {
		t.Fatalf("Hosts = %q, want %q", got, want)
	}
}

// natsName is a name unique to the test, valid as a subject token and a
// stream name.
func natsName(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	r := strings.NewReplacer("/", "_", " ", "_", ".", "_", "*", "_", ">", "_")
	return r.Replace(t.Name()) + "_" + hex.EncodeToString(b)
}

// natsTestConn is the test's own connection to the broker, to read what
// Herald published.
func natsTestConn(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// natsStream creates a stream holding subjects, deleted with the test.
func natsStream(t *testing.T, js jetstream.JetStream, name string, subjects ...string) jetstream.Stream {
	t.Helper()
	s, err := js.CreateStream(testCtx(t), jetstream.StreamConfig{Name: name, Subjects: subjects, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		js.DeleteStream(ctx, name)
	})
	return s
}

func natsOpen(t *testing.T, d *herald.Destination) outbound.Client {
	t.Helper()
	c, err := NATS().Open(testCtx(t), d, testEnv())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func natsMessage(d *herald.Destination, id string, body string) *outbound.Message {
	return &outbound.Message{
		Dest: d,
		ID:   id,
		Headers: []outbound.Header{
			{Name: "webhook-id", Value: id},
			{Name: "webhook-timestamp", Value: "1764880000"},
			{Name: "webhook-signature", Value: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
			{Name: "content-type", Value: "application/json"},
			{Name: "x-tenant", Value: "Acme Ltd"},
		},
		Body: []byte(body),
	}
}

// natsCheckMsg asserts that got carries m's body and headers exactly.
func natsCheckMsg(t *testing.T, got *nats.Msg, m *outbound.Message) {
	t.Helper()
	if !bytes.Equal(got.Data, m.Body) {
		t.Fatalf("body = %q, want %q", got.Data, m.Body)
	}
	for _, h := range m.Headers {
		if v := got.Header[h.Name]; len(v) != 1 || v[0] != h.Value {
			t.Fatalf("header %q = %q, want [%q] (all: %v)", h.Name, v, h.Value, got.Header)
		}
	}
}

func natsKindOf(t *testing.T, err error, want herald.ErrorKind) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want error kind %s", want)
	}
	if got := outbound.ErrorKindOf(err); got != want {
		t.Fatalf("error kind %q (%v), want %q", got, err, want)
	}
}

func TestNATSCorePublishArrives(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	nc, _ := natsTestConn(t, "nats://"+addr)
	subject := "herald.test." + natsName(t)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	d := &herald.Destination{URL: "nats://" + addr, Subject: subject}
	c := natsOpen(t, d)
	m := natsMessage(d, "msg_core1", `{"type":"order.created","data":{"id":"1","name":"山田"}}`+"\x00\xff")
	ack, err := c.Publish(testCtx(t), m)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if ack != natsAck {
		t.Fatalf("ack = %q", ack)
	}
	got, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no message: %v", err)
	}
	natsCheckMsg(t, got, m)
}

func TestNATSJetStreamPublishArrives(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	_, js := natsTestConn(t, "nats://"+addr)
	name := natsName(t)
	st := natsStream(t, js, name, "herald."+name+".>")
	d := &herald.Destination{URL: "nats://" + addr, Subject: "herald." + name + ".orders", Stream: name}
	c := natsOpen(t, d)
	m := natsMessage(d, "msg_js1", `{"type":"order.created"}`)
	ack, err := c.Publish(testCtx(t), m)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if want := fmt.Sprintf("stream %s seq 1", name); ack != want {
		t.Fatalf("ack = %q, want %q", ack, want)
	}
	raw, err := st.GetMsg(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	natsCheckMsg(t, &nats.Msg{Data: raw.Data, Header: raw.Header}, m)
	if v := raw.Header["Nats-Msg-Id"]; len(v) != 1 || v[0] != "msg_js1" {
		t.Fatalf("Nats-Msg-Id = %q", v)
	}
	// A retried attempt (same id) is dropped by the stream and says so.
	ack, err = c.Publish(testCtx(t), m)
	if err != nil {
		t.Fatalf("second Publish: %v", err)
	}
	if want := fmt.Sprintf("stream %s seq 1 duplicate", name); ack != want {
		t.Fatalf("ack = %q, want %q", ack, want)
	}
	info, err := st.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

func TestNATSNotAcknowledged(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	_, js := natsTestConn(t, "nats://"+addr)
	name := natsName(t)
	other := name + "_other"
	natsStream(t, js, name, "herald."+name+".in")
	otherSt := natsStream(t, js, other, "herald."+name+".elsewhere")

	t.Run("no stream holds the subject", func(t *testing.T) {
		d := &herald.Destination{URL: "nats://" + addr, Subject: "herald." + name + ".nowhere", Stream: name}
		c := natsOpen(t, d)
		ack, err := c.Publish(testCtx(t), natsMessage(d, "msg_nr", "{}"))
		natsKindOf(t, err, herald.ErrorKindRejected)
		if ack != "" {
			t.Fatalf("ack %q with an error", ack)
		}
	})
	t.Run("subject of another stream", func(t *testing.T) {
		d := &herald.Destination{URL: "nats://" + addr, Subject: "herald." + name + ".elsewhere", Stream: name}
		c := natsOpen(t, d)
		_, err := c.Publish(testCtx(t), natsMessage(d, "msg_other", "{}"))
		natsKindOf(t, err, herald.ErrorKindRejected)
		info, err := otherSt.Info(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 0 {
			t.Fatalf("the other stream took the message: %d", info.State.Msgs)
		}
	})
	t.Run("rendered subject unusable", func(t *testing.T) {
		d := &herald.Destination{URL: "nats://" + addr, Subject: "herald.{{x}}", Stream: name}
		c := natsOpen(t, d)
		_, err := c.Publish(testCtx(t), natsMessage(&herald.Destination{Subject: "herald.a b", Stream: name}, "msg_r", "{}"))
		natsKindOf(t, err, herald.ErrorKindRender)
	})
}

// natsWaitDown waits until the client saw its connection go.
func natsWaitDown(t *testing.T, c outbound.Client) {
	t.Helper()
	nc := c.(*natsClient)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		nc.mu.Lock()
		s := nc.conn
		nc.mu.Unlock()
		if s != nil {
			if up, _, _, _, _ := s.state(); !up {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the client did not see the connection go")
}

// natsPublishEventually publishes until it succeeds or the deadline.
func natsPublishEventually(t *testing.T, c outbound.Client, m *outbound.Message) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(testCtx(t), 3*time.Second)
		ack, err := c.Publish(ctx, m)
		cancel()
		if err == nil {
			return ack
		}
		if time.Now().After(deadline) {
			t.Fatalf("Publish still fails: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestNATSBrokerDown(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	_, js := natsTestConn(t, "nats://"+addr)
	name := natsName(t)
	st := natsStream(t, js, name, "herald."+name)
	p := brokertest.NewProxy(t, addr)
	d := &herald.Destination{URL: "nats://" + p.Addr(), Subject: "herald." + name, Stream: name}
	c := natsOpen(t, d)

	if _, err := c.Publish(testCtx(t), natsMessage(d, "msg_1", "1")); err != nil {
		t.Fatalf("first Publish: %v", err)
	}
	p.Down()
	natsWaitDown(t, c)
	start := time.Now()
	_, err := c.Publish(testCtx(t), natsMessage(d, "msg_2", "2"))
	natsKindOf(t, err, herald.ErrorKindConnect)
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("a Publish while down took %v", waited)
	}
	p.Up()
	ack := natsPublishEventually(t, c, natsMessage(d, "msg_3", "3"))
	if want := fmt.Sprintf("stream %s seq 2", name); ack != want {
		t.Fatalf("ack = %q, want %q (the failed publish must not have arrived)", ack, want)
	}
	info, err := st.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2", info.State.Msgs)
	}
	raw, err := st.GetMsg(testCtx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw.Data) != "3" {
		t.Fatalf("second message = %q", raw.Data)
	}
}

func TestNATSFirstConnectFails(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	nc, _ := natsTestConn(t, "nats://"+addr)
	subject := "herald." + natsName(t)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	p := brokertest.NewProxy(t, addr)
	p.Down()
	d := &herald.Destination{URL: "nats://" + p.Addr(), Subject: subject}
	c := natsOpen(t, d)
	_, err = c.Publish(testCtx(t), natsMessage(d, "msg_a", "a"))
	natsKindOf(t, err, herald.ErrorKindConnect)
	p.Up()
	m := natsMessage(d, "msg_b", "b")
	if _, err := c.Publish(testCtx(t), m); err != nil {
		t.Fatalf("Publish after up: %v", err)
	}
	got, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	natsCheckMsg(t, got, m)
}

func TestNATSAuth(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, Username: "herald", Password: "s3cret", NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	addr := s.Addr().String()
	subject := "herald." + natsName(t)

	for _, d := range []*herald.Destination{
		{URL: "nats://" + addr, Subject: subject, Username: "herald", Password: "wrong"},
		{URL: "nats://herald:wrong@" + addr, Subject: subject},
		{URL: "nats://" + addr, Subject: subject},
	} {
		c := natsOpen(t, d)
		_, err := c.Publish(testCtx(t), natsMessage(d, "msg_x", "x"))
		natsKindOf(t, err, herald.ErrorKindAuth)
		if strings.Contains(err.Error(), "wrong") {
			t.Fatalf("error shows the password: %v", err)
		}
	}

	nc, err := nats.Connect("nats://herald:s3cret@" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	d := &herald.Destination{URL: "nats://" + addr, Subject: subject, Username: "herald", Password: "s3cret"}
	c := natsOpen(t, d)
	m := natsMessage(d, "msg_ok", "ok")
	if _, err := c.Publish(testCtx(t), m); err != nil {
		t.Fatalf("Publish with the right password: %v", err)
	}
	got, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	natsCheckMsg(t, got, m)
}

func TestNATSPermissionDenied(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		Users: []*server.User{{Username: "herald", Password: "pw", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{"allowed.>"}},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	d := &herald.Destination{URL: "nats://" + s.Addr().String(), Subject: "denied.x", Username: "herald", Password: "pw"}
	c := natsOpen(t, d)
	_, err = c.Publish(testCtx(t), natsMessage(d, "msg_d", "d"))
	natsKindOf(t, err, herald.ErrorKindAuth)
	ok := &herald.Destination{Subject: "allowed.x"}
	if _, err := c.Publish(testCtx(t), natsMessage(ok, "msg_o", "o")); err != nil {
		t.Fatalf("allowed subject: %v", err)
	}
}

func TestNATSConcurrent(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	_, js := natsTestConn(t, "nats://"+addr)
	name := natsName(t)
	st := natsStream(t, js, name, "herald."+name)
	d := &herald.Destination{URL: "nats://" + addr, Subject: "herald." + name, Stream: name}
	c := natsOpen(t, d)
	core := natsOpen(t, &herald.Destination{URL: "nats://" + addr, Subject: "herald." + name + "_core"})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 50 {
		wg.Go(func() {
			if _, err := c.Publish(testCtx(t), natsMessage(d, fmt.Sprintf("msg_%d", i), fmt.Sprint(i))); err != nil {
				errs <- err
			}
			if _, err := core.Publish(testCtx(t), natsMessage(&herald.Destination{Subject: "herald." + name + "_core"}, fmt.Sprintf("c_%d", i), "c")); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	info, err := st.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 50 {
		t.Fatalf("stream holds %d messages, want 50", info.State.Msgs)
	}
	seen := map[string]bool{}
	for seq := uint64(1); seq <= 50; seq++ {
		raw, err := st.GetMsg(testCtx(t), seq)
		if err != nil {
			t.Fatal(err)
		}
		seen[string(raw.Data)] = true
	}
	if len(seen) != 50 {
		t.Fatalf("%d distinct messages, want 50", len(seen))
	}
}

func TestNATSClose(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	d := &herald.Destination{URL: "nats://" + addr, Subject: "herald." + natsName(t)}
	c, err := NATS().Open(testCtx(t), d, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(testCtx(t), natsMessage(d, "msg_1", "1")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(testCtx(t), natsMessage(d, "msg_2", "2")); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Closing a client that never connected.
	c2, err := NATS().Open(testCtx(t), d, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if _, err := c2.Publish(testCtx(t), natsMessage(d, "msg_3", "3")); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
}

func TestNATSAckTimeout(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	nc, _ := natsTestConn(t, "nats://"+addr)
	name := natsName(t)
	subject := "herald." + name
	// A listener that is not a stream and never answers: the request has
	// a responder, so no "no responders", and no acknowledgement comes.
	if _, err := nc.SubscribeSync(subject); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	d := &herald.Destination{URL: "nats://" + addr, Subject: subject, Stream: name}
	c := natsOpen(t, d)
	ctx, cancel := context.WithTimeout(testCtx(t), time.Second)
	defer cancel()
	ack, err := c.Publish(ctx, natsMessage(d, "msg_t", "t"))
	natsKindOf(t, err, herald.ErrorKindTimeout)
	if ack != "" {
		t.Fatalf("ack %q with an error", ack)
	}
}

func TestNATSDialsThroughPolicy(t *testing.T) {
	var dialed []string
	var mu sync.Mutex
	env := testEnv()
	env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: network, Err: &netpolicy.BlockedError{Rule: "private", Host: "broker.internal"}}
	}
	d := &herald.Destination{URL: "nats://broker.internal:4222", Subject: "x"}
	c, err := NATS().Open(testCtx(t), d, env)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Publish(testCtx(t), natsMessage(d, "msg_p", "p"))
	natsKindOf(t, err, herald.ErrorKindPolicy)
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) == 0 || dialed[0] != "broker.internal:4222" {
		t.Fatalf("dialed %v, want the host name through env.Dial", dialed)
	}
}

func TestNATSMaxPayload(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, MaxPayload: 1024, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	// The first server listed is down: the client goes on to the next.
	d := &herald.Destination{URL: "nats://127.0.0.1:1 , nats://" + s.Addr().String(), Subject: "big"}
	c := natsOpen(t, d)
	_, err = c.Publish(testCtx(t), natsMessage(d, "msg_big", strings.Repeat("x", 2048)))
	natsKindOf(t, err, herald.ErrorKindRejected)
	if _, err := c.Publish(testCtx(t), natsMessage(d, "msg_small", "x")); err != nil {
		t.Fatalf("small message: %v", err)
	}
}

func TestNATSCoreBrokerDown(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	nc, _ := natsTestConn(t, "nats://"+addr)
	subject := "herald." + natsName(t)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	p := brokertest.NewProxy(t, addr)
	d := &herald.Destination{URL: "nats://" + p.Addr(), Subject: subject}
	c := natsOpen(t, d)
	if _, err := c.Publish(testCtx(t), natsMessage(d, "msg_1", "1")); err != nil {
		t.Fatalf("first Publish: %v", err)
	}
	p.Down()
	natsWaitDown(t, c)
	_, err = c.Publish(testCtx(t), natsMessage(d, "msg_2", "2"))
	natsKindOf(t, err, herald.ErrorKindConnect)
	p.Up()
	natsPublishEventually(t, c, natsMessage(d, "msg_3", "3"))
	var got []string
	for range 2 {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, string(m.Data))
	}
	if strings.Join(got, ",") != "1,3" {
		t.Fatalf("received %v, want 1 and 3", got)
	}
}

// A connection lost while a JetStream publish waits for its
// acknowledgement ends the publish at once, as a network error, instead
// of waiting out its context.
func TestNATSLostDuringPublish(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	nc, _ := natsTestConn(t, "nats://"+addr)
	name := natsName(t)
	subject := "herald." + name
	// Not a stream: it takes the request and never acknowledges it.
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	p := brokertest.NewProxy(t, addr)
	d := &herald.Destination{URL: "nats://" + p.Addr(), Subject: subject, Stream: name}
	c := natsOpen(t, d)
	ctx, cancel := context.WithTimeout(testCtx(t), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := c.Publish(ctx, natsMessage(d, "msg_l", "l"))
		done <- err
	}()
	if _, err := sub.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("the request never reached the broker: %v", err)
	}
	p.Down()
	select {
	case err := <-done:
		natsKindOf(t, err, herald.ErrorKindNetwork)
		if waited := time.Since(start); waited > 10*time.Second {
			t.Fatalf("took %v", waited)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the publish did not end when the connection was lost")
	}
}

// natsSelfSigned is a certificate for 127.0.0.1 no one trusts.
func natsSelfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestNATSUntrustedTLS(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		TLS: true, TLSTimeout: 2, TLSConfig: &tls.Config{Certificates: []tls.Certificate{natsSelfSigned(t)}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	d := &herald.Destination{URL: "tls://" + s.Addr().String(), Subject: "x"}
	c := natsOpen(t, d)
	_, err = c.Publish(testCtx(t), natsMessage(d, "msg_tls", "x"))
	natsKindOf(t, err, herald.ErrorKindTLS)
}

// When nats.go gives up on a connection (it closes it after its last
// reconnect attempt), the next Publish connects afresh.
func TestNATSConnectionClosedForGood(t *testing.T) {
	addr := needService(t, "NATS", natsTestAddr)
	nc, _ := natsTestConn(t, "nats://"+addr)
	subject := "herald." + natsName(t)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	d := &herald.Destination{URL: "nats://" + addr, Subject: subject}
	c := natsOpen(t, d)
	if _, err := c.Publish(testCtx(t), natsMessage(d, "msg_1", "1")); err != nil {
		t.Fatal(err)
	}
	cl := c.(*natsClient)
	cl.mu.Lock()
	first := cl.conn.nc
	cl.mu.Unlock()
	first.Close()
	if _, err := c.Publish(testCtx(t), natsMessage(d, "msg_2", "2")); err != nil {
		t.Fatalf("Publish after the connection closed: %v", err)
	}
	for _, want := range []string{"1", "2"} {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil || string(m.Data) != want {
			t.Fatalf("got %v, %v; want %q", m, err, want)
		}
	}
}
