package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// manualCases cover what is done on request: deliveries made by hand,
// resends, recoveries, test sends and the jobs that track them.
var manualCases = []testCase{
	{"DeliveriesCreate", testDeliveriesCreate},
	{"DeliveriesCreate/not_found", testDeliveriesCreateNotFound},
	{"DeliveryJob", testDeliveryJob},
	{"DeliveriesRequeue", testDeliveriesRequeue},
	{"TestSendRecord", testTestSendRecord},
	{"BulkJob", testBulkJob},
}

func testDeliveriesCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	ep := mkEndpoint(t, s, a.ID, "subscribed.elsewhere")
	e1, e2 := newEvent(a.ID, "old.event", t0), newEvent(a.ID, "old.event", at(time.Second))
	e2.Routing = &herald.Routing{Matched: []string{}, Skipped: []herald.Skip{}}
	enqueue(t, s, store.EnqueueParams{Route: routeNone}, e1, e2)

	now := at(time.Hour)
	later := at(2 * time.Hour)
	d1 := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), AppID: a.ID, EventID: e1.ID, EndpointID: ep.ID,
		EventType: e1.EventType, Status: herald.StatusPending, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now}
	d2 := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), AppID: a.ID, EventID: e2.ID, EndpointID: ep.ID,
		EventType: e2.EventType, Status: herald.StatusPending, NextAttemptAt: &later, Test: true, CreatedAt: now, UpdatedAt: now}
	noErr(t, s.DeliveriesCreate(ctx, []*herald.Delivery{d1, d2}), "DeliveriesCreate")
	noErr(t, s.DeliveriesCreate(ctx, nil), "DeliveriesCreate of nothing")

	for _, d := range []*herald.Delivery{d1, d2} {
		want := *d
		want.Attempts = []*herald.Attempt{}
		equal(t, "created delivery", getDelivery(t, s, a.ID, d.ID), &want)
	}
	next, err := s.NextDueAt(ctx)
	noErr(t, err, "NextDueAt")
	if next == nil || !next.Equal(us(now)) {
		t.Errorf("NextDueAt: %v, want %v", next, us(now))
	}

	// Claimable when due, unleased, with their event and endpoint.
	equalIDs(t, "claim before due", jobIDs(claim(t, s, store.ClaimParams{Now: now.Add(-time.Microsecond), Limit: 10})), nil)
	jobs := claim(t, s, store.ClaimParams{Now: later, Limit: 10})
	equalIDs(t, "claim", jobIDs(jobs), []string{d1.ID, d2.ID})
	for _, j := range jobs {
		ev := e1
		if j.Delivery.ID == d2.ID {
			ev = e2
		}
		equal(t, "job event", j.Event, ev)
		equal(t, "job endpoint", j.Endpoint, ep)
		if j.Delivery.Test != (j.Delivery.ID == d2.ID) {
			t.Errorf("job %s: Test %v", j.Delivery.ID, j.Delivery.Test)
		}
	}

	wantErr(t, s.DeliveriesCreate(ctx, []*herald.Delivery{d1}), store.ErrConflict, "DeliveriesCreate with a taken id")
}

