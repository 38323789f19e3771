package outbound_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/verify"
)

// A receiver holding the endpoint secret verifies what was sent, and gets
// the default body, the delivery id as webhook-id and Herald's User-Agent.
func TestSignedRequest(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := serve(t, rc)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now})
	d := newDelivery(t, srv.URL+"/hook")

	o := h.Send(context.Background(), d)
	wantOK(t, o)
	if o.Status != 200 || o.Response.StatusCode != 200 || o.Latency <= 0 || o.RetryAfter != nil {
		t.Fatalf("outcome %+v", o)
	}
	got := rc.last(t)
	v, err := verify.New(d.Endpoint.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyAt(got.Header, got.Body, t0); err != nil {
		t.Fatalf("the receiver cannot verify with the endpoint secret: %v", err)
	}
	other, _ := signing.GenerateSecret()
	if vo, _ := verify.New(other); vo.VerifyAt(got.Header, got.Body, t0) == nil {
		t.Fatal("another secret verifies too")
	}
	const body = `{"type":"lead.created","timestamp":"2026-03-02T09:29:58.123Z","data":{"name":"Ann","n":1}}`
	for name, want := range map[string]string{
		"Webhook-Id":        d.ID,
		"Webhook-Timestamp": strconv.FormatInt(t0.Unix(), 10),
		"User-Agent":        "Herald/" + herald.Version,
		"Content-Type":      "application/json",
	} {
		if got.Header.Get(name) != want {
			t.Errorf("%s: %q, want %q", name, got.Header.Get(name), want)
		}
	}
	if got.Method != "POST" || got.RequestURI != "/hook" || string(got.Body) != body {
		t.Fatalf("sent %s %s %s", got.Method, got.RequestURI, got.Body)
	}
	// The outcome records the request as sent.
	if r := o.Request; r.Method != "POST" || r.URL != srv.URL+"/hook" || r.Body != body || r.Headers["Webhook-Id"] != d.ID {
		t.Fatalf("recorded request %+v", r)
	}

	t.Run("user agent", func(t *testing.T) {
		h := newHTTP(t, newStore(t), outbound.HTTPOptions{UserAgent: "Acme-Relay/2"})
		wantOK(t, h.Send(context.Background(), newDelivery(t, srv.URL)))
		if ua := rc.last(t).Header.Get("User-Agent"); ua != "Acme-Relay/2" {
			t.Fatalf("User-Agent %q", ua)
		}
	})
}

// During a rotation both secrets sign, so receivers on either verify;
// once the previous secret expires only the new one signs.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := serve(t, rc)
	clk := newClock()
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: clk.Now})
	d := newDelivery(t, srv.URL)
	previous, _ := signing.GenerateSecret()
	expires := t0.Add(time.Hour)
	d.Endpoint.PreviousSecret, d.Endpoint.PreviousSecretExpiresAt = previous, &expires
	vNew, _ := verify.New(d.Endpoint.Secret)
	vOld, _ := verify.New(previous)

	wantOK(t, h.Send(context.Background(), d))
	got := rc.last(t)
	if sigs := strings.Fields(got.Header.Get("Webhook-Signature")); len(sigs) != 2 {
		t.Fatalf("signatures during the rotation: %q", sigs)
	}
	for name, v := range map[string]*verify.Verifier{"new": vNew, "previous": vOld} {
		if err := v.VerifyAt(got.Header, got.Body, t0); err != nil {
			t.Fatalf("a receiver on the %s secret cannot verify: %v", name, err)
		}
	}

	clk.Add(2 * time.Hour)
	wantOK(t, h.Send(context.Background(), d))
	got = rc.last(t)
	if sigs := strings.Fields(got.Header.Get("Webhook-Signature")); len(sigs) != 1 {
		t.Fatalf("signatures after the previous secret expired: %q", sigs)
	}
	if err := vNew.VerifyAt(got.Header, got.Body, clk.Now()); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if err := vOld.VerifyAt(got.Header, got.Body, clk.Now()); !errors.Is(err, verify.ErrNoMatchingSignature) {
		t.Fatalf("the expired secret still verifies: %v", err)
	}
}

