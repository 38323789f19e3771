package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// livenessCases check what lets a live node take over a dead one's work
// at once: releasing dead owners' leases, a node leaving, and fencing
// the records of a node whose leases were taken over.
var livenessCases = []testCase{
	{"LeasesReleaseDead", testLeasesReleaseDead},
	{"NodeLeave", testNodeLeave},
	{"NodesLeaveEarlier", testNodesLeaveEarlier},
	{"LeasesReleaseAll/forgets_nodes", testReleaseAllForgetsNodes},
	{"DeliveriesRecord/fenced", testRecordFenced},
	{"EventsEnqueue/lease_until", testEnqueueLeaseUntil},
}

// testLeasesReleaseDead: the leases of owners without a heartbeat within
// the window (stale or none at all) are cleared; live owners keep theirs.
func testLeasesReleaseDead(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(0), at(time.Second), at(2*time.Second), at(3*time.Second))
	claim(t, s, store.ClaimParams{Owner: "live", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 1})
	claim(t, s, store.ClaimParams{Owner: "stale", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 2})
	claim(t, s, store.ClaimParams{Owner: "unknown", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 1})

	now := at(2 * time.Minute)
	heartbeat(t, s, "stale", now.Add(-7*time.Second), time.Hour, 1)
	heartbeat(t, s, "live", now.Add(-6*time.Second), time.Hour, 2)

	n, err := s.LeasesReleaseDead(ctx, now, 6*time.Second)
	noErr(t, err, "LeasesReleaseDead")
	if n != 3 {
		t.Errorf("LeasesReleaseDead: %d leases cleared, want 3 (stale's 2 and unknown's 1)", n)
	}
	jobs := claim(t, s, store.ClaimParams{Owner: "other", Now: now, Limit: 10})
	equalIDs(t, "claim after releasing the dead's leases", jobIDs(jobs), ids[1:])

	// Nothing dead: nothing cleared, the live lease stays.
	heartbeat(t, s, "other", now, time.Hour, 3)
	n, err = s.LeasesReleaseDead(ctx, now, 6*time.Second)
	noErr(t, err, "LeasesReleaseDead again")
	if n != 0 {
		t.Errorf("LeasesReleaseDead with every owner alive: %d cleared, want 0", n)
	}
	equalIDs(t, "claim of live leases", jobIDs(claim(t, s, store.ClaimParams{Owner: "third", Now: now, Limit: 10})), nil)

	// Long after, every owner is dead.
	n, err = s.LeasesReleaseDead(ctx, now.Add(time.Hour), time.Second)
	noErr(t, err, "LeasesReleaseDead of everything")
	if n != 4 {
		t.Errorf("LeasesReleaseDead long after: %d cleared, want 4", n)
	}
	d := getDelivery(t, s, a.ID, ids[0])
	if d.Status != herald.StatusPending || d.AttemptCount != 0 || len(d.Attempts) != 0 {
		t.Errorf("released delivery changed: status %s, %d attempts", d.Status, d.AttemptCount)
	}
}

// testNodeLeave: a node leaving is counted out at once and its leases
// go back.
func testNodeLeave(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(0), at(time.Second))
	claim(t, s, store.ClaimParams{Owner: "n1", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 1})
	claim(t, s, store.ClaimParams{Owner: "n2", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 1})
	now := at(time.Minute)
	heartbeat(t, s, "n1", now, time.Minute, 1)
	heartbeat(t, s, "n2", now, time.Minute, 2)

	noErr(t, s.NodeLeave(ctx, "n2"), "NodeLeave")
	heartbeat(t, s, "n1", now.Add(time.Second), time.Minute, 1)
	jobs := claim(t, s, store.ClaimParams{Owner: "n3", Now: now, Limit: 10})
	equalIDs(t, "claim after n2 left", jobIDs(jobs), ids[1:])
	noErr(t, s.NodeLeave(ctx, "never-seen"), "NodeLeave of an unknown node")
}

// testReleaseAllForgetsNodes: a single-node store's start-up leaves no
// heartbeat of earlier processes to count.
func testReleaseAllForgetsNodes(t *testing.T, s store.Store) {
	now := at(time.Minute)
	heartbeat(t, s, "run-1", now, time.Minute, 1)
	heartbeat(t, s, "run-2", now.Add(time.Second), time.Minute, 2)
	noErr(t, s.LeasesReleaseAll(t.Context()), "LeasesReleaseAll")
	heartbeat(t, s, "run-3", now.Add(2*time.Second), time.Minute, 1)
}

