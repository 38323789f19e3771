package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var appCases = []testCase{
	{"AppCreate/get_by_id_and_uid", testAppCreateGet},
	{"AppCreate/conflict", testAppCreateConflict},
	{"AppList/paging", testAppListPaging},
	{"AppUpdate", testAppUpdate},
	{"AppDelete/cascade", testAppDeleteCascade},
}

var eventTypeCases = []testCase{
	{"EventTypeCreate/get", testEventTypeCreateGet},
	{"EventTypeCreate/conflict", testEventTypeConflict},
	{"EventTypeList/paging", testEventTypeListPaging},
	{"EventTypeUpdate", testEventTypeUpdate},
	{"EventTypeDelete", testEventTypeDelete},
}

func testAppCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "acme")
	mkApp(t, s, "other")

	got, err := s.AppGet(ctx, a.ID)
	noErr(t, err, "AppGet by id")
	equal(t, "AppGet by id", got, a)

	got, err = s.AppGet(ctx, "acme")
	noErr(t, err, "AppGet by uid")
	equal(t, "AppGet by uid", got, a)

	_, err = s.AppGet(ctx, "app_missing")
	wantErr(t, err, store.ErrNotFound, "AppGet missing")
	_, err = s.AppGet(ctx, "")
	wantErr(t, err, store.ErrNotFound, "AppGet empty")
}

func testAppCreateConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	mkApp(t, s, "acme")

	dup := newApp("acme")
	wantErr(t, s.AppCreate(ctx, dup), store.ErrConflict, "AppCreate with a taken uid")
	_, err := s.AppGet(ctx, dup.ID)
	wantErr(t, err, store.ErrNotFound, "AppGet of the refused app")

	// Many apps may have no uid.
	n1, n2 := mkApp(t, s, ""), mkApp(t, s, "")
	for _, a := range []*herald.App{n1, n2} {
		got, err := s.AppGet(ctx, a.ID)
		noErr(t, err, "AppGet app without uid")
		equal(t, "app without uid", got, a)
	}

	// The same id twice is a conflict too.
	again := newApp("fresh")
	again.ID = n1.ID
	wantErr(t, s.AppCreate(ctx, again), store.ErrConflict, "AppCreate with a taken id")
}

func testAppListPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	var want []string
	for i := range 7 {
		want = append(want, mkApp(t, s, fmt.Sprintf("uid-%d", i)).ID)
	}
	slices.Reverse(want) // newest first

	var got []string
	cursor := ""
	for page := 0; ; page++ {
		apps, err := s.AppList(ctx, store.ListParams{Cursor: cursor, Limit: 3})
		noErr(t, err, "AppList")
		if len(apps) == 0 {
			if page != 3 {
				t.Fatalf("AppList: empty page %d, want 3 full pages first", page)
			}
			break
		}
		if page > 3 {
			t.Fatalf("AppList: too many pages")
		}
		if len(apps) > 3 {
			t.Fatalf("AppList: %d apps on a page of 3", len(apps))
		}
		for _, a := range apps {
			got = append(got, a.ID)
		}
		cursor = apps[len(apps)-1].ID
	}
	equalIDs(t, "AppList pages", got, want)

	all, err := s.AppList(ctx, store.ListParams{})
	noErr(t, err, "AppList default limit")
	if len(all) != 7 {
		t.Errorf("AppList default limit: %d apps, want 7", len(all))
	}
	all, err = s.AppList(ctx, store.ListParams{Limit: -5})
	noErr(t, err, "AppList negative limit")
	if len(all) != 7 {
		t.Errorf("AppList negative limit: %d apps, want 7", len(all))
	}
}

func testAppUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "old")
	b := mkApp(t, s, "taken")

	a.Name, a.UID, a.UpdatedAt = "Renamed", "new", at(time.Hour)
	noErr(t, s.AppUpdate(ctx, a), "AppUpdate")
	got, err := s.AppGet(ctx, "new")
	noErr(t, err, "AppGet by new uid")
	equal(t, "updated app", got, a)
	_, err = s.AppGet(ctx, "old")
	wantErr(t, err, store.ErrNotFound, "AppGet by old uid")

	conflict := *a
	conflict.UID = b.UID
	wantErr(t, s.AppUpdate(ctx, &conflict), store.ErrConflict, "AppUpdate to a taken uid")
	got, err = s.AppGet(ctx, a.ID)
	noErr(t, err, "AppGet after conflict")
	equal(t, "app after refused update", got, a)

	// Clearing the uid frees it.
	a.UID = ""
	noErr(t, s.AppUpdate(ctx, a), "AppUpdate clearing uid")
	got, err = s.AppGet(ctx, a.ID)
	noErr(t, err, "AppGet after clearing uid")
	equal(t, "app without uid", got, a)

	missing := newApp("ghost")
	wantErr(t, s.AppUpdate(ctx, missing), store.ErrNotFound, "AppUpdate missing")
}

func testAppDeleteCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	epA, epB := mkEndpoint(t, s, a.ID), mkEndpoint(t, s, b.ID)
	evA, evB := newEvent(a.ID, "test.event", t0), newEvent(b.ID, "test.event", t0)
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll}, evA, evB)
	dA, dB := res[0].Jobs[0].Delivery.ID, res[1].Jobs[0].Delivery.ID

	// One attempt recorded on a's delivery, so the cascade reaches attempts.
	jobs := claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 10})
	claimed := jobIDs(jobs)
	slices.Sort(claimed) // due at the same time: any order
	want := []string{dA, dB}
	slices.Sort(want)
	equalIDs(t, "claimed before delete", claimed, want)
	next := at(time.Hour)
	record(t, s, store.AttemptResult{Attempt: attempt(dA, 1, at(time.Minute), 500),
		Status: herald.StatusPending, NextAttemptAt: &next, Now: at(time.Minute)})

	jobA := &herald.BulkJob{ID: herald.NewID("job_"), AppID: a.ID, Kind: "recover", State: herald.JobRunning, CreatedAt: t0, UpdatedAt: t0}
	jobB := &herald.BulkJob{ID: herald.NewID("job_"), AppID: b.ID, Kind: "recover", State: herald.JobRunning, CreatedAt: t0, UpdatedAt: t0}
	noErr(t, s.BulkJobCreate(ctx, jobA), "BulkJobCreate")
	noErr(t, s.BulkJobCreate(ctx, jobB), "BulkJobCreate")

	noErr(t, s.AppDelete(ctx, a.ID), "AppDelete")

	_, err := s.AppGet(ctx, a.ID)
	wantErr(t, err, store.ErrNotFound, "AppGet deleted")
	_, err = s.AppGet(ctx, "a")
	wantErr(t, err, store.ErrNotFound, "AppGet deleted by uid")
	_, err = s.EndpointGet(ctx, a.ID, epA.ID)
	wantErr(t, err, store.ErrNotFound, "EndpointGet of deleted app")
	_, err = s.EventGet(ctx, a.ID, evA.ID)
	wantErr(t, err, store.ErrNotFound, "EventGet of deleted app")
	_, err = s.DeliveryGet(ctx, a.ID, dA)
	wantErr(t, err, store.ErrNotFound, "DeliveryGet of deleted app")
	_, err = s.BulkJobGet(ctx, a.ID, jobA.ID)
	wantErr(t, err, store.ErrNotFound, "BulkJobGet of deleted app")
	eps, err := s.EndpointList(ctx, a.ID, store.ListParams{})
	noErr(t, err, "EndpointList of deleted app")
	evs, err := s.EventList(ctx, store.EventListParams{AppID: a.ID})
	noErr(t, err, "EventList of deleted app")
	ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: a.ID})
	noErr(t, err, "DeliveryList of deleted app")
	if len(eps)+len(evs)+len(ds) != 0 {
		t.Errorf("deleted app still lists %d endpoints, %d events, %d deliveries", len(eps), len(evs), len(ds))
	}

	// The other app is untouched.
	_, err = s.AppGet(ctx, b.ID)
	noErr(t, err, "AppGet other app")
	_, err = s.EndpointGet(ctx, b.ID, epB.ID)
	noErr(t, err, "EndpointGet other app")
	_, err = s.EventGet(ctx, b.ID, evB.ID)
	noErr(t, err, "EventGet other app")
	_, err = s.DeliveryGet(ctx, b.ID, dB)
	noErr(t, err, "DeliveryGet other app")
	_, err = s.BulkJobGet(ctx, b.ID, jobB.ID)
	noErr(t, err, "BulkJobGet other app")

	// A result for the vanished delivery is skipped, not an error.
	record(t, s, store.AttemptResult{Attempt: attempt(dA, 2, at(2*time.Hour), 200),
		Status: herald.StatusSucceeded, Now: at(2 * time.Hour)})
	_, err = s.DeliveryGet(ctx, a.ID, dA)
	wantErr(t, err, store.ErrNotFound, "DeliveryGet after recording on a deleted app")

	noErr(t, s.LeasesReleaseAll(ctx), "LeasesReleaseAll")
	jobs = claim(t, s, store.ClaimParams{Now: at(3 * time.Hour), Limit: 10})
	equalIDs(t, "claimed after delete", jobIDs(jobs), []string{dB})

	wantErr(t, s.AppDelete(ctx, a.ID), store.ErrNotFound, "AppDelete twice")
}

func testEventTypeCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := &herald.EventType{
		Name:        "invoice.paid",
		Description: "An invoice was paid.",
		Schema:      herald.RawJSON(`{"type":"object"}`),
		Sample:      herald.RawJSON(`{"invoice":"in_1"}`),
		CreatedAt:   t0,
		UpdatedAt:   t0,
	}
	bare := &herald.EventType{Name: "Invoice.Paid", CreatedAt: t0, UpdatedAt: t0}
	noErr(t, s.EventTypeCreate(ctx, full), "EventTypeCreate")
	noErr(t, s.EventTypeCreate(ctx, bare), "EventTypeCreate differing in case")

	got, err := s.EventTypeGet(ctx, "invoice.paid")
	noErr(t, err, "EventTypeGet")
	equal(t, "event type", got, full)

	got, err = s.EventTypeGet(ctx, "Invoice.Paid")
	noErr(t, err, "EventTypeGet bare")
	equal(t, "bare event type", got, bare)
	if got.Schema != nil || got.Sample != nil {
		t.Errorf("bare event type: schema %q, sample %q, want nil", got.Schema, got.Sample)
	}

	_, err = s.EventTypeGet(ctx, "invoice.PAID")
	wantErr(t, err, store.ErrNotFound, "EventTypeGet is case-sensitive")
}

func testEventTypeConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	et := &herald.EventType{Name: "user.created", CreatedAt: t0, UpdatedAt: t0}
	noErr(t, s.EventTypeCreate(ctx, et), "EventTypeCreate")
	dup := &herald.EventType{Name: "user.created", Description: "again", CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, s.EventTypeCreate(ctx, dup), store.ErrConflict, "EventTypeCreate twice")
	got, err := s.EventTypeGet(ctx, "user.created")
	noErr(t, err, "EventTypeGet")
	equal(t, "event type after conflict", got, et)
}

func testEventTypeListPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	names := []string{"c.x", "a.b", "b.z", "a.a", "d", "b.a", "e"}
	for _, n := range names {
		noErr(t, s.EventTypeCreate(ctx, &herald.EventType{Name: n, CreatedAt: t0, UpdatedAt: t0}), "EventTypeCreate")
	}
	want := slices.Clone(names)
	slices.Sort(want)

	var got []string
	cursor := ""
	for page := 0; page < 10; page++ {
		ets, err := s.EventTypeList(ctx, store.ListParams{Cursor: cursor, Limit: 3})
		noErr(t, err, "EventTypeList")
		if len(ets) == 0 {
			break
		}
		if len(ets) > 3 {
			t.Fatalf("EventTypeList: %d on a page of 3", len(ets))
		}
		for _, et := range ets {
			got = append(got, et.Name)
		}
		cursor = ets[len(ets)-1].Name
	}
	equalIDs(t, "EventTypeList pages", got, want)
}

func testEventTypeUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	et := &herald.EventType{Name: "user.created", Description: "old", Schema: herald.RawJSON(`{}`), CreatedAt: t0, UpdatedAt: t0}
	noErr(t, s.EventTypeCreate(ctx, et), "EventTypeCreate")

	et.Description, et.Schema, et.Sample, et.UpdatedAt = "new", nil, herald.RawJSON(`{"user":"u_1"}`), at(time.Hour)
	noErr(t, s.EventTypeUpdate(ctx, et), "EventTypeUpdate")
	got, err := s.EventTypeGet(ctx, et.Name)
	noErr(t, err, "EventTypeGet")
	equal(t, "updated event type", got, et)

	missing := &herald.EventType{Name: "nope", UpdatedAt: t0}
	wantErr(t, s.EventTypeUpdate(ctx, missing), store.ErrNotFound, "EventTypeUpdate missing")
}

func testEventTypeDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, n := range []string{"a", "b"} {
		noErr(t, s.EventTypeCreate(ctx, &herald.EventType{Name: n, CreatedAt: t0, UpdatedAt: t0}), "EventTypeCreate")
	}
	noErr(t, s.EventTypeDelete(ctx, "a"), "EventTypeDelete")
	_, err := s.EventTypeGet(ctx, "a")
	wantErr(t, err, store.ErrNotFound, "EventTypeGet deleted")
	_, err = s.EventTypeGet(ctx, "b")
	noErr(t, err, "EventTypeGet other")
	wantErr(t, s.EventTypeDelete(ctx, "a"), store.ErrNotFound, "EventTypeDelete twice")
}
