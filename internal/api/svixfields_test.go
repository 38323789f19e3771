package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/store"
)

// TestAppMetadataAndHeaders: an app's metadata and webhook_headers are
// kept, shown ({} when none) and bounded.
func TestAppMetadataAndHeaders(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	var a struct {
		Metadata       map[string]string `json:"metadata"`
		WebhookHeaders string            `json:"webhook_headers"`
	}
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, &a, 201)
	if a.Metadata == nil || len(a.Metadata) != 0 || a.WebhookHeaders != "" {
		t.Fatalf("new app: %+v", a)
	}
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"metadata": map[string]string{"plan": "pro", "region": "eu"}, "webhook_headers": "svix"}, nil, 200)
	s.MustDo("GET", "/v1/apps/acme", nil, &a, 200)
	if a.Metadata["plan"] != "pro" || a.Metadata["region"] != "eu" || a.WebhookHeaders != "svix" {
		t.Fatalf("after patch: %+v", a)
	}
	// A PATCH replaces the map as a whole.
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"metadata": map[string]string{"plan": "free"}}, nil, 200)
	a.Metadata = nil
	s.MustDo("GET", "/v1/apps/acme", nil, &a, 200)
	if len(a.Metadata) != 1 || a.Metadata["plan"] != "free" || a.WebhookHeaders != "svix" {
		t.Fatalf("after second patch: %+v", a)
	}
	many := map[string]string{}
	for i := range 51 {
		many[fmt.Sprint("k", i)] = "v"
	}
	for name, body := range map[string]map[string]any{
		"too many keys":  {"metadata": many},
		"long key":       {"metadata": map[string]string{strings.Repeat("k", 65): "v"}},
		"long value":     {"metadata": map[string]string{"k": strings.Repeat("v", 1025)}},
		"headers choice": {"webhook_headers": "custom"},
	} {
		var e apiError
		if got := s.Invalid().Do("PATCH", "/v1/apps/acme", body, &e); got != 422 || !strings.HasPrefix(name, "headers") && e.Error.Field != "metadata" {
			t.Errorf("%s: %d field %q", name, got, e.Error.Field)
		}
		if strings.HasPrefix(name, "headers") && e.Error.Field != "webhook_headers" {
			t.Errorf("%s: field %q", name, e.Error.Field)
		}
	}
}

type svixEndpoint struct {
	ID             string            `json:"id"`
	UID            *string           `json:"uid"`
	Metadata       map[string]string `json:"metadata"`
	Channels       []string          `json:"channels"`
	WebhookHeaders string            `json:"webhook_headers"`
}

