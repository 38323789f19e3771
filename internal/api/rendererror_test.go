package api_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestRenderErrors: a port filled in through a variable builds a valid
// URL; one out of range after substitution fails the delivery at once
// with error_kind render, as a missing value in strict mode does.
func TestRenderErrors(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	u, _ := url.Parse(rc.URL)
	s.Setup("http://"+u.Hostname()+":{{port}}/x", map[string]any{"template_strict": true})

	s.WaitDelivery(s.Send(map[string]any{"port": u.Port()}), "succeeded", 1, 10*time.Second)
	if got := rc.Wait(t, 1, 10*time.Second)[0]; got.Method != "POST" {
		t.Fatalf("received %+v", got)
	}
	for _, payload := range []map[string]any{{"port": "65536"}, {"port": "abc"}, {}} {
		d := s.WaitDelivery(s.Send(payload), "failed", 1, 10*time.Second)
		if a := d.Attempts[0]; a.ErrorKind != "render" || a.Error == "" {
			t.Errorf("%v: error_kind %q error %q, want render", payload, a.ErrorKind, a.Error)
		}
	}
	var pg struct{ Data []struct{ ID string } }
	s.MustDo("GET", "/v1/apps/acme/deliveries?error_kind=render", nil, &pg, 200)
	if len(pg.Data) != 3 {
		t.Errorf("error_kind=render listed %d deliveries, want 3", len(pg.Data))
	}
}
