package svixapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// validationError is the body of Svix's 422 answers.
type validationError struct {
	Detail []struct {
		Loc  []string `json:"loc"`
		Msg  string   `json:"msg"`
		Type string   `json:"type"`
	} `json:"detail"`
}

// call makes a Svix request with the admin token and fails the test
// unless the answer has status want; it returns the answer's JSON.
func call(t *testing.T, s *heraldtest.Server, method, path string, body any, want int) json.RawMessage {
	t.Helper()
	return callWith(t, s, method, path, body, want, http.Header{"Authorization": {"Bearer " + heraldtest.Token}})
}

func callWith(t *testing.T, s *heraldtest.Server, method, path string, body any, want int, h http.Header) json.RawMessage {
	t.Helper()
	var raw json.RawMessage
	if got := s.DoWith(method, path, body, &raw, h); got != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	return raw
}

// keys returns the sorted field names of a JSON object.
func fieldNames(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not an object: %s", raw)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return v
}

// want422 checks a 422 answer locates loc.
func want422(t *testing.T, raw json.RawMessage, loc ...string) {
	t.Helper()
	v := decode[validationError](t, raw)
	if len(v.Detail) != 1 || !reflect.DeepEqual(v.Detail[0].Loc, loc) || v.Detail[0].Msg == "" || v.Detail[0].Type == "" {
		t.Fatalf("422 body %s, want one detail at %v", raw, loc)
	}
}

// want404 checks a 404 answer's body.
func want404(t *testing.T, raw json.RawMessage) {
	t.Helper()
	v := decode[svixError](t, raw)
	if v.Code != "not_found" || v.Detail == "" {
		t.Fatalf("404 body %s, want code not_found and a detail", raw)
	}
}

type message struct {
	ID        string          `json:"id"`
	EventID   *string         `json:"eventId"`
	EventType string          `json:"eventType"`
	Payload   json.RawMessage `json:"payload"`
	Channels  []string        `json:"channels"`
	Tags      []string        `json:"tags"`
	Timestamp time.Time       `json:"timestamp"`
}

type list[T any] struct {
	Data         []T     `json:"data"`
	Iterator     *string `json:"iterator"`
	PrevIterator *string `json:"prevIterator"`
	Done         bool    `json:"done"`
}

var messageKeys = []string{"channels", "eventId", "eventType", "id", "payload", "tags", "timestamp"}

// appKey makes an API key scoped to app uid.
func scopedKey(t *testing.T, s *heraldtest.Server, uid string) http.Header {
	t.Helper()
	var k struct{ Key string }
	s.MustDo("POST", "/v1/api-keys", map[string]any{"name": uid + "-key", "scope": "app", "app": uid}, &k, 201)
	return http.Header{"Authorization": {"Bearer " + k.Key}}
}

