package storetest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// opsCases check the calls that serve quotas, metrics and housekeeping:
// usage counting, queue statistics, retention, heartbeats and the due
// watch.
var opsCases = []testCase{
	{"Usage", testUsage},
	{"QueueStats", testQueueStats},
	{"Retain", testRetain},
	{"NodeHeartbeat", testNodeHeartbeat},
	{"WatchDue/returns", testWatchDueReturns},
	{"WatchDue/notified", testWatchDueNotified},
}

// newEventAt is newEvent with an id of its creation time, as herald.NewID
// would have made it then: drivers may find old events by id.
func newEventAt(appID, eventType string, createdAt time.Time) *herald.Event {
	ev := newEvent(appID, eventType, createdAt)
	ev.ID = newIDAt(herald.PrefixEvent, createdAt)
	return ev
}

func wantUsage(t *testing.T, s store.Store, what, appID string, tm time.Time, want int64) {
	t.Helper()
	got, err := s.UsageGet(t.Context(), appID, tm)
	noErr(t, err, "UsageGet "+what)
	if got != want {
		t.Errorf("UsageGet %s (%s): %d, want %d", what, tm.UTC().Format("2006-01"), got, want)
	}
}

// testUsage: the deliveries an app's events create are counted in the
// calendar month (UTC) of the event, per app; manual sends count, test
// sends and duplicates do not; the counts go with the app.
func testUsage(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	ep1, _ := mkEndpoint(t, s, a.ID), mkEndpoint(t, s, a.ID)
	mkEndpoint(t, s, b.ID)

	march := time.Date(2031, 3, 15, 0, 0, 0, 0, time.UTC)
	april := time.Date(2031, 4, 15, 0, 0, 0, 0, time.UTC)
	lastOfMarch := time.Date(2031, 3, 31, 23, 59, 59, 999999000, time.UTC)
	firstOfApril := time.Date(2031, 4, 1, 0, 0, 0, 0, time.UTC)
	// 08:00 on 1 April in Tokyo is still March in UTC.
	tokyo := time.FixedZone("JST", 9*3600)
	aprilInTokyo := time.Date(2031, 4, 1, 8, 0, 0, 0, tokyo)

	wantUsage(t, s, "of a new app", a.ID, march, 0)
	wantUsage(t, s, "of a missing app", "app_missing", march, 0)

	keyed := newEvent(a.ID, "e", lastOfMarch)
	keyed.IdempotencyKey = "k"
	skipped := newEvent(a.ID, "e", lastOfMarch)
	route := func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
		if ev.ID == skipped.ID {
			return nil
		}
		return routeAll(ev, eps)
	}
	p := store.EnqueueParams{Route: route, IdempotencySince: at(-365 * 24 * time.Hour)}
	enqueue(t, s, p,
		keyed, skipped,
		newEvent(a.ID, "e", firstOfApril),
		newEvent(b.ID, "e", lastOfMarch),
		newEvent(a.ID, "e", aprilInTokyo),
	)
	wantUsage(t, s, "of a in March", a.ID, march, 4)
	wantUsage(t, s, "of a in April", a.ID, april, 2)
	wantUsage(t, s, "of a at the last microsecond of March", a.ID, lastOfMarch, 4)
	wantUsage(t, s, "of a at the first instant of April", a.ID, firstOfApril, 2)
	wantUsage(t, s, "of a at 08:00 on 1 April in Tokyo", a.ID, aprilInTokyo, 4)
	wantUsage(t, s, "of a in February", a.ID, time.Date(2031, 2, 15, 0, 0, 0, 0, time.UTC), 0)
	wantUsage(t, s, "of a in March a year later", a.ID, march.AddDate(1, 0, 0), 0)
	wantUsage(t, s, "of b in March", b.ID, march, 1)
	wantUsage(t, s, "of b in April", b.ID, april, 0)

	// A later batch adds to the month; a duplicate creates nothing.
	again := newEvent(a.ID, "e", lastOfMarch.Add(-time.Hour))
	again.IdempotencyKey = "k"
	res := enqueue(t, s, p, again, newEvent(a.ID, "e", march))
	if !res[0].Duplicate {
		t.Fatalf("repeated key: not a duplicate")
	}
	wantUsage(t, s, "of a in March after a second batch", a.ID, march, 6)

	// A manual send counts in the month it is made.
	d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), AppID: a.ID, EventID: keyed.ID, EndpointID: ep1.ID,
		EventType: "e", Status: herald.StatusPending, CreatedAt: april, UpdatedAt: april}
	noErr(t, s.DeliveriesCreate(ctx, []*herald.Delivery{d}), "DeliveriesCreate")
	wantUsage(t, s, "of a in April after a manual send", a.ID, april, 3)
	wantUsage(t, s, "of a in March after a manual send", a.ID, march, 6)

	// A test send does not.
	tev := newEvent(a.ID, "e", april)
	td := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), AppID: a.ID, EventID: tev.ID, EndpointID: ep1.ID,
		EventType: "e", Status: herald.StatusSucceeded, AttemptCount: 1, Test: true, CreatedAt: april, UpdatedAt: april}
	noErr(t, s.TestSendRecord(ctx, tev, td, attempt(td.ID, 1, april, 200)), "TestSendRecord")
	wantUsage(t, s, "of a in April after a test send", a.ID, april, 3)

	// A failed batch counts nothing.
	_, err := s.EventsEnqueue(ctx, store.EnqueueParams{Route: routeAll, Events: []*herald.Event{
		newEvent(a.ID, "e", april), {ID: keyed.ID, AppID: a.ID, EventType: "e", CreatedAt: april},
	}})
	if err == nil {
		t.Fatalf("EventsEnqueue with a taken event id: no error")
	}
	wantUsage(t, s, "of a in April after a failed batch", a.ID, april, 3)

	noErr(t, s.AppDelete(ctx, a.ID), "AppDelete")
	wantUsage(t, s, "of a deleted app in March", a.ID, march, 0)
	wantUsage(t, s, "of a deleted app in April", a.ID, april, 0)
	wantUsage(t, s, "of b in March after a's deletion", b.ID, march, 1)
}

