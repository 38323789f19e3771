package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var pullCases = []testCase{
	{"Endpoint/kind", testEndpointKind},
	{"DeliveriesPull/visibility", testPullVisibility},
	{"DeliveriesPull/acknowledged", testPullAcknowledged},
	{"DeliveriesPull/leases_outlive_nodes", testPullLeasesOutliveNodes},
	{"DeliveriesPull/scope", testPullScope},
}

func mkPullEndpoint(t *testing.T, s store.Store, appID string) *herald.Endpoint {
	t.Helper()
	ep := newEndpoint(appID)
	ep.Kind, ep.URL = herald.EndpointPull, ""
	if err := s.EndpointCreate(t.Context(), ep); err != nil {
		t.Fatalf("EndpointCreate: %v", err)
	}
	return ep
}

func pull(t *testing.T, s store.Store, p store.PullParams) []*store.Job {
	t.Helper()
	jobs, err := s.DeliveriesPull(t.Context(), p)
	if err != nil {
		t.Fatalf("DeliveriesPull: %v", err)
	}
	for _, j := range jobs {
		if j.Delivery == nil || j.Event == nil || j.Endpoint == nil {
			t.Fatalf("DeliveriesPull: incomplete job %+v", j)
		}
		if j.Endpoint.ID != p.EndpointID || j.Delivery.EndpointID != p.EndpointID {
			t.Errorf("DeliveriesPull: job %s of endpoint %s, want %s", j.Delivery.ID, j.Endpoint.ID, p.EndpointID)
		}
		if !j.Leased || !j.LeaseUntil.Equal(p.Until) {
			t.Errorf("DeliveriesPull: job %s leased %v until %v, want until %v", j.Delivery.ID, j.Leased, j.LeaseUntil, p.Until)
		}
	}
	return jobs
}

// splitByEndpoint returns the ids of deliveries of ep and of the others.
func splitByEndpoint(t *testing.T, s store.Store, appID, epID string, ids []string) (of, others []string) {
	t.Helper()
	for _, id := range ids {
		if getDelivery(t, s, appID, id).EndpointID == epID {
			of = append(of, id)
		} else {
			others = append(others, id)
		}
	}
	return of, others
}

// testEndpointKind: an endpoint made without a kind is a push endpoint;
// a pull endpoint reads back as one, with no URL, and an update keeps
// its kind.
func testEndpointKind(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	push := newEndpoint(a.ID)
	push.Kind = ""
	noErr(t, s.EndpointCreate(ctx, push), "EndpointCreate without kind")
	push.Kind = herald.EndpointPush
	pl := mkPullEndpoint(t, s, a.ID)
	for _, want := range []*herald.Endpoint{push, pl} {
		got, err := s.EndpointGet(ctx, a.ID, want.ID)
		noErr(t, err, "EndpointGet")
		equal(t, "endpoint", got, want)
	}
	pl.Description = "changed"
	pl.Kind = herald.EndpointPush
	noErr(t, s.EndpointUpdate(ctx, pl), "EndpointUpdate")
	got, err := s.EndpointGet(ctx, a.ID, pl.ID)
	noErr(t, err, "EndpointGet")
	if got.Kind != herald.EndpointPull || got.Description != "changed" {
		t.Errorf("after update: kind %q, description %q; want pull, changed", got.Kind, got.Description)
	}
	list, err := s.EndpointList(ctx, a.ID, store.ListParams{})
	noErr(t, err, "EndpointList")
	kinds := map[string]string{}
	for _, ep := range list {
		kinds[ep.ID] = ep.Kind
	}
	if kinds[push.ID] != herald.EndpointPush || kinds[pl.ID] != herald.EndpointPull {
		t.Errorf("EndpointList kinds: %v", kinds)
	}
}

