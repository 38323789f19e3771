package console_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// pinsSetup makes order.created with versions 2026-06-01 and 2026-11-01
// and user.updated with v2, and endpoints of acme: first (order.created
// on its first version), mid (order.created on 2026-06-01 and
// user.updated on its first) and plain (pinning nothing); and, when
// betas is set, that many endpoints of beta on order.created 2026-06-01.
// It answers the ids by name.
func pinsSetup(t *testing.T, s *heraldtest.Server, betas int) map[string]string {
	t.Helper()
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Beta", "uid": "beta"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "order.created", "sample": map[string]any{"name": "Ada"}}, nil, 201)
	for _, v := range []string{"2026-06-01", "2026-11-01"} {
		s.MustDo("POST", "/v1/event-types/order.created/versions", map[string]any{"version": v,
			"sample": map[string]any{"full_name": "Ada " + v}, "converter": "function convert(p) { return p }"}, nil, 201)
	}
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "user.updated"}, nil, 201)
	s.MustDo("POST", "/v1/event-types/user.updated/versions", map[string]any{"version": "v2", "converter": "function convert(p) { return p }"}, nil, 201)
	ids := map[string]string{}
	mk := func(app, name string, types []string, pins map[string]string) {
		body := map[string]any{"url": "https://" + name + ".example.com/hooks", "description": name, "event_types": types}
		if pins != nil {
			body["event_type_versions"] = pins
		}
		var ep struct{ ID string }
		s.MustDo("POST", "/v1/apps/"+app+"/endpoints", body, &ep, 201)
		ids[name] = ep.ID
	}
	mk("acme", "first", []string{"order.created"}, map[string]string{"order.created": ""})
	mk("acme", "mid", []string{"order.created", "user.updated"}, map[string]string{"order.created": "2026-06-01", "user.updated": ""})
	mk("acme", "plain", []string{"order.*"}, nil)
	for i := range betas {
		mk("beta", fmt.Sprintf("beta%02d", i), []string{"order.created"}, map[string]string{"order.created": "2026-06-01"})
	}
	return ids
}

// TestConsolePins: the endpoints list tags each endpoint's pins, an
// endpoint's page lists the version of each versioned type it receives
// ("latest" when it pins none), and a type's page lists under each
// version the endpoints on it, ten at a time, linked to their pages.
func TestConsolePins(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	ids := pinsSetup(t, s, 12)
	acme := s.AppID("acme")
	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	// The list: a tag per pin.
	tb.open(s.URL + "/console/apps/" + acme + "/endpoints")
	tb.waitFor(".ep-table .pin-tags")
	tb.shot("endpoints-pin-tags")
	tags := tb.evalString(`[...document.querySelectorAll('.ep-table tbody tr')].map((r) => r.querySelector('a').textContent + ': ' + [...r.querySelectorAll('.badge-pin')].map((b) => b.textContent).join(', ')).join(' | ')`)
	for _, want := range []string{"https://first.example.com/hooks: order.created first", "https://mid.example.com/hooks: order.created 2026-06-01, user.updated first", "https://plain.example.com/hooks: "} {
		if !strings.Contains(tags, want) {
			t.Errorf("the list's pins read %q, want %q in them", tags, want)
		}
	}

	// An endpoint's page: each versioned type it receives, and its version.
	pinsOf := func(id string) string {
		t.Helper()
		tb.open(s.URL + "/console/apps/" + acme + "/endpoints/" + id)
		tb.waitFor("#endpoint-pins table tbody tr")
		return tb.evalString(`[...document.querySelectorAll('#endpoint-pins tbody tr')].map((r) => r.children[0].textContent + '=' + r.children[1].textContent).join(' ')`)
	}
	if got := pinsOf(ids["mid"]); got != "order.created=2026-06-01 user.updated=first" {
		t.Errorf("mid's page lists the pins %q", got)
	}
	if got := pinsOf(ids["plain"]); got != "order.created=latest (2026-11-01)" {
		t.Errorf("plain's page lists the pins %q", got)
	}
	checkLabels(t, tb, "endpoint page with pins")
	tb.shot("endpoint-pins")

	// The type's page: under each version, the endpoints on it.
	tb.open(s.URL + "/console/event-types/order.created")
	onVersion := func(v string) string {
		return tb.evalString(fmt.Sprintf(`[...document.querySelectorAll('#et-pins .pinned-version[data-version=%q] li')].map((l) => l.querySelector('a').textContent).join(' ')`, v))
	}
	tb.waitFor(`#et-pins .pinned-version[data-version=""] li`)
	if got := onVersion(""); got != "https://first.example.com/hooks" {
		t.Errorf("on the first version: %q", got)
	}
	tb.waitText(`#et-pins .pinned-version[data-version="2026-11-01"]`, "No endpoint is pinned to this version.")
	// 2026-06-01: beta's twelve (the newer app first) and mid, ten at a
	// time.
	mid := `#et-pins .pinned-version[data-version="2026-06-01"]`
	tb.until(fmt.Sprintf(`document.querySelectorAll('%s li').length === 10`, mid))
	if got := onVersion("2026-06-01"); strings.Contains(got, "mid.example.com") || !strings.HasPrefix(got, "https://beta11.example.com/hooks") {
		t.Errorf("the first ten on 2026-06-01: %q", got)
	}
	tb.clickText(mid+" button", "Show more")
	tb.until(fmt.Sprintf(`document.querySelectorAll('%s li').length === 13 && !document.querySelector('%s button')`, mid, mid))
	if got := onVersion("2026-06-01"); !strings.HasSuffix(got, "https://beta00.example.com/hooks https://mid.example.com/hooks") {
		t.Errorf("all on 2026-06-01: %q", got)
	}
	checkLabels(t, tb, "event type page with pinned endpoints")
	tb.shot("event-type-pins")
	tb.click(fmt.Sprintf(`%s li[data-endpoint=%q] a`, mid, ids["mid"]))
	tb.until(fmt.Sprintf(`location.pathname === %q`, "/console/apps/"+acme+"/endpoints/"+ids["mid"]))
	tb.waitFor("#endpoint-pins tbody tr")
}

