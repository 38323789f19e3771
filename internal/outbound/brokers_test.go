package outbound_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/verify"
)

// testKind is a destination kind whose clients keep what they are given:
// it stands in for a broker only to test the pool and the message, which
// are the same whatever the broker.
type testKind struct {
	mu     sync.Mutex
	opened int
	open   []*testClient
	// fail, when set, is what every Publish returns.
	fail error
	// openErr fails Open.
	openErr error
}

type testClient struct {
	k      *testKind
	mu     sync.Mutex
	closed bool
	msgs   []*outbound.Message
}

func (k *testKind) Name() string                         { return herald.KindNATS }
func (k *testKind) Check(d *herald.Destination) error    { return nil }
func (k *testKind) Hosts(d *herald.Destination) []string { return nil }
func (k *testKind) Open(ctx context.Context, d *herald.Destination, env outbound.Env) (outbound.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.openErr != nil {
		return nil, k.openErr
	}
	k.opened++
	c := &testClient{k: k}
	k.open = append(k.open, c)
	return c, nil
}

func (k *testKind) clients() []*testClient {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*testClient(nil), k.open...)
}

func (k *testKind) openCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.opened
}

func (c *testClient) Publish(ctx context.Context, m *outbound.Message) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return "", errors.New("publish on a closed client")
	}
	if c.k.fail != nil {
		return "", c.k.fail
	}
	c.msgs = append(c.msgs, m)
	return fmt.Sprintf("seq %d", len(c.msgs)), nil
}

func (c *testClient) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *testClient) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// brokerDelivery is a delivery to a NATS endpoint with a templated subject.
func brokerDelivery(t *testing.T) *outbound.Delivery {
	d := newDelivery(t, "")
	d.Endpoint.Kind = herald.KindNATS
	d.Endpoint.Destination = &herald.Destination{URL: "nats://herald:s3cr%3Dt@127.0.0.1:4222", Subject: "leads.{{event.type}}", Stream: "LEADS"}
	d.Endpoint.Headers = map[string]string{"X-Tenant": "{{payload.name}}", "User-Agent": "mine"}
	return d
}

