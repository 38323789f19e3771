package broker

import (
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
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/redis/go-redis/v9"
)

const redisLocal = "127.0.0.1:6379"

func redisRandom(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// redisAdmin is a plain client of addr, for the test's own reads.
func redisAdmin(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// redisStream is a stream key of this test alone, deleted after it.
func redisStream(t *testing.T, admin *redis.Client) string {
	t.Helper()
	key := "herald-test:" + t.Name() + ":" + redisRandom(t)
	t.Cleanup(func() { admin.Del(context.Background(), key) })
	return key
}

// redisEntry is one stream entry, its fields in order.
type redisEntry struct {
	id     string
	fields []string
}

func (e redisEntry) get(name string) (string, bool) {
	for i := 0; i+1 < len(e.fields); i += 2 {
		if e.fields[i] == name {
			return e.fields[i+1], true
		}
	}
	return "", false
}

// redisRange reads the whole stream with XRANGE, keeping the field order
// (the client's own XRange answers a map).
func redisRange(t *testing.T, admin *redis.Client, stream string) []redisEntry {
	t.Helper()
	res, err := admin.Do(testCtx(t), "XRANGE", stream, "-", "+").Slice()
	if err != nil {
		t.Fatalf("XRANGE %s: %v", stream, err)
	}
	var out []redisEntry
	for _, r := range res {
		pair := r.([]any)
		e := redisEntry{id: pair[0].(string)}
		for _, f := range pair[1].([]any) {
			e.fields = append(e.fields, f.(string))
		}
		out = append(out, e)
	}
	return out
}

func redisMessage(id, body string) *outbound.Message {
	return &outbound.Message{
		ID: id,
		Headers: []outbound.Header{
			{Name: "webhook-id", Value: id},
			{Name: "webhook-timestamp", Value: "1733340000"},
			{Name: "webhook-signature", Value: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
			{Name: "content-type", Value: "application/json"},
			{Name: "x-tenant", Value: "acme"},
		},
		Body: []byte(body),
	}
}

// redisKindOf is the error kind of err, none for nil.
func redisKindOf(err error) herald.ErrorKind {
	if err == nil {
		return herald.ErrorKindNone
	}
	return outbound.ErrorKindOf(err)
}

func redisOpen(t *testing.T, d *herald.Destination, env outbound.Env) outbound.Client {
	t.Helper()
	c, err := Redis().Open(testCtx(t), d, env)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisCheck(t *testing.T) {
	ok := herald.Destination{URL: "redis://broker.example:6379/0", Stream: "events"}
	with := func(f func(d *herald.Destination)) *herald.Destination {
		d := ok
		f(&d)
		return &d
	}
	good := []*herald.Destination{
		&ok,
		with(func(d *herald.Destination) { d.URL = "redis://broker.example" }),
		with(func(d *herald.Destination) { d.URL = "rediss://broker.example:6380/15" }),
		with(func(d *herald.Destination) { d.URL = "redis://:s3cret@broker.example/" }),
		with(func(d *herald.Destination) { d.URL = "redis://herald:s3cret@[::1]:7000/2" }),
		with(func(d *herald.Destination) { d.Username, d.Password = "herald", "s3cret" }),
		with(func(d *herald.Destination) { d.Password = "s3cret" }),
		with(func(d *herald.Destination) { d.Stream = "events:{{event_type}}" }),
		with(func(d *herald.Destination) { d.Stream = "events with spaces" }),
		with(func(d *herald.Destination) { d.MaxLen = 10000 }),
	}
	for _, d := range good {
		if err := Redis().Check(d); err != nil {
			t.Errorf("Check(%+v) = %v, want nil", *d, err)
		}
	}
	bad := []struct {
		d     *herald.Destination
		field string
	}{
		{with(func(d *herald.Destination) { d.URL = "" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "http://broker.example:6379" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "redis://" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "redis:///0" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "redis://broker.example:99999" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "redis://broker.example/x" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "redis://broker.example/-1" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "redis://broker.example/0/1" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "redis://broker.example/0?pool_size=1000" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "redis://herald@broker.example/0" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "redis://broker example" }), "url"},
		{with(func(d *herald.Destination) { d.URL = "redis://:x@broker.example"; d.Password = "y" }), "password"},
		{with(func(d *herald.Destination) { d.URL = "redis://:x@broker.example"; d.Username = "u" }), "username"},
		{with(func(d *herald.Destination) { d.Username = "herald" }), "password"},
		{with(func(d *herald.Destination) { d.Stream = "" }), "stream"},
		{with(func(d *herald.Destination) { d.Stream = "   " }), "stream"},
		{with(func(d *herald.Destination) { d.Stream = "a\nb" }), "stream"},
		{with(func(d *herald.Destination) { d.Stream = strings.Repeat("s", 1025) }), "stream"},
		{with(func(d *herald.Destination) { d.MaxLen = -1 }), "max_len"},
		{with(func(d *herald.Destination) { d.Subject = "orders" }), "subject"},
		{with(func(d *herald.Destination) { d.Exchange = "x" }), "exchange"},
		{with(func(d *herald.Destination) { d.RoutingKey = "k" }), "routing_key"},
		{with(func(d *herald.Destination) { d.Brokers = []string{"k:9092"} }), "brokers"},
		{with(func(d *herald.Destination) { d.Topic = "t" }), "topic"},
		{with(func(d *herald.Destination) { d.Key = "k" }), "key"},
		{with(func(d *herald.Destination) { d.SASLMechanism = "plain" }), "sasl_mechanism"},
		{with(func(d *herald.Destination) { d.TLS = true }), "tls"},
		{with(func(d *herald.Destination) { d.Project = "p" }), "project"},
		{with(func(d *herald.Destination) { d.OrderingKey = "o" }), "ordering_key"},
		{with(func(d *herald.Destination) { d.CredentialsJSON = "{}" }), "credentials_json"},
		{with(func(d *herald.Destination) { d.QueueURL = "https://sqs" }), "queue_url"},
		{with(func(d *herald.Destination) { d.Region = "eu-west-1" }), "region"},
		{with(func(d *herald.Destination) { d.AccessKeyID = "AK" }), "access_key_id"},
		{with(func(d *herald.Destination) { d.SecretAccessKey = "sk" }), "secret_access_key"},
		{with(func(d *herald.Destination) { d.MessageGroupID = "g" }), "message_group_id"},
		{with(func(d *herald.Destination) { d.DeduplicationID = "d" }), "deduplication_id"},
		{with(func(d *herald.Destination) { d.Endpoint = "http://x" }), "endpoint"},
	}
	for _, c := range bad {
		err := Redis().Check(c.d)
		fe, ok := errors.AsType[*shape.FieldError](err)
		if !ok {
			t.Errorf("Check(%+v) = %v (%T), want a *shape.FieldError", *c.d, err, err)
			continue
		}
		if fe.Field != "destination."+c.field {
			t.Errorf("Check(%+v) names %q (%s), want destination.%s", *c.d, fe.Field, fe.Msg, c.field)
		}
	}
	// A URL's password never shows in the error.
	err := Redis().Check(&herald.Destination{URL: "redis://:topsecret@bad host/0", Stream: "s"})
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("Check of a bad URL with a password = %v", err)
	}
	if err := Redis().Check(nil); err == nil {
		t.Error("Check(nil) = nil")
	}
	if c, err := Redis().Open(testCtx(t), with(func(d *herald.Destination) { d.Topic = "t" }), testEnv()); err == nil {
		c.Close()
		t.Error("Open of a destination Check refuses = nil error")
	}
	if got := Redis().Name(); got != herald.KindRedis {
		t.Errorf("Name() = %q", got)
	}
}

func TestRedisHosts(t *testing.T) {
	for url, want := range map[string]string{
		"redis://broker.example":            "broker.example:6379",
		"rediss://:p@broker.example:6380/1": "broker.example:6380",
		"redis://[::1]/0":                   "[::1]:6379",
	} {
		got := Redis().Hosts(&herald.Destination{URL: url, Stream: "s"})
		if len(got) != 1 || got[0] != want {
			t.Errorf("Hosts(%s) = %v, want [%s]", url, got, want)
		}
	}
	if got := Redis().Hosts(&herald.Destination{URL: "nats://x"}); len(got) != 0 {
		t.Errorf("Hosts of a bad url = %v", got)
	}
}

func TestRedisPublishArrives(t *testing.T) {
	addr := needService(t, "redis", redisLocal)
	admin := redisAdmin(t, addr)
	stream := redisStream(t, admin)
	c := redisOpen(t, &herald.Destination{URL: "redis://" + addr + "/0", Stream: stream}, testEnv())

	body := "{\"type\":\"order.paid\",\"data\":{\"id\":\"ord_1\",\"note\":\"caf\xc3\xa9 \\u0000\"}}\x00\xff"
	m := redisMessage("msg_"+redisRandom(t), body)
	// Headers that must not replace Herald's own fields, a repeat, and a
	// name in capitals.
	m.Headers = append(m.Headers,
		outbound.Header{Name: "body", Value: "forged"},
		outbound.Header{Name: "webhook-id", Value: "forged"},
		outbound.Header{Name: "X-Trace", Value: "t-1"},
		outbound.Header{Name: "x-tenant", Value: "other"},
	)
	m.Dest = &herald.Destination{URL: "redis://" + addr + "/0", Stream: stream}
	ack, err := c.Publish(testCtx(t), m)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	entries := redisRange(t, admin, stream)
	if len(entries) != 1 {
		t.Fatalf("%d entries, want 1", len(entries))
	}
	e := entries[0]
	if ack != "entry "+e.id {
		t.Errorf("ack %q, want %q", ack, "entry "+e.id)
	}
	want := []string{
		"webhook-id", m.ID,
		"webhook-timestamp", "1733340000",
		"webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
		"content-type", "application/json",
		"x-tenant", "acme",
		"x-trace", "t-1",
		"body", body,
	}
	if fmt.Sprintf("%q", e.fields) != fmt.Sprintf("%q", want) {
		t.Errorf("fields\n got %q\nwant %q", e.fields, want)
	}
}

func TestRedisDatabaseAndTemplateStream(t *testing.T) {
	addr := needService(t, "redis", redisLocal)
	admin := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, DB: 3})
	t.Cleanup(func() { admin.Close() })
	stream := redisStream(t, admin)
	// The destination as saved has a template; the message carries it
	// filled in.
	c := redisOpen(t, &herald.Destination{URL: "redis://" + addr + "/3", Stream: "x:{{event_type}}", MaxLen: 5}, testEnv())
	for i := range 300 {
		m := redisMessage(fmt.Sprintf("msg_%d", i), "{}")
		m.Dest = &herald.Destination{Stream: stream, MaxLen: 5}
		if _, err := c.Publish(testCtx(t), m); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	// MAXLEN ~ trims whole nodes of the stream (100 entries by default),
	// so about, not exactly, max_len entries remain.
	n, err := admin.XLen(testCtx(t), stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 || n >= 300 {
		t.Errorf("XLEN %d in db 3 after 300 XADDs with max_len 5, want trimmed", n)
	}
	if _, err := c.Publish(testCtx(t), redisMessage("msg_unfilled", "{}")); outbound.ErrorKindOf(err) != herald.ErrorKindRender {
		t.Errorf("Publish with the template unfilled = %v, want render", err)
	}
	m := redisMessage("msg_empty", "{}")
	m.Dest = &herald.Destination{Stream: ""}
	if _, err := c.Publish(testCtx(t), m); outbound.ErrorKindOf(err) != herald.ErrorKindRender {
		t.Errorf("Publish to an empty stream key = %v (%s), want render", err, outbound.ErrorKindOf(err))
	}
}

// redisPoll publishes new messages until one succeeds or the deadline
// passes; it returns the message that was acknowledged.
func redisPoll(t *testing.T, c outbound.Client, stream string) *outbound.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		m := redisMessage(fmt.Sprintf("msg_poll_%d", i), "{}")
		m.Dest = &herald.Destination{Stream: stream}
		ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
		_, err := c.Publish(ctx, m)
		cancel()
		if err == nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no publish succeeded in 20s; last: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedisBrokerDown(t *testing.T) {
	addr := needService(t, "redis", redisLocal)
	admin := redisAdmin(t, addr)
	stream := redisStream(t, admin)
	p := brokertest.NewProxy(t, addr)
	c := redisOpen(t, &herald.Destination{URL: "redis://" + p.Addr(), Stream: stream}, testEnv())

	first := redisMessage("msg_first", "{}")
	first.Dest = &herald.Destination{Stream: stream}
	if _, err := c.Publish(testCtx(t), first); err != nil {
		t.Fatalf("Publish before down: %v", err)
	}

	p.Down()
	lost := redisMessage("msg_while_down", "{}")
	lost.Dest = &herald.Destination{Stream: stream}
	_, err := c.Publish(testCtx(t), lost)
	if err == nil {
		t.Fatal("Publish with the broker down succeeded")
	}
	// The pooled connection was cut: the client finds it dead and dials
	// again, which the closed port refuses.
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindConnect {
		t.Errorf("error kind %q (%v), want connect", k, err)
	}
	// More failures than the pool has connections: the client stops
	// dialling on each call and answers with the last dial error until a
	// probe gets through; the kind stays connect.
	for i := range 2 * redisPoolSize {
		m := redisMessage(fmt.Sprintf("msg_while_down_%d", i), "{}")
		m.Dest = &herald.Destination{Stream: stream}
		_, err := c.Publish(testCtx(t), m)
		if k := redisKindOf(err); k != herald.ErrorKindConnect {
			t.Fatalf("failure %d: error kind %q (%v), want connect", i, k, err)
		}
	}

	p.Up()
	back := redisPoll(t, c, stream)
	var ids []string
	for _, e := range redisRange(t, admin, stream) {
		id, _ := e.get("webhook-id")
		ids = append(ids, id)
	}
	if len(ids) != 2 || ids[0] != first.ID || ids[1] != back.ID {
		t.Errorf("stream holds %v, want [%s %s] (nothing from the failed publish)", ids, first.ID, back.ID)
	}
}

func TestRedisBrokerDownMidway(t *testing.T) {
	addr := needService(t, "redis", redisLocal)
	admin := redisAdmin(t, addr)
	stream := redisStream(t, admin)
	// A listener that accepts and never answers: the XADD gets no reply.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	c := redisOpen(t, &herald.Destination{URL: "redis://" + ln.Addr().String(), Stream: stream}, testEnv())
	ctx, cancel := context.WithTimeout(testCtx(t), 500*time.Millisecond)
	defer cancel()
	m := redisMessage("msg_silent", "{}")
	m.Dest = &herald.Destination{Stream: stream}
	_, err = c.Publish(ctx, m)
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindTimeout {
		t.Errorf("Publish to a silent server = %v (%q), want timeout", err, k)
	}
}

func TestRedisRejected(t *testing.T) {
	addr := needService(t, "redis", redisLocal)
	admin := redisAdmin(t, addr)
	key := redisStream(t, admin)
	if err := admin.Set(testCtx(t), key, "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c := redisOpen(t, &herald.Destination{URL: "redis://" + addr, Stream: key}, testEnv())
	m := redisMessage("msg_wrongtype", "{}")
	m.Dest = &herald.Destination{Stream: key}
	ack, err := c.Publish(testCtx(t), m)
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRejected {
		t.Fatalf("XADD to a string key = %q, %v (%q), want rejected", ack, err, k)
	}
	if !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("error %q does not say WRONGTYPE", err)
	}
}

// redisServer starts a Redis of this test alone (brokertest.StartRedis).
func redisServer(t *testing.T, args ...string) string {
	t.Helper()
	return brokertest.StartRedis(t, args...)
}

func TestRedisRejectedOOM(t *testing.T) {
	addr := redisServer(t, "--maxmemory", "1", "--maxmemory-policy", "noeviction")
	c := redisOpen(t, &herald.Destination{URL: "redis://" + addr, Stream: "s"}, testEnv())
	m := redisMessage("msg_oom", "{}")
	m.Dest = &herald.Destination{Stream: "s"}
	_, err := c.Publish(testCtx(t), m)
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindRejected {
		t.Fatalf("XADD over maxmemory = %v (%q), want rejected", err, k)
	}
	if !strings.Contains(err.Error(), "OOM") {
		t.Errorf("error %q does not say OOM", err)
	}
}

func TestRedisAuth(t *testing.T) {
	t.Run("NoPasswordConfigured", func(t *testing.T) {
		addr := needService(t, "redis", redisLocal)
		stream := redisStream(t, redisAdmin(t, addr))
		c := redisOpen(t, &herald.Destination{URL: "redis://" + addr, Stream: stream, Password: "nope"}, testEnv())
		_, err := c.Publish(testCtx(t), redisMessage("msg_auth", "{}"))
		if k := outbound.ErrorKindOf(err); k != herald.ErrorKindAuth {
			t.Errorf("password on a server without one = %v (%q), want auth", err, k)
		}
	})
	addr := redisServer(t, "--requirepass", "s3cret")
	admin := redis.NewClient(&redis.Options{Addr: addr, Password: "s3cret", Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { admin.Close() })
	if err := admin.Do(testCtx(t), "ACL", "SETUSER", "herald", "on", ">userpass", "~*", "+@all").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	for _, c := range []struct {
		name string
		d    herald.Destination
		want herald.ErrorKind
	}{
		{"NoPassword", herald.Destination{URL: "redis://" + addr}, herald.ErrorKindAuth},
		{"WrongPassword", herald.Destination{URL: "redis://:wrong@" + addr}, herald.ErrorKindAuth},
		{"WrongUserPassword", herald.Destination{URL: "redis://" + addr, Username: "herald", Password: "wrong"}, herald.ErrorKindAuth},
		{"Password", herald.Destination{URL: "redis://:s3cret@" + addr}, herald.ErrorKindNone},
		{"UserPassword", herald.Destination{URL: "redis://" + addr, Username: "herald", Password: "userpass"}, herald.ErrorKindNone},
	} {
		t.Run(c.name, func(t *testing.T) {
			stream := redisStream(t, admin)
			c.d.Stream = stream
			cl := redisOpen(t, &c.d, testEnv())
			m := redisMessage("msg_"+c.name, "{}")
			ack, err := cl.Publish(testCtx(t), m)
			if k := redisKindOf(err); k != c.want {
				t.Fatalf("Publish = %q, %v (%q), want %q", ack, err, k, c.want)
			}
			if n := admin.XLen(testCtx(t), stream).Val(); (err == nil) != (n == 1) {
				t.Errorf("XLEN %d after Publish = %v", n, err)
			}
		})
	}
}

func TestRedisConcurrent(t *testing.T) {
	addr := needService(t, "redis", redisLocal)
	admin := redisAdmin(t, addr)
	stream := redisStream(t, admin)
	c := redisOpen(t, &herald.Destination{URL: "redis://" + addr, Stream: stream}, testEnv())
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			m := redisMessage(fmt.Sprintf("msg_%02d", i), fmt.Sprintf(`{"n":%d}`, i))
			m.Dest = &herald.Destination{Stream: stream}
			if _, err := c.Publish(testCtx(t), m); err != nil {
				errs <- fmt.Errorf("publish %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]string{}
	for _, e := range redisRange(t, admin, stream) {
		id, _ := e.get("webhook-id")
		body, _ := e.get("body")
		seen[id] = body
	}
	for i := range n {
		id := fmt.Sprintf("msg_%02d", i)
		if seen[id] != fmt.Sprintf(`{"n":%d}`, i) {
			t.Errorf("%s arrived as %q", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct entries, want %d", len(seen), n)
	}
}

func TestRedisClose(t *testing.T) {
	addr := needService(t, "redis", redisLocal)
	admin := redisAdmin(t, addr)
	stream := redisStream(t, admin)
	c, err := Redis().Open(testCtx(t), &herald.Destination{URL: "redis://" + addr, Stream: stream}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	m := redisMessage("msg_1", "{}")
	if _, err := c.Publish(testCtx(t), m); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if ack, err := c.Publish(testCtx(t), redisMessage("msg_2", "{}")); err == nil {
		t.Fatalf("Publish after Close = %q, nil", ack)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := admin.XLen(testCtx(t), stream).Val(); n != 1 {
		t.Errorf("XLEN %d, want 1", n)
	}
}

func TestRedisDialsThroughEnv(t *testing.T) {
	addr := needService(t, "redis", redisLocal)
	admin := redisAdmin(t, addr)
	stream := redisStream(t, admin)
	var dials atomic.Int32
	env := testEnv()
	base := env.Dial
	env.Dial = func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		if a != addr {
			return nil, fmt.Errorf("dialled %s, want %s", a, addr)
		}
		return base(ctx, network, a)
	}
	c := redisOpen(t, &herald.Destination{URL: "redis://" + addr, Stream: stream}, env)
	if _, err := c.Publish(testCtx(t), redisMessage("msg_1", "{}")); err != nil {
		t.Fatal(err)
	}
	if dials.Load() == 0 {
		t.Error("the client connected without env.Dial")
	}

	// The destination policy's refusal is the attempt's error kind.
	env.Dial = netpolicy.New(netpolicy.Options{}).DialContext(nil)
	c = redisOpen(t, &herald.Destination{URL: "redis://" + addr, Stream: stream}, env)
	_, err := c.Publish(testCtx(t), redisMessage("msg_2", "{}"))
	if k := outbound.ErrorKindOf(err); k != herald.ErrorKindPolicy {
		t.Errorf("Publish to loopback under the default policy = %v (%q), want policy", err, k)
	}
}

// redisTLSProxy terminates TLS on a loopback port with a certificate of
// its own for 127.0.0.1 and forwards to target; it returns its address
// and the pool that trusts its certificate.
func redisTLSProxy(t *testing.T, target string) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "herald test redis"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer b.Close()
				go io.Copy(b, c)
				io.Copy(c, b)
			}()
		}
	}()
	return ln.Addr().String(), roots
}

func TestRedisTLS(t *testing.T) {
	addr := needService(t, "redis", redisLocal)
	admin := redisAdmin(t, addr)
	stream := redisStream(t, admin)
	tlsAddr, roots := redisTLSProxy(t, addr)
	var dials atomic.Int32
	env := testEnv()
	base := env.Dial
	env.Dial = func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return base(ctx, network, a)
	}
	d := &herald.Destination{URL: "rediss://" + tlsAddr + "/0", Stream: stream}

	// Unknown certificate: a tls error, and nothing arrives.
	c := redisOpen(t, d, env)
	_, err := c.Publish(testCtx(t), redisMessage("msg_untrusted", "{}"))
	if k := redisKindOf(err); k != herald.ErrorKindTLS {
		t.Errorf("rediss to an untrusted certificate = %v (%q), want tls", err, k)
	}
	if dials.Load() == 0 {
		t.Error("the rediss client connected without env.Dial")
	}

	redisTestRoots = roots
	t.Cleanup(func() { redisTestRoots = nil })
	c = redisOpen(t, d, env)
	m := redisMessage("msg_tls", `{"over":"tls"}`)
	if _, err := c.Publish(testCtx(t), m); err != nil {
		t.Fatalf("rediss Publish: %v", err)
	}
	entries := redisRange(t, admin, stream)
	if len(entries) != 1 {
		t.Fatalf("%d entries, want 1", len(entries))
	}
	if body, _ := entries[0].get("body"); body != string(m.Body) {
		t.Errorf("body %q, want %q", body, m.Body)
	}
}

func TestRedisReconnectsAfterRestart(t *testing.T) {
	addr := needService(t, "redis", redisLocal)
	admin := redisAdmin(t, addr)
	stream := redisStream(t, admin)
	p := brokertest.NewProxy(t, addr)
	c := redisOpen(t, &herald.Destination{URL: "redis://" + p.Addr(), Stream: stream}, testEnv())
	if _, err := c.Publish(testCtx(t), redisMessage("msg_1", "{}")); err != nil {
		t.Fatal(err)
	}
	// The broker goes and comes back between two deliveries: the pooled
	// connection is dead, and the next delivery must not fail on it.
	p.Down()
	p.Up()
	if _, err := c.Publish(testCtx(t), redisMessage("msg_2", "{}")); err != nil {
		t.Fatalf("first Publish after the broker came back: %v", err)
	}
	if n := admin.XLen(testCtx(t), stream).Val(); n != 2 {
		t.Errorf("XLEN %d, want 2", n)
	}
}

func TestRedisHostileReply(t *testing.T) {
	// A server of the tenant's choosing announces replies of gigabytes;
	// the client must refuse them, not allocate them.
	for _, reply := range []string{"$2000000000\r\n", "*100000000\r\n", "%100000000\r\n", "$99999999999999999999999999\r\n"} {
		t.Run(strings.TrimSpace(reply[:3]), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						buf := make([]byte, 4096)
						for {
							if _, err := c.Read(buf); err != nil {
								return
							}
							if _, err := c.Write([]byte(reply)); err != nil {
								return
							}
						}
					}()
				}
			}()
			c := redisOpen(t, &herald.Destination{URL: "redis://" + ln.Addr().String(), Stream: "s"}, testEnv())
			ack, err := c.Publish(testCtx(t), redisMessage("msg_hostile", "{}"))
			if err == nil {
				t.Fatalf("Publish to a hostile server = %q, nil", ack)
			}
			if !errors.Is(err, errRedisReplyTooLarge) {
				t.Errorf("Publish to a hostile server = %v, want %v", err, errRedisReplyTooLarge)
			}
		})
	}
}

func TestRedisReplyScan(t *testing.T) {
	// Replies Herald gets, split at every byte: all pass.
	good := "+OK\r\n$15\r\n1733340000000-0\r\n-ERR no\r\n*2\r\n$1\r\na\r\n$-1\r\n%1\r\n+k\r\n:1\r\n_\r\n*-1\r\n"
	for cut := range len(good) {
		c := &redisReplyConn{}
		if err := c.scan([]byte(good[:cut])); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if err := c.scan([]byte(good[cut:])); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if c.state != redisAtType {
			t.Fatalf("cut %d: state %d at the end", cut, c.state)
		}
	}
	c := &redisReplyConn{}
	if err := c.scan([]byte(fmt.Sprintf("$%d\r\n", redisMaxBulk+1))); !errors.Is(err, errRedisReplyTooLarge) {
		t.Errorf("a bulk over the bound = %v", err)
	}
}
