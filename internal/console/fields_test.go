package console_test

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleChannelsAndHeaders: the endpoint form sets channels, the
// signature headers and the endpoint's own id; the app's settings set its
// signature headers and which operational events it takes.
func TestConsoleChannelsAndHeaders(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	appID := s.AppID("acme")
	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/new")
	tb.waitText("main", "Preview")
	tb.fill(`input[name=url]`, "https://crm.example.com/hooks")
	tb.fill(`input[name=channels]`, "form-1, form-2")
	tb.click(`details.advanced summary`)
	tb.fill(`input[name=uid]`, "crm")
	if !tb.evalBool(`(() => { const k = document.querySelector('select[name=webhook_headers]'); k.value = 'svix'; k.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`) {
		t.Fatal("no webhook_headers control")
	}
	checkLabels(t, tb, "endpoint form with channels")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText("main", "Send test")
	tb.waitText("main", "form-1, form-2")
	var ep struct {
		UID            string   `json:"uid"`
		Channels       []string `json:"channels"`
		WebhookHeaders string   `json:"webhook_headers"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/crm", nil, &ep, 200)
	if ep.UID != "crm" || !slices.Equal(ep.Channels, []string{"form-1", "form-2"}) || ep.WebhookHeaders != "svix" {
		t.Errorf("endpoint after the form: %+v", ep)
	}

	tb.open(s.URL + "/console/apps/" + appID + "/settings")
	tb.waitFor(`select[name=webhook_headers]`)
	if !tb.evalBool(`(() => { const k = document.querySelector('select[name=webhook_headers]'); k.value = 'svix'; k.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`) {
		t.Fatal("no app webhook_headers control")
	}
	tb.fill(`input[name=operational_webhook_url]`, "https://ops.example.com/herald")
	tb.click(`input[name=propagate_trace_context]`)
	tb.click(`input[type=checkbox][value="herald.delivery.exhausted"]`)
	tb.click(`input[type=checkbox][value="herald.endpoint.failing"]`)
	checkLabels(t, tb, "app settings")
	tb.click(`main form button[type=submit]`)
	tb.waitText("main h1", "Endpoints")
	var app struct {
		WebhookHeaders        string   `json:"webhook_headers"`
		OperationalEventTypes []string `json:"operational_event_types"`
		TraceContext          bool     `json:"propagate_trace_context"`
	}
	s.MustDo("GET", "/v1/apps/acme", nil, &app, 200)
	slices.Sort(app.OperationalEventTypes)
	if app.WebhookHeaders != "svix" || !app.TraceContext || !slices.Equal(app.OperationalEventTypes, []string{"herald.delivery.exhausted", "herald.endpoint.failing"}) {
		t.Errorf("app after the settings form: %+v", app)
	}
}
