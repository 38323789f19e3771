package api_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// renderCap is the default --max-rendered-size of a test server: twice the
// default --max-event-size.
const renderCap = 2 << 20

// bombTemplate repeats the whole payload 5,000 times: with a 40 KB payload
// it would render 200 MB.
func bombTemplate() json.RawMessage {
	return json.RawMessage("[" + strings.Repeat(`"{{payload}}",`, 4999) + `"{{payload}}"]`)
}

// bombPayload is an object of 40 KB.
func bombPayload() map[string]any {
	return map[string]any{"text": strings.Repeat("0123456789", 4000)}
}

// TestPreviewTemplateBomb is the template bomb through the preview route
// with a read-only key: it answered 200 with 200 MB, growing the process
// by 1.4 GB. Rendering now stops at --max-rendered-size, and the whole
// request allocates a small multiple of it: about 5 times the cap for the
// body (append grows it a quarter at a time) and 4 times for parsing the
// 5,000 tags twice (to check the settings, then to build the request). It
// does not run in parallel, so that only this request counts.
func TestPreviewTemplateBomb(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	ro := mkKey(t, s, map[string]any{"name": "ro", "scope": "app", "app": "acme", "read_only": true})
	body := map[string]any{
		"endpoint":   map[string]any{"url": "https://example.com/hook", "body_template": bombTemplate()},
		"event_type": "lead.created",
		"payload":    bombPayload(),
	}
	var e apiError
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := s.DoWith("POST", "/v1/apps/acme/endpoints/preview", body, &e, bearer(ro))
	runtime.ReadMemStats(&after)
	if got != 422 || e.Error.Code != "render_too_large" || e.Error.Field != "body_template" {
		t.Fatalf("preview of the bomb: %d %+v, want 422 render_too_large on body_template", got, e)
	}
	if !strings.Contains(e.Error.Message, "over 2097152 bytes") {
		t.Errorf("message %q does not say the cap", e.Error.Message)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 16*renderCap {
		t.Fatalf("the preview allocated %d MB, more than 16 times the cap of %d MB", n>>20, renderCap>>20)
	}
}

// TestRenderTooLarge: a saved endpoint's preview, the checks when saving,
// and a delivery, each against the cap.
func TestRenderTooLarge(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	ep := s.Setup(rc.URL, map[string]any{"event_types": []string{"lead.created"}, "body_template": bombTemplate()})
	ro := mkKey(t, s, map[string]any{"name": "ro", "scope": "app", "app": "acme", "read_only": true})

	// The saved endpoint's preview, with a read-only key.
	var e apiError
	if got := s.DoWith("POST", "/v1/apps/acme/endpoints/"+ep+"/preview", map[string]any{"payload": bombPayload()}, &e, bearer(ro)); got != 422 ||
		e.Error.Code != "render_too_large" || e.Error.Field != "body_template" {
		t.Fatalf("saved preview: %d %+v", got, e)
	}

	// A delivery fails at once, error kind policy, never retried.
	ev := s.Send(bombPayload())
	d := s.WaitDelivery(ev, "failed", 1, 10*time.Second)
	if a := d.Attempts[0]; a.ErrorKind != "policy" || !strings.Contains(a.Error, "over 2097152 bytes") || a.Request.Body != "" {
		t.Fatalf("attempt: kind %q, error %q, %d bytes of body; want a policy failure saying the cap", a.ErrorKind, a.Error, len(a.Request.Body))
	}
	if n := len(rc.Requests()); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}

	// With a sample in the catalog, saving is checked against it.
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.big", "sample": bombPayload()}, nil, 201)
	create := map[string]any{"url": rc.URL, "event_types": []string{"lead.big"}, "body_template": bombTemplate()}
	if got := s.Do("POST", "/v1/apps/acme/endpoints", create, &e); got != 422 || e.Error.Code != "render_too_large" ||
		e.Error.Field != "body_template" || !strings.Contains(e.Error.Message, "lead.big") {
		t.Fatalf("create: %d %+v", got, e)
	}
	var small struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "event_types": []string{"lead.big"}, "body_template": json.RawMessage(`{"t":"{{text}}"}`)}, &small, 201)
	if got := s.Do("PATCH", "/v1/apps/acme/endpoints/"+small.ID, map[string]any{"body_template": bombTemplate()}, &e); got != 422 || e.Error.Code != "render_too_large" {
		t.Fatalf("patch to the bomb: %d %+v", got, e)
	}
	if got := s.Do("PATCH", "/v1/apps/acme/endpoints/"+small.ID, map[string]any{"headers": map[string]string{"X-Big": strings.Repeat("{{text}}", 60)}}, &e); got != 422 ||
		e.Error.Code != "render_too_large" || e.Error.Field != "headers.X-Big" {
		t.Fatalf("patch to a large header: %d %+v", got, e)
	}
	// Subscribing by wildcard names no sample: nothing to check.
	create["event_types"] = []string{"lead.*"}
	s.MustDo("POST", "/v1/apps/acme/endpoints", create, nil, 201)
	// A sample that came later does not stop changes that leave the
	// request alone.
	s.MustDo("PATCH", "/v1/event-types/lead.created", map[string]any{"sample": bombPayload()}, nil, 200)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep, map[string]any{"enabled": false, "description": "paused"}, nil, 200)
	if got := s.Do("PATCH", "/v1/apps/acme/endpoints/"+ep, map[string]any{"url": rc.URL + "/v2"}, &e); got != 422 || e.Error.Code != "render_too_large" {
		t.Fatalf("patch of the url of an endpoint over the cap: %d %+v", got, e)
	}
}