func newBrokers(t *testing.T, k *testKind, o outbound.BrokerOptions) *outbound.Brokers {
	t.Helper()
	o.Kinds = []outbound.Kind{k}
	b := outbound.NewBrokers(newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now}), o)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestBrokersPublishesSignedMessage(t *testing.T) {
	k := &testKind{}
	b := newBrokers(t, k, outbound.BrokerOptions{})
	d := brokerDelivery(t)
	o := b.Send(context.Background(), d)
	if o.Kind != "" || o.Status != http.StatusOK || o.Response == nil || o.Response.StatusCode != 200 || o.Response.Body != "seq 1" {
		t.Fatalf("outcome = %+v", o)
	}
	cs := k.clients()
	if len(cs) != 1 || len(cs[0].msgs) != 1 {
		t.Fatalf("clients %d", len(cs))
	}
	m := cs[0].msgs[0]
	if m.Dest.Subject != "leads.lead.created" || m.Dest.Stream != "LEADS" || m.ID != d.ID {
		t.Errorf("message dest %+v id %s", m.Dest, m.ID)
	}
	if d.Endpoint.Destination.Subject != "leads.{{event.type}}" {
		t.Error("rendering changed the endpoint's destination")
	}
	h := http.Header{}
	var names []string
	for _, x := range m.Headers {
		names = append(names, x.Name)
		h.Set(x.Name, x.Value)
	}
	if strings.Join(names, ",") != "content-type,webhook-id,webhook-signature,webhook-timestamp,x-tenant" {
		t.Errorf("headers %v", names)
	}
	if h.Get("x-tenant") != "Ann" || h.Get("content-type") != "application/json" {
		t.Errorf("headers %v", h)
	}
	v, err := verify.New(d.Endpoint.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyAt(h, m.Body, t0); err != nil {
		t.Errorf("signature: %v", err)
	}
	r := o.Request
	if r.Method != "PUBLISH" || r.URL != "nats://herald:********@127.0.0.1:4222 subject leads.lead.created stream LEADS" {
		t.Errorf("recorded %s %s", r.Method, r.URL)
	}
	if r.Headers["x-tenant"] != herald.Masked || r.Headers["webhook-id"] != d.ID || r.Body != string(m.Body) {
		t.Errorf("recorded headers %v body %s", r.Headers, r.Body)
	}
}

func TestBrokersPoolsOneClientPerVersion(t *testing.T) {
	k := &testKind{}
	b := newBrokers(t, k, outbound.BrokerOptions{})
	d := brokerDelivery(t)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if o := b.Send(context.Background(), d); o.Kind != "" {
				t.Errorf("outcome %+v", o)
			}
		})
	}
	wg.Wait()
	if n := k.openCount(); n != 1 {
		t.Fatalf("opened %d clients for one endpoint version", n)
	}
	// A newer version gets a client of its own; the old one is closed.
	ep := *d.Endpoint
	ep.UpdatedAt = ep.UpdatedAt.Add(time.Second)
	d2 := *d
	d2.Endpoint = &ep
	if o := b.Send(context.Background(), &d2); o.Kind != "" {
		t.Fatal(o.Error)
	}
	cs := k.clients()
	if len(cs) != 2 || !cs[0].isClosed() || cs[1].isClosed() || b.Open() != 1 {
		t.Fatalf("after an update: %d clients, first closed %v, pool %d", len(cs), cs[0].isClosed(), b.Open())
	}
	b.Forget(ep.ID)
	if !cs[1].isClosed() || b.Open() != 0 {
		t.Fatal("Forget left the client open")
	}
	// Forgotten, the endpoint opens again on its next delivery.
	if o := b.Send(context.Background(), &d2); o.Kind != "" || k.openCount() != 3 {
		t.Fatalf("after Forget: %+v, opened %d", o, k.openCount())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range k.clients() {
		if !c.isClosed() {
			t.Fatal("Close left a client open")
		}
	}
	if o := b.Send(context.Background(), &d2); o.Kind == "" {
		t.Fatal("a send after Close succeeded")
	}
}

func TestBrokersPoolBound(t *testing.T) {
	k := &testKind{}
	b := newBrokers(t, k, outbound.BrokerOptions{MaxClients: 3})
	var ds []*outbound.Delivery
	for range 5 {
		d := brokerDelivery(t)
		ds = append(ds, d)
		if o := b.Send(context.Background(), d); o.Kind != "" {
			t.Fatal(o.Error)
		}
	}
	if b.Open() != 3 {
		t.Fatalf("pool holds %d clients, bound 3", b.Open())
	}
	cs := k.clients()
	if !cs[0].isClosed() || !cs[1].isClosed() || cs[2].isClosed() {
		t.Fatal("the least recently used clients were not the ones closed")
	}
	// Using the oldest left makes it recent: the next eviction takes
	// another.
	if o := b.Send(context.Background(), ds[2]); o.Kind != "" {
		t.Fatal(o.Error)
	}
	if o := b.Send(context.Background(), brokerDelivery(t)); o.Kind != "" {
		t.Fatal(o.Error)
	}
	cs = k.clients()
	if cs[2].isClosed() || !cs[3].isClosed() {
		t.Fatal("eviction did not follow use")
	}
}

func TestBrokersIdleClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := &testKind{}
		b := outbound.NewBrokers(newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now}),
			outbound.BrokerOptions{Kinds: []outbound.Kind{k}, IdleAfter: 10 * time.Minute})
		defer b.Close()
		busy, idle := brokerDelivery(t), brokerDelivery(t)
		for _, d := range []*outbound.Delivery{busy, idle} {
			if o := b.Send(context.Background(), d); o.Kind != "" {
				t.Fatal(o.Error)
			}
		}
		for range 4 {
			time.Sleep(3 * time.Minute)
			if o := b.Send(context.Background(), busy); o.Kind != "" {
				t.Fatal(o.Error)
			}
		}
		synctest.Wait()
		cs := k.clients()
		if cs[0].isClosed() || !cs[1].isClosed() || b.Open() != 1 {
			t.Fatalf("after 12 minutes: busy closed %v, idle closed %v, pool %d", cs[0].isClosed(), cs[1].isClosed(), b.Open())
		}
	})
}