// testPullVisibility: a pull hands out the endpoint's due deliveries in
// due order, each once until its visibility ends, then again; claims and
// NextDueAt never see them.
func testPullVisibility(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	pl := mkPullEndpoint(t, s, a.ID)
	mkEndpoint(t, s, a.ID)
	all := mkDeliveries(t, s, a.ID, at(2*time.Second), at(time.Second), at(2*time.Minute))
	ids, pushIDs := splitByEndpoint(t, s, a.ID, pl.ID, all)
	if len(ids) != 3 || len(pushIDs) != 3 {
		t.Fatalf("fixture: %d pull and %d push deliveries, want 3 and 3", len(ids), len(pushIDs))
	}
	now := at(time.Minute)
	p := store.PullParams{AppID: a.ID, EndpointID: pl.ID, Now: now, Until: at(90 * time.Second), Limit: 1}
	equalIDs(t, "pull of one", jobIDs(pull(t, s, p)), ids[1:2])
	p.Limit = 10
	equalIDs(t, "pull of the rest due", jobIDs(pull(t, s, p)), ids[0:1])
	equalIDs(t, "pull again within the visibility", jobIDs(pull(t, s, p)), nil)

	// Claims take the push endpoint's only; NextDueAt knows only them.
	jobs := claim(t, s, store.ClaimParams{Now: at(time.Hour), LeaseUntil: at(2 * time.Hour), Limit: 10})
	equalIDs(t, "claim beside a pull endpoint", jobIDs(jobs), []string{pushIDs[1], pushIDs[0], pushIDs[2]})
	next, err := s.NextDueAt(ctx)
	noErr(t, err, "NextDueAt")
	if next != nil {
		t.Errorf("NextDueAt with only pull deliveries unleased: %v, want nil", next)
	}

	p.Now = at(90 * time.Second)
	equalIDs(t, "pull as the visibility ends", jobIDs(pull(t, s, p)), nil)
	p.Now, p.Until = at(90*time.Second+time.Microsecond), at(time.Hour)
	equalIDs(t, "pull after the visibility", jobIDs(pull(t, s, p)), []string{ids[1], ids[0]})
	p.Now = at(3 * time.Minute)
	equalIDs(t, "pull once the last is due", jobIDs(pull(t, s, p)), ids[2:])
	// A handout changes nothing else.
	d := getDelivery(t, s, a.ID, ids[0])
	if d.Status != herald.StatusPending || d.AttemptCount != 0 || len(d.Attempts) != 0 || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(us(at(2*time.Second))) {
		t.Errorf("handed out delivery: status %s, %d attempts, next %v", d.Status, d.AttemptCount, d.NextAttemptAt)
	}
}

// testPullAcknowledged: an outcome recorded with Owner PullOwner is
// stored once, only for a delivery handed out; a retry is handed out
// again when due.
func testPullAcknowledged(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	pl := mkPullEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(time.Second), at(2*time.Second), at(3*time.Second))
	p := store.PullParams{AppID: a.ID, EndpointID: pl.ID, Now: at(time.Minute), Until: at(2 * time.Minute), Limit: 2}
	equalIDs(t, "pull", jobIDs(pull(t, s, p)), ids[:2])

	ok := store.AttemptResult{Attempt: attempt(ids[0], 1, at(70*time.Second), 200), Status: herald.StatusSucceeded,
		Now: at(70 * time.Second), Owner: store.PullOwner}
	retryAt := at(10 * time.Minute)
	retry := store.AttemptResult{Attempt: attempt(ids[1], 1, at(70*time.Second), 503), Status: herald.StatusPending,
		NextAttemptAt: &retryAt, Now: at(70 * time.Second), Owner: store.PullOwner}
	notOut := store.AttemptResult{Attempt: attempt(ids[2], 1, at(70*time.Second), 200), Status: herald.StatusSucceeded,
		Now: at(70 * time.Second), Owner: store.PullOwner}
	err := s.DeliveriesRecord(t.Context(), []store.AttemptResult{ok, retry, notOut})
	var lost *store.LeaseLostError
	if !errors.As(err, &lost) {
		t.Fatalf("DeliveriesRecord with one never handed out: %v, want a *LeaseLostError", err)
	}
	equalIDs(t, "refused", lost.DeliveryIDs, ids[2:])
	if d := getDelivery(t, s, a.ID, ids[0]); d.Status != herald.StatusSucceeded || len(d.Attempts) != 1 {
		t.Errorf("acknowledged delivery: status %s, %d attempts", d.Status, len(d.Attempts))
	}
	if d := getDelivery(t, s, a.ID, ids[2]); d.Status != herald.StatusPending || len(d.Attempts) != 0 {
		t.Errorf("delivery never handed out: status %s, %d attempts", d.Status, len(d.Attempts))
	}

	// Acknowledged twice: the second is refused.
	again := ok
	again.Attempt = attempt(ids[0], 2, at(80*time.Second), 200)
	err = s.DeliveriesRecord(t.Context(), []store.AttemptResult{again})
	if !errors.As(err, &lost) || len(lost.DeliveryIDs) != 1 || lost.DeliveryIDs[0] != ids[0] {
		t.Fatalf("second acknowledgement: %v, want a *LeaseLostError naming it", err)
	}

	p.Now, p.Until, p.Limit = at(5*time.Minute), at(time.Hour), 10
	equalIDs(t, "pull before the retry", jobIDs(pull(t, s, p)), ids[2:])
	p.Now, p.Until = at(10*time.Minute), at(11*time.Minute)
	equalIDs(t, "pull at the retry", jobIDs(pull(t, s, p)), ids[1:2])
	d := getDelivery(t, s, a.ID, ids[1])
	if d.AttemptCount != 1 || d.LastError != "HTTP 503" {
		t.Errorf("retried delivery: %d attempts, last error %q", d.AttemptCount, d.LastError)
	}
}

