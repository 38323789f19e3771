package shape_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/verify"
)

// Each preset is checked by a receiver that reads the request the way the
// destination does: its content type, its fields, its credentials.

func TestPresetSlack(t *testing.T) {
	t.Parallel()
	var text string
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		var m struct{ Text string }
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&m) != nil || m.Text == "" {
			w.WriteHeader(400)
			_, _ = w.Write([]byte("invalid_payload"))
			return
		}
		text = m.Text
		_, _ = w.Write([]byte("ok"))
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL+"/services/T000/B000/XXXX", map[string]any{"preset": "slack"})
	ev := s.Send(map[string]any{"name": "山田", "company": "ACME"})
	s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
	if !strings.Contains(text, "lead.created") || !strings.Contains(text, `"company":"ACME"`) || !strings.Contains(text, "Acme") {
		t.Fatalf("default Slack message %q should name the event, the app and the data", text)
	}
	// A message template of the customer's replaces the default.
	var eps struct{ Data []struct{ ID string } }
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &eps, 200)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+eps.Data[0].ID, map[string]any{"preset_options": map[string]string{"message": "New lead: {{name}} ({{company}})"}}, nil, 200)
	ev = s.Send(map[string]any{"name": "山田", "company": "ACME"})
	s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
	if text != "New lead: 山田 (ACME)" {
		t.Fatalf("custom message %q", text)
	}
}

func TestPresetDiscordAndTeams(t *testing.T) {
	t.Parallel()
	// Discord refuses content over 2,000 characters; Teams takes about
	// 28 KB (here an Office 365 connector webhook, format connector).
	for _, c := range []struct {
		preset, field string
		max           int
		options       map[string]string
	}{{"discord", "content", 2000, map[string]string{}}, {"teams", "text", 28000, map[string]string{"format": "connector"}}} {
		t.Run(c.preset, func(t *testing.T) {
			t.Parallel()
			var got string
			rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				var m map[string]any
				if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&m) != nil {
					w.WriteHeader(400)
					return
				}
				s, _ := m[c.field].(string)
				if s == "" || len([]rune(s)) > c.max {
					w.WriteHeader(400)
					return
				}
				got = s
				w.WriteHeader(204)
			})
			s := heraldtest.Start(t, heraldtest.Options{})
			s.Setup(rc.URL, map[string]any{"preset": c.preset, "preset_options": c.options})
			ev := s.Send(map[string]any{"big": strings.Repeat("あ", 5000)})
			s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
			if !strings.Contains(got, "lead.created") {
				t.Fatalf("%s message %q", c.preset, got)
			}
		})
	}
}

// TestPresetTeamsAdaptiveCard: by default the teams preset sends what a
// Teams Workflows webhook takes, a message with an Adaptive Card whose
// TextBlock holds the text; an unknown format is refused, naming it.
func TestPresetTeamsAdaptiveCard(t *testing.T) {
	t.Parallel()
	var text string
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		var m struct {
			Type        string
			Attachments []struct {
				ContentType string
				Content     struct {
					Type, Version string
					Body          []struct {
						Type, Text string
						Wrap       bool
					}
				}
			}
		}
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&m) != nil || m.Type != "message" || len(m.Attachments) != 1 {
			w.WriteHeader(400)
			return
		}
		a := m.Attachments[0]
		if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.Content.Type != "AdaptiveCard" || a.Content.Version == "" ||
			len(a.Content.Body) != 1 || a.Content.Body[0].Type != "TextBlock" || !a.Content.Body[0].Wrap {
			w.WriteHeader(400)
			return
		}
		text = a.Content.Body[0].Text
		w.WriteHeader(202)
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL, map[string]any{"preset": "teams", "preset_options": map[string]string{"message": "新しいリード: {{name}} \"{{company}}\""}})
	ev := s.Send(map[string]any{"name": "山田", "company": "ACME <1>"})
	s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
	if text != `新しいリード: 山田 "ACME <1>"` {
		t.Fatalf("card text %q", text)
	}
	var e struct{ Error struct{ Field string } }
	if got := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "preset": "teams", "preset_options": map[string]string{"format": "card"}}, &e); got/100 != 4 || e.Error.Field != "preset_options.format" {
		t.Fatalf("format card: %d %+v", got, e)
	}
}

