package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var orderingCases = []testCase{
	{"Ordering/ClaimOneAtATime", testOrderingClaim},
	{"Ordering/Pause", testOrderingPause},
	{"Ordering/NotLeasedAtEnqueue", testOrderingNotLeasedAtEnqueue},
	{"Ordering/Template", testOrderingTemplate},
}

// mkKeyed enqueues one event per key (at t0, in order), "" for none, and
// returns their deliveries' ids to the app's endpoints in order.
func mkKeyed(t *testing.T, s store.Store, appID string, keys ...string) []string {
	t.Helper()
	var evs []*herald.Event
	for _, k := range keys {
		ev := newEvent(appID, "test.event", t0)
		ev.OrderingKey = k
		evs = append(evs, ev)
	}
	var ids []string
	for _, r := range enqueue(t, s, store.EnqueueParams{Route: routeAll}, evs...) {
		for _, j := range r.Jobs {
			ids = append(ids, j.Delivery.ID)
		}
	}
	return ids
}

// testOrderingClaim: of the deliveries of one endpoint and key, a claim
// takes only the earliest pending one, and only when no other of the key
// is in flight; a retry holds back the key's later ones only; a success
// or a failure for good (by default) lets the next one go. Other keys
// and unkeyed deliveries go alongside.
func testOrderingClaim(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkKeyed(t, s, a.ID, "k", "k", "k", "j", "", "j")
	k1, k2, k3, j1, free, j2 := ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]

	d := getDelivery(t, s, a.ID, k1)
	if d.OrderingKey != "k" {
		t.Errorf("delivery ordering key %q, want k", d.OrderingKey)
	}
	ev, err := s.EventGet(t.Context(), a.ID, d.EventID)
	noErr(t, err, "EventGet")
	if ev.OrderingKey != "k" {
		t.Errorf("event ordering key %q, want k", ev.OrderingKey)
	}

	now := at(time.Second)
	equalIDs(t, "first claim", jobIDs(claim(t, s, store.ClaimParams{Now: now, Limit: 10})), []string{k1, j1, free})
	equalIDs(t, "claim with k1 and j1 in flight", jobIDs(claim(t, s, store.ClaimParams{Now: now, Limit: 10})), nil)

	// k1 to retry in 10 minutes: k waits, j goes on.
	retryAt := at(10 * time.Minute)
	record(t, s,
		store.AttemptResult{Attempt: attempt(k1, 1, now, 503), Status: herald.StatusPending, NextAttemptAt: &retryAt, Now: now},
		store.AttemptResult{Attempt: attempt(j1, 1, now, 200), Status: herald.StatusSucceeded, Now: now},
		store.AttemptResult{Attempt: attempt(free, 1, now, 200), Status: herald.StatusSucceeded, Now: now})
	equalIDs(t, "claim while k1 waits for its retry", jobIDs(claim(t, s, store.ClaimParams{Now: at(time.Minute), Limit: 10})), []string{j2})
	record(t, s, store.AttemptResult{Attempt: attempt(j2, 1, now, 200), Status: herald.StatusSucceeded, Now: at(time.Minute)})
	equalIDs(t, "claim at k1's retry", jobIDs(claim(t, s, store.ClaimParams{Now: retryAt, Limit: 10})), []string{k1})

	// k1 fails for good: by default k goes on.
	record(t, s, store.AttemptResult{Attempt: attempt(k1, 2, retryAt, 500), Status: herald.StatusFailed, Now: retryAt})
	equalIDs(t, "claim after k1 failed", jobIDs(claim(t, s, store.ClaimParams{Now: retryAt, Limit: 10})), []string{k2})
	record(t, s, store.AttemptResult{Attempt: attempt(k2, 1, retryAt, 200), Status: herald.StatusSucceeded, Now: retryAt})

	// A lease that ran out (its node is gone) is taken over, and still
	// holds the key's later deliveries back.
	later := retryAt.Add(time.Second)
	equalIDs(t, "claim k3", jobIDs(claim(t, s, store.ClaimParams{Now: later, LeaseUntil: later.Add(time.Second), Limit: 10})), []string{k3})
	equalIDs(t, "take over k3", jobIDs(claim(t, s, store.ClaimParams{Owner: "node-2", Now: later.Add(time.Minute), Limit: 10})), []string{k3})
}