func TestCreateMessage(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	s.Setup(rc.URL, map[string]any{"payload_format": "raw"})

	// The payload reaches a raw endpoint as written: key order, number
	// digits, escapes and characters HTML would escape survive (spacing
	// is minified, as Svix does).
	body := `{"eventType":"lead.created","payload":{"zeta": 1, "alpha": "<a&b>", "mid": [3, 1], "big": 12345678901234567890123, "f": 1.50, "u": "\u00e9"}}`
	raw := call(t, s, "POST", "/api/v1/app/acme/msg", body, 202)
	if got := fieldNames(t, raw); !slices.Equal(got, messageKeys) {
		t.Fatalf("MessageOut fields %v, want %v", got, messageKeys)
	}
	m := decode[message](t, raw)
	if !strings.HasPrefix(m.ID, "evt_") || m.EventID != nil || m.EventType != "lead.created" || m.Timestamp.IsZero() ||
		m.Channels != nil || m.Tags != nil {
		t.Fatalf("MessageOut %s", raw)
	}
	want := `{"zeta":1,"alpha":"<a&b>","mid":[3,1],"big":12345678901234567890123,"f":1.50,"u":"\u00e9"}`
	if string(m.Payload) != want {
		t.Fatalf("answer payload %s, want %s", m.Payload, want)
	}
	reqs := rc.Wait(t, 1, 10*time.Second)
	if got := string(reqs[0].Body); got != want {
		t.Fatalf("receiver got %s, want %s", got, want)
	}
	if reqs[0].Header.Get("webhook-id") == "" {
		t.Fatalf("no webhook-id header: %v", reqs[0].Header)
	}

	// with_content=false answers an empty payload.
	raw = call(t, s, "POST", "/api/v1/app/acme/msg?with_content=false", map[string]any{"eventType": "lead.created", "payload": map[string]any{"n": 2}}, 202)
	if m := decode[message](t, raw); string(m.Payload) != "{}" {
		t.Fatalf("with_content=false: %s", raw)
	}

	// eventId: the first is sent, a repeat answers 409 as Svix does.
	in := map[string]any{"eventType": "lead.created", "eventId": "order-1", "payload": map[string]any{"n": 3}}
	first := decode[message](t, call(t, s, "POST", "/api/v1/app/acme/msg", in, 202))
	if first.EventID == nil || *first.EventID != "order-1" {
		t.Fatalf("eventId not answered: %+v", first)
	}
	var e svixError
	if got := s.Do("POST", "/api/v1/app/acme/msg", in, &e); got != 409 || e.Code != "conflict" || !strings.Contains(e.Detail, first.ID) {
		t.Fatalf("repeated eventId: %d %+v, want 409 conflict naming %s", got, e, first.ID)
	}
	in["payload"] = map[string]any{"n": 4}
	if got := s.Do("POST", "/api/v1/app/acme/msg", in, &e); got != 409 || e.Code != "conflict" {
		t.Fatalf("repeated eventId, other body: %d %+v, want 409 conflict", got, e)
	}

	// A client's idempotency-key (no eventId): its retry gets the first
	// message, and the key is not shown as an eventId.
	h := http.Header{"Authorization": {"Bearer " + heraldtest.Token}, "Idempotency-Key": {"auto_0b6f2c1e"}}
	retry := map[string]any{"eventType": "lead.created", "payload": map[string]any{"n": 5}}
	a := decode[message](t, callWith(t, s, "POST", "/api/v1/app/acme/msg", retry, 202, h))
	b := decode[message](t, callWith(t, s, "POST", "/api/v1/app/acme/msg", retry, 202, h))
	if a.ID != b.ID || a.EventID != nil {
		t.Fatalf("retry with the same idempotency-key: %+v then %+v, want the same message without eventId", a, b)
	}
	var mismatch svixError
	if got := s.DoWith("POST", "/api/v1/app/acme/msg", map[string]any{"eventType": "lead.created", "payload": map[string]any{"n": 55}}, &mismatch, h); got != 409 || mismatch.Code != "conflict" {
		t.Fatalf("the same idempotency-key with another body: %d %+v, want 409 conflict", got, mismatch)
	}
	// With both, eventId wins: another key does not make a second message.
	in = map[string]any{"eventType": "lead.created", "eventId": "order-2", "payload": map[string]any{"n": 6}}
	callWith(t, s, "POST", "/api/v1/app/acme/msg", in, 202, h)
	h.Set("Idempotency-Key", "auto_other")
	callWith(t, s, "POST", "/api/v1/app/acme/msg", in, 409, h)

	// 5 messages were sent, 5 requests arrive.
	rc.Wait(t, 5, 10*time.Second)
}

