package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var deliveryCases = []testCase{
	{"DeliveriesClaim/due_order", testClaimDueOrder},
	{"DeliveriesClaim/limit", testClaimLimit},
	{"DeliveriesClaim/per_endpoint", testClaimPerEndpoint},
	{"DeliveriesClaim/per_endpoint_long_backlog", testClaimPerEndpointLongBacklog},
	{"DeliveriesClaim/endpoint_id", testClaimEndpointID},
	{"DeliveriesClaim/disabled_endpoint", testClaimDisabledEndpoint},
	{"DeliveriesClaim/broker_endpoint", testClaimBrokerEndpoint},
	{"DeliveriesClaim/expired_leases_of_owners", testClaimExpiredOwners},
	{"DeliveriesRecord/success", testRecordSuccess},
	{"DeliveriesRecord/retry", testRecordRetry},
	{"DeliveriesRecord/failure", testRecordFailure},
	{"DeliveriesRecord/attempts_in_order", testRecordAttemptsInOrder},
	{"DeliveriesRecord/batch", testRecordBatch},
	{"DeliveriesRecord/vanished_delivery", testRecordVanished},
	{"DeliveriesRecord/endpoint_deleted_in_flight", testRecordEndpointDeleted},
	{"DeliveriesRecord/large_batch", testRecordLargeBatch},
	{"DeliveriesRecord/body_without_payload", testRecordBodyWithoutPayload},
	{"DeliveriesRecord/last_error_kind", testRecordLastErrorKind},
	{"DeliveriesRelease", testRelease},
	{"LeasesExtend", testLeasesExtend},
	{"LeasesReleaseAll", testLeasesReleaseAll},
	{"NextDueAt", testNextDueAt},
	{"DeliveryGet/other_app", testDeliveryGetOtherApp},
	{"DeliveryList/filters", testDeliveryListFilters},
	{"DeliveryList/paging", testDeliveryListPaging},
	{"DeliveryList/latest_attempt", testDeliveryListLatestAttempt},
	{"DeliveryList/every_app", testDeliveryListEveryApp},
}

// testClaimExpiredOwners: a claim takes over the leases that ran out
// whoever holds them, in due order, and leaves the others alone.
func testClaimExpiredOwners(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(time.Minute), at(2*time.Minute), at(3*time.Minute), at(4*time.Minute), at(5*time.Minute))

	now := at(5 * time.Minute)
	equalIDs(t, "claim of node-a", jobIDs(claim(t, s, store.ClaimParams{Owner: "node-a", Now: now, LeaseUntil: at(10 * time.Minute), Limit: 2})), ids[0:2])
	equalIDs(t, "claim of node-b", jobIDs(claim(t, s, store.ClaimParams{Owner: "node-b", Now: now, LeaseUntil: at(20 * time.Minute), Limit: 2})), ids[2:4])
	equalIDs(t, "claim of node-c", jobIDs(claim(t, s, store.ClaimParams{Owner: "node-c", Now: now, LeaseUntil: at(15 * time.Minute), Limit: 2})), ids[4:5])

	jobs := claim(t, s, store.ClaimParams{Owner: "node-d", Now: at(16 * time.Minute), LeaseUntil: at(time.Hour), Limit: 10})
	equalIDs(t, "claim after the leases of node-a and node-c ran out", jobIDs(jobs), []string{ids[0], ids[1], ids[4]})
	jobs = claim(t, s, store.ClaimParams{Owner: "node-e", Now: at(20 * time.Minute), LeaseUntil: at(time.Hour), Limit: 10})
	equalIDs(t, "claim as the lease of node-b ends", jobIDs(jobs), nil)
	jobs = claim(t, s, store.ClaimParams{Owner: "node-e", Now: at(20*time.Minute + time.Microsecond), LeaseUntil: at(time.Hour), Limit: 10})
	equalIDs(t, "claim after the lease of node-b ran out", jobIDs(jobs), ids[2:4])
}

func testClaimDueOrder(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	ep := mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(3*time.Minute), at(time.Minute), at(2*time.Minute), at(10*time.Minute))

	jobs := claim(t, s, store.ClaimParams{Now: at(5 * time.Minute), LeaseUntil: at(6 * time.Minute), Limit: 10})
	equalIDs(t, "claim in due order", jobIDs(jobs), []string{ids[1], ids[2], ids[0]})
	for _, j := range jobs {
		if j.Endpoint.ID != ep.ID || j.Endpoint.Secret != ep.Secret || j.Endpoint.URL != ep.URL {
			t.Errorf("job %s: endpoint %s with secret %q, want %s with %q", j.Delivery.ID, j.Endpoint.ID, j.Endpoint.Secret, ep.ID, ep.Secret)
		}
		if j.Event.ID != j.Delivery.EventID || len(j.Event.Payload) == 0 {
			t.Errorf("job %s: event %s with payload %q, want %s with its payload", j.Delivery.ID, j.Event.ID, j.Event.Payload, j.Delivery.EventID)
		}
		ev, err := s.EventGet(t.Context(), a.ID, j.Event.ID)
		noErr(t, err, "EventGet")
		equal(t, "job event", j.Event, ev)
		if j.Delivery.Status != herald.StatusPending || j.Delivery.NextAttemptAt == nil {
			t.Errorf("job %s: status %s, next attempt %v", j.Delivery.ID, j.Delivery.Status, j.Delivery.NextAttemptAt)
		}
	}

	// Leased: another owner gets nothing until the lease runs out. Then
	// the expired leases and a released delivery come in due order.
	jobs = claim(t, s, store.ClaimParams{Owner: "node-2", Now: at(5 * time.Minute), Limit: 10})
	equalIDs(t, "claim of leased deliveries", jobIDs(jobs), nil)
	noErr(t, s.DeliveriesRelease(t.Context(), "node-1", ids[2:3]), "DeliveriesRelease")
	jobs = claim(t, s, store.ClaimParams{Owner: "node-2", Now: at(7 * time.Minute), LeaseUntil: at(time.Hour), Limit: 10})
	equalIDs(t, "claim after the lease ran out", jobIDs(jobs), []string{ids[1], ids[2], ids[0]})

	// Not yet due until its time.
	jobs = claim(t, s, store.ClaimParams{Owner: "node-3", Now: at(10*time.Minute - time.Microsecond), Limit: 10})
	equalIDs(t, "claim before due", jobIDs(jobs), nil)
	jobs = claim(t, s, store.ClaimParams{Owner: "node-3", Now: at(10 * time.Minute), Limit: 10})
	equalIDs(t, "claim when due", jobIDs(jobs), []string{ids[3]})
}

