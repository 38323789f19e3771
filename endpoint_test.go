package herald_test

import (
	"testing"

	"github.com/heraldhq/herald"
)

func TestSubscribes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		subs      []string
		eventType string
		group     string
		want      bool
	}{
		{nil, "lead.created", "", true},
		{[]string{}, "anything", "g", true},
		{[]string{"lead.created"}, "lead.created", "", true},
		{[]string{"lead.created"}, "lead.updated", "", false},
		{[]string{"lead.created"}, "Lead.Created", "", false}, // case-sensitive
		{[]string{"conversation.*"}, "conversation.created", "", true},
		{[]string{"conversation.*"}, "conversation", "", false},
		{[]string{"conversation_*"}, "conversation_updated", "", true},
		{[]string{"conversation_*"}, "Conversation_updated", "", false},
		{[]string{"conversation_*"}, "message_created", "", false},
		{[]string{"*"}, "x", "", true},
		{[]string{"group:nps"}, "nps.submitted", "nps", true},
		{[]string{"group:nps"}, "nps.submitted", "NPS", false},
		{[]string{"group:nps"}, "nps.submitted", "", false},
		{[]string{"group:nps", "lead.created"}, "lead.created", "leads", true}, // union
		{[]string{"group:nps", "lead.*"}, "track.event", "feature", false},
		// Herald's own events reach only operational endpoints.
		{nil, "herald.endpoint.disabled", "", false},
		{[]string{"herald.*"}, "herald.endpoint.disabled", "", false},
	}
	for _, c := range cases {
		ep := &herald.Endpoint{EventTypes: c.subs}
		if got := ep.Subscribes(c.eventType, c.group); got != c.want {
			t.Errorf("%v receives %s (group %q) = %v, want %v", c.subs, c.eventType, c.group, got, c.want)
		}
	}
	op := &herald.Endpoint{}
	op.Operational = true
	if !op.Subscribes("herald.endpoint.disabled", "") || op.Subscribes("lead.created", "") {
		t.Error("an operational endpoint receives Herald's events and only those")
	}
}

func TestEffectiveDelivery(t *testing.T) {
	t.Parallel()
	inst := herald.DeliverySettings{RetrySchedule: "5s", TimeoutMS: 15000, MaxInFlight: 32}
	app := &herald.App{}
	app.RetrySchedule, app.MaxInFlight = "1m", 4
	ep := &herald.Endpoint{TimeoutMS: 2000}
	ep.MaxInFlight = 2
	got := herald.EffectiveDelivery(ep, app, inst)
	want := herald.DeliverySettings{RetrySchedule: "1m", TimeoutMS: 2000, MaxInFlight: 2}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := herald.EffectiveDelivery(&herald.Endpoint{}, nil, inst); got != inst {
		t.Fatalf("no overrides: %+v", got)
	}
}

func TestSampled(t *testing.T) {
	t.Parallel()
	rate := 30.0
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint)}
	ep.SampleRate = &rate
	n := 0
	for range 10_000 {
		id := herald.NewID(herald.PrefixEvent)
		got := ep.Sampled(id)
		if got {
			n++
		}
		// A fresh value with the same ids (as after a restart) decides
		// the same: the choice holds no state.
		again := &herald.Endpoint{ID: ep.ID}
		again.SampleRate = &rate
		if ep.Sampled(id) != got || again.Sampled(id) != got {
			t.Fatal("the same event and endpoint decided differently")
		}
	}
	if n < 2800 || n > 3200 {
		t.Fatalf("30%% of 10,000 sampled %d", n)
	}
	for _, r := range []float64{0, 100} {
		ep.SampleRate = &r
		if got := ep.Sampled("evt_x"); got != (r == 100) {
			t.Fatalf("rate %v sampled=%v", r, got)
		}
	}
	ep.SampleRate = nil
	if !ep.Sampled("evt_x") {
		t.Fatal("no rate means every event")
	}
}
