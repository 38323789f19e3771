package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/storetest"
)

// testURL returns the database of the tests, or skips them.
func testURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("HERALD_TEST_DATABASE_URL")
	if url == "" {
		tb.Skip("HERALD_TEST_DATABASE_URL not set")
	}
	return url
}

// newSchema creates a throw-away schema, dropped with everything in it
// when the test ends, so that tests and runs never see each other's rows.
func newSchema(tb testing.TB) string {
	tb.Helper()
	url := testURL(tb)
	name := "herald_test_" + strings.ToLower(ulid.MustNew(ulid.Now(), rand.Reader).String())
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("connect: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema: %v", err)
		}
	})
	return name
}

// openSchema opens a store on schema, closed when the test ends.
func openSchema(tb testing.TB, schema string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), testURL(tb), Options{Schema: schema, MaxConns: 8})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func openTemp(tb testing.TB) *DB { return openSchema(tb, newSchema(tb)) }

func TestStore(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return openTemp(b) })
}

// TestConnectionSettings: every connection commits durably and works in
// its schema, whatever the server's defaults.
func TestConnectionSettings(t *testing.T) {
	schema := newSchema(t)
	db := openSchema(t, schema)
	var sync, path, tz string
	err := db.pool.QueryRow(t.Context(), `SELECT current_setting('synchronous_commit'), current_schema(), current_setting('TimeZone')`).
		Scan(&sync, &path, &tz)
	if err != nil {
		t.Fatal(err)
	}
	if sync != "on" || path != schema || tz != "UTC" {
		t.Errorf("synchronous_commit %q, schema %q, time zone %q; want on, %q, UTC", sync, path, tz, schema)
	}
	var idle string
	if err := db.pool.QueryRow(t.Context(), `SELECT current_setting('idle_in_transaction_session_timeout')`).Scan(&idle); err != nil {
		t.Fatal(err)
	}
	if idle != "10s" {
		t.Errorf("idle_in_transaction_session_timeout %q, want 10s", idle)
	}
}

