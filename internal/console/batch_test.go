package console_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleBatch: the endpoint form's advanced settings show and set
// the batch fields, a bad one is refused by its field, and a batched
// delivery's page shows the batch it went in. In Japanese too.
func TestConsoleBatch(t *testing.T) {
	b := newBrowser(t)
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL, map[string]any{"batch": map[string]any{"max_events": 5, "element": "body",
		"body_template": map[string]any{"records": "{{batch.events}}"}}})
	d := s.WaitDelivery(s.MustSend(t, "lead.created", map[string]any{"n": 1}), "succeeded", 1, 10*time.Second)
	batch := d.Attempts[0].BatchID
	if batch == "" {
		t.Fatalf("attempt %+v has no batch id", d.Attempts[0])
	}

	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)
	tb.open(s.URL + "/console/apps/" + s.AppID("acme") + "/deliveries/" + d.ID)
	tb.waitText(".batch-id", batch)
	tb.shot("delivery-batch")

	tb.open(s.URL + "/console/apps/" + s.AppID("acme") + "/endpoints/" + epID + "/edit")
	tb.waitFor(`input[name="batch.max_events"]`)
	if got := tb.evalString(`document.querySelector('input[name="batch.max_events"]').value`); got != "5" {
		t.Errorf("the form shows batch.max_events %q, want 5", got)
	}
	if got := tb.evalString(`document.querySelector('select[name="batch.element"]').value`); got != "body" {
		t.Errorf("the form shows batch.element %q, want body", got)
	}
	if got := tb.evalString(`JSON.stringify(JSON.parse(document.querySelector('textarea[name="batch.body_template"]').value))`); got != `{"records":"{{batch.events}}"}` {
		t.Errorf("the form shows batch.body_template %q", got)
	}
	checkLabels(t, tb, "endpoint form with batching")
	tb.fill(`textarea[name="batch.body_template"]`, `{"count": "{{batch.size}}"}`)
	tb.click(`#endpoint-form button[type=submit]`)
	tb.until(`document.querySelector('[data-field="batch.body_template"] .field-error').textContent.includes('batch.events')`)
	tb.fill(`textarea[name="batch.body_template"]`, `{"records": "{{batch.events}}", "n": "{{batch.size}}"}`)
	tb.fill(`input[name="batch.max_events"]`, "1")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.until(`document.querySelector('[data-field="batch.max_events"] .field-error').textContent.length > 0`)
	tb.fill(`input[name="batch.max_events"]`, "20")
	tb.fill(`input[name="batch.max_wait_ms"]`, "1500")
	tb.click(`#endpoint-form button[type=submit]`)
	tb.waitText("main", "Send test")
	var ep struct {
		Batch *struct {
			MaxEvents    int             `json:"max_events"`
			MaxWaitMS    int             `json:"max_wait_ms"`
			Element      string          `json:"element"`
			BodyTemplate json.RawMessage `json:"body_template"`
		} `json:"batch"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &ep, 200)
	if ep.Batch == nil || ep.Batch.MaxEvents != 20 || ep.Batch.MaxWaitMS != 1500 || ep.Batch.Element != "body" || string(ep.Batch.BodyTemplate) != `{"records":"{{batch.events}}","n":"{{batch.size}}"}` {
		t.Errorf("endpoint after the form: batch %+v", ep.Batch)
	}

	tb.open(s.URL + "/console/apps/" + s.AppID("acme") + "/deliveries/" + d.ID)
	tb.waitText(".batch-id", batch)
	selectValue(tb, ".lang select", "ja")
	tb.waitText(".batch-id", "バッチ")
}