func testClaimLimit(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(0), at(time.Second), at(2*time.Second), at(3*time.Second), at(4*time.Second))
	now := at(time.Minute)
	var got []string
	for _, want := range []int{2, 2, 1, 0} {
		jobs := claim(t, s, store.ClaimParams{Now: now, Limit: 2, LeaseUntil: at(time.Hour)})
		if len(jobs) != want {
			t.Fatalf("claim of 2: %d jobs, want %d", len(jobs), want)
		}
		got = append(got, jobIDs(jobs)...)
	}
	equalIDs(t, "claims of 2", got, ids)
}

func testClaimPerEndpoint(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	busy := mkEndpoint(t, s, a.ID, "busy")
	quiet := mkEndpoint(t, s, a.ID, "quiet")
	var evs []*herald.Event
	for i := range 6 {
		evs = append(evs, newEvent(a.ID, "busy", at(time.Duration(i)*time.Second)))
	}
	evs = append(evs, newEvent(a.ID, "quiet", at(10*time.Second)), newEvent(a.ID, "quiet", at(11*time.Second)))
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll}, evs...)
	var ids []string
	for _, r := range res {
		ids = append(ids, r.Jobs[0].Delivery.ID)
	}

	jobs := claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 10, PerEndpoint: 3})
	equalIDs(t, "claim with 3 per endpoint", jobIDs(jobs), []string{ids[0], ids[1], ids[2], ids[6], ids[7]})
	count := map[string]int{}
	for _, j := range jobs {
		count[j.Endpoint.ID]++
	}
	if count[busy.ID] != 3 || count[quiet.ID] != 2 {
		t.Errorf("per endpoint: %v", count)
	}

	// The rest comes with the next claim; the limit still applies.
	jobs = claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 2, PerEndpoint: 3})
	equalIDs(t, "next claim", jobIDs(jobs), []string{ids[3], ids[4]})
}

// testClaimPerEndpointLongBacklog: one endpoint's backlog, due first and
// longer than a claim, must not hide the other endpoints' deliveries.
func testClaimPerEndpointLongBacklog(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	busy := mkEndpoint(t, s, a.ID, "busy")
	q1 := mkEndpoint(t, s, a.ID, "q1")
	q2 := mkEndpoint(t, s, a.ID, "q2")
	var evs []*herald.Event
	for i := range 250 {
		evs = append(evs, newEvent(a.ID, "busy", at(time.Duration(i)*time.Microsecond)))
	}
	evs = append(evs, newEvent(a.ID, "q1", at(time.Second)), newEvent(a.ID, "q2", at(2*time.Second)), newEvent(a.ID, "q1", at(3*time.Second)))
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll}, evs...)
	first := func(i int) string { return res[i].Jobs[0].Delivery.ID }

	jobs := claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 3, PerEndpoint: 1})
	equalIDs(t, "claim of 3, 1 per endpoint", jobIDs(jobs), []string{first(0), first(250), first(251)})
	jobs = claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 5, PerEndpoint: 2})
	equalIDs(t, "next claim of 5, 2 per endpoint", jobIDs(jobs), []string{first(1), first(2), first(252)})
	for _, j := range jobs {
		if j.Endpoint.ID != busy.ID && j.Endpoint.ID != q1.ID && j.Endpoint.ID != q2.ID {
			t.Errorf("job of endpoint %s", j.Endpoint.ID)
		}
	}
}

func testClaimEndpointID(t *testing.T, s store.Store) {
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	mkEndpoint(t, s, a.ID)
	epB := mkEndpoint(t, s, b.ID)
	idsA := mkDeliveries(t, s, a.ID, at(0), at(time.Second))
	idsB := mkDeliveries(t, s, b.ID, at(2*time.Second), at(3*time.Second))

	jobs := claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 10, EndpointID: epB.ID})
	equalIDs(t, "claim of one endpoint", jobIDs(jobs), idsB)
	jobs = claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 10})
	equalIDs(t, "claim of the rest", jobIDs(jobs), idsA)
}

func testClaimDisabledEndpoint(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	off := mkEndpoint(t, s, a.ID)
	on := mkEndpoint(t, s, a.ID)
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll}, newEvent(a.ID, "e", t0))
	var offID, onID string
	for _, j := range res[0].Jobs {
		switch j.Endpoint.ID {
		case off.ID:
			offID = j.Delivery.ID
		case on.ID:
			onID = j.Delivery.ID
		}
	}
	off.Enabled = false
	noErr(t, s.EndpointUpdate(ctx, off), "EndpointUpdate disable")

	next, err := s.NextDueAt(ctx)
	noErr(t, err, "NextDueAt")
	if next == nil || !next.Equal(us(t0)) {
		t.Errorf("NextDueAt: %v, want %v", next, us(t0))
	}
	jobs := claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 10})
	equalIDs(t, "claim with a disabled endpoint", jobIDs(jobs), []string{onID})
	next, err = s.NextDueAt(ctx)
	noErr(t, err, "NextDueAt")
	if next != nil {
		t.Errorf("NextDueAt with only a disabled endpoint's delivery: %v, want nil", next)
	}

	off.Enabled = true
	noErr(t, s.EndpointUpdate(ctx, off), "EndpointUpdate enable")
	jobs = claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 10})
	equalIDs(t, "claim after enabling", jobIDs(jobs), []string{offID})
}

// testClaimBrokerEndpoint: Herald sends a broker endpoint's deliveries
// itself, so they are claimed (and due) like a push endpoint's; a pull
// endpoint's are not.
func testClaimBrokerEndpoint(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	nats := newEndpoint(a.ID)
	nats.Kind, nats.URL = herald.KindNATS, ""
	nats.Destination = &herald.Destination{URL: "nats://127.0.0.1:4222", Subject: "s"}
	noErr(t, s.EndpointCreate(ctx, nats), "EndpointCreate nats")
	pull := newEndpoint(a.ID)
	pull.Kind, pull.URL = herald.EndpointPull, ""
	noErr(t, s.EndpointCreate(ctx, pull), "EndpointCreate pull")
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll}, newEvent(a.ID, "e", t0))
	var natsID string
	for _, j := range res[0].Jobs {
		if j.Endpoint.ID == nats.ID {
			natsID = j.Delivery.ID
		}
	}
	next, err := s.NextDueAt(ctx)
	noErr(t, err, "NextDueAt")
	if next == nil || !next.Equal(us(t0)) {
		t.Errorf("NextDueAt: %v, want %v", next, us(t0))
	}
	jobs := claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 10})
	equalIDs(t, "claim with a broker and a pull endpoint", jobIDs(jobs), []string{natsID})
	if len(jobs) == 1 && (jobs[0].Endpoint.Destination == nil || jobs[0].Endpoint.Destination.Subject != "s") {
		t.Errorf("claimed job's endpoint destination: %+v", jobs[0].Endpoint.Destination)
	}
}

