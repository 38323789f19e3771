package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Bench runs the hot-path benchmarks against stores made by newStore, which
// must return a new, empty store and register its cleanup with b.Cleanup.
//
//   - Enqueue: batches of 100 events of 1 KiB, fanned out to one endpoint.
//   - Claim: claims of 100 from a backlog of 10,000 due deliveries.
//   - ClaimPerEndpoint: the same over 10 endpoints, at most 20 each, from a
//     backlog whose oldest 9,000 deliveries are of one endpoint: each claim
//     steps over them to fill up with the others'.
//   - Record: 100 attempt results per call.
//   - RecordFenced: the same as a node records them, each result naming
//     the lease's owner (checked under a row lock).
//   - ClaimRecord: the life of 100 fresh deliveries after their enqueue
//     (made outside the timed part): one claim leases them, one call
//     records their successful first attempts as their node does.
//   - ReleaseDead: a heartbeat's LeasesReleaseDead with 100,000 leases
//     held by 4 live nodes: nothing to release, the usual case, whose
//     cost must not grow with the leases.
func Bench(b *testing.B, newStore func(b *testing.B) store.Store) {
	b.Run("Enqueue", func(b *testing.B) { benchEnqueue(b, newStore(b)) })
	b.Run("Claim", func(b *testing.B) { benchClaim(b, newStore(b), 1, 0) })
	b.Run("ClaimPerEndpoint", func(b *testing.B) { benchClaim(b, newStore(b), 10, 20) })
	b.Run("Record", func(b *testing.B) { benchRecord(b, newStore(b)) })
	b.Run("RecordFenced", func(b *testing.B) { benchRecordFenced(b, newStore(b)) })
	b.Run("EnqueueFanout", func(b *testing.B) { benchEnqueueFanout(b, newStore(b)) })
	b.Run("ClaimFanout", func(b *testing.B) { benchClaimFanout(b, newStore(b)) })
	b.Run("RecordFanout", func(b *testing.B) { benchRecordFanout(b, newStore(b)) })
	b.Run("ClaimRecord", func(b *testing.B) { benchClaimRecord(b, newStore(b)) })
	b.Run("ReleaseDead", func(b *testing.B) { benchReleaseDead(b, newStore(b)) })
}

