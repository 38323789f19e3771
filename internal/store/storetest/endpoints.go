package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var endpointCases = []testCase{
	{"EndpointCreate/get", testEndpointCreateGet},
	{"EndpointCreate/missing_app", testEndpointCreateMissingApp},
	{"EndpointGet/other_app", testEndpointGetOtherApp},
	{"EndpointList/paging", testEndpointListPaging},
	{"EndpointUpdate", testEndpointUpdate},
	{"EndpointDelete", testEndpointDelete},
	{"EndpointCreate/destination", testEndpointDestination},
}

// testEndpointDestination: a broker endpoint's destination is kept whole
// in the settings document, through create, update and list.
func testEndpointDestination(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	ep := newEndpoint(a.ID)
	ep.Kind = herald.KindNATS
	ep.URL = ""
	ep.Destination = &herald.Destination{URL: "nats://herald:pw@127.0.0.1:4222", Subject: "leads.{{event.type}}", Stream: "LEADS",
		Brokers: []string{"k1:9092", "k2:9092"}, MaxLen: 1000, TLS: true, CredentialsJSON: `{"type":"service_account"}`, SecretAccessKey: "sk"}
	noErr(t, s.EndpointCreate(ctx, ep), "EndpointCreate")
	got, err := s.EndpointGet(ctx, a.ID, ep.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "broker endpoint", got, ep)

	ep.Destination = &herald.Destination{URL: "nats://127.0.0.1:4223", Subject: "other", Password: "new"}
	ep.UpdatedAt = at(time.Hour)
	noErr(t, s.EndpointUpdate(ctx, ep), "EndpointUpdate")
	list, err := s.EndpointList(ctx, a.ID, store.ListParams{Limit: 10})
	noErr(t, err, "EndpointList")
	if len(list) != 1 {
		t.Fatalf("EndpointList: %d endpoints, want 1", len(list))
	}
	equal(t, "updated broker endpoint", list[0], ep)
}

func testEndpointCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	ep := mkEndpoint(t, s, a.ID, "user.created", "user.deleted")
	all := newEndpoint(a.ID)
	all.EventTypes = []string{}
	all.Enabled = false
	all.Description = ""
	all.TimeoutMS = 0
	noErr(t, s.EndpointCreate(ctx, all), "EndpointCreate")

	got, err := s.EndpointGet(ctx, a.ID, ep.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "endpoint", got, ep)
	if got.Secret != ep.Secret {
		t.Errorf("secret: got %q, want %q", got.Secret, ep.Secret)
	}

	got, err = s.EndpointGet(ctx, a.ID, all.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "endpoint for every type", got, all)
	if got.EventTypes == nil {
		t.Errorf("empty event types came back nil, want an empty slice")
	}

	dup := newEndpoint(a.ID)
	dup.ID = ep.ID
	if err := s.EndpointCreate(ctx, dup); err == nil {
		t.Errorf("EndpointCreate with a taken id: no error")
	}
}

func testEndpointCreateMissingApp(t *testing.T, s store.Store) {
	ctx := t.Context()
	ep := newEndpoint("app_missing")
	wantErr(t, s.EndpointCreate(ctx, ep), store.ErrNotFound, "EndpointCreate on a missing app")
	_, err := s.EndpointGet(ctx, "app_missing", ep.ID)
	wantErr(t, err, store.ErrNotFound, "EndpointGet of the refused endpoint")
}

func testEndpointGetOtherApp(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	ep := mkEndpoint(t, s, a.ID)
	_, err := s.EndpointGet(ctx, b.ID, ep.ID)
	wantErr(t, err, store.ErrNotFound, "EndpointGet through another app")
	_, err = s.EndpointGet(ctx, a.ID, "ep_missing")
	wantErr(t, err, store.ErrNotFound, "EndpointGet missing")
}

func testEndpointListPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	var want []string
	for range 5 {
		want = append(want, mkEndpoint(t, s, a.ID).ID)
		mkEndpoint(t, s, b.ID)
	}
	slices.Reverse(want)

	var got []string
	cursor := ""
	for page := 0; page < 10; page++ {
		eps, err := s.EndpointList(ctx, a.ID, store.ListParams{Cursor: cursor, Limit: 2})
		noErr(t, err, "EndpointList")
		if len(eps) == 0 {
			break
		}
		if len(eps) > 2 {
			t.Fatalf("EndpointList: %d on a page of 2", len(eps))
		}
		for _, ep := range eps {
			if ep.AppID != a.ID {
				t.Errorf("EndpointList: endpoint %s of app %s", ep.ID, ep.AppID)
			}
			got = append(got, ep.ID)
		}
		cursor = eps[len(eps)-1].ID
	}
	equalIDs(t, "EndpointList pages", got, want)
}

func testEndpointUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	ep := mkEndpoint(t, s, a.ID, "user.created")

	ep.URL = "https://example.org/new"
	ep.Description = "new description"
	ep.EventTypes = []string{"user.deleted", "user.updated"}
	ep.Enabled = false
	ep.Secret = "whsec_rotated"
	ep.TimeoutMS = 9000
	ep.RequestShape = herald.RequestShape{
		Method:         "PUT",
		ContentType:    "application/x-www-form-urlencoded",
		Headers:        map[string]string{"X-ChatWorkToken": "tok", "X-Lead": "{{会社名}}"},
		BodyTemplate:   herald.RawJSON(`{"body":"New lead: {{name}}","n":1.50}`),
		TemplateStrict: true,
		Preset:         "chatwork",
		PresetOptions:  map[string]string{"room_id": "123"},
	}
	ep.UpdatedAt = at(time.Hour)
	noErr(t, s.EndpointUpdate(ctx, ep), "EndpointUpdate")
	got, err := s.EndpointGet(ctx, a.ID, ep.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "updated endpoint", got, ep)
	if got.Secret != "whsec_rotated" {
		t.Errorf("secret: got %q, want whsec_rotated", got.Secret)
	}

	ep.EventTypes = nil
	noErr(t, s.EndpointUpdate(ctx, ep), "EndpointUpdate to every type")
	got, err = s.EndpointGet(ctx, a.ID, ep.ID)
	noErr(t, err, "EndpointGet")
	if got.EventTypes == nil || len(got.EventTypes) != 0 {
		t.Errorf("event types: got %#v, want an empty slice", got.EventTypes)
	}

	other := *ep
	other.AppID = b.ID
	wantErr(t, s.EndpointUpdate(ctx, &other), store.ErrNotFound, "EndpointUpdate through another app")
	wantErr(t, s.EndpointUpdate(ctx, newEndpoint(a.ID)), store.ErrNotFound, "EndpointUpdate missing")
}

func testEndpointDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	gone := mkEndpoint(t, s, a.ID)
	kept := mkEndpoint(t, s, a.ID)

	// Three events fanned out to both endpoints: for the endpoint to be
	// deleted, one delivery will have succeeded, one will be leased and
	// one left pending.
	evs := []*herald.Event{newEvent(a.ID, "e", t0), newEvent(a.ID, "e", at(time.Second)), newEvent(a.ID, "e", at(2*time.Second))}
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll}, evs...)
	var goneIDs []string
	var keptIDs []string
	for _, r := range res {
		for _, j := range r.Jobs {
			if j.Endpoint.ID == gone.ID {
				goneIDs = append(goneIDs, j.Delivery.ID)
			} else {
				keptIDs = append(keptIDs, j.Delivery.ID)
			}
		}
	}
	if len(goneIDs) != 3 || len(keptIDs) != 3 {
		t.Fatalf("fan-out: %d and %d deliveries, want 3 and 3", len(goneIDs), len(keptIDs))
	}
	succeeded, leased, pending := goneIDs[0], goneIDs[1], goneIDs[2]
	jobs := claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 10, EndpointID: gone.ID, LeaseUntil: at(time.Hour)})
	equalIDs(t, "claim", jobIDs(jobs), goneIDs)
	record(t, s, store.AttemptResult{Attempt: attempt(succeeded, 1, at(time.Minute), 200), Status: herald.StatusSucceeded, Now: at(time.Minute)})
	noErr(t, s.DeliveriesRelease(ctx, "node-1", []string{pending}), "DeliveriesRelease")

	now := at(2 * time.Minute)
	noErr(t, s.EndpointDelete(ctx, a.ID, gone.ID, now), "EndpointDelete")

	_, err := s.EndpointGet(ctx, a.ID, gone.ID)
	wantErr(t, err, store.ErrNotFound, "EndpointGet deleted")
	eps, err := s.EndpointList(ctx, a.ID, store.ListParams{})
	noErr(t, err, "EndpointList")
	if len(eps) != 1 || eps[0].ID != kept.ID {
		t.Errorf("EndpointList after delete: %d endpoints, want only %s", len(eps), kept.ID)
	}

	// History stays readable; what was still to send has failed.
	d := getDelivery(t, s, a.ID, succeeded)
	if d.Status != herald.StatusSucceeded || len(d.Attempts) != 1 {
		t.Errorf("succeeded delivery: status %s with %d attempts, want succeeded with 1", d.Status, len(d.Attempts))
	}
	for _, id := range []string{leased, pending} {
		d := getDelivery(t, s, a.ID, id)
		if d.Status != herald.StatusFailed || d.LastError != "endpoint deleted" || d.NextAttemptAt != nil {
			t.Errorf("delivery %s: status %s, last error %q, next attempt %v; want failed, \"endpoint deleted\", nil",
				id, d.Status, d.LastError, d.NextAttemptAt)
		}
		if !us(d.UpdatedAt).Equal(us(now)) {
			t.Errorf("delivery %s: updated at %v, want %v", id, d.UpdatedAt, us(now))
		}
	}
	ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: a.ID, EndpointID: gone.ID})
	noErr(t, err, "DeliveryList of deleted endpoint")
	if len(ds) != 3 {
		t.Errorf("DeliveryList of deleted endpoint: %d deliveries, want 3", len(ds))
	}

	// The other endpoint's deliveries are untouched, and only they are due.
	next, err := s.NextDueAt(ctx)
	noErr(t, err, "NextDueAt")
	if next == nil || !next.Equal(us(t0)) {
		t.Errorf("NextDueAt: %v, want %v", next, us(t0))
	}
	noErr(t, s.LeasesReleaseAll(ctx), "LeasesReleaseAll")
	jobs = claim(t, s, store.ClaimParams{Now: at(time.Hour), Limit: 10})
	equalIDs(t, "claim after delete", jobIDs(jobs), keptIDs)

	// A new event is not routed to it.
	var offered []string
	route := func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
		for _, ep := range eps {
			offered = append(offered, ep.ID)
		}
		return routeAll(ev, eps)
	}
	res = enqueue(t, s, store.EnqueueParams{Route: route}, newEvent(a.ID, "e", at(time.Hour)))
	equalIDs(t, "endpoints offered to Route", offered, []string{kept.ID})
	if len(res[0].Jobs) != 1 {
		t.Errorf("new event: %d jobs, want 1", len(res[0].Jobs))
	}

	wantErr(t, s.EndpointDelete(ctx, a.ID, gone.ID, now), store.ErrNotFound, "EndpointDelete twice")
	wantErr(t, s.EndpointUpdate(ctx, gone), store.ErrNotFound, "EndpointUpdate deleted")
	wantErr(t, s.EndpointDelete(ctx, a.ID, "ep_missing", now), store.ErrNotFound, "EndpointDelete missing")
}
