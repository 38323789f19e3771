package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var eventCases = []testCase{
	{"EventsEnqueue/fan_out", testEnqueueFanOut},
	{"EventsEnqueue/nil_route", testEnqueueNilRoute},
	{"EventsEnqueue/delivery_ids", testEnqueueDeliveryIDs},
	{"EventsEnqueue/idempotency", testEnqueueIdempotency},
	{"EventsEnqueue/missing_app", testEnqueueMissingApp},
	{"EventsEnqueue/lease", testEnqueueLease},
	{"EventsEnqueue/leased_only", testEnqueueLeasedOnly},
	{"EventsEnqueue/empty", testEnqueueEmpty},
	{"EventGet/other_app", testEventGetOtherApp},
	{"EventList/filters", testEventListFilters},
	{"EventList/limits", testEventListLimits},
	{"EventList/labels", testEventListLabels},
	{"EventFind/payload_field", testEventFind},
	{"EventsEnqueue/labels_round_trip", testEnqueueLabels},
	{"Endpoint/svix_settings_round_trip", testEndpointSvixSettings},
	{"Endpoint/uid_unique_per_app", testEndpointUIDUnique},
	{"EventPayloadsExpire/removes_due_payloads", testPayloadsExpire},
	{"EventPayloadsExpire/batches", testPayloadsExpireBatches},
}

// testEndpointUIDUnique: a uid is unique among an app's live endpoints:
// another app, a deleted endpoint and endpoints without uid do not count.
func testEndpointUIDUnique(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	with := func(appID, uid string) *herald.Endpoint {
		ep := newEndpoint(appID)
		ep.UID = uid
		return ep
	}
	first := with(a.ID, "billing")
	noErr(t, s.EndpointCreate(ctx, first), "EndpointCreate")
	wantErr(t, s.EndpointCreate(ctx, with(a.ID, "billing")), store.ErrConflict, "EndpointCreate with a taken uid")
	noErr(t, s.EndpointCreate(ctx, with(b.ID, "billing")), "EndpointCreate in another app")
	noErr(t, s.EndpointCreate(ctx, with(a.ID, "")), "EndpointCreate without uid")
	noErr(t, s.EndpointCreate(ctx, with(a.ID, "")), "EndpointCreate without uid again")
	other := with(a.ID, "shipping")
	noErr(t, s.EndpointCreate(ctx, other), "EndpointCreate")
	other.UID = "billing"
	wantErr(t, s.EndpointUpdate(ctx, other), store.ErrConflict, "EndpointUpdate to a taken uid")
	noErr(t, s.EndpointDelete(ctx, a.ID, first.ID, t0), "EndpointDelete")
	noErr(t, s.EndpointUpdate(ctx, other), "EndpointUpdate to the uid of a deleted endpoint")
	got, err := s.EndpointGet(ctx, a.ID, other.ID)
	noErr(t, err, "EndpointGet")
	if got.UID != "billing" {
		t.Errorf("uid %q", got.UID)
	}
}

