package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleFailingEndpoint: an endpoint whose receiver fails, with its
// deliveries still retrying (none has failed for good), is marked failing
// in the endpoint list with its last error, and its health card counts the
// retrying delivery against the success rate and says since when it fails.
func TestConsoleFailingEndpoint(t *testing.T) {
	b := newBrowser(t)
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h"})
	down := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "database is locked", http.StatusInternalServerError)
	})
	up := heraldtest.NewReceiver(t, nil)
	failing := s.Setup(down.URL, nil)
	var healthy struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": up.URL}, &healthy, 201)
	ev := s.Send(map[string]any{"n": 1})
	down.Wait(t, 1, 10*time.Second)
	up.Wait(t, 1, 10*time.Second)
	// Wait for the failed attempt to be recorded: pending, one attempt.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pg struct{ Data []heraldtest.Delivery }
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+failing+"/deliveries", nil, &pg, 200)
		if len(pg.Data) == 1 && pg.Data[0].AttemptCount == 1 && pg.Data[0].Status == "pending" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s: the failing endpoint's delivery was not recorded as retrying: %+v", ev, pg.Data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	appID := s.AppID("acme")
	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	tb.open(s.URL + "/console/apps/" + appID + "/endpoints")
	tb.waitFor("tr.ep-failing")
	row := tb.text("tr.ep-failing")
	if !strings.Contains(row, down.URL) || !strings.Contains(row, "Failing") || !strings.Contains(row, "HTTP 500 · database is locked") {
		t.Errorf("failing row reads %q, want the URL, Failing and the last error", row)
	}
	if n := tb.evalString(`String(document.querySelectorAll('tr.ep-failing').length)`); n != "1" {
		t.Errorf("%s rows marked failing, want 1 (the healthy endpoint is not)", n)
	}
	tb.shot("endpoints-failing")

	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + failing)
	tb.waitFor("#stats-chart svg")
	tb.waitFor(".ep-failing-since")
	card := tb.text("#health-heading + *, section[aria-labelledby=health-heading]")
	if !strings.Contains(card, "Retrying") || !strings.Contains(card, "Failing since") || !strings.Contains(card, "0%") {
		t.Errorf("health card reads %q, want a Retrying column, Failing since and a 0%% rate", card)
	}
	if tb.evalString(`String(document.querySelectorAll('#stats-chart rect.chart-bar-failed').length)`) == "0" {
		t.Errorf("the chart draws no failed attempts")
	}
}