// testRecordFenced: once a delivery's lease was released and taken by
// another node, the first node's result is refused (and named), the
// others of its batch are stored, and the new owner records as usual.
func testRecordFenced(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(0), at(time.Second), at(2*time.Second))
	claim(t, s, store.ClaimParams{Owner: "old", Now: at(time.Minute), LeaseUntil: at(time.Hour), Limit: 10})

	// "old" is presumed dead: its leases go, "new" takes one of them.
	now := at(2 * time.Minute)
	heartbeat(t, s, "new", now, time.Hour, 1)
	_, err := s.LeasesReleaseDead(ctx, now, time.Second)
	noErr(t, err, "LeasesReleaseDead")
	taken := claim(t, s, store.ClaimParams{Owner: "new", Now: now, LeaseUntil: at(time.Hour), Limit: 1})
	equalIDs(t, "claim by new", jobIDs(taken), ids[:1])

	res := func(id, owner string) store.AttemptResult {
		return store.AttemptResult{Attempt: attempt(id, 0, now, 200), Status: herald.StatusSucceeded, Now: now, Owner: owner}
	}
	// ids[0] was taken, ids[1] released (not taken yet): both refused.
	err = s.DeliveriesRecord(ctx, []store.AttemptResult{res(ids[0], "old"), res(ids[1], "old")})
	var lost *store.LeaseLostError
	if !errors.As(err, &lost) || !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("DeliveriesRecord by a fenced owner: %v, want a *LeaseLostError", err)
	}
	equalIDs(t, "refused results", lost.DeliveryIDs, ids[:2])
	for _, id := range ids[:2] {
		if d := getDelivery(t, s, a.ID, id); d.Status != herald.StatusPending || d.AttemptCount != 0 || len(d.Attempts) != 0 {
			t.Errorf("fenced delivery %s: status %s, %d attempts stored, want pending with none", id, d.Status, len(d.Attempts))
		}
	}
	// ids[1] is still unleased: another claim takes it.
	equalIDs(t, "claim of the refused one", jobIDs(claim(t, s, store.ClaimParams{Owner: "new", Now: now, LeaseUntil: at(time.Hour), Limit: 1})), ids[1:2])

	// A batch mixing kept and refused results stores the kept one: the
	// new owner's result is stored, the old owner's for ids[2] (released,
	// leased by nobody) is refused.
	err = s.DeliveriesRecord(ctx, []store.AttemptResult{res(ids[0], "new"), res(ids[2], "old")})
	if !errors.As(err, &lost) {
		t.Fatalf("DeliveriesRecord of a mixed batch: %v, want a *LeaseLostError", err)
	}
	equalIDs(t, "refused in the mixed batch", lost.DeliveryIDs, ids[2:3])
	if d := getDelivery(t, s, a.ID, ids[0]); d.Status != herald.StatusSucceeded || len(d.Attempts) != 1 {
		t.Errorf("new owner's result: status %s, %d attempts, want succeeded with 1", d.Status, len(d.Attempts))
	}

	// A result without owner (a resend) is not fenced; a vanished
	// delivery with an owner is skipped, not refused.
	noErr(t, s.DeliveriesRecord(ctx, []store.AttemptResult{
		{Attempt: attempt(ids[2], 0, now, 200), Status: herald.StatusSucceeded, Now: now},
		res("dlv_vanished", "new"),
	}), "DeliveriesRecord without owner")
	if d := getDelivery(t, s, a.ID, ids[2]); d.Status != herald.StatusSucceeded {
		t.Errorf("unfenced result: status %s, want succeeded", d.Status)
	}
}

// testEnqueueLeaseUntil: deliveries leased at enqueue say until when.
func testEnqueueLeaseUntil(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	until := at(time.Hour)
	res := enqueue(t, s, store.EnqueueParams{
		Route: func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
			ts := make([]store.Target, len(eps))
			for i, ep := range eps {
				ts[i] = store.Target{Endpoint: ep, Lease: true}
			}
			return ts
		},
		LeaseOwner: "n1", LeaseUntil: until,
	}, newEvent(a.ID, "test.event", at(0)))
	for _, j := range res[0].Jobs {
		if !j.Leased || !j.LeaseUntil.Equal(until) {
			t.Errorf("enqueued job leased %v until %v, want until %v", j.Leased, j.LeaseUntil, until)
		}
	}
}

// testNodesLeaveEarlier: the earlier runs of a process (names with its
// prefix) are forgotten with their leases; itself and other processes,
// even with a name that the prefix is part of elsewhere, are not.
func testNodesLeaveEarlier(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(0), at(time.Second), at(2*time.Second), at(3*time.Second))
	owners := []string{"web-1-ab12-1", "web-1-ab12-2", "web-1-ab13-1", "x-web-1-ab12-3"}
	now := at(time.Minute)
	for i, o := range owners {
		claim(t, s, store.ClaimParams{Owner: o, Now: now, LeaseUntil: at(time.Hour), Limit: 1})
		heartbeat(t, s, o, now, time.Minute, i+1)
	}
	// A new run of the process web-1-ab12 starts.
	n, err := s.NodesLeaveEarlier(ctx, "web-1-ab12-", "web-1-ab12-2")
	noErr(t, err, "NodesLeaveEarlier")
	if n != 1 {
		t.Errorf("NodesLeaveEarlier: %d leases cleared, want 1 (of web-1-ab12-1)", n)
	}
	heartbeat(t, s, "web-1-ab12-2", now, time.Minute, 3)
	equalIDs(t, "claim after the earlier run left", jobIDs(claim(t, s, store.ClaimParams{Owner: "y", Now: now, Limit: 10})), ids[:1])
	n, err = s.NodesLeaveEarlier(ctx, "web-1-ab1_", "z")
	noErr(t, err, "NodesLeaveEarlier with a wildcard")
	if n != 0 {
		t.Errorf("NodesLeaveEarlier took _ for a wildcard: %d leases cleared", n)
	}
	n, err = s.NodesLeaveEarlier(ctx, "", "z")
	noErr(t, err, "NodesLeaveEarlier without prefix")
	if n != 0 {
		t.Errorf("NodesLeaveEarlier without prefix cleared %d leases", n)
	}
}