// TestEndpointSvixFields: uid, metadata, channels and webhook_headers of
// an endpoint: kept, shown, validated, the uid unique and accepted in
// place of the id.
func TestEndpointSvixFields(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	var plain svixEndpoint
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://127.0.0.1:9/x"}, &plain, 201)
	if plain.UID != nil || plain.Metadata == nil || len(plain.Metadata) != 0 || plain.Channels == nil || len(plain.Channels) != 0 || plain.WebhookHeaders != "" {
		t.Fatalf("plain endpoint: %+v", plain)
	}
	var ep svixEndpoint
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{
		"url": "http://127.0.0.1:9/y", "uid": "billing-1", "metadata": map[string]string{"team": "a"},
		"channels": []string{"project_1", "project_1", "org:2"}, "webhook_headers": "svix",
	}, &ep, 201)
	if ep.UID == nil || *ep.UID != "billing-1" || ep.Metadata["team"] != "a" || strings.Join(ep.Channels, ",") != "project_1,org:2" || ep.WebhookHeaders != "svix" {
		t.Fatalf("created: %+v", ep)
	}
	// Every route with an endpoint {id} takes the uid too.
	var got svixEndpoint
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1", nil, &got, 200)
	if got.ID != ep.ID {
		t.Fatalf("by uid: %+v", got)
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1/secret", nil, nil, 200)
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1/stats", nil, nil, 200)
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1/deliveries", nil, nil, 200)
	s.MustDo("GET", "/v1/apps/acme/endpoints/nobody/secret", nil, nil, 404)
	// Taken by another endpoint: 409, on create and on update.
	for _, c := range []struct{ method, path string }{{"POST", "/v1/apps/acme/endpoints"}, {"PATCH", "/v1/apps/acme/endpoints/" + plain.ID}} {
		var e apiError
		if code := s.Do(c.method, c.path, map[string]any{"url": "http://127.0.0.1:9/z", "uid": "billing-1"}, &e); code != 409 || e.Error.Code != "conflict" || e.Error.Field != "uid" {
			t.Errorf("%s taken uid: %d %+v", c.method, code, e.Error)
		}
	}
	// Saving the endpoint with its own uid is no conflict.
	got = svixEndpoint{}
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/billing-1", map[string]any{"uid": "billing-1", "metadata": map[string]string{}}, &got, 200)
	if len(got.Metadata) != 0 || *got.UID != "billing-1" {
		t.Fatalf("patched: %+v", got)
	}
	// null clears the uid; the old one then finds nothing.
	got = svixEndpoint{}
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/billing-1", map[string]any{"uid": nil, "channels": []string{}}, &got, 200)
	if got.UID != nil || len(got.Channels) != 0 || got.WebhookHeaders != "svix" {
		t.Fatalf("cleared: %+v", got)
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1", nil, nil, 404)
	// Once freed, the uid may be taken by another.
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+plain.ID, map[string]any{"uid": "billing-1"}, nil, 200)
	s.MustDo("GET", "/v1/apps/acme/endpoints/billing-1", nil, &got, 200)
	if got.ID != plain.ID {
		t.Fatalf("uid moved: %+v", got)
	}

	tooMany := make([]string, 11)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("c", i)
	}
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"uid chars", map[string]any{"uid": "a b"}, "uid"},
		{"uid like an id", map[string]any{"uid": "ep_123"}, "uid"},
		{"uid long", map[string]any{"uid": strings.Repeat("u", 257)}, "uid"},
		{"uid type", map[string]any{"uid": 5}, "uid"},
		{"metadata", map[string]any{"metadata": map[string]string{"": "x"}}, "metadata"},
		{"channels count", map[string]any{"channels": tooMany}, "channels"},
		{"channel chars", map[string]any{"channels": []string{"a/b"}}, "channels"},
		{"channel empty", map[string]any{"channels": []string{""}}, "channels"},
		{"channel long", map[string]any{"channels": []string{strings.Repeat("c", 129)}}, "channels"},
		{"headers", map[string]any{"webhook_headers": "both"}, "webhook_headers"},
	} {
		body := map[string]any{"url": "http://127.0.0.1:9/q"}
		for k, v := range c.body {
			body[k] = v
		}
		var e apiError
		code := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", body, &e)
		if code != 422 || e.Error.Field != c.field {
			t.Errorf("%s: %d %+v", c.name, code, e.Error)
		}
	}
}

type labeledEvent struct {
	ID             string          `json:"id"`
	Channels       []string        `json:"channels"`
	Tags           []string        `json:"tags"`
	Payload        json.RawMessage `json:"payload"`
	PayloadExpired bool            `json:"payload_expired"`
	Routing        struct {
		Matched []string `json:"matched"`
		Skipped []struct {
			EndpointID string `json:"endpoint_id"`
			Reason     string `json:"reason"`
		} `json:"skipped"`
	} `json:"routing"`
}