func benchRecordFenced(b *testing.B, s store.Store) {
	ctx := context.Background()
	app, eps := benchSetup(b, s, 1)
	benchBacklog(b, s, app.ID, eps, 1000, func(int) int { return 0 })
	body := string(benchPayload)
	now := t0
	for b.Loop() {
		b.StopTimer()
		now = now.Add(2 * time.Minute)
		jobs, err := s.DeliveriesClaim(ctx, store.ClaimParams{Owner: "bench", Now: now, LeaseUntil: now.Add(time.Minute), Limit: benchBatch})
		if err != nil || len(jobs) != benchBatch {
			b.Fatalf("claim: %d, %v", len(jobs), err)
		}
		next := now.Add(time.Minute)
		rs := make([]store.AttemptResult, len(jobs))
		for j, job := range jobs {
			a := attempt(job.Delivery.ID, 0, now, 503)
			a.Request.Body = body
			rs[j] = store.AttemptResult{Attempt: a, Status: herald.StatusPending, NextAttemptAt: &next, Now: now, Owner: "bench", EventPayload: benchPayload}
		}
		b.StartTimer()
		if err := s.DeliveriesRecord(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "attempts/s")
}

func benchClaimRecord(b *testing.B, s store.Store) {
	ctx := context.Background()
	app, _ := benchSetup(b, s, 1)
	body := string(benchPayload)
	now := t0
	for b.Loop() {
		b.StopTimer()
		now = now.Add(time.Second)
		evs := benchEvents(app.ID, benchBatch, now)
		if _, err := s.EventsEnqueue(ctx, store.EnqueueParams{Events: evs, Route: routeAll}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		jobs, err := s.DeliveriesClaim(ctx, store.ClaimParams{Owner: "bench", Now: now, LeaseUntil: now.Add(time.Minute), Limit: benchBatch})
		if err != nil || len(jobs) != benchBatch {
			b.Fatalf("claim: %d, %v", len(jobs), err)
		}
		rs := make([]store.AttemptResult, len(jobs))
		for j, job := range jobs {
			a := attempt(job.Delivery.ID, 0, now, 200)
			a.Request.Body = body
			rs[j] = store.AttemptResult{Attempt: a, Status: herald.StatusSucceeded, Now: now, Owner: "bench", EventPayload: benchPayload}
		}
		if err := s.DeliveriesRecord(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "deliveries/s")
}

func benchReleaseDead(b *testing.B, s store.Store) {
	ctx := context.Background()
	app, eps := benchSetup(b, s, 1)
	benchBacklog(b, s, app.ID, eps, 100_000, func(int) int { return 0 })
	now := t0.Add(time.Hour)
	owners := []string{"node-a", "node-b", "node-c", "node-d"}
	for i := 0; ; i++ {
		jobs, err := s.DeliveriesClaim(ctx, store.ClaimParams{Owner: owners[i%len(owners)], Now: now, LeaseUntil: now.Add(time.Hour), Limit: 1000})
		if err != nil {
			b.Fatal(err)
		}
		if len(jobs) == 0 {
			break
		}
	}
	for _, o := range owners {
		if _, err := s.NodeHeartbeat(ctx, o, now, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		n, err := s.LeasesReleaseDead(ctx, now, time.Minute)
		if err != nil || n != 0 {
			b.Fatalf("LeasesReleaseDead: %d, %v; want nothing released", n, err)
		}
	}
}

// fanoutEndpoints is the size of the fanout benchmarks' app: every event
// makes one delivery per endpoint.
const fanoutEndpoints = 300

// routeFanout routes an event to every endpoint and records the routing on
// it, as the engine's router does: the routing lists every endpoint, so
// its size grows with the fanout.
func routeFanout(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
	r := &herald.Routing{Matched: make([]string, 0, len(eps)), Skipped: []herald.Skip{}}
	ts := make([]store.Target, 0, len(eps))
	for _, ep := range eps {
		r.Matched = append(r.Matched, ep.ID)
		ts = append(ts, store.Target{Endpoint: ep})
	}
	ev.Routing = r
	return ts
}

// benchEnqueueFanout enqueues events of one app with fanoutEndpoints
// endpoints, 10 events per call.
func benchEnqueueFanout(b *testing.B, s store.Store) {
	ctx := context.Background()
	app, _ := benchSetup(b, s, fanoutEndpoints)
	const events = 10
	for b.Loop() {
		evs := benchEvents(app.ID, events, t0)
		res, err := s.EventsEnqueue(ctx, store.EnqueueParams{Events: evs, Route: routeFanout})
		if err != nil {
			b.Fatal(err)
		}
		if len(res[0].Jobs) != fanoutEndpoints {
			b.Fatalf("%d jobs, want %d", len(res[0].Jobs), fanoutEndpoints)
		}
	}
	b.ReportMetric(float64(b.N*events*fanoutEndpoints)/b.Elapsed().Seconds(), "deliveries/s")
}

// benchClaimFanout claims 1,000 deliveries at a time from a backlog of
// events each routed to fanoutEndpoints endpoints: each claim holds few
// events, each many times.
func benchClaimFanout(b *testing.B, s store.Store) {
	ctx := context.Background()
	app, _ := benchSetup(b, s, fanoutEndpoints)
	for i := range 20 {
		evs := benchEvents(app.ID, 1, t0.Add(time.Duration(i)*time.Microsecond))
		if _, err := s.EventsEnqueue(ctx, store.EnqueueParams{Events: evs, Route: routeFanout}); err != nil {
			b.Fatal(err)
		}
	}
	now := t0.Add(time.Hour)
	const want = 1000
	for b.Loop() {
		jobs, err := s.DeliveriesClaim(ctx, store.ClaimParams{
			Owner: "bench", Now: now, LeaseUntil: now.Add(time.Minute), Limit: want,
		})
		if err != nil {
			b.Fatal(err)
		}
		if len(jobs) != want {
			b.Fatalf("claimed %d, want %d", len(jobs), want)
		}
		b.StopTimer()
		if err := s.DeliveriesRelease(ctx, "bench", jobIDs(jobs)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*want)/b.Elapsed().Seconds(), "deliveries/s")
}

// benchRecordFanout records successful first attempts of fresh deliveries,
// 1,000 per call, as the recorder does when every endpoint answers 200.
// The deliveries are made outside the timed part.
func benchRecordFanout(b *testing.B, s store.Store) {
	ctx := context.Background()
	app, _ := benchSetup(b, s, fanoutEndpoints)
	body := string(benchPayload)
	const batch = 1000
	var ids []string
	for b.Loop() {
		b.StopTimer()
		for len(ids) < batch {
			evs := benchEvents(app.ID, 10, t0)
			res, err := s.EventsEnqueue(ctx, store.EnqueueParams{Events: evs, Route: routeFanout})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				ids = append(ids, jobIDs(r.Jobs)...)
			}
		}
		now := t0.Add(time.Second)
		rs := make([]store.AttemptResult, batch)
		for j := range rs {
			a := attempt(ids[j], 0, now, 200)
			a.Request.Body = body
			rs[j] = store.AttemptResult{Attempt: a, Status: herald.StatusSucceeded, Now: now, EventPayload: benchPayload}
		}
		ids = ids[batch:]
		b.StartTimer()
		if err := s.DeliveriesRecord(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "attempts/s")
}

const benchBatch = 100

// benchPayload is a 1 KiB JSON document.
var benchPayload = herald.RawJSON(`{"data":"` + strings.Repeat("x", 1024-11) + `"}`)

func benchSetup(b *testing.B, s store.Store, endpoints int) (*herald.App, []*herald.Endpoint) {
	b.Helper()
	ctx := context.Background()
	app := newApp("bench")
	if err := s.AppCreate(ctx, app); err != nil {
		b.Fatal(err)
	}
	var eps []*herald.Endpoint
	for range endpoints {
		ep := newEndpoint(app.ID)
		if err := s.EndpointCreate(ctx, ep); err != nil {
			b.Fatal(err)
		}
		eps = append(eps, ep)
	}
	return app, eps
}

func benchEvents(appID string, n int, createdAt time.Time) []*herald.Event {
	evs := make([]*herald.Event, n)
	for i := range evs {
		evs[i] = &herald.Event{
			ID:        herald.NewID(herald.PrefixEvent),
			AppID:     appID,
			EventType: "bench.event",
			Payload:   benchPayload,
			CreatedAt: createdAt,
		}
	}
	return evs
}

// benchBacklog enqueues n events, the i-th delivered to eps[pick(i)], and
// returns the deliveries' ids.
func benchBacklog(b *testing.B, s store.Store, appID string, eps []*herald.Endpoint, n int, pick func(i int) int) []string {
	b.Helper()
	next := 0
	route := func(ev *herald.Event, _ []*herald.Endpoint) []store.Target {
		ep := eps[pick(next)]
		next++
		return []store.Target{{Endpoint: ep}}
	}
	var ids []string
	for done := 0; done < n; done += 1000 {
		evs := benchEvents(appID, min(1000, n-done), t0.Add(time.Duration(done)*time.Microsecond))
		res, err := s.EventsEnqueue(context.Background(), store.EnqueueParams{Events: evs, Route: route})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			ids = append(ids, r.Jobs[0].Delivery.ID)
		}
	}
	return ids
}

func benchEnqueue(b *testing.B, s store.Store) {
	ctx := context.Background()
	app, _ := benchSetup(b, s, 1)
	b.SetBytes(int64(benchBatch * len(benchPayload)))
	for b.Loop() {
		evs := benchEvents(app.ID, benchBatch, t0)
		res, err := s.EventsEnqueue(ctx, store.EnqueueParams{Events: evs, Route: routeAll})
		if err != nil {
			b.Fatal(err)
		}
		if len(res[0].Jobs) != 1 {
			b.Fatalf("%d jobs, want 1", len(res[0].Jobs))
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

// benchClaim claims from a constant backlog: the deliveries claimed are
// released, outside the timed part, before the next claim.
func benchClaim(b *testing.B, s store.Store, endpoints, perEndpoint int) {
	ctx := context.Background()
	app, eps := benchSetup(b, s, endpoints)
	benchBacklog(b, s, app.ID, eps, 10_000, func(i int) int {
		if i < 9000 {
			return 0
		}
		return i % len(eps)
	})
	now := t0.Add(time.Hour)
	want := benchBatch
	if perEndpoint > 0 {
		want = min(want, perEndpoint*endpoints)
	}
	for b.Loop() {
		jobs, err := s.DeliveriesClaim(ctx, store.ClaimParams{
			Owner: "bench", Now: now, LeaseUntil: now.Add(time.Minute), Limit: benchBatch, PerEndpoint: perEndpoint,
		})
		if err != nil {
			b.Fatal(err)
		}
		if len(jobs) != want {
			b.Fatalf("claimed %d, want %d", len(jobs), want)
		}
		b.StopTimer()
		if err := s.DeliveriesRelease(ctx, "bench", jobIDs(jobs)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*want)/b.Elapsed().Seconds(), "deliveries/s")
}

// benchRecord records retries on a set of 1,000 deliveries in turn.
func benchRecord(b *testing.B, s store.Store) {
	ctx := context.Background()
	app, eps := benchSetup(b, s, 1)
	ids := benchBacklog(b, s, app.ID, eps, 1000, func(int) int { return 0 })
	body := string(benchPayload)
	i := 0
	for b.Loop() {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		next := now.Add(time.Minute)
		rs := make([]store.AttemptResult, benchBatch)
		for j := range rs {
			id := ids[(i*benchBatch+j)%len(ids)]
			a := attempt(id, 0, now, 503)
			a.Request.Body = body
			rs[j] = store.AttemptResult{Attempt: a, Status: herald.StatusPending, NextAttemptAt: &next, Now: now, EventPayload: benchPayload}
		}
		if err := s.DeliveriesRecord(ctx, rs); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "attempts/s")
}