// testPayloadsExpire: a due payload goes, with the stored bodies of its
// attempts (split ones and whole ones); its pending deliveries fail with
// "payload expired", finished ones stay as they were; the event, its
// deliveries and attempts stay. Payloads not yet due, and events without
// an expiry, are left alone; a claim no longer sees the removed payload.
func testPayloadsExpire(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	ep1, ep2 := mkEndpoint(t, s, a.ID), mkEndpoint(t, s, a.ID)
	big := fmt.Sprintf(`{"text":%q}`, strings.Repeat("p", 200))
	mk := func(d time.Duration, expiresIn time.Duration) *herald.Event {
		ev := newEvent(a.ID, "e", at(d))
		ev.Payload = herald.RawJSON(big)
		if expiresIn > 0 {
			x := at(expiresIn)
			ev.PayloadExpiresAt = &x
		}
		return ev
	}
	due, later, never := mk(0, time.Hour), mk(time.Second, 3*time.Hour), mk(2*time.Second, 0)
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll}, due, later, never)
	// The due event: one delivery retried (its body stored split, as it
	// holds the payload), one succeeded (its body stored whole).
	d0, d1 := res[0].Jobs[0].Delivery, res[0].Jobs[1].Delivery
	if d0.EndpointID != ep1.ID && d0.EndpointID != ep2.ID {
		t.Fatalf("unexpected endpoint %s", d0.EndpointID)
	}
	a0 := attempt(d0.ID, 1, at(time.Minute), 500)
	a0.Request.Body = `{"type":"e","data":` + big + `}`
	next := at(2 * time.Hour)
	a1 := attempt(d1.ID, 1, at(time.Minute), 200)
	a1.Request.Body = `{"short":1}`
	record(t, s,
		store.AttemptResult{Attempt: a0, Status: herald.StatusPending, NextAttemptAt: &next, Now: at(time.Minute), EventPayload: due.Payload},
		store.AttemptResult{Attempt: a1, Status: herald.StatusSucceeded, Now: at(time.Minute), EventPayload: due.Payload})
	// Claimed once before the expiry, so that a cache of events holds it.
	if _, err := s.EventGet(ctx, a.ID, due.ID); err != nil {
		t.Fatal(err)
	}

	// Nothing is due before its time.
	r, err := s.EventPayloadsExpire(ctx, store.PayloadExpireParams{Now: at(59 * time.Minute), Batch: 10})
	noErr(t, err, "EventPayloadsExpire early")
	if r.Events != 0 || !r.Done {
		t.Fatalf("early: %+v", r)
	}
	r, err = s.EventPayloadsExpire(ctx, store.PayloadExpireParams{Now: at(time.Hour), Batch: 10})
	noErr(t, err, "EventPayloadsExpire")
	if r.Events != 1 || r.Deliveries != 1 || r.Attempts != 2 || !r.Done {
		t.Fatalf("EventPayloadsExpire: %+v, want 1 event, 1 delivery, 2 attempts, done", r)
	}
	got, err := s.EventGet(ctx, a.ID, due.ID)
	noErr(t, err, "EventGet")
	if got.Payload != nil || !got.PayloadExpired || got.PayloadExpiresAt != nil {
		t.Errorf("expired event: payload %q expired %v expires %v", got.Payload, got.PayloadExpired, got.PayloadExpiresAt)
	}
	for _, id := range []string{later.ID, never.ID} {
		ev, err := s.EventGet(ctx, a.ID, id)
		noErr(t, err, "EventGet")
		if string(ev.Payload) != big || ev.PayloadExpired {
			t.Errorf("event %s changed: %+v", id, ev)
		}
	}
	g0 := getDelivery(t, s, a.ID, d0.ID)
	if g0.Status != herald.StatusFailed || g0.LastError != store.LastErrorPayloadExpired || g0.NextAttemptAt != nil || len(g0.Attempts) != 1 {
		t.Errorf("pending delivery: %+v", g0)
	} else if g0.Attempts[0].Request.Body != "" || g0.Attempts[0].Request.Method != "POST" {
		t.Errorf("attempt kept its body: %+v", g0.Attempts[0].Request)
	}
	g1 := getDelivery(t, s, a.ID, d1.ID)
	if g1.Status != herald.StatusSucceeded || len(g1.Attempts) != 1 || g1.Attempts[0].Request.Body != "" {
		t.Errorf("finished delivery: %+v", g1)
	}
	// No claim hands out the removed payload: the due event's deliveries
	// are finished, and the later event's claims carry their own.
	jobs, err := s.DeliveriesClaim(ctx, store.ClaimParams{Now: at(time.Hour), Limit: 10, Owner: "n", LeaseUntil: at(2 * time.Hour)})
	noErr(t, err, "DeliveriesClaim")
	for _, j := range jobs {
		if j.Event.ID == due.ID {
			t.Errorf("claimed a delivery of the expired event: %+v", j.Delivery)
		}
		if j.Event.ID == later.ID && (string(j.Event.Payload) != big || j.Event.PayloadExpiresAt == nil) {
			t.Errorf("later event claimed without its payload or expiry: %+v", j.Event)
		}
	}
	// Again: nothing left.
	r, err = s.EventPayloadsExpire(ctx, store.PayloadExpireParams{Now: at(time.Hour), Batch: 10})
	noErr(t, err, "EventPayloadsExpire again")
	if r.Events != 0 || !r.Done {
		t.Errorf("again: %+v", r)
	}
}

// testPayloadsExpireBatches: at most Batch events a call, Done when none
// is left.
func testPayloadsExpireBatches(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	var evs []*herald.Event
	for i := range 5 {
		ev := newEvent(a.ID, "e", at(time.Duration(i)*time.Second))
		x := at(time.Minute + time.Duration(i)*time.Second)
		ev.PayloadExpiresAt = &x
		evs = append(evs, ev)
	}
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, evs...)
	var total int64
	for i := 0; ; i++ {
		r, err := s.EventPayloadsExpire(ctx, store.PayloadExpireParams{Now: at(time.Hour), Batch: 2})
		noErr(t, err, "EventPayloadsExpire")
		if r.Events > 2 {
			t.Fatalf("batch of 2 removed %d", r.Events)
		}
		total += r.Events
		if r.Done {
			break
		}
		if i > 5 {
			t.Fatal("never done")
		}
	}
	if total != 5 {
		t.Errorf("removed %d payloads, want 5", total)
	}
}

