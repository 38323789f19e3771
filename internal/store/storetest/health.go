package storetest

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

var healthCases = []testCase{
	{"EndpointDisable", testEndpointDisable},
	{"EndpointsTrackHealth/window", testTrackHealthWindow},
	{"EndpointsTrackHealth/success_resets", testTrackHealthSuccessResets},
	{"EndpointsTrackHealth/reenable_clears", testTrackHealthReenable},
	{"EndpointStats", testEndpointStats},
}

func testEndpointDisable(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	ep := newEndpoint(a.ID)
	ep.Filter, ep.RetrySchedule = "true", "1m"
	noErr(t, s.EndpointCreate(ctx, ep), "EndpointCreate")
	mkDeliveries(t, s, a.ID, t0)

	now := at(time.Hour)
	got, err := s.EndpointDisable(ctx, a.ID, ep.ID, "receiver answered 410 Gone", now)
	noErr(t, err, "EndpointDisable")
	want := *ep
	want.Enabled = false
	want.DisabledReason, want.DisabledAt = "receiver answered 410 Gone", &now
	want.UpdatedAt = now
	equal(t, "disabled endpoint", got, &want)
	stored, err := s.EndpointGet(ctx, a.ID, ep.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "stored disabled endpoint", stored, &want)

	// Nothing of it is sent any more.
	equalIDs(t, "claim of a disabled endpoint", jobIDs(claim(t, s, store.ClaimParams{Now: at(2 * time.Hour), Limit: 10})), nil)

	// Already disabled: nothing changes.
	got, err = s.EndpointDisable(ctx, a.ID, ep.ID, "another reason", at(2*time.Hour))
	noErr(t, err, "EndpointDisable again")
	if got != nil {
		t.Errorf("EndpointDisable of a disabled endpoint: %+v, want nil", got)
	}
	stored, err = s.EndpointGet(ctx, a.ID, ep.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "endpoint after a second disable", stored, &want)

	_, err = s.EndpointDisable(ctx, b.ID, ep.ID, "r", now)
	wantErr(t, err, store.ErrNotFound, "EndpointDisable through another app")
	_, err = s.EndpointDisable(ctx, a.ID, "ep_missing", "r", now)
	wantErr(t, err, store.ErrNotFound, "EndpointDisable missing")
	gone := mkEndpoint(t, s, a.ID)
	noErr(t, s.EndpointDelete(ctx, a.ID, gone.ID, now), "EndpointDelete")
	_, err = s.EndpointDisable(ctx, a.ID, gone.ID, "r", now)
	wantErr(t, err, store.ErrNotFound, "EndpointDisable deleted")
}

// healthTracker calls EndpointsTrackHealth with a window of an hour and at
// least 3 failures.
func healthTracker(t *testing.T, s store.Store) func(now time.Time, rs ...store.HealthResult) []*herald.Endpoint {
	return func(now time.Time, rs ...store.HealthResult) []*herald.Endpoint {
		t.Helper()
		eps, err := s.EndpointsTrackHealth(t.Context(), store.HealthParams{Results: rs, Window: time.Hour, MinFailures: 3, Now: now})
		noErr(t, err, "EndpointsTrackHealth")
		return eps
	}
}

func outcome(ep *herald.Endpoint, ok bool) store.HealthResult {
	return store.HealthResult{AppID: ep.AppID, EndpointID: ep.ID, Succeeded: ok}
}

// failures returns n failed outcomes of ep.
func failures(ep *herald.Endpoint, n int) []store.HealthResult {
	rs := make([]store.HealthResult, n)
	for i := range rs {
		rs[i] = outcome(ep, false)
	}
	return rs
}

func healthReason(since time.Time, n int) string {
	return fmt.Sprintf("every delivery failed since %s (%d failed deliveries)", since.UTC().Format(time.RFC3339), n)
}

// wantDisabled checks that got is exactly ep, disabled at now for reason,
// and that it is stored so.
func wantDisabled(t *testing.T, s store.Store, got []*herald.Endpoint, ep *herald.Endpoint, now time.Time, reason string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("disabled %d endpoints (%s), want %s", len(got), dump(got), ep.ID)
	}
	want := *ep
	want.Enabled = false
	want.DisabledReason, want.DisabledAt, want.UpdatedAt = reason, &now, now
	equal(t, "disabled endpoint", got[0], &want)
	stored, err := s.EndpointGet(t.Context(), ep.AppID, ep.ID)
	noErr(t, err, "EndpointGet")
	equal(t, "stored disabled endpoint", stored, &want)
}

