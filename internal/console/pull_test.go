package console_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsolePullEndpoint creates a pull endpoint through the form: the
// URL and preset fields go away with kind pull, and the endpoint's pages
// name it by its kind and id, without a URL or a test send.
func TestConsolePullEndpoint(t *testing.T) {
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
	if !tb.evalBool(`(() => { const k = document.querySelector('select[name=kind]'); k.value = 'pull'; k.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`) {
		t.Fatal("no kind control")
	}
	tb.until(`document.querySelector('[data-field=url]').hidden && document.querySelector('[data-field=preset]').hidden`)
	tb.click(`input[type=checkbox][value="lead.created"]`)
	checkLabels(t, tb, "pull endpoint form")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText("main h1", "Pull endpoint")
	tb.waitText("main", "Pull: a client collects the deliveries")
	if strings.Contains(tb.text("main"), "Send test") {
		t.Errorf("a pull endpoint's page offers a test send")
	}
	var eps struct {
		Data []struct{ ID, Kind, URL string }
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &eps, 200)
	if len(eps.Data) != 1 || eps.Data[0].Kind != "pull" || eps.Data[0].URL != "" {
		t.Fatalf("endpoints after the form: %+v", eps.Data)
	}
	tb.shot("pull-endpoint")

	tb.open(s.URL + "/console/apps/" + appID + "/endpoints")
	tb.waitText("main table", "Pull endpoint "+eps.Data[0].ID)
}