// testEnqueueLabels: an event's channels, tags and payload expiry are
// stored with it and read back by every read (get, list, claim, the
// idempotent replay), and the routes see its channels.
func testEnqueueLabels(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ev := newEvent(a.ID, "e", t0)
	ev.Channels = herald.Names{"project_1", "org:2"}
	ev.Tags = herald.Names{"a/b", "x#1"}
	exp := at(48 * time.Hour)
	ev.PayloadExpiresAt = &exp
	ev.IdempotencyKey = "k-1"
	var seen []string
	route := func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
		seen = ev.Channels
		return routeAll(ev, eps)
	}
	res := enqueue(t, s, store.EnqueueParams{Route: route, IdempotencySince: at(-time.Hour)}, ev)
	equalIDs(t, "channels seen by Route", seen, []string{"project_1", "org:2"})
	equal(t, "enqueued event", res[0].Event, ev)
	got, err := s.EventGet(ctx, a.ID, ev.ID)
	noErr(t, err, "EventGet")
	equal(t, "EventGet", got, ev)
	if got.PayloadExpired {
		t.Error("EventGet: payload_expired on a new event")
	}
	list, err := s.EventList(ctx, store.EventListParams{AppID: a.ID})
	noErr(t, err, "EventList")
	equal(t, "EventList", list, []*herald.Event{ev})
	jobs, err := s.DeliveriesClaim(ctx, store.ClaimParams{Now: at(time.Minute), Limit: 10, Owner: "n", LeaseUntil: at(time.Hour)})
	noErr(t, err, "DeliveriesClaim")
	if len(jobs) != 1 {
		t.Fatalf("DeliveriesClaim: %d jobs", len(jobs))
	}
	equal(t, "claimed event", jobs[0].Event, ev)
	again := newEvent(a.ID, "e", at(time.Second))
	again.IdempotencyKey = "k-1"
	res = enqueue(t, s, store.EnqueueParams{Route: routeAll, IdempotencySince: at(-time.Hour)}, again)
	if !res[0].Duplicate {
		t.Fatal("idempotent replay: not a duplicate")
	}
	equal(t, "replayed event", res[0].Event, ev)

	// An event without labels reads back without them.
	plain := newEvent(a.ID, "e", at(time.Minute))
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, plain)
	got, err = s.EventGet(ctx, a.ID, plain.ID)
	noErr(t, err, "EventGet plain")
	if len(got.Channels) != 0 || len(got.Tags) != 0 || got.PayloadExpiresAt != nil || got.PayloadExpired {
		t.Errorf("plain event: %+v", got)
	}
}

// testEventListLabels: the filters by channel, tag, idempotency key and
// a list of types.
func testEventListLabels(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	mk := func(app, typ string, d time.Duration, channels, tags []string, key string) *herald.Event {
		ev := newEvent(app, typ, at(d))
		ev.Channels, ev.Tags, ev.IdempotencyKey = channels, tags, key
		return ev
	}
	e1 := mk(a.ID, "t.one", 0, []string{"c1", "c2"}, []string{"x"}, "key-1")
	e2 := mk(a.ID, "t.two", time.Second, []string{"c2"}, nil, "key-2")
	e3 := mk(a.ID, "t.three", 2*time.Second, nil, []string{"x", "y"}, "")
	e4 := mk(a.ID, "t.one", 3*time.Second, []string{"c10"}, []string{"xx"}, "")
	other := mk(b.ID, "t.one", 0, []string{"c1"}, []string{"x"}, "key-1")
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, e1, e2, e3, e4, other)
	list := func(p store.EventListParams) []string {
		t.Helper()
		p.AppID = a.ID
		got, err := s.EventList(ctx, p)
		noErr(t, err, "EventList")
		ids := []string{}
		for _, ev := range got {
			ids = append(ids, ev.ID)
		}
		return ids
	}
	// Events are listed newest first.
	equalIDs(t, "channel c1", list(store.EventListParams{Channel: "c1"}), []string{e1.ID})
	equalIDs(t, "channel c2", list(store.EventListParams{Channel: "c2"}), []string{e2.ID, e1.ID})
	equalIDs(t, "channel c (no prefix match)", list(store.EventListParams{Channel: "c"}), nil)
	equalIDs(t, "tag x", list(store.EventListParams{Tag: "x"}), []string{e3.ID, e1.ID})
	equalIDs(t, "tag y and channel", list(store.EventListParams{Tag: "y", Channel: "c2"}), nil)
	equalIDs(t, "idempotency key", list(store.EventListParams{IdempotencyKey: "key-1"}), []string{e1.ID})
	equalIDs(t, "types", list(store.EventListParams{EventTypes: []string{"t.one", "t.three"}}), []string{e4.ID, e3.ID, e1.ID})
	equalIDs(t, "types and channel", list(store.EventListParams{EventTypes: []string{"t.one", "t.two"}, Channel: "c2"}), []string{e2.ID, e1.ID})
	equalIDs(t, "types paged", list(store.EventListParams{EventTypes: []string{"t.one", "t.three"}, ListParams: store.ListParams{Limit: 2}}), []string{e4.ID, e3.ID})
}

