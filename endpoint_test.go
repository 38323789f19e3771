package herald_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

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
	got := herald.EffectiveDelivery(ep, app, inst, herald.TenantCeilings{})
	want := herald.DeliverySettings{RetrySchedule: "1m", TimeoutMS: 2000, MaxInFlight: 2}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := herald.EffectiveDelivery(&herald.Endpoint{}, nil, inst, herald.TenantCeilings{}); got != inst {
		t.Fatalf("no overrides: %+v", got)
	}
}

// A tenant's value saved above a ceiling is held to it wherever it comes
// from; the installation's own are the operator's and stay as they are.
func TestEffectiveDeliveryCeilings(t *testing.T) {
	t.Parallel()
	inst := herald.DeliverySettings{RetrySchedule: "5s", TimeoutMS: 120_000, MaxInFlight: 500}
	c := herald.TenantCeilings{MaxInFlight: 64, TimeoutMS: 30_000}
	if got := herald.EffectiveDelivery(&herald.Endpoint{}, &herald.App{}, inst, c); got != inst {
		t.Fatalf("the installation's settings: %+v, want %+v as set", got, inst)
	}
	app := &herald.App{}
	app.TimeoutMS, app.MaxInFlight = 120_000, 1000
	want := herald.DeliverySettings{RetrySchedule: "5s", TimeoutMS: 30_000, MaxInFlight: 64}
	if got := herald.EffectiveDelivery(&herald.Endpoint{}, app, inst, c); got != want {
		t.Fatalf("the app's: %+v, want %+v", got, want)
	}
	ep := &herald.Endpoint{TimeoutMS: 90_000}
	ep.MaxInFlight = 100
	if got := herald.EffectiveDelivery(ep, nil, inst, c); got != want {
		t.Fatalf("the endpoint's: %+v, want %+v", got, want)
	}
	ep.TimeoutMS, ep.MaxInFlight = 2000, 3
	if got := herald.EffectiveDelivery(ep, app, inst, c); got.TimeoutMS != 2000 || got.MaxInFlight != 3 {
		t.Fatalf("values within the ceilings: %+v", got)
	}
}

func TestCeilingsSchedule(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	c := herald.TenantCeilings{MaxRetries: 3, MinRetryDelay: time.Second}
	in := []time.Duration{0, 100 * ms, 5 * time.Second, time.Second, 0}
	got := c.Schedule(in)
	if want := []time.Duration{time.Second, time.Second, 5 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("schedule %v within %+v: %v, want %v", in, c, got, want)
	}
	if in[0] != 0 || in[1] != 100*ms {
		t.Fatalf("the schedule given was changed: %v", in)
	}
	if got := (herald.TenantCeilings{}).Schedule(in); !slices.Equal(got, in) {
		t.Fatalf("no ceilings: %v, want %v", got, in)
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

// TestListensTo holds the channel rule to Svix's: an endpoint with
// channels hears only events carrying one of them, one without hears all.
func TestListensTo(t *testing.T) {
	for _, c := range []struct {
		endpoint, event []string
		want            bool
	}{
		{nil, nil, true},
		{nil, []string{"a"}, true},
		{[]string{"a"}, nil, false},
		{[]string{"a"}, []string{"a"}, true},
		{[]string{"a", "b"}, []string{"c", "b"}, true},
		{[]string{"a"}, []string{"A"}, false},
		{[]string{"project"}, []string{"project_1"}, false},
	} {
		ep := &herald.Endpoint{}
		ep.Channels = c.endpoint
		if got := ep.ListensTo(c.event); got != c.want {
			t.Errorf("endpoint %v, event %v: %v, want %v", c.endpoint, c.event, got, c.want)
		}
	}
}

// TestEffectiveWebhookHeaders: the endpoint's choice, else the app's,
// else standard.
func TestEffectiveWebhookHeaders(t *testing.T) {
	for _, c := range []struct{ endpoint, app, want string }{
		{"", "", herald.WebhookHeadersStandard},
		{"", herald.WebhookHeadersSvix, herald.WebhookHeadersSvix},
		{herald.WebhookHeadersStandard, herald.WebhookHeadersSvix, herald.WebhookHeadersStandard},
		{herald.WebhookHeadersSvix, "", herald.WebhookHeadersSvix},
	} {
		ep := &herald.Endpoint{}
		ep.WebhookHeaders = c.endpoint
		app := &herald.App{}
		app.WebhookHeaders = c.app
		if got := herald.EffectiveWebhookHeaders(ep, app); got != c.want {
			t.Errorf("endpoint %q, app %q: %q, want %q", c.endpoint, c.app, got, c.want)
		}
	}
	if got := herald.EffectiveWebhookHeaders(&herald.Endpoint{}, nil); got != herald.WebhookHeadersStandard {
		t.Errorf("no app: %q", got)
	}
}

// TestEventJSONLabels: channels and tags are lists in JSON, [] when none.
func TestEventJSONLabels(t *testing.T) {
	b, err := json.Marshal(&herald.Event{ID: "evt_1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"channels":[]`) || !strings.Contains(string(b), `"tags":[]`) || !strings.Contains(string(b), `"payload_expired":false`) {
		t.Errorf("event JSON: %s", b)
	}
	b, _ = json.Marshal(&herald.Event{Channels: herald.Names{"a"}})
	if !strings.Contains(string(b), `"channels":["a"]`) {
		t.Errorf("event JSON: %s", b)
	}
}