// TestReleaseDeadSkipsLockedRows: a dead node's transaction left open
// (the node frozen mid-transaction) does not stall another node's
// heartbeat: the leases it does not lock are released at once, the
// locked one by the first call after the transaction ends.
func TestReleaseDeadSkipsLockedRows(t *testing.T) {
	schema := newSchema(t)
	dead, live := openSchema(t, schema), openSchema(t, schema)
	app, _ := fixture(t, live)
	ids := enqueueN(t, live, app.ID, 3, t0)
	if _, err := dead.DeliveriesClaim(t.Context(), store.ClaimParams{Owner: "dead", Now: t0, LeaseUntil: t0.Add(time.Hour), Limit: 10}); err != nil {
		t.Fatal(err)
	}
	tx, err := dead.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE`, ids[0]); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	if _, err := live.NodeHeartbeat(t.Context(), "live", now, time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	n, err := live.LeasesReleaseDead(ctx, now, time.Second)
	if err != nil || n != 2 {
		t.Fatalf("LeasesReleaseDead beside a locked row: %d, %v; want the 2 unlocked at once", n, err)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := live.LeasesReleaseDead(t.Context(), now, time.Second); err != nil || n != 1 {
		t.Fatalf("LeasesReleaseDead after the transaction ended: %d, %v; want 1", n, err)
	}
}

// TestMigrateConcurrent: nodes starting together on one schema migrate it
// once, without error, thanks to the advisory lock.
func TestMigrateConcurrent(t *testing.T) {
	schema := newSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			db, err := Open(t.Context(), testURL(t), Options{Schema: schema, MaxConns: 2})
			if err != nil {
				errs <- err
				return
			}
			db.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Open: %v", err)
	}
	db := openSchema(t, schema)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.pool.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	var want []int32
	for _, m := range ms {
		want = append(want, int32(m.Version))
	}
	if !slices.Equal(got, want) {
		t.Errorf("schema_migrations: %v, want %v", got, want)
	}
}

var t0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// fixture makes an app with one endpoint subscribed to everything.
func fixture(t *testing.T, s store.Store) (*herald.App, *herald.Endpoint) {
	t.Helper()
	ctx := t.Context()
	app := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: "a", CreatedAt: t0, UpdatedAt: t0}
	if err := s.AppCreate(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: app.ID, URL: "https://example.com/",
		EventTypes: []string{}, Enabled: true, Secret: "whsec_x", CreatedAt: t0, UpdatedAt: t0}
	if err := s.EndpointCreate(ctx, ep); err != nil {
		t.Fatal(err)
	}
	return app, ep
}

// enqueueN stores n events of app, each with one unleased delivery due at
// at, and returns the deliveries' ids.
func enqueueN(t *testing.T, s store.Store, appID string, n int, at time.Time) []string {
	t.Helper()
	var ids []string
	for done := 0; done < n; done += 1000 {
		evs := make([]*herald.Event, min(1000, n-done))
		for i := range evs {
			evs[i] = &herald.Event{ID: herald.NewID(herald.PrefixEvent), AppID: appID, EventType: "e",
				Payload: herald.RawJSON(`{"n":1}`), CreatedAt: at}
		}
		res, err := s.EventsEnqueue(t.Context(), store.EnqueueParams{Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil || len(r.Jobs) != 1 {
				t.Fatalf("enqueue: err %v, %d jobs", r.Err, len(r.Jobs))
			}
			ids = append(ids, r.Jobs[0].Delivery.ID)
		}
	}
	return ids
}

// TestClaimConcurrent: claims of two nodes (two handles, two claimers
// each) on one schema never return the same delivery, and together take
// them all.
func TestClaimConcurrent(t *testing.T) {
	schema := newSchema(t)
	dbs := []*DB{openSchema(t, schema), openSchema(t, schema)}
	app, _ := fixture(t, dbs[0])
	ids := enqueueN(t, dbs[0], app.ID, 2000, t0)

	var (
		mu      sync.Mutex
		claimed = map[string]string{}
		dups    []string
		wg      sync.WaitGroup
	)
	for w := range 4 {
		db := dbs[w%2]
		owner := fmt.Sprintf("node-%d", w)
		wg.Go(func() {
			for {
				jobs, err := db.DeliveriesClaim(t.Context(), store.ClaimParams{
					Owner: owner, Now: t0.Add(time.Minute), LeaseUntil: t0.Add(time.Hour), Limit: 50})
				if err != nil {
					t.Errorf("%s: claim: %v", owner, err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					if prev, ok := claimed[j.Delivery.ID]; ok {
						dups = append(dups, fmt.Sprintf("%s by %s and %s", j.Delivery.ID, prev, owner))
					}
					claimed[j.Delivery.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(dups) > 0 {
		t.Errorf("%d deliveries claimed twice, e.g. %s", len(dups), dups[0])
	}
	if len(claimed) != len(ids) {
		t.Errorf("claimed %d deliveries, want %d", len(claimed), len(ids))
	}
	for _, id := range ids {
		if _, ok := claimed[id]; !ok {
			t.Errorf("delivery %s never claimed", id)
			break
		}
	}
}

// TestWatchDueAcrossHandles: a node watching is told when another node
// enqueues a delivery that is not leased.
func TestWatchDueAcrossHandles(t *testing.T) {
	schema := newSchema(t)
	watcher, writer := openSchema(t, schema), openSchema(t, schema)
	app, _ := fixture(t, writer)

	var armed atomic.Bool
	called := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- watcher.WatchDue(ctx, func() {
			if armed.Load() {
				select {
				case called <- struct{}{}:
				default:
				}
			}
		})
	}()

	// The watch may not listen yet: enqueue again until it is told.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
wait:
	for n := 0; ; n++ {
		armed.Store(true)
		enqueueN(t, writer, app.ID, 1, t0.Add(time.Duration(n)*time.Second))
		select {
		case <-called:
			break wait
		case <-deadline:
			t.Fatal("WatchDue: not called after another handle enqueued")
		case <-tick.C:
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("WatchDue: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchDue did not return after its context ended")
	}
}

// TestLeaseExpiryTakeover: a node's lease that runs out (the node is gone)
// lets another node claim the delivery.
func TestLeaseExpiryTakeover(t *testing.T) {
	schema := newSchema(t)
	a, b := openSchema(t, schema), openSchema(t, schema)
	app, _ := fixture(t, a)
	ids := enqueueN(t, a, app.ID, 1, t0)
	claim := func(db *DB, owner string, now time.Time) []*store.Job {
		t.Helper()
		jobs, err := db.DeliveriesClaim(t.Context(), store.ClaimParams{Owner: owner, Now: now,
			LeaseUntil: now.Add(time.Minute), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	if jobs := claim(a, "node-a", t0); len(jobs) != 1 || jobs[0].Delivery.ID != ids[0] {
		t.Fatalf("node-a: claimed %d, want %s", len(jobs), ids[0])
	}
	if jobs := claim(b, "node-b", t0.Add(30*time.Second)); len(jobs) != 0 {
		t.Fatalf("node-b during node-a's lease: claimed %d, want none", len(jobs))
	}
	jobs := claim(b, "node-b", t0.Add(61*time.Second))
	if len(jobs) != 1 || jobs[0].Delivery.ID != ids[0] {
		t.Fatalf("node-b after node-a's lease: claimed %d, want %s", len(jobs), ids[0])
	}
	// node-a's late release no longer touches node-b's lease.
	if err := a.DeliveriesRelease(t.Context(), "node-a", ids); err != nil {
		t.Fatal(err)
	}
	if jobs := claim(a, "node-a", t0.Add(62*time.Second)); len(jobs) != 0 {
		t.Fatalf("node-a after releasing a lease it lost: claimed %d, want none", len(jobs))
	}
}

// partitionOf returns the partition holding the attempt id.
func partitionOf(t *testing.T, db *DB, id string) string {
	t.Helper()
	var name string
	if err := db.pool.QueryRow(t.Context(), `SELECT tableoid::regclass::text FROM attempts WHERE id = $1`, id).Scan(&name); err != nil {
		t.Fatalf("partition of %s: %v", id, err)
	}
	return name
}

func partitions(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'attempts'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestAttemptPartitions: Open creates the partitions of this month and the
// next two; attempts land in their month's partition (or the default);
// a partition created for a month the default holds rows of takes them
// over; Retain drops the partitions older than its cut whole.
func TestAttemptPartitions(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	have := partitions(t, db)
	now := monthStart(time.Now())
	for i := range 3 {
		if name := partitionName(now.AddDate(0, i, 0)); !slices.Contains(have, name) {
			t.Errorf("partition %s missing; have %v", name, have)
		}
	}
	if !slices.Contains(have, "attempts_default") {
		t.Errorf("default partition missing; have %v", have)
	}

	app, _ := fixture(t, db)
	jan, may := time.Date(2020, 1, 15, 0, 0, 0, 0, time.UTC), time.Date(2020, 5, 15, 0, 0, 0, 0, time.UTC)
	ids := enqueueN(t, db, app.ID, 3, jan)
	if err := db.ensurePartition(ctx, monthStart(jan)); err != nil {
		t.Fatal(err)
	}
	attempt := func(id string, at time.Time) *herald.Attempt {
		return &herald.Attempt{ID: herald.NewID(herald.PrefixAttempt), DeliveryID: id, CreatedAt: at,
			Trigger: herald.TriggerScheduled, Response: &herald.AttemptResponse{StatusCode: 500}, ErrorKind: herald.ErrorKindHTTPStatus}
	}
	inJan, inMay, inNow := attempt(ids[0], jan), attempt(ids[1], may), attempt(ids[2], time.Now())
	next := may.AddDate(1, 0, 0)
	var rs []store.AttemptResult
	for _, a := range []*herald.Attempt{inJan, inMay, inNow} {
		rs = append(rs, store.AttemptResult{Attempt: a, Status: herald.StatusPending, NextAttemptAt: &next, Now: a.CreatedAt})
	}
	if err := db.DeliveriesRecord(ctx, rs); err != nil {
		t.Fatal(err)
	}
	for a, want := range map[*herald.Attempt]string{inJan: "attempts_y2020m01", inMay: "attempts_default", inNow: partitionName(now)} {
		if got := partitionOf(t, db, a.ID); got != want {
			t.Errorf("attempt of %v in %s, want %s", a.CreatedAt, got, want)
		}
	}
	// A partition for May takes over May's row from the default.
	if err := db.ensurePartition(ctx, monthStart(may)); err != nil {
		t.Fatal(err)
	}
	if got := partitionOf(t, db, inMay.ID); got != "attempts_y2020m05" {
		t.Errorf("attempt of May in %s after creating its partition, want attempts_y2020m05", got)
	}

	// A cut in April drops January's partition, not May's.
	res, err := db.Retain(ctx, store.RetainParams{Before: time.Date(2020, 4, 1, 0, 0, 0, 0, time.UTC), Batch: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 3 || res.Deliveries != 3 || res.Attempts != 3 || !res.Done {
		t.Errorf("Retain: %+v, want 3 events, 3 deliveries, 3 attempts, done", res)
	}
	have = partitions(t, db)
	if slices.Contains(have, "attempts_y2020m01") || !slices.Contains(have, "attempts_y2020m05") {
		t.Errorf("partitions after Retain: %v, want January's gone and May's kept", have)
	}
	var left int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM attempts`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d attempts left after their deliveries were removed", left)
	}
}

