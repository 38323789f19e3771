package api_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestEndpointStage, on both stores: an endpoint in stage test receives only the events
// that meet its test_filter; PATCH {"stage": "live"} widens it to every
// event it subscribes to.
func TestEndpointStage(t *testing.T) { pullStores(t, endpointStage) }

func endpointStage(t *testing.T, s *heraldtest.Server) {
	rc := heraldtest.NewReceiver(t, nil)
	epID := s.Setup(rc.URL+"/hooks", map[string]any{"stage": "test", "test_filter": `payload.user_id in ["u1", "u2"]`})
	ep := "/v1/apps/acme/endpoints/" + epID
	var got struct {
		Stage      string `json:"stage"`
		TestFilter string `json:"test_filter"`
	}
	s.MustDo("GET", ep, nil, &got, 200)
	if got.Stage != "test" || got.TestFilter != `payload.user_id in ["u1", "u2"]` {
		t.Fatalf("endpoint stage %+v", got)
	}

	users := func(reqs []heraldtest.Request) []string {
		var out []string
		for _, r := range reqs {
			var b struct {
				Data struct {
					UserID string `json:"user_id"`
				}
			}
			_ = json.Unmarshal(r.Body, &b)
			out = append(out, b.Data.UserID)
		}
		slices.Sort(out)
		return out
	}
	// The outsider's event is routed (and skipped) before the testers'
	// are sent, so the two testers' arriving means it was left out.
	outsider := s.Send(map[string]any{"user_id": "u3"})
	var ev struct {
		Routing struct {
			Matched []string
			Skipped []struct {
				EndpointID string `json:"endpoint_id"`
				Reason     string
			}
		}
	}
	s.MustDo("GET", "/v1/apps/acme/events/"+outsider, nil, &ev, 200)
	if len(ev.Routing.Matched) != 0 || len(ev.Routing.Skipped) != 1 || ev.Routing.Skipped[0].Reason != "test_stage" || ev.Routing.Skipped[0].EndpointID != epID {
		t.Errorf("routing of an event outside the test audience: %+v", ev.Routing)
	}
	s.Send(map[string]any{"user_id": "u1"})
	s.Send(map[string]any{"user_id": "u2"})
	if got := users(rc.Wait(t, 2, 5*time.Second)); !slices.Equal(got, []string{"u1", "u2"}) {
		t.Fatalf("in stage test the receiver got users %v, want u1 u2", got)
	}

	// Going live: every event, the outsider's included.
	s.MustDo("PATCH", ep, map[string]any{"stage": "live"}, &got, 200)
	if got.Stage != "live" {
		t.Fatalf("stage after PATCH live: %q", got.Stage)
	}
	s.Send(map[string]any{"user_id": "u3"})
	s.Send(map[string]any{"user_id": "u1"})
	if got := users(rc.Wait(t, 4, 5*time.Second)[2:]); !slices.Equal(got, []string{"u1", "u3"}) {
		t.Fatalf("live, the receiver got users %v, want u1 u3", got)
	}

	// An endpoint created without a stage is live.
	var plain struct {
		ID    string
		Stage string `json:"stage"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/plain"}, &plain, 201)
	if plain.Stage != "live" {
		t.Errorf("default stage %q, want live", plain.Stage)
	}

	// Bad input names its field; stage test needs a test_filter.
	for _, c := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{ep, map[string]any{"stage": "beta"}, "stage"},
		{ep, map[string]any{"test_filter": "payload.user_id in ["}, "test_filter"},
		{"/v1/apps/acme/endpoints/" + plain.ID, map[string]any{"stage": "test"}, "test_filter"},
		{ep, map[string]any{"stage": "test", "test_filter": ""}, "test_filter"},
		{"/v1/apps/acme/endpoints/" + plain.ID, map[string]any{"stage": "test", "test_filter": "1 +"}, "test_filter"},
	} {
		var e apiError
		if code := s.Invalid().Do("PATCH", c.path, c.body, &e); code != 422 || e.Error.Field != c.field {
			t.Errorf("%v: %d %+v, want 422 naming %s", c.body, code, e, c.field)
		}
	}
	var e apiError
	if code := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "stage": "test"}, &e); code != 422 || e.Error.Field != "test_filter" {
		t.Errorf("create in stage test without test_filter: %d %+v", code, e)
	}
}