func testTrackHealthWindow(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	ep := newEndpoint(a.ID)
	ep.Filter = "true"
	noErr(t, s.EndpointCreate(ctx, ep), "EndpointCreate")
	few := mkEndpoint(t, s, a.ID)
	healthy := mkEndpoint(t, s, a.ID)
	track := healthTracker(t, s)

	// Failing since t0, with 2 and then 3 failures: not for an hour yet.
	if got := track(t0, append(failures(ep, 2), outcome(few, false), outcome(healthy, true))...); len(got) != 0 {
		t.Fatalf("disabled %s at the first failures", dump(got))
	}
	// A result naming another app does not count.
	track(at(10*time.Minute), store.HealthResult{AppID: b.ID, EndpointID: ep.ID})
	if got := track(at(30*time.Minute), outcome(ep, false)); len(got) != 0 {
		t.Fatalf("disabled %s within the window", dump(got))
	}
	if got := track(at(time.Hour-time.Microsecond), outcome(ep, false), outcome(healthy, true)); len(got) != 0 {
		t.Fatalf("disabled %s a microsecond before the window", dump(got))
	}
	// Window 0 disables nothing.
	got, err := s.EndpointsTrackHealth(ctx, store.HealthParams{Results: failures(ep, 1), MinFailures: 1, Now: at(2 * time.Hour)})
	noErr(t, err, "EndpointsTrackHealth with window 0")
	if len(got) != 0 {
		t.Fatalf("window 0 disabled %s", dump(got))
	}

	// Failing for 3 hours with 6 failures: disabled. few has been
	// failing as long, but with 2 failures only.
	now := at(3 * time.Hour)
	got = track(now, outcome(ep, false), outcome(few, false), outcome(healthy, false))
	wantDisabled(t, s, got, ep, now, healthReason(t0, 6))
	// few reaches 3 failures over more than an hour: disabled.
	got = track(at(4*time.Hour), outcome(few, false))
	wantDisabled(t, s, got, few, at(4*time.Hour), healthReason(t0, 3))

	// Already disabled: not returned again.
	if got := track(at(5*time.Hour), failures(ep, 3)...); len(got) != 0 {
		t.Errorf("disabled again: %s", dump(got))
	}
	noErr(t, s.EndpointDelete(ctx, a.ID, healthy.ID, at(5*time.Hour)), "EndpointDelete")
	if got := track(at(6*time.Hour), failures(healthy, 5)...); len(got) != 0 {
		t.Errorf("deleted endpoint disabled: %s", dump(got))
	}
	if got := track(at(6*time.Hour), store.HealthResult{AppID: a.ID, EndpointID: "ep_missing"}); len(got) != 0 {
		t.Errorf("missing endpoint disabled: %s", dump(got))
	}
}

func testTrackHealthSuccessResets(t *testing.T, s store.Store) {
	a := mkApp(t, s, "a")
	ep := mkEndpoint(t, s, a.ID)
	track := healthTracker(t, s)

	track(t0, failures(ep, 3)...)
	track(at(30*time.Minute), outcome(ep, true))
	// Failing again since 70 min only.
	if got := track(at(70*time.Minute), failures(ep, 3)...); len(got) != 0 {
		t.Fatalf("disabled %s although a success came 40 minutes ago", dump(got))
	}
	// Failures then a success in one batch: cleared.
	track(at(2*time.Hour), outcome(ep, false), outcome(ep, true))
	track(at(2*time.Hour+30*time.Minute), failures(ep, 2)...)
	if got := track(at(3*time.Hour), failures(ep, 1)...); len(got) != 0 {
		t.Fatalf("disabled %s after a batch ending in success", dump(got))
	}
	// Failures around a success in one batch: failing since that batch,
	// with the failures after the success only.
	track(at(4*time.Hour), outcome(ep, false), outcome(ep, true), outcome(ep, false), outcome(ep, false))
	now := at(5 * time.Hour)
	got := track(now, outcome(ep, false))
	wantDisabled(t, s, got, ep, now, healthReason(at(4*time.Hour), 3))
}