func TestPresetChatwork(t *testing.T) {
	t.Parallel()
	var body, room string
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-ChatWorkToken") != "cw-token-123456" {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"errors":["Invalid API token"]}`))
			return
		}
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil || r.PostForm.Get("body") == "" {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"errors":["Parameter body is required"]}`))
			return
		}
		body = r.PostForm.Get("body")
		room = strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/rooms/"), "/messages")
		_, _ = w.Write([]byte(`{"message_id":"1234"}`))
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	// The url is given only to reach the local stand-in; without it the
	// preset sends to api.chatwork.com.
	epID := s.Setup(rc.URL+"/v2/rooms/{{room}}/messages", map[string]any{
		"preset":         "chatwork",
		"preset_options": map[string]string{"room_id": "{{room}}", "api_token": "cw-token-123456", "message": "[info][title]新しいリード[/title]{{company}} {{name}} 様\n{{customer_detail_url}}[/info]"},
	})
	ev := s.Send(map[string]any{"room": "987", "company": "株式会社ACME", "name": "山田 太郎", "customer_detail_url": "https://example.com/c/1?a=b&c=d"})
	s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
	if room != "987" || body != "[info][title]新しいリード[/title]株式会社ACME 山田 太郎 様\nhttps://example.com/c/1?a=b&c=d[/info]" {
		t.Fatalf("room %q body %q", room, body)
	}
	// The token is masked wherever the endpoint is shown.
	var ep map[string]any
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &ep, 200)
	raw, _ := json.Marshal(ep)
	if strings.Contains(string(raw), "cw-token-123456") {
		t.Fatalf("token shown in clear: %s", raw)
	}
	// Without a url override the preset targets Chatwork's API.
	var ep2 struct {
		Effective struct{ URL, Method, ContentType string } `json:"effective"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"preset": "chatwork", "preset_options": map[string]string{"room_id": "42", "api_token": "t0ken-abcdefgh"}}, &ep2, 201)
	if ep2.Effective.URL != "https://api.chatwork.com/v2/rooms/42/messages" {
		t.Fatalf("effective %+v", ep2.Effective)
	}
}

func TestPresetSegment(t *testing.T) {
	t.Parallel()
	var got map[string]any
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "seg-write-key" || pass != "" {
			w.WriteHeader(401)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil || r.URL.Path != "/v1/track" {
			w.WriteHeader(400)
			return
		}
		_, _ = w.Write([]byte(`{"success":true}`))
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL+"/v1/track", map[string]any{"preset": "segment", "preset_options": map[string]string{"write_key": "seg-write-key"}})
	ev := s.Send(map[string]any{"user_id": "u-1", "score": 9})
	s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
	if got["userId"] != "u-1" || got["event"] != "lead.created" || got["messageId"] != ev {
		t.Fatalf("track call %v", got)
	}
	if props, _ := got["properties"].(map[string]any); props["score"] != float64(9) {
		t.Fatalf("properties %v", got["properties"])
	}
	if ts, _ := got["timestamp"].(string); ts == "" {
		t.Fatalf("timestamp missing: %v", got)
	} else if _, err := time.Parse(time.RFC3339, ts); err != nil {
		t.Fatalf("timestamp %q: %v", ts, err)
	}
}