func wantQueue(t *testing.T, s store.Store, what string, now time.Time, want store.QueueStats) {
	t.Helper()
	got, err := s.QueueStats(t.Context(), now)
	noErr(t, err, "QueueStats "+what)
	if got.Pending != want.Pending || got.Due != want.Due || !got.OldestDue.Equal(want.OldestDue) {
		t.Errorf("QueueStats %s: %d pending, %d due, oldest due %v; want %d, %d, %v",
			what, got.Pending, got.Due, got.OldestDue, want.Pending, want.Due, want.OldestDue)
	}
	if want.OldestDue.IsZero() && !got.OldestDue.IsZero() {
		t.Errorf("QueueStats %s: oldest due %v, want the zero time", what, got.OldestDue)
	}
}

// testQueueStats: every pending delivery counts, leased or not; due are
// those whose next attempt time is at or before now; finished ones and
// those failed by an endpoint's deletion do not count.
func testQueueStats(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantQueue(t, s, "of an empty store", t0, store.QueueStats{})

	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, t0, at(time.Minute), at(2*time.Minute), at(time.Hour))
	// Leased at once, as the engine does with what it sends from memory.
	leased := newEvent(a.ID, "e", at(-time.Minute))
	lease := func(_ *herald.Event, eps []*herald.Endpoint) []store.Target {
		return []store.Target{{Endpoint: eps[0], Lease: true}}
	}
	enqueue(t, s, store.EnqueueParams{Route: lease, LeaseOwner: "node-1", LeaseUntil: at(time.Hour)}, leased)
	// Deliveries of another endpoint, failed when it is deleted.
	gone := mkEndpoint(t, s, a.ID)
	enqueue(t, s, store.EnqueueParams{Route: func(_ *herald.Event, eps []*herald.Endpoint) []store.Target {
		for _, e := range eps {
			if e.ID == gone.ID {
				return []store.Target{{Endpoint: e}}
			}
		}
		t.Errorf("Route: endpoint %s not offered", gone.ID)
		return nil
	}}, newEvent(a.ID, "e", at(-time.Hour)))
	noErr(t, s.EndpointDelete(ctx, a.ID, gone.ID, t0), "EndpointDelete")

	// ids[0] succeeds; ids[1] fails once and is retried at t0+10m.
	retryAt := at(10 * time.Minute)
	record(t, s,
		store.AttemptResult{Attempt: attempt(ids[0], 1, at(time.Second), 200), Status: herald.StatusSucceeded, Now: at(time.Second)},
		store.AttemptResult{Attempt: attempt(ids[1], 1, at(time.Minute), 503), Status: herald.StatusPending, NextAttemptAt: &retryAt, Now: at(time.Minute)},
	)

	// Pending: the leased one (due at t0-1m), ids[1] (t0+10m), ids[2]
	// (t0+2m) and ids[3] (t0+1h).
	wantQueue(t, s, "before anything is due", at(-2*time.Minute), store.QueueStats{Pending: 4})
	wantQueue(t, s, "when the leased one is due", us(at(-time.Minute)), store.QueueStats{Pending: 4, Due: 1, OldestDue: us(at(-time.Minute))})
	wantQueue(t, s, "at t0+5m", at(5*time.Minute), store.QueueStats{Pending: 4, Due: 2, OldestDue: us(at(-time.Minute))})
	wantQueue(t, s, "at t0+10m", us(retryAt), store.QueueStats{Pending: 4, Due: 3, OldestDue: us(at(-time.Minute))})
	wantQueue(t, s, "at t0+2h", at(2*time.Hour), store.QueueStats{Pending: 4, Due: 4, OldestDue: us(at(-time.Minute))})

	// Once the leased one is sent, the oldest due is the next one.
	record(t, s, store.AttemptResult{Attempt: attempt(jobIDsOf(t, s, a.ID, leased.ID)[0], 1, t0, 200), Status: herald.StatusSucceeded, Now: t0})
	wantQueue(t, s, "at t0+5m after the leased one is sent", at(5*time.Minute), store.QueueStats{Pending: 3, Due: 1, OldestDue: us(at(2 * time.Minute))})
}