func testTrackHealthReenable(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkApp(t, s, "a")
	ep := mkEndpoint(t, s, a.ID)
	kept := mkEndpoint(t, s, a.ID)
	track := healthTracker(t, s)

	track(t0, append(failures(ep, 3), failures(kept, 3)...)...)
	got := track(at(time.Hour), failures(ep, 1)...)
	wantDisabled(t, s, got, ep, at(time.Hour), healthReason(t0, 4))

	// Enabled again by hand: a fresh start. Its disabled reason is the
	// caller's to keep or clear.
	cur, err := s.EndpointGet(ctx, a.ID, ep.ID)
	noErr(t, err, "EndpointGet")
	cur.Enabled, cur.UpdatedAt = true, at(2*time.Hour)
	noErr(t, s.EndpointUpdate(ctx, cur), "EndpointUpdate enable")
	if got := track(at(2*time.Hour), failures(ep, 3)...); len(got) != 0 {
		t.Fatalf("disabled %s at the first failures after re-enabling", dump(got))
	}
	now := at(3 * time.Hour)
	got = track(now, failures(ep, 1)...)
	wantDisabled(t, s, got, cur, now, healthReason(at(2*time.Hour), 4))

	// An update that leaves the endpoint enabled keeps its record.
	kept.Description, kept.UpdatedAt = "renamed", at(30*time.Minute)
	noErr(t, s.EndpointUpdate(ctx, kept), "EndpointUpdate")
	now = at(4 * time.Hour)
	got = track(now, failures(kept, 1)...)
	wantDisabled(t, s, got, kept, now, healthReason(t0, 4))
}