// GET and DELETE carry the rendered fields in the query string.
func TestQueryStringForGetAndDelete(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"GET", "DELETE"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			rc := heraldtest.NewReceiver(t, nil)
			s := heraldtest.Start(t, heraldtest.Options{})
			s.Setup(rc.URL+"/hook?src=herald", map[string]any{
				"method":        method,
				"body_template": map[string]any{"user_id": "{{user_id}}", "plan": "{{plan | upper}}", "n": 5, "tags": "{{tags}}"},
			})
			ev := s.Send(map[string]any{"user_id": "u 1&x=y", "plan": "pro", "tags": []string{"a", "b"}})
			s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
			r := rc.Requests()[0]
			u, _ := url.Parse(r.Path)
			q := u.Query()
			if r.Method != method || u.Path != "/hook" || q.Get("src") != "herald" || q.Get("user_id") != "u 1&x=y" ||
				q.Get("plan") != "PRO" || q.Get("n") != "5" || q.Get("tags") != `["a","b"]` || len(r.Body) != 0 {
				t.Fatalf("%s %s body %q", r.Method, r.Path, r.Body)
			}
			if r.Header.Get("Content-Type") != "" {
				t.Fatalf("Content-Type %q on a request without body", r.Header.Get("Content-Type"))
			}
		})
	}
}

// A preview is the request that is then really sent.
func TestPreviewEqualsSent(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL+"/leads/{{lead.id}}", map[string]any{
		"method":        "PUT",
		"headers":       map[string]string{"X-Company": "{{lead.company | upper}}", "Authorization": "Bearer s3cr3t-token-value"},
		"plain_headers": []string{"X-Company"},
		"body_template": map[string]any{"lead": "{{lead}}", "summary": "{{lead.name}} <{{lead.email}}>", "app": "{{app.uid}}"},
	})
	payload := map[string]any{"lead": map[string]any{"id": 7, "name": "Ann \"A\" </script>", "email": "a@example.com", "company": "acme"}}
	var pv struct {
		Method, URL, Body string
		Headers           map[string]string
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+epID+"/preview", map[string]any{"event_type": "lead.created", "payload": payload}, &pv, 200)
	ev := s.Send(payload)
	s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
	got := rc.Requests()[0]
	if pv.Method != got.Method || pv.URL != rc.URL+got.Path || pv.Body != string(got.Body) {
		t.Fatalf("preview %s %s %s\nsent    %s %s %s", pv.Method, pv.URL, pv.Body, got.Method, rc.URL+got.Path, got.Body)
	}
	for k, v := range pv.Headers {
		if strings.HasPrefix(k, "Webhook-") {
			continue
		}
		if k == "Authorization" {
			if v == "Bearer s3cr3t-token-value" || got.Header.Get(k) != "Bearer s3cr3t-token-value" {
				t.Fatalf("Authorization: preview %q (must be masked), sent %q", v, got.Header.Get(k))
			}
			continue
		}
		if got.Header.Get(k) != v {
			t.Fatalf("header %s: preview %q, sent %q", k, v, got.Header.Get(k))
		}
	}
	if !json.Valid(got.Body) || got.Header.Get("X-Company") != "ACME" {
		t.Fatalf("sent %s %v", got.Body, got.Header)
	}
	// The request really sent verifies, body and all.
	var sec struct{ Secret string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/secret", nil, &sec, 200)
	v, _ := verify.New(sec.Secret)
	if err := v.Verify(got.Header, got.Body); err != nil {
		t.Fatal(err)
	}
	// The attempt history masks the credential too.
	var ds struct{ Data []heraldtest.Delivery }
	s.MustDo("GET", "/v1/apps/acme/events/"+ev+"/deliveries", nil, &ds, 200)
	if h := ds.Data[0].Attempts[0].Request.Headers["Authorization"]; h == "Bearer s3cr3t-token-value" || h == "" {
		t.Fatalf("attempt history Authorization %q", h)
	}
}

