package console_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestPortalJapanese opens a customer's portal in Japanese: the endpoint
// form puts URL, event types and enabled before its folded Advanced
// section, a URL Herald refuses is explained in Japanese by the URL
// field, a missing endpoint or delivery gets a Japanese not-found page
// with a way back, and the delivery history's date filters read and
// write YYYY/MM/DD HH:mm while the page asks the API in RFC 3339.
func TestPortalJapanese(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	epID := s.Setup(rc.URL+"/hooks", nil)
	appID := s.AppID("acme")
	s.Send(map[string]any{"n": 1})
	rc.Wait(t, 1, 10*time.Second)
	var portal struct{ URL string }
	s.MustDo("POST", "/v1/apps/"+appID+"/portal-sessions", map[string]any{"language": "ja"}, &portal, 201)
	base := strings.Split(portal.URL, "/portal/")[0] + "/portal"
	tb := b.tab()
	defer b.checkClean()
	tb.open(portal.URL)
	tb.waitText("main h1", "エンドポイント")

	// The form: the essentials first, everything else folded.
	tb.open(base + "/endpoints/new")
	tb.waitFor("#endpoint-form [data-field=url]")
	tb.waitFor(`input[type=checkbox][value="lead.created"]`)
	order := tb.evalString(`(() => {
		const form = document.querySelector('#endpoint-form');
		const adv = form.querySelector('details#endpoint-advanced');
		const pos = (sel) => { const e = form.querySelector(sel); return e ? [...form.querySelectorAll('[data-field], details')].indexOf(e) : -1; };
		return JSON.stringify({
			url: pos('[data-field=url]'), types: pos('[data-field=event_types]'), enabled: pos('[data-field=enabled]'),
			advanced: pos('details#endpoint-advanced'), open: adv.open,
			inside: ['url', 'event_types', 'enabled'].filter((n) => adv.querySelector('[data-field=' + n + ']')),
			folded: ['filter', 'body_template', 'headers', 'preset', 'retry_schedule', 'signature_scheme'].filter((n) => !adv.querySelector('[data-field=' + n + ']')),
		});
	})()`)
	want := regexp.MustCompile(`^\{"url":(\d+),"types":(\d+),"enabled":(\d+),"advanced":(\d+),"open":false,"inside":\[\],"folded":\[\]\}$`)
	m := want.FindStringSubmatch(order)
	if m == nil || !(atoi(m[1]) < atoi(m[2]) && atoi(m[2]) < atoi(m[3]) && atoi(m[3]) < atoi(m[4])) {
		t.Errorf("portal endpoint form: URL, event types and enabled do not come first, before a closed Advanced section holding the rest: %s", order)
	}
	tb.waitText("#endpoint-advanced summary", "詳細設定")
	checkLabels(t, tb, "portal endpoint form")
	tb.shot("ja-01-portal-endpoint-form")

	// A URL Herald refuses: the reason, in Japanese, by the URL field.
	tb.fill(`input[name=url]`, "ftp://example.com/hook")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText(`[data-field=url] .field-error`, "この値は使えません：URL は http:// または https:// で始めてください（「ftp」は使えません）。")
	if tb.evalString(`document.querySelector('input[name=url]').getAttribute('aria-invalid') || ''`) != "true" {
		t.Errorf("the refused URL is not marked invalid for screen readers")
	}
	tb.shot("ja-02-portal-url-refused")
	// An empty URL: the required text names the field in Japanese.
	tb.fill(`input[name=url]`, " ")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText(`[data-field=url] .field-error`, "URLを入力してください。")

	// Missing things: a translated not-found page with a way back.
	tb.open(base + "/endpoints/ep_missing")
	tb.waitText("main h1", "エンドポイントが見つかりません")
	tb.waitText("main", "別の利用者のもの")
	if href := tb.evalString(`(document.querySelector('main .not-found a[href="/portal/"]') || {}).textContent || ''`); href != "トップページ" {
		t.Errorf("the not-found page has no way back to the portal's start: %q", href)
	}
	if up := tb.evalString(`(document.querySelector('main .not-found a[href="/portal/endpoints"]') || {}).textContent || ''`); up != "エンドポイント一覧" {
		t.Errorf("the not-found page has no link to the endpoint list: %q", up)
	}
	if strings.Contains(tb.text("main"), "HTTP 404") {
		t.Errorf("the not-found page shows a bare HTTP 404")
	}
	tb.shot("ja-03-portal-not-found")
	tb.open(base + "/deliveries/dl_missing")
	tb.waitText("main h1", "配信が見つかりません")
	tb.open(base + "/events/ev_missing")
	tb.waitText("main h1", "イベントが見つかりません")
	tb.waitFor(`main .not-found a[href="/portal/events"]`)
	tb.click(`main .not-found a[href="/portal/"]`)
	tb.waitText("main", rc.URL+"/hooks")

	// Date filters: no browser date picker, the page's own format, and
	// RFC 3339 in the request.
	tb.open(base + "/endpoints/" + epID + "/deliveries")
	tb.waitText("main table", "lead.created")
	if tb.evalBool(`!!document.querySelector('input[type=datetime-local]')`) {
		t.Errorf("the history still uses datetime-local inputs")
	}
	since := `#delivery-filters [data-field=since] input`
	if ph := tb.evalString(`document.querySelector(` + jsq(since) + `).placeholder`); ph != "YYYY/MM/DD HH:mm" {
		t.Errorf("since placeholder %q", ph)
	}
	tb.waitText(`#delivery-filters [data-field=since] .hint`, "YYYY/MM/DD HH:mm")
	created := tb.evalString(`document.querySelector('main table tbody time').textContent`)
	if !regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}$`).MatchString(created) {
		t.Errorf("a delivery's time reads %q, not YYYY/MM/DD HH:mm:ss", created)
	}
	tb.evalBool(`(() => { window.__asked = []; const f = window.fetch; window.fetch = (u, o) => { window.__asked.push(String(u)); return f(u, o); }; return true; })()`)
	// Text that is no date is refused by the field, without asking.
	tb.fill(since, "12/04/2026")
	tb.click(`#delivery-filters button[type=submit]`)
	tb.waitText(`#delivery-filters [data-field=since] .field-error`, "YYYY/MM/DD HH:mm")
	tb.fill(since, "2026/12/04 17:05")
	tb.click(`#delivery-filters button[type=submit]`)
	tb.until(`window.__asked.some((u) => u.includes('since='))`)
	asked := tb.evalString(`window.__asked.find((u) => u.includes('since='))`)
	wantSince := tb.evalString(`new Date(2026, 11, 4, 17, 5).toISOString().replace('.000Z', 'Z')`)
	u, err := url.Parse(asked)
	if err != nil || u.Query().Get("since") != wantSince {
		t.Errorf("the filter asked %s, want since=%s", asked, wantSince)
	}
	if _, err := time.Parse(time.RFC3339, u.Query().Get("since")); err != nil {
		t.Errorf("since is not RFC 3339: %v", err)
	}
	tb.shot("ja-04-portal-date-filter")
	// The filter stays in the address; the page shows it back in its own format.
	tb.open(tb.url())
	tb.waitFor(since)
	tb.until(`document.querySelector(` + jsq(since) + `).value === '2026/12/04 17:05'`)
	tb.phone(true)
	tb.open(base + "/endpoints/new")
	tb.waitFor("#endpoint-form [data-field=url]")
	tb.click("#endpoint-advanced summary")
	tb.waitFor("#endpoint-advanced[open] [data-field=body_template]")
	if tb.overflowsX() {
		t.Errorf("the portal endpoint form scrolls sideways at phone width")
	}
	tb.shot("ja-06-portal-endpoint-form-phone")
	tb.phone(false)
}