// TestPortalEventVersions: a portal customer sees the versioned types
// their endpoints receive, each version with its sample and which of
// their endpoints is on it (none of another app's), read-only for a
// viewer, in Japanese when the session says so; a developer changes a
// pin with the endpoint form's picker.
func TestPortalEventVersions(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	ids := pinsSetup(t, s, 1)
	defer b.checkClean()
	mint := func(role, lang string) (link, base string) {
		var p struct{ URL string }
		s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{"language": lang, "role": role}, &p, 201)
		return p.URL, strings.Split(p.URL, "/portal/")[0] + "/portal/"
	}

	// A viewer, in Japanese.
	viewer, base := mint("viewer", "ja")
	vt := b.tab()
	vt.open(viewer)
	vt.waitFor("#portal-role")
	vt.clickText(".appnav a", "イベントのバージョン")
	vt.waitText("main h1", "イベントのバージョン")
	vt.waitFor(`section.type-versions[data-type="order.created"]`)
	row := func(tb *tab, typ, v string) string {
		return tb.evalString(fmt.Sprintf(`(() => { const r = document.querySelector('section.type-versions[data-type=%q] tr[data-version=%q]'); return r ? r.innerText : 'missing'; })()`, typ, v))
	}
	if got := row(vt, "order.created", ""); !strings.Contains(got, "https://first.example.com/hooks") || strings.Contains(got, "mid.example.com") {
		t.Errorf("order.created's first version: %q", got)
	}
	if got := row(vt, "order.created", "2026-06-01"); !strings.Contains(got, "https://mid.example.com/hooks") || strings.Contains(got, "beta") {
		t.Errorf("order.created 2026-06-01: %q (beta's endpoint is another app's)", got)
	}
	if got := row(vt, "order.created", "2026-11-01"); !strings.Contains(got, "https://plain.example.com/hooks") || !strings.Contains(got, "固定なし") || !strings.Contains(got, "最新") {
		t.Errorf("order.created 2026-11-01: %q", got)
	}
	if got := row(vt, "user.updated", ""); !strings.Contains(got, "https://mid.example.com/hooks") {
		t.Errorf("user.updated's first version: %q", got)
	}
	// The sample of a version, opened.
	vt.click(`section.type-versions[data-type="order.created"] tr[data-version="2026-06-01"] summary`)
	vt.waitText(`section.type-versions[data-type="order.created"] tr[data-version="2026-06-01"] details`, "Ada 2026-06-01")
	if vt.evalBool(`!!document.querySelector('main form, main input, main select, main textarea')`) {
		t.Error("the versions page offers a viewer something to change")
	}
	checkLabels(t, vt, "portal event versions")
	vt.shot("portal-event-versions")
	// The endpoint page says the same, and links the type to this page.
	vt.open(base + "endpoints/" + ids["plain"])
	vt.waitFor(`#endpoint-pins tr[data-type="order.created"]`)
	if got := vt.text(`#endpoint-pins tr[data-type="order.created"]`); !strings.Contains(got, "最新（2026-11-01）") {
		t.Errorf("the portal endpoint page's pin: %q", got)
	}

	// A developer pins plain with the form's picker.
	dev, _ := mint("developer", "en")
	dt := b.tab()
	dt.open(dev)
	dt.waitFor("#portal-role")
	dt.open(base + "endpoints/" + ids["plain"] + "/edit")
	dt.waitFor(`select.type-version[data-type="order.created"]`)
	dt.evalBool(`(() => { const e = document.querySelector('select.type-version[data-type="order.created"]'); e.value = '2026-06-01'; e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	dt.click(`#endpoint-form button[type=submit]`)
	dt.until(`!location.pathname.endsWith('/edit')`)
	var ep struct {
		Pins map[string]string `json:"event_type_versions"`
	}
	// The form leaves the page once the change is saved.
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ids["plain"], nil, &ep, 200)
	if ep.Pins["order.created"] != "2026-06-01" {
		t.Fatalf("pins after the portal form: %v", ep.Pins)
	}
	dt.open(base + "versions")
	dt.waitFor(`section.type-versions[data-type="order.created"]`)
	if got := row(dt, "order.created", "2026-06-01"); !strings.Contains(got, "https://plain.example.com/hooks") {
		t.Errorf("after pinning, 2026-06-01 reads %q", got)
	}
}