func TestPreviewUnsavedAndErrors(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{
		"name":   "lead.created",
		"schema": map[string]any{"type": "object", "properties": map[string]any{"company": map[string]any{"type": "string", "title": "会社名"}}},
		"sample": map[string]any{"company": "サンプル株式会社"},
	}, nil, 201)
	var pv struct{ Method, URL, Body string }
	s.MustDo("POST", "/v1/apps/acme/endpoints/preview", map[string]any{
		"endpoint":   map[string]any{"url": "https://example.com/hook", "content_type": "text/plain", "body_template": "会社: {{会社名}}"},
		"event_type": "lead.created",
	}, &pv, 200)
	if pv.Body != "会社: サンプル株式会社" || pv.Method != "POST" {
		t.Fatalf("preview from sample with a title tag: %+v", pv)
	}
	var e struct {
		Error struct{ Code, Field, Message string }
	}
	got := s.Do("POST", "/v1/apps/acme/endpoints/preview", map[string]any{
		"endpoint":   map[string]any{"url": "https://example.com/{{missing}}", "template_strict": true},
		"event_type": "lead.created",
	}, &e)
	if got != 422 || e.Error.Code != "render_failed" || !strings.Contains(e.Error.Message, "missing") {
		t.Fatalf("strict missing: %d %+v", got, e)
	}
	got = s.Do("POST", "/v1/apps/acme/endpoints/preview", map[string]any{
		"endpoint":   map[string]any{"url": "https://example.com/", "body_template": map[string]any{"x": "{{name | nofilter}}"}},
		"event_type": "lead.created",
	}, &e)
	if got != 422 || e.Error.Field != "endpoint.body_template" {
		t.Fatalf("bad template: %d %+v", got, e)
	}
}

func TestEndpointShapeValidation(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"method", map[string]any{"url": "https://e.com", "method": "TRACE"}, "method"},
		{"content type", map[string]any{"url": "https://e.com", "content_type": "application/xml"}, "content_type"},
		{"webhook header", map[string]any{"url": "https://e.com", "headers": map[string]string{"webhook-id": "x"}}, "headers.webhook-id"},
		{"content-length", map[string]any{"url": "https://e.com", "headers": map[string]string{"Content-Length": "1"}}, "headers.Content-Length"},
		{"host", map[string]any{"url": "https://e.com", "headers": map[string]string{"Host": "evil"}}, "headers.Host"},
		{"bad header name", map[string]any{"url": "https://e.com", "headers": map[string]string{"Bad Name": "x"}}, "headers.Bad Name"},
		{"unclosed tag", map[string]any{"url": "https://e.com", "body_template": map[string]any{"a": "{{name"}}, "body_template"},
		{"unknown filter", map[string]any{"url": "https://e.com", "headers": map[string]string{"X-A": "{{a | nope}}"}}, "headers.X-A"},
		{"form needs object", map[string]any{"url": "https://e.com", "content_type": "application/x-www-form-urlencoded", "body_template": []int{1}}, "body_template"},
		{"get needs object", map[string]any{"url": "https://e.com", "method": "GET", "body_template": "text"}, "body_template"},
		{"bad url with tag", map[string]any{"url": "ftp://{{host}}/x"}, "url"},
		{"port out of range", map[string]any{"url": "http://example.com:65536/{{x}}"}, "url"},
		{"unknown preset", map[string]any{"url": "https://e.com", "preset": "myspace"}, "preset"},
		{"preset option missing", map[string]any{"preset": "chatwork", "preset_options": map[string]string{"room_id": "1"}}, "preset_options.api_token"},
		{"preset option unknown", map[string]any{"url": "https://e.com", "preset": "slack", "preset_options": map[string]string{"colour": "red"}}, "preset_options.colour"},
		{"url required", map[string]any{"preset": "slack"}, "url"},
	}
	for _, c := range cases {
		var e struct {
			Error struct{ Code, Field, Message string }
		}
		got := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", c.body, &e)
		if got/100 != 4 || e.Error.Field != c.field || e.Error.Message == "" {
			t.Errorf("%s: %d %+v, want field %q", c.name, got, e.Error, c.field)
		}
	}
}