// testEndpointStats spreads one endpoint's deliveries over the last week
// and beyond, with known outcomes and latencies, and checks every number.
// Delivery ids are made at the deliveries' times (see newIDAt).
func testEndpointStats(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkApp(t, s, "a"), mkApp(t, s, "b")
	ep := mkEndpoint(t, s, a.ID)
	quiet := mkEndpoint(t, s, a.ID)
	mkEndpoint(t, s, b.ID)
	now := at(10 * 24 * time.Hour)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	const day = 24 * time.Hour

	type try struct {
		at      time.Time
		status  int // 0: no response (connection refused)
		latency float64
	}
	type row struct {
		created time.Time
		final   herald.DeliveryStatus
		tries   []try
	}
	rows := []row{
		// The hour: one success, one failure, two pending (one created
		// at its first microsecond).
		{ago(10 * time.Minute), herald.StatusSucceeded, []try{{ago(9 * time.Minute), 200, 100.25}}},
		{ago(30 * time.Minute), herald.StatusFailed, []try{{ago(29 * time.Minute), 500, 300}}},
		{ago(50 * time.Minute), herald.StatusPending, nil},
		{ago(time.Hour), herald.StatusPending, nil},
		// And one retrying: its attempt failed after the latest success.
		{ago(40 * time.Minute), herald.StatusPending, []try{{ago(2 * time.Minute), 503, 30}}},
		// The day: two more successes, one more failure. The latest
		// success and the latest failure are attempts of older
		// deliveries, made after the hour's.
		{ago(time.Hour + time.Microsecond), herald.StatusSucceeded, []try{{ago(50 * time.Minute), 204, 50}}},
		{ago(12 * time.Hour), herald.StatusSucceeded, []try{{ago(5 * time.Minute), 200, 60}}},
		{ago(20 * time.Hour), herald.StatusFailed, []try{{ago(3 * time.Minute), 0, 7}}},
		// The week: a success after a retry, a failure at the week's
		// first microsecond (and the test send below, a success).
		{ago(3 * day), herald.StatusSucceeded, []try{{ago(3 * day), 503, 400}, {ago(2 * day), 200, 200}}},
		{ago(7 * day), herald.StatusFailed, []try{{ago(7 * day), 410, 1}}},
		// Outside: just before the week, and not before now.
		{ago(7*day + time.Microsecond), herald.StatusFailed, []try{{ago(7*day + time.Microsecond), 500, 9000}}},
		{ago(9 * day), herald.StatusSucceeded, []try{{ago(9 * day), 200, 9000}}},
		{now, herald.StatusPending, nil},
	}
	var evs []*herald.Event
	var ds []*herald.Delivery
	byID := map[string]row{}
	for _, r := range rows {
		ev := newEvent(a.ID, "e", r.created)
		evs = append(evs, ev)
		next := r.created
		if r.tries == nil {
			next = now.Add(time.Hour) // never claimed below
		}
		d := &herald.Delivery{ID: newIDAt(herald.PrefixDelivery, r.created), AppID: a.ID, EventID: ev.ID, EndpointID: ep.ID,
			EventType: "e", Status: herald.StatusPending, NextAttemptAt: &next, CreatedAt: r.created, UpdatedAt: r.created}
		ds = append(ds, d)
		byID[d.ID] = r
	}
	// Another endpoint's delivery in the hour counts for it only.
	other := newEvent(a.ID, "e", ago(10*time.Minute))
	evs = append(evs, other)
	ds = append(ds, &herald.Delivery{ID: newIDAt(herald.PrefixDelivery, ago(10*time.Minute)), AppID: a.ID, EventID: other.ID,
		EndpointID: quiet.ID, EventType: "e", Status: herald.StatusPending, CreatedAt: ago(10 * time.Minute)})
	enqueue(t, s, store.EnqueueParams{Route: routeNone}, evs...)
	noErr(t, s.DeliveriesCreate(ctx, ds), "DeliveriesCreate")

	// Play the attempts: round k makes every delivery's k-th attempt.
	for k := 0; ; k++ {
		jobs := claim(t, s, store.ClaimParams{Now: now, Limit: 100, EndpointID: ep.ID})
		if len(jobs) == 0 {
			break
		}
		var rs []store.AttemptResult
		for _, j := range jobs {
			r := byID[j.Delivery.ID]
			if k >= len(r.tries) {
				t.Fatalf("round %d: claimed %s, which has %d attempts", k, j.Delivery.ID, len(r.tries))
			}
			tr := r.tries[k]
			att := attempt(j.Delivery.ID, k+1, tr.at, tr.status)
			att.LatencyMS = tr.latency
			if tr.status == 0 {
				att.Response, att.ErrorKind, att.Error = nil, herald.ErrorKindConnect, "connection refused"
			}
			res := store.AttemptResult{Attempt: att, Status: r.final, Now: tr.at}
			if k < len(r.tries)-1 {
				res.Status, res.NextAttemptAt = herald.StatusPending, &tr.at
			} else if r.final == herald.StatusPending {
				later := now.Add(time.Hour) // retried after the stats are read
				res.NextAttemptAt = &later
			}
			rs = append(rs, res)
		}
		record(t, s, rs...)
	}

	// A test send of the week counts as well.
	sent := ago(6 * day)
	tev := newEvent(a.ID, "e", sent)
	td := &herald.Delivery{ID: newIDAt(herald.PrefixDelivery, sent), AppID: a.ID, EventID: tev.ID, EndpointID: ep.ID, EventType: "e",
		Status: herald.StatusSucceeded, AttemptCount: 1, Test: true, CreatedAt: sent, UpdatedAt: sent}
	ta := attempt(td.ID, 1, sent, 200)
	ta.Trigger, ta.LatencyMS = herald.TriggerTest, 20
	noErr(t, s.TestSendRecord(ctx, tev, td, ta), "TestSendRecord")

	got, err := s.EndpointStats(ctx, a.ID, ep.ID, now)
	noErr(t, err, "EndpointStats")
	rate := func(r float64) *float64 { return &r }
	lastOK, lastFail, failingSince := ago(5*time.Minute), ago(2*time.Minute), us(ago(3*time.Minute))
	// The retrying delivery counts against the rate, as a failure would.
	want := &herald.EndpointStats{
		Hour: herald.StatsWindow{Pending: 3, Retrying: 1, Succeeded: 1, Failed: 1, SuccessRate: rate(1.0 / 3)},
		Day:  herald.StatsWindow{Pending: 3, Retrying: 1, Succeeded: 3, Failed: 2, SuccessRate: rate(0.5)},
		Week: herald.StatsWindow{Pending: 3, Retrying: 1, Succeeded: 5, Failed: 3, SuccessRate: rate(5.0 / 9)},
		// Answered attempts of the week: 1, 20, 30, 50, 60, 100.25,
		// 200, 300, 400 ms. Nearest rank: the 5th and the 9th.
		LatencyP50MS:     rate(60),
		LatencyP99MS:     rate(400),
		LastSuccessAt:    &lastOK,
		LastFailureAt:    &lastFail,
		LastFailureError: "HTTP 503",
		// The first failure after the latest success, 3 minutes ago.
		FailingSince: &failingSince,
	}
	equalStats(t, "stats", got, want)
	// The chart's hours: now is 05:06:07, so the last bucket holds the
	// attempts 5, 3 and 2 minutes ago, the one before those 9, 29 and 50
	// minutes ago; the rest are empty.
	series := emptySeries(now)
	series[23] = herald.StatsBucket{Start: series[23].Start, Attempts: 3, Succeeded: 1, Failed: 2, SuccessRate: rate(1.0 / 3), LatencyP50MS: rate(30), LatencyP99MS: rate(60)}
	series[22] = herald.StatsBucket{Start: series[22].Start, Attempts: 3, Succeeded: 2, Failed: 1, SuccessRate: rate(2.0 / 3), LatencyP50MS: rate(100.25), LatencyP99MS: rate(300)}
	equalSeries(t, "series", got.Series, series)

	// An endpoint without deliveries, even deleted, has empty stats.
	noErr(t, s.EndpointDelete(ctx, a.ID, quiet.ID, now), "EndpointDelete")
	got, err = s.EndpointStats(ctx, a.ID, quiet.ID, now.Add(2*time.Hour))
	noErr(t, err, "EndpointStats of a deleted endpoint")
	equalStats(t, "stats of a deleted endpoint, after its hour", got, &herald.EndpointStats{
		Day:  herald.StatsWindow{Failed: 1, SuccessRate: rate(0)},
		Week: herald.StatsWindow{Failed: 1, SuccessRate: rate(0)},
	})
	equalSeries(t, "series of a deleted endpoint", got.Series, emptySeries(now.Add(2*time.Hour)))

	_, err = s.EndpointStats(ctx, b.ID, ep.ID, now)
	wantErr(t, err, store.ErrNotFound, "EndpointStats through another app")
	_, err = s.EndpointStats(ctx, a.ID, "ep_missing", now)
	wantErr(t, err, store.ErrNotFound, "EndpointStats missing")
}