// A preview is exactly what is then sent: with one clock, the same
// method, URL, headers (signature included) and body.
func TestPreviewIsWhatIsSent(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := serve(t, rc)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now})
	d := newDelivery(t, srv.URL+"/leads/{{lead.id}}?app={{app.uid}}")
	d.Endpoint.Method = "PUT"
	d.Endpoint.Headers = map[string]string{"X-Company": "{{lead.company | upper}}", "X-Auth-Key": "k-0123456789"}
	d.Endpoint.PlainHeaders = []string{"x-company"}
	d.Endpoint.BodyTemplate = herald.RawJSON(`{"summary":"{{lead.name}} <{{lead.email}}>","lead":"{{lead}}"}`)
	d.Event.Payload = herald.RawJSON(`{"lead":{"id":7,"name":"Ann \"A\"","email":"a@example.com","company":"acme"}}`)

	p, err := h.Preview(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("a preview sent %d requests", n)
	}
	o := h.Send(context.Background(), d)
	wantOK(t, o)
	got := rc.last(t)
	if p.Method != "PUT" || got.Method != p.Method || p.URL != srv.URL+"/leads/7?app=acme" || srv.URL+got.RequestURI != p.URL {
		t.Fatalf("preview %s %s, sent %s %s", p.Method, p.URL, got.Method, got.RequestURI)
	}
	if !bytes.Equal(p.Body, got.Body) || !strings.Contains(string(got.Body), `"summary":"Ann \"A\" \u003ca@example.com\u003e"`) {
		t.Fatalf("preview body %s\nsent body    %s", p.Body, got.Body)
	}
	for k, v := range p.Header {
		if !slices.Equal(got.Header[k], v) {
			t.Errorf("header %s: preview %q, sent %q", k, v, got.Header[k])
		}
	}
	// The transport adds the framing, nothing else.
	for k := range got.Header {
		if _, ok := p.Header[k]; !ok && k != "Content-Length" {
			t.Errorf("header %s sent but not previewed", k)
		}
	}
	if got.Header.Get("X-Company") != "ACME" {
		t.Fatalf("X-Company %q", got.Header.Get("X-Company"))
	}
	// The recorded request is the preview too, custom header values
	// masked but those in plain_headers: X-Auth-Key is a credential
	// whatever its name says.
	flat := map[string]string{}
	for k, v := range p.Header {
		flat[k] = strings.Join(v, ", ")
	}
	flat["X-Auth-Key"] = herald.Masked
	if o.Request.Method != p.Method || o.Request.URL != p.URL || o.Request.Body != string(p.Body) || !maps.Equal(o.Request.Headers, flat) {
		t.Fatalf("recorded %+v\npreview %+v", o.Request, flat)
	}
}

// A request that cannot be built for the event fails with kind render
// (sending again would fail the same way) and nothing is sent.
func TestUnbuildableRequestIsRender(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := serve(t, rc)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	cases := []struct {
		name  string
		set   func(d *outbound.Delivery)
		field string
	}{
		{"strict, missing in the url", func(d *outbound.Delivery) {
			d.Endpoint.URL = srv.URL + "/leads/{{lead.id}}"
			d.Endpoint.TemplateStrict = true
		}, "url"},
		{"strict, missing in a header", func(d *outbound.Delivery) {
			d.Endpoint.Headers = map[string]string{"X-Lead": "{{lead.id}}"}
			d.Endpoint.TemplateStrict = true
		}, "headers.X-Lead"},
		{"strict, missing in the body", func(d *outbound.Delivery) {
			d.Endpoint.BodyTemplate = herald.RawJSON(`{"id":"{{lead.id}}"}`)
			d.Endpoint.TemplateStrict = true
		}, "body_template"},
		{"url too long once filled in", func(d *outbound.Delivery) {
			d.Endpoint.URL = srv.URL + "/hook/{{name}}"
			d.Event.Payload = herald.RawJSON(`{"name":"` + strings.Repeat("a", herald.MaxURLLen) + `"}`)
		}, "url"},
	}
	for _, c := range cases {
		d := newDelivery(t, srv.URL)
		c.set(d)
		o := h.Send(context.Background(), d)
		if o.Kind != herald.ErrorKindRender || !strings.HasPrefix(o.Error, c.field+":") || o.Status != 0 || o.Response != nil || o.Request.Method != "" || o.Aborted {
			t.Errorf("%s: outcome %+v, want kind render naming %s and no request", c.name, o, c.field)
		}
		if _, err := h.Preview(context.Background(), d); err == nil {
			t.Errorf("%s: preview built it", c.name)
		}
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// Templates may name payload fields by the titles of the event type's
// schema, which the destination reads from the store.
func TestTemplateTitlesFromEventType(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := serve(t, rc)
	st := newStore(t)
	err := st.EventTypeCreate(context.Background(), &herald.EventType{Name: "lead.created", CreatedAt: t0, UpdatedAt: t0,
		Schema: herald.RawJSON(`{"type":"object","properties":{"company":{"type":"string","title":"会社名"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	h := newHTTP(t, st, outbound.HTTPOptions{})
	d := newDelivery(t, srv.URL)
	d.Endpoint.ContentType = herald.ContentPlain
	d.Endpoint.BodyTemplate = herald.RawJSON(`"会社: {{会社名}}"`)
	d.Event.Payload = herald.RawJSON(`{"company":"ACME"}`)
	wantOK(t, h.Send(context.Background(), d))
	if got := rc.last(t); string(got.Body) != "会社: ACME" || got.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("sent %q as %q", got.Body, got.Header.Get("Content-Type"))
	}
}