// testEndpointSvixSettings: an endpoint's uid, metadata, channels and
// signature header set are kept, and an app's metadata and header set.
func testEndpointSvixSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newApp("a")
	a.Metadata = map[string]string{"plan": "pro"}
	a.WebhookHeaders = herald.WebhookHeadersSvix
	noErr(t, s.AppCreate(ctx, a), "AppCreate")
	gotApp, err := s.AppGet(ctx, a.ID)
	noErr(t, err, "AppGet")
	equal(t, "AppGet", gotApp, a)
	ep := newEndpoint(a.ID)
	ep.UID = "my-endpoint"
	ep.Metadata = map[string]string{"team": "billing"}
	ep.Channels = []string{"project_1"}
	ep.WebhookHeaders = herald.WebhookHeadersStandard
	noErr(t, s.EndpointCreate(ctx, ep), "EndpointCreate")
	got, err := s.EndpointGet(ctx, a.ID, ep.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "EndpointGet", got, ep)
	ep.Channels, ep.UID, ep.Metadata = nil, "", nil
	noErr(t, s.EndpointUpdate(ctx, ep), "EndpointUpdate")
	got, err = s.EndpointGet(ctx, a.ID, ep.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "EndpointGet after update", got, ep)
}

func testEnqueueFanOut(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	created := mkEndpoint(t, s, a.ID, "user.created")
	deleted := mkEndpoint(t, s, a.ID, "user.deleted")
	every := mkEndpoint(t, s, a.ID)
	off := newEndpoint(a.ID)
	off.Enabled = false
	noErr(t, s.EndpointCreate(ctx, off), "EndpointCreate disabled")
	mkEndpoint(t, s, b.ID)

	var offered []string
	route := func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
		for _, ep := range eps {
			offered = append(offered, ep.ID)
			if ep.Secret == "" {
				t.Errorf("Route got endpoint %s without its secret", ep.ID)
			}
		}
		// Reverse order: jobs must follow the targets, not the table.
		ts := routeAll(ev, eps)
		slices.Reverse(ts)
		return ts
	}
	ev := newEvent(a.ID, "user.created", t0)
	res := enqueue(t, s, store.EnqueueParams{Route: route}, ev)

	slices.Sort(offered)
	want := []string{created.ID, deleted.ID, every.ID}
	slices.Sort(want)
	equalIDs(t, "endpoints offered to Route", offered, want)

	r := res[0]
	if r.Duplicate {
		t.Errorf("new event reported duplicate")
	}
	equal(t, "result event", r.Event, ev)
	var gotEps []string
	for _, j := range r.Jobs {
		gotEps = append(gotEps, j.Endpoint.ID)
		if j.Leased {
			t.Errorf("job %s leased without asking", j.Delivery.ID)
		}
		if j.Event == nil || j.Event.ID != ev.ID {
			t.Errorf("job %s: event %v, want %s", j.Delivery.ID, j.Event, ev.ID)
		}
		d := j.Delivery
		wantD := &herald.Delivery{
			ID:            d.ID,
			AppID:         a.ID,
			EventID:       ev.ID,
			EndpointID:    j.Endpoint.ID,
			EventType:     "user.created",
			Status:        herald.StatusPending,
			AttemptCount:  0,
			NextAttemptAt: &ev.CreatedAt,
			CreatedAt:     ev.CreatedAt,
			UpdatedAt:     ev.CreatedAt,
		}
		equal(t, "job delivery", d, wantD)
		got := getDelivery(t, s, a.ID, d.ID)
		wantD.Attempts = []*herald.Attempt{}
		equal(t, "stored delivery", got, wantD)
		if got.Attempts == nil {
			t.Errorf("DeliveryGet: nil attempts, want an empty slice")
		}
	}
	equalIDs(t, "jobs' endpoints", gotEps, []string{every.ID, created.ID})

	got, err := s.EventGet(ctx, a.ID, ev.ID)
	noErr(t, err, "EventGet")
	equal(t, "stored event", got, ev)

	ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: a.ID, EventID: ev.ID})
	noErr(t, err, "DeliveryList")
	if len(ds) != 2 {
		t.Errorf("DeliveryList of the event: %d deliveries, want 2", len(ds))
	}

	// An event of another type reaches the catch-all endpoint only.
	lone := newEvent(a.ID, "order.shipped", at(time.Second))
	res = enqueue(t, s, store.EnqueueParams{Route: route}, lone)
	if len(res[0].Jobs) != 1 || res[0].Jobs[0].Endpoint.ID != every.ID {
		t.Errorf("event of another type: %d jobs, want one for the catch-all endpoint", len(res[0].Jobs))
	}
}

