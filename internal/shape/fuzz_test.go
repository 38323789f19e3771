package shape_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/shape"
)

// fuzzFields are the endpoint fields a compile error may name; headers
// and preset options are named with their key after a dot.
var fuzzFields = []string{"url", "method", "content_type", "body_template", "payload_format", "template_syntax", "preset", "preset_options"}

// fuzzShape is one set of seeds of FuzzShape: an endpoint's request
// settings and an event.
type fuzzShape struct {
	url, headers, body, contentType, method, preset, options, format, flatKey, syntax string
	strict                                                                            bool
	payload, eventType                                                                string
}

// FuzzShape: an endpoint's request settings are a tenant's, and so is every
// event payload. Never panics; Compile refuses with a *shape.FieldError
// naming a field, and a request it builds has a valid URL, header values
// without line breaks, and a body that its content type can read.
func FuzzShape(f *testing.F) {
	for _, s := range []fuzzShape{
		// The default request.
		{url: "https://example.com/hook", payload: `{"id":"42","name":"山田 太郎"}`, eventType: "lead.created"},
		// Tags in the URL, a header and the body (immdio Forms to a CRM).
		{url: "https://crm.example.com/leads/{{id}}?src={{app.uid}}", headers: `{"X-Lead":"{{email}}","Authorization":"Bearer abc"}`,
			body: `{"name":"{{name}}","会社":"{{会社名}}","score":"{{score}}","all":"{{payload}}"}`, method: "put",
			payload: `{"id":"a/b?c#d","email":"taro@example.com","name":"山田","score":12.50,"company":"x"}`, eventType: "lead.created"},
		// KARTE's hash tags, GET with the fields in the query string.
		{url: "https://example.com/karte/users#{user_id}", body: `{"user_id":"#{user_id}","path":"#{event.viewed_path}"}`, method: "GET",
			syntax: "hash", payload: `{"user_id":"u 1","event":{"viewed_path":"/pricing?x=1&y"}}`, eventType: "user.view"},
		// A fragment, and a query, in the URL of a GET or DELETE: the
		// fields go to the query string, not to the fragment.
		{url: "https://example.com/hook?a=1#top", body: `{"b":"{{b}}"}`, method: "GET", payload: `{"b":"2"}`, eventType: "t"},
		{url: "https://example.com/hook#top?x", method: "DELETE", format: "flat", payload: `{"b":"2"}`, eventType: "t"},
		// Form fields, and a strict template meeting a missing value.
		{url: "https://example.com/form", body: `{"email":"{{email}}","n":"{{missing}}"}`, contentType: herald.ContentForm, strict: true,
			payload: `{"email":"a+b@example.com"}`, eventType: "lead.created"},
		// Plain text whose template is a JSON string.
		{url: "https://example.com/text", body: `"Hello {{name | upper}}\r\n"`, contentType: herald.ContentPlain, payload: `{"name":"taro"}`, eventType: "t"},
		// Payload formats: raw, and flat under a key of the customer's.
		{url: "https://example.com/raw", format: "raw", payload: `[1,"two",null]`, eventType: "t"},
		{url: "https://example.com/flat", format: "flat", flatKey: "event_name", payload: `{"a":1,"event_name":"dup"}`, eventType: "a.b"},
		// A key Go's strconv.Quote writes as \x7f, which is not JSON.
		{url: "https://example.com/flat", format: "flat", flatKey: "\x7f\u2028", payload: `"not an object"`, eventType: "a.b"},
		// Presets with their options.
		{preset: "chatwork", options: `{"room_id":"{{room}}","api_token":"tok","message":"{{name}} さん"}`, payload: `{"room":"123","name":"x"}`, eventType: "t"},
		{preset: "marketo", options: `{"munchkin_id":"123-ABC-456","client_id":"c","client_secret":"s"}`, payload: `{"email":"a@b.c"}`, eventType: "lead.created"},
		{preset: "segment", options: `{"write_key":"wk","user_id":"{{uid}}"}`, payload: `{"uid":7}`, eventType: "t"},
		{url: "https://hooks.slack.com/services/T/B/X", preset: "slack", options: `{"message":"*{{event.type}}* {{payload | json}}"}`, payload: `{"a":"<&>"}`, eventType: "t"},
		// What Compile refuses: a line break in a header, a header of
		// Herald's, a conflicting Content-Type, an unknown preset.
		{url: "https://example.com/", headers: `{"X-A":"a\r\nX-B: b"}`, payload: `{}`, eventType: "t"},
		{url: "https://example.com/", headers: `{"webhook-signature":"x","Content-Type":"text/xml"}`, payload: `{}`, eventType: "t"},
		{url: "https://example.com/", preset: "mailchimp", payload: `{}`, eventType: "t"},
		{url: "https://example.com/", method: "TRACE", contentType: "application/xml", format: "xml", syntax: "percent", payload: `{}`, eventType: "t"},
		// A value that would break a header or the URL once filled in.
		{url: "https://{{host}}/x", headers: `{"X-V":"{{v}}"}`, payload: `{"host":"evil.example/@","v":"a\nb"}`, eventType: "t"},
	} {
		f.Add(s.url, s.headers, s.body, s.contentType, s.method, s.preset, s.options, s.format, s.flatKey, s.syntax, s.strict, s.payload, s.eventType)
	}
	opts := shape.Options{Titles: map[string]string{"会社名": "company"}}
	app := &herald.App{ID: "app_1", UID: "acme", Name: "Acme\n株式会社"}
	created := time.Date(2026, 11, 23, 18, 21, 19, 216e6, time.UTC)
	f.Fuzz(func(t *testing.T, rawURL, headers, body, contentType, method, presetName, options, format, flatKey, syntax string, strict bool, payload, eventType string) {
		ep := &herald.Endpoint{ID: "ep_1", AppID: app.ID, URL: rawURL, RequestShape: herald.RequestShape{
			Method: method, ContentType: contentType, PayloadFormat: format,
			FlatEventKey: flatKey, TemplateSyntax: syntax, TemplateStrict: strict, Preset: presetName,
		}}
		_ = json.Unmarshal([]byte(headers), &ep.Headers)
		_ = json.Unmarshal([]byte(options), &ep.PresetOptions)
		if json.Valid([]byte(body)) {
			// The API takes body_template as JSON.
			ep.BodyTemplate = herald.RawJSON(body)
		}
		if !json.Valid([]byte(payload)) {
			// Payloads reach Herald as JSON; keep the bytes as a string.
			b, _ := json.Marshal(payload)
			payload = string(b)
		}
		if !validEventType(eventType) {
			eventType = "lead.created"
		}
		ev := &herald.Event{ID: "evt_1", AppID: app.ID, EventType: eventType, Payload: herald.RawJSON(payload), CreatedAt: created}

		c, err := shape.Compile(ep, opts)
		if err != nil {
			var fe *shape.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Compile error %v (%T) is not a *shape.FieldError", err, err)
			}
			name, _, _ := strings.Cut(fe.Field, ".")
			if !slices.Contains(fuzzFields, name) && name != "headers" || fe.Msg == "" {
				t.Fatalf("Compile error names field %q: %q", fe.Field, fe.Msg)
			}
			return
		}
		r, err := c.Build(shape.Event{Event: ev, App: app, Endpoint: ep})
		if err != nil {
			var re *shape.RenderError
			if !errors.As(err, &re) || re.Field == "" {
				t.Fatalf("Build error %v (%T) is not a *shape.RenderError naming a field", err, err)
			}
			return
		}
		checkRequest(t, r)
		if r.Method != "GET" && r.Method != "DELETE" {
			return
		}
		// The same endpoint as a POST gives the URL before the fields are
		// added to its query string.
		post := *ep
		post.Method = "POST"
		pc, err := shape.Compile(&post, opts)
		if err != nil {
			t.Fatalf("compiles as %s but not as POST: %v", r.Method, err)
		}
		pr, err := pc.Build(shape.Event{Event: ev, App: app, Endpoint: &post})
		if err != nil {
			t.Fatalf("builds as %s but not as POST: %v", r.Method, err)
		}
		checkRequest(t, pr)
		checkQuery(t, r.URL, pr.URL, members(c.Effective.BodyTemplate))
	})
}

