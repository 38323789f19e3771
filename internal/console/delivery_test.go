package console_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestConsoleDeliveryPage: the delivery page shows the outcome (status,
// attempts, error kind, the receiver's answer) before the request; "Copy
// as curl" gives a command that, run by bash against the receiver,
// repeats the request (method, path, every header as copied, the body
// byte for byte); a filtered list's bulk resend sends exactly the
// deliveries it shows again, with its progress to done; test sends carry
// the payload typed, also for an event type without a sample; and the
// Japanese page is translated.
func TestConsoleDeliveryPage(t *testing.T) {
	b := newBrowser(t)
	var healed atomic.Bool
	rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		if bytes.Contains(buf.Bytes(), []byte(`"fail":true`)) && !healed.Load() {
			http.Error(w, "database is locked", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "10ms"})
	ep := s.Setup(rc.URL+"/hooks/crm?x=1", map[string]any{
		"headers":       map[string]string{"X-Api-Key": "k-secret-123", "X-Source": "crm"},
		"plain_headers": []string{"x-source"},
	})
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.sampled", "sample": map[string]any{"lead": "sample"}}, nil, 201)
	appID := s.AppID("acme")

	// Three events fail for good (two attempts each), two succeed.
	note := "it's \"quoted\" $HOME `x` 日本語 \\ back\ttab"
	first := s.Send(map[string]any{"fail": true, "n": 0, "note": note})
	for i := 1; i < 5; i++ {
		s.Send(map[string]any{"fail": i%2 == 0, "n": i})
	}
	rc.Wait(t, 3*2+2, 10*time.Second)
	d := s.WaitDelivery(first, "failed", 2, 10*time.Second)
	// The latest attempt's request, which "copy as curl" replays: the
	// first attempt's timestamp (and so its signature) differs when the
	// retry fell in the next second.
	var original heraldtest.Request
	for _, r := range rc.Requests() {
		if strings.Contains(string(r.Body), `"n":0`) {
			original = r
		}
	}

	tb := b.tab()
	defer b.checkClean()
	signIn(tb, s.URL)

	// Outcome first: status, attempts, error kind, the answer, then the request.
	tb.open(s.URL + "/console/apps/" + appID + "/deliveries/" + d.ID)
	tb.waitFor(".delivery-outcome")
	out := tb.text(".delivery-outcome")
	for _, want := range []string{"Failed", "2", "The receiver answered with an error status", "HTTP 500", "database is locked"} {
		if !strings.Contains(out, want) {
			t.Errorf("outcome reads %q, want %q in it", out, want)
		}
	}
	if !tb.evalBool(`!!(document.querySelector('.delivery-outcome').compareDocumentPosition(document.querySelector('.delivery-request')) & Node.DOCUMENT_POSITION_FOLLOWING)`) {
		t.Errorf("the request comes before the outcome")
	}
	if !tb.evalBool(`[...document.querySelectorAll('section.attempt')].every((s) => s.querySelector('.outcome').compareDocumentPosition(s.querySelector('.request')) & Node.DOCUMENT_POSITION_FOLLOWING)`) {
		t.Errorf("an attempt shows its request before its outcome")
	}
	if u := tb.unlabelled(); len(u) > 0 {
		t.Errorf("unlabelled controls: %v", u)
	}
	tb.shot("delivery-page")

	// Copy as curl: the clipboard (its text noted on the way, since a
	// headless page may write but not read it), or the fallback box.
	tb.evalBool(`(() => { const c = navigator.clipboard; const w = c.writeText.bind(c); c.writeText = (s) => { window.copiedText = s; return w(s); }; return true; })()`)
	tb.click("#curl-latest")
	tb.until(`!!document.querySelector('textarea.copy-fallback') || [...document.querySelectorAll('#curl-latest')].some((b) => b.innerText.includes('Copied'))`)
	var cmd string
	if tb.evalBool(`!!document.querySelector('textarea.copy-fallback')`) {
		cmd = tb.evalString(`document.querySelector('textarea.copy-fallback').value`)
	} else {
		cmd = tb.evalString(`window.copiedText`)
	}
	// A browser that refuses the clipboard gets the text selected in a box.
	tb.evalBool(`(Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true }), true)`)
	tb.click("#curl-latest")
	tb.waitFor("textarea.copy-fallback")
	if fb := tb.evalString(`document.querySelector('textarea.copy-fallback').value`); fb != cmd {
		t.Errorf("the fallback box holds %q, want the command copied %q", fb, cmd)
	}
	if !strings.Contains(cmd, "curl ") || strings.Contains(cmd, "k-secret-123") || !strings.Contains(cmd, "X-Api-Key: …") {
		t.Fatalf("curl command %q: want curl with the secret header masked", cmd)
	}
	before := len(rc.Requests())
	if outb, err := exec.Command("bash", "-c", cmd).CombinedOutput(); err != nil {
		t.Fatalf("bash -c %q: %v\n%s", cmd, err, outb)
	}
	reqs := rc.Wait(t, before+1, 5*time.Second)
	replay := reqs[len(reqs)-1]
	if replay.Method != original.Method || replay.Path != original.Path || !bytes.Equal(replay.Body, original.Body) {
		t.Errorf("replay %s %s %q, want %s %s %q", replay.Method, replay.Path, replay.Body, original.Method, original.Path, original.Body)
	}
	for name, vals := range original.Header {
		switch http.CanonicalHeaderKey(name) {
		case "Content-Length", "Accept-Encoding", "User-Agent":
			continue
		case "X-Api-Key":
			if got := replay.Header.Get(name); got != "…" {
				t.Errorf("replayed %s: %q, want the mask …", name, got)
			}
			continue
		}
		if got := replay.Header.Get(name); got != vals[0] {
			t.Errorf("replayed header %s: %q, want %q", name, got, vals[0])
		}
	}
	if replay.Header.Get("Webhook-Signature") == "" || replay.Header.Get("Webhook-Signature") != original.Header.Get("Webhook-Signature") {
		t.Errorf("signature %q, want the one sent %q", replay.Header.Get("Webhook-Signature"), original.Header.Get("Webhook-Signature"))
	}

	// Asked for, and allowed (the admin may read the endpoint's secrets),
	// the command carries the secret values too: the receiver gets the
	// request exactly as Herald sent it.
	tb.click("#curl-latest-secrets")
	fallback := `document.querySelector('#curl-latest-secrets').parentElement.querySelector('textarea.copy-fallback')`
	tb.until(`!!` + fallback)
	clearCmd := tb.evalString(fallback + `.value`)
	if !strings.Contains(clearCmd, "X-Api-Key: k-secret-123") {
		t.Fatalf("curl command with secrets %q: want the header's value in clear", clearCmd)
	}
	before = len(rc.Requests())
	if outb, err := exec.Command("bash", "-c", clearCmd).CombinedOutput(); err != nil {
		t.Fatalf("bash -c %q: %v\n%s", clearCmd, err, outb)
	}
	reqs = rc.Wait(t, before+1, 5*time.Second)
	if got := reqs[len(reqs)-1].Header.Get("X-Api-Key"); got != original.Header.Get("X-Api-Key") {
		t.Errorf("replayed X-Api-Key with secrets: %q, want %q", got, original.Header.Get("X-Api-Key"))
	}

	// The Japanese page.
	selectValue(tb, ".lang select", "ja")
	tb.waitText(".delivery-outcome h2", "結果")
	tb.waitText("#curl-latest", "curl コマンドとしてコピー")
	tb.shot("delivery-page-ja")
	tb.phone(true)
	if tb.overflowsX() {
		t.Errorf("the delivery page scrolls sideways at phone width")
	}
	tb.phone(false)
	selectValue(tb, ".lang select", "en")
	tb.waitText(".delivery-outcome h2", "Outcome")

	// Bulk resend of the endpoint's failed deliveries: exactly those three.
	healed.Store(true)
	before = len(rc.Requests())
	tb.open(s.URL + "/console/apps/" + appID + "/deliveries?status=failed&endpoint_id=" + ep)
	tb.waitText("#bulk-resend", "Resend all 3 shown by this filter")
	if u := tb.unlabelled(); len(u) > 0 {
		t.Errorf("unlabelled controls on the deliveries page: %v", u)
	}
	tb.click("#bulk-resend")
	tb.click("dialog .primary")
	tb.waitFor(`.bulk-status[data-state=succeeded]`)
	if st := tb.text(".bulk-status"); !strings.Contains(st, "3 of 3") {
		t.Errorf("bulk status %q, want 3 of 3", st)
	}
	if !tb.evalBool(`document.querySelector('.bulk-progress').value === document.querySelector('.bulk-progress').max`) {
		t.Errorf("the progress bar is not full")
	}
	got := rc.Wait(t, before+3, 10*time.Second)[before:]
	seen := map[string]int{}
	for _, r := range got {
		for _, n := range []string{`"n":0`, `"n":1`, `"n":2`, `"n":3`, `"n":4`} {
			if bytes.Contains(r.Body, []byte(n)) {
				seen[n]++
			}
		}
	}
	if seen[`"n":0`] != 1 || seen[`"n":2`] != 1 || seen[`"n":4`] != 1 || seen[`"n":1`]+seen[`"n":3`] != 0 {
		t.Errorf("resent %v, want the failed n=0, 2, 4 once each", seen)
	}
	tb.shot("deliveries-bulk-resend")
	tb.phone(true)
	if tb.overflowsX() {
		t.Errorf("the deliveries page scrolls sideways at phone width")
	}
	tb.phone(false)

	// The endpoint's and the event's lists offer the same action.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + ep + "/deliveries")
	tb.waitText("#bulk-resend", "Resend all 5 shown by this filter")
	tb.open(s.URL + "/console/apps/" + appID + "/events/" + first)
	tb.waitText("#bulk-resend", "Resend all 1 shown by this filter")

	// Test sends: a typed payload, a bad one, and a type without a sample.
	tb.open(s.URL + "/console/apps/" + appID + "/endpoints/" + ep)
	tb.waitFor("#test-payload")
	selectValue(tb, "#test-event-type", "lead.sampled")
	if v := tb.evalString(`document.querySelector('#test-payload').value`); !strings.Contains(v, `"lead": "sample"`) {
		t.Errorf("payload box %q, want the catalog sample", v)
	}
	tb.fill("#test-payload", "{oops")
	tb.click("#test-send")
	tb.waitText("#test-form [data-field=payload] .field-error", "not valid JSON")
	before = len(rc.Requests())
	tb.fill("#test-payload", `{"typed": "値 1"}`)
	tb.click("#test-send")
	tb.waitFor("#test-result .test-status")
	last := rc.Wait(t, before+1, 5*time.Second)[before]
	if !strings.Contains(string(last.Body), `"typed":"値 1"`) {
		t.Errorf("test send body %s, want the typed payload", last.Body)
	}
	selectValue(tb, "#test-event-type", "lead.created")
	if v := tb.evalString(`document.querySelector('#test-payload').value`); v != "{}" {
		t.Errorf("payload box %q for a type without a sample, want {}", v)
	}
	tb.evalBool(`(document.querySelector('#test-result').replaceChildren(), true)`)
	tb.click("#test-send")
	tb.waitFor("#test-result .test-status")
	if !strings.Contains(tb.text("#test-result"), "Succeeded") {
		t.Errorf("test send without a sample: %q", tb.text("#test-result"))
	}
	if last := rc.Wait(t, before+2, 5*time.Second)[before+1]; !strings.Contains(string(last.Body), `{}`) {
		t.Errorf("test send without a sample sent %s, want {}", last.Body)
	}
	if txt := tb.text("#test-form"); strings.Contains(txt, "payload_or_sample") || strings.Contains(txt, "invalid") {
		t.Errorf("test form shows API jargon: %q", txt)
	}
}

// selectValue picks an option of a select as a person would: the value
// changes and the page gets a change event.
func selectValue(tb *tab, sel, value string) {
	tb.b.t.Helper()
	tb.evalBool(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event('change', { bubbles: true })); return e.value === %q; })()`, sel, value, value))
}