func testEnqueueNilRoute(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	sub := mkEndpoint(t, s, a.ID, "user.created")
	mkEndpoint(t, s, a.ID, "user.deleted")
	res := enqueue(t, s, store.EnqueueParams{}, newEvent(a.ID, "user.created", t0))
	if len(res[0].Jobs) != 1 || res[0].Jobs[0].Endpoint.ID != sub.ID || res[0].Jobs[0].Leased {
		t.Fatalf("nil Route: jobs %s, want one unleased for %s", dump(res[0].Jobs), sub.ID)
	}
}

func testEnqueueDeliveryIDs(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	mkEndpoint(t, s, a.ID)
	n := 0
	newID := func() string { n++; return fmt.Sprintf("dlv_custom_%03d", n) }
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll, NewDeliveryID: newID},
		newEvent(a.ID, "e", t0), newEvent(a.ID, "e", t0))
	var got []string
	for _, r := range res {
		got = append(got, jobIDs(r.Jobs)...)
	}
	equalIDs(t, "delivery ids", got, []string{"dlv_custom_001", "dlv_custom_002", "dlv_custom_003", "dlv_custom_004"})
	getDelivery(t, s, a.ID, "dlv_custom_003")
}

func testEnqueueIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	mkEndpoint(t, s, a.ID)
	mkEndpoint(t, s, b.ID)
	p := store.EnqueueParams{Route: routeAll, IdempotencySince: at(-24 * time.Hour)}
	withKey := func(appID, key string, createdAt time.Time) *herald.Event {
		ev := newEvent(appID, "e", createdAt)
		ev.IdempotencyKey = key
		return ev
	}
	countDeliveries := func(appID string) int {
		ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: appID})
		noErr(t, err, "DeliveryList")
		return len(ds)
	}

	first := withKey(a.ID, "k1", t0)
	res := enqueue(t, s, p, first)
	if res[0].Duplicate || len(res[0].Jobs) != 1 {
		t.Fatalf("first event: duplicate %v with %d jobs", res[0].Duplicate, len(res[0].Jobs))
	}

	// Same key, same app: the earlier event, nothing stored.
	p.IdempotencySince = at(time.Minute - 24*time.Hour)
	again := withKey(a.ID, "k1", at(time.Minute))
	res = enqueue(t, s, p, again)
	if !res[0].Duplicate || len(res[0].Jobs) != 0 {
		t.Errorf("repeated key: duplicate %v with %d jobs, want duplicate with none", res[0].Duplicate, len(res[0].Jobs))
	}
	equal(t, "duplicate's event", res[0].Event, first)
	_, err := s.EventGet(ctx, a.ID, again.ID)
	wantErr(t, err, store.ErrNotFound, "EventGet of a duplicate")
	if n := countDeliveries(a.ID); n != 1 {
		t.Errorf("deliveries after duplicate: %d, want 1", n)
	}

	// A duplicate carries the stored event's type and payload, not the
	// new one's, even where they differ: the API compares the two to
	// refuse a key reused with another body (409 idempotency_mismatch).
	other := withKey(a.ID, "k1", at(2*time.Minute))
	other.EventType, other.Payload = "other", herald.RawJSON(`{"other":true}`)
	res = enqueue(t, s, p, other)
	if !res[0].Duplicate || res[0].Event.ID != first.ID || res[0].Event.EventType != first.EventType || string(res[0].Event.Payload) != string(first.Payload) {
		t.Errorf("key reused with another body: duplicate %v, event %s %s %s; want the first, %s %s %s",
			res[0].Duplicate, res[0].Event.ID, res[0].Event.EventType, res[0].Event.Payload, first.ID, first.EventType, first.Payload)
	}

	// Same key, other app: a new event.
	res = enqueue(t, s, p, withKey(b.ID, "k1", at(time.Minute)))
	if res[0].Duplicate || len(res[0].Jobs) != 1 {
		t.Errorf("same key in another app: duplicate %v with %d jobs", res[0].Duplicate, len(res[0].Jobs))
	}

	// A key last used before IdempotencySince is free again.
	old := withKey(a.ID, "k-old", at(-48*time.Hour))
	enqueue(t, s, store.EnqueueParams{Route: routeAll, IdempotencySince: at(-72 * time.Hour)}, old)
	res = enqueue(t, s, p, withKey(a.ID, "k-old", at(time.Minute)))
	if res[0].Duplicate || res[0].Event.ID == old.ID {
		t.Errorf("key older than IdempotencySince: reported duplicate of %s", res[0].Event.ID)
	}

	// Within one batch, and events without key are never duplicates.
	x, y := withKey(a.ID, "k2", at(time.Minute)), withKey(a.ID, "k2", at(time.Minute))
	n1, n2 := newEvent(a.ID, "e", at(time.Minute)), newEvent(a.ID, "e", at(time.Minute))
	res = enqueue(t, s, p, x, n1, y, n2)
	if res[0].Duplicate || !res[2].Duplicate || res[1].Duplicate || res[3].Duplicate {
		t.Errorf("batch: duplicates %v %v %v %v, want only the third", res[0].Duplicate, res[1].Duplicate, res[2].Duplicate, res[3].Duplicate)
	}
	if res[2].Event == nil || res[2].Event.ID != x.ID {
		t.Errorf("in-batch duplicate: event %v, want %s", res[2].Event, x.ID)
	}
	if len(res[2].Jobs) != 0 {
		t.Errorf("in-batch duplicate: %d jobs, want none", len(res[2].Jobs))
	}
	_, err = s.EventGet(ctx, a.ID, y.ID)
	wantErr(t, err, store.ErrNotFound, "EventGet of an in-batch duplicate")
}

