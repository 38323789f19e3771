package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var versionCases = []testCase{
	{"Versions/EventType", testVersionsEventType},
	{"Versions/Event", testVersionsEvent},
}

// testVersionsEventType: an event type's versions are saved with it, in
// order, and an update replaces them.
func testVersionsEventType(t *testing.T, s store.Store) {
	ctx := t.Context()
	et := &herald.EventType{Name: "order.created", Schema: herald.RawJSON(`{"type":"object"}`), CreatedAt: t0, UpdatedAt: t0}
	noErr(t, s.EventTypeCreate(ctx, et), "EventTypeCreate")
	got, err := s.EventTypeGet(ctx, et.Name)
	noErr(t, err, "EventTypeGet")
	if len(got.Versions) != 0 || got.Latest != "" {
		t.Errorf("unversioned type: versions %v, latest %q", got.Versions, got.Latest)
	}

	et.Versions = []herald.EventTypeVersion{
		{Version: "2026-06-01", Schema: herald.RawJSON(`{"type":"object"}`), Sample: herald.RawJSON(`{"a":1}`), Converter: "function convert(p) { return p }", CreatedAt: at(time.Hour)},
		{Version: "v3", Converter: "function convert(p) { return {a: p.b} }", CreatedAt: at(2 * time.Hour)},
	}
	et.Latest, et.UpdatedAt = "v3", at(2*time.Hour)
	noErr(t, s.EventTypeSetVersions(ctx, et, "[]"), "EventTypeSetVersions")
	got, err = s.EventTypeGet(ctx, et.Name)
	noErr(t, err, "EventTypeGet")
	equal(t, "versioned event type", got, et)
	list, err := s.EventTypeList(ctx, store.ListParams{})
	noErr(t, err, "EventTypeList")
	if len(list) != 1 || list[0].Latest != "v3" || len(list[0].Versions) != 2 {
		t.Errorf("EventTypeList: %+v", list)
	}

	// A change made from a stale read is refused, and changes nothing.
	was := store.EncodeVersions(et)
	stale := *et
	stale.Versions = et.Versions[:1]
	wantErr(t, s.EventTypeSetVersions(ctx, &stale, "[]"), store.ErrConflict, "EventTypeSetVersions from a stale read")
	// Updating the type's other fields leaves its versions alone.
	et.Description, et.UpdatedAt = "changed", at(3*time.Hour)
	noErr(t, s.EventTypeUpdate(ctx, &herald.EventType{Name: et.Name, Description: et.Description, Schema: et.Schema, UpdatedAt: et.UpdatedAt}), "EventTypeUpdate")
	got, err = s.EventTypeGet(ctx, et.Name)
	noErr(t, err, "EventTypeGet")
	equal(t, "event type with its description changed", got, et)

	et.Versions, et.Latest = et.Versions[:1], "2026-06-01"
	noErr(t, s.EventTypeSetVersions(ctx, et, was), "EventTypeSetVersions")
	got, err = s.EventTypeGet(ctx, et.Name)
	noErr(t, err, "EventTypeGet")
	equal(t, "event type with a version removed", got, et)
	missing := &herald.EventType{Name: "nope", UpdatedAt: t0}
	wantErr(t, s.EventTypeSetVersions(ctx, missing, "[]"), store.ErrNotFound, "EventTypeSetVersions missing")
}

// testVersionsEvent: an event keeps the version it was sent as, also
// when it comes back with a claimed delivery.
func testVersionsEvent(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	v2 := newEvent(a.ID, "test.event", t0)
	v2.Version = "2026-11-01"
	v1 := newEvent(a.ID, "test.event", t0)
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, v2, v1)
	for _, want := range []*herald.Event{v2, v1} {
		ev, err := s.EventGet(t.Context(), a.ID, want.ID)
		noErr(t, err, "EventGet")
		if ev.Version != want.Version {
			t.Errorf("event version %q, want %q", ev.Version, want.Version)
		}
	}
	for _, j := range claim(t, s, store.ClaimParams{Now: at(time.Second), Limit: 10}) {
		want := ""
		if j.Event.ID == v2.ID {
			want = v2.Version
		}
		if j.Event.Version != want {
			t.Errorf("claimed event %s: version %q, want %q", j.Event.ID, j.Event.Version, want)
		}
	}
}
