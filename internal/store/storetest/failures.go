package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var failureCases = []testCase{
	{"Failures", testFailures},
	{"FailuresBounds", testFailuresBounds},
	{"AppHealth", testAppHealth},
	{"Locate", testLocate},
}

// failureFixture: app a with ep1 and ep2, app b with ep3, deliveries made
// at t0 (ids of t0) and attempted so that
//
//	ep1: d[0] 500 retrying, d[1] 500 failed, d[2] timeout then 500 failed,
//	     d[3] succeeded
//	ep2: d[4] connect failed, d[5] 503 failed, d[6] not attempted
//	ep3: one 500 failed
type failureFixture struct {
	a, b          *herald.App
	ep1, ep2, ep3 *herald.Endpoint
	d             []string // app a's, as above
	events        []*herald.Event
	longBody      string
}

func mkFailureFixture(t *testing.T, s store.Store) *failureFixture {
	t.Helper()
	f := &failureFixture{a: mkApp(t, s, "a"), b: mkApp(t, s, "b")}
	f.ep1 = mkEndpoint(t, s, f.a.ID, "one")
	f.ep2 = mkEndpoint(t, s, f.a.ID, "two")
	f.ep3 = mkEndpoint(t, s, f.b.ID)
	newID := func() string { return newIDAt(herald.PrefixDelivery, t0) }
	p := store.EnqueueParams{Route: routeAll, NewDeliveryID: newID}
	for i := range 7 {
		typ := "one"
		if i >= 4 {
			typ = "two"
		}
		ev := newEvent(f.a.ID, typ, at(time.Duration(i)*time.Second))
		if i == 1 {
			ev.IdempotencyKey = "order-42"
		}
		f.events = append(f.events, ev)
		res := enqueue(t, s, p, ev)
		f.d = append(f.d, res[0].Jobs[0].Delivery.ID)
	}
	res := enqueue(t, s, p, newEvent(f.b.ID, "x", t0))
	other := res[0].Jobs[0].Delivery.ID

	f.longBody = strings.Repeat("é", 100) + strings.Repeat("x", 100)
	fail := func(id string, n int, when time.Time, status int, body string) *herald.Attempt {
		a := attempt(id, n, when, status)
		a.Response.Body = body
		return a
	}
	noAnswer := func(id string, n int, when time.Time, kind herald.ErrorKind) *herald.Attempt {
		a := attempt(id, n, when, 0)
		a.Response, a.ErrorKind, a.Error = nil, kind, "no answer: "+string(kind)
		return a
	}
	retry := at(time.Hour)
	record(t, s,
		store.AttemptResult{Attempt: fail(f.d[0], 1, at(time.Minute), 500, f.longBody), Status: herald.StatusPending, NextAttemptAt: &retry, Now: at(time.Minute)},
		store.AttemptResult{Attempt: fail(f.d[1], 1, at(2*time.Minute), 500, "oops"), Status: herald.StatusFailed, Now: at(2 * time.Minute)},
		store.AttemptResult{Attempt: noAnswer(f.d[2], 1, at(3*time.Minute), herald.ErrorKindTimeout), Status: herald.StatusPending, NextAttemptAt: &retry, Now: at(3 * time.Minute)},
		store.AttemptResult{Attempt: attempt(f.d[3], 1, at(time.Minute), 200), Status: herald.StatusSucceeded, Now: at(time.Minute)},
		store.AttemptResult{Attempt: noAnswer(f.d[4], 1, at(5*time.Minute), herald.ErrorKindConnect), Status: herald.StatusFailed, Now: at(5 * time.Minute)},
		store.AttemptResult{Attempt: fail(f.d[5], 1, at(6*time.Minute), 503, "busy"), Status: herald.StatusFailed, Now: at(6 * time.Minute)},
		store.AttemptResult{Attempt: fail(other, 1, at(7*time.Minute), 500, "b's"), Status: herald.StatusFailed, Now: at(7 * time.Minute)},
	)
	// d[2]'s latest attempt is the one that counts: a 500 after a timeout.
	record(t, s, store.AttemptResult{Attempt: fail(f.d[2], 2, at(4*time.Minute), 500, "oops again"), Status: herald.StatusFailed, Now: at(4 * time.Minute)})
	return f
}

