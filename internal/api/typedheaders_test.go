package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestHeadersAsTyped: an endpoint's User-Agent and a Content-Type with
// parameters reach the receiver exactly as typed, once, and the preview
// and the attempt history show the same.
func TestHeadersAsTyped(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	const ua, ct = "Acme-Hooks/2.1 (+https://acme.example)", "application/json; charset=UTF-8"
	epID := s.Setup(rc.URL, map[string]any{"headers": map[string]string{"user-agent": ua, "Content-Type": ct}})

	d := s.WaitDelivery(s.Send(map[string]any{"n": 1}), "succeeded", 1, 10*time.Second)
	got := rc.Wait(t, 1, 10*time.Second)[0].Header
	if v := got.Values("User-Agent"); len(v) != 1 || v[0] != ua {
		t.Errorf("User-Agent received %q, want [%q]", v, ua)
	}
	if v := got.Values("Content-Type"); len(v) != 1 || v[0] != ct {
		t.Errorf("Content-Type received %q, want [%q]", v, ct)
	}
	if h := d.Attempts[0].Request.Headers; h["User-Agent"] != ua || h["Content-Type"] != ct {
		t.Errorf("attempt history headers %v", h)
	}
	var pv struct {
		Headers map[string]string `json:"headers"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+epID+"/preview", map[string]any{"event_type": "lead.created"}, &pv, 200)
	if pv.Headers["User-Agent"] != ua || pv.Headers["Content-Type"] != ct {
		t.Errorf("preview headers %v", pv.Headers)
	}
	var n int
	for k := range got {
		if http.CanonicalHeaderKey(k) == "User-Agent" || http.CanonicalHeaderKey(k) == "Content-Type" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("received header keys %v", got)
	}
}
