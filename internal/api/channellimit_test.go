package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestMaxEndpointsPerChannel: with max_endpoints_per_event_type_per_channel,
// endpoints with channels count per event type and per channel (immdio's
// 3 URLs per event type, per form), not against the app-wide limit, which
// keeps covering the endpoints without channels. The refusal names the
// field and the channel; the accepted endpoints receive their form's
// events at a real receiver.
func TestMaxEndpointsPerChannel(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Forms", "uid": "acme",
		"max_endpoints_per_event_type": 1, "max_endpoints_per_event_type_per_channel": 3}, nil, 201)
	var app struct {
		PerChannel int `json:"max_endpoints_per_event_type_per_channel"`
	}
	s.MustDo("GET", "/v1/apps/acme", nil, &app, 200)
	if app.PerChannel != 3 {
		t.Fatalf("max_endpoints_per_event_type_per_channel = %d", app.PerChannel)
	}
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "form.first_submit"}, nil, 201)
	create := func(channels []string, types ...string) (int, apiError) {
		t.Helper()
		body := map[string]any{"url": rc.URL, "event_types": types}
		if channels != nil {
			body["channels"] = channels
		}
		var e apiError
		return s.Do("POST", "/v1/apps/acme/endpoints", body, &e), e
	}
	// Three per form on form_a, three on form_b: six for one event type,
	// past the app-wide 1, all accepted.
	var formA []string
	for range 3 {
		var ep struct{ ID string }
		s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "event_types": []string{"form.first_submit"}, "channels": []string{"form_a"}}, &ep, 201)
		formA = append(formA, ep.ID)
		if code, e := create([]string{"form_b"}, "form.first_submit"); code != 201 {
			t.Fatalf("form_b endpoint: %d %+v", code, e)
		}
	}
	code, e := create([]string{"form_c", "form_a"}, "form.first_submit")
	if code != 422 || e.Error.Code != "limit_exceeded" || e.Error.Field != "channels" ||
		!strings.Contains(e.Error.Message, "form_a") || !strings.Contains(e.Error.Message, "form.first_submit") {
		t.Fatalf("fourth endpoint on form_a: %d %+v", code, e)
	}
	// A wildcard counts too.
	if code, e := create([]string{"form_a"}, "form.*"); code != 422 || e.Error.Field != "channels" {
		t.Fatalf("wildcard on form_a: %d %+v", code, e)
	}
	// Endpoints without channels are under the app-wide limit alone.
	if code, e := create(nil, "form.first_submit"); code != 201 {
		t.Fatalf("first endpoint without channels: %d %+v", code, e)
	}
	if code, e := create(nil, "form.first_submit"); code != 422 || e.Error.Field != "event_types" {
		t.Fatalf("second endpoint without channels: %d %+v", code, e)
	}
	// Moving an endpoint onto a full form is refused as well.
	var other struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "event_types": []string{"form.first_submit"}, "channels": []string{"form_d"}}, &other, 201)
	var pe apiError
	if code := s.Do("PATCH", "/v1/apps/acme/endpoints/"+other.ID, map[string]any{"channels": []string{"form_b"}}, &pe); code != 422 || pe.Error.Field != "channels" || !strings.Contains(pe.Error.Message, "form_b") {
		t.Fatalf("moving onto a full form: %d %+v", code, pe)
	}
	// A disabled endpoint frees its place.
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+formA[0], map[string]any{"enabled": false}, nil, 200)
	if code, e := create([]string{"form_a"}, "form.first_submit"); code != 201 {
		t.Fatalf("form_a after disabling one: %d %+v", code, e)
	}
	// The limit is the operator's (TestOperatorOwnedSettings); it is not negative.
	var fe apiError
	if code := s.Invalid().Do("PATCH", "/v1/apps/acme", map[string]any{"max_endpoints_per_event_type_per_channel": -1}, &fe); code != 422 || fe.Error.Field != "max_endpoints_per_event_type_per_channel" {
		t.Fatalf("negative limit: %d %+v", code, fe)
	}
	// Form a's event reaches form a's three enabled endpoints and the one
	// without channels.
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "form.first_submit", "channels": []string{"form_a"}, "payload": map[string]any{"n": 1}}, nil, 202)
	rc.Wait(t, 4, 10*time.Second)
}