func testEnqueueMissingApp(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ev1, lost, ev3 := newEvent(a.ID, "e", t0), newEvent("app_missing", "e", t0), newEvent(a.ID, "e", t0)
	res, err := s.EventsEnqueue(ctx, store.EnqueueParams{Route: routeAll, Events: []*herald.Event{ev1, lost, ev3}})
	noErr(t, err, "EventsEnqueue")
	if len(res) != 3 {
		t.Fatalf("EventsEnqueue: %d results, want 3", len(res))
	}
	wantErr(t, res[1].Err, store.ErrNotFound, "event of a missing app")
	if len(res[1].Jobs) != 0 {
		t.Errorf("event of a missing app: %d jobs", len(res[1].Jobs))
	}
	for _, i := range []int{0, 2} {
		if res[i].Err != nil || len(res[i].Jobs) != 1 {
			t.Errorf("event %d: err %v, %d jobs; want stored with 1 job", i, res[i].Err, len(res[i].Jobs))
		}
	}
	for _, ev := range []*herald.Event{ev1, ev3} {
		_, err := s.EventGet(ctx, a.ID, ev.ID)
		noErr(t, err, "EventGet of a committed event")
	}
	_, err = s.EventGet(ctx, "app_missing", lost.ID)
	wantErr(t, err, store.ErrNotFound, "EventGet of the refused event")
}

// routeLeasing routes to every endpoint and leases the delivery to hot.
func routeLeasing(hot string) func(*herald.Event, []*herald.Endpoint) []store.Target {
	return func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
		var ts []store.Target
		for _, ep := range eps {
			ts = append(ts, store.Target{Endpoint: ep, Lease: ep.ID == hot})
		}
		return ts
	}
}

func testEnqueueLease(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	hot := mkEndpoint(t, s, a.ID)
	cold := mkEndpoint(t, s, a.ID)
	route := routeLeasing(hot.ID)
	res := enqueue(t, s, store.EnqueueParams{Route: route, LeaseOwner: "node-1", LeaseUntil: at(5 * time.Minute)},
		newEvent(a.ID, "e", t0))
	var hotID, coldID string
	for _, j := range res[0].Jobs {
		switch j.Endpoint.ID {
		case hot.ID:
			hotID = j.Delivery.ID
			if !j.Leased {
				t.Errorf("job of the leased target not marked leased")
			}
		case cold.ID:
			coldID = j.Delivery.ID
			if j.Leased {
				t.Errorf("job of the unleased target marked leased")
			}
		}
	}

	jobs := claim(t, s, store.ClaimParams{Owner: "node-2", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 10})
	equalIDs(t, "claim during the lease", jobIDs(jobs), []string{coldID})
	jobs = claim(t, s, store.ClaimParams{Owner: "node-2", Now: at(6 * time.Minute), Limit: 10})
	equalIDs(t, "claim after the lease", jobIDs(jobs), []string{hotID})
}

