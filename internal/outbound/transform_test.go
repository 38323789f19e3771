package outbound_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/transform"
	"github.com/heraldhq/herald/verify"
)

// A transformation's request is sent and signed as it made it, with
// Herald's own headers kept; a bad return value, a throw or a cancel sends
// nothing; one cut short by shutdown does not count as an attempt.
func TestTransformation(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := serve(t, rc)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now, Transform: transform.New(transform.Limits{CPU: 50 * time.Millisecond})})

	d := newDelivery(t, srv.URL+"/hook")
	d.Endpoint.Transformation = `function handler(w) {
		w.method = "patch"; w.url = w.url + "?v=2";
		w.headers = {"Webhook-Id": "forged", "svix-signature": "forged", "content-length": "1", "X-Type": w.event_type};
		w.payload = {n: w.payload.n + 1};
		return w;
	}`
	o := h.Send(context.Background(), d)
	wantOK(t, o)
	got := rc.last(t)
	if got.Method != "PATCH" || got.RequestURI != "/hook?v=2" || string(got.Body) != `{"n":2}` || got.Header.Get("X-Type") != "lead.created" ||
		got.Header.Get("Webhook-Id") != d.ID || got.Header.Get("Svix-Signature") != "" || got.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("sent %s %s %s %v", got.Method, got.RequestURI, got.Body, got.Header)
	}
	v, _ := verify.New(d.Endpoint.Secret)
	if err := v.VerifyAt(got.Header, got.Body, t0); err != nil {
		t.Fatalf("signature: %v", err)
	}

	for src, want := range map[string]string{
		`function handler(w) { w.method = "TRACE"; return w }`:                                                      "method",
		`function handler(w) { w.url = "ftp://x"; return w }`:                                                       "url",
		`function handler(w) { w.headers = {"X-A": "a\r\nB: b"}; return w }`:                                        "header",
		`function handler(w) { w.headers = {"Bad Name": "a"}; return w }`:                                           "header",
		`function handler(w) { delete w.payload; return w }`:                                                        "payload",
		`function handler(w) { throw new TypeError("nope") }`:                                                       "TypeError: nope",
		`function handler(w) { for (;;) {} }`:                                                                       "CPU limit",
		`function handler(w) { return {cancel: "yes"} }`:                                                            "cancel",
		`function handler(w) { w.headers = {}; for (var i = 0; i < 101; i++) w.headers["X-" + i] = "v"; return w }`: "headers",
	} {
		d := newDelivery(t, srv.URL+"/hook")
		d.Endpoint.Transformation = src
		o := h.Send(context.Background(), d)
		if o.Kind != herald.ErrorKindTransform || !strings.Contains(o.Error, want) || o.Response != nil {
			t.Errorf("%s: outcome %+v, want transform naming %q", src, o, want)
		}
	}

	d = newDelivery(t, srv.URL+"/hook")
	d.Endpoint.Transformation = `function handler(w) { return {cancel: true} }`
	if o := h.Send(context.Background(), d); !o.Cancelled || o.Kind != "" || o.Response != nil {
		t.Fatalf("cancel: %+v", o)
	}
	if _, err := h.Preview(context.Background(), d); !errors.Is(err, outbound.ErrCancelled) {
		t.Fatalf("preview of a cancel: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	d = newDelivery(t, srv.URL+"/hook")
	d.Endpoint.Transformation = `function handler(w) { for (;;) {} }`
	time.AfterFunc(10*time.Millisecond, cancel)
	if o := h.Send(ctx, d); !o.Aborted {
		t.Fatalf("cut short: %+v", o)
	}
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("the receiver got %d requests, want 1", n)
	}
}