func testRecordSuccess(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, t0)
	claim(t, s, store.ClaimParams{Now: at(time.Second), Limit: 10})

	now := at(2 * time.Second)
	at1 := attempt(ids[0], 1, at(time.Second), 200)
	record(t, s, store.AttemptResult{Attempt: at1, Status: herald.StatusSucceeded, Now: now})

	d := getDelivery(t, s, a.ID, ids[0])
	if d.Status != herald.StatusSucceeded || d.AttemptCount != 1 || d.NextAttemptAt != nil || d.LastError != "" {
		t.Errorf("delivery: status %s, %d attempts, next %v, last error %q; want succeeded, 1, nil, empty",
			d.Status, d.AttemptCount, d.NextAttemptAt, d.LastError)
	}
	if !d.UpdatedAt.Equal(us(now)) || !d.CreatedAt.Equal(us(t0)) {
		t.Errorf("delivery: created %v, updated %v; want %v, %v", d.CreatedAt, d.UpdatedAt, us(t0), us(now))
	}
	equal(t, "attempts", d.Attempts, []*herald.Attempt{at1})

	next, err := s.NextDueAt(ctx)
	noErr(t, err, "NextDueAt")
	if next != nil {
		t.Errorf("NextDueAt after success: %v, want nil", next)
	}
	noErr(t, s.LeasesReleaseAll(ctx), "LeasesReleaseAll")
	equalIDs(t, "claim after success", jobIDs(claim(t, s, store.ClaimParams{Now: at(time.Hour), Limit: 10})), nil)
}

func testRecordRetry(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, t0)
	claim(t, s, store.ClaimParams{Now: at(time.Second), LeaseUntil: at(time.Hour), Limit: 10})

	retryAt := at(10 * time.Minute)
	at1 := attempt(ids[0], 1, at(time.Second), 503)
	record(t, s, store.AttemptResult{Attempt: at1, Status: herald.StatusPending, NextAttemptAt: &retryAt, Now: at(2 * time.Second)})

	d := getDelivery(t, s, a.ID, ids[0])
	if d.Status != herald.StatusPending || d.AttemptCount != 1 || d.LastError != "HTTP 503" {
		t.Errorf("delivery: status %s, %d attempts, last error %q; want pending, 1, \"HTTP 503\"", d.Status, d.AttemptCount, d.LastError)
	}
	if d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(us(retryAt)) {
		t.Errorf("next attempt: %v, want %v", d.NextAttemptAt, us(retryAt))
	}
	next, err := s.NextDueAt(ctx)
	noErr(t, err, "NextDueAt")
	if next == nil || !next.Equal(us(retryAt)) {
		t.Errorf("NextDueAt: %v, want %v", next, us(retryAt))
	}

	// The lease is gone (it ran to an hour), and the retry waits for its time.
	equalIDs(t, "claim before the retry", jobIDs(claim(t, s, store.ClaimParams{Now: at(5 * time.Minute), Limit: 10})), nil)
	equalIDs(t, "claim at the retry", jobIDs(claim(t, s, store.ClaimParams{Now: retryAt, Limit: 10})), ids)
}

func testRecordFailure(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, t0)
	claim(t, s, store.ClaimParams{Now: at(time.Second), Limit: 10})

	at1 := &herald.Attempt{
		ID:         herald.NewID(herald.PrefixAttempt),
		DeliveryID: ids[0],
		Number:     1,
		CreatedAt:  at(time.Second),
		Trigger:    herald.TriggerScheduled,
		Request:    herald.AttemptRequest{Method: "POST", URL: "https://unreachable.example/", Headers: map[string]string{}, Body: "{}"},
		LatencyMS:  0.5,
		ErrorKind:  herald.ErrorKindConnect,
		Error:      "connection refused",
	}
	record(t, s, store.AttemptResult{Attempt: at1, Status: herald.StatusFailed, Now: at(2 * time.Second)})

	d := getDelivery(t, s, a.ID, ids[0])
	if d.Status != herald.StatusFailed || d.AttemptCount != 1 || d.NextAttemptAt != nil || d.LastError != "connection refused" {
		t.Errorf("delivery: status %s, %d attempts, next %v, last error %q; want failed, 1, nil, \"connection refused\"",
			d.Status, d.AttemptCount, d.NextAttemptAt, d.LastError)
	}
	equal(t, "attempts", d.Attempts, []*herald.Attempt{at1})
	if len(d.Attempts) == 1 && d.Attempts[0].Response != nil {
		t.Errorf("attempt without response came back with %+v", d.Attempts[0].Response)
	}
	equalIDs(t, "claim after failure", jobIDs(claim(t, s, store.ClaimParams{Now: at(time.Hour), Limit: 10})), nil)
}

func testRecordAttemptsInOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	// The idle delivery is due only tomorrow, out of the claims below.
	ids := mkDeliveries(t, s, a.ID, t0, at(24*time.Hour))
	target, idle := ids[0], ids[1]

	var want []*herald.Attempt
	for n := 1; n <= 3; n++ {
		now := at(time.Duration(n) * time.Minute)
		jobs := claim(t, s, store.ClaimParams{Now: now, Limit: 1})
		equalIDs(t, "claim", jobIDs(jobs), []string{target})
		status, result, next := 500, herald.StatusPending, now.Add(30*time.Second)
		if n == 3 {
			status, result = 200, herald.StatusSucceeded
		}
		att := attempt(target, n, now, status)
		if n == 2 {
			att.Response = nil
			att.ErrorKind, att.Error = herald.ErrorKindTimeout, "timeout after 15s"
		}
		want = append(want, att)
		record(t, s, store.AttemptResult{Attempt: att, Status: result, NextAttemptAt: &next, Now: now})
	}

	d := getDelivery(t, s, a.ID, target)
	equal(t, "attempts in order", d.Attempts, want)
	if d.AttemptCount != 3 || d.Status != herald.StatusSucceeded || d.NextAttemptAt != nil {
		t.Errorf("delivery: %d attempts, status %s, next %v; want 3, succeeded, nil", d.AttemptCount, d.Status, d.NextAttemptAt)
	}

	ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: a.ID, WithAttempts: true})
	noErr(t, err, "DeliveryList with attempts")
	if len(ds) != 2 {
		t.Fatalf("DeliveryList: %d deliveries, want 2", len(ds))
	}
	for _, d := range ds {
		switch d.ID {
		case target:
			equal(t, "listed attempts", d.Attempts, want)
		case idle:
			if d.Attempts == nil || len(d.Attempts) != 0 {
				t.Errorf("delivery without attempts: %#v, want an empty slice", d.Attempts)
			}
		}
	}
	d = getDelivery(t, s, a.ID, idle)
	if d.Attempts == nil || len(d.Attempts) != 0 {
		t.Errorf("DeliveryGet without attempts: %#v, want an empty slice", d.Attempts)
	}
}

