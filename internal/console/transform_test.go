package console_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleTransformation: the endpoint form edits the transformation
// with the preview beside it following the script as it is typed: the
// reshaped body, a cancel, a throw shown by the field; the script saved
// is the one typed.
func TestConsoleTransformation(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "sample": map[string]any{"email": "taro@example.com"}}, nil, 201)
	appID := s.AppID("acme")
	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/new")
	tb.waitText("main", "Preview")
	tb.fill(`input[name=url]`, "https://crm.example.com/hooks")
	tb.click(`input[type=checkbox][value="lead.created"]`)
	tb.waitText("#preview", "taro@example.com")
	tb.fill(`textarea[name=transformation]`, `function handler(w) { w.payload = {mail: w.payload.email.toUpperCase()}; return w }`)
	tb.waitText("#preview", "TARO@EXAMPLE.COM")
	checkLabels(t, tb, "endpoint form with a transformation")
	tb.fill(`textarea[name=transformation]`, `function handler(w) { return {cancel: true} }`)
	tb.waitText("#preview", "cancels this delivery")
	tb.fill(`textarea[name=transformation]`, "function handler(w) {\n  throw new Error('not this one')\n}")
	tb.waitText(`[data-field=transformation] .field-error`, "not this one")
	script := `function handler(w) { w.payload.kept = true; return w }`
	tb.fill(`textarea[name=transformation]`, script)
	tb.waitText("#preview", "kept")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText("main", "Send test")
	var eps struct {
		Data []struct{ ID, Transformation string }
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &eps, 200)
	if len(eps.Data) != 1 || eps.Data[0].Transformation != script {
		t.Fatalf("endpoints after the form: %+v", eps.Data)
	}

	// A delivery the transformation cancels shows as cancelled in the
	// history, its attempt too.
	epID := eps.Data[0].ID
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"transformation": `function handler(w) { return {cancel: true} }`}, nil, 200)
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"email": "a@example.com"}}, nil, 202)
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + epID + "/deliveries")
	tb.waitText("main table", "Cancelled")
	checkLabels(t, tb, "history with a cancelled delivery")
	tb.click(`main table a[href*="/deliveries/"]`)
	tb.waitText("main .badge-cancelled", "Cancelled")
	tb.waitText("main", "cancelled by the endpoint's transformation")
	// The endpoint's health counts it apart.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + epID)
	tb.waitFor("#stats-chart svg")
	if !tb.evalBool(`(() => { const t = [...document.querySelectorAll('main table')].find((x) => x.textContent.includes('Cancelled')); if (!t) return false; const i = [...t.querySelectorAll('thead th')].findIndex((th) => th.textContent === 'Cancelled'); return t.querySelector('tbody tr').children[i].textContent === '1'; })()`) {
		t.Fatal("the health card does not count the cancelled delivery in the last hour")
	}
}
