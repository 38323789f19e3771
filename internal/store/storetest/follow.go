package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var followCases = []testCase{
	{"AttemptsFollow/order", testFollowOrder},
	{"AttemptsFollow/endpoint_deleted", testFollowEndpointDeleted},
}

func follow(t *testing.T, s store.Store, appID, cursor string, limit int) store.FollowPage {
	t.Helper()
	page, err := s.AttemptsFollow(t.Context(), store.FollowParams{AppID: appID, Cursor: cursor, Limit: limit})
	if err != nil {
		t.Fatalf("AttemptsFollow(%q): %v", cursor, err)
	}
	if page.Cursor == "" {
		t.Fatalf("AttemptsFollow(%q): no cursor", cursor)
	}
	if n := len(page.Attempts); n > 0 && page.Attempts[n-1].Cursor != page.Cursor {
		t.Errorf("AttemptsFollow: page cursor %q, last attempt's %q", page.Cursor, page.Attempts[n-1].Cursor)
	}
	return page
}

// followUntil asks AttemptsFollow until it returns at least n attempts:
// a driver may show an attempt only once every transaction that began
// before it ended (PostgreSQL: any transaction of the cluster, so other
// tests' too).
func followUntil(t *testing.T, s store.Store, appID, cursor string, limit, n int) store.FollowPage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		page := follow(t, s, appID, cursor, limit)
		if len(page.Attempts) >= n || time.Now().After(deadline) {
			return page
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func followedIDs(page store.FollowPage) []string {
	ids := make([]string, len(page.Attempts))
	for i, f := range page.Attempts {
		ids[i] = f.Attempt.ID
	}
	return ids
}

// testFollowOrder: a follower starting from now sees its app's attempts
// only, in the order they were recorded, a page at a time, each once,
// with what identifies the delivery, the status the attempt gave it and
// the next attempt time it set.
func testFollowOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	old := mkEndpoint(t, s, a.ID)
	dOld := mkDeliveries(t, s, a.ID, at(0))
	record(t, s, store.AttemptResult{Attempt: attempt(dOld[0], 1, at(time.Second), 200), Status: herald.StatusSucceeded, Now: at(time.Second)})
	noErr(t, s.EndpointDelete(ctx, a.ID, old.ID, at(time.Second)), "EndpointDelete")

	start := follow(t, s, a.ID, "", 0)
	if len(start.Attempts) != 0 {
		t.Fatalf("first page from now: %d attempts, want none", len(start.Attempts))
	}
	equalIDs(t, "nothing new", followedIDs(follow(t, s, a.ID, start.Cursor, 0)), nil)

	ep := mkEndpoint(t, s, a.ID)
	mkEndpoint(t, s, b.ID)
	dA := mkDeliveries(t, s, a.ID, at(2*time.Second), at(3*time.Second))
	dB := mkDeliveries(t, s, b.ID, at(2*time.Second))
	next := at(time.Minute)
	a1 := attempt(dA[0], 1, at(4*time.Second), 500)
	record(t, s, store.AttemptResult{Attempt: a1, Status: herald.StatusPending, NextAttemptAt: &next, Now: at(4 * time.Second)},
		store.AttemptResult{Attempt: attempt(dB[0], 1, at(4*time.Second), 200), Status: herald.StatusSucceeded, Now: at(4 * time.Second)})
	b1 := attempt(dA[1], 1, at(5*time.Second), 204)
	record(t, s, store.AttemptResult{Attempt: b1, Status: herald.StatusSucceeded, Now: at(5 * time.Second)})

	p1 := followUntil(t, s, a.ID, start.Cursor, 1, 1)
	equalIDs(t, "first page", followedIDs(p1), []string{a1.ID})
	f := p1.Attempts[0]
	if f.EndpointID != ep.ID || f.EventType != "test.event" || f.EventID != getDelivery(t, s, a.ID, dA[0]).EventID ||
		f.DeliveryStatus != herald.StatusPending || f.Attempt.DeliveryID != dA[0] || f.Attempt.Number != 1 ||
		f.Attempt.Response == nil || f.Attempt.Response.StatusCode != 500 ||
		f.Attempt.ErrorKind != herald.ErrorKindHTTPStatus || f.Attempt.Error != "HTTP 500" ||
		f.Attempt.LatencyMS != a1.LatencyMS || !f.Attempt.CreatedAt.Equal(us(a1.CreatedAt)) {
		t.Errorf("followed attempt: %s", dump(f))
	}
	equal(t, "next attempt of the latest attempt", f.NextAttemptAt, usPtr(&next))
	p2 := followUntil(t, s, a.ID, p1.Cursor, 10, 1)
	equalIDs(t, "second page", followedIDs(p2), []string{b1.ID})
	if st := p2.Attempts[0].DeliveryStatus; st != herald.StatusSucceeded || p2.Attempts[0].NextAttemptAt != nil {
		t.Errorf("succeeded attempt: status %q, next %v", st, p2.Attempts[0].NextAttemptAt)
	}
	p3 := follow(t, s, a.ID, p2.Cursor, 10)
	equalIDs(t, "after the last", followedIDs(p3), nil)
	if p3.Cursor != p2.Cursor {
		t.Errorf("empty page moved the cursor from %q to %q", p2.Cursor, p3.Cursor)
	}

	a2 := attempt(dA[0], 2, at(time.Minute), 200)
	record(t, s, store.AttemptResult{Attempt: a2, Status: herald.StatusSucceeded, Now: at(time.Minute)})
	equalIDs(t, "after a retry", followedIDs(followUntil(t, s, a.ID, p3.Cursor, 10, 1)), []string{a2.ID})
	again := followUntil(t, s, a.ID, start.Cursor, 10, 3)
	equalIDs(t, "again from the start", followedIDs(again), []string{a1.ID, b1.ID, a2.ID})
	if f := again.Attempts[0]; f.DeliveryStatus != herald.StatusPending || f.NextAttemptAt == nil || !f.NextAttemptAt.Equal(us(next)) {
		t.Errorf("retried attempt read later: status %q, next %v; want pending, next %v as recorded", f.DeliveryStatus, f.NextAttemptAt, next)
	}

	fromB := follow(t, s, b.ID, "", 0)
	equalIDs(t, "other app from now", followedIDs(follow(t, s, b.ID, fromB.Cursor, 10)), nil)
	_, err := s.AttemptsFollow(ctx, store.FollowParams{AppID: a.ID, Cursor: "not a cursor"})
	wantErr(t, err, store.ErrCursor, "AttemptsFollow with a foreign cursor")
}

// testFollowEndpointDeleted: a retry recorded after its endpoint was
// deleted failed the delivery, and the follower is told so.
func testFollowEndpointDeleted(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	ep := mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, at(0))
	start := follow(t, s, a.ID, "", 0)
	noErr(t, s.EndpointDelete(t.Context(), a.ID, ep.ID, at(time.Second)), "EndpointDelete")
	next := at(time.Minute)
	record(t, s, store.AttemptResult{Attempt: attempt(ids[0], 1, at(2*time.Second), 503), Status: herald.StatusPending, NextAttemptAt: &next, Now: at(2 * time.Second)})
	page := followUntil(t, s, a.ID, start.Cursor, 0, 1)
	if len(page.Attempts) != 1 || page.Attempts[0].DeliveryStatus != herald.StatusFailed || page.Attempts[0].NextAttemptAt != nil {
		t.Fatalf("attempt after the endpoint's deletion: %s, want one, failed, not to be retried", dump(page.Attempts))
	}
}
