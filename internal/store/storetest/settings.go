package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// settingsCases check that the settings and flags added to the domain
// types are kept on every path that writes and reads them.
var settingsCases = []testCase{
	{"AppSettings/round_trip", testAppSettings},
	{"EventType/group_deprecated", testEventTypeGroup},
	{"EndpointSettings/round_trip", testEndpointSettings},
	{"EventsEnqueue/routing", testEnqueueRouting},
}

func testAppSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newApp("acme")
	a.AppSettings = herald.AppSettings{
		MaxEndpointsPerEventType: 3,
		OperationalWebhookURL:    "https://ops.example.com/herald",
		RetrySchedule:            "5s,5m,1h",
		TimeoutMS:                7000,
		MaxInFlight:              12,
		MonthlyDeliveryQuota:     1_000_000,
	}
	noErr(t, s.AppCreate(ctx, a), "AppCreate")
	plain := mkApp(t, s, "plain")

	got, err := s.AppGet(ctx, a.ID)
	noErr(t, err, "AppGet")
	equal(t, "app with settings", got, a)
	got, err = s.AppGet(ctx, "acme")
	noErr(t, err, "AppGet by uid")
	equal(t, "app with settings by uid", got, a)
	got, err = s.AppGet(ctx, plain.ID)
	noErr(t, err, "AppGet plain")
	equal(t, "app without settings", got, plain)
	list, err := s.AppList(ctx, store.ListParams{})
	noErr(t, err, "AppList")
	equal(t, "AppList", list, []*herald.App{plain, a})

	a.AppSettings = herald.AppSettings{MaxEndpointsPerEventType: 1, TimeoutMS: 500, MonthlyDeliveryQuota: 1 << 40}
	a.UpdatedAt = at(time.Hour)
	noErr(t, s.AppUpdate(ctx, a), "AppUpdate settings")
	got, err = s.AppGet(ctx, a.ID)
	noErr(t, err, "AppGet")
	equal(t, "app with changed settings", got, a)

	a.AppSettings = herald.AppSettings{}
	noErr(t, s.AppUpdate(ctx, a), "AppUpdate clearing settings")
	got, err = s.AppGet(ctx, a.ID)
	noErr(t, err, "AppGet")
	equal(t, "app with cleared settings", got, a)
}

func testEventTypeGroup(t *testing.T, s store.Store) {
	ctx := t.Context()
	nps := &herald.EventType{Name: "nps.response", Group: "nps", Deprecated: true, CreatedAt: t0, UpdatedAt: t0}
	plain := &herald.EventType{Name: "user.created", CreatedAt: t0, UpdatedAt: t0}
	noErr(t, s.EventTypeCreate(ctx, nps), "EventTypeCreate")
	noErr(t, s.EventTypeCreate(ctx, plain), "EventTypeCreate")

	got, err := s.EventTypeGet(ctx, nps.Name)
	noErr(t, err, "EventTypeGet")
	equal(t, "event type with group", got, nps)
	list, err := s.EventTypeList(ctx, store.ListParams{})
	noErr(t, err, "EventTypeList")
	equal(t, "EventTypeList", list, []*herald.EventType{nps, plain})

	nps.Group, nps.Deprecated, nps.UpdatedAt = "", false, at(time.Hour)
	plain.Group, plain.Deprecated, plain.UpdatedAt = "users", true, at(time.Hour)
	noErr(t, s.EventTypeUpdate(ctx, nps), "EventTypeUpdate")
	noErr(t, s.EventTypeUpdate(ctx, plain), "EventTypeUpdate")
	list, err = s.EventTypeList(ctx, store.ListParams{})
	noErr(t, err, "EventTypeList")
	equal(t, "updated event types", list, []*herald.EventType{nps, plain})
}

func testEndpointSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	// DisabledAt has nanoseconds: stores keep microseconds, like every
	// other time.
	disabledAt := at(-time.Hour)
	full := newEndpoint(a.ID)
	full.EndpointSettings = herald.EndpointSettings{
		Filter:         `data.amount > 100 && data.currency == "JPY"`,
		Stage:          herald.StageTest,
		TestFilter:     `payload.user_id in ["u1", "u2"]`,
		RetrySchedule:  "1s,10s",
		MaxInFlight:    3,
		RateLimit:      2.5,
		DisabledReason: "receiver answered 410 Gone",
		DisabledAt:     &disabledAt,
	}
	ops := newEndpoint(a.ID)
	ops.Operational = true
	for _, ep := range []*herald.Endpoint{full, ops} {
		noErr(t, s.EndpointCreate(ctx, ep), "EndpointCreate")
	}

	got, err := s.EndpointGet(ctx, a.ID, full.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "endpoint with settings", got, full)
	if got.DisabledAt == nil || !got.DisabledAt.Equal(us(disabledAt)) || got.DisabledAt.Location() != time.UTC {
		t.Errorf("DisabledAt: got %v, want %v in UTC", got.DisabledAt, us(disabledAt))
	}
	list, err := s.EndpointList(ctx, a.ID, store.ListParams{})
	noErr(t, err, "EndpointList")
	equal(t, "EndpointList", list, []*herald.Endpoint{ops, full})

	// The endpoints offered to Route and those of claimed jobs carry them.
	var offered []*herald.Endpoint
	route := func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
		offered = append(offered, eps...)
		return []store.Target{{Endpoint: eps[0]}, {Endpoint: eps[1]}}
	}
	enqueue(t, s, store.EnqueueParams{Route: route}, newEvent(a.ID, "e", t0))
	byID := map[string]*herald.Endpoint{full.ID: full, ops.ID: ops}
	for _, ep := range offered {
		equal(t, "endpoint offered to Route", ep, byID[ep.ID])
	}
	jobs := claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 10})
	if len(jobs) != 2 {
		t.Fatalf("claim: %d jobs, want 2", len(jobs))
	}
	for _, j := range jobs {
		equal(t, "claimed job's endpoint", j.Endpoint, byID[j.Endpoint.ID])
	}

	full.EndpointSettings = herald.EndpointSettings{Filter: "true", RateLimit: 0.1}
	full.UpdatedAt = at(time.Hour)
	noErr(t, s.EndpointUpdate(ctx, full), "EndpointUpdate")
	got, err = s.EndpointGet(ctx, a.ID, full.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "endpoint with changed settings", got, full)
	if got.DisabledAt != nil {
		t.Errorf("DisabledAt after clearing: %v, want nil", got.DisabledAt)
	}
}

func testEnqueueRouting(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	matched := mkEndpoint(t, s, a.ID)
	filtered := mkEndpoint(t, s, a.ID)
	broken := mkEndpoint(t, s, a.ID)
	routing := &herald.Routing{
		Matched: []string{matched.ID},
		Skipped: []herald.Skip{
			{EndpointID: filtered.ID, Reason: "filter"},
			{EndpointID: broken.ID, Reason: "filter_error: no such key: amount"},
		},
	}
	// Route records its decision on the event it is given: it is stored
	// with the event.
	route := func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
		if ev.EventType != "routed" {
			return routeAll(ev, eps)
		}
		r := *routing
		ev.Routing = &r
		for _, ep := range eps {
			if ep.ID == matched.ID {
				return []store.Target{{Endpoint: ep}}
			}
		}
		t.Errorf("Route: endpoint %s not offered", matched.ID)
		return nil
	}
	routed := newEvent(a.ID, "routed", t0)
	routed.IdempotencyKey = "k"
	plain := newEvent(a.ID, "plain", at(time.Second))
	empty := newEvent(a.ID, "empty", at(2*time.Second))
	empty.Routing = &herald.Routing{Matched: []string{}, Skipped: []herald.Skip{}}
	res := enqueue(t, s, store.EnqueueParams{Route: route, IdempotencySince: at(-time.Hour)}, routed, plain, empty)

	want := *routed
	want.Routing = routing
	equal(t, "result event", res[0].Event, &want)
	if len(res[0].Jobs) != 1 {
		t.Fatalf("routed event: %d jobs, want 1", len(res[0].Jobs))
	}
	got, err := s.EventGet(ctx, a.ID, routed.ID)
	noErr(t, err, "EventGet")
	equal(t, "stored event with routing", got, &want)
	got, err = s.EventGet(ctx, a.ID, plain.ID)
	noErr(t, err, "EventGet")
	if got.Routing != nil {
		t.Errorf("event routed without routing: %+v, want nil", got.Routing)
	}
	// Empty lists stay empty lists.
	got, err = s.EventGet(ctx, a.ID, empty.ID)
	noErr(t, err, "EventGet")
	equal(t, "event with empty routing", got, empty)

	list, err := s.EventList(ctx, store.EventListParams{AppID: a.ID})
	noErr(t, err, "EventList")
	equal(t, "EventList", list, []*herald.Event{empty, plain, &want})

	// A duplicate returns the earlier event, routing included.
	again := newEvent(a.ID, "routed", at(time.Minute))
	again.IdempotencyKey = "k"
	res = enqueue(t, s, store.EnqueueParams{Route: route, IdempotencySince: at(-time.Hour)}, again)
	if !res[0].Duplicate {
		t.Fatalf("repeated key: not a duplicate")
	}
	equal(t, "duplicate's event", res[0].Event, &want)

	for _, j := range claim(t, s, store.ClaimParams{Now: at(time.Hour), Limit: 10}) {
		if j.Event.ID == routed.ID {
			equal(t, "claimed job's event", j.Event, &want)
		}
	}
}