// testEnqueueLeasedOnly: with LeasedOnly the result lists the leased
// deliveries alone, counts them all, and the others are stored all the
// same, for a claim.
func testEnqueueLeasedOnly(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	hot := mkEndpoint(t, s, a.ID)
	cold := mkEndpoint(t, s, a.ID)
	route := routeLeasing(hot.ID)
	res := enqueue(t, s, store.EnqueueParams{Route: route, LeaseOwner: "node-1", LeaseUntil: at(5 * time.Minute), LeasedOnly: true},
		newEvent(a.ID, "e", t0))
	if len(res[0].Jobs) != 1 || res[0].Jobs[0].Endpoint.ID != hot.ID || !res[0].Jobs[0].Leased {
		t.Fatalf("LeasedOnly: jobs %+v, want the leased one alone", res[0].Jobs)
	}
	if res[0].Deliveries != 2 {
		t.Errorf("LeasedOnly: Deliveries %d, want 2", res[0].Deliveries)
	}
	jobs := claim(t, s, store.ClaimParams{Owner: "node-2", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 10})
	if len(jobs) != 1 || jobs[0].Endpoint.ID != cold.ID {
		t.Fatalf("claim: %d jobs, want the unleased delivery to %s", len(jobs), cold.ID)
	}

	// Without it, every delivery is listed.
	res = enqueue(t, s, store.EnqueueParams{Route: route, LeaseOwner: "node-1", LeaseUntil: at(5 * time.Minute)},
		newEvent(a.ID, "e", t0))
	if len(res[0].Jobs) != 2 || res[0].Deliveries != 2 {
		t.Errorf("without LeasedOnly: %d jobs, Deliveries %d; want 2 and 2", len(res[0].Jobs), res[0].Deliveries)
	}
}

func testEnqueueEmpty(t *testing.T, s store.Store) {
	res, err := s.EventsEnqueue(t.Context(), store.EnqueueParams{Route: routeAll})
	noErr(t, err, "EventsEnqueue of no event")
	if len(res) != 0 {
		t.Errorf("EventsEnqueue of no event: %d results", len(res))
	}
}

func testEventGetOtherApp(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	ev := newEvent(a.ID, "e", t0)
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, ev)
	_, err := s.EventGet(ctx, b.ID, ev.ID)
	wantErr(t, err, store.ErrNotFound, "EventGet through another app")
	_, err = s.EventGet(ctx, a.ID, "evt_missing")
	wantErr(t, err, store.ErrNotFound, "EventGet missing")
}

func testEventListFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	var evs []*herald.Event
	for i := range 10 {
		typ := "type.a"
		if i%3 == 0 {
			typ = "type.b"
		}
		evs = append(evs, newEvent(a.ID, typ, at(time.Duration(i)*time.Minute)))
	}
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, evs...)
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, newEvent(b.ID, "type.a", t0))

	// ids newest first, of the events i for which keep(i).
	want := func(keep func(i int) bool) []string {
		var ids []string
		for i := len(evs) - 1; i >= 0; i-- {
			if keep(i) {
				ids = append(ids, evs[i].ID)
			}
		}
		return ids
	}
	list := func(p store.EventListParams) []string {
		t.Helper()
		p.AppID = a.ID
		got, err := s.EventList(ctx, p)
		noErr(t, err, "EventList")
		var ids []string
		for _, ev := range got {
			ids = append(ids, ev.ID)
		}
		return ids
	}

	all, err := s.EventList(ctx, store.EventListParams{AppID: a.ID})
	noErr(t, err, "EventList")
	slices.Reverse(evs)
	equal(t, "EventList", all, evs)
	slices.Reverse(evs)

	equalIDs(t, "EventList by type", list(store.EventListParams{EventType: "type.b"}),
		want(func(i int) bool { return i%3 == 0 }))
	equalIDs(t, "EventList since/until", list(store.EventListParams{Since: at(3 * time.Minute), Until: at(6 * time.Minute)}),
		want(func(i int) bool { return i >= 3 && i < 6 }))
	equalIDs(t, "EventList since", list(store.EventListParams{Since: at(7 * time.Minute)}),
		want(func(i int) bool { return i >= 7 }))
	equalIDs(t, "EventList until", list(store.EventListParams{Until: at(2 * time.Minute)}),
		want(func(i int) bool { return i < 2 }))
	equalIDs(t, "EventList type and since", list(store.EventListParams{EventType: "type.a", Since: at(5 * time.Minute)}),
		want(func(i int) bool { return i >= 5 && i%3 != 0 }))

	var paged []string
	cursor := ""
	for page := 0; page < 10; page++ {
		ids := list(store.EventListParams{ListParams: store.ListParams{Cursor: cursor, Limit: 4}})
		if len(ids) == 0 {
			break
		}
		if len(ids) > 4 {
			t.Fatalf("EventList: %d on a page of 4", len(ids))
		}
		paged = append(paged, ids...)
		cursor = ids[len(ids)-1]
	}
	equalIDs(t, "EventList pages", paged, want(func(int) bool { return true }))

	var pagedA []string
	cursor = ""
	for page := 0; page < 10; page++ {
		ids := list(store.EventListParams{EventType: "type.a", ListParams: store.ListParams{Cursor: cursor, Limit: 3}})
		if len(ids) == 0 {
			break
		}
		pagedA = append(pagedA, ids...)
		cursor = ids[len(ids)-1]
	}
	equalIDs(t, "EventList pages of a type", pagedA, want(func(i int) bool { return i%3 != 0 }))
}