// testRecordBatch records the attempts of deliveries that went in one
// batched request together: each keeps the batch id, and its request's
// headers come back as recorded.
func testRecordBatch(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, t0, t0)
	now := at(time.Minute)
	equalIDs(t, "claim", jobIDs(claim(t, s, store.ClaimParams{Now: now, Limit: 10})), ids)
	batch := herald.NewID(herald.PrefixBatch)
	var rs []store.AttemptResult
	var want []*herald.Attempt
	for _, id := range ids {
		att := attempt(id, 1, now, 200)
		att.Request.Headers["Webhook-Id"] = batch
		att.BatchID = batch
		want = append(want, att)
		rs = append(rs, store.AttemptResult{Attempt: att, Status: herald.StatusSucceeded, Now: now})
	}
	record(t, s, rs...)
	for i, id := range ids {
		d := getDelivery(t, s, a.ID, id)
		equal(t, "batched attempt", d.Attempts, want[i:i+1])
	}
	// An attempt without a batch has none, and no stray header.
	ids = mkDeliveries(t, s, a.ID, at(2*time.Minute))
	later := at(3 * time.Minute)
	equalIDs(t, "claim alone", jobIDs(claim(t, s, store.ClaimParams{Now: later, Limit: 10})), ids)
	alone := attempt(ids[0], 1, later, 200)
	record(t, s, store.AttemptResult{Attempt: alone, Status: herald.StatusSucceeded, Now: later})
	equal(t, "lone attempt", getDelivery(t, s, a.ID, ids[0]).Attempts, []*herald.Attempt{alone})
}

func testRecordVanished(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, t0)
	claim(t, s, store.ClaimParams{Now: at(time.Second), Limit: 10})

	ghost := attempt("dlv_vanished", 1, at(time.Second), 200)
	kept := attempt(ids[0], 1, at(time.Second), 200)
	record(t, s,
		store.AttemptResult{Attempt: ghost, Status: herald.StatusSucceeded, Now: at(time.Second)},
		store.AttemptResult{Attempt: kept, Status: herald.StatusSucceeded, Now: at(time.Second)},
	)
	d := getDelivery(t, s, a.ID, ids[0])
	if d.Status != herald.StatusSucceeded || len(d.Attempts) != 1 {
		t.Errorf("delivery recorded next to a vanished one: status %s with %d attempts", d.Status, len(d.Attempts))
	}
	_, err := s.DeliveryGet(ctx, a.ID, "dlv_vanished")
	wantErr(t, err, store.ErrNotFound, "DeliveryGet vanished")
	noErr(t, s.DeliveriesRecord(ctx, nil), "DeliveriesRecord of nothing")
}

// testRecordLargeBatch records one batch larger than any one statement of
// a driver that writes many rows per statement, with every outcome, a
// vanished delivery, and two attempts of one delivery whose numbers are
// left to the store: the batch must read as its results recorded one by
// one, in order.
func testRecordLargeBatch(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	times := make([]time.Time, 300)
	for i := range times {
		times[i] = t0
	}
	ids := mkDeliveries(t, s, a.ID, times...)
	now := at(time.Minute)
	retryAt := at(time.Hour)
	claim(t, s, store.ClaimParams{Now: now, LeaseUntil: at(time.Hour), Limit: len(ids)})

	var rs []store.AttemptResult
	want := map[string]herald.DeliveryStatus{}
	for i, id := range ids {
		r := store.AttemptResult{Attempt: attempt(id, 1, now, 200), Status: herald.StatusSucceeded, Now: now}
		switch i % 3 {
		case 1:
			r = store.AttemptResult{Attempt: attempt(id, 1, now, 503), Status: herald.StatusPending, NextAttemptAt: &retryAt, Now: now}
		case 2:
			r = store.AttemptResult{Attempt: attempt(id, 1, now, 410), Status: herald.StatusFailed, Now: now}
		}
		want[id] = r.Status
		rs = append(rs, r)
		if i == 150 {
			rs = append(rs, store.AttemptResult{Attempt: attempt("dlv_vanished", 1, now, 200), Status: herald.StatusSucceeded, Now: now})
		}
	}
	// The first delivery twice more, numbered by the store: 2, then 3.
	twice := ids[0]
	second, third := attempt(twice, 0, now, 500), attempt(twice, 0, now.Add(time.Second), 200)
	rs = append(rs,
		store.AttemptResult{Attempt: second, Status: herald.StatusPending, NextAttemptAt: &retryAt, Now: now},
		store.AttemptResult{Attempt: third, Status: herald.StatusSucceeded, Now: now.Add(time.Second)})
	record(t, s, rs...)

	for _, id := range ids {
		d := getDelivery(t, s, a.ID, id)
		wantCount, wantStatus := 1, want[id]
		if id == twice {
			wantCount, wantStatus = 3, herald.StatusSucceeded
		}
		if d.Status != wantStatus || d.AttemptCount != wantCount || len(d.Attempts) != wantCount {
			t.Fatalf("delivery %s: status %s, %d attempts (%d listed); want %s, %d",
				id, d.Status, d.AttemptCount, len(d.Attempts), wantStatus, wantCount)
		}
		if wantStatus == herald.StatusPending && (d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(retryAt.Truncate(time.Microsecond))) {
			t.Errorf("delivery %s: next attempt %v, want %v", id, d.NextAttemptAt, retryAt)
		}
		if wantStatus == herald.StatusFailed && d.LastError != "HTTP 410" {
			t.Errorf("delivery %s: last error %q, want %q", id, d.LastError, "HTTP 410")
		}
	}
	d := getDelivery(t, s, a.ID, twice)
	for i, att := range d.Attempts {
		if att.Number != i+1 {
			t.Errorf("attempt %d of %s: number %d, want %d", i, twice, att.Number, i+1)
		}
	}
	if d.Attempts[1].ID != second.ID || d.Attempts[2].ID != third.ID {
		t.Errorf("attempts of %s: %s, %s; want %s then %s", twice, d.Attempts[1].ID, d.Attempts[2].ID, second.ID, third.ID)
	}
	if d.LastError != "" || d.NextAttemptAt != nil {
		t.Errorf("delivery %s: last error %q, next %v after its success", twice, d.LastError, d.NextAttemptAt)
	}
}