// jobIDsOf returns the ids of an event's deliveries.
func jobIDsOf(t *testing.T, s store.Store, appID, eventID string) []string {
	t.Helper()
	ds, err := s.DeliveryList(t.Context(), store.DeliveryListParams{AppID: appID, EventID: eventID})
	noErr(t, err, "DeliveryList")
	if len(ds) == 0 {
		t.Fatalf("event %s has no delivery", eventID)
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// testRetain: events created before the cut go, in batches, with their
// deliveries (pending, leased or finished, enqueued or made by hand) and
// their attempts, in every app; newer ones stay whole.
func testRetain(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	epA := mkEndpoint(t, s, a.ID)
	mkEndpoint(t, s, b.ID)
	before := us(at(-24 * time.Hour))

	// Six old events, 1 delivery each: four of a, two of b.
	var old []*herald.Event
	for i := range 6 {
		app := a.ID
		if i >= 4 {
			app = b.ID
		}
		old = append(old, newEventAt(app, "e", before.Add(-time.Duration(10-i)*time.Hour)))
	}
	// The event at the cut and the newer ones stay.
	atCut := newEventAt(a.ID, "e", before)
	newer := []*herald.Event{atCut, newEventAt(a.ID, "e", t0), newEventAt(b.ID, "e", at(time.Minute))}

	delivered := map[string]string{} // event id → delivery id
	for _, evs := range [][]*herald.Event{old, newer} {
		for _, r := range enqueue(t, s, store.EnqueueParams{Route: routeAll}, evs...) {
			if len(r.Jobs) != 1 {
				t.Fatalf("event %s: %d deliveries, want 1", r.Event.ID, len(r.Jobs))
			}
			delivered[r.Event.ID] = r.Jobs[0].Delivery.ID
		}
	}
	// Attempts: two on old[0] (retried, then succeeded), one on old[4]
	// (failed), one left leased on old[1]; two on a newer event.
	retry := before.Add(-time.Hour)
	record(t, s,
		store.AttemptResult{Attempt: attempt(delivered[old[0].ID], 1, before.Add(-9*time.Hour), 500), Status: herald.StatusPending, NextAttemptAt: &retry, Now: before.Add(-9 * time.Hour)},
		store.AttemptResult{Attempt: attempt(delivered[old[4].ID], 1, before.Add(-5*time.Hour), 410), Status: herald.StatusFailed, Now: before.Add(-5 * time.Hour)},
		store.AttemptResult{Attempt: attempt(delivered[newer[1].ID], 1, t0, 500), Status: herald.StatusPending, NextAttemptAt: &retry, Now: t0},
	)
	record(t, s,
		store.AttemptResult{Attempt: attempt(delivered[old[0].ID], 2, retry, 200), Status: herald.StatusSucceeded, Now: retry},
		store.AttemptResult{Attempt: attempt(delivered[newer[1].ID], 2, at(time.Second), 200), Status: herald.StatusSucceeded, Now: at(time.Second)},
	)
	claim(t, s, store.ClaimParams{Now: old[1].CreatedAt, Limit: 1})
	// A manual send of an old event, made recently, goes with its event.
	manual := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), AppID: a.ID, EventID: old[2].ID, EndpointID: epA.ID,
		EventType: "e", Status: herald.StatusPending, CreatedAt: t0, UpdatedAt: t0}
	noErr(t, s.DeliveriesCreate(ctx, []*herald.Delivery{manual}), "DeliveriesCreate")

	keep := map[string]*herald.Delivery{}
	for _, ev := range newer {
		keep[ev.ID] = getDelivery(t, s, ev.AppID, delivered[ev.ID])
	}

	// Keys that expired before the cut go (portal sessions pile up
	// otherwise); one expiring at the cut, and keys without expiry, stay.
	expired, atCutKey, forever := newKey(a.ID), newKey(a.ID), newKey("")
	longAgo := us(before.Add(-time.Hour))
	expired.ExpiresAt, atCutKey.ExpiresAt = &longAgo, &before
	for _, k := range []*herald.APIKey{expired, atCutKey, forever} {
		noErr(t, s.APIKeyCreate(ctx, k), "APIKeyCreate")
	}

	var total store.RetainResult
	for i, want := range []struct {
		events int64
		done   bool
	}{{3, false}, {3, true}, {0, true}} {
		got, err := s.Retain(ctx, store.RetainParams{Before: before, Batch: 3})
		noErr(t, err, "Retain")
		if got.Events != want.events || got.Done != want.done {
			t.Fatalf("Retain call %d: %d events, done %v; want %d, %v", i+1, got.Events, got.Done, want.events, want.done)
		}
		total.Events += got.Events
		total.Deliveries += got.Deliveries
		total.Attempts += got.Attempts
	}
	if total.Events != 6 || total.Deliveries != 7 || total.Attempts != 3 {
		t.Errorf("Retain removed %d events, %d deliveries, %d attempts; want 6, 7, 3", total.Events, total.Deliveries, total.Attempts)
	}

	_, err := s.APIKeyByHash(ctx, expired.Hash)
	wantErr(t, err, store.ErrNotFound, "APIKeyByHash of a key expired before the cut")
	for _, k := range []*herald.APIKey{atCutKey, forever} {
		_, err := s.APIKeyByHash(ctx, k.Hash)
		noErr(t, err, "APIKeyByHash of a kept key")
	}

	for _, ev := range old {
		_, err := s.EventGet(ctx, ev.AppID, ev.ID)
		wantErr(t, err, store.ErrNotFound, "EventGet of a removed event")
		_, err = s.DeliveryGet(ctx, ev.AppID, delivered[ev.ID])
		wantErr(t, err, store.ErrNotFound, "DeliveryGet of a removed delivery")
	}
	_, err = s.DeliveryGet(ctx, a.ID, manual.ID)
	wantErr(t, err, store.ErrNotFound, "DeliveryGet of a removed manual delivery")

	for _, ev := range newer {
		got, err := s.EventGet(ctx, ev.AppID, ev.ID)
		noErr(t, err, "EventGet of a kept event")
		equal(t, "kept event", got, ev)
		equal(t, "kept delivery", getDelivery(t, s, ev.AppID, delivered[ev.ID]), keep[ev.ID])
	}
	if n := len(keep[newer[1].ID].Attempts); n != 2 {
		t.Errorf("kept delivery: %d attempts, want 2", n)
	}
	evs, err := s.EventList(ctx, store.EventListParams{AppID: a.ID})
	noErr(t, err, "EventList")
	equal(t, "a's events", evs, []*herald.Event{newer[1], atCut})
	ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: b.ID})
	noErr(t, err, "DeliveryList")
	if len(ds) != 1 || ds[0].ID != delivered[newer[2].ID] {
		t.Errorf("b's deliveries: %s, want only %s", dump(ds), delivered[newer[2].ID])
	}
	// The removed deliveries are no longer claimable; the kept one is.
	var claimed []string
	for _, j := range claim(t, s, store.ClaimParams{Now: at(24 * time.Hour), LeaseUntil: at(48 * time.Hour), Limit: 100}) {
		claimed = append(claimed, j.Event.ID)
	}
	if len(claimed) != 2 {
		t.Errorf("claim after Retain: events %v, want %s and %s", claimed, atCut.ID, newer[2].ID)
	}

	// Batch 0 takes the default, more than what is left: one call.
	got, err := s.Retain(ctx, store.RetainParams{Before: at(time.Hour)})
	noErr(t, err, "Retain with the default batch")
	if got.Events != 3 || got.Deliveries != 3 || got.Attempts != 2 || !got.Done {
		t.Errorf("Retain with the default batch: %+v, want 3 events, 3 deliveries, 2 attempts, done", got)
	}
	evs, err = s.EventList(ctx, store.EventListParams{AppID: a.ID})
	noErr(t, err, "EventList")
	equal(t, "a's events after removing all", evs, []*herald.Event{})
}

