package console_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleDefinitionError: a delivery whose endpoint could not make a
// request (a port of 65536 filled in from the payload) shows in the
// history as "Error (definition)", drawn apart from a delivery its
// receiver failed, with the line saying that the endpoint must be fixed
// and the destination was not contacted; the list filters by failure, the
// delivery page says the same, and the Japanese pages too.
func TestConsoleDefinitionError(t *testing.T) {
	b := newBrowser(t)
	rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		if bytes.Contains(buf.Bytes(), []byte(`"fail":true`)) {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "10ms"})
	u, _ := url.Parse(rc.URL)
	ep := s.Setup("http://"+u.Hostname()+":{{port}}/x", nil)
	appID := s.AppID("acme")
	definition := s.WaitDelivery(s.Send(map[string]any{"port": "65536"}), "failed", 1, 10*time.Second)
	s.WaitDelivery(s.Send(map[string]any{"port": u.Port(), "fail": true}), "failed", 2, 10*time.Second)

	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + ep + "/deliveries")
	tb.waitText("main table .badge-definition", "Error (definition)")
	tb.waitText("main table .badge-failed", "Failed")
	if n := tb.evalString(`String(document.querySelectorAll('main table tbody tr').length)`); n != "2" {
		t.Fatalf("the history lists %s deliveries, want 2", n)
	}
	hint := tb.text("main .definition-hint")
	for _, want := range []string{"template, URL or transformation", "destination was not contacted", "Fix the endpoint"} {
		if !strings.Contains(hint, want) {
			t.Errorf("the hint reads %q, want %q in it", hint, want)
		}
	}
	if !tb.evalBool(`(() => {
		const d = getComputedStyle(document.querySelector('main table .badge-definition'));
		const f = getComputedStyle(document.querySelector('main table .badge-failed'));
		return d.borderTopStyle === 'dashed' && f.borderTopStyle !== 'dashed' && d.backgroundColor !== f.backgroundColor;
	})()`) {
		t.Errorf("the definition error is drawn like a failure at the destination")
	}
	checkLabels(t, tb, "history with a definition error")
	tb.shot("history-definition-error")

	// Only the definition errors, kept in the address.
	selectValue(tb, "#delivery-filters select[name=failure]", "definition")
	tb.click("#delivery-filters button[type=submit]")
	tb.until(`document.querySelectorAll('main table tbody tr').length === 1 && !!document.querySelector('main table .badge-definition')`)
	if !strings.Contains(tb.url(), "failure=definition") {
		t.Errorf("the filter is not in the address: %s", tb.url())
	}

	// The delivery page: the status, the kind in words, the hint.
	tb.open(s.URL + "/console/apps/" + appID + "/deliveries/" + definition.ID)
	tb.waitText(".delivery-outcome .badge-definition", "Error (definition)")
	out := tb.text(".delivery-outcome")
	for _, want := range []string{"The templates made a request that cannot be sent", "destination was not contacted"} {
		if !strings.Contains(out, want) {
			t.Errorf("outcome reads %q, want %q in it", out, want)
		}
	}
	selectValue(tb, ".lang select", "ja")
	tb.waitText(".delivery-outcome .badge-definition", "エラー（設定）")
	tb.waitText(".delivery-outcome .definition-hint", "送信先には接続していません")
	tb.shot("delivery-definition-error-ja")
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + ep + "/deliveries")
	tb.waitText("main table .badge-definition", "エラー（設定）")
	tb.waitText("main table .badge-failed", "失敗")
	selectValue(tb, ".lang select", "en")
	tb.waitText("main table .badge-definition", "Error (definition)")
}
