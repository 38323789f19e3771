package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/verify"
)

// batchTransform renames name to full_name, cancels what is to skip,
// throws on boom, and sends each to a path and header of its own (which
// a batch takes from its first delivery sent).
const batchTransform = `function handler(webhook) {
	var p = webhook.payload;
	if (p.skip) return {cancel: true};
	if (p.boom) throw new Error("boom " + p.n);
	p.full_name = p.name;
	delete p.name;
	webhook.url += "/n" + p.n;
	webhook.headers["X-N"] = String(p.n);
	return webhook;
}`

// TestBatchTransformations runs a batching endpoint with a transformation
// on both stores and a real receiver: each delivery's transformed payload
// is its element, a cancelled one ends cancelled outside the batch, a
// throwing one fails alone with error kind transform, and the others go in
// one signed request whose method, URL and headers are its first
// delivery's.
func TestBatchTransformations(t *testing.T) {
	pullStoresWith(t, func(*config.Serve) {}, func(t *testing.T, s *heraldtest.Server) {
		s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)

		t.Run("standard", func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, nil)
			typ, secret := batchEndpoint(t, s, rc.URL, map[string]any{"max_events": 4, "max_wait_ms": 30000},
				map[string]any{"transformation": batchTransform, "retry_schedule": "1s"})
			events := []string{
				s.MustSend(t, typ, map[string]any{"n": 0, "name": "Zed", "skip": true}),
				s.MustSend(t, typ, map[string]any{"n": 1, "name": "Ann"}),
				s.MustSend(t, typ, map[string]any{"n": 2, "name": "Bo", "boom": true}),
				s.MustSend(t, typ, map[string]any{"n": 3, "name": "Cy"}),
			}
			cancelled := s.WaitDelivery(events[0], "cancelled", 1, 20*time.Second)
			ann := s.WaitDelivery(events[1], "succeeded", 1, 20*time.Second)
			boom := s.WaitDelivery(events[2], "failed", 1, 20*time.Second)
			cy := s.WaitDelivery(events[3], "succeeded", 1, 20*time.Second)

			reqs := rc.Wait(t, 1, 10*time.Second)
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want the one batch", len(reqs))
			}
			r := reqs[0]
			els := readBatch(t, secret, r)
			if len(els) != 2 || els[0].ID != ann.ID || els[1].ID != cy.ID {
				t.Fatalf("batch elements %+v, want Ann's and Cy's deliveries", els)
			}
			if string(els[0].Data) != `{"n":1,"full_name":"Ann"}` || string(els[1].Data) != `{"n":3,"full_name":"Cy"}` {
				t.Fatalf("element data %s and %s, want the transformed payloads", els[0].Data, els[1].Data)
			}
			if r.Method != "POST" || r.Path != "/n1" || r.Header.Get("X-N") != "1" || r.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("request %s %s %v, want the first sent delivery's method, URL and headers", r.Method, r.Path, r.Header)
			}

			batchID := r.Header.Get("webhook-id")
			for _, d := range []heraldtest.Delivery{ann, cy} {
				a := d.Attempts[0]
				if a.BatchID != batchID || a.ErrorKind != "" || a.Response == nil || a.Response.StatusCode != 200 {
					t.Fatalf("delivery %s attempt %+v, want batch %s answered 200", d.ID, a, batchID)
				}
			}
			if want := `{"id":"` + ann.ID + `"`; !strings.HasPrefix(ann.Attempts[0].Request.Body, want) ||
				!strings.Contains(ann.Attempts[0].Request.Body, `"data":{"n":1,"full_name":"Ann"}`) {
				t.Fatalf("recorded request body %s, want Ann's element", ann.Attempts[0].Request.Body)
			}
			if a := cancelled.Attempts; len(a) != 1 || a[0].ErrorKind != "" || a[0].BatchID != "" || a[0].Response != nil ||
				!strings.Contains(a[0].Error, "cancelled") {
				t.Fatalf("cancelled delivery attempts %+v", a)
			}
			if a := boom.Attempts; len(a) != 1 || a[0].ErrorKind != "transform" || a[0].BatchID != "" || a[0].Response != nil ||
				!strings.Contains(a[0].Error, "boom 2") || boom.NextAttemptAt != nil {
				t.Fatalf("throwing delivery %+v attempts %+v, want one transform failure, no retry", boom, a)
			}
		})

		t.Run("body", func(t *testing.T) {
			// With element body and a batch body template, each
			// element is the transformed payload itself.
			rc := heraldtest.NewReceiver(t, nil)
			typ, secret := batchEndpoint(t, s, rc.URL, map[string]any{"max_events": 2, "max_wait_ms": 30000, "element": "body",
				"body_template": json.RawMessage(`{"records":"{{batch.events}}","count":"{{batch.size}}"}`)},
				map[string]any{"transformation": batchTransform})
			a := s.MustSend(t, typ, map[string]any{"n": 7, "name": "Di"})
			b := s.MustSend(t, typ, map[string]any{"n": 8, "name": "Ed"})
			s.WaitDelivery(a, "succeeded", 1, 20*time.Second)
			s.WaitDelivery(b, "succeeded", 1, 20*time.Second)
			r := rc.Wait(t, 1, 10*time.Second)[0]
			verifyWith(t, secret, r)
			if want := `{"records":[{"n":7,"full_name":"Di"},{"n":8,"full_name":"Ed"}],"count":2}`; string(r.Body) != want {
				t.Fatalf("body %s, want %s", r.Body, want)
			}
		})

		t.Run("pinned", func(t *testing.T) {
			// An endpoint pinned to an older version batches its events
			// converted down, as it sends them alone: the transformation
			// sees the converted payload, and without one the element's
			// data is that payload.
			typ := versionedType(t, s)
			transformed, plain := heraldtest.NewReceiver(t, nil), heraldtest.NewReceiver(t, nil)
			for _, ep := range []map[string]any{
				{"url": transformed.URL, "transformation": batchTransform},
				{"url": plain.URL},
			} {
				ep["event_types"] = []string{typ}
				ep["event_type_versions"] = map[string]string{typ: ""}
				ep["batch"] = map[string]any{"max_events": 2, "max_wait_ms": 30000}
				s.MustDo("POST", "/v1/apps/acme/endpoints", ep, nil, 201)
			}
			sendVersion(t, s, typ, nil, map[string]any{"person": map[string]any{"full_name": "Grace"}})
			sendVersion(t, s, typ, ptr("2026-06-01"), map[string]any{"full_name": "Ada"})
			for _, c := range []struct {
				rc   *heraldtest.Receiver
				want []string
			}{
				{transformed, []string{`{"full_name":"Grace"}`, `{"full_name":"Ada"}`}},
				{plain, []string{`{"name":"Grace"}`, `{"name":"Ada"}`}},
			} {
				body := c.rc.Wait(t, 1, 20*time.Second)[0].Body
				var els []batchElement
				if err := json.Unmarshal(body, &els); err != nil || len(els) != 2 ||
					string(els[0].Data) != c.want[0] || string(els[1].Data) != c.want[1] {
					t.Fatalf("batch %s (%v), want data %v", body, err, c.want)
				}
			}
		})

		t.Run("preview", func(t *testing.T) {
			typ, _ := batchEndpoint(t, s, "https://example.com/hook", map[string]any{"max_events": 4}, map[string]any{"transformation": batchTransform})
			endpoint := map[string]any{"url": "https://example.com/hook", "batch": map[string]any{"max_events": 4}, "transformation": batchTransform}
			var v struct {
				Body      string `json:"body"`
				Cancelled bool   `json:"cancelled"`
				Batch     *struct {
					URL  string `json:"url"`
					Body string `json:"body"`
				} `json:"batch"`
			}
			s.MustDo("POST", "/v1/apps/acme/endpoints/preview", map[string]any{"endpoint": endpoint, "event_type": typ,
				"payload": map[string]any{"n": 5, "name": "Fay"}}, &v, 200)
			if v.Batch == nil || v.Batch.URL != "https://example.com/hook/n5" ||
				!strings.Contains(v.Batch.Body, `"data":{"n":5,"full_name":"Fay"}`) {
				t.Fatalf("preview batch %+v, want the transformed element", v.Batch)
			}
			v.Batch = nil
			s.MustDo("POST", "/v1/apps/acme/endpoints/preview", map[string]any{"endpoint": endpoint, "event_type": typ,
				"payload": map[string]any{"n": 6, "skip": true}}, &v, 200)
			if !v.Cancelled || v.Batch != nil {
				t.Fatalf("preview of a cancelled event: cancelled %v batch %+v", v.Cancelled, v.Batch)
			}
			var e apiError
			if code := s.Invalid().Do("POST", "/v1/apps/acme/endpoints/preview", map[string]any{"endpoint": endpoint, "event_type": typ,
				"payload": map[string]any{"n": 6, "boom": true}}, &e); code != 422 || e.Error.Field != "transformation" {
				t.Fatalf("preview of a throwing event: %d %+v, want 422 naming transformation", code, e)
			}
		})
	})
}

// verifyWith checks a request's signature with secret.
func verifyWith(t *testing.T, secret string, r heraldtest.Request) {
	t.Helper()
	v, err := verify.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(r.Header, r.Body); err != nil {
		t.Fatalf("request does not verify with the endpoint's secret: %v", err)
	}
}