func heartbeat(t *testing.T, s store.Store, node string, now time.Time, within time.Duration, want int) {
	t.Helper()
	n, err := s.NodeHeartbeat(t.Context(), node, now, within)
	noErr(t, err, "NodeHeartbeat")
	if n != want {
		t.Errorf("NodeHeartbeat(%s, %v): %d nodes, want %d", node, now.Sub(us(t0)), n, want)
	}
}

// testNodeHeartbeat: a node is alive within `within` of its last
// heartbeat (the bound included), counted once however often it beats;
// the caller always counts.
func testNodeHeartbeat(t *testing.T, s store.Store) {
	base := us(t0)
	w := time.Minute
	heartbeat(t, s, "n1", base, w, 1)
	heartbeat(t, s, "n2", base.Add(10*time.Second), w, 2)
	heartbeat(t, s, "n1", base.Add(20*time.Second), w, 2)
	heartbeat(t, s, "n1", base.Add(30*time.Second), w, 2)
	heartbeat(t, s, "n3", base.Add(40*time.Second), w, 3)
	// n2 was last seen exactly `within` ago: still alive.
	heartbeat(t, s, "n3", base.Add(70*time.Second), w, 3)
	// n2 is gone; n1 seen 60 s ago is alive.
	heartbeat(t, s, "n3", base.Add(90*time.Second), w, 2)
	// Long after, the others are forgotten.
	heartbeat(t, s, "n2", base.Add(time.Hour), w, 1)
	heartbeat(t, s, "n1", base.Add(time.Hour+time.Second), w, 2)
	// A wider window sees more.
	heartbeat(t, s, "n3", base.Add(2*time.Hour), 2*time.Hour, 3)
}