// checkRequest checks what every built request holds. A GET or DELETE
// carries its fields in the query string: its URL is checked against the
// same endpoint's as a POST, by checkQuery.
func checkRequest(t *testing.T, r *shape.Request) {
	t.Helper()
	if !slices.Contains(shape.Methods, r.Method) {
		t.Fatalf("method %q", r.Method)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("header %s: %q holds a line break", k, v)
			}
		}
	}
	if r.Method == "GET" || r.Method == "DELETE" {
		if len(r.Body) > 0 {
			t.Fatalf("%s with a body: %q", r.Method, r.Body)
		}
		return
	}
	if err := herald.ValidateURL(r.URL); err != nil {
		t.Fatalf("built URL %q: %v", r.URL, err)
	}
	switch ct := r.Header.Get("Content-Type"); {
	case ct == herald.ContentJSON:
		if !json.Valid(r.Body) {
			t.Fatalf("invalid JSON body %q", r.Body)
		}
	case ct == herald.ContentForm:
		if _, err := url.ParseQuery(string(r.Body)); err != nil {
			t.Fatalf("form body %q: %v", r.Body, err)
		}
	case strings.HasPrefix(ct, herald.ContentPlain):
	default:
		t.Fatalf("Content-Type %q", ct)
	}
}

// checkQuery checks that the URL of a GET or DELETE is the URL without
// its fields plus at least n values in the query string, where the
// receiver gets them, and not in the fragment, which is never sent.
func checkQuery(t *testing.T, got, base string, n int) {
	t.Helper()
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != b.Host || u.EscapedPath() != b.EscapedPath() || u.EscapedFragment() != b.EscapedFragment() {
		t.Fatalf("with its fields the url %q is no longer %q", got, base)
	}
	if have, want := values(u.RawQuery), values(b.RawQuery)+n; have < want {
		t.Fatalf("url %q has %d query values, want at least %d (%q and %d fields)", got, have, want, base, n)
	}
}

// values counts the values of a query string.
func values(rawQuery string) int {
	q, _ := url.ParseQuery(rawQuery)
	n := 0
	for _, vs := range q {
		n += len(vs)
	}
	return n
}

// members counts the top-level members of a JSON object template, 0 for
// anything else.
func members(src []byte) int {
	dec := json.NewDecoder(bytes.NewReader(src))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0
	}
	n := 0
	for dec.More() {
		var skip json.RawMessage
		if _, err := dec.Token(); err != nil || dec.Decode(&skip) != nil {
			return 0
		}
		n++
	}
	return n
}

// validEventType is the API's rule for event type names.
func validEventType(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			i > 0 && strings.IndexByte("_.:/-", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
