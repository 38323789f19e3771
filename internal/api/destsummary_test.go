package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestDestinationSummary: a NATS endpoint's view says in one line where it
// publishes, the password of its URL masked, in create, get and list
// answers and among a type's pinned endpoints; once it publishes, the line
// is its attempt's request line. A push endpoint has none.
func TestDestinationSummary(t *testing.T) {
	t.Parallel()
	needNATS(t)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	sfx := suffix(t)
	stream := "HERALD_" + strings.ToUpper(sfx)
	msgs := natsConsumer(t, stream, "herald."+sfx+".>")
	subject := "herald." + sfx + ".leads"

	const urlPassword = "u-pw-4Rt8"
	type view struct {
		ID, Kind           string
		DestinationSummary *string `json:"destination_summary"`
	}
	var (
		raw json.RawMessage
		ep  view
	)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "nats", "destination": map[string]any{
		"url":     "nats://herald:" + urlPassword + "@127.0.0.1:4222",
		"subject": subject, "stream": stream}}, &raw, 201)
	_ = json.Unmarshal(raw, &ep)
	mustHide(t, "create", raw, urlPassword)
	want := "nats://herald:********@127.0.0.1:4222 subject " + subject + " stream " + stream
	if ep.DestinationSummary == nil || *ep.DestinationSummary != want {
		t.Errorf("created endpoint's destination_summary %v, want %q", ep.DestinationSummary, want)
	}
	id := ep.ID
	ep = view{}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+id, nil, &raw, 200)
	_ = json.Unmarshal(raw, &ep)
	mustHide(t, "get", raw, urlPassword)
	if ep.DestinationSummary == nil || *ep.DestinationSummary != want {
		t.Errorf("endpoint's destination_summary %v, want %q", ep.DestinationSummary, want)
	}

	// A push endpoint has none; the list shows both.
	var push view
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/hook"}, &push, 201)
	if push.DestinationSummary != nil {
		t.Errorf("push endpoint has destination_summary %q", *push.DestinationSummary)
	}
	var list struct{ Data []view }
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &raw, 200)
	mustHide(t, "list", raw, urlPassword)
	_ = json.Unmarshal(raw, &list)
	for _, v := range list.Data {
		switch {
		case v.ID == ep.ID && (v.DestinationSummary == nil || *v.DestinationSummary != want):
			t.Errorf("listed NATS endpoint's destination_summary %v, want %q", v.DestinationSummary, want)
		case v.ID == push.ID && v.DestinationSummary != nil:
			t.Errorf("listed push endpoint has destination_summary %q", *v.DestinationSummary)
		}
	}

	// Without credentials (the server has no users), it publishes: the
	// attempt's request line is the summary.
	s.MustDo("DELETE", "/v1/apps/acme/endpoints/"+push.ID, nil, nil, 204)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"destination": map[string]any{
		"url": "nats://127.0.0.1:4222", "subject": subject, "stream": stream}}, &ep, 200)
	evID := s.Send(map[string]any{"name": "Ann"})
	select {
	case <-msgs:
	case <-time.After(15 * time.Second):
		t.Fatal("no message reached the stream")
	}
	d := s.WaitDelivery(evID, "succeeded", 1, 15*time.Second)
	var full struct {
		Attempts []struct{ Request struct{ Method, URL string } }
	}
	s.MustDo("GET", "/v1/apps/acme/deliveries/"+d.ID, nil, &full, 200)
	if len(full.Attempts) == 0 || ep.DestinationSummary == nil {
		t.Fatalf("attempts %+v, endpoint %+v", full.Attempts, ep)
	}
	if got := full.Attempts[0].Request; got.Method != "PUBLISH" || got.URL != *ep.DestinationSummary {
		t.Errorf("attempt's request %s %s; want PUBLISH to the endpoint's destination_summary %q", got.Method, got.URL, *ep.DestinationSummary)
	}

	// A pinned endpoint's entry in the type's pinned endpoints says the same.
	typ := versionedType(t, s)
	var pinnedEP view
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"kind": "nats", "event_types": []string{typ},
		"event_type_versions": map[string]string{typ: "2026-06-01"}, "destination": map[string]any{
			"url": "nats://herald:" + urlPassword + "@127.0.0.1:4222", "subject": subject}}, &pinnedEP, 201)
	s.MustDo("GET", "/v1/event-types/"+typ+"/pinned-endpoints", nil, &raw, 200)
	mustHide(t, "pinned endpoints", raw, urlPassword)
	var pins struct{ Data []view }
	_ = json.Unmarshal(raw, &pins)
	wantPinned := "nats://herald:********@127.0.0.1:4222 subject " + subject
	if len(pins.Data) != 1 || pins.Data[0].ID != pinnedEP.ID || pins.Data[0].DestinationSummary == nil || *pins.Data[0].DestinationSummary != wantPinned {
		t.Errorf("pinned endpoints %s; want %s with destination_summary %q", raw, pinnedEP.ID, wantPinned)
	}
}