// TestEventChannelsRouting: an event reaches the endpoints listening to
// one of its channels and those without channels, never the others; the
// others are recorded as skipped for "channel". Real receivers.
func TestEventChannelsRouting(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	recv := map[string]*heraldtest.Receiver{}
	ids := map[string]string{}
	for name, channels := range map[string][]string{"p1": {"project_1"}, "p2": {"project_2", "org:9"}, "all": nil} {
		rc := heraldtest.NewReceiver(t, nil)
		body := map[string]any{"url": rc.URL}
		if channels != nil {
			body["channels"] = channels
		}
		var ep struct{ ID string }
		s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
		recv[name], ids[name] = rc, ep.ID
	}
	send := func(channels []string, n int) labeledEvent {
		t.Helper()
		var ev labeledEvent
		body := map[string]any{"event_type": "lead.created", "payload": map[string]int{"n": n}}
		if channels != nil {
			body["channels"] = channels
		}
		s.MustDo("POST", "/v1/apps/acme/events", body, &ev, 202)
		return ev
	}
	// In order: each receiver's requests tell which events it got.
	ev1 := send([]string{"project_1"}, 1)
	ev2 := send([]string{"org:9", "other"}, 2)
	ev3 := send(nil, 3)
	ev4 := send([]string{"nobody"}, 4)
	if strings.Join(ev1.Channels, ",") != "project_1" || ev3.Channels == nil || len(ev3.Channels) != 0 {
		t.Fatalf("channels shown: %+v %+v", ev1, ev3)
	}
	want := map[string][]string{"p1": {`{"n":1}`}, "p2": {`{"n":2}`}, "all": {`{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":4}`}}
	for name, bodies := range want {
		reqs := recv[name].Wait(t, len(bodies), 10*time.Second)
		var got []string
		for _, r := range reqs {
			var b struct{ Data json.RawMessage }
			if err := json.Unmarshal(r.Body, &b); err != nil {
				t.Fatal(err)
			}
			got = append(got, string(b.Data))
		}
		slices.Sort(got)
		if strings.Join(got, " ") != strings.Join(bodies, " ") {
			t.Errorf("%s got %v, want %v", name, got, bodies)
		}
	}
	// Every event's deliveries were made at enqueue: none went to an
	// endpoint whose channels it lacks, and the routing says why.
	for _, c := range []struct {
		ev      labeledEvent
		skipped []string
	}{{ev1, []string{"p2"}}, {ev2, []string{"p1"}}, {ev3, []string{"p1", "p2"}}, {ev4, []string{"p1", "p2"}}} {
		var got labeledEvent
		s.MustDo("GET", "/v1/apps/acme/events/"+c.ev.ID, nil, &got, 200)
		var skipped []string
		for _, sk := range got.Routing.Skipped {
			if sk.Reason != "channel" {
				t.Errorf("event %s: skip reason %q", c.ev.ID, sk.Reason)
			}
			for name, id := range ids {
				if id == sk.EndpointID {
					skipped = append(skipped, name)
				}
			}
		}
		slices.Sort(skipped)
		if strings.Join(skipped, ",") != strings.Join(c.skipped, ",") || len(got.Routing.Matched) != 3-len(c.skipped) {
			t.Errorf("event %s: skipped %v, matched %v; want skipped %v", c.ev.ID, skipped, got.Routing.Matched, c.skipped)
		}
	}
	// Nothing more arrives: p1 and p2 got exactly their one event by the
	// time "all" got all four (deliveries are made at enqueue).
	if n := len(recv["p1"].Requests()); n != 1 {
		t.Errorf("p1 got %d requests", n)
	}
}

// TestEventLabelsAndFilters: channels and tags are validated, stored and
// shown; the list filters by channel, tag, idempotency key and a list of
// types.
func TestEventLabelsAndFilters(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{AllowUndeclaredEventTypes: true})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	post := func(typ string, channels, tags []string, key string) string {
		t.Helper()
		var ev labeledEvent
		h := http.Header{"Authorization": {"Bearer " + heraldtest.Token}}
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
		body := map[string]any{"event_type": typ, "payload": map[string]any{}, "channels": channels, "tags": tags}
		if code := s.DoWith("POST", "/v1/apps/acme/events", body, &ev, h); code != 202 {
			t.Fatalf("POST event: %d", code)
		}
		if strings.Join(ev.Channels, ",") != strings.Join(channels, ",") || strings.Join(ev.Tags, ",") != strings.Join(tags, ",") || ev.PayloadExpired {
			t.Fatalf("event shown: %+v", ev)
		}
		return ev.ID
	}
	e1 := post("a.one", []string{"c1"}, []string{"t/1", `back\slash`}, "key-1")
	e2 := post("a.two", []string{"c1", "c2"}, []string{}, "")
	e3 := post("a.three", []string{}, []string{"t/1"}, "key-3")
	list := func(query string) string {
		t.Helper()
		var pg struct{ Data []labeledEvent }
		s.MustDo("GET", "/v1/apps/acme/events?"+query, nil, &pg, 200)
		var out []string
		for _, ev := range pg.Data {
			out = append(out, ev.ID)
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string][]string{
		"channel=c1":                   {e2, e1},
		"channel=c2":                   {e2},
		"tag=t%2F1":                    {e3, e1},
		"idempotency_key=key-3":        {e3},
		"event_type=a.one,a.three":     {e3, e1},
		"event_type=a.two":             {e2},
		"event_type=a.one&channel=c2":  {},
		"tag=t%2F1&event_type=a.three": {e3},
	} {
		if got := list(q); got != strings.Join(want, ",") {
			t.Errorf("?%s: %s, want %v", q, got, want)
		}
	}
	var e apiError
	var many []string
	for i := range 51 {
		many = append(many, fmt.Sprint("t.", i))
	}
	if code := s.Invalid().Do("GET", "/v1/apps/acme/events?event_type="+strings.Join(many, ","), nil, &e); code != 400 || e.Error.Field != "event_type" {
		t.Errorf("51 types: %d %+v", code, e.Error)
	}
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"too many channels", map[string]any{"channels": []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}}, "channels"},
		{"channel chars", map[string]any{"channels": []string{"a b"}}, "channels"},
		{"too many tags", map[string]any{"tags": []string{"1", "2", "3", "4", "5", "6"}}, "tags"},
		{"tag chars", map[string]any{"tags": []string{"a:b"}}, "tags"},
		{"tag long", map[string]any{"tags": []string{strings.Repeat("t", 129)}}, "tags"},
		{"retention zero", map[string]any{"payload_retention_hours": 0}, "payload_retention_hours"},
		{"retention long", map[string]any{"payload_retention_hours": 8761}, "payload_retention_hours"},
	} {
		body := map[string]any{"event_type": "a.one", "payload": map[string]any{}}
		for k, v := range c.body {
			body[k] = v
		}
		var e apiError
		if code := s.Invalid().Do("POST", "/v1/apps/acme/events", body, &e); code != 422 || e.Error.Field != c.field {
			t.Errorf("%s: %d %+v", c.name, code, e.Error)
		}
	}
}