// testRecordEndpointDeleted: attempts in flight when their endpoint is
// deleted are recorded, but a retry must not bring a delivery of the
// deleted endpoint back to pending.
func testRecordEndpointDeleted(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	ep := mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, t0, at(time.Second))
	claim(t, s, store.ClaimParams{Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 10})
	noErr(t, s.EndpointDelete(ctx, a.ID, ep.ID, at(time.Minute)), "EndpointDelete")

	retryAt := at(time.Hour)
	now := at(2 * time.Minute)
	record(t, s,
		store.AttemptResult{Attempt: attempt(ids[0], 1, at(time.Minute), 503), Status: herald.StatusPending, NextAttemptAt: &retryAt, Now: now},
		store.AttemptResult{Attempt: attempt(ids[1], 1, at(time.Minute), 200), Status: herald.StatusSucceeded, Now: now},
	)
	d := getDelivery(t, s, a.ID, ids[0])
	if d.Status != herald.StatusFailed || d.NextAttemptAt != nil || d.LastError != "endpoint deleted" || d.AttemptCount != 1 || len(d.Attempts) != 1 {
		t.Errorf("retry after delete: status %s, next %v, last error %q, %d/%d attempts; want failed, nil, \"endpoint deleted\", 1/1",
			d.Status, d.NextAttemptAt, d.LastError, d.AttemptCount, len(d.Attempts))
	}
	d = getDelivery(t, s, a.ID, ids[1])
	if d.Status != herald.StatusSucceeded || d.LastError != "" || len(d.Attempts) != 1 {
		t.Errorf("success after delete: status %s, last error %q, %d attempts; want succeeded, empty, 1", d.Status, d.LastError, len(d.Attempts))
	}
	next, err := s.NextDueAt(ctx)
	noErr(t, err, "NextDueAt")
	if next != nil {
		t.Errorf("NextDueAt: %v, want nil", next)
	}
}

func testRelease(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(0), at(time.Second), at(2*time.Second))
	claim(t, s, store.ClaimParams{Owner: "node-1", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 10})

	// Another owner cannot release them.
	noErr(t, s.DeliveriesRelease(ctx, "node-2", ids), "DeliveriesRelease by another owner")
	equalIDs(t, "claim after foreign release", jobIDs(claim(t, s, store.ClaimParams{Owner: "node-2", Now: at(time.Minute), Limit: 10})), nil)

	noErr(t, s.DeliveriesRelease(ctx, "node-1", ids[:2]), "DeliveriesRelease")
	noErr(t, s.DeliveriesRelease(ctx, "node-1", nil), "DeliveriesRelease of nothing")
	jobs := claim(t, s, store.ClaimParams{Owner: "node-2", Now: at(time.Minute), Limit: 10})
	equalIDs(t, "claim after release", jobIDs(jobs), ids[:2])
	// Released deliveries are untouched otherwise.
	d := getDelivery(t, s, a.ID, ids[0])
	if d.Status != herald.StatusPending || d.AttemptCount != 0 || len(d.Attempts) != 0 {
		t.Errorf("released delivery: status %s, %d attempts", d.Status, d.AttemptCount)
	}
}

func testLeasesExtend(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(0), at(time.Second))
	claim(t, s, store.ClaimParams{Owner: "node-1", Now: at(time.Minute), LeaseUntil: at(2 * time.Minute), Limit: 1})
	claim(t, s, store.ClaimParams{Owner: "node-2", Now: at(time.Minute), LeaseUntil: at(2 * time.Minute), Limit: 1})

	noErr(t, s.LeasesExtend(ctx, "node-1", at(time.Hour)), "LeasesExtend")
	jobs := claim(t, s, store.ClaimParams{Owner: "node-3", Now: at(30 * time.Minute), LeaseUntil: at(2 * time.Hour), Limit: 10})
	equalIDs(t, "claim during the extended lease", jobIDs(jobs), ids[1:])
	jobs = claim(t, s, store.ClaimParams{Owner: "node-3", Now: at(61 * time.Minute), LeaseUntil: at(2 * time.Hour), Limit: 10})
	equalIDs(t, "claim after the extended lease", jobIDs(jobs), ids[:1])
}

func testLeasesReleaseAll(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(0), at(time.Second))
	claim(t, s, store.ClaimParams{Owner: "node-1", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 1})
	claim(t, s, store.ClaimParams{Owner: "node-2", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 1})
	equalIDs(t, "claim of leased", jobIDs(claim(t, s, store.ClaimParams{Owner: "node-3", Now: at(time.Minute), Limit: 10})), nil)

	noErr(t, s.LeasesReleaseAll(ctx), "LeasesReleaseAll")
	jobs := claim(t, s, store.ClaimParams{Owner: "node-3", Now: at(time.Minute), Limit: 10})
	equalIDs(t, "claim after LeasesReleaseAll", jobIDs(jobs), ids)
}

func testNextDueAt(t *testing.T, s store.Store) {
	ctx := t.Context()
	next := func() *time.Time {
		t.Helper()
		n, err := s.NextDueAt(ctx)
		noErr(t, err, "NextDueAt")
		return n
	}
	if n := next(); n != nil {
		t.Errorf("NextDueAt of an empty store: %v", n)
	}
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(5*time.Minute), at(2*time.Minute))
	if n := next(); n == nil || !n.Equal(us(at(2*time.Minute))) {
		t.Errorf("NextDueAt: %v, want %v", n, us(at(2*time.Minute)))
	}

	// A leased delivery does not count.
	jobs := claim(t, s, store.ClaimParams{Now: at(3 * time.Minute), LeaseUntil: at(time.Hour), Limit: 10})
	equalIDs(t, "claim", jobIDs(jobs), ids[1:])
	if n := next(); n == nil || !n.Equal(us(at(5*time.Minute))) {
		t.Errorf("NextDueAt with the earliest leased: %v, want %v", n, us(at(5*time.Minute)))
	}
	claim(t, s, store.ClaimParams{Now: at(5 * time.Minute), LeaseUntil: at(time.Hour), Limit: 10})
	if n := next(); n != nil {
		t.Errorf("NextDueAt with everything leased: %v, want nil", n)
	}

	// A recorded retry counts again, at its new time.
	retry := at(20 * time.Minute)
	record(t, s, store.AttemptResult{Attempt: attempt(ids[1], 1, at(3*time.Minute), 500),
		Status: herald.StatusPending, NextAttemptAt: &retry, Now: at(3 * time.Minute)})
	if n := next(); n == nil || !n.Equal(us(retry)) {
		t.Errorf("NextDueAt after a retry: %v, want %v", n, us(retry))
	}
}