// testDeliveriesCreateNotFound: a delivery whose event or endpoint is not
// the app's, or whose endpoint is deleted, fails the whole call.
func testDeliveriesCreateNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	ep, epB, gone := mkEndpoint(t, s, a.ID), mkEndpoint(t, s, b.ID), mkEndpoint(t, s, a.ID)
	noErr(t, s.EndpointDelete(ctx, a.ID, gone.ID, t0), "EndpointDelete")
	ev, evB := newEvent(a.ID, "e", t0), newEvent(b.ID, "e", t0)
	enqueue(t, s, store.EnqueueParams{Route: routeNone}, ev, evB)

	mk := func(eventID, endpointID string) *herald.Delivery {
		return &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), AppID: a.ID, EventID: eventID, EndpointID: endpointID,
			EventType: "e", Status: herald.StatusPending, CreatedAt: t0, UpdatedAt: t0}
	}
	good := mk(ev.ID, ep.ID)
	for _, c := range []struct {
		name string
		bad  *herald.Delivery
	}{
		{"missing event", mk("evt_missing", ep.ID)},
		{"another app's event", mk(evB.ID, ep.ID)},
		{"another app's endpoint", mk(ev.ID, epB.ID)},
		{"deleted endpoint", mk(ev.ID, gone.ID)},
	} {
		wantErr(t, s.DeliveriesCreate(ctx, []*herald.Delivery{good, c.bad}), store.ErrNotFound, "DeliveriesCreate with "+c.name)
	}
	ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: a.ID})
	noErr(t, err, "DeliveryList")
	if len(ds) != 0 {
		t.Errorf("refused calls stored %d deliveries", len(ds))
	}
	// Without a time, it is due at its creation.
	noErr(t, s.DeliveriesCreate(ctx, []*herald.Delivery{good}), "DeliveriesCreate")
	equalIDs(t, "claim", jobIDs(claim(t, s, store.ClaimParams{Now: t0, Limit: 10})), []string{good.ID})
}

func testDeliveryJob(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	ep := mkEndpoint(t, s, a.ID)
	ev := newEvent(a.ID, "e", t0)
	ev.Routing = &herald.Routing{Matched: []string{ep.ID}, Skipped: []herald.Skip{}}
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll}, ev)
	id := res[0].Jobs[0].Delivery.ID
	claim(t, s, store.ClaimParams{Now: t0, Limit: 10})
	record(t, s, store.AttemptResult{Attempt: attempt(id, 1, t0, 400), Status: herald.StatusFailed, Now: at(time.Second)})

	j, err := s.DeliveryJob(ctx, a.ID, id)
	noErr(t, err, "DeliveryJob")
	want := getDelivery(t, s, a.ID, id)
	want.Attempts = j.Delivery.Attempts // not asked for
	equal(t, "job delivery", j.Delivery, want)
	equal(t, "job event", j.Event, ev)
	equal(t, "job endpoint", j.Endpoint, ep)
	if j.Leased {
		t.Errorf("DeliveryJob: marked leased")
	}

	// A disabled endpoint's delivery may be sent again by hand.
	off := *ep
	off.Enabled = false
	noErr(t, s.EndpointUpdate(ctx, &off), "EndpointUpdate")
	_, err = s.DeliveryJob(ctx, a.ID, id)
	noErr(t, err, "DeliveryJob of a disabled endpoint")

	_, err = s.DeliveryJob(ctx, b.ID, id)
	wantErr(t, err, store.ErrNotFound, "DeliveryJob through another app")
	_, err = s.DeliveryJob(ctx, a.ID, "dlv_missing")
	wantErr(t, err, store.ErrNotFound, "DeliveryJob missing")
	noErr(t, s.EndpointDelete(ctx, a.ID, ep.ID, at(time.Minute)), "EndpointDelete")
	_, err = s.DeliveryJob(ctx, a.ID, id)
	wantErr(t, err, store.ErrNotFound, "DeliveryJob of a deleted endpoint")
}

