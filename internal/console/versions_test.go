package console_test

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleEventTypeVersions: the catalog shows a type's latest version,
// and its page each version with its converter and the endpoints pinned
// to it.
func TestConsoleEventTypeVersions(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "order.created", "sample": map[string]any{"name": "Ada"}}, nil, 201)
	s.MustDo("POST", "/v1/event-types/order.created/versions", map[string]any{"version": "2026-11-01",
		"converter": "function convert(p) { return {name: p.full_name} }"}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://crm.example.com/hooks", "event_types": []string{"order.created"},
		"event_type_versions": map[string]string{"order.created": ""}}, nil, 201)
	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	tb.open(s.URL + "/console/event-types")
	tb.waitText("main table", "2026-11-01")
	tb.click(`main table a[href$="/event-types/order.created"]`)
	tb.waitText(".et-view", "Versions")
	tb.waitText(".et-view", "p.full_name")
	checkLabels(t, tb, "event type with versions")
	// The first version has the one pinned endpoint, the latest none.
	if !tb.evalBool(`(() => { const rows = [...document.querySelectorAll('.et-view table tbody tr')]; return rows.length === 2 && rows[0].children[2].textContent === '1' && rows[1].children[2].textContent === '0' && rows[1].children[0].textContent === '2026-11-01'; })()`) {
		t.Fatal("the versions table does not show the pinned endpoints per version")
	}

	// The endpoint form pins a versioned type by a choice beside it.
	var eps struct{ Data []struct{ ID string } }
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &eps, 200)
	tb.open(s.URL + "/console/apps/" + s.AppID("acme") + "/endpoints/" + eps.Data[0].ID + "/edit")
	tb.waitFor(`select.type-version[data-type="order.created"]`)
	if v := tb.evalString(`document.querySelector('select.type-version').value`); v != "" {
		t.Fatalf("the form shows the pin as %q, want the first version", v)
	}
	checkLabels(t, tb, "endpoint form with a versioned type")
	tb.evalBool(`(() => { const e = document.querySelector('select.type-version'); e.value = '2026-11-01'; e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	tb.click(`#endpoint-form button[type=submit]`)
	tb.until(`!location.pathname.endsWith('/edit')`)
	var ep struct {
		Pins map[string]string `json:"event_type_versions"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+eps.Data[0].ID, nil, &ep, 200)
		if ep.Pins["order.created"] == "2026-11-01" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pins after the form: %v", ep.Pins)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConsoleAddEventTypeVersion: an admin adds a version through the
// type's page; a schema the API refuses is shown by the schema field and
// nothing is added, and the added version is then listed.
func TestConsoleAddEventTypeVersion(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "order.created", "sample": map[string]any{"name": "Ada"}}, nil, 201)
	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	tb.open(s.URL + "/console/event-types/order.created")
	tb.waitText(".et-view", "Add a version with the form")
	tb.waitFor("#version-form")
	checkLabels(t, tb, "event type with the version form")
	tb.fill(`#version-form input[name=version]`, "2026-11-01")
	tb.fill(`#version-form textarea[name=schema]`, `{"type": "nonsense"}`)
	tb.fill(`#version-form textarea[name=sample]`, `{"full_name": "Ada"}`)
	tb.fill(`#version-form textarea[name=converter]`, `function convert(p) { return {name: p.full_name} }`)
	tb.click(`#version-form button[type=submit]`)
	tb.until(`document.querySelector('#version-form [data-field=schema] .field-error').textContent.length > 0`)
	if tb.evalString(`document.activeElement.name`) != "schema" {
		t.Error("the refused schema's field does not have the focus")
	}
	var et struct {
		Versions []struct{ Version string }
	}
	s.MustDo("GET", "/v1/event-types/order.created", nil, &et, 200)
	if len(et.Versions) != 0 {
		t.Fatalf("a refused version was added: %+v", et.Versions)
	}

	// JSON that does not parse is shown by its field without asking the API.
	tb.fill(`#version-form textarea[name=schema]`, `{"type": `)
	tb.click(`#version-form button[type=submit]`)
	tb.waitText(`#version-form [data-field=schema] .field-error`, "not valid JSON")

	tb.fill(`#version-form textarea[name=schema]`, `{"type": "object", "required": ["full_name"]}`)
	tb.click(`#version-form button[type=submit]`)
	tb.waitText(".et-view table", "2026-11-01")
	tb.waitText(".et-view table", "p.full_name")
	if v := tb.evalString(`document.querySelector('#version-form input[name=version]').value`); v != "" {
		t.Errorf("the form keeps %q after the version was added", v)
	}
	tb.shot("versions-added")
	s.MustDo("GET", "/v1/event-types/order.created", nil, &et, 200)
	if len(et.Versions) != 1 || et.Versions[0].Version != "2026-11-01" {
		t.Fatalf("versions after the form: %+v", et.Versions)
	}

	// The same name again: the API's conflict by the version field.
	tb.fill(`#version-form input[name=version]`, "2026-11-01")
	tb.fill(`#version-form textarea[name=converter]`, `function convert(p) { return p }`)
	tb.click(`#version-form button[type=submit]`)
	tb.waitText(`#version-form [data-field=version] .field-error`, "version")
}
