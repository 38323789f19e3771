package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestChannelsOnScreen: a portal customer picks channels from those the
// app's events used (their forms) in the endpoint form, sees each
// endpoint's channels in the list, and the console's delivery history
// filters by channel.
func TestChannelsOnScreen(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	s.Setup(rc.URL+"/hooks", nil)
	appID := s.AppID("acme")
	var evA, evB struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "channels": []string{"form_a"}, "payload": map[string]any{"n": 1}}, &evA, 202)
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "channels": []string{"form_b"}, "payload": map[string]any{"n": 2}}, &evB, 202)
	rc.Wait(t, 2, 10*time.Second)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/form-a", "channels": []string{"form_a", "form_c"}}, nil, 201)

	var portal struct{ URL string }
	s.MustDo("POST", "/v1/apps/"+appID+"/portal-sessions", map[string]any{}, &portal, 201)
	base := strings.Split(portal.URL, "/portal/")[0] + "/portal"
	tb := b.tab()
	defer b.checkClean()
	tb.open(portal.URL)
	tb.waitText("main", "form_a, form_c")

	tb.open(base + "/endpoints/new")
	tb.waitFor(`#endpoint-form .channel-choices button`)
	tb.clickText(`#endpoint-form .channel-choices button`, "form_b")
	tb.clickText(`#endpoint-form .channel-choices button`, "form_a")
	tb.clickText(`#endpoint-form .channel-choices button`, "form_b")
	if v := tb.evalString(`document.querySelector('#endpoint-form input[name=channels]').value`); v != "form_b, form_a" {
		t.Errorf("channels after picking form_b, form_a, form_b: %q", v)
	}

	tb2 := b.tab()
	signIn(tb2, s.URL)
	tb2.open(s.URL + "/console/apps/" + appID + "/deliveries?channel=form_b")
	tb2.waitFor(`#app-delivery-filters input[name=channel]`)
	if v := tb2.evalString(`document.querySelector('#app-delivery-filters input[name=channel]').value`); v != "form_b" {
		t.Errorf("channel filter: %q", v)
	}
	dlv := func(eventID string) string {
		t.Helper()
		var pg struct{ Data []struct{ ID string } }
		s.MustDo("GET", "/v1/apps/acme/events/"+eventID+"/deliveries", nil, &pg, 200)
		if len(pg.Data) != 1 {
			t.Fatalf("event %s has %d deliveries", eventID, len(pg.Data))
		}
		return pg.Data[0].ID
	}
	tb2.waitText("main", dlv(evB.ID))
	tb2.waitNoText("main", dlv(evA.ID))
}