// TestConsoleRecoverDate: the recover form of the console, in Japanese,
// shows its start time as YYYY/MM/DD HH:mm and sends it as RFC 3339.
func TestConsoleRecoverDate(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	epID := s.Setup(rc.URL, nil)
	appID := s.AppID("acme")
	tb := b.tab()
	defer b.checkClean()
	tb.open(s.URL + "/console/")
	tb.fill(`input[name=token]`, heraldtest.Token)
	tb.click(`form button[type=submit]`)
	tb.waitText("main h1", "Apps")
	// The language select switches the page, and the choice stays for the tab.
	tb.evalBool(`(() => { const l = document.querySelector('.lang select'); l.value = 'ja'; l.dispatchEvent(new Event('change')); return true; })()`)
	tb.waitText("main h1", "アプリ")
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + epID)
	field := `#recover-form input[name=since]`
	tb.waitFor(field)
	if v := tb.evalString(`document.querySelector(` + jsq(field) + `).value`); !regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}$`).MatchString(v) {
		t.Errorf("the recover form's start reads %q", v)
	}
	tb.evalBool(`(() => { window.__bodies = []; const f = window.fetch; window.fetch = (u, o) => { if (String(u).endsWith('/recover')) window.__bodies.push(o.body); return f(u, o); }; return true; })()`)
	tb.fill(field, "2026/12/0")
	tb.click("#recover-form button[type=submit]")
	tb.waitText(`#recover-form [data-field=since] .field-error`, "YYYY/MM/DD HH:mm")
	tb.fill(field, "2026/12/01 09:30")
	tb.click("#recover-form button[type=submit]")
	tb.until(`window.__bodies.length === 1`)
	want := tb.evalString(`JSON.stringify({since: new Date(2026, 11, 1, 9, 30).toISOString().replace('.000Z', 'Z')})`)
	if got := tb.evalString(`window.__bodies[0]`); got != want {
		t.Errorf("recover sent %s, want %s", got, want)
	}
	tb.shot("ja-05-console-recover")
	// What the date inputs read: full-width digits, seconds, a date
	// alone; a day that does not exist is no date.
	tb.evalBool(`(() => { import('/console/assets/js/dom.js').then((d) => {
		const f = (s) => { const x = d.parseDateTime(s); return x ? d.formatDateTime(x, { seconds: true }) : 'null'; };
		window.__parsed = ['２０２６／１２／０４　１７：０５', '2026-12-04 17:05:09', '2026/12/04', '2026/02/31 10:00', '2026/12/04 24:00', 'tomorrow'].map(f).join('|');
	}); return true; })()`)
	tb.until(`typeof window.__parsed === 'string'`)
	if got, want := tb.evalString(`window.__parsed`), "2026/12/04 17:05:00|2026/12/04 17:05:09|2026/12/04 00:00:00|null|null|null"; got != want {
		t.Errorf("dates read as %s, want %s", got, want)
	}
	// A missing app in the console: a translated page, not HTTP 404.
	tb.open(s.URL + "/console/apps/app_missing/endpoints")
	tb.waitText("main h1", "アプリが見つかりません")
}