func testEventListLimits(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	evs := make([]*herald.Event, store.MaxListLimit+1)
	for i := range evs {
		evs[i] = newEvent(a.ID, "e", t0)
	}
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, evs...)
	for _, c := range []struct{ limit, want int }{{0, 50}, {-1, 50}, {7, 7}, {store.MaxListLimit + 500, store.MaxListLimit}} {
		got, err := s.EventList(ctx, store.EventListParams{AppID: a.ID, ListParams: store.ListParams{Limit: c.limit}})
		noErr(t, err, "EventList")
		if len(got) != c.want {
			t.Errorf("EventList limit %d: %d events, want %d", c.limit, len(got), c.want)
		}
	}
}

// testEventFind: events are found by a payload field compared as text
// (strings and numbers only) or by idempotency key, newest first, among
// the app's newest events still holding their payload.
func testEventFind(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	mk := func(app string, d time.Duration, payload, key string) *herald.Event {
		ev := newEventAt(app, "lead.created", at(d))
		ev.Payload, ev.IdempotencyKey = herald.RawJSON(payload), key
		return ev
	}
	e1 := mk(a.ID, 0, `{"id":"42","lead":{"id":7}}`, "k-1")
	e2 := mk(a.ID, time.Second, `{"id":43,"a.b":"x"}`, "k-2")
	e3 := mk(a.ID, 2*time.Second, `{"id":{"n":"42"},"n":true}`, "")
	e4 := mk(a.ID, 3*time.Second, `{"id":"42"}`, "")
	exp := at(time.Hour)
	e4.PayloadExpiresAt = &exp
	e5 := mk(a.ID, 4*time.Second, `{"id":"44","text":"\u0000"}`, "")
	other := mk(b.ID, 0, `{"id":"42"}`, "k-1")
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, e1, e2, e3, e4, e5, other)
	find := func(p store.EventFindParams) []string {
		t.Helper()
		p.AppID = a.ID
		if p.Scan == 0 {
			p.Scan = 100
		}
		if p.Limit == 0 {
			p.Limit = 100
		}
		if p.Now.IsZero() {
			p.Now = at(2 * time.Hour)
		}
		got, err := s.EventFind(ctx, p)
		noErr(t, err, "EventFind")
		ids := []string{}
		for _, ev := range got {
			ids = append(ids, ev.ID)
		}
		return ids
	}
	id := []string{"id"}
	equalIDs(t, "id in 42, 43 (a number as its text)", find(store.EventFindParams{Path: id, Values: []string{"42", "43"}}), []string{e2.ID, e1.ID})
	equalIDs(t, "payload due for removal kept before its time", find(store.EventFindParams{Path: id, Values: []string{"42"}, Now: at(time.Minute)}), []string{e4.ID, e1.ID})
	equalIDs(t, "an object or boolean never matches", find(store.EventFindParams{Path: []string{"n"}, Values: []string{"true", "1"}}), nil)
	equalIDs(t, "dotted path", find(store.EventFindParams{Path: []string{"lead", "id"}, Values: []string{"7"}}), []string{e1.ID})
	equalIDs(t, "a key holding a dot", find(store.EventFindParams{Path: []string{"a.b"}, Values: []string{"x"}}), []string{e2.ID})
	equalIDs(t, "beside a \\u0000 escape", find(store.EventFindParams{Path: id, Values: []string{"44"}}), []string{e5.ID})
	equalIDs(t, "missing field", find(store.EventFindParams{Path: []string{"nope"}, Values: []string{"42"}}), nil)
	equalIDs(t, "idempotency keys", find(store.EventFindParams{Values: []string{"k-1", "k-2", "k-3"}}), []string{e2.ID, e1.ID})
	equalIDs(t, "limit", find(store.EventFindParams{Path: id, Values: []string{"42", "43"}, Limit: 1}), []string{e2.ID})
	equalIDs(t, "scan bounds the events searched", find(store.EventFindParams{Path: id, Values: []string{"42", "43"}, Scan: 4}), []string{e2.ID})
	equalIDs(t, "since", find(store.EventFindParams{Path: id, Values: []string{"42", "43"}, Since: at(time.Second)}), []string{e2.ID})
}