// watchReturn is how long a WatchDue call may take to return after its
// context ends, or to return at once.
const watchReturn = 5 * time.Second

// testWatchDueReturns: WatchDue ends when its context does, with nil or
// the context's error (a single-node store returns nil at once).
func testWatchDueReturns(t *testing.T, s store.Store) {
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.WatchDue(ctx, func() {}) }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			t.Errorf("WatchDue: %v, want nil or the context's error", err)
		}
	case <-time.After(watchReturn):
		t.Fatalf("WatchDue did not return %v after its context ended", watchReturn)
	}

	ended, cancel := context.WithCancel(t.Context())
	cancel()
	go func() { done <- s.WatchDue(ended, func() {}) }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("WatchDue with an ended context: %v, want nil or context.Canceled", err)
		}
	case <-time.After(watchReturn):
		t.Fatalf("WatchDue with an ended context did not return within %v", watchReturn)
	}
}

// testWatchDueNotified: a store that watches (several nodes) calls fn
// when a delivery becomes due through the same store. A store that
// returns nil at once from WatchDue, even with a live context, has a
// single node and is skipped.
func testWatchDueNotified(t *testing.T, s store.Store) {
	ended, cancelEnded := context.WithCancel(t.Context())
	cancelEnded()
	probe := make(chan error, 1)
	go func() { probe <- s.WatchDue(ended, func() {}) }()
	select {
	case err := <-probe:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("WatchDue with an ended context: %v", err)
		}
	case <-time.After(watchReturn):
		t.Fatalf("WatchDue with an ended context did not return within %v", watchReturn)
	}

	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)

	// Calls of fn before the first enqueue (a store may call it when it
	// starts watching, for what it may have missed) prove nothing.
	var enqueued atomic.Bool
	called := make(chan struct{}, 1)
	fn := func() {
		if enqueued.Load() {
			select {
			case called <- struct{}{}:
			default:
			}
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.WatchDue(ctx, fn) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WatchDue with a live context returned at once: %v", err)
		}
		t.Skip("single-node store: WatchDue returns at once")
	case <-time.After(500 * time.Millisecond):
	}

	// The watch may not be listening yet when the first delivery is
	// made: make one more every 250 ms until fn is called.
	deadline := time.After(watchReturn)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		enqueued.Store(true)
		enqueue(t, s, store.EnqueueParams{Route: routeAll}, newEvent(a.ID, "e", at(time.Duration(n)*time.Second)))
		select {
		case <-called:
		case err := <-done:
			t.Fatalf("WatchDue returned before its context ended: %v", err)
		case <-deadline:
			t.Fatalf("WatchDue: fn not called within %v of a new due delivery", watchReturn)
		case <-tick.C:
			continue
		}
		break
	}

	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("WatchDue after its context ended: %v, want nil or context.Canceled", err)
		}
	case <-time.After(watchReturn):
		t.Fatalf("WatchDue did not return within %v after its context ended", watchReturn)
	}
}
