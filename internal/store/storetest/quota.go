package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// quotaCases check that every call creating deliveries counts them and
// refuses, in its own transaction, what would take an app past its
// monthly delivery quota.
var quotaCases = []testCase{
	{"Quota/EventsEnqueue", testQuotaEnqueue},
	{"Quota/DeliveriesCreate", testQuotaDeliveriesCreate},
	{"Quota/DeliveriesRequeue", testQuotaRequeue},
	{"Quota/UsageCharge", testQuotaUsageCharge},
	{"Quota/Concurrent", testQuotaConcurrent},
}

// mkQuotaApp stores an app with a monthly delivery quota (0: none).
func mkQuotaApp(t *testing.T, s store.Store, uid string, quota int64) *herald.App {
	t.Helper()
	a := newApp(uid)
	a.MonthlyDeliveryQuota = quota
	noErr(t, s.AppCreate(t.Context(), a), "AppCreate")
	return a
}

// setQuota changes an app's quota.
func setQuota(t *testing.T, s store.Store, a *herald.App, quota int64) {
	t.Helper()
	a.MonthlyDeliveryQuota = quota
	noErr(t, s.AppUpdate(t.Context(), a), "AppUpdate")
}

// wantQuotaError checks that err is a refusal for the quota, saying what
// was used and asked.
func wantQuotaError(t *testing.T, err error, what string, want store.QuotaError) {
	t.Helper()
	var qe *store.QuotaError
	if !errors.As(err, &qe) || !errors.Is(err, store.ErrQuotaExceeded) {
		t.Fatalf("%s: error %v, want a *store.QuotaError", what, err)
	}
	if *qe != want {
		t.Fatalf("%s: %+v, want %+v", what, *qe, want)
	}
}

// routeFirst routes each event to the first n of the endpoints, n given
// per event id (1 when not given).
func routeFirst(n map[string]int) func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
	return func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
		k, ok := n[ev.ID]
		if !ok {
			k = 1
		}
		var ts []store.Target
		for _, ep := range eps[:min(k, len(eps))] {
			ts = append(ts, store.Target{Endpoint: ep})
		}
		return ts
	}
}

// testQuotaEnqueue: within a batch and across batches, an event is
// admitted whole or refused whole (not stored, its key free again);
// later events that fit still go; other apps, other months and Herald's
// own events are not held back.
func testQuotaEnqueue(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkQuotaApp(t, s, "a", 5), mkQuotaApp(t, s, "b", 0)
	for range 3 {
		mkEndpoint(t, s, a.ID)
		mkEndpoint(t, s, b.ID)
	}
	march := time.Date(2031, 3, 10, 0, 0, 0, 0, time.UTC)
	month := store.UsageMonth(march)

	two1, two2, tooMany, one := newEvent(a.ID, "e", march), newEvent(a.ID, "e", march), newEvent(a.ID, "e", march), newEvent(a.ID, "e", march)
	tooMany.IdempotencyKey = "k"
	other := newEvent(b.ID, "e", march)
	own := newEvent(a.ID, herald.OperationalPrefix+"endpoint.disabled", march)
	late := newEvent(a.ID, "e", march)
	fan := map[string]int{two1.ID: 2, two2.ID: 2, tooMany.ID: 2, other.ID: 3}
	p := store.EnqueueParams{Route: routeFirst(fan), IdempotencySince: march.Add(-time.Hour),
		Events: []*herald.Event{two1, two2, tooMany, one, other, own, late}}
	res, err := s.EventsEnqueue(ctx, p)
	noErr(t, err, "EventsEnqueue")
	for i, want := range []int{2, 2, -1, 1, 3, 1, -1} {
		r := res[i]
		if want < 0 {
			if r.Event != nil || r.Jobs != nil {
				t.Errorf("event %d refused but returned %+v with %d jobs", i, r.Event, len(r.Jobs))
			}
			continue
		}
		if r.Err != nil || len(r.Jobs) != want {
			t.Errorf("event %d: %v with %d deliveries, want %d", i, r.Err, len(r.Jobs), want)
		}
	}
	wantQuotaError(t, res[2].Err, "two deliveries with one left", store.QuotaError{AppID: a.ID, Month: month, Quota: 5, Used: 4, Want: 2})
	// Herald's own event counted past the quota, and was not refused.
	wantQuotaError(t, res[6].Err, "one delivery with none left", store.QuotaError{AppID: a.ID, Month: month, Quota: 5, Used: 6, Want: 1})
	for _, ev := range []*herald.Event{tooMany, late} {
		_, err := s.EventGet(ctx, a.ID, ev.ID)
		wantErr(t, err, store.ErrNotFound, "EventGet of a refused event")
	}
	wantUsage(t, s, "of a", a.ID, march, 6)
	wantUsage(t, s, "of b, without quota", b.ID, march, 3)
	if n := countDeliveries(t, s, a.ID); n != 6 {
		t.Errorf("a has %d deliveries, want the 6 counted", n)
	}

	// A later batch reads what the earlier ones counted; the next month
	// has its own count.
	p.Events = []*herald.Event{newEvent(a.ID, "e", march.Add(time.Hour)), newEvent(a.ID, "e", march.AddDate(0, 1, 0))}
	res, err = s.EventsEnqueue(ctx, p)
	noErr(t, err, "EventsEnqueue of a later batch")
	wantQuotaError(t, res[0].Err, "a later batch", store.QuotaError{AppID: a.ID, Month: month, Quota: 5, Used: 6, Want: 1})
	if res[1].Err != nil || len(res[1].Jobs) != 1 {
		t.Fatalf("an event of the next month: %v with %d deliveries", res[1].Err, len(res[1].Jobs))
	}

	// With the quota raised, the refused key is free: no duplicate.
	setQuota(t, s, a, 10)
	again := newEvent(a.ID, "e", march.Add(2*time.Hour))
	again.IdempotencyKey = "k"
	res = enqueue(t, s, p, again)
	if res[0].Duplicate || len(res[0].Jobs) != 1 {
		t.Fatalf("the key of a refused event: duplicate %v, %d deliveries", res[0].Duplicate, len(res[0].Jobs))
	}
	wantUsage(t, s, "of a after raising its quota", a.ID, march, 7)
}

