package console_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleKarteKeptFields: the fields of a pasted KARTE definition
// Herald does not use are shown on the endpoint's page, in its metadata,
// with a line saying they have no effect, in English and in Japanese.
func TestConsoleKarteKeptFields(t *testing.T) {
	b := newBrowser(t)
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL+"/hooks", nil)
	appID := s.AppID("acme")
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", json.RawMessage(`{
		"format": "karte", "url": "`+rc.URL+`/api", "method": "POST",
		"hookData": {"user_id": "#{user_id}"},
		"campaignId": "#{campaign_id}", "functionName": "crm-sync"
	}`), &ep, 201)

	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + ep.ID)
	tb.waitText(".ep-metadata", "karte.campaignId: #{campaign_id}")
	tb.waitText(".ep-metadata", "karte.functionName: crm-sync")
	tb.waitText(".ep-karte-kept", "does not use")
	checkLabels(t, tb, "endpoint page with kept KARTE fields")
	selectValue(tb, ".lang select", "ja")
	tb.waitText(".ep-karte-kept", "Herald が使わない項目")
}