func TestBrokersErrors(t *testing.T) {
	k := &testKind{fail: outbound.Fail(herald.ErrorKindRejected, errors.New("nack from nats://herald:s3cr%3Dt@127.0.0.1:4222 (password s3cr=t)"))}
	b := newBrokers(t, k, outbound.BrokerOptions{})
	d := brokerDelivery(t)
	o := b.Send(context.Background(), d)
	if o.Kind != herald.ErrorKindRejected || o.Response != nil || o.Status != 0 || o.Request.Method != "PUBLISH" {
		t.Fatalf("outcome %+v", o)
	}
	if strings.Contains(o.Error, "s3cr") {
		t.Errorf("error shows the password: %s", o.Error)
	}

	// A strict template without its value: render, at once.
	d = brokerDelivery(t)
	d.Endpoint.TemplateStrict = true
	d.Endpoint.Destination.Subject = "leads.{{payload.missing}}"
	o = b.Send(context.Background(), d)
	if o.Kind != herald.ErrorKindRender || !strings.Contains(o.Error, "destination.subject") {
		t.Fatalf("render: %+v", o)
	}

	// Open failing is the attempt's failure; the next tries again.
	k2 := &testKind{openErr: outbound.Fail(herald.ErrorKindAuth, errors.New("authorization violation"))}
	b2 := newBrokers(t, k2, outbound.BrokerOptions{})
	if o := b2.Send(context.Background(), brokerDelivery(t)); o.Kind != herald.ErrorKindAuth || b2.Open() != 0 {
		t.Fatalf("open failure: %+v, pool %d", o, b2.Open())
	}

	// Cancelled by shutdown: aborted, not an attempt.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k3 := &testKind{fail: context.Canceled}
	b3 := newBrokers(t, k3, outbound.BrokerOptions{})
	if o := b3.Send(ctx, brokerDelivery(t)); !o.Aborted {
		t.Fatalf("cancelled: %+v", o)
	}

	// A kind this build lacks.
	d = brokerDelivery(t)
	d.Endpoint.Kind = herald.KindKafka
	if o := b.Send(context.Background(), d); o.Kind != herald.ErrorKindPolicy {
		t.Fatalf("unknown kind: %+v", o)
	}
}

func TestRouterPreview(t *testing.T) {
	k := &testKind{}
	b := newBrokers(t, k, outbound.BrokerOptions{})
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now})
	r := &outbound.Router{HTTP: h, Brokers: b}
	d := brokerDelivery(t)
	req, err := r.Preview(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "PUBLISH" || !strings.Contains(req.URL, "subject leads.lead.created") || req.Header.Get("webhook-id") == "" && req.Header["webhook-id"] == nil {
		t.Fatalf("preview %+v", req)
	}
	if k.openCount() != 0 {
		t.Fatal("a preview opened a client")
	}
	push := newDelivery(t, "https://example.com/hook")
	req, err = r.Preview(context.Background(), push)
	if err != nil || req.Method != "POST" {
		t.Fatalf("push preview %v %+v", err, req)
	}
}

// A destination template is held to the rendered size cap like the rest
// of the request: rendering stops there, error kind policy.
func TestBrokersRenderedSizeCap(t *testing.T) {
	k := &testKind{}
	b := outbound.NewBrokers(newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now, MaxRenderedSize: 64}),
		outbound.BrokerOptions{Kinds: []outbound.Kind{k}})
	defer b.Close()
	d := brokerDelivery(t)
	d.Endpoint.Headers = nil
	d.Event.Payload = herald.RawJSON(`{"name":"` + strings.Repeat("x", 200) + `"}`)
	d.Endpoint.Destination.Subject = "leads.{{payload.name}}"
	o := b.Send(context.Background(), d)
	if o.Kind != herald.ErrorKindPolicy || !strings.Contains(o.Error, "destination.subject") || k.openCount() != 0 {
		t.Fatalf("outcome %+v, opened %d", o, k.openCount())
	}
}