// TestPayloadRetention: an event's payload_retention_hours removes its
// payload when the retention step runs past it: GET shows payload null
// and payload_expired, its pending delivery failed with "payload
// expired", its attempts lost their bodies, and a resend is refused.
func TestPayloadRetention(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h"})
	rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	s.Setup(rc.URL, nil)
	var ev, kept labeledEvent
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"secret": strings.Repeat("s", 100)}, "payload_retention_hours": 1}, &ev, 202)
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"n": 1}}, &kept, 202)
	if ev.PayloadExpired || string(ev.Payload) == "null" {
		t.Fatalf("new event: %+v", ev)
	}
	d := s.WaitDelivery(ev.ID, "pending", 1, 10*time.Second)
	if len(d.Attempts) != 1 || !strings.Contains(d.Attempts[0].Request.Body, "sss") {
		t.Fatalf("attempt before expiry: %+v", d.Attempts)
	}

	// Before its time nothing goes; after it, the payload does.
	r, err := s.Store.EventPayloadsExpire(t.Context(), store.PayloadExpireParams{Now: time.Now().Add(59 * time.Minute)})
	if err != nil || r.Events != 0 {
		t.Fatalf("early expiry: %+v %v", r, err)
	}
	r, err = s.Store.EventPayloadsExpire(t.Context(), store.PayloadExpireParams{Now: time.Now().Add(61 * time.Minute)})
	if err != nil || r.Events != 1 || r.Deliveries != 1 {
		t.Fatalf("expiry: %+v %v", r, err)
	}
	var got labeledEvent
	s.MustDo("GET", "/v1/apps/acme/events/"+ev.ID, nil, &got, 200)
	if string(got.Payload) != "null" || !got.PayloadExpired {
		t.Errorf("expired event: payload %s expired %v", got.Payload, got.PayloadExpired)
	}
	var other labeledEvent
	s.MustDo("GET", "/v1/apps/acme/events/"+kept.ID, nil, &other, 200)
	if other.PayloadExpired || string(other.Payload) != `{"n":1}` {
		t.Errorf("event without retention: %+v", other)
	}
	var dl struct {
		Status    string `json:"status"`
		LastError string `json:"last_error"`
		Attempts  []struct {
			Request struct{ Body string } `json:"request"`
		} `json:"attempts"`
	}
	s.MustDo("GET", "/v1/apps/acme/deliveries/"+d.ID, nil, &dl, 200)
	if dl.Status != "failed" || dl.LastError != "payload expired" || len(dl.Attempts) != 1 || dl.Attempts[0].Request.Body != "" {
		t.Errorf("delivery after expiry: %+v", dl)
	}
	var e apiError
	if code := s.Do("POST", "/v1/apps/acme/deliveries/"+d.ID+"/resend", nil, &e); code != 409 || !strings.Contains(e.Error.Message, "expired") {
		t.Errorf("resend: %d %+v", code, e.Error)
	}
}