func testDeliveriesRequeue(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	mkEndpoint(t, s, a.ID, "e")
	gone := mkEndpoint(t, s, a.ID, "g")
	mkEndpoint(t, s, b.ID)
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll},
		newEvent(a.ID, "e", t0), newEvent(a.ID, "e", at(time.Second)), newEvent(a.ID, "e", at(2*time.Second)),
		newEvent(a.ID, "g", at(3*time.Second)), newEvent(b.ID, "e", at(4*time.Second)))
	var ids []string
	for _, r := range res {
		ids = append(ids, r.Jobs[0].Delivery.ID)
	}
	failed, succeeded, inFlight, goneFailed, otherApp := ids[0], ids[1], ids[2], ids[3], ids[4]

	claim(t, s, store.ClaimParams{Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 10})
	rec := at(2 * time.Minute)
	record(t, s,
		store.AttemptResult{Attempt: attempt(failed, 1, rec, 500), Status: herald.StatusFailed, Now: rec},
		store.AttemptResult{Attempt: attempt(succeeded, 1, rec, 200), Status: herald.StatusSucceeded, Now: rec},
		store.AttemptResult{Attempt: attempt(goneFailed, 1, rec, 500), Status: herald.StatusFailed, Now: rec},
		store.AttemptResult{Attempt: attempt(otherApp, 1, rec, 500), Status: herald.StatusFailed, Now: rec},
	)
	noErr(t, s.EndpointDelete(ctx, a.ID, gone.ID, at(3*time.Minute)), "EndpointDelete")
	goneBefore := getDelivery(t, s, a.ID, goneFailed)
	otherBefore := getDelivery(t, s, b.ID, otherApp)

	// Over a thousand ids, most unknown, so that the call spans chunks.
	var list []string
	for i := range 1200 {
		list = append(list, fmt.Sprintf("dlv_unknown_%04d", i))
	}
	list = append(list, failed, succeeded, inFlight, goneFailed, otherApp)
	slices.Reverse(list)
	now := at(time.Hour)
	n, err := s.DeliveriesRequeue(ctx, a.ID, list, now)
	noErr(t, err, "DeliveriesRequeue")
	if n != 3 {
		t.Errorf("DeliveriesRequeue: %d changed, want 3", n)
	}

	for _, c := range []struct {
		id        string
		attempts  int
		lastError string
	}{{failed, 1, "HTTP 500"}, {succeeded, 1, ""}, {inFlight, 0, ""}} {
		d := getDelivery(t, s, a.ID, c.id)
		if d.Status != herald.StatusPending || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(us(now)) ||
			!d.UpdatedAt.Equal(us(now)) || d.AttemptCount != c.attempts || len(d.Attempts) != c.attempts || d.LastError != c.lastError {
			t.Errorf("requeued %s: status %s, next %v, updated %v, %d/%d attempts, last error %q; want pending, %v, %v, %d, %q",
				c.id, d.Status, d.NextAttemptAt, d.UpdatedAt, d.AttemptCount, len(d.Attempts), d.LastError,
				us(now), us(now), c.attempts, c.lastError)
		}
	}
	equal(t, "deleted endpoint's delivery", getDelivery(t, s, a.ID, goneFailed), goneBefore)
	equal(t, "other app's delivery", getDelivery(t, s, b.ID, otherApp), otherBefore)

	// All three are due now and unleased, the one in flight included.
	jobs := claim(t, s, store.ClaimParams{Owner: "node-2", Now: now, Limit: 10})
	got := jobIDs(jobs)
	slices.Sort(got)
	want := []string{failed, succeeded, inFlight}
	slices.Sort(want)
	equalIDs(t, "claim after requeue", got, want)

	n, err = s.DeliveriesRequeue(ctx, a.ID, nil, now)
	noErr(t, err, "DeliveriesRequeue of nothing")
	if n != 0 {
		t.Errorf("DeliveriesRequeue of nothing: %d changed", n)
	}
}