func TestCreateMessageErrors(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup("http://127.0.0.1:9/", nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	cases := []struct {
		name string
		body string
		loc  []string
	}{
		{"no eventType", `{"payload":{}}`, []string{"body", "eventType"}},
		{"no payload", `{"eventType":"lead.created"}`, []string{"body", "payload"}},
		{"null payload", `{"eventType":"lead.created","payload":null}`, []string{"body", "payload"}},
		{"unknown field", `{"eventType":"lead.created","payload":{},"colour":1}`, []string{"body", "colour"}},
		{"wrong type", `{"eventType":5,"payload":{}}`, []string{"body", "eventType"}},
		{"deliverAt", `{"eventType":"lead.created","payload":{},"deliverAt":"2030-01-01T00:00:00Z"}`, []string{"body", "deliverAt"}},
		{"transformationsParams", `{"eventType":"lead.created","payload":{},"transformationsParams":{"rawPayload":"x"}}`, []string{"body", "transformationsParams"}},
		{"retention days", `{"eventType":"lead.created","payload":{},"payloadRetentionPeriod":400}`, []string{"body", "payloadRetentionPeriod"}},
		{"retention hours", `{"eventType":"lead.created","payload":{},"payloadRetentionHours":0}`, []string{"body", "payloadRetentionHours"}},
		{"empty eventId", `{"eventType":"lead.created","payload":{},"eventId":""}`, []string{"body", "eventId"}},
		{"long eventId", `{"eventType":"lead.created","payload":{},"eventId":"` + strings.Repeat("x", 257) + `"}`, []string{"body", "eventId"}},
		{"undeclared type", `{"eventType":"no.such.type","payload":{}}`, []string{"body", "eventType"}},
		{"app throttleRate", `{"eventType":"lead.created","payload":{},"application":{"name":"N","throttleRate":5}}`, []string{"body", "application", "throttleRate"}},
		{"too many tags", `{"eventType":"lead.created","payload":{},"tags":["a","b","c","d","e","f"]}`, []string{"body", "tags"}},
		{"bad channel", `{"eventType":"lead.created","payload":{},"channels":["no spaces"]}`, []string{"body", "channels"}},
		{"app without name", `{"eventType":"lead.created","payload":{},"application":{"uid":"n"}}`, []string{"body", "application", "name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want422(t, call(t, s, "POST", "/api/v1/app/acme/msg", c.body, 422), c.loc...)
		})
	}
	want422(t, call(t, s, "POST", "/api/v1/app/acme/msg?with_content=maybe", `{"eventType":"lead.created","payload":{}}`, 422), "query", "with_content")
	want422(t, call(t, s, "POST", "/api/v1/app/acme/msg?colour=red", `{"eventType":"lead.created","payload":{}}`, 422), "query", "colour")

	ok := map[string]any{"eventType": "lead.created", "payload": map[string]any{}}
	want404(t, call(t, s, "POST", "/api/v1/app/nobody/msg", ok, 404))
	var e svixError
	if got := s.Invalid().DoWith("POST", "/api/v1/app/acme/msg", ok, &e, http.Header{}); got != 401 || e.Code == "" {
		t.Fatalf("without a token: %d %+v, want 401", got, e)
	}
	// A key of app "other" does not reach acme.
	want404(t, callWith(t, s, "POST", "/api/v1/app/acme/msg", ok, 404, scopedKey(t, s, "other")))
}

func TestCreateMessageWithApplication(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	in := map[string]any{"eventType": "lead.created", "payload": map[string]any{"n": 1}, "application": map[string]any{"name": "Fresh"}}
	call(t, s, "POST", "/api/v1/app/fresh/msg", in, 202)
	var app struct{ ID, UID, Name string }
	s.MustDo("GET", "/v1/apps/fresh", nil, &app, 200)
	if app.Name != "Fresh" || app.UID != "fresh" {
		t.Fatalf("app made from the message: %+v", app)
	}
	// The application's metadata is the app's.
	in["application"] = map[string]any{"name": "Meta", "metadata": map[string]string{"tier": "gold"}}
	call(t, s, "POST", "/api/v1/app/meta/msg", in, 202)
	var withMeta struct{ Metadata map[string]string }
	s.MustDo("GET", "/v1/apps/meta", nil, &withMeta, 200)
	if withMeta.Metadata["tier"] != "gold" {
		t.Fatalf("app metadata %v", withMeta.Metadata)
	}
	in["application"] = map[string]any{"name": "Fresh"}
	// An existing app is used as it is.
	call(t, s, "POST", "/api/v1/app/fresh/msg", in, 202)
	var evs struct{ Data []any }
	s.MustDo("GET", "/v1/apps/fresh/events", nil, &evs, 200)
	if len(evs.Data) != 2 {
		t.Fatalf("events of fresh: %d, want 2", len(evs.Data))
	}
	// The application's own uid names the app made.
	in["application"] = map[string]any{"name": "Named", "uid": "named-app"}
	call(t, s, "POST", "/api/v1/app/whatever/msg", in, 202)
	s.MustDo("GET", "/v1/apps/named-app", nil, &app, 200)

	// Concurrent first messages to a new app: one creates it, the other
	// finds it; both are sent.
	in["application"] = map[string]any{"name": "Raced"}
	j, _ := json.Marshal(in)
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", s.URL+"/api/v1/app/raced/msg", bytes.NewReader(j))
			req.Header.Set("Authorization", "Bearer "+heraldtest.Token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 202 {
			t.Fatalf("concurrent creation %d: %d, want 202 (all: %v)", i, c, codes)
		}
	}
	s.MustDo("GET", "/v1/apps/raced/events", nil, &evs, 200)
	if len(evs.Data) != 4 {
		t.Fatalf("events of raced: %d, want 4", len(evs.Data))
	}
}

func TestGetAndListMessages(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup("http://127.0.0.1:9/", nil)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.lost"}, nil, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	var sent []message
	for i := range 5 {
		typ := "lead.created"
		if i%2 == 1 {
			typ = "lead.lost"
		}
		sent = append(sent, decode[message](t, call(t, s, "POST", "/api/v1/app/acme/msg",
			map[string]any{"eventType": typ, "payload": map[string]any{"i": i}}, 202)))
	}

	got := decode[message](t, call(t, s, "GET", "/api/v1/app/acme/msg/"+sent[2].ID, nil, 200))
	if got.ID != sent[2].ID || string(got.Payload) != `{"i":2}` || !got.Timestamp.Equal(sent[2].Timestamp) {
		t.Fatalf("get: %+v, want %+v", got, sent[2])
	}
	got = decode[message](t, call(t, s, "GET", "/api/v1/app/acme/msg/"+sent[2].ID+"?with_content=false", nil, 200))
	if string(got.Payload) != "{}" {
		t.Fatalf("get with_content=false: %s", got.Payload)
	}
	want404(t, call(t, s, "GET", "/api/v1/app/acme/msg/evt_nope", nil, 404))
	// The webhook-id a receiver got (Herald's delivery id) names its message too.
	var ds struct{ Data []struct{ ID string } }
	s.MustDo("GET", "/v1/apps/acme/events/"+sent[2].ID+"/deliveries", nil, &ds, 200)
	if len(ds.Data) != 1 {
		t.Fatalf("deliveries of %s: %+v", sent[2].ID, ds.Data)
	}
	if got := decode[message](t, call(t, s, "GET", "/api/v1/app/acme/msg/"+ds.Data[0].ID, nil, 200)); got.ID != sent[2].ID {
		t.Fatalf("get by webhook-id %s: %+v, want message %s", ds.Data[0].ID, got, sent[2].ID)
	}
	want404(t, call(t, s, "GET", "/api/v1/app/acme/msg/dlv_nope", nil, 404))
	want404(t, call(t, s, "GET", "/api/v1/app/nobody/msg/"+sent[0].ID, nil, 404))
	want404(t, callWith(t, s, "GET", "/api/v1/app/acme/msg/"+sent[0].ID, nil, 404, scopedKey(t, s, "other")))

	// Paging, newest first, until done; prevIterator is null.
	var ids []string
	it := ""
	for n := 0; ; n++ {
		if n > 5 {
			t.Fatal("the list does not end")
		}
		q := "/api/v1/app/acme/msg?limit=2"
		if it != "" {
			q += "&iterator=" + it
		}
		raw := call(t, s, "GET", q, nil, 200)
		if k := fieldNames(t, raw); !slices.Equal(k, []string{"data", "done", "iterator", "prevIterator"}) {
			t.Fatalf("list fields %v", k)
		}
		pg := decode[list[message]](t, raw)
		if pg.PrevIterator != nil {
			t.Fatalf("prevIterator %v", *pg.PrevIterator)
		}
		for _, m := range pg.Data {
			ids = append(ids, m.ID)
		}
		if pg.Done {
			break
		}
		it = *pg.Iterator
	}
	want := []string{sent[4].ID, sent[3].ID, sent[2].ID, sent[1].ID, sent[0].ID}
	if !slices.Equal(ids, want) {
		t.Fatalf("paged ids %v, want %v", ids, want)
	}

	listIDs := func(q string) []string {
		t.Helper()
		pg := decode[list[message]](t, call(t, s, "GET", "/api/v1/app/acme/msg"+q, nil, 200))
		var out []string
		for _, m := range pg.Data {
			out = append(out, m.ID)
		}
		return out
	}
	if got := listIDs("?event_types=lead.lost"); !slices.Equal(got, []string{sent[3].ID, sent[1].ID}) {
		t.Fatalf("event_types=lead.lost: %v", got)
	}
	if got := listIDs("?event_types=lead.lost,lead.created&limit=3"); !slices.Equal(got, want[:3]) {
		t.Fatalf("event_types=lead.lost,lead.created: %v", got)
	}
	if got := listIDs("?event_types=lead.lost&event_types=lead.created&limit=3"); !slices.Equal(got, want[:3]) {
		t.Fatalf("event_types repeated: %v", got)
	}
	// after and before are exclusive, as in Svix.
	after := sent[1].Timestamp.Format(time.RFC3339Nano)
	before := sent[3].Timestamp.Format(time.RFC3339Nano)
	if got := listIDs("?after=" + after + "&before=" + before); !slices.Equal(got, []string{sent[2].ID}) {
		t.Fatalf("between: %v, want only %s", got, sent[2].ID)
	}
	pg := decode[list[message]](t, call(t, s, "GET", "/api/v1/app/acme/msg?with_content=false&limit=1", nil, 200))
	if len(pg.Data) != 1 || string(pg.Data[0].Payload) != "{}" || pg.Done {
		t.Fatalf("with_content=false: %+v", pg)
	}

	want422(t, call(t, s, "GET", "/api/v1/app/acme/msg?limit=0", nil, 422), "query", "limit")
	want422(t, call(t, s, "GET", "/api/v1/app/acme/msg?before=yesterday", nil, 422), "query", "before")
	want422(t, call(t, s, "GET", "/api/v1/app/acme/msg?status=0", nil, 422), "query", "status")
	want404(t, call(t, s, "GET", "/api/v1/app/nobody/msg", nil, 404))
	want404(t, callWith(t, s, "GET", "/api/v1/app/acme/msg", nil, 404, scopedKey(t, s, "other")))
	if got := s.Invalid().DoWith("GET", "/api/v1/app/acme/msg", nil, nil, http.Header{}); got != 401 {
		t.Fatalf("without a token: %d", got)
	}
}

func TestUnsupportedMessageRoutes(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	for _, c := range []struct{ method, path string }{
		{"DELETE", "/api/v1/app/acme/msg/evt_1/content"},
		{"POST", "/api/v1/app/acme/msg/bulk-expunge"},
		{"POST", "/api/v1/app/acme/msg/expunge-all-contents"},
		{"POST", "/api/v1/app/acme/msg/precheck/active"},
		{"DELETE", "/api/v1/app/acme/msg/evt_1/attempt/atm_1/content"},
	} {
		var e svixError
		if got := s.Do(c.method, c.path, map[string]any{}, &e); got != 501 || e.Code != "not_implemented" || !strings.Contains(e.Detail, "not supported") {
			t.Errorf("%s %s: %d %+v, want 501 naming the operation", c.method, c.path, got, e)
		}
	}
}

func TestMessageChannelsTagsAndEventID(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	ep := s.Setup(rc.URL, nil)
	in := map[string]any{"eventType": "lead.created", "payload": map[string]any{"n": 1}, "eventId": "lead-1",
		"channels": []string{"eu", "vip"}, "tags": []string{"import"}, "payloadRetentionPeriod": 2, "payloadRetentionHours": 5}
	raw := call(t, s, "POST", "/api/v1/app/acme/msg", in, 202)
	m := decode[message](t, raw)
	if !slices.Equal(m.Channels, []string{"eu", "vip"}) || !slices.Equal(m.Tags, []string{"import"}) {
		t.Fatalf("channels and tags not answered: %s", raw)
	}
	// Hours win over days: the payload is to go 5 hours after.
	retention := func(id string) time.Duration {
		t.Helper()
		ev, err := s.Store.EventGet(context.Background(), s.AppID("acme"), id)
		if err != nil || ev.PayloadExpiresAt == nil {
			t.Fatalf("event %s: %v, expires %v", id, err, ev)
		}
		return ev.PayloadExpiresAt.Sub(ev.CreatedAt).Round(time.Minute)
	}
	if got := retention(m.ID); got != 5*time.Hour {
		t.Fatalf("retention %v, want 5h", got)
	}
	delete(in, "payloadRetentionHours")
	in["eventId"], in["channels"], in["tags"] = "lead-2", []string{"us"}, []string{"import", "manual"}
	m2 := decode[message](t, call(t, s, "POST", "/api/v1/app/acme/msg", in, 202))
	if got := retention(m2.ID); got != 48*time.Hour {
		t.Fatalf("retention %v, want 48h (2 days)", got)
	}
	m3 := decode[message](t, call(t, s, "POST", "/api/v1/app/acme/msg", map[string]any{"eventType": "lead.created", "payload": map[string]any{"n": 3}}, 202))
	for _, id := range []string{m.ID, m2.ID, m3.ID} {
		s.WaitDelivery(id, "succeeded", 1, 10*time.Second)
	}

	// A message by its eventId.
	got := decode[message](t, call(t, s, "GET", "/api/v1/app/acme/msg/lead-1", nil, 200))
	if got.ID != m.ID || got.EventID == nil || *got.EventID != "lead-1" {
		t.Fatalf("by eventId: %+v", got)
	}
	want404(t, call(t, s, "GET", "/api/v1/app/acme/msg/lead-3", nil, 404))
	if as := decode[list[attempt]](t, call(t, s, "GET", "/api/v1/app/acme/attempt/msg/lead-2", nil, 200)); len(as.Data) != 1 || as.Data[0].MsgID != m2.ID {
		t.Fatalf("attempts by eventId: %+v", as)
	}

	ids := func(path string) []string {
		t.Helper()
		var out []string
		for _, m := range decode[list[message]](t, call(t, s, "GET", path, nil, 200)).Data {
			out = append(out, m.ID)
		}
		return out
	}
	if got := ids("/api/v1/app/acme/msg?channel=eu"); !slices.Equal(got, []string{m.ID}) {
		t.Fatalf("channel=eu: %v", got)
	}
	if got := ids("/api/v1/app/acme/msg?tag=import"); !slices.Equal(got, []string{m2.ID, m.ID}) {
		t.Fatalf("tag=import: %v", got)
	}
	if got := ids("/api/v1/app/acme/msg?tag=manual&channel=eu"); len(got) != 0 {
		t.Fatalf("tag=manual&channel=eu: %v", got)
	}
	if got := ids("/api/v1/app/acme/endpoint/" + ep + "/msg?channel=us"); !slices.Equal(got, []string{m2.ID}) {
		t.Fatalf("endpoint messages of channel us: %v", got)
	}
	var msgIDs []string
	for _, a := range decode[list[attempt]](t, call(t, s, "GET", "/api/v1/app/acme/attempt/endpoint/"+ep+"?tag=import", nil, 200)).Data {
		msgIDs = append(msgIDs, a.MsgID)
	}
	if !slices.Equal(msgIDs, []string{m2.ID, m.ID}) {
		t.Fatalf("attempts of tag import: %v", msgIDs)
	}
	if as := decode[list[attempt]](t, call(t, s, "GET", "/api/v1/app/acme/attempt/msg/"+m.ID+"?channel=us", nil, 200)); len(as.Data) != 0 || !as.Done {
		t.Fatalf("attempts of a message not in the channel: %+v", as)
	}
}