// A URL that breaks the rules once filled in fails the delivery at once,
// naming the variable, without retries.
func TestRenderedURLInvalidFailsWithoutRetry(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "10ms,10ms"})
	s.Setup("http://{{host}}/hook", nil)
	ev := s.Send(map[string]any{"host": "bad host"})
	d := s.WaitDelivery(ev, "failed", 1, 5*time.Second)
	a := d.Attempts[0]
	if a.ErrorKind != "render" || !strings.Contains(a.Error, "{{host}}") {
		t.Fatalf("attempt %+v", a)
	}
	// Strict mode names the missing path.
	// (Both endpoints point at a closed local port: should a check fail,
	// nothing leaves the machine.)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://127.0.0.1:1/", "template_strict": true, "body_template": map[string]any{"c": "{{lead.company}}"}}, nil, 201)
	ev = s.Send(map[string]any{"host": "bad host"})
	var ds struct{ Data []heraldtest.Delivery }
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.MustDo("GET", "/v1/apps/acme/events/"+ev+"/deliveries?status=failed", nil, &ds, 200)
		if len(ds.Data) == 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(ds.Data) != 2 {
		t.Fatalf("%d failed deliveries, want 2: %+v", len(ds.Data), ds.Data)
	}
	found := false
	for _, d := range ds.Data {
		if len(d.Attempts) == 1 && strings.Contains(d.Attempts[0].Error, "lead.company") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no delivery failed naming lead.company: %+v", ds.Data)
	}
}

func TestPayloadFormats(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "conversation_created"}, nil, 201)
	mk := func(path string, body map[string]any) {
		body["url"] = rc.URL + path
		s.MustDo("POST", "/v1/apps/acme/endpoints", body, nil, 201)
	}
	mk("/standard", map[string]any{})
	mk("/raw", map[string]any{"payload_format": "raw"})
	mk("/flat", map[string]any{"payload_format": "flat"})
	mk("/flat-key", map[string]any{"payload_format": "flat", "flat_event_key": "event_name"})
	mk("/template-wins", map[string]any{"payload_format": "raw", "body_template": map[string]any{"id": "{{id}}"}})
	mk("/flat-get", map[string]any{"payload_format": "flat", "method": "GET"})
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "conversation_created", "payload": map[string]any{"id": 7, "status": "open", "meta": map[string]any{"a": 1}}}, nil, 202)
	got := map[string]string{}
	for _, r := range rc.Wait(t, 6, 5*time.Second) {
		got[strings.SplitN(r.Path, "?", 2)[0]] = string(r.Body)
		if strings.HasPrefix(r.Path, "/flat-get") {
			got["query"] = r.Path
		}
	}
	if !strings.HasPrefix(got["/standard"], `{"type":"conversation_created","timestamp":`) {
		t.Errorf("standard: %s", got["/standard"])
	}
	want := map[string]string{
		// The payload as sent (this client sorts keys), byte for byte.
		"/raw":           `{"id":7,"meta":{"a":1},"status":"open"}`,
		"/flat":          `{"event":"conversation_created","id":7,"meta":{"a":1},"status":"open"}`,
		"/flat-key":      `{"event_name":"conversation_created","id":7,"meta":{"a":1},"status":"open"}`,
		"/template-wins": `{"id":7}`,
	}
	for path, w := range want {
		if got[path] != w {
			t.Errorf("%s: %s, want %s", path, got[path], w)
		}
	}
	if q := got["query"]; !strings.Contains(q, "event=conversation_created") || !strings.Contains(q, "status=open") || !strings.Contains(q, "meta=%7B%22a%22%3A1%7D") {
		t.Errorf("flat GET query %s", q)
	}
	// The app's default applies to its endpoints that set none.
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"payload_format": "raw"}, nil, 200)
	time.Sleep(2100 * time.Millisecond) // the engine's app cache
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "conversation_created", "payload": map[string]any{"id": 8}}, nil, 202)
	for _, r := range rc.Wait(t, 12, 5*time.Second)[6:] {
		if r.Path == "/standard" && string(r.Body) != `{"id":8}` {
			t.Errorf("app default raw: %s", r.Body)
		}
	}
	var e struct{ Error struct{ Field string } }
	if code := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "payload_format": "xml"}, &e); code != 422 || e.Error.Field != "payload_format" {
		t.Fatalf("bad format: %d %+v", code, e)
	}
}