// TestAPIKeyCreateRacesAppDelete: keys of an app created while the app is
// being deleted are either refused (ErrNotFound) or removed with it; none
// outlives the app, where it could still read the app's audit entries.
func TestAPIKeyCreateRacesAppDelete(t *testing.T) {
	ctx := t.Context()
	db := openTemp(t)
	for round := range 20 {
		app := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: "race", CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := db.AppCreate(ctx, app); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for range 10 {
			wg.Go(func() {
				id := herald.NewID("key_")
				errs <- db.APIKeyCreate(ctx, &herald.APIKey{ID: id, Scope: "app", AppID: app.ID, Hash: id, CreatedAt: time.Now()})
			})
		}
		wg.Go(func() {
			if err := db.AppDelete(ctx, app.ID); err != nil {
				t.Errorf("AppDelete: %v", err)
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("APIKeyCreate: %v", err)
			}
		}
		keys, err := db.APIKeyList(ctx, app.ID, store.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 0 {
			t.Fatalf("round %d: %d keys outlive their app", round, len(keys))
		}
	}
}

// TestOrphanSessionNotFound: see storetest.OrphanKeyNotFound.
func TestOrphanSessionNotFound(t *testing.T) {
	db := openTemp(t)
	storetest.OrphanKeyNotFound(t, db, func(id string) error {
		_, err := db.pool.Exec(t.Context(), `DELETE FROM api_keys WHERE id = $1`, id)
		return err
	})
}
