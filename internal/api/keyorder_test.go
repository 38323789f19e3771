package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestPayloadKeyOrder: a payload's keys reach the receiver in the order
// the sender wrote them, at every depth, through {{payload}}, a nested
// path, the raw and the flat formats; the preview and the attempt history
// show the same bytes. MessageHub, for one, documents its fields in an
// order its readers follow.
func TestPayloadKeyOrder(t *testing.T) {
	t.Parallel()
	const payload = `{"zeta":1,"alpha":{"mid":true,"beta":[{"y":1,"x":2.50}],"aa":"s"},"user":{"name":"山田","id":7,"address":{"zip":"100","city":"c"}},"b":null}`
	const user = `{"name":"山田","id":7,"address":{"zip":"100","city":"c"}}`
	cases := []struct {
		name     string
		settings map[string]any
		want     string
	}{
		{"whole payload", map[string]any{"body_template": json.RawMessage(`"{{payload}}"`)}, payload},
		{"nested path", map[string]any{"body_template": json.RawMessage(`{"u":"{{payload.user}}","in":"{{alpha.beta}}","text":"user: {{user}}"}`)},
			`{"u":` + user + `,"in":[{"y":1,"x":2.50}],"text":` + mustQuote("user: "+user) + `}`},
		{"raw", map[string]any{"payload_format": "raw"}, payload},
		{"flat", map[string]any{"payload_format": "flat", "flat_event_key": "event"}, `{"event":"lead.created",` + payload[1:]},
	}
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	rcs := make([]*heraldtest.Receiver, len(cases))
	ids := make([]string, len(cases))
	for i, c := range cases {
		rcs[i] = heraldtest.NewReceiver(t, nil)
		body := map[string]any{"url": rcs[i].URL, "event_types": []string{"lead.created"}}
		for k, v := range c.settings {
			body[k] = v
		}
		var ep struct{ ID string }
		s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
		ids[i] = ep.ID
	}
	ev := s.Send(json.RawMessage(payload))
	for i, c := range cases {
		got := string(rcs[i].Wait(t, 1, 10*time.Second)[0].Body)
		if got != c.want {
			t.Errorf("%s: receiver got\n%s\nwant\n%s", c.name, got, c.want)
		}
		var p struct{ Body string }
		s.MustDo("POST", "/v1/apps/acme/endpoints/"+ids[i]+"/preview", map[string]any{"event_type": "lead.created", "payload": json.RawMessage(payload)}, &p, 200)
		if p.Body != c.want {
			t.Errorf("%s: preview shows\n%s\nwant\n%s", c.name, p.Body, c.want)
		}
	}
	// The history shows what was sent, for every endpoint.
	var pg struct{ Data []heraldtest.Delivery }
	for range 500 {
		s.MustDo("GET", "/v1/apps/acme/events/"+ev+"/deliveries", nil, &pg, 200)
		done := len(pg.Data) == len(cases)
		for _, d := range pg.Data {
			done = done && d.Status == "succeeded"
		}
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, d := range pg.Data {
		var full heraldtest.Delivery
		s.MustDo("GET", "/v1/apps/acme/deliveries/"+d.ID, nil, &full, 200)
		if len(full.Attempts) == 0 {
			t.Fatalf("delivery %s has no attempt", d.ID)
		}
		body := full.Attempts[0].Request.Body
		ok := false
		for _, c := range cases {
			ok = ok || body == c.want
		}
		if !ok {
			t.Errorf("history of %s shows %s, not what was sent", d.EndpointID, body)
		}
	}
}

// mustQuote is s as a JSON string.
func mustQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
