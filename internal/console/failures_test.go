package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleFailures: a failing endpoint shows on the apps page (its
// failing count) and on the failures page with its cause, the status and
// the response's first bytes; "Resend all" resends the group once the
// receiver is fixed, with progress until done; the search box goes from a
// webhook-id to its delivery and from an event id to its event, and says
// when nothing matches.
func TestConsoleFailures(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	var fixed atomic.Bool
	down := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if !fixed.Load() {
			http.Error(w, "database is locked: the connection pool is exhausted", http.StatusInternalServerError)
		}
	})
	failing := s.Setup(down.URL, nil)
	ev1 := s.Send(map[string]any{"n": 1})
	ev2 := s.Send(map[string]any{"n": 2})
	s.WaitDelivery(ev1, "failed", 0, 20*time.Second)
	s.WaitDelivery(ev2, "failed", 0, 20*time.Second)
	appID := s.AppID("acme")
	webhookID := down.Requests()[0].Header.Get("Webhook-Id")

	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	// The apps page counts the failing endpoint (its health record
	// follows the deliveries' end: reload until it shows).
	tb.until(`(() => { const e = document.querySelector('tr[data-app] .health-failing');
		if (e) return e.innerText.includes('1 failing');
		if (![...document.querySelectorAll('tr[data-app] td')].some((c) => c.innerText === '…')) location.reload();
		return false; })()`)
	if row := tb.text(`tr[data-app="` + appID + `"]`); !strings.Contains(row, "1 failing") {
		t.Errorf("apps row reads %q, want 1 failing", row)
	}
	tb.shot("apps-health")

	tb.click(`tr[data-app] .health-failing`)
	tb.waitText("main h1", "Failures")
	tb.waitFor(`section.fail-endpoint[data-endpoint="` + failing + `"] tr.fail-group`)
	row := tb.text("tr.fail-group")
	if !strings.Contains(row, "HTTP 500") || !strings.Contains(row, "database is locked: the connection pool") {
		t.Errorf("failure group reads %q, want HTTP 500 and the response's first bytes", row)
	}
	if cells := tb.evalString(`[...document.querySelectorAll('tr.fail-group td.num')].map((c) => c.innerText).join(',')`); cells != "2,0" {
		t.Errorf("failed, retrying: %s, want 2,0", cells)
	}
	checkLabels(t, tb, "failures page")
	tb.shot("failures")

	// Open the group's deliveries: the endpoint's list, filtered by cause.
	tb.clickText("tr.fail-group a", "Deliveries")
	tb.waitText(".cause-filter", "HTTP 500")
	tb.until(`document.querySelectorAll('main tbody tr').length === 2`)
	tb.do(chromedp.NavigateBack())
	tb.waitFor("tr.fail-group button.resend-all")

	// Recover… opens the endpoint at its recovery form.
	tb.clickText("section.fail-endpoint a", "Recover…")
	tb.waitFor("#recover-form")
	tb.until(`(() => { const r = document.getElementById('recover-form').getBoundingClientRect(); return r.top >= 0 && r.top < window.innerHeight; })()`)
	tb.do(chromedp.NavigateBack())
	tb.waitFor("tr.fail-group button.resend-all")

	// Fixed meanwhile: resend all, watch the job to its end.
	fixed.Store(true)
	before := len(down.Requests())
	tb.click("tr.fail-group button.resend-all")
	tb.click("dialog .actions button.primary")
	tb.waitText("tr.fail-group .job-message", "Resent: 2 of 2")
	down.Wait(t, before+2, 10*time.Second)
	s.WaitDelivery(ev1, "succeeded", 0, 10*time.Second)
	s.WaitDelivery(ev2, "succeeded", 0, 10*time.Second)
	tb.click("main .page-header button.secondary")
	tb.waitFor("main p.empty")

	// The operator's page across apps is in the top bar.
	tb.clickText(".mainnav a", "Failures")
	tb.waitText("main h1", "Failures in every app")

	// Search: a webhook-id is a delivery's id, an event id its event.
	tb.fill(`form.search input`, webhookID)
	tb.click(`form.search button`)
	tb.waitText("main h1", "Delivery "+webhookID)
	tb.fill(`form.search input`, ev2)
	tb.click(`form.search button`)
	tb.waitText("main h1", "Event "+ev2)
	if !strings.HasSuffix(tb.url(), "/console/apps/"+appID+"/events/"+ev2) {
		t.Errorf("search by event id landed on %s", tb.url())
	}
	tb.fill(`form.search input`, "evt_nothing")
	tb.click(`form.search button`)
	tb.waitText("#toasts", "Nothing found for “evt_nothing”.")

	// Japanese, and a phone's width.
	tb.open(s.URL + "/console/apps/" + appID + "/failures")
	tb.waitText("main h1", "Failures")
	tb.evalBool(`(() => { const s = document.querySelector('.lang select'); s.value = 'ja'; s.dispatchEvent(new Event('change')); return true; })()`)
	tb.waitText("main h1", "失敗")
	tb.waitText("main p.empty", "失敗している配信はありません")
	tb.phone(true)
	if tb.overflowsX() {
		t.Errorf("the failures page scrolls sideways at phone width")
	}
	tb.phone(false)

	// The portal's search box finds its own app's things.
	var sess struct{ URL string }
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{}, &sess, 201)
	pt := b.tab()
	pt.open(sess.URL)
	pt.waitFor("form.search input")
	pt.fill(`form.search input`, webhookID)
	pt.click(`form.search button`)
	pt.waitText("main h1", "Delivery "+webhookID)
	if !strings.Contains(pt.url(), "/portal/deliveries/"+webhookID) {
		t.Errorf("portal search landed on %s", pt.url())
	}
}