// testFailures: failing deliveries are grouped by endpoint and by the
// latest attempt's cause, with counts, first and last seen and the latest
// sample; succeeded and unattempted deliveries and other apps stay out.
func testFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := mkFailureFixture(t, s)
	rep, err := s.Failures(ctx, store.FailuresParams{AppID: f.a.ID, Since: t0.Add(-time.Hour)})
	noErr(t, err, "Failures")
	if rep.Partial || rep.Scanned != 5 {
		t.Errorf("Failures: scanned %d partial %v, want 5 and false", rep.Scanned, rep.Partial)
	}
	type got struct {
		Endpoint, Cause     string
		Failed, Retrying    int
		First, Last         time.Time
		Body, Error, LastID string
		Status              int
		Kind                herald.ErrorKind
	}
	var gs []got
	for _, g := range rep.Groups {
		code := 0
		if g.StatusCode != nil {
			code = *g.StatusCode
		}
		if g.AppID != f.a.ID || !g.EndpointEnabled || g.EndpointURL == "" {
			t.Errorf("group %+v: want app %s, its endpoint's URL and enabled", g, f.a.ID)
		}
		gs = append(gs, got{g.EndpointID, g.Cause, g.Failed, g.Retrying, g.FirstSeen, g.LastSeen, g.Body, g.Error, g.LastDeliveryID, code, g.ErrorKind})
	}
	want := []got{
		{f.ep2.ID, "HTTP 503", 1, 0, us(at(6 * time.Minute)), us(at(6 * time.Minute)), "busy", "HTTP 503", f.d[5], 503, herald.ErrorKindHTTPStatus},
		{f.ep2.ID, "connect", 1, 0, us(at(5 * time.Minute)), us(at(5 * time.Minute)), "", "no answer: connect", f.d[4], 0, herald.ErrorKindConnect},
		{f.ep1.ID, "HTTP 500", 2, 1, us(at(time.Minute)), us(at(4 * time.Minute)), "oops again", "HTTP 500", f.d[2], 500, herald.ErrorKindHTTPStatus},
	}
	equal(t, "Failures groups", gs, want)

	all, err := s.Failures(ctx, store.FailuresParams{Since: t0.Add(-time.Hour)})
	noErr(t, err, "Failures of every app")
	if len(all.Groups) != 4 || all.Groups[0].AppID != f.b.ID || all.Groups[0].Cause != "HTTP 500" {
		t.Errorf("Failures of every app: %s, want app b's 500 first of 4", dump(all.Groups))
	}

	// A deleted endpoint's failures stay, without its URL: it cannot be
	// opened or disabled any more.
	noErr(t, s.EndpointDelete(ctx, f.a.ID, f.ep2.ID, at(time.Hour)), "EndpointDelete")
	rep, err = s.Failures(ctx, store.FailuresParams{AppID: f.a.ID, Since: t0.Add(-time.Hour)})
	noErr(t, err, "Failures after a delete")
	for _, g := range rep.Groups {
		if deleted := g.EndpointID == f.ep2.ID; deleted != (g.EndpointURL == "" && !g.EndpointEnabled) {
			t.Errorf("group %s: URL %q enabled %v", g.EndpointID, g.EndpointURL, g.EndpointEnabled)
		}
	}

	later, err := s.Failures(ctx, store.FailuresParams{AppID: f.a.ID, Since: t0.Add(time.Hour)})
	noErr(t, err, "Failures since later")
	if len(later.Groups) != 0 || later.Groups == nil {
		t.Errorf("Failures since after the deliveries: %s, want an empty list", dump(later.Groups))
	}
}

// testFailuresBounds: a report reads at most MaxScan deliveries and
// answers at most MaxGroups groups, and says so; samples are cut to
// FailureSampleChars characters, not bytes.
func testFailuresBounds(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := mkFailureFixture(t, s)
	rep, err := s.Failures(ctx, store.FailuresParams{AppID: f.a.ID, Since: t0.Add(-time.Hour), MaxGroups: 1})
	noErr(t, err, "Failures")
	if len(rep.Groups) != 1 || !rep.Partial {
		t.Errorf("MaxGroups 1: %d groups, partial %v", len(rep.Groups), rep.Partial)
	}
	// Reading 3 of app a's 7 deliveries examines no more than those.
	rep, err = s.Failures(ctx, store.FailuresParams{AppID: f.a.ID, Since: t0.Add(-time.Hour), MaxRead: 3})
	noErr(t, err, "Failures")
	if rep.Scanned > 3 || !rep.Partial {
		t.Errorf("MaxRead 3: scanned %d, partial %v", rep.Scanned, rep.Partial)
	}
	rep, err = s.Failures(ctx, store.FailuresParams{AppID: f.a.ID, Since: t0.Add(-time.Hour), MaxRead: 7})
	noErr(t, err, "Failures")
	if rep.Scanned != 5 || rep.Partial {
		t.Errorf("MaxRead 7 (all of app a's): scanned %d, partial %v", rep.Scanned, rep.Partial)
	}
	rep, err = s.Failures(ctx, store.FailuresParams{AppID: f.a.ID, Since: t0.Add(-time.Hour), MaxScan: 2})
	noErr(t, err, "Failures")
	if rep.Scanned != 2 || !rep.Partial {
		t.Errorf("MaxScan 2: scanned %d, partial %v", rep.Scanned, rep.Partial)
	}
	// Only d[0] holds the long body, as its only (pending) attempt: the
	// ep1 group shows d[2]'s, so ask for d[0] alone through a fresh
	// failure of ep1 that is newer.
	retry := at(2 * time.Hour)
	record(t, s, store.AttemptResult{Attempt: func() *herald.Attempt {
		a := attempt(f.d[0], 2, at(10*time.Minute), 500)
		a.Response.Body = f.longBody
		return a
	}(), Status: herald.StatusPending, NextAttemptAt: &retry, Now: at(10 * time.Minute)})
	rep, err = s.Failures(ctx, store.FailuresParams{AppID: f.a.ID, Since: t0.Add(-time.Hour)})
	noErr(t, err, "Failures")
	g := rep.Groups[0]
	if g.EndpointID != f.ep1.ID || g.LastDeliveryID != f.d[0] {
		t.Fatalf("newest group %s, want ep1's with d[0] latest", dump(g))
	}
	if want := strings.Repeat("é", 100) + strings.Repeat("x", 20); g.Body != want {
		t.Errorf("sample %q, want the first %d characters %q", g.Body, store.FailureSampleChars, want)
	}
}

