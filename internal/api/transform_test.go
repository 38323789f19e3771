package api_test

import (
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/verify"
)

// transformEndpoint creates an endpoint of app acme for one new event
// type (with sample, when not nil) running src; it returns the event
// type's name.
func transformEndpoint(t *testing.T, s *heraldtest.Server, url, secret, src string) string {
	name, _ := transformEndpointID(t, s, url, secret, src)
	return name
}

// transformEndpointID is transformEndpoint returning the endpoint's id
// too.
func transformEndpointID(t *testing.T, s *heraldtest.Server, url, secret, src string) (string, string) {
	t.Helper()
	name := fmt.Sprintf("t%d.%s", rand.Uint32(), strings.ToLower(strings.NewReplacer("/", ".", "_", "").Replace(t.Name())))
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": name}, nil, 201)
	body := map[string]any{"url": url, "event_types": []string{name}, "transformation": src}
	if secret != "" {
		body["secret"] = secret
	}
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
	return name, ep.ID
}

// TestTransformations runs endpoints' JavaScript on both stores: the
// receiver gets (and verifies the signature over) the body the script
// made; a cancel sends nothing; throws, limits and what the sandbox
// leaves out fail at once with error_kind transform, and the worker is
// free again.
func TestTransformations(t *testing.T) {
	pullStoresWith(t, func(c *config.Serve) {
		// One worker: a script stuck at its limit would hold every send.
		c.Workers = 1
		c.TransformCPULimit = 50 * time.Millisecond
	}, func(t *testing.T, s *heraldtest.Server) {
		s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)

		t.Run("reshape", func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, nil)
			secret, _ := signing.GenerateSecret()
			typ := transformEndpoint(t, s, rc.URL, secret, `function handler(webhook) {
				return {
					method: "PUT",
					url: webhook.url + "/reshaped",
					headers: {"X-Kind": webhook.event_type, "X-Was": webhook.method, "webhook-signature": "forged", "Content-Length": "1"},
					payload: {id: webhook.payload.id, doubled: webhook.payload.n * 2, zeta: 1, alpha: 2},
				};
			}`)
			d := s.WaitDelivery(s.MustSend(t, typ, map[string]any{"id": "lead_1", "n": 21}), "succeeded", 1, 10*time.Second)
			got := rc.Wait(t, 1, 10*time.Second)[0]
			if want := `{"id":"lead_1","doubled":42,"zeta":1,"alpha":2}`; string(got.Body) != want || d.Attempts[0].Request.Body != want {
				t.Fatalf("body %s (recorded %s), want %s", got.Body, d.Attempts[0].Request.Body, want)
			}
			if got.Method != "PUT" || got.Path != "/reshaped" || got.Header.Get("X-Kind") != typ || got.Header.Get("X-Was") != "POST" ||
				got.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("request %s %s %v", got.Method, got.Path, got.Header)
			}
			v, err := verify.New(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(got.Header, got.Body); err != nil {
				t.Fatalf("signature over the transformed body: %v (%v)", err, got.Header)
			}
		})

		t.Run("cancel", func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, nil)
			typ, epID := transformEndpointID(t, s, rc.URL, "", `function handler(webhook) {
				if (webhook.payload.drop) return {cancel: true};
				return webhook;
			}`)
			d := s.WaitDelivery(s.MustSend(t, typ, map[string]any{"drop": true}), "cancelled", 1, 10*time.Second)
			if a := d.Attempts[0]; a.ErrorKind != "" || !strings.Contains(a.Error, "cancelled") || a.Response != nil {
				t.Fatalf("attempt %+v", a)
			}
			// The next event of the endpoint arrives alone: the
			// cancelled one, already final, sent nothing.
			s.WaitDelivery(s.MustSend(t, typ, map[string]any{"drop": false, "n": 2}), "succeeded", 1, 10*time.Second)
			got := rc.Wait(t, 1, 10*time.Second)
			if len(got) != 1 || string(got[0].Body) != `{"drop":false,"n":2}` {
				t.Fatalf("receiver got %d requests: %s", len(got), got[0].Body)
			}
			var pg struct{ Data []struct{ Status string } }
			s.MustDo("GET", "/v1/apps/acme/deliveries?status=cancelled", nil, &pg, 200)
			if len(pg.Data) != 1 || pg.Data[0].Status != "cancelled" {
				t.Fatalf("status=cancelled listed %+v", pg.Data)
			}
			var st struct {
				LastHour struct{ Succeeded, Failed, Cancelled int } `json:"last_hour"`
				Series   []struct{ Attempts, Failed int }
			}
			s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/stats", nil, &st, 200)
			if h := st.LastHour; h.Cancelled != 1 || h.Succeeded != 1 || h.Failed != 0 {
				t.Fatalf("stats: %+v", st.LastHour)
			}
			for _, b := range st.Series {
				if b.Failed != 0 {
					t.Fatalf("series counts a failure: %+v", st.Series)
				}
			}
		})

		t.Run("limits", func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, nil)
			loop := transformEndpoint(t, s, rc.URL, "", `function handler(webhook) { while (true) {} }`)
			big := transformEndpoint(t, s, rc.URL, "", `function handler(webhook) {
				if (webhook.payload.how === "repeat") return {method: "POST", url: webhook.url, payload: "x".repeat(100 * 1024 * 1024)};
				var a = [];
				while (true) a.push("0123456789abcdef" + a.length);
			}`)
			ok := transformEndpoint(t, s, rc.URL, "", `function handler(webhook) { return webhook }`)
			start := time.Now()
			d := s.WaitDelivery(s.MustSend(t, loop, map[string]any{}), "failed", 1, 10*time.Second)
			if a := d.Attempts[0]; a.ErrorKind != "transform" || !strings.Contains(a.Error, "CPU limit") || a.Response != nil {
				t.Fatalf("while(true): attempt %+v", a)
			}
			// The only worker is free again.
			s.WaitDelivery(s.MustSend(t, ok, map[string]any{"after": "loop"}), "succeeded", 1, 10*time.Second)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the loop held the worker %s", d)
			}
			d = s.WaitDelivery(s.MustSend(t, big, map[string]any{"how": "repeat"}), "failed", 1, 10*time.Second)
			if a := d.Attempts[0]; a.ErrorKind != "transform" || !strings.Contains(a.Error, "memory limit") {
				t.Fatalf("100 MB string: attempt %+v", a)
			}
			d = s.WaitDelivery(s.MustSend(t, big, map[string]any{"how": "push"}), "failed", 1, 10*time.Second)
			if a := d.Attempts[0]; a.ErrorKind != "transform" || !strings.Contains(a.Error, "limit") {
				t.Fatalf("growing array: attempt %+v", a)
			}
			s.WaitDelivery(s.MustSend(t, ok, map[string]any{"after": "memory"}), "succeeded", 1, 10*time.Second)
			if got := rc.Wait(t, 2, 10*time.Second); len(got) != 2 {
				t.Fatalf("receiver got %d requests, want the 2 untransformed", len(got))
			}
			var pg struct{ Data []struct{ ID string } }
			s.MustDo("GET", "/v1/apps/acme/deliveries?error_kind=transform", nil, &pg, 200)
			if len(pg.Data) != 3 {
				t.Errorf("error_kind=transform listed %d deliveries, want 3", len(pg.Data))
			}
		})

		t.Run("sandbox", func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, nil)
			typ, epID := transformEndpointID(t, s, rc.URL, "", `function handler(webhook) {
				switch (webhook.payload.use) {
				case "require": require("fs").readFileSync("/etc/passwd"); break;
				case "fetch": fetch("`+rc.URL+`"); break;
				case "XMLHttpRequest": new XMLHttpRequest(); break;
				case "setTimeout": setTimeout(function () {}, 1); break;
				case "process": process.exit(1); break;
				}
				return webhook;
			}`)
			for _, use := range []string{"require", "fetch", "XMLHttpRequest", "setTimeout", "process"} {
				d := s.WaitDelivery(s.MustSend(t, typ, map[string]any{"use": use}), "failed", 1, 10*time.Second)
				if a := d.Attempts[0]; a.ErrorKind != "transform" || !strings.Contains(a.Error, use+" is not defined") {
					t.Errorf("%s: attempt %+v", use, a)
				}
			}
			s.WaitDelivery(s.MustSend(t, typ, map[string]any{"use": "nothing"}), "succeeded", 1, 10*time.Second)
			if got := rc.Wait(t, 1, 10*time.Second); len(got) != 1 {
				t.Fatalf("receiver got %d requests", len(got))
			}
			// A transform failure is final until the endpoint changes:
			// fixed, a resend goes through.
			failed := s.WaitDelivery(s.MustSend(t, typ, map[string]any{"use": "require"}), "failed", 1, 10*time.Second)
			s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"transformation": "function handler(w) { w.payload.fixed = true; return w }"}, nil, 200)
			s.MustDo("POST", "/v1/apps/acme/deliveries/"+failed.ID+"/resend", nil, nil, 200)
			if got := rc.Wait(t, 2, 10*time.Second); string(got[1].Body) != `{"use":"require","fixed":true}` {
				t.Fatalf("resent after the fix: %s", got[1].Body)
			}
		})

		t.Run("save", func(t *testing.T) {
			name := fmt.Sprintf("t%d.sampled", rand.Uint32())
			s.MustDo("POST", "/v1/event-types", map[string]any{"name": name, "sample": map[string]any{"n": 1}}, nil, 201)
			throws := "function handler(webhook) {\n  if (webhook.payload.n === 1)\n    throw new Error(\"n must not be 1\");\n  return webhook;\n}"
			var ee struct {
				Error struct{ Code, Field, Message string }
			}
			e := &ee.Error
			body := map[string]any{"url": "http://127.0.0.1:9/x", "event_types": []string{name}, "transformation": throws}
			s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ee, 422)
			if e.Field != "transformation" || e.Code != "transform_failed" || !strings.Contains(e.Message, "n must not be 1") || !strings.Contains(e.Message, "line 3") {
				t.Fatalf("throwing script: %+v", e)
			}
			body["transformation"] = "function handler(webhook) { return webhook"
			s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ee, 422)
			if e.Field != "transformation" || e.Code != "invalid" {
				t.Fatalf("syntax error: %+v", e)
			}
			body["transformation"] = "function handler(webhook) { while (true) {} }"
			s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ee, 422)
			if e.Field != "transformation" || !strings.Contains(e.Message, "CPU limit") {
				t.Fatalf("looping script: %+v", e)
			}
			body["transformation"] = "function handler(webhook) { webhook.payload.n++; return webhook }"
			var ep struct {
				ID             string
				Transformation string
			}
			s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
			if ep.Transformation != body["transformation"] {
				t.Fatalf("saved %q", ep.Transformation)
			}
			s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"transformation": throws}, &ee, 422)
			if e.Field != "transformation" {
				t.Fatalf("PATCH: %+v", e)
			}
			var pv struct {
				Body      string
				Cancelled bool
			}
			s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/preview", map[string]any{"event_type": name}, &pv, 200)
			if pv.Body != `{"n":2}` {
				t.Fatalf("preview of the saved endpoint: %+v", pv)
			}
			s.MustDo("POST", "/v1/apps/acme/endpoints/preview", map[string]any{"event_type": name, "payload": json.RawMessage(`{"b":1,"a":2}`),
				"endpoint": map[string]any{"url": "http://127.0.0.1:9/x", "transformation": "function handler(w) { w.payload.c = 3; return w }"}}, &pv, 200)
			if pv.Body != `{"b":1,"a":2,"c":3}` {
				t.Fatalf("preview of unsaved settings: %+v", pv)
			}
			s.MustDo("POST", "/v1/apps/acme/endpoints/preview", map[string]any{"event_type": name,
				"endpoint": map[string]any{"url": "http://127.0.0.1:9/x", "transformation": "function handler(w) { return {cancel: true} }"}}, &pv, 200)
			if !pv.Cancelled {
				t.Fatalf("preview of a cancel: %+v", pv)
			}
			s.MustDo("POST", "/v1/apps/acme/endpoints/preview", map[string]any{"event_type": name,
				"endpoint": map[string]any{"url": "http://127.0.0.1:9/x", "transformation": "function handler(w) { null.x }"}}, &ee, 422)
			if e.Code != "transform_failed" {
				t.Fatalf("preview of a throw: %+v", e)
			}
		})

		t.Run("test send", func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, nil)
			name := fmt.Sprintf("t%d.testsend", rand.Uint32())
			s.MustDo("POST", "/v1/event-types", map[string]any{"name": name}, nil, 201)
			var ep struct{ ID string }
			s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "event_types": []string{name},
				"transformation": "function handler(w) { return {method: 'POST', url: w.url, payload: {wrapped: w.payload}} }"}, &ep, 201)
			var out struct {
				Delivery struct{ Status string }
			}
			s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/test", map[string]any{"event_type": name, "payload": map[string]any{"k": "v"}}, &out, 200)
			got := rc.Wait(t, 1, 10*time.Second)
			var body map[string]map[string]string
			if err := json.Unmarshal(got[0].Body, &body); err != nil || body["wrapped"]["k"] != "v" || out.Delivery.Status != "succeeded" {
				t.Fatalf("test send: %s %+v", got[0].Body, out)
			}
		})
	})
}

// pullStoresWith is pullStores with the configuration adjusted.
func pullStoresWith(t *testing.T, adjust func(*config.Serve), fn func(t *testing.T, s *heraldtest.Server)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, heraldtest.Start(t, heraldtest.Options{Config: adjust}))
	})
	t.Run("postgres", func(t *testing.T) {
		db := heraldtest.PostgresDatabase(t, "herald_transform_")
		fn(t, heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) {
			adjust(c)
			c.DatabaseURL = db
			key := make([]byte, 32)
			_, _ = crand.Read(key)
			c.EncryptionKey = "k1:" + base64.StdEncoding.EncodeToString(key)
		}}))
	})
}