func testDeliveryGetOtherApp(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, t0)
	_, err := s.DeliveryGet(ctx, b.ID, ids[0])
	wantErr(t, err, store.ErrNotFound, "DeliveryGet through another app")
	_, err = s.DeliveryGet(ctx, a.ID, "dlv_missing")
	wantErr(t, err, store.ErrNotFound, "DeliveryGet missing")
}

// deliveryFixture is an app with two endpoints and four events, each fanned
// out to both, one minute apart; the first event's deliveries succeeded.
type deliveryFixture struct {
	app        *herald.App
	ep1, ep2   *herald.Endpoint
	events     []*herald.Event
	deliveries []*herald.Delivery // creation order
}

func mkDeliveryFixture(t *testing.T, s store.Store) *deliveryFixture {
	f := &deliveryFixture{app: mkApp(t, s, "a")}
	f.ep1 = mkEndpoint(t, s, f.app.ID)
	f.ep2 = mkEndpoint(t, s, f.app.ID)
	other := mkApp(t, s, "b")
	mkEndpoint(t, s, other.ID)
	for i := range 4 {
		f.events = append(f.events, newEvent(f.app.ID, "e", at(time.Duration(i)*time.Minute)))
	}
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll}, f.events...)
	enqueue(t, s, store.EnqueueParams{Route: routeAll}, newEvent(other.ID, "e", t0))
	for _, r := range res {
		for _, j := range r.Jobs {
			f.deliveries = append(f.deliveries, j.Delivery)
		}
	}
	jobs := claim(t, s, store.ClaimParams{Now: t0, Limit: 10})
	var rs []store.AttemptResult
	for _, j := range jobs {
		if j.Delivery.EventID == f.events[0].ID {
			rs = append(rs, store.AttemptResult{Attempt: attempt(j.Delivery.ID, 1, t0, 200), Status: herald.StatusSucceeded, Now: t0})
		}
	}
	if len(rs) != 2 {
		t.Fatalf("fixture: claimed %d deliveries of the first event, want 2", len(rs))
	}
	record(t, s, rs...)
	return f
}

// ids returns the ids of the fixture's deliveries for which keep holds,
// newest first.
func (f *deliveryFixture) ids(keep func(d *herald.Delivery) bool) []string {
	var ids []string
	for _, d := range f.deliveries {
		if keep(d) {
			ids = append(ids, d.ID)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids
}

func testDeliveryListFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := mkDeliveryFixture(t, s)
	list := func(p store.DeliveryListParams) []string {
		t.Helper()
		p.AppID = f.app.ID
		ds, err := s.DeliveryList(ctx, p)
		noErr(t, err, "DeliveryList")
		var ids []string
		for _, d := range ds {
			if d.AppID != f.app.ID {
				t.Errorf("DeliveryList: delivery %s of app %s", d.ID, d.AppID)
			}
			ids = append(ids, d.ID)
		}
		return ids
	}
	all := func(*herald.Delivery) bool { return true }
	equalIDs(t, "DeliveryList", list(store.DeliveryListParams{}), f.ids(all))
	equalIDs(t, "DeliveryList by event", list(store.DeliveryListParams{EventID: f.events[2].ID}),
		f.ids(func(d *herald.Delivery) bool { return d.EventID == f.events[2].ID }))
	equalIDs(t, "DeliveryList by endpoint", list(store.DeliveryListParams{EndpointID: f.ep2.ID}),
		f.ids(func(d *herald.Delivery) bool { return d.EndpointID == f.ep2.ID }))
	equalIDs(t, "DeliveryList succeeded", list(store.DeliveryListParams{Status: herald.StatusSucceeded}),
		f.ids(func(d *herald.Delivery) bool { return d.EventID == f.events[0].ID }))
	equalIDs(t, "DeliveryList pending", list(store.DeliveryListParams{Status: herald.StatusPending}),
		f.ids(func(d *herald.Delivery) bool { return d.EventID != f.events[0].ID }))
	equalIDs(t, "DeliveryList failed", list(store.DeliveryListParams{Status: herald.StatusFailed}), nil)
	equalIDs(t, "DeliveryList since/until", list(store.DeliveryListParams{Since: at(time.Minute), Until: at(3 * time.Minute)}),
		f.ids(func(d *herald.Delivery) bool { return d.EventID == f.events[1].ID || d.EventID == f.events[2].ID }))
	equalIDs(t, "DeliveryList endpoint and status", list(store.DeliveryListParams{EndpointID: f.ep1.ID, Status: herald.StatusPending}),
		f.ids(func(d *herald.Delivery) bool { return d.EndpointID == f.ep1.ID && d.EventID != f.events[0].ID }))

	ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: f.app.ID, EventID: f.events[0].ID, WithAttempts: true})
	noErr(t, err, "DeliveryList with attempts")
	for _, d := range ds {
		want := getDelivery(t, s, f.app.ID, d.ID)
		equal(t, "listed delivery with attempts", d, want)
		if len(d.Attempts) != 1 {
			t.Errorf("delivery %s: %d attempts, want 1", d.ID, len(d.Attempts))
		}
	}
}

