package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// mustHide fails when raw holds any of the secrets, or their first four
// characters (what masks used to keep).
func mustHide(t *testing.T, where string, raw []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(string(raw), s[:4]) {
			t.Errorf("%s shows %q of %q: %s", where, s[:4], s, raw)
		}
	}
}

// Custom header values are masked wherever an endpoint or its requests are
// shown or recorded, whatever the header's name (X-Auth-Key was shown in
// clear in the audit log and the attempt history when only names like
// credentials were masked), and without keeping any of the value; the
// headers plain_headers names, and Herald's own, stay readable.
func TestCustomHeadersMaskedEverywhere(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "sample": map[string]any{"x": 1}}, nil, 201)
	const authKey, bearerTok, cwTok = "k7Q-auth-key-value", "z9W-bearer-token", "c3X-chatwork-token"
	secrets := []string{authKey, bearerTok, cwTok}
	headers := map[string]string{"X-Auth-Key": authKey, "Authorization": "Bearer " + bearerTok, "X-Request-Source": "crm"}
	body := map[string]any{"url": rc.URL + "/hook", "headers": headers, "plain_headers": []string{"x-request-source"}}

	type view struct {
		ID           string
		Headers      map[string]string
		PlainHeaders []string `json:"plain_headers"`
		Effective    struct{ Headers map[string]string }
	}
	check := func(where string, v view, raw []byte) {
		t.Helper()
		mustHide(t, where, raw, secrets...)
		for _, h := range []map[string]string{v.Headers, v.Effective.Headers} {
			if h["X-Auth-Key"] != "********" || h["Authorization"] != "Bearer ********" || h["X-Request-Source"] != "crm" {
				t.Errorf("%s: headers %v", where, h)
			}
		}
		if len(v.PlainHeaders) != 1 || v.PlainHeaders[0] != "x-request-source" {
			t.Errorf("%s: plain_headers %v", where, v.PlainHeaders)
		}
	}
	var raw json.RawMessage
	s.MustDo("POST", "/v1/apps/acme/endpoints", body, &raw, 201)
	var ep view
	_ = json.Unmarshal(raw, &ep)
	check("create", ep, raw)
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID, nil, &raw, 200)
	var got view
	_ = json.Unmarshal(raw, &got)
	check("get", got, raw)
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &raw, 200)
	mustHide(t, "list", raw, secrets...)

	// Previews, saved and not: Herald's own headers readable.
	type preview struct{ Headers map[string]string }
	checkPreview := func(where string, raw []byte) {
		t.Helper()
		mustHide(t, where, raw, secrets...)
		var p preview
		_ = json.Unmarshal(raw, &p)
		h := p.Headers
		if h["X-Auth-Key"] != "********" || h["Authorization"] != "Bearer ********" || h["X-Request-Source"] != "crm" ||
			h["Content-Type"] != "application/json" || h["Webhook-Id"] != "dlv_preview" || !strings.HasPrefix(h["User-Agent"], "Herald/") ||
			!strings.HasPrefix(h["Webhook-Signature"], "v1,") || h["Webhook-Timestamp"] == "" {
			t.Errorf("%s: headers %v", where, h)
		}
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/preview", map[string]any{"event_type": "lead.created"}, &raw, 200)
	checkPreview("preview", raw)
	s.MustDo("POST", "/v1/apps/acme/endpoints/preview", map[string]any{"endpoint": body, "event_type": "lead.created"}, &raw, 200)
	checkPreview("preview of unsaved settings", raw)

	// Asked for, the values show to whoever may read the signing
	// secret (to replay the exact request by hand), never to a
	// read-only key.
	var clear preview
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/preview", map[string]any{"event_type": "lead.created", "reveal_secrets": true}, &clear, 200)
	if h := clear.Headers; h["X-Auth-Key"] != authKey || h["Authorization"] != "Bearer "+bearerTok || h["X-Request-Source"] != "crm" {
		t.Errorf("preview with reveal_secrets: headers %v", h)
	}
	ro := mkKey(t, s, map[string]any{"name": "ro", "scope": "app", "app": "acme", "read_only": true})
	var e apiError
	if got := s.DoWith("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/preview", map[string]any{"event_type": "lead.created", "reveal_secrets": true}, &e, bearer(ro)); got != 403 || e.Error.Field != "reveal_secrets" {
		t.Errorf("preview with reveal_secrets by a read-only key: %d %+v, want 403 naming reveal_secrets", got, e)
	}

	// The receiver gets the values; the history, as stored, does not.
	ev := s.Send(map[string]any{"x": 1})
	d := s.WaitDelivery(ev, "succeeded", 1, 5*time.Second)
	sent := rc.Requests()[0].Header
	if sent.Get("X-Auth-Key") != authKey || sent.Get("Authorization") != "Bearer "+bearerTok || sent.Get("X-Request-Source") != "crm" {
		t.Fatalf("the receiver got %v", sent)
	}
	stored, err := s.Store.DeliveryGet(context.Background(), s.AppID("acme"), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]herald.Attempt{}, d.Attempts...)
	for _, a := range stored.Attempts {
		all = append(all, *a)
	}
	for _, a := range all {
		h := a.Request.Headers
		if h["X-Auth-Key"] != "********" || h["Authorization"] != "Bearer ********" || h["X-Request-Source"] != "crm" || h["Webhook-Id"] != d.ID {
			t.Errorf("attempt history: headers %v", h)
		}
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/test", map[string]any{"event_type": "lead.created"}, &raw, 200)
	mustHide(t, "test send", raw, secrets...)

	// A preset's header is a custom header too: Chatwork's token.
	var cw json.RawMessage
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/v2/rooms/1/messages", "event_types": []string{"none.*"},
		"preset": "chatwork", "preset_options": map[string]string{"room_id": "1", "api_token": cwTok}}, &cw, 201)
	var cwv view
	_ = json.Unmarshal(cw, &cwv)
	mustHide(t, "chatwork endpoint", cw, cwTok)
	if cwv.Effective.Headers["X-ChatWorkToken"] != "********" {
		t.Errorf("chatwork effective headers %v", cwv.Effective.Headers)
	}
	// Options sent back as read keep the token.
	var opts struct {
		PresetOptions map[string]string `json:"preset_options"`
	}
	_ = json.Unmarshal(cw, &opts)
	if opts.PresetOptions["api_token"] != "********" {
		t.Fatalf("chatwork options %v", opts.PresetOptions)
	}
	opts.PresetOptions["room_id"] = "2"
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+cwv.ID, map[string]any{"url": rc.URL + "/v2/rooms/2/messages", "preset_options": opts.PresetOptions}, nil, 200)
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+cwv.ID+"/test", map[string]any{"event_type": "lead.created"}, &raw, 200)
	mustHide(t, "chatwork test send", raw, cwTok)
	if last := rc.Requests()[len(rc.Requests())-1]; last.Header.Get("X-ChatWorkToken") != cwTok || last.Path != "/v2/rooms/2/messages" {
		t.Fatalf("chatwork's token did not reach the receiver: %s %v", last.Path, last.Header)
	}

	// The audit log records the masked values.
	s.MustDo("GET", "/v1/apps/acme/audit-log", nil, &raw, 200)
	mustHide(t, "audit log", raw, secrets...)
	if !strings.Contains(string(raw), `"X-Request-Source":"crm"`) {
		t.Errorf("audit log hides the plain header: %s", raw)
	}
}