func testTestSendRecord(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	ep := mkEndpoint(t, s, a.ID, "not.this.one")
	now := at(time.Hour)
	ev := newEvent(a.ID, "lead.created", now)
	ev.Routing = &herald.Routing{Matched: []string{ep.ID}, Skipped: []herald.Skip{}}
	d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), AppID: a.ID, EventID: ev.ID, EndpointID: ep.ID,
		EventType: ev.EventType, Status: herald.StatusFailed, AttemptCount: 1, Test: true,
		CreatedAt: now, UpdatedAt: now.Add(time.Second)}
	att := attempt(d.ID, 1, now, 500)
	att.Trigger = herald.TriggerTest
	noErr(t, s.TestSendRecord(ctx, ev, d, att), "TestSendRecord")

	want := *d
	want.LastError, want.LastErrorKind = att.Error, att.ErrorKind
	want.Attempts = []*herald.Attempt{att}
	equal(t, "test delivery", getDelivery(t, s, a.ID, d.ID), &want)
	got, err := s.EventGet(ctx, a.ID, ev.ID)
	noErr(t, err, "EventGet")
	equal(t, "test event", got, ev)
	ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: a.ID, EndpointID: ep.ID})
	noErr(t, err, "DeliveryList")
	if len(ds) != 1 || !ds[0].Test {
		t.Errorf("DeliveryList: %s, want the test delivery", dump(ds))
	}

	// Never sent again.
	next, err := s.NextDueAt(ctx)
	noErr(t, err, "NextDueAt")
	if next != nil {
		t.Errorf("NextDueAt: %v, want nil", next)
	}
	equalIDs(t, "claim", jobIDs(claim(t, s, store.ClaimParams{Now: at(24 * time.Hour), Limit: 10})), nil)

	// An app that is gone stores nothing.
	lost := newEvent("app_missing", "e", now)
	ld := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), AppID: "app_missing", EventID: lost.ID, EndpointID: ep.ID,
		EventType: "e", Status: herald.StatusSucceeded, AttemptCount: 1, Test: true, CreatedAt: now, UpdatedAt: now}
	wantErr(t, s.TestSendRecord(ctx, lost, ld, attempt(ld.ID, 1, now, 200)), store.ErrNotFound, "TestSendRecord of a missing app")
	_, err = s.DeliveryGet(ctx, "app_missing", ld.ID)
	wantErr(t, err, store.ErrNotFound, "DeliveryGet of the refused test send")
}

func testBulkJob(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	j := &herald.BulkJob{ID: herald.NewID("job_"), AppID: a.ID, Kind: "recover", State: herald.JobRunning, CreatedAt: t0, UpdatedAt: t0}
	noErr(t, s.BulkJobCreate(ctx, j), "BulkJobCreate")
	got, err := s.BulkJobGet(ctx, a.ID, j.ID)
	noErr(t, err, "BulkJobGet")
	equal(t, "job", got, j)

	j.Total, j.Done, j.UpdatedAt = 1000, 200, at(time.Second)
	noErr(t, s.BulkJobUpdate(ctx, j), "BulkJobUpdate")
	j.Done, j.State, j.Error, j.UpdatedAt = 400, herald.JobFailed, "interrupted by shutdown", at(2*time.Second)
	noErr(t, s.BulkJobUpdate(ctx, j), "BulkJobUpdate")
	got, err = s.BulkJobGet(ctx, a.ID, j.ID)
	noErr(t, err, "BulkJobGet")
	equal(t, "updated job", got, j)

	_, err = s.BulkJobGet(ctx, b.ID, j.ID)
	wantErr(t, err, store.ErrNotFound, "BulkJobGet through another app")
	_, err = s.BulkJobGet(ctx, a.ID, "job_missing")
	wantErr(t, err, store.ErrNotFound, "BulkJobGet missing")
	other := *j
	other.AppID = b.ID
	wantErr(t, s.BulkJobUpdate(ctx, &other), store.ErrNotFound, "BulkJobUpdate through another app")
	missing := *j
	missing.ID = "job_missing"
	wantErr(t, s.BulkJobUpdate(ctx, &missing), store.ErrNotFound, "BulkJobUpdate missing")
	wantErr(t, s.BulkJobCreate(ctx, j), store.ErrConflict, "BulkJobCreate with a taken id")
	orphan := &herald.BulkJob{ID: herald.NewID("job_"), AppID: "app_missing", Kind: "recover", State: herald.JobRunning, CreatedAt: t0, UpdatedAt: t0}
	wantErr(t, s.BulkJobCreate(ctx, orphan), store.ErrNotFound, "BulkJobCreate of a missing app")
}
