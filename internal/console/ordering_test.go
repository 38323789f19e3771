package console_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleOrderingSkip: the endpoint's page lists a paused ordering
// key; a failed delivery of an ordering key shows its key and a "Skip"
// action; on an endpoint that pauses keys on failure,
// skipping it sends the key's next delivery, and the page then shows the
// delivery skipped, without the action. In Japanese too.
func TestConsoleOrderingSkip(t *testing.T) {
	b := newBrowser(t)
	rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		if bytes.Contains(buf.Bytes(), []byte(`"fail":true`)) {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "10ms"})
	epID := s.Setup(rc.URL, map[string]any{"ordering_on_failure": "pause"})
	send := func(payload map[string]any) string {
		var ev struct{ ID string }
		s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": payload, "ordering_key": "lead-7"}, &ev, 202)
		return ev.ID
	}
	failed := send(map[string]any{"fail": true, "n": 1})
	next := send(map[string]any{"n": 2})
	d := s.WaitDelivery(failed, "failed", 0, 10*time.Second)
	tried := len(rc.Requests())

	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)
	// The endpoint's page lists the paused key with its failed delivery.
	tb.open(s.URL + "/console/apps/" + s.AppID("acme") + "/endpoints/" + epID)
	tb.waitText("#paused-keys", "lead-7")
	tb.waitText("#paused-keys", d.ID)
	tb.open(s.URL + "/console/apps/" + s.AppID("acme") + "/deliveries/" + d.ID)
	tb.waitText("#ordering-key", "lead-7")
	if !tb.evalBool(`!document.querySelector('#skip').hidden`) {
		t.Fatalf("no Skip action on a failed delivery of an ordering key")
	}
	tb.shot("delivery-ordering-skip")
	tb.click("#skip")
	tb.waitFor("#skipped-mark")
	if !tb.evalBool(`document.querySelector('#skip').hidden`) {
		t.Errorf("the Skip action is still offered once skipped")
	}
	s.WaitDelivery(next, "succeeded", 1, 10*time.Second)
	if reqs := rc.Requests(); len(reqs) != tried+1 || !strings.Contains(string(reqs[tried].Body), `"n":2`) {
		t.Errorf("the receiver got %d requests, want the %d of the failed delivery then the next of its key", len(reqs), tried)
	}

	// The endpoint form sets the ordering key template and keeps the
	// pause setting it shows.
	tb.open(s.URL + "/console/apps/" + s.AppID("acme") + "/endpoints/" + epID + "/edit")
	tb.waitFor(`input[name=ordering_key_template]`)
	if got := tb.evalString(`document.querySelector('select[name=ordering_on_failure]').value`); got != "pause" {
		t.Errorf("the form shows ordering_on_failure %q, want pause", got)
	}
	tb.fill(`input[name=ordering_key_template]`, "{{payload.lead.id}}")
	checkLabels(t, tb, "endpoint form with ordering")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText("main", "Send test")
	var ep struct {
		OrderingKeyTemplate string `json:"ordering_key_template"`
		OrderingOnFailure   string `json:"ordering_on_failure"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &ep, 200)
	if ep.OrderingKeyTemplate != "{{payload.lead.id}}" || ep.OrderingOnFailure != "pause" {
		t.Errorf("endpoint after the form: %+v", ep)
	}

	tb.open(s.URL + "/console/apps/" + s.AppID("acme") + "/deliveries/" + d.ID)
	tb.waitFor("#skipped-mark")
	selectValue(tb, ".lang select", "ja")
	tb.waitText("#skipped-mark", "スキップ済み")
	tb.until(`document.body.innerText.includes("順序キー")`)
}
