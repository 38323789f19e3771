package console_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleEndToEnd walks through the console the way an operator
// does, in a real browser against a real Herald (SQLite file, delivery
// engine, HTTP receiver on 127.0.0.1), then opens a customer's portal.
func TestConsoleEndToEnd(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "fail-me") {
			http.Error(w, "not today", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Receiver", "e2e")
		_, _ = w.Write([]byte(`{"received":true,"by":"e2e-receiver"}`))
	})
	tb := b.tab()
	defer b.checkClean()

	// Sign in: a wrong key is refused next to the field, the admin token
	// is taken.
	tb.open(s.URL + "/console/")
	tb.waitText("main h1", "Sign in")
	tb.fill(`input[name=token]`, "hk_wrong")
	tb.click(`form button[type=submit]`)
	tb.waitText(`[data-field=token] .field-error`, "invalid token")
	tb.shot("01-sign-in")
	tb.fill(`input[name=token]`, heraldtest.Token)
	tb.click(`form button[type=submit]`)
	tb.waitText("main h1", "Apps")

	// Create an app through its form; an empty name is refused next to
	// the name field, and what was typed elsewhere stays.
	tb.clickText("main a", "New app")
	tb.waitText("main h1", "New app")
	tb.fill(`input[name=retry_schedule]`, "5s,1m")
	tb.click(`form button[type=submit]`)
	tb.waitText(`[data-field=name] .field-error`, "name")
	if kept := tb.evalString(`document.querySelector('input[name=retry_schedule]').value`); kept != "5s,1m" {
		t.Errorf("after a failed save the retry schedule reads %q", kept)
	}
	if tb.evalString(`document.querySelector('input[name=name]').getAttribute('aria-invalid') || ''`) != "true" {
		t.Errorf("the name field is not marked invalid for screen readers")
	}
	tb.shot("02-form-error")
	tb.fill(`input[name=name]`, "Acme Forms")
	tb.click(`form button[type=submit]`)
	tb.waitText("main h1", "Endpoints")
	var apps struct{ Data []struct{ ID, Name string } }
	s.MustDo("GET", "/v1/apps", nil, &apps, 200)
	if len(apps.Data) != 1 || apps.Data[0].Name != "Acme Forms" {
		t.Fatalf("apps after the form: %+v", apps.Data)
	}
	appID := apps.Data[0].ID

	// An event type, with a sample, through the catalog's form.
	tb.open(s.URL + "/console/event-types/new")
	tb.waitText("main h1", "event type")
	tb.fill(`input[name=name]`, "form.submitted")
	tb.fill(`[name=description]`, "A visitor submitted a form.")
	tb.fill(`textarea[name=sample]`, `{"form": "contact", "email": "taro@example.com", "name": "山田太郎"}`)
	tb.click(`main form button[type=submit]`)
	tb.waitFor(".et-view")
	tb.waitText(".et-view", "taro@example.com")
	var et struct{ Name, Description string }
	if s.Do("GET", "/v1/event-types/form.submitted", nil, &et) != 200 || et.Description != "A visitor submitted a form." {
		t.Fatalf("event type after the form: %+v", et)
	}

	// An endpoint through its form, with the live preview following the
	// body template as it is typed.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/new")
	tb.waitText("main", "Preview")
	tb.fill(`input[name=url]`, rc.URL+"/hooks/forms")
	tb.click(`input[type=checkbox][value="form.submitted"]`)
	tb.fill(`textarea[name=body_template]`, `{"text": "New lead {{email}}"}`)
	tb.waitText("#preview", "New lead taro@example.com")
	tb.shot("03-endpoint-form-preview")
	checkLabels(t, tb, "endpoint form")
	tb.fill(`textarea[name=body_template]`, `{"text": "Contact from {{name}}"}`)
	tb.waitText("#preview", "Contact from 山田太郎")
	tb.waitNoText("#preview", "New lead")
	// A template that cannot compile is shown by the field.
	tb.fill(`textarea[name=body_template]`, `{"text": "{{name"}`)
	tb.waitText(`[data-field=body_template] .field-error`, "")
	tb.fill(`textarea[name=body_template]`, `{"text": "Contact from {{name}}"}`)
	// Header values are masked after saving but those named in clear.
	tb.fill(`textarea[name=headers]`, "X-Source: forms\nX-Auth-Key: k-console-secret")
	tb.fill(`input[name=plain_headers]`, "X-Source")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText("main", "Send test")
	tb.waitFor("#stats-chart svg") // the page has settled: a click lands where it aims
	var eps struct {
		Data []struct {
			ID         string
			URL        string
			EventTypes []string `json:"event_types"`
			Enabled    bool
		}
	}
	s.MustDo("GET", "/v1/apps/"+appID+"/endpoints", nil, &eps, 200)
	if len(eps.Data) != 1 || eps.Data[0].URL != rc.URL+"/hooks/forms" || strings.Join(eps.Data[0].EventTypes, ",") != "form.submitted" {
		t.Fatalf("endpoints after the form: %+v", eps.Data)
	}
	epID := eps.Data[0].ID

	// Test: the receiver answers, and its answer is on screen.
	tb.click("#test-send")
	tb.waitText("#test-result", "e2e-receiver")
	if got := rc.Wait(t, 1, 10*time.Second); !strings.Contains(string(got[0].Body), "Contact from 山田太郎") {
		t.Errorf("the test send reached the receiver as %s", got[0].Body)
	}
	tb.shot("04-endpoint-test")

	// An event sent through the API shows in the endpoint's history with
	// the request Herald sent and the receiver's response.
	s.MustDo("POST", "/v1/apps/"+appID+"/events", map[string]any{"event_type": "form.submitted",
		"payload": map[string]any{"form": "contact", "email": "hanako@example.com", "name": "佐藤花子"}}, nil, 202)
	rc.Wait(t, 2, 10*time.Second)
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + epID + "/deliveries")
	tb.waitText("main table", "form.submitted")
	tb.shot("05-delivery-history")
	checkLabels(t, tb, "delivery history")
	tb.click(`main table a[href*="/deliveries/"]`)
	tb.waitText("main", "佐藤花子")
	tb.waitText("main", "e2e-receiver")
	tb.waitText("main", "200")
	tb.shot("06-delivery-detail")

	// Disable, then enable again, with the switch.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + epID)
	tb.waitFor("#stats-chart svg")
	tb.click("#endpoint-enabled")
	waitEnabled(t, s, appID, epID, false)
	tb.until(`(() => { const e = document.querySelector('#endpoint-enabled'); return !e.checked && !e.disabled; })()`)
	tb.click("#endpoint-enabled")
	waitEnabled(t, s, appID, epID, true)
	tb.until(`(() => { const e = document.querySelector('#endpoint-enabled'); return e.checked && !e.disabled; })()`)
	tb.shot("07-endpoint-detail")
	checkLabels(t, tb, "endpoint page")
	// Editing the headers: the masked value, left as shown, keeps what
	// was saved; the new line is added.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + epID + "/edit")
	tb.waitText("main", "Preview")
	if got := tb.evalString(`document.querySelector('textarea[name=headers]').value`); got != "X-Auth-Key: ********\nX-Source: forms" {
		t.Errorf("the form shows the headers as %q", got)
	}
	tb.fill(`textarea[name=headers]`, "X-Auth-Key: ********\nX-Source: forms\nX-New: added")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText("main", "Send test")
	saved, err := s.Store.EndpointGet(t.Context(), appID, epID)
	if err != nil || saved.Headers["X-Auth-Key"] != "k-console-secret" || saved.Headers["X-New"] != "added" ||
		strings.Join(saved.PlainHeaders, ",") != "X-Source" {
		t.Fatalf("endpoint after editing its headers: %+v, %v", saved, err)
	}
	// The keyboard's first stop is the skip link, which moves focus to
	// the page itself.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + epID)
	tb.waitFor("#endpoint-enabled")
	tb.do(chromedp.KeyEvent("\t"))
	if got := tb.evalString(`document.activeElement.className`); got != "skip" {
		t.Errorf("the first Tab lands on %q, not on the skip link", got)
	}
	tb.do(chromedp.KeyEvent("\r"))
	if got := tb.evalString(`document.activeElement.id`); got != "main" {
		t.Errorf("the skip link moved focus to %q, not to the page's content", got)
	}

	// Recover: a delivery that failed every attempt is queued again, and
	// the job's progress shows until it finishes.
	// (The app's schedule, typed in its form above, retries for a
	// minute; this endpoint gives up sooner.)
	s.MustDo("PATCH", "/v1/apps/"+appID+"/endpoints/"+epID, map[string]any{"retry_schedule": "100ms"}, nil, 200)
	var failed struct{ ID string }
	s.MustDo("POST", "/v1/apps/"+appID+"/events", map[string]any{"event_type": "form.submitted",
		"payload": map[string]any{"form": "contact", "email": "jiro@example.com", "name": "fail-me"}}, &failed, 202)
	waitDeliveryFailed(t, s, appID, failed.ID)
	before := len(rc.Requests())
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + epID)
	tb.click("#recover-form button[type=submit]")
	tb.waitText(`section[aria-labelledby=recover-heading]`, "1 of 1")
	if got := tb.evalString(`String(document.querySelector('#job-progress').value) + '/' + document.querySelector('#job-progress').max`); got != "1/1" {
		t.Errorf("job progress %s, want 1/1", got)
	}
	rc.Wait(t, before+1, 10*time.Second)
	tb.shot("07b-endpoint-recovered")

	// The phone's width: the endpoint page and the form fit.
	tb.phone(true)
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + epID + "/edit")
	tb.waitText("main", "Preview")
	if tb.overflowsX() {
		t.Errorf("the endpoint form scrolls sideways at phone width")
	}
	tb.shot("08-endpoint-form-phone")
	tb.phone(false)
	tb.open(s.URL + "/console/apps")
	tb.open(s.URL + "/console/")
	tb.waitText("main", "Acme Forms")
	tb.shot("00-apps")

	// A portal link shows its own app only: another app's endpoint, even
	// with its real id, is not found.
	var other struct{ ID string }
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other Co"}, &other, 201)
	var otherEp struct{ ID string }
	s.MustDo("POST", "/v1/apps/"+other.ID+"/endpoints", map[string]any{"url": rc.URL + "/other"}, &otherEp, 201)
	var portal struct{ URL string }
	s.MustDo("POST", "/v1/apps/"+appID+"/portal-sessions", map[string]any{"language": "ja", "primary_color": "#0a7d45"}, &portal, 201)
	pt := b.tab()
	pt.open(portal.URL)
	pt.waitText("main", rc.URL+"/hooks/forms")
	if strings.Contains(pt.text("body"), rc.URL+"/other") {
		t.Errorf("the portal shows another app's endpoint")
	}
	pt.waitText("main h1", "エンドポイント")
	if u := pt.url(); strings.Contains(u, "token=") {
		t.Errorf("the token stays in the address bar: %s", u)
	}
	if color := pt.evalString(`getComputedStyle(document.documentElement).getPropertyValue('--primary').trim()`); color != "#0a7d45" {
		t.Errorf("portal theme colour %q", color)
	}
	pt.shot("09-portal")
	pt.open(strings.Split(portal.URL, "/portal/")[0] + "/portal/endpoints/" + otherEp.ID)
	pt.waitText("main h1", "見つかりません")
	pt.shot("10-portal-not-found")
	// The portal has no way to the operator's pages.
	pt.open(strings.Split(portal.URL, "/portal/")[0] + "/portal/event-types")
	pt.waitText("main h1", "見つかりません")

	// A read-only session is not offered the signing secret, which the
	// API would refuse it.
	var ro struct{ URL string }
	s.MustDo("POST", "/v1/apps/"+appID+"/portal-sessions", map[string]any{"language": "en", "read_only": true}, &ro, 201)
	rt := b.tab()
	rt.open(ro.URL)
	rt.waitText("main", rc.URL+"/hooks/forms")
	rt.open(strings.Split(ro.URL, "/portal/")[0] + "/portal/endpoints/" + epID)
	rt.waitText("#secret-heading", "Signing secret")
	rt.waitText("main", "Read-only access does not show the signing secret.")
	if rt.evalBool(`document.querySelector('#secret-show') !== null`) {
		t.Errorf("a read-only session is offered the secret")
	}
}

func checkLabels(t *testing.T, tb *tab, page string) {
	t.Helper()
	for _, c := range tb.unlabelled() {
		t.Errorf("%s: a control without a label: %s", page, c)
	}
}

// waitDeliveryFailed waits until the event's one delivery has given up.
func waitDeliveryFailed(t *testing.T, s *heraldtest.Server, app, event string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var ds struct{ Data []struct{ Status string } }
		s.MustDo("GET", "/v1/apps/"+app+"/events/"+event+"/deliveries", nil, &ds, 200)
		if len(ds.Data) == 1 && ds.Data[0].Status == "failed" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries of %s: %+v, want one failed", event, ds.Data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitEnabled(t *testing.T, s *heraldtest.Server, app, id string, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ep struct{ Enabled bool }
		s.MustDo("GET", "/v1/apps/"+app+"/endpoints/"+id, nil, &ep, 200)
		if ep.Enabled == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint enabled = %v, want %v", ep.Enabled, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