// testQuotaDeliveriesCreate: a manual send is created whole or refused
// whole; test deliveries neither count nor are refused.
func testQuotaDeliveriesCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkQuotaApp(t, s, "a", 3)
	ep := mkEndpoint(t, s, a.ID)
	now := at(time.Hour)
	evs := enqueue(t, s, store.EnqueueParams{Route: routeAll}, newEvent(a.ID, "e", now), newEvent(a.ID, "e", now))
	wantUsage(t, s, "after two events", a.ID, now, 2)

	mk := func(test bool) *herald.Delivery {
		return &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), AppID: a.ID, EventID: evs[0].Event.ID, EndpointID: ep.ID,
			Status: herald.StatusPending, Test: test, CreatedAt: now, UpdatedAt: now}
	}
	d1, d2 := mk(false), mk(false)
	err := s.DeliveriesCreate(ctx, []*herald.Delivery{d1, d2})
	wantQuotaError(t, err, "two deliveries with one left", store.QuotaError{AppID: a.ID, Month: store.UsageMonth(now), Quota: 3, Used: 2, Want: 2})
	for _, d := range []*herald.Delivery{d1, d2} {
		_, err := s.DeliveryGet(ctx, a.ID, d.ID)
		wantErr(t, err, store.ErrNotFound, "DeliveryGet of a refused send")
	}
	wantUsage(t, s, "after a refused send", a.ID, now, 2)

	d3, test := mk(false), mk(true)
	noErr(t, s.DeliveriesCreate(ctx, []*herald.Delivery{d3, test}), "DeliveriesCreate within the quota")
	wantUsage(t, s, "after a send within the quota", a.ID, now, 3)
	noErr(t, s.DeliveriesCreate(ctx, []*herald.Delivery{mk(true)}), "DeliveriesCreate of a test delivery, quota used up")
	wantUsage(t, s, "after a test delivery", a.ID, now, 3)
}

// testQuotaRequeue: a requeue counts the deliveries it changes, in the
// month it is made, and changes none when they would pass the quota.
func testQuotaRequeue(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkQuotaApp(t, s, "a", 0)
	mkEndpoint(t, s, a.ID)
	ids := mkDeliveries(t, s, a.ID, t0, t0, t0)
	rec := at(time.Minute)
	claim(t, s, store.ClaimParams{Now: rec, Limit: 10})
	var results []store.AttemptResult
	for _, id := range ids {
		results = append(results, store.AttemptResult{Attempt: attempt(id, 1, rec, 500), Status: herald.StatusFailed, Now: rec})
	}
	record(t, s, results...)
	setQuota(t, s, a, 4)
	wantUsage(t, s, "before the requeue", a.ID, t0, 3)

	now := at(time.Hour)
	n, err := s.DeliveriesRequeue(ctx, a.ID, append([]string{"dlv_unknown"}, ids...), now)
	wantQuotaError(t, err, "three with one left", store.QuotaError{AppID: a.ID, Month: store.UsageMonth(now), Quota: 4, Used: 3, Want: 3})
	if n != 0 {
		t.Errorf("refused requeue: %d changed", n)
	}
	for _, id := range ids {
		if d := getDelivery(t, s, a.ID, id); d.Status != herald.StatusFailed {
			t.Errorf("after a refused requeue, %s is %s", id, d.Status)
		}
	}
	n, err = s.DeliveriesRequeue(ctx, a.ID, ids[:1], now)
	noErr(t, err, "DeliveriesRequeue within the quota")
	if n != 1 || getDelivery(t, s, a.ID, ids[0]).Status != herald.StatusPending {
		t.Fatalf("requeue within the quota: %d changed", n)
	}
	wantUsage(t, s, "after the requeue", a.ID, now, 4)

	// The next month has room again.
	next := now.AddDate(0, 1, 0)
	n, err = s.DeliveriesRequeue(ctx, a.ID, ids[1:], next)
	noErr(t, err, "DeliveriesRequeue in the next month")
	if n != 2 {
		t.Fatalf("requeue in the next month: %d changed, want 2", n)
	}
	wantUsage(t, s, "of the next month", a.ID, next, 2)
}