// plain_headers names only the endpoint's own custom headers, never a
// credential's; a client sending back the masked values it read keeps
// the stored ones.
func TestPlainHeaders(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL, map[string]any{"headers": map[string]string{"X-Auth-Key": "secret-value-1", "X-Source": "crm", "Authorization": "Bearer tok-123"}})
	for _, c := range []struct {
		body map[string]any
		want string // in the message
	}{
		{map[string]any{"plain_headers": []string{"X-Other"}}, "X-Other"},
		{map[string]any{"plain_headers": []string{"Authorization"}}, "always masked"},
		{map[string]any{"plain_headers": []string{"Content-Type"}}, "Content-Type"},
		{map[string]any{"plain_headers": []string{"X-Source"}, "headers": map[string]string{"X-Auth-Key": "x"}}, "X-Source"},
	} {
		var e apiError
		if got := s.Do("PATCH", "/v1/apps/acme/endpoints/"+epID, c.body, &e); got != 422 || e.Error.Field != "plain_headers" || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%v: %d %+v", c.body, got, e)
		}
	}
	var v struct {
		Headers      map[string]string
		PlainHeaders []string `json:"plain_headers"`
	}
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"plain_headers": []string{"x-source", "X-SOURCE"}}, &v, 200)
	if len(v.PlainHeaders) != 1 || v.Headers["X-Source"] != "crm" || v.Headers["X-Auth-Key"] != "********" {
		t.Fatalf("after plain_headers: %+v", v)
	}
	// Read, add a header, send everything back: the masked values stay
	// what they were; a retyped one changes.
	h := v.Headers
	h["X-New"] = "added"
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"headers": h}, &v, 200)
	s.Send(map[string]any{"x": 1})
	got := rc.Wait(t, 1, 5*time.Second)[0].Header
	if got.Get("X-Auth-Key") != "secret-value-1" || got.Get("Authorization") != "Bearer tok-123" || got.Get("X-New") != "added" || got.Get("X-Source") != "crm" {
		t.Fatalf("after sending the masked values back, the receiver got %v", got)
	}
	h["X-Auth-Key"] = "secret-value-2"
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"headers": h}, nil, 200)
	s.Send(map[string]any{"x": 2})
	if got := rc.Wait(t, 2, 5*time.Second)[1].Header; got.Get("X-Auth-Key") != "secret-value-2" {
		t.Fatalf("a retyped value was not saved: %v", got)
	}
	// Plain once named: the value as shown is the value.
	var ep herald.Endpoint
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &ep, 200)
	if ep.Headers["X-New"] != "********" {
		t.Fatalf("a header not in plain_headers is shown: %v", ep.Headers)
	}
}