// round6 rounds a rate or latency to a millionth, so that drivers'
// float arithmetic compares equal.
func round6(f *float64) *float64 {
	if f == nil {
		return nil
	}
	r := math.Round(*f*1e6) / 1e6
	return &r
}

// equalStats compares stats, rates and latencies to a millionth.
func equalStats(t *testing.T, what string, got, want *herald.EndpointStats) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil", what)
	}
	g, w := *got, *want
	g.Series, w.Series = nil, nil // compared by equalSeries
	for _, st := range []*herald.EndpointStats{&g, &w} {
		for _, win := range []*herald.StatsWindow{&st.Hour, &st.Day, &st.Week} {
			win.SuccessRate = round6(win.SuccessRate)
		}
		st.LatencyP50MS, st.LatencyP99MS = round6(st.LatencyP50MS), round6(st.LatencyP99MS)
	}
	equal(t, what, &g, &w)
}

// emptySeries is the chart of a day without attempts up to now.
func emptySeries(now time.Time) []herald.StatsBucket {
	first := now.UTC().Truncate(time.Hour).Add(-(store.SeriesHours - 1) * time.Hour)
	out := make([]herald.StatsBucket, store.SeriesHours)
	for i := range out {
		out[i].Start = first.Add(time.Duration(i) * time.Hour)
	}
	return out
}

// equalSeries compares charts, rates and latencies to a millionth.
func equalSeries(t *testing.T, what string, got, want []herald.StatsBucket) {
	t.Helper()
	norm := func(bs []herald.StatsBucket) []herald.StatsBucket {
		out := slices.Clone(bs)
		for i := range out {
			out[i].Start = out[i].Start.UTC()
			out[i].SuccessRate, out[i].LatencyP50MS, out[i].LatencyP99MS = round6(out[i].SuccessRate), round6(out[i].LatencyP50MS), round6(out[i].LatencyP99MS)
		}
		return out
	}
	equal(t, what, norm(got), norm(want))
}