// TestConsoleFailuresDefinition: on the failures page, an endpoint's group
// that failed because the endpoint could not make a request (a port of
// 65536 filled in from the payload) says "Error (definition)", drawn like
// the history's, with the line saying that the endpoint must be fixed and
// a link to its form; it comes before the endpoint's failures at the
// receiver, though newer ones came after it. In Japanese too.
func TestConsoleFailuresDefinition(t *testing.T) {
	b := newBrowser(t)
	rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream unavailable", http.StatusInternalServerError)
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "10ms"})
	u, _ := url.Parse(rc.URL)
	ep := s.Setup("http://"+u.Hostname()+":{{port}}/x", map[string]any{"event_types": []string{"lead.created"}})
	appID := s.AppID("acme")
	s.WaitDelivery(s.Send(map[string]any{"port": "65536"}), "failed", 1, 10*time.Second)
	s.WaitDelivery(s.Send(map[string]any{"port": u.Port()}), "failed", 2, 10*time.Second)
	// A second endpoint, of another type, whose every request fails to
	// build: only a definition error, which the endpoints list shows as
	// such.
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.broken"}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://" + u.Hostname() + ":{{bad}}/y", "event_types": []string{"lead.broken"}}, nil, 201)
	s.WaitDelivery(s.MustSend(t, "lead.broken", map[string]any{"bad": "65536"}), "failed", 1, 10*time.Second)

	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)
	tb.open(s.URL + "/console/apps/" + appID + "/failures")
	tb.until(`document.querySelectorAll('section.fail-endpoint[data-endpoint="` + ep + `"] tr.fail-group').length === 2`)
	sec := `section.fail-endpoint[data-endpoint="` + ep + `"] `
	if order := tb.evalString(`[...document.querySelectorAll('` + sec + `tr.fail-group')].map((r) => r.dataset.failure + ' ' + r.dataset.cause).join(', ')`); order != "definition render, destination HTTP 500" {
		t.Errorf("groups in order: %s; want the definition error first", order)
	}
	if got := tb.text(`tr.fail-group[data-failure=definition] th .badge-definition`); got != "Error (definition): render" {
		t.Errorf("definition group's badge reads %q", got)
	}
	if got := tb.text(`tr.fail-group[data-failure=destination] th .badge-failed`); got != "HTTP 500" {
		t.Errorf("destination group's badge reads %q", got)
	}
	if !tb.evalBool(`(() => {
		const d = getComputedStyle(document.querySelector('tr.fail-group .badge-definition'));
		const f = getComputedStyle(document.querySelector('tr.fail-group .badge-failed'));
		return d.borderTopStyle === 'dashed' && f.borderTopStyle !== 'dashed' && d.backgroundColor !== f.backgroundColor;
	})()`) {
		t.Errorf("the definition error is drawn like a failure at the destination")
	}
	hint := tb.text("section.fail-endpoint .definition-hint")
	for _, want := range []string{"template, URL or transformation", "destination was not contacted", "Fix the endpoint"} {
		if !strings.Contains(hint, want) {
			t.Errorf("the hint reads %q, want %q in it", hint, want)
		}
	}
	if !tb.evalBool(`(() => {
		const fix = document.querySelector('` + sec + `tr.fail-group[data-failure=definition] a.fix-endpoint');
		return !!fix && fix.pathname.endsWith('/endpoints/` + ep + `/edit')
			&& !document.querySelector('tr.fail-group[data-failure=destination] a.fix-endpoint');
	})()`) {
		t.Errorf("the definition group does not link to the endpoint's form, or the destination group does")
	}
	checkLabels(t, tb, "failures page with a definition error")
	tb.shot("failures-definition")

	// The link opens the endpoint's form.
	tb.click(sec + `tr.fail-group a.fix-endpoint`)
	tb.waitFor("#endpoint-form")
	tb.do(chromedp.NavigateBack())
	tb.waitFor("tr.fail-group .badge-definition")

	selectValue(tb, ".lang select", "ja")
	tb.waitText("tr.fail-group .badge-definition", "エラー（設定）：render")
	tb.waitText("section.fail-endpoint .definition-hint", "送信先には接続していません")
	tb.shot("failures-definition-ja")
	selectValue(tb, ".lang select", "en")
	tb.waitText("tr.fail-group .badge-definition", "Error (definition): render")

	// The endpoints list marks each failing endpoint by its latest
	// cause: the broken one as a definition error, the other (whose
	// latest failure is the receiver's 500) as failing.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints")
	tb.until(`document.querySelectorAll('tr.ep-failing').length === 2`)
	tb.waitFor(`tr.ep-failing .ep-definition`)
	if n := tb.evalString(`String(document.querySelectorAll('tr.ep-failing .ep-definition').length)`); n != "1" {
		t.Errorf("%s endpoints marked as definition errors, want 1", n)
	}
	if row := tb.evalString(`document.querySelector('tr.ep-failing .ep-definition').closest('tr').textContent`); !strings.Contains(row, "{{bad}}") || !strings.Contains(row, "Failing: error (definition)") {
		t.Errorf("the definition error's row reads %q", row)
	}
}
