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

// TestBatchShapeFieldErrors: a batch body template that does not parse,
// leaves out its events or names what a batch does not have, and an
// unknown element, are refused naming the field; good ones read back.
func TestBatchShapeFieldErrors(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	var ep struct {
		ID    string `json:"id"`
		Batch struct {
			BodyTemplate json.RawMessage `json:"body_template"`
			Element      string          `json:"element"`
		} `json:"batch"`
	}
	wrapper := `{"records":"{{batch.events}}","count":"{{batch.size}}","app":"{{app.uid}}"}`
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/hook",
		"batch": map[string]any{"max_events": 10, "element": "body", "body_template": json.RawMessage(wrapper)}}, &ep, 201)
	if string(ep.Batch.BodyTemplate) != wrapper || ep.Batch.Element != "body" {
		t.Fatalf("batch reads back body_template %s element %q", ep.Batch.BodyTemplate, ep.Batch.Element)
	}
	path := "/v1/apps/acme/endpoints/" + ep.ID
	batch := func(extra map[string]any) map[string]any {
		b := map[string]any{"max_events": 10}
		for k, v := range extra {
			b[k] = v
		}
		return map[string]any{"batch": b}
	}
	cases := []struct {
		body    map[string]any
		field   string
		message string
	}{
		{batch(map[string]any{"body_template": json.RawMessage(`{"records":"{{batch.events"}`)}), "batch.body_template", "unclosed tag"},
		{batch(map[string]any{"body_template": json.RawMessage(`{"count":"{{batch.size}}"}`)}), "batch.body_template", "batch.events"},
		{batch(map[string]any{"body_template": json.RawMessage(`{"r":"{{batch.events}}","n":"{{name}}"}`)}), "batch.body_template", `"name"`},
		{batch(map[string]any{"body_template": json.RawMessage(`{"r":"{{batch.events | uppr}}"}`)}), "batch.body_template", "unknown filter"},
		{batch(map[string]any{"element": "wrapped"}), "batch.element", "standard"},
		{batch(map[string]any{"element": 3}), "batch", ""},
	}
	for _, c := range cases {
		var e apiError
		code := s.Invalid().Do("PATCH", path, c.body, &e)
		if code != 422 || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.message) {
			t.Errorf("PATCH %v: %d %+v, want 422 naming %q saying %q", c.body, code, e, c.field, c.message)
		}
	}
	// The hash syntax applies to the batch template as to the others.
	s.MustDo("PATCH", path, map[string]any{"template_syntax": "hash",
		"batch": map[string]any{"max_events": 10, "body_template": json.RawMessage(`{"records":"#{batch.events}"}`)}}, nil, 200)

	// The preview shows the batch a lone event would make.
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	var pv struct {
		Body  string `json:"body"`
		Batch *struct {
			Body    string            `json:"body"`
			Headers map[string]string `json:"headers"`
		} `json:"batch"`
	}
	s.MustDo("POST", path+"/preview", map[string]any{"event_type": "lead.created", "payload": map[string]any{"n": 1}}, &pv, 200)
	if pv.Batch == nil || !strings.HasPrefix(pv.Batch.Body, `{"records":[{"id":"dlv_preview","type":"lead.created","timestamp":"`) ||
		!strings.HasSuffix(pv.Batch.Body, `"data":{"n":1}}]}`) || pv.Batch.Headers["Webhook-Id"] != "bat_preview" {
		t.Fatalf("preview shows batch %+v", pv.Batch)
	}
}

// TestBatchShape sends batches with a body template and with body
// elements to a real receiver, on both stores: the wrapper arrives as
// rendered around its N elements and verifies over the whole body, body
// elements are the endpoint's own template per event with the delivery
// id it names, and each delivery's attempt records its own element.
func TestBatchShape(t *testing.T) {
	pullStoresWith(t, func(*config.Serve) {}, func(t *testing.T, s *heraldtest.Server) {
		s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)

		t.Run("wrapper", func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, nil)
			typ, secret := batchEndpoint(t, s, rc.URL, map[string]any{"max_events": 3, "max_wait_ms": 3000,
				"body_template": json.RawMessage(`{"records":"{{batch.events}}","count":"{{batch.size}}","batch":"{{batch.id}}","app":"{{app.uid}}"}`)}, nil)
			var events []string
			for i := range 3 {
				events = append(events, s.MustSend(t, typ, map[string]any{"n": i}))
			}
			var ds []heraldtest.Delivery
			for _, ev := range events {
				ds = append(ds, s.WaitDelivery(ev, "succeeded", 1, 20*time.Second))
			}
			reqs := rc.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests for 3 events, want 1", len(reqs))
			}
			r := reqs[0]
			v, err := verify.New(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(r.Header, r.Body); err != nil {
				t.Fatalf("wrapped batch does not verify: %v", err)
			}
			var body struct {
				Records []batchElement `json:"records"`
				Count   json.Number    `json:"count"`
				Batch   string         `json:"batch"`
				App     string         `json:"app"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatalf("body %s: %v", r.Body, err)
			}
			if len(body.Records) != 3 || body.Count != "3" || body.Batch != r.Header.Get("webhook-id") || !strings.HasPrefix(body.Batch, "bat_") || body.App != "acme" {
				t.Fatalf("body %s, want the wrapper around 3 elements with the batch id", r.Body)
			}
			if !strings.HasPrefix(string(r.Body), `{"records":[{"id":"dlv_`) {
				t.Fatalf("body %s does not keep the template's order", r.Body)
			}
			for i, d := range ds {
				el := body.Records[i]
				if el.ID != d.ID || el.Type != typ {
					t.Fatalf("element %d %+v, want delivery %s in order", i, el, d.ID)
				}
				var own batchElement
				if err := json.Unmarshal([]byte(d.Attempts[0].Request.Body), &own); err != nil || own.ID != d.ID {
					t.Fatalf("delivery %s records request body %q, want its own element", d.ID, d.Attempts[0].Request.Body)
				}
			}
		})

		t.Run("body elements", func(t *testing.T) {
			rc := heraldtest.NewReceiver(t, nil)
			typ, secret := batchEndpoint(t, s, rc.URL, map[string]any{"max_events": 2, "max_wait_ms": 3000, "element": "body"},
				map[string]any{"body_template": json.RawMessage(`{"lead":"{{name | upper}}","ref":"{{delivery.id}}"}`)})
			a := s.MustSend(t, typ, map[string]any{"name": "ann"})
			b := s.MustSend(t, typ, map[string]any{"name": "bo"})
			da := s.WaitDelivery(a, "succeeded", 1, 20*time.Second)
			db := s.WaitDelivery(b, "succeeded", 1, 20*time.Second)
			reqs := rc.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests for 2 events, want 1", len(reqs))
			}
			v, _ := verify.New(secret)
			if err := v.Verify(reqs[0].Header, reqs[0].Body); err != nil {
				t.Fatalf("batch does not verify: %v", err)
			}
			want := `[{"lead":"ANN","ref":"` + da.ID + `"},{"lead":"BO","ref":"` + db.ID + `"}]`
			if string(reqs[0].Body) != want {
				t.Fatalf("body %s, want %s", reqs[0].Body, want)
			}
			if got := da.Attempts[0].Request.Body; got != `{"lead":"ANN","ref":"`+da.ID+`"}` {
				t.Fatalf("delivery records request body %s, want its own element", got)
			}
		})
	})
}