// testPullLeasesOutliveNodes: a handout is no node's lease: neither a
// restart (LeasesReleaseAll) nor the release of dead nodes' leases ends
// it before its visibility.
func testPullLeasesOutliveNodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	pl := mkPullEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(time.Second))
	p := store.PullParams{AppID: a.ID, EndpointID: pl.ID, Now: at(time.Minute), Until: at(time.Hour), Limit: 10}
	equalIDs(t, "pull", jobIDs(pull(t, s, p)), ids)

	noErr(t, s.LeasesReleaseAll(ctx), "LeasesReleaseAll")
	n, err := s.LeasesReleaseDead(ctx, at(2*time.Minute), time.Second)
	noErr(t, err, "LeasesReleaseDead")
	if n != 0 {
		t.Errorf("LeasesReleaseDead cleared %d leases, want 0", n)
	}
	p.Now = at(2 * time.Minute)
	equalIDs(t, "pull after the releases", jobIDs(pull(t, s, p)), nil)
	p.Now = at(time.Hour + time.Second)
	equalIDs(t, "pull after the visibility", jobIDs(pull(t, s, p)), ids)
}

// testPullScope: only an enabled pull endpoint of the app hands out.
func testPullScope(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	b := mkApp(t, s, "b")
	pl := mkPullEndpoint(t, s, a.ID)
	push := mkEndpoint(t, s, a.ID)
	ids, _ := splitByEndpoint(t, s, a.ID, pl.ID, mkDeliveries(t, s, a.ID, at(time.Second)))
	p := store.PullParams{AppID: b.ID, EndpointID: pl.ID, Now: at(time.Minute), Until: at(time.Hour)}
	equalIDs(t, "pull as another app", jobIDs(pull(t, s, p)), nil)
	p.AppID, p.EndpointID = a.ID, push.ID
	equalIDs(t, "pull of a push endpoint", jobIDs(pull(t, s, p)), nil)

	pl.Enabled = false
	noErr(t, s.EndpointUpdate(ctx, pl), "EndpointUpdate disable")
	p.EndpointID = pl.ID
	equalIDs(t, "pull of a disabled endpoint", jobIDs(pull(t, s, p)), nil)
	pl.Enabled = true
	noErr(t, s.EndpointUpdate(ctx, pl), "EndpointUpdate enable")
	equalIDs(t, "pull once enabled", jobIDs(pull(t, s, p)), ids)

	noErr(t, s.EndpointDelete(ctx, a.ID, pl.ID, at(2*time.Minute)), "EndpointDelete")
	p.Now = at(2 * time.Hour)
	equalIDs(t, "pull of a deleted endpoint", jobIDs(pull(t, s, p)), nil)
	if d := getDelivery(t, s, a.ID, ids[0]); d.Status != herald.StatusFailed {
		t.Errorf("delivery of the deleted endpoint: %s, want failed", d.Status)
	}
}