func atoi(s string) int {
	var n int
	_, _ = fmt.Sscan(s, &n)
	return n
}

// jsq quotes a string for JavaScript source.
func jsq(s string) string { return fmt.Sprintf("%q", s) }

// TestConsoleVersionsAndTemplatesJapanese: the version form and the
// endpoint template pages in Japanese, with the API's refusals told in
// Japanese by their fields.
func TestConsoleVersionsAndTemplatesJapanese(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "order.created"}, nil, 201)
	appID := s.AppID("acme")
	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)
	selectValue(tb, ".lang select", "ja")
	tb.waitText("main h1", "アプリ")

	tb.open(s.URL + "/console/event-types/order.created")
	tb.waitText("#version-form", "バージョンを追加")
	tb.fill(`#version-form input[name=version]`, "v2")
	tb.click(`#version-form button[type=submit]`)
	tb.waitText(`#version-form [data-field=converter] .field-error`, "変換を入力してください")
	checkLabels(t, tb, "version form in Japanese")

	tb.open(s.URL + "/console/apps/" + appID + "/endpoint-templates")
	tb.waitText("main h1", "エンドポイントテンプレート")
	tb.waitText("main", "エンドポイントテンプレートがまだありません")
	tb.open(s.URL + "/console/apps/" + appID + "/endpoint-templates/new")
	tb.waitFor("#template-form")
	tb.click(`#template-form button[type=submit]`)
	tb.waitText(`#template-form [data-field=name] .field-error`, "名前を入力してください")
	checkLabels(t, tb, "endpoint template form in Japanese")
	tb.shot("ja-endpoint-template-form")
	// A template that is not there: a Japanese not-found page.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoint-templates/eptpl_missing")
	tb.waitText("main h1", "エンドポイントテンプレートが見つかりません")
	tb.clickText("main a.button", "エンドポイントテンプレート一覧")
	tb.waitText("main h1", "エンドポイントテンプレート")
}
