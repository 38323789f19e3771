package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// templateEndpoint is what the test reads of an endpoint through the API.
type templateEndpoint struct {
	URL        string            `json:"url"`
	TemplateID string            `json:"endpoint_template_id"`
	Overrides  []string          `json:"template_overrides"`
	Headers    map[string]string `json:"headers"`
}

// waitEndpoint polls the API until the endpoint satisfies ok.
func waitEndpoint(t *testing.T, s *heraldtest.Server, app, id, what string, ok func(templateEndpoint) bool) templateEndpoint {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ep templateEndpoint
		s.MustDo("GET", "/v1/apps/"+app+"/endpoints/"+id, nil, &ep, 200)
		if ok(ep) {
			return ep
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint %s: %s: it is %+v", id, what, ep)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConsoleEndpointTemplates: an app's endpoint templates are created
// in the console, attached to an endpoint in its form, changed after a
// preview of the change's before and after (the endpoint's URL follows
// the saved change), refused deletion while in use, and deleted once
// the endpoint is detached.
func TestConsoleEndpointTemplates(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "sample": map[string]any{"name": "Ada"}}, nil, 201)
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://old.example.com/hooks", "event_types": []string{"lead.created"}}, &ep, 201)
	appID := s.AppID("acme")
	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	// The app's templates: none yet, reached from the app's navigation.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints")
	tb.clickText("nav.appnav a", "Endpoint templates")
	tb.waitText("main h1", "Endpoint templates")
	tb.waitText("main", "no endpoint templates yet")
	tb.clickText("main a.button", "New endpoint template")
	tb.waitFor("#template-form")
	checkLabels(t, tb, "new endpoint template")
	tb.fill(`#template-form input[name=name]`, "Sales hook")
	tb.fill(`#template-form input[name=url]`, "https://hooks.example.com/v1")
	tb.fill(`#template-form textarea[name=headers]`, "X-Token: s3cret")
	tb.fill(`#template-form textarea[name=body_template]`, `{"text": "Lead {{name}}"}`)
	tb.click(`#template-form button[type=submit]`)
	tb.waitText("main h1", "Sales hook")
	tb.waitText("#template-users", "No endpoint uses this template")
	var tpls struct {
		Data []struct {
			ID, URL string
			Headers map[string]string
		}
	}
	s.MustDo("GET", "/v1/apps/acme/endpoint-templates", nil, &tpls, 200)
	if len(tpls.Data) != 1 || tpls.Data[0].URL != "https://hooks.example.com/v1" || tpls.Data[0].Headers["X-Token"] == "" {
		t.Fatalf("templates after the form: %+v", tpls.Data)
	}
	tplID := tpls.Data[0].ID

	// Attach it in the endpoint's form: its request fields take the
	// template's values, and none is the endpoint's own.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + ep.ID + "/edit")
	tb.waitFor(`#endpoint-form select[name=endpoint_template_id]`)
	checkLabels(t, tb, "endpoint form with templates")
	tb.evalBool(`(() => { const e = document.querySelector('select[name=endpoint_template_id]'); e.value = '` + tplID + `'; e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	if v := tb.evalString(`document.querySelector('#endpoint-form input[name=url]').value`); v != "https://hooks.example.com/v1" {
		t.Errorf("choosing the template leaves the URL field at %q", v)
	}
	tb.waitText("#preview", "Lead Ada")
	// One header of its own beside the template's (shown masked, and so
	// not the endpoint's own).
	if h := tb.evalString(`document.querySelector('#endpoint-form textarea[name=headers]').value`); h != "X-Token: ********" {
		t.Errorf("choosing the template shows the headers %q", h)
	}
	tb.evalBool(`(() => { const e = document.querySelector('#endpoint-form textarea[name=headers]'); e.value += '\nX-Form: f1'; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)
	tb.shot("endpoint-form-template")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitFor("#endpoint-template-link")
	got := waitEndpoint(t, s, "acme", ep.ID, "attached to the template", func(e templateEndpoint) bool { return e.TemplateID == tplID })
	if got.URL != "https://hooks.example.com/v1" || strings.Join(got.Overrides, ",") != "headers/X-Form" || got.Headers["X-Token"] == "" || got.Headers["X-Form"] == "" {
		t.Fatalf("the endpoint after attaching the template: %+v", got)
	}
	tb.waitText("main", "headers/X-Form")
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + ep.ID + "/edit")
	tb.waitText("#endpoint-template-own", "headers/X-Form")

	// The list counts the endpoint; the endpoint's page links the template.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoint-templates")
	tb.waitFor("#templates-table")
	if n := tb.evalString(`document.querySelector('#templates-table tr[data-template="` + tplID + `"] .template-uses').textContent`); n != "1" {
		t.Errorf("the list says %q endpoints use the template, want 1", n)
	}
	checkLabels(t, tb, "endpoint templates")
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + ep.ID)
	tb.click("#endpoint-template-link")
	tb.waitText("main h1", "Sales hook")
	tb.waitText("#template-users", "hooks.example.com/v1")

	// A new URL, previewed: the endpoint it changes, its request before
	// and after; nothing is saved yet.
	tb.fill(`#template-form input[name=url]`, "https://hooks.example.com/v2")
	tb.click("#template-preview-button")
	tb.waitText("#template-preview .preview-endpoints", "hooks.example.com/v1")
	tb.waitText("#template-preview .preview-before", "POST https://hooks.example.com/v1")
	tb.waitText("#template-preview .preview-after", "POST https://hooks.example.com/v2")
	tb.waitText("#template-preview .preview-after", "Lead Ada")
	tb.evalBool(`(window.scrollTo(0, 0), true)`)
	tb.shot("endpoint-template-preview")
	tb.phone(true)
	if tb.overflowsX() {
		t.Error("the template's page with its preview is wider than a phone")
	}
	tb.shot("endpoint-template-preview-phone")
	tb.phone(false)
	waitEndpoint(t, s, "acme", ep.ID, "unchanged by the preview", func(e templateEndpoint) bool { return e.URL == "https://hooks.example.com/v1" })
	// Typing again marks the preview as stale.
	tb.fill(`#template-form input[name=description]`, "x")
	tb.waitText("#template-preview", "The form changed since this preview")
	tb.fill(`#template-form input[name=description]`, "")
	tb.waitNoText("#template-preview", "The form changed since this preview")

	// Saved: the endpoint's URL follows.
	tb.click(`#template-form button[type=submit]`)
	tb.waitText("#toasts", "1 endpoints changed")
	waitEndpoint(t, s, "acme", ep.ID, "on the template's new URL", func(e templateEndpoint) bool { return e.URL == "https://hooks.example.com/v2" })
	tb.waitText("#template-users", "hooks.example.com/v2")

	// In use: the deletion is refused, naming the endpoint to detach.
	tb.click("#template-delete")
	tb.click("dialog .actions button.danger")
	tb.waitText("#template-in-use", "cannot be deleted while endpoints use it")
	tb.waitText("#template-in-use", "hooks.example.com/v2")

	// Detached in the endpoint's form, it keeps the URL in force; then
	// the template goes.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + ep.ID + "/edit")
	tb.waitFor(`#endpoint-form select[name=endpoint_template_id]`)
	tb.evalBool(`(() => { const e = document.querySelector('select[name=endpoint_template_id]'); e.value = ''; e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	tb.click(`#endpoint-form button[type=submit]`)
	tb.until(`!location.pathname.endsWith('/edit')`)
	got = waitEndpoint(t, s, "acme", ep.ID, "detached", func(e templateEndpoint) bool { return e.TemplateID == "" })
	if got.URL != "https://hooks.example.com/v2" {
		t.Errorf("the detached endpoint's URL is %q", got.URL)
	}
	tb.open(s.URL + "/console/apps/" + appID + "/endpoint-templates/" + tplID)
	tb.click("#template-delete")
	tb.click("dialog .actions button.danger")
	tb.waitText("main", "no endpoint templates yet")
	if code := s.Do("GET", "/v1/apps/acme/endpoint-templates/"+tplID, nil, nil); code != 404 {
		t.Errorf("the deleted template answers %d", code)
	}
	if strings.Contains(tb.text("main"), tplID) {
		t.Error("the list still shows the deleted template")
	}
}