// testQuotaUsageCharge: a charge counts whole or not at all.
func testQuotaUsageCharge(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, free := mkQuotaApp(t, s, "a", 2), mkQuotaApp(t, s, "free", 0)
	month := store.UsageMonth(t0)
	noErr(t, s.UsageCharge(ctx, a.ID, 1, t0), "UsageCharge 1 of 2")
	wantQuotaError(t, s.UsageCharge(ctx, a.ID, 2, t0), "2 with 1 left", store.QuotaError{AppID: a.ID, Month: month, Quota: 2, Used: 1, Want: 2})
	noErr(t, s.UsageCharge(ctx, a.ID, 1, t0), "UsageCharge 2 of 2")
	wantQuotaError(t, s.UsageCharge(ctx, a.ID, 1, t0), "1 with none left", store.QuotaError{AppID: a.ID, Month: month, Quota: 2, Used: 2, Want: 1})
	wantUsage(t, s, "of a", a.ID, t0, 2)
	noErr(t, s.UsageCharge(ctx, free.ID, 5, t0), "UsageCharge without quota")
	wantUsage(t, s, "of an app without quota", free.ID, t0, 5)
	wantErr(t, s.UsageCharge(ctx, "app_missing", 1, t0), store.ErrNotFound, "UsageCharge of a missing app")
}

// testQuotaConcurrent: concurrent batches and charges, each in its own
// transaction, never spend the same remainder: exactly the quota is
// admitted, and the usage says so.
func testQuotaConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const quota, writers, perWriter = 40, 16, 10
	a := mkQuotaApp(t, s, "a", quota)
	mkEndpoint(t, s, a.ID)
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		created, charged int
		failed           []error
	)
	fail := func(err error) {
		mu.Lock()
		failed = append(failed, err)
		mu.Unlock()
	}
	for w := range writers {
		wg.Go(func() {
			if w%2 == 0 {
				// Resends, one at a time.
				for range perWriter {
					err := s.UsageCharge(ctx, a.ID, 1, t0)
					switch {
					case err == nil:
						mu.Lock()
						charged++
						mu.Unlock()
					case !errors.Is(err, store.ErrQuotaExceeded):
						fail(err)
					}
				}
				return
			}
			var evs []*herald.Event
			for range perWriter {
				evs = append(evs, newEvent(a.ID, "e", t0))
			}
			res, err := s.EventsEnqueue(ctx, store.EnqueueParams{Route: routeAll, Events: evs})
			if err != nil {
				fail(err)
				return
			}
			for _, r := range res {
				switch {
				case r.Err == nil:
					mu.Lock()
					created += len(r.Jobs)
					mu.Unlock()
				case !errors.Is(r.Err, store.ErrQuotaExceeded):
					fail(r.Err)
				}
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d calls failed otherwise than for the quota: %v", len(failed), failed[0])
	}
	if created+charged != quota {
		t.Errorf("%d deliveries created and %d charged by %d writers of %d each, want the quota of %d in all",
			created, charged, writers, perWriter, quota)
	}
	wantUsage(t, s, "after the burst", a.ID, t0, quota)
	if n := countDeliveries(t, s, a.ID); n != created {
		t.Errorf("%d deliveries stored, %d reported created", n, created)
	}
}

// countDeliveries counts an app's deliveries.
func countDeliveries(t *testing.T, s store.Store, appID string) int {
	t.Helper()
	ds, err := s.DeliveryList(t.Context(), store.DeliveryListParams{AppID: appID, ListParams: store.ListParams{Limit: store.MaxListLimit}})
	noErr(t, err, "DeliveryList")
	return len(ds)
}