// The same template in both syntaxes renders the same request.
func TestTemplateSyntaxes(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "KARTE", "uid": "karte", "template_syntax": "hash"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "karte.action"}, nil, 201)
	// The app's default (hash) and an endpoint that overrides it (braces).
	s.MustDo("POST", "/v1/apps/karte/endpoints", map[string]any{"url": rc.URL + "/users/#{user_id}", "method": "PUT",
		"headers":       map[string]string{"X-User": "#{user_id | upper}"},
		"body_template": map[string]any{"user_id": "#{user_id}", "visits": "#{visits}", "note": "#{name} さん"}}, nil, 201)
	s.MustDo("POST", "/v1/apps/karte/endpoints", map[string]any{"url": rc.URL + "/users/{{user_id}}", "method": "PUT", "template_syntax": "braces",
		"headers":       map[string]string{"X-User": "{{user_id | upper}}"},
		"body_template": map[string]any{"user_id": "{{user_id}}", "visits": "{{visits}}", "note": "{{name}} さん"}}, nil, 201)
	s.MustDo("POST", "/v1/apps/karte/events", map[string]any{"event_type": "karte.action", "payload": map[string]any{"user_id": "u-9", "visits": 3, "name": "花子"}}, nil, 202)
	reqs := rc.Wait(t, 2, 5*time.Second)
	a, b := reqs[0], reqs[1]
	if a.Path != "/users/u-9" || a.Path != b.Path || string(a.Body) != string(b.Body) || a.Header.Get("X-User") != "U-9" || a.Header.Get("X-User") != b.Header.Get("X-User") {
		t.Fatalf("hash %s %s %v\nbraces %s %s %v", a.Path, a.Body, a.Header, b.Path, b.Body, b.Header)
	}
	if string(a.Body) != `{"note":"花子 さん","user_id":"u-9","visits":3}` { // keys as this client sent them
		t.Fatalf("body %s", a.Body)
	}
	var e struct{ Error struct{ Field string } }
	if code := s.Do("POST", "/v1/apps/karte/endpoints", map[string]any{"url": rc.URL, "body_template": map[string]any{"x": "#{unclosed"}}, &e); code != 422 || e.Error.Field != "body_template" {
		t.Fatalf("a hash template that does not parse: %d %+v", code, e)
	}
	if code := s.Invalid().Do("PATCH", "/v1/apps/karte", map[string]any{"template_syntax": "percent"}, &e); code != 422 || e.Error.Field != "template_syntax" {
		t.Fatalf("bad syntax: %d %+v", code, e)
	}
}

