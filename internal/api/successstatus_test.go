package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestSuccessStatuses holds a receiver that answers 201 to endpoints that
// count only 200 as received (immdio), by the endpoint's list and by the
// app's default.
func TestSuccessStatuses(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	epID := s.Setup(rc.URL, map[string]any{"success_statuses": []any{200}})
	var ep struct {
		SuccessStatuses []string `json:"success_statuses"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &ep, 200)
	if !slices.Equal(ep.SuccessStatuses, []string{"200"}) {
		t.Fatalf("success_statuses = %v, want [200]", ep.SuccessStatuses)
	}

	// [200]: the 201 is a failure, retried through the whole schedule.
	d := s.WaitDelivery(s.Send(map[string]any{"n": 1}), "failed", 4, 15*time.Second)
	for _, a := range d.Attempts {
		if a.ErrorKind != "http_status" || a.Response == nil || a.Response.StatusCode != 201 {
			t.Fatalf("attempt %d: error_kind %q, response %+v", a.Number, a.ErrorKind, a.Response)
		}
	}

	// [] clears the list: every 2xx, the 201 included, is received.
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"success_statuses": []any{}}, nil, 200)
	s.WaitDelivery(s.Send(map[string]any{"n": 2}), "succeeded", 1, 10*time.Second)

	// The app's list applies to endpoints without their own ...
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"success_statuses": []any{"200"}}, nil, 200)
	s.WaitDelivery(s.Send(map[string]any{"n": 3}), "failed", 4, 15*time.Second)
	// ... and the endpoint's own wins over it.
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"success_statuses": []any{"2xx", 204}}, nil, 200)
	s.WaitDelivery(s.Send(map[string]any{"n": 4}), "succeeded", 1, 10*time.Second)

	many := make([]any, 21)
	for i := range many {
		many[i] = 200
	}
	for _, bad := range [][]any{{99}, {600}, {200.5}, {"6xx"}, {"abc"}, {"0200"}, {true}, {nil}, many} {
		var e struct {
			Error struct{ Message, Field string }
		}
		if code := s.Invalid().Do("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"success_statuses": bad}, &e); code != 422 || e.Error.Field != "success_statuses" || !strings.Contains(e.Error.Message, "success_statuses") {
			t.Errorf("%v: %d %+v, want 422 naming success_statuses", bad, code, e)
		}
		if code := s.Invalid().Do("PATCH", "/v1/apps/acme", map[string]any{"success_statuses": bad}, &e); code != 422 || e.Error.Field != "success_statuses" {
			t.Errorf("app %v: %d %+v, want 422 naming success_statuses", bad, code, e)
		}
	}
}