// testDeliveryListLatestAttempt: the status code, error kind and latency
// filters look at each delivery's latest attempt only, and leave out
// deliveries not attempted yet.
func testDeliveryListLatestAttempt(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := mkDeliveryFixture(t, s)
	var first, second *herald.Delivery // the second event's, to ep1 and ep2
	for _, d := range f.deliveries {
		if d.EventID == f.events[1].ID {
			if d.EndpointID == f.ep1.ID {
				first = d
			} else {
				second = d
			}
		}
	}
	// first: a 500, then a final 422 (12.3 ms, then 24.7 ms); second: a
	// timeout after 5 s with no response.
	retry := at(time.Hour)
	record(t, s, store.AttemptResult{Attempt: attempt(first.ID, 1, t0, 500), Status: herald.StatusPending, NextAttemptAt: &retry, Now: t0})
	record(t, s, store.AttemptResult{Attempt: attempt(first.ID, 2, at(time.Minute), 422), Status: herald.StatusFailed, Now: at(time.Minute)})
	timeout := attempt(second.ID, 1, t0, 0)
	timeout.Response, timeout.ErrorKind, timeout.Error, timeout.LatencyMS = nil, herald.ErrorKindTimeout, "no answer within 5s", 5000
	record(t, s, store.AttemptResult{Attempt: timeout, Status: herald.StatusFailed, Now: t0})

	list := func(p store.DeliveryListParams) []string {
		t.Helper()
		p.AppID = f.app.ID
		ds, err := s.DeliveryList(ctx, p)
		noErr(t, err, "DeliveryList")
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		return ids
	}
	succeeded := f.ids(func(d *herald.Delivery) bool { return d.EventID == f.events[0].ID })
	equalIDs(t, "DeliveryList 4xx", list(store.DeliveryListParams{LastStatusMin: 400, LastStatusMax: 499}), []string{first.ID})
	equalIDs(t, "DeliveryList 5xx (an earlier attempt's does not count)", list(store.DeliveryListParams{LastStatusMin: 500, LastStatusMax: 599}), nil)
	equalIDs(t, "DeliveryList 200", list(store.DeliveryListParams{LastStatusMin: 200, LastStatusMax: 200}), succeeded)
	equalIDs(t, "DeliveryList timeout", list(store.DeliveryListParams{LastErrorKind: herald.ErrorKindTimeout}), []string{second.ID})
	equalIDs(t, "DeliveryList latency >= 20ms", list(store.DeliveryListParams{LastMinLatency: 20 * time.Millisecond}),
		f.ids(func(d *herald.Delivery) bool { return d.ID == first.ID || d.ID == second.ID }))
	equalIDs(t, "DeliveryList latency >= 1s and failed", list(store.DeliveryListParams{LastMinLatency: time.Second, Status: herald.StatusFailed}), []string{second.ID})
	equalIDs(t, "DeliveryList by event types", list(store.DeliveryListParams{EventTypes: []string{"nope", "e"}}), f.ids(func(*herald.Delivery) bool { return true }))
	equalIDs(t, "DeliveryList by another event type", list(store.DeliveryListParams{EventTypes: []string{"nope"}}), nil)

	// Paging through a filtered list stops at the right rows.
	var got []string
	cursor := ""
	for range 5 {
		ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: f.app.ID, LastMinLatency: time.Millisecond,
			ListParams: store.ListParams{Cursor: cursor, Limit: 1}})
		noErr(t, err, "DeliveryList")
		if len(ds) == 0 {
			break
		}
		got = append(got, ds[0].ID)
		cursor = ds[0].ID
	}
	equalIDs(t, "DeliveryList latency pages", got, f.ids(func(d *herald.Delivery) bool {
		return d.ID == first.ID || d.ID == second.ID || d.EventID == f.events[0].ID
	}))
}

// testDeliveryListEveryApp: without an AppID the list holds every app's
// deliveries, newest first, with the same filters.
func testDeliveryListEveryApp(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := mkDeliveryFixture(t, s)
	ds, err := s.DeliveryList(ctx, store.DeliveryListParams{ListParams: store.ListParams{Limit: 100}})
	noErr(t, err, "DeliveryList of every app")
	apps := map[string]int{}
	for i, d := range ds {
		apps[d.AppID]++
		if i > 0 && ds[i-1].ID <= d.ID {
			t.Errorf("DeliveryList of every app: %s before %s, want newest first", ds[i-1].ID, d.ID)
		}
	}
	if len(apps) != 2 || apps[f.app.ID] != len(f.deliveries) {
		t.Errorf("DeliveryList of every app: %v, want both apps, %d of %s", apps, len(f.deliveries), f.app.ID)
	}
	ds, err = s.DeliveryList(ctx, store.DeliveryListParams{Status: herald.StatusSucceeded, ListParams: store.ListParams{Limit: 100}})
	noErr(t, err, "DeliveryList of every app, succeeded")
	equalIDs(t, "DeliveryList of every app, succeeded", idsOf(ds), f.ids(func(d *herald.Delivery) bool { return d.EventID == f.events[0].ID }))
}

func idsOf(ds []*herald.Delivery) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func testDeliveryListPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := mkDeliveryFixture(t, s)
	for _, with := range []bool{false, true} {
		var got []string
		cursor := ""
		for page := 0; page < 10; page++ {
			ds, err := s.DeliveryList(ctx, store.DeliveryListParams{AppID: f.app.ID, WithAttempts: with,
				ListParams: store.ListParams{Cursor: cursor, Limit: 3}})
			noErr(t, err, "DeliveryList")
			if len(ds) == 0 {
				break
			}
			if len(ds) > 3 {
				t.Fatalf("DeliveryList: %d on a page of 3", len(ds))
			}
			for _, d := range ds {
				got = append(got, d.ID)
				if with && d.Attempts == nil {
					t.Errorf("delivery %s listed with attempts: nil, want a slice", d.ID)
				}
			}
			cursor = ds[len(ds)-1].ID
		}
		equalIDs(t, "DeliveryList pages", got, f.ids(func(*herald.Delivery) bool { return true }))
	}
}

// testRecordBodyWithoutPayload: a result given its event's payload stores a
// body that holds it without it (store.SplitBody), and every read gives the
// body back byte for byte, beside bodies stored whole; so does a test send.
func testRecordBodyWithoutPayload(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ev := newEvent(a.ID, "lead.created", t0)
	ev.Payload = herald.RawJSON(`{"lead":{"name":"Ada \u00e9","note":"` + strings.Repeat("é", 40) + `"},"z":1,"a":[1,2]}`)
	other := newEvent(a.ID, "lead.created", t0)
	var ids []string
	for _, r := range enqueue(t, s, store.EnqueueParams{Route: routeAll}, ev, other) {
		for _, j := range r.Jobs {
			ids = append(ids, j.Delivery.ID)
		}
	}
	jobs := claim(t, s, store.ClaimParams{Now: at(time.Second), Limit: 10})
	if len(jobs) != 2 {
		t.Fatalf("claimed %d jobs, want 2", len(jobs))
	}
	payload := []byte(jobs[0].Event.Payload)
	if jobs[0].Delivery.ID != ids[0] {
		payload = []byte(jobs[1].Event.Payload)
	}
	if string(payload) != string(ev.Payload) {
		t.Fatalf("claimed payload %s, want %s", payload, ev.Payload)
	}

	envelope := attempt(ids[0], 1, at(time.Second), 503)
	envelope.Request.Body = `{"type":"lead.created","timestamp":"2031-03-04T05:06:07Z","data":` + string(ev.Payload) + `}`
	templated := attempt(ids[0], 2, at(2*time.Second), 200)
	templated.Request.Body = `{"name":"Ada"}`
	raw := attempt(ids[1], 1, at(time.Second), 200)
	raw.Request.Body = string(ev.Payload) // not its own event's: stored whole
	retryAt := at(2 * time.Second)
	record(t, s, store.AttemptResult{Attempt: envelope, Status: herald.StatusPending, NextAttemptAt: &retryAt, Now: at(time.Second), EventPayload: payload},
		store.AttemptResult{Attempt: raw, Status: herald.StatusSucceeded, Now: at(time.Second), EventPayload: []byte(other.Payload)})
	record(t, s, store.AttemptResult{Attempt: templated, Status: herald.StatusSucceeded, Now: at(2 * time.Second), EventPayload: payload})

	equal(t, "attempts of the split delivery", getDelivery(t, s, a.ID, ids[0]).Attempts, []*herald.Attempt{envelope, templated})
	equal(t, "attempts of the whole one", getDelivery(t, s, a.ID, ids[1]).Attempts, []*herald.Attempt{raw})

	tev := newEvent(a.ID, "lead.created", at(time.Hour))
	tev.Payload = ev.Payload
	tev.Routing = &herald.Routing{Matched: []string{}, Skipped: []herald.Skip{}}
	td := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), AppID: a.ID, EventID: tev.ID, EndpointID: jobs[0].Endpoint.ID,
		EventType: tev.EventType, Status: herald.StatusSucceeded, AttemptCount: 1, Test: true, CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}
	ta := attempt(td.ID, 1, at(time.Hour), 200)
	ta.Trigger = herald.TriggerTest
	ta.Request.Body = "[" + string(tev.Payload) + "]"
	noErr(t, s.TestSendRecord(ctx, tev, td, ta), "TestSendRecord")
	equal(t, "test send attempts", getDelivery(t, s, a.ID, td.ID).Attempts, []*herald.Attempt{ta})
}