// testAppHealth: failing endpoints, failed and pending deliveries of the
// window, the last event's time.
func testAppHealth(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := mkFailureFixture(t, s)
	_, err := s.EndpointsTrackHealth(ctx, store.HealthParams{Now: at(10 * time.Minute),
		Results: []store.HealthResult{{AppID: f.a.ID, EndpointID: f.ep2.ID}}})
	noErr(t, err, "EndpointsTrackHealth")
	h, err := s.AppHealth(ctx, f.a.ID, t0.Add(-time.Hour))
	noErr(t, err, "AppHealth")
	last := us(f.events[6].CreatedAt)
	want := &store.AppHealth{AppID: f.a.ID, EndpointsFailing: 1, Failed: 4, Pending: 2, Since: t0.Add(-time.Hour), LastEventAt: &last}
	equal(t, "AppHealth", h, want)

	h, err = s.AppHealth(ctx, f.a.ID, t0.Add(time.Hour))
	noErr(t, err, "AppHealth later")
	if h.Failed != 0 || h.Pending != 0 || h.EndpointsFailing != 1 {
		t.Errorf("AppHealth after the window: %s", dump(h))
	}
	empty := mkApp(t, s, "empty")
	h, err = s.AppHealth(ctx, empty.ID, t0)
	noErr(t, err, "AppHealth of an empty app")
	if h.LastEventAt != nil || h.Failed != 0 || h.EndpointsFailing != 0 {
		t.Errorf("AppHealth of an empty app: %s", dump(h))
	}
}

// testLocate: ids of every kind are found with their app, attempts with
// their delivery, idempotency keys within an app; another app's id and
// unknown ids are not found.
func testLocate(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := mkFailureFixture(t, s)
	d := getDelivery(t, s, f.a.ID, f.d[2])
	cases := []struct {
		app, id string
		want    store.Located
	}{
		{"", f.ep1.ID, store.Located{Kind: store.KindEndpoint, AppID: f.a.ID, ID: f.ep1.ID}},
		{f.a.ID, f.events[0].ID, store.Located{Kind: store.KindEvent, AppID: f.a.ID, ID: f.events[0].ID}},
		{"", f.d[1], store.Located{Kind: store.KindDelivery, AppID: f.a.ID, ID: f.d[1]}},
		{f.a.ID, d.Attempts[0].ID, store.Located{Kind: store.KindAttempt, AppID: f.a.ID, ID: d.Attempts[0].ID, DeliveryID: d.ID}},
		{f.a.ID, "order-42", store.Located{Kind: store.KindEvent, AppID: f.a.ID, ID: f.events[1].ID}},
	}
	for _, c := range cases {
		l, err := s.Locate(ctx, c.app, c.id)
		noErr(t, err, "Locate "+c.id)
		equal(t, "Locate "+c.id, *l, c.want)
	}
	for _, c := range []struct{ app, id string }{
		{f.b.ID, f.d[1]}, {f.b.ID, "order-42"}, {"", "order-42"}, {f.a.ID, "evt_nope"}, {"", "nothing"},
	} {
		if _, err := s.Locate(ctx, c.app, c.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Locate(%q, %q): %v, want ErrNotFound", c.app, c.id, err)
		}
	}
}
