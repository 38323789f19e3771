package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/verify"
)

// TestSvixHeaders: an endpoint whose webhook_headers is svix (its own, or
// its app's) gets svix-id, svix-timestamp and svix-signature instead of
// the webhook-* headers, with the same signature, for HMAC and Ed25519
// alike; a real receiver verifies them with the verify package. Previews,
// test sends and the attempt history show the same headers.
func TestSvixHeaders(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)

	type target struct {
		name     string
		body     map[string]any
		svix     bool
		verifier *verify.Verifier
		rc       *heraldtest.Receiver
		id       string
	}
	targets := []*target{
		{name: "hmac svix", body: map[string]any{"webhook_headers": "svix"}, svix: true},
		{name: "ed25519 svix", body: map[string]any{"webhook_headers": "svix", "signature_scheme": "v1a"}, svix: true},
		{name: "standard over app's", body: map[string]any{"webhook_headers": "standard"}},
		{name: "app's svix", body: map[string]any{"webhook_headers": ""}, svix: true},
	}
	for _, tg := range targets {
		tg.rc = heraldtest.NewReceiver(t, nil)
		tg.body["url"] = tg.rc.URL
		var ep struct {
			ID              string `json:"id"`
			SignatureScheme string `json:"signature_scheme"`
		}
		s.MustDo("POST", "/v1/apps/acme/endpoints", tg.body, &ep, 201)
		tg.id = ep.ID
		var err error
		if ep.SignatureScheme == "v1a" {
			var pub struct {
				PublicKey string `json:"public_key"`
			}
			s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID+"/public-key", nil, &pub, 200)
			tg.verifier, err = verify.NewPublic(pub.PublicKey)
		} else {
			var sec struct{ Secret string }
			s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID+"/secret", nil, &sec, 200)
			tg.verifier, err = verify.New(sec.Secret)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The last one follows the app.
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"webhook_headers": "svix"}, nil, 200)

	check := func(t *testing.T, tg *target, h http.Header, body []byte, what string) {
		t.Helper()
		hasSvix, hasStd := h.Get("Svix-Signature") != "", false
		for k := range h {
			if strings.HasPrefix(strings.ToLower(k), "webhook-") {
				hasStd = true
			}
		}
		if hasSvix != tg.svix || hasStd == tg.svix {
			t.Errorf("%s %s: svix headers %v, webhook-* headers %v; headers %v", tg.name, what, hasSvix, hasStd, h)
		}
		if tg.svix && (h.Get("Svix-Id") == "" || h.Get("Svix-Timestamp") == "") {
			t.Errorf("%s %s: missing svix-id or svix-timestamp: %v", tg.name, what, h)
		}
		if err := tg.verifier.Verify(h, body); err != nil {
			t.Errorf("%s %s: verify: %v", tg.name, what, err)
		}
	}

	s.Send(map[string]any{"n": 1})
	for _, tg := range targets {
		r := tg.rc.Wait(t, 1, 10*time.Second)[0]
		check(t, tg, r.Header, r.Body, "delivery")
		if tg.svix && !strings.HasPrefix(r.Header.Get("Svix-Signature"), map[bool]string{true: "v1a,", false: "v1,"}[strings.HasPrefix(tg.name, "ed25519")]) {
			t.Errorf("%s: signature %q", tg.name, r.Header.Get("Svix-Signature"))
		}
	}

	// A test send, and the history of both.
	for _, tg := range targets {
		var d struct {
			Attempt struct {
				Request struct {
					Headers map[string]string `json:"headers"`
					Body    string            `json:"body"`
				} `json:"request"`
			} `json:"attempt"`
		}
		s.MustDo("POST", "/v1/apps/acme/endpoints/"+tg.id+"/test", map[string]any{"event_type": "lead.created", "payload": map[string]any{"n": 2}}, &d, 200)
		reqs := tg.rc.Wait(t, 2, 10*time.Second)
		check(t, tg, reqs[1].Header, reqs[1].Body, "test send")
		h := http.Header{}
		for k, v := range d.Attempt.Request.Headers {
			h.Set(k, v)
		}
		check(t, tg, h, []byte(d.Attempt.Request.Body), "test send's attempt")

		// A preview is signed like a delivery.
		var p struct {
			Headers map[string]string `json:"headers"`
			Body    string            `json:"body"`
		}
		s.MustDo("POST", "/v1/apps/acme/endpoints/"+tg.id+"/preview", map[string]any{"event_type": "lead.created", "payload": map[string]any{"n": 3}}, &p, 200)
		h = http.Header{}
		for k, v := range p.Headers {
			h.Set(k, v)
		}
		if tg.svix != (h.Get("Svix-Signature") != "") || tg.svix == (h.Get("Webhook-Signature") != "") {
			t.Errorf("%s preview headers: %v", tg.name, p.Headers)
		}
	}

	// A resend carries them too, with the delivery's id.
	tg := targets[0]
	first := tg.rc.Requests()[0]
	s.MustDo("POST", "/v1/apps/acme/deliveries/"+first.Header.Get("Svix-Id")+"/resend", nil, nil, 200)
	again := tg.rc.Wait(t, 3, 10*time.Second)[2]
	check(t, tg, again.Header, again.Body, "resend")
	if again.Header.Get("Svix-Id") != first.Header.Get("Svix-Id") {
		t.Errorf("resend svix-id %q, first %q", again.Header.Get("Svix-Id"), first.Header.Get("Svix-Id"))
	}
}

// TestSvixHeadersPull: a pull endpoint set to svix hands out requests
// with the svix-* headers, which verify with its secret.
func TestSvixHeadersPull(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "pull", "webhook_headers": "svix", "uid": "puller"}, &ep, 201)
	epID := ep.ID
	var sec struct{ Secret string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/puller/secret", nil, &sec, 200)
	v, err := verify.New(sec.Secret)
	if err != nil {
		t.Fatal(err)
	}
	s.Send(map[string]any{"n": 1})
	var got struct{ Data []handout }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/pull?wait=10s", nil, &got, 200)
	if len(got.Data) != 1 {
		t.Fatalf("pulled %d", len(got.Data))
	}
	h := http.Header{}
	for k, val := range got.Data[0].Request.Headers {
		h.Set(k, val)
	}
	if h.Get("Webhook-Signature") != "" || h.Get("Webhook-Id") != "" || h.Get("Svix-Id") != got.Data[0].DeliveryID {
		t.Errorf("handout headers: %v", got.Data[0].Request.Headers)
	}
	if err := v.Verify(h, []byte(got.Data[0].Request.Body)); err != nil {
		t.Errorf("verify handout: %v", err)
	}
}
