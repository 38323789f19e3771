package console_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestPortalRolesAndStage: the portal shows the session's role and hides
// what it cannot do (rotating the secret for a developer, who reads it;
// editing, going live and the secret for a viewer); an endpoint in stage test carries a Test badge in the
// list and on its page, and Go live widens it.
func TestPortalRolesAndStage(t *testing.T) {
	b := newBrowser(t)
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL+"/hooks", map[string]any{"stage": "test", "test_filter": `payload.user_id in ["u1"]`})
	defer b.checkClean()
	mint := func(role string) string {
		var p struct{ URL string }
		s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{"language": "en", "role": role}, &p, 201)
		return p.URL
	}
	page := func(link, rest string) string { return strings.Split(link, "/portal/")[0] + "/portal/" + rest }

	// A viewer sees the stage but cannot change it, nor edit.
	viewer := mint("viewer")
	vt := b.tab()
	vt.open(viewer)
	vt.waitText("#portal-role", "Viewer")
	vt.waitFor(`[data-stage=test]`)
	vt.open(page(viewer, "endpoints/"+epID))
	vt.waitText("#endpoint-stage", "Test")
	if vt.evalBool(`!!document.querySelector('#go-live') || !!document.querySelector('#secret-show')`) {
		t.Error("a viewer is offered Go live or the secret")
	}

	// A developer edits and goes live, and reads the secret (to verify
	// signatures) but is not offered its rotation.
	dev := mint("developer")
	dt := b.tab()
	dt.open(dev)
	dt.waitText("#portal-role", "Developer")
	dt.waitText("main", rc.URL+"/hooks")
	dt.waitFor(`[data-stage=test]`)
	dt.open(page(dev, "endpoints/"+epID))
	dt.waitText("#secret-role", "Developer")
	if dt.evalBool(`!!document.querySelector('#secret-rotate')`) {
		t.Error("a developer is offered the secret's rotation")
	}
	dt.click("#secret-show")
	dt.waitText("#secret-value", "whsec_")
	dt.waitText("#endpoint-stage", `payload.user_id in ["u1"]`)
	dt.click("#go-live")
	dt.click("dialog .actions button.primary")
	dt.waitText("#endpoint-stage", "Live")
	var ep struct{ Stage string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &ep, 200)
	if ep.Stage != "live" {
		t.Errorf("after Go live the endpoint's stage is %q", ep.Stage)
	}
	// The form puts it back in test with a test filter.
	dt.open(page(dev, "endpoints/"+epID+"/edit"))
	dt.waitFor(`select[name=stage]`)
	if dt.evalBool(`!document.querySelector('[data-field=test_filter]').hidden`) {
		t.Error("the test filter shows for a live endpoint")
	}
	dt.evalBool(`(() => { const k = document.querySelector('select[name=stage]'); k.value = 'test'; k.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	dt.fill(`textarea[name=test_filter]`, `payload.user_id == "u2"`)
	checkLabels(t, dt, "endpoint form with a stage")
	dt.click(`#endpoint-form button[type=submit]`)
	dt.waitText("#endpoint-stage", `payload.user_id == "u2"`)
	var again struct {
		Stage      string `json:"stage"`
		TestFilter string `json:"test_filter"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &again, 200)
	if again.Stage != "test" || again.TestFilter != `payload.user_id == "u2"` {
		t.Errorf("after the form: %+v", again)
	}

	// An admin is offered the secret.
	admin := mint("admin")
	at := b.tab()
	at.open(admin)
	at.waitText("#portal-role", "Admin")
	at.open(page(admin, "endpoints/"+epID))
	at.waitFor("#secret-show")
}
