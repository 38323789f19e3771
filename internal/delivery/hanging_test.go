package delivery_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// Six endpoints of one app hang (their receiver holds every request for
// longer than the test) beside a healthy endpoint of the same app, over
// real HTTP. The hanging ones take their initial window of 2 requests
// each, 12 of the 16 workers, and no more once they are seen to hang: the
// healthy endpoint's deliveries keep arriving at once, every one, rather
// than waiting for the hanging requests' timeout (a minute here).
func TestHangingEndpointsLeaveWorkers(t *testing.T) {
	t.Parallel()
	h := newHoldingReceiver(t, 0)
	healthy := heraldtest.NewReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	s := heraldtest.Start(t, heraldtest.Options{Timeout: time.Minute, Config: func(c *config.Serve) { c.Workers = 16 }})
	s.Setup(healthy.URL+"/hook", nil)
	for range 6 {
		s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": h.rc.URL + "/hook"}, nil, 201)
	}
	const events = 40
	for i := range events {
		s.Send(map[string]any{"n": i})
		// A steady trickle, long enough for the hanging endpoints to be
		// seen as slow (a request in flight for a second).
		time.Sleep(50 * time.Millisecond)
	}
	// Every event reached the healthy endpoint, well within the minute
	// the hanging requests hold their workers.
	healthy.Wait(t, events, 20*time.Second)
	if p := h.peak.Load(); p > 12 {
		t.Fatalf("the hanging endpoints held %d requests at once; want at most 12 (2 each)", p)
	}
	if n := len(healthy.Requests()); n != events {
		t.Fatalf("the healthy endpoint got %d requests, want %d", n, events)
	}
}