// A KARTE definition pasted into the endpoint API creates the equivalent
// endpoint; its preview is what the receiver then gets.
func TestKarteImport(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "K", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "user.view"}, nil, 201)
	def := `{"format": "karte", "url": "` + rc.URL + `/users/#{user_id}", "method": "PUT",
		"headers": {"X-Campaign": "#{campaign_id}"},
		"hookData": {"user_id": "#{user_id}", "path": "#{viewed_path}", "visits": "#{visits}"}}`
	var ep struct {
		ID             string
		TemplateSyntax string `json:"template_syntax"`
		Method         string
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", def, &ep, 201)
	if ep.TemplateSyntax != "hash" || ep.Method != "PUT" {
		t.Fatalf("endpoint %+v", ep)
	}
	payload := map[string]any{"user_id": "u-1", "viewed_path": "/pricing", "visits": 4, "campaign_id": "cmp-9"}
	var pv struct{ Method, URL, Body string }
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/preview", map[string]any{"event_type": "user.view", "payload": payload}, &pv, 200)
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "user.view", "payload": payload}, nil, 202)
	got := rc.Wait(t, 1, 5*time.Second)[0]
	if pv.Method != got.Method || pv.URL != rc.URL+got.Path || pv.Body != string(got.Body) || got.Header.Get("X-Campaign") != "cmp-9" {
		t.Fatalf("preview %s %s %s\nsent %s %s %s %v", pv.Method, pv.URL, pv.Body, got.Method, got.Path, got.Body, got.Header)
	}
	if string(got.Body) != `{"user_id":"u-1","path":"/pricing","visits":4}` || got.Path != "/users/u-1" {
		t.Fatalf("sent %s %s", got.Path, got.Body)
	}
	var e struct{ Error struct{ Field string } }
	if code := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", `{"format": "zapier", "url": "https://e.com"}`, &e); code != 422 || e.Error.Field != "format" {
		t.Fatalf("unknown format: %d %+v", code, e)
	}
	// A refusal names the field as KARTE's users wrote it.
	var hook struct {
		Error struct{ Field, Message string }
	}
	def = `{"format": "karte", "url": "https://e.com/users", "method": "GET", "hookData": "#{user_id}"}`
	if code := s.Do("POST", "/v1/apps/acme/endpoints", def, &hook); code != 422 || hook.Error.Field != "hookData" || !strings.HasPrefix(hook.Error.Message, "hookData must be a JSON object") {
		t.Fatalf("hookData that is not an object with GET: %d %+v", code, hook)
	}
}