// testOrderingPause: on an endpoint with ordering_on_failure "pause", a
// failed delivery holds its key until it is skipped (or resent); the key
// is listed with it meanwhile.
func testOrderingPause(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	ep := newEndpoint(a.ID)
	ep.OrderingOnFailure = herald.OrderingPause
	if err := s.EndpointCreate(ctx, ep); err != nil {
		t.Fatalf("EndpointCreate: %v", err)
	}
	ids := mkKeyed(t, s, a.ID, "k", "k", "k", "j")
	k1, k2, k3, j1 := ids[0], ids[1], ids[2], ids[3]

	now := at(time.Second)
	equalIDs(t, "first claim", jobIDs(claim(t, s, store.ClaimParams{Now: now, Limit: 10})), []string{k1, j1})
	record(t, s,
		store.AttemptResult{Attempt: attempt(k1, 1, now, 500), Status: herald.StatusFailed, Now: now},
		store.AttemptResult{Attempt: attempt(j1, 1, now, 500), Status: herald.StatusFailed, Now: now})
	equalIDs(t, "claim with k paused", jobIDs(claim(t, s, store.ClaimParams{Now: at(time.Hour), Limit: 10})), nil)

	blocked, err := s.OrderingBlocked(ctx, a.ID, ep.ID, 0)
	noErr(t, err, "OrderingBlocked")
	equal(t, "blocked keys", blocked, []store.BlockedKey{{OrderingKey: "j", DeliveryID: j1, Waiting: 0}, {OrderingKey: "k", DeliveryID: k1, Waiting: 2}})

	_, err = s.DeliverySkip(ctx, a.ID, k2, at(time.Hour))
	wantErr(t, err, store.ErrConflict, "skip a pending delivery")
	_, err = s.DeliverySkip(ctx, "app_other", k1, at(time.Hour))
	wantErr(t, err, store.ErrNotFound, "skip another app's delivery")

	d, err := s.DeliverySkip(ctx, a.ID, k1, at(time.Hour))
	noErr(t, err, "DeliverySkip")
	if !d.Skipped || d.Status != herald.StatusFailed || len(d.Attempts) != 1 {
		t.Errorf("skipped delivery: skipped %v, status %s, %d attempts; want true, failed, 1", d.Skipped, d.Status, len(d.Attempts))
	}
	if got := getDelivery(t, s, a.ID, k1); !got.Skipped {
		t.Errorf("the skip was not stored")
	}
	equalIDs(t, "claim after the skip", jobIDs(claim(t, s, store.ClaimParams{Now: at(time.Hour), Limit: 10})), []string{k2})
	blocked, err = s.OrderingBlocked(ctx, a.ID, ep.ID, 0)
	noErr(t, err, "OrderingBlocked")
	equal(t, "blocked keys after the skip", blocked, []store.BlockedKey{{OrderingKey: "j", DeliveryID: j1, Waiting: 0}})

	// k2 fails too; requeued (resent), it holds k again until it succeeds.
	record(t, s, store.AttemptResult{Attempt: attempt(k2, 1, at(time.Hour), 500), Status: herald.StatusFailed, Now: at(time.Hour)})
	n, err := s.DeliveriesRequeue(ctx, a.ID, []string{k2}, at(2*time.Hour))
	noErr(t, err, "DeliveriesRequeue")
	if n != 1 {
		t.Fatalf("requeued %d, want 1", n)
	}
	equalIDs(t, "claim after the resend", jobIDs(claim(t, s, store.ClaimParams{Now: at(2 * time.Hour), Limit: 10})), []string{k2})
	record(t, s, store.AttemptResult{Attempt: attempt(k2, 2, at(2*time.Hour), 200), Status: herald.StatusSucceeded, Now: at(2 * time.Hour)})
	equalIDs(t, "claim after k2 succeeded", jobIDs(claim(t, s, store.ClaimParams{Now: at(2 * time.Hour), Limit: 10})), []string{k3})
}

// testOrderingNotLeasedAtEnqueue: a route asking to lease an ordered
// delivery at enqueue gets it unleased: only a claim, which checks the
// earlier deliveries of its key, may lease it.
func testOrderingNotLeasedAtEnqueue(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	leaseAll := func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
		var ts []store.Target
		for _, ep := range eps {
			ts = append(ts, store.Target{Endpoint: ep, Lease: true})
		}
		return ts
	}
	keyed, free := newEvent(a.ID, "test.event", t0), newEvent(a.ID, "test.event", t0)
	keyed.OrderingKey = "k"
	res := enqueue(t, s, store.EnqueueParams{Route: leaseAll, LeaseOwner: "node-1", LeaseUntil: at(time.Hour)}, keyed, free)
	if j := res[0].Jobs[0]; j.Leased {
		t.Errorf("the ordered delivery was leased at enqueue")
	}
	if j := res[1].Jobs[0]; !j.Leased {
		t.Errorf("the unordered delivery was not leased at enqueue")
	}
	equalIDs(t, "claim", jobIDs(claim(t, s, store.ClaimParams{Now: at(time.Second), Limit: 10})), []string{res[0].Jobs[0].Delivery.ID})
}

// testOrderingTemplate: an endpoint's ordering_key_template gives the key
// of deliveries whose event has none; the event's own key wins; an event
// lacking the value the template names is not ordered.
func testOrderingTemplate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	ep := newEndpoint(a.ID)
	ep.OrderingKeyTemplate = "conv-{{payload.conversation.id}}"
	if err := s.EndpointCreate(ctx, ep); err != nil {
		t.Fatalf("EndpointCreate: %v", err)
	}
	e1, e2, e3, e4 := newEvent(a.ID, "test.event", t0), newEvent(a.ID, "test.event", t0), newEvent(a.ID, "test.event", t0), newEvent(a.ID, "test.event", t0)
	e1.Payload = herald.RawJSON(`{"conversation":{"id":7}}`)
	e2.Payload = herald.RawJSON(`{"conversation":{"id":7}}`)
	e3.Payload = herald.RawJSON(`{"conversation":{"id":7}}`)
	e3.OrderingKey = "own"
	e4.Payload = herald.RawJSON(`{"other":1}`) // no conversation: not ordered
	res := enqueue(t, s, store.EnqueueParams{Route: routeAll}, e1, e2, e3, e4)
	for i, want := range []string{"conv-7", "conv-7", "own", ""} {
		if got := getDelivery(t, s, a.ID, res[i].Jobs[0].Delivery.ID).OrderingKey; got != want {
			t.Errorf("delivery %d: ordering key %q, want %q", i, got, want)
		}
	}
	equalIDs(t, "claim", jobIDs(claim(t, s, store.ClaimParams{Now: at(time.Second), Limit: 10})),
		[]string{res[0].Jobs[0].Delivery.ID, res[2].Jobs[0].Delivery.ID, res[3].Jobs[0].Delivery.ID})
}