// testRecordLastErrorKind: a delivery keeps the error kind of the attempt
// its last error comes from, set and cleared with the last error (a
// success clears both, a requeue keeps both, a failure Herald records
// without an attempt has no kind); its failure is definition for render
// and transform, destination otherwise, and lists filter by it.
func testRecordLastErrorKind(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID, "e")
	gone := mkEndpoint(t, s, a.ID, "g")
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll},
		newEvent(a.ID, "e", t0), newEvent(a.ID, "e", at(time.Second)), newEvent(a.ID, "e", at(2*time.Second)),
		newEvent(a.ID, "g", at(3*time.Second)))
	var ids []string
	for _, r := range res {
		ids = append(ids, r.Jobs[0].Delivery.ID)
	}
	rendered, destination, transformed, deleted := ids[0], ids[1], ids[2], ids[3]
	claim(t, s, store.ClaimParams{Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 10})

	failing := func(id string, kind herald.ErrorKind, msg string) *herald.Attempt {
		a := attempt(id, 0, at(time.Minute), 0)
		a.Response, a.ErrorKind, a.Error = nil, kind, msg
		return a
	}
	retry := at(2 * time.Minute)
	rec := at(time.Minute)
	record(t, s,
		store.AttemptResult{Attempt: failing(rendered, herald.ErrorKindRender, `url: port "65536" is out of range`), Status: herald.StatusFailed, Now: rec},
		store.AttemptResult{Attempt: attempt(destination, 1, rec, 503), Status: herald.StatusPending, NextAttemptAt: &retry, Now: rec},
		store.AttemptResult{Attempt: failing(transformed, herald.ErrorKindTransform, "handler threw"), Status: herald.StatusFailed, Now: rec},
		store.AttemptResult{Attempt: failing(deleted, herald.ErrorKindTimeout, "timeout"), Status: herald.StatusPending, NextAttemptAt: &retry, Now: rec},
	)
	check := func(what, id string, status herald.DeliveryStatus, lastError string, kind herald.ErrorKind, failure herald.Failure) {
		t.Helper()
		d := getDelivery(t, s, a.ID, id)
		if d.Status != status || d.LastError != lastError || d.LastErrorKind != kind || d.Failure() != failure {
			t.Errorf("%s: status %s, last error %q (%q), failure %q; want %s, %q (%q), %q",
				what, d.Status, d.LastError, d.LastErrorKind, d.Failure(), status, lastError, kind, failure)
		}
	}
	check("render failure", rendered, herald.StatusFailed, `url: port "65536" is out of range`, herald.ErrorKindRender, herald.FailureDefinition)
	check("503 to retry", destination, herald.StatusPending, "HTTP 503", herald.ErrorKindHTTPStatus, "")
	check("transform failure", transformed, herald.StatusFailed, "handler threw", herald.ErrorKindTransform, herald.FailureDefinition)
	check("timeout to retry", deleted, herald.StatusPending, "timeout", herald.ErrorKindTimeout, "")

	record(t, s, store.AttemptResult{Attempt: attempt(destination, 2, retry, 500), Status: herald.StatusFailed, Now: retry})
	check("500 for good", destination, herald.StatusFailed, "HTTP 500", herald.ErrorKindHTTPStatus, herald.FailureDestination)
	noErr(t, s.EndpointDelete(ctx, a.ID, gone.ID, retry), "EndpointDelete")
	check("endpoint deleted", deleted, herald.StatusFailed, "endpoint deleted", "", herald.FailureDestination)

	list := func(p store.DeliveryListParams) []string {
		t.Helper()
		p.AppID = a.ID
		ds, err := s.DeliveryList(ctx, p)
		noErr(t, err, "DeliveryList")
		var got []string
		for _, d := range ds {
			got = append(got, d.ID)
		}
		return got
	}
	equalIDs(t, "DeliveryList definition", list(store.DeliveryListParams{Failure: herald.FailureDefinition}), []string{transformed, rendered})
	equalIDs(t, "DeliveryList destination", list(store.DeliveryListParams{Failure: herald.FailureDestination}), []string{deleted, destination})
	equalIDs(t, "DeliveryList pending definition", list(store.DeliveryListParams{Failure: herald.FailureDefinition, Status: herald.StatusPending}), nil)

	// Requeued, the kind stays with the last error (the history is what
	// it was) while the delivery is no longer failed; a success clears it.
	n, err := s.DeliveriesRequeue(ctx, a.ID, []string{transformed}, at(3*time.Minute))
	noErr(t, err, "DeliveriesRequeue")
	if n != 1 {
		t.Fatalf("DeliveriesRequeue: %d changed, want 1", n)
	}
	check("requeued", transformed, herald.StatusPending, "handler threw", herald.ErrorKindTransform, "")
	equalIDs(t, "DeliveryList definition after requeue", list(store.DeliveryListParams{Failure: herald.FailureDefinition}), []string{rendered})
	claim(t, s, store.ClaimParams{Now: at(3 * time.Minute), LeaseUntil: at(time.Hour), Limit: 10})
	record(t, s, store.AttemptResult{Attempt: attempt(transformed, 2, at(3*time.Minute), 200), Status: herald.StatusSucceeded, Now: at(3 * time.Minute)})
	check("succeeded", transformed, herald.StatusSucceeded, "", "", "")
}