// TestPresetMarketo runs against a stand-in that answers as Marketo does:
// HTTP 200 with "success" and error codes.
func TestPresetMarketo(t *testing.T) {
	t.Parallel()
	var tokens, leads atomic.Int64
	var mode atomic.Value // what the next leads call answers
	mode.Store("token-expired")
	var lastBody atomic.Value
	mk := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/identity/oauth/token":
			_ = r.ParseForm()
			if r.Form.Get("client_id") != "cid" || r.Form.Get("client_secret") != "csec" {
				w.WriteHeader(401)
				return
			}
			k := tokens.Add(1)
			fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"bearer","expires_in":3599,"scope":"api"}`, k)
		case "/rest/v1/leads.json":
			leads.Add(1)
			b, _ := io.ReadAll(r.Body)
			lastBody.Store(string(b))
			want := fmt.Sprintf("Bearer tok-%d", tokens.Load())
			switch m := mode.Load().(string); {
			case r.Header.Get("Authorization") != want:
				fmt.Fprint(w, `{"requestId":"a#1","success":false,"errors":[{"code":"601","message":"Access token invalid"}]}`)
			case m == "token-expired":
				mode.Store("ok")
				fmt.Fprint(w, `{"requestId":"a#2","success":false,"errors":[{"code":"602","message":"Access token expired"}]}`)
			case m == "rate":
				fmt.Fprint(w, `{"requestId":"a#3","success":false,"errors":[{"code":"606","message":"Max rate limit '100' exceeded with in '20' secs"}]}`)
			case m == "bad":
				fmt.Fprint(w, `{"requestId":"a#4","success":false,"errors":[{"code":"1003","message":"Invalid lookup field"}]}`)
			default:
				fmt.Fprint(w, `{"requestId":"a#5","success":true,"result":[{"id":318581,"status":"updated"}]}`)
			}
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h"})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "immdio", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.export"}, nil, 201)
	var ep map[string]any
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"event_types": []string{"lead.export"}, "preset": "marketo",
		"preset_options": map[string]string{"munchkin_id": "123-ABC-456", "client_id": "cid", "client_secret": "csec", "base_url": mk.URL}}, &ep, 201)
	if po := ep["preset_options"].(map[string]any); po["client_secret"] != "********" {
		t.Fatalf("client secret shown: %v", po)
	}
	lead := map[string]any{"id": "ld_1", "email": "taro@example.com", "lastName": "山田", "firstName": "太郎", "company": "ACME", "tel": "03-1234-5678"}
	// A token reported expired: one refresh, then success.
	ev := s.MustSend(t, "lead.export", lead)
	d := s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
	if tokens.Load() != 2 || !strings.Contains(lastBody.Load().(string), `"action":"createOrUpdate","lookupField":"email","input":[{"email":"taro@example.com","firstName":"太郎","lastName":"山田","company":"ACME","phone":"03-1234-5678"`) {
		t.Fatalf("tokens %d, body %s, delivery %+v", tokens.Load(), lastBody.Load(), d)
	}
	// A rate-limit answer is retried later, with Marketo's message.
	mode.Store("rate")
	d = s.WaitDelivery(s.MustSend(t, "lead.export", lead), "pending", 1, 5*time.Second)
	if !strings.Contains(d.Attempts[0].Error, "606") || d.NextAttemptAt == nil {
		t.Fatalf("rate limit: %+v", d.Attempts[0])
	}
	// Any other error is final.
	mode.Store("bad")
	d = s.WaitDelivery(s.MustSend(t, "lead.export", lead), "failed", 1, 5*time.Second)
	if !strings.Contains(d.Attempts[0].Error, "1003 Invalid lookup field") {
		t.Fatalf("final error: %+v", d.Attempts[0])
	}
	// Without base_url it targets the instance.
	var eff struct {
		Effective struct{ URL string } `json:"effective"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep["id"].(string), nil, &eff, 200)
	if eff.Effective.URL != mk.URL+"/rest/v1/leads.json" {
		t.Fatalf("effective url %q", eff.Effective.URL)
	}
}

// TestPresetChatworkSelfUnread: self_unread reaches Chatwork as the form
// field it documents, 0 or 1; another value is refused, naming it.
func TestPresetChatworkSelfUnread(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil || r.PostForm.Get("body") == "" || r.Header.Get("X-ChatWorkToken") != "cw-token-123456" {
			w.WriteHeader(400)
			return
		}
		_, _ = w.Write([]byte(`{"message_id":"1"}`))
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL+"/v2/rooms/5/messages", map[string]any{
		"preset":         "chatwork",
		"preset_options": map[string]string{"room_id": "5", "api_token": "cw-token-123456", "message": "{{name}}", "self_unread": "1"},
	})
	ev := s.Send(map[string]any{"name": "山田"})
	s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
	got := rc.Requests()[0]
	form, err := url.ParseQuery(string(got.Body))
	if err != nil || form.Get("body") != "山田" || form.Get("self_unread") != "1" || len(form) != 2 {
		t.Fatalf("form %q", got.Body)
	}
	var e struct{ Error struct{ Field string } }
	if code := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"preset": "chatwork", "preset_options": map[string]string{"room_id": "5", "api_token": "t0ken-abcdefgh", "self_unread": "yes"}}, &e); code/100 != 4 || e.Error.Field != "preset_options.self_unread" {
		t.Fatalf("self_unread yes: %d %+v", code, e)
	}
	// A boolean where the option takes "0" or "1" is refused naming the
	// option, not the whole map.
	e.Error.Field = ""
	if code := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", map[string]any{"preset": "chatwork", "preset_options": map[string]any{"room_id": "5", "api_token": "t0ken-abcdefgh", "self_unread": true}}, &e); code != 400 || e.Error.Field != "preset_options.self_unread" {
		t.Fatalf("self_unread true: %d %+v", code, e)
	}
}
