package sqlite

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/storetest"
)

func openTemp(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "herald.db"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store { return openTemp(b) })
}

// BenchmarkIndexCost runs the store benchmarks with one index of the hot
// tables dropped ("none" drops nothing): set against "none", the write
// benchmarks tell what keeping that index up costs. Only the benchmarks
// that never read through the dropped index mean anything, e.g.
//
//	go test -run XXX -bench 'IndexCost/.*/(Enqueue|EnqueueFanout|Record)$' ./internal/store/sqlite/
func BenchmarkIndexCost(b *testing.B) {
	for _, index := range []string{"none",
		"deliveries_due", "deliveries_endpoint_due", "deliveries_lease_owner", "deliveries_lease_until",
		"deliveries_app", "deliveries_event", "deliveries_endpoint",
		"attempts_delivery", "events_app", "events_created",
	} {
		b.Run(index, func(b *testing.B) {
			storetest.Bench(b, func(b *testing.B) store.Store {
				db := openTemp(b)
				if index != "none" {
					if _, err := db.w.Exec(`DROP INDEX ` + index); err != nil {
						b.Fatal(err)
					}
				}
				return db
			})
		})
	}
}

func TestPragmas(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	check := func(pool string, q interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}) {
		t.Helper()
		var mode string
		var sync, busy, queryOnly int
		if err := q.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatalf("%s: journal_mode: %v", pool, err)
		}
		if err := q.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatalf("%s: synchronous: %v", pool, err)
		}
		if err := q.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatalf("%s: busy_timeout: %v", pool, err)
		}
		if err := q.QueryRowContext(ctx, "PRAGMA query_only").Scan(&queryOnly); err != nil {
			t.Fatalf("%s: query_only: %v", pool, err)
		}
		if mode != "wal" || sync != 2 || busy != 10000 {
			t.Errorf("%s: journal_mode=%s synchronous=%d busy_timeout=%d; want wal, 2 (FULL), 10000", pool, mode, sync, busy)
		}
		if wantQO := map[string]int{"writer": 0, "reader": 1}[pool]; queryOnly != wantQO {
			t.Errorf("%s: query_only=%d, want %d", pool, queryOnly, wantQO)
		}
	}
	check("writer", db.w)
	check("reader", db.r)
	if n := db.w.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer pool: %d connections, want 1", n)
	}

	// The reader pool refuses writes.
	if _, err := db.r.ExecContext(ctx, "DELETE FROM apps"); err == nil {
		t.Errorf("reader pool accepted a write")
	}
}

// TestOpenWithCaches checks that Options size the page caches of the
// writer and of every reader, and the event cache.
func TestOpenWithCaches(t *testing.T) {
	db, err := OpenWith(t.Context(), filepath.Join(t.TempDir(), "h.db"), Options{WriterCache: 4 << 20, ReaderCache: 1 << 20, EventCache: 3 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var w, r int
	if err := db.w.QueryRowContext(t.Context(), "PRAGMA cache_size").Scan(&w); err != nil {
		t.Fatal(err)
	}
	if err := db.r.QueryRowContext(t.Context(), "PRAGMA cache_size").Scan(&r); err != nil {
		t.Fatal(err)
	}
	if w != -4096 || r != -1024 {
		t.Errorf("cache_size: writer %d, reader %d; want -4096 and -1024 (KiB)", w, r)
	}
	if db.events.max != 3<<20 {
		t.Errorf("event cache: %d bytes, want %d", db.events.max, 3<<20)
	}

	// Without options, the defaults.
	def := openTemp(t)
	if err := def.w.QueryRowContext(t.Context(), "PRAGMA cache_size").Scan(&w); err != nil {
		t.Fatal(err)
	}
	if w != -DefaultWriterCache>>10 || def.events.max != DefaultEventCache {
		t.Errorf("defaults: writer cache_size %d, event cache %d; want %d and %d", w, def.events.max, -DefaultWriterCache>>10, DefaultEventCache)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "herald.db")
	applied := func(db *DB) map[int]int64 {
		t.Helper()
		rows, err := db.r.QueryContext(ctx, "SELECT version, applied_at FROM schema_migrations")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[int]int64{}
		for rows.Next() {
			var v int
			var at int64
			if err := rows.Scan(&v, &at); err != nil {
				t.Fatal(err)
			}
			m[v] = at
		}
		return m
	}

	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	first := applied(db)
	if len(first) != len(ms) {
		t.Errorf("applied %d migrations, want %d", len(first), len(ms))
	}
	for _, m := range ms {
		if _, ok := first[m.Version]; !ok {
			t.Errorf("migration %s not recorded", m.Name)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	time.Sleep(2 * time.Millisecond) // a re-applied migration would get a later applied_at
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	second := applied(db)
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Errorf("reopening changed schema_migrations: %v, then %v", first, second)
	}
	if db.Path() != path {
		t.Errorf("Path: %q, want %q", db.Path(), path)
	}
}

func TestMigrationNames(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("migration %s has version %d, want %d: versions run 1, 2, 3…", m.Name, m.Version, i+1)
		}
	}
}

func TestSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "data", "herald.db")
	if _, err := Open(ctx, path); err == nil {
		t.Fatalf("Open in a missing directory: no error")
	}
	path = filepath.Join(t.TempDir(), "odd ?#% name.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	app := &herald.App{ID: herald.NewID(herald.PrefixApp), UID: "acme", Name: "Acme", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := db.AppCreate(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: app.ID, URL: "https://example.com", Enabled: true, Secret: "whsec_x"}
	if err := db.EndpointCreate(ctx, ep); err != nil {
		t.Fatal(err)
	}
	ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), AppID: app.ID, EventType: "e", Payload: herald.RawJSON(`{}`), CreatedAt: time.Now()}
	res, err := db.EventsEnqueue(ctx, store.EnqueueParams{Events: []*herald.Event{ev}})
	if err != nil || len(res[0].Jobs) != 1 {
		t.Fatalf("EventsEnqueue: %v, %+v", err, res)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if _, err := db.AppGet(ctx, "acme"); err != nil {
		t.Errorf("AppGet after reopen: %v", err)
	}
	if _, err := db.EventGet(ctx, app.ID, ev.ID); err != nil {
		t.Errorf("EventGet after reopen: %v", err)
	}
	d, err := db.DeliveryGet(ctx, app.ID, res[0].Jobs[0].Delivery.ID)
	if err != nil || d.Status != herald.StatusPending {
		t.Errorf("DeliveryGet after reopen: %v, %+v", err, d)
	}
}

// TestConcurrency runs enqueuers, a claimer/recorder and readers at once:
// the single writer connection must serialise them without any
// "database is locked" error.
func TestConcurrency(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	app := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: "a"}
	if err := db.AppCreate(ctx, app); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: app.ID, URL: "https://example.com", Enabled: true, Secret: "s"}
		if err := db.EndpointCreate(ctx, ep); err != nil {
			t.Fatal(err)
		}
	}

	const enqueuers, batches, perBatch = 8, 15, 20
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		errs     []error
		enqueued sync.WaitGroup
	)
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	now := time.Now()
	for g := range enqueuers {
		wg.Add(1)
		enqueued.Add(1)
		go func() {
			defer wg.Done()
			defer enqueued.Done()
			for i := range batches {
				evs := make([]*herald.Event, perBatch)
				for k := range evs {
					evs[k] = &herald.Event{ID: herald.NewID(herald.PrefixEvent), AppID: app.ID, EventType: "e",
						Payload: herald.RawJSON(`{"g":1}`), CreatedAt: now}
					if k == 0 {
						evs[k].IdempotencyKey = fmt.Sprintf("g%d-%d", g, i)
					}
				}
				if _, err := db.EventsEnqueue(ctx, store.EnqueueParams{Events: evs}); err != nil {
					fail(fmt.Errorf("enqueue: %w", err))
					return
				}
			}
		}()
	}

	done := make(chan struct{})
	go func() { enqueued.Wait(); close(done) }()

	recorded := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			// After the enqueuers are through, claim until nothing is left.
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			jobs, err := db.DeliveriesClaim(ctx, store.ClaimParams{Owner: "w", Now: now.Add(time.Second),
				LeaseUntil: now.Add(time.Hour), Limit: 50, PerEndpoint: 20})
			if err != nil {
				fail(fmt.Errorf("claim: %w", err))
				return
			}
			rs := make([]store.AttemptResult, len(jobs))
			for i, j := range jobs {
				rs[i] = store.AttemptResult{
					Attempt: &herald.Attempt{DeliveryID: j.Delivery.ID, CreatedAt: now, Trigger: herald.TriggerScheduled,
						Response: &herald.AttemptResponse{StatusCode: 200}},
					Status: herald.StatusSucceeded, Now: now,
				}
			}
			if err := db.DeliveriesRecord(ctx, rs); err != nil {
				fail(fmt.Errorf("record: %w", err))
				return
			}
			recorded += len(jobs)
			if finished && len(jobs) == 0 {
				return
			}
		}
	}()

	// Readers alongside.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := db.DeliveryList(ctx, store.DeliveryListParams{AppID: app.ID, WithAttempts: true, ListParams: store.ListParams{Limit: 20}}); err != nil {
					fail(fmt.Errorf("list: %w", err))
					return
				}
				if _, err := db.NextDueAt(ctx); err != nil {
					fail(fmt.Errorf("next due: %w", err))
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}

	wg.Wait()
	for _, err := range errs {
		if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy") {
			t.Errorf("lock error: %v", err)
		} else {
			t.Error(err)
		}
	}
	if want := enqueuers * batches * perBatch * 3; recorded != want {
		t.Errorf("recorded %d deliveries, want %d", recorded, want)
	}
	ds, err := db.DeliveryList(ctx, store.DeliveryListParams{AppID: app.ID, Status: herald.StatusPending})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 {
		t.Errorf("%d deliveries still pending", len(ds))
	}
}

// TestQueryPlans pins the plans of the queries whose cost must not grow
// with the history: claims and NextDueAt walk a due index without sorting,
// and filtered delivery lists use the filter's index.
func TestQueryPlans(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	plan := func(q string, args []any) string {
		t.Helper()
		rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("explain: %v", err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		return strings.Join(lines, "\n")
	}
	for _, c := range []struct {
		name, plan string
		want       []string
	}{
		{"claim", plan(claimQuery(false, false, 0), []any{1, 100}),
			[]string{"MERGE (UNION ALL)", "USING INDEX deliveries_due ", "USING INDEX deliveries_lease_until "}},
		// An ordered delivery's earlier ones of its key: one probe of the
		// ordering index, which leaves out the succeeded history.
		{"claim, ordering check", plan(claimQuery(false, false, 0), []any{1, 100}),
			[]string{"CORRELATED SCALAR SUBQUERY", "USING INDEX deliveries_ordering (endpoint_id=? AND ordering_key=?)"}},
		{"claim of one endpoint", plan(claimQuery(true, false, 0), []any{1, 100, "ep"}),
			[]string{"MERGE (UNION ALL)", "USING INDEX deliveries_endpoint_due ", "USING INDEX deliveries_lease_until "}},
		{"claim, next page", plan(claimQuery(false, true, 2), []any{1, 100, "", 1, "d", "ep1", "ep2"}),
			[]string{"MERGE (UNION ALL)", "USING INDEX deliveries_due ((next_attempt_at,id)>(?,?) AND next_attempt_at<?)"}},
		{"next due", plan(nextDueQuery, nil), []string{"USING INDEX deliveries_due "}},
		// A pull reads its endpoint's due rows as a claim of one
		// endpoint does.
		{"pull", plan(pullQuery, []any{"ep", 1, 100}),
			[]string{"MERGE (UNION ALL)", "USING INDEX deliveries_endpoint_due ", "USING INDEX deliveries_lease_until "}},
		{"deliveries of an event", plan(deliveryListQuery(store.DeliveryListParams{AppID: "a", EventID: "e"})),
			[]string{"USING INDEX deliveries_event "}},
		{"deliveries of an endpoint", plan(deliveryListQuery(store.DeliveryListParams{AppID: "a", EndpointID: "e", Status: "pending"})),
			[]string{"USING INDEX deliveries_endpoint "}},
		{"deliveries of an app", plan(deliveryListQuery(store.DeliveryListParams{AppID: "a", Status: "failed"})),
			[]string{"USING INDEX deliveries_app "}},
		// Stats read the week's rows of the endpoint only, from its
		// index, whatever the size of its history.
		{"stats counts", plan(statsCountsQuery, []any{"ep", "dlv_", 1, 2, 3, 4}),
			[]string{"USING INDEX deliveries_endpoint (endpoint_id=? AND id>?)"}},
		// Queue statistics read the pending deliveries from the partial
		// indexes only, and retention the oldest events only.
		{"queue stats", plan(queueStatsQuery, []any{1}),
			[]string{"SCAN deliveries USING INDEX deliveries_due", "USING INDEX deliveries_lease_owner (lease_owner>?)"}},
		// The owners of leases, listed on every heartbeat: one probe of
		// the owner index per owner, however many leases each holds.
		{"lease owners", plan(leaseOwnersQuery, []any{1, store.PullOwner}),
			[]string{"CORRELATED SCALAR SUBQUERY", "USING COVERING INDEX deliveries_lease_owner (lease_owner>?)"}},
		{"retain", plan(retainSelect, []any{1, 10}),
			[]string{"USING INDEX events_created (created_at<?)"}},
		// Payload retention reads only the events still waiting for it.
		{"payload expiry", plan(payloadExpireSelect, []any{1, 10}),
			[]string{"SEARCH events USING INDEX events_payload_expiry (payload_expires_at>? AND payload_expires_at<?)"}},
		{"stats attempts", plan(statsAttemptsQuery, []any{"ep", "dlv_", 1, 2}),
			[]string{"USING INDEX deliveries_endpoint (endpoint_id=? AND id>?)", "USING INDEX attempts_delivery (delivery_id=?)"}},
		// Every request made with an API key looks it up by hash; key
		// and audit lists page through an index, all rows or one app's.
		{"api key by hash", plan(apiKeyByHashQuery, []any{"h"}),
			[]string{"USING INDEX sqlite_autoindex_api_keys_2 (hash=?)", "USING COVERING INDEX sqlite_autoindex_api_keys_1 (id=?)"}},
		// The cap on an app's live portal sessions counts the live ones
		// only, however many expired ones wait for retention.
		{"live keys of an app", plan(apiKeysAliveQuery, []any{"app", "portal", 1}),
			[]string{"USING COVERING INDEX api_keys_alive (app_id=? AND scope=? AND expires_at>?)"}},
		{"api keys", plan(apiKeyListQuery("", store.ListParams{Cursor: "key_"})),
			[]string{"USING INDEX sqlite_autoindex_api_keys_1 (id<?)"}},
		{"api keys of an app", plan(apiKeyListQuery("app", store.ListParams{Cursor: "key_"})),
			[]string{"USING INDEX api_keys_app (app_id=? AND id<?)"}},
		{"audit entries", plan(auditListQuery("", store.ListParams{Cursor: "aud_"})),
			[]string{"USING INDEX sqlite_autoindex_audit_log_1 (id<?)"}},
		{"audit entries of an app", plan(auditListQuery("app", store.ListParams{Cursor: "aud_"})),
			[]string{"USING INDEX audit_log_app (app_id=? AND id<?)"}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.plan, w) {
				t.Errorf("%s: plan\n%s\nwant %q", c.name, c.plan, w)
			}
		}
		// Only a claim's expired leases, few, may be sorted: the ready
		// rows stream from their index.
		streamed, _, _ := strings.Cut(c.plan, "RIGHT")
		if strings.Contains(streamed, "TEMP B-TREE") {
			t.Errorf("%s: plan\n%s\nsorts the rows it streams", c.name, c.plan)
		}
	}
}

// killChildEnv names the database a child process of TestSurvivesKill
// enqueues into until it is killed.
const killChildEnv = "HERALD_SQLITE_KILL_CHILD"

// TestSurvivesKill kills a process with SIGKILL while it enqueues: every
// event whose EventsEnqueue had returned must be there after reopening.
func TestSurvivesKill(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(t, path)
		return
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "herald.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	app := &herald.App{ID: "app_kill", Name: "kill"}
	if err := db.AppCreate(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: app.ID, URL: "https://example.com", Enabled: true, Secret: "s"}
	if err := db.EndpointCreate(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestSurvivesKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var committed []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed = append(committed, id)
			if len(committed) >= 300 {
				break
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(committed) < 300 {
		t.Fatalf("child committed %d events before exiting, want 300", len(committed))
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	for _, id := range committed {
		if _, err := db.EventGet(ctx, app.ID, id); err != nil {
			t.Fatalf("event %s, committed before the kill: %v", id, err)
		}
		ds, err := db.DeliveryList(ctx, store.DeliveryListParams{AppID: app.ID, EventID: id})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries of event %s: %d, %v; want 1", id, len(ds), err)
		}
	}
}

// killChild enqueues batches into the database at path and reports each
// committed event on stdout, until it is killed.
func killChild(t *testing.T, path string) {
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		evs := make([]*herald.Event, 10)
		for i := range evs {
			evs[i] = &herald.Event{ID: herald.NewID(herald.PrefixEvent), AppID: "app_kill", EventType: "e",
				Payload: herald.RawJSON(`{"k":1}`), CreatedAt: time.Now()}
		}
		res, err := db.EventsEnqueue(ctx, store.EnqueueParams{Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			fmt.Fprintf(os.Stdout, "committed %s\n", r.Event.ID)
		}
	}
}

// TestMigrateFrom2 upgrades a file written at schema version 2: its rows
// read back with the new fields at their zero values, and take part in
// the new calls.
func TestMigrateFrom2(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "herald.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", dsn(path, true, DefaultWriterCache))
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := old.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	for _, m := range ms[:2] {
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 1)`, m.Version)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	us := micro(now)
	appID, epID, evID := herald.NewID(herald.PrefixApp), herald.NewID(herald.PrefixEndpoint), herald.NewID(herald.PrefixEvent)
	dlvID := herald.PrefixDelivery + strings.ToLower(ulid.MustNew(ulid.Timestamp(now), rand.Reader).String())
	exec(`INSERT INTO apps (id, uid, name, created_at, updated_at) VALUES (?, 'acme', 'Acme', ?, ?)`, appID, us, us)
	exec(`INSERT INTO event_types (name, created_at, updated_at) VALUES ('e', ?, ?)`, us, us)
	exec(`INSERT INTO endpoints (id, app_id, url, enabled, secret, created_at, updated_at) VALUES (?, ?, 'https://example.com', 1, 's', ?, ?)`,
		epID, appID, us, us)
	exec(`INSERT INTO events (id, app_id, event_type, payload, created_at) VALUES (?, ?, 'e', '{}', ?)`, evID, appID, us)
	exec(`INSERT INTO deliveries (id, app_id, event_id, endpoint_id, event_type, status, next_attempt_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'e', 'pending', ?, ?, ?)`, dlvID, appID, evID, epID, us, us, us)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	app, err := db.AppGet(ctx, appID)
	if err != nil || !reflect.DeepEqual(app.AppSettings, herald.AppSettings{}) {
		t.Errorf("AppGet: %v, settings %+v", err, app)
	}
	et, err := db.EventTypeGet(ctx, "e")
	if err != nil || et.Group != "" || et.Deprecated {
		t.Errorf("EventTypeGet: %v, %+v", err, et)
	}
	ep, err := db.EndpointGet(ctx, appID, epID)
	if err != nil || !reflect.DeepEqual(ep.EndpointSettings, herald.EndpointSettings{}) || !ep.Enabled {
		t.Errorf("EndpointGet: %v, %+v", err, ep)
	}
	ev, err := db.EventGet(ctx, appID, evID)
	if err != nil || ev.Routing != nil {
		t.Errorf("EventGet: %v, %+v", err, ev)
	}
	d, err := db.DeliveryGet(ctx, appID, dlvID)
	if err != nil || d.Test || d.Status != herald.StatusPending {
		t.Errorf("DeliveryGet: %v, %+v", err, d)
	}
	st, err := db.EndpointStats(ctx, appID, epID, now.Add(time.Minute))
	if err != nil || st.Hour.Pending != 1 {
		t.Errorf("EndpointStats: %v, %+v", err, st)
	}
	// The old endpoint has a health record of its own, empty.
	rs := []store.HealthResult{{AppID: appID, EndpointID: epID}, {AppID: appID, EndpointID: epID}}
	if got, err := db.EndpointsTrackHealth(ctx, store.HealthParams{Results: rs, Window: time.Minute, MinFailures: 2, Now: now}); err != nil || len(got) != 0 {
		t.Errorf("EndpointsTrackHealth at the first failures: %v, %d disabled", err, len(got))
	}
	got, err := db.EndpointsTrackHealth(ctx, store.HealthParams{Results: rs[:1], Window: time.Minute, MinFailures: 2, Now: now.Add(time.Minute)})
	if err != nil || len(got) != 1 || got[0].Enabled || got[0].DisabledReason == "" {
		t.Errorf("EndpointsTrackHealth after the window: %v, %s", err, fmt.Sprint(got))
	}
}

// TestTrackHealthHealthyWritesNothing: successes of endpoints that are not
// failing, the usual batch, change no row, so their commit writes nothing
// to the log.
func TestTrackHealthHealthyWritesNothing(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	app := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: "a"}
	if err := db.AppCreate(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: app.ID, URL: "https://example.com", Enabled: true, Secret: "s"}
	if err := db.EndpointCreate(ctx, ep); err != nil {
		t.Fatal(err)
	}
	changes := func() int {
		t.Helper()
		var n int
		if err := db.w.QueryRowContext(ctx, "SELECT total_changes()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	track := func(ok ...bool) {
		t.Helper()
		var rs []store.HealthResult
		for _, o := range ok {
			rs = append(rs, store.HealthResult{AppID: app.ID, EndpointID: ep.ID, Succeeded: o})
		}
		if _, err := db.EndpointsTrackHealth(ctx, store.HealthParams{Results: rs, Window: time.Hour, MinFailures: 1, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	before := changes()
	track(true, true)
	if n := changes() - before; n != 0 {
		t.Errorf("successes of a healthy endpoint changed %d rows", n)
	}
	// A failure is recorded, and the success after it clears it.
	for _, ok := range []bool{false, true} {
		before = changes()
		track(ok)
		if n := changes() - before; n != 1 {
			t.Errorf("outcome %v changed %d rows, want 1", ok, n)
		}
	}
}

// TestRetainBulkJobs: Retain also removes the bulk jobs not updated since
// the cut, and keeps those still reporting progress.
func TestRetainBulkJobs(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	now := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	app := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: "a", CreatedAt: now, UpdatedAt: now}
	if err := db.AppCreate(ctx, app); err != nil {
		t.Fatal(err)
	}
	old := &herald.BulkJob{ID: herald.NewID("job_"), AppID: app.ID, Kind: "recover", State: herald.JobRunning,
		CreatedAt: now.Add(-48 * time.Hour), UpdatedAt: now.Add(-48 * time.Hour)}
	running := &herald.BulkJob{ID: herald.NewID("job_"), AppID: app.ID, Kind: "recover", State: herald.JobRunning,
		CreatedAt: now.Add(-48 * time.Hour), UpdatedAt: now}
	for _, j := range []*herald.BulkJob{old, running} {
		if err := db.BulkJobCreate(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	res, err := db.Retain(ctx, store.RetainParams{Before: now.Add(-24 * time.Hour)})
	if err != nil || !res.Done {
		t.Fatalf("Retain: %+v, %v", res, err)
	}
	if _, err := db.BulkJobGet(ctx, app.ID, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BulkJobGet of the old job: %v, want ErrNotFound", err)
	}
	if _, err := db.BulkJobGet(ctx, app.ID, running.ID); err != nil {
		t.Errorf("BulkJobGet of the running job: %v", err)
	}
}

// TestOrphanSessionNotFound: see storetest.OrphanKeyNotFound.
func TestOrphanSessionNotFound(t *testing.T) {
	db := openTemp(t)
	storetest.OrphanKeyNotFound(t, db, func(id string) error {
		_, err := db.w.ExecContext(t.Context(), `DELETE FROM api_keys WHERE id = ?`, id)
		return err
	})
}

// TestInList: a prepared IN-list statement covers lists of any length,
// each id once, with the head arguments before them.
func TestInList(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE t (id TEXT PRIMARY KEY, mark TEXT)`); err != nil {
		t.Fatal(err)
	}
	var all []string
	for i := range 700 {
		id := fmt.Sprintf("id%03d", i)
		all = append(all, id)
		if _, err := db.w.ExecContext(ctx, `INSERT INTO t (id) VALUES (?)`, id); err != nil {
			t.Fatal(err)
		}
	}
	var sel, mark inList
	if err := sel.prepare(ctx, db.w, `SELECT id FROM t WHERE id IN (%s)`); err != nil {
		t.Fatal(err)
	}
	defer sel.close()
	if err := mark.prepare(ctx, db.w, `UPDATE t SET mark = ? WHERE id IN (%s)`); err != nil {
		t.Fatal(err)
	}
	defer mark.close()
	for _, n := range []int{0, 1, 5, 256, 257, 341, 700} {
		var got []string
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			if err := mark.exec(ctx, tx, all[:n], fmt.Sprint(n)); err != nil {
				return err
			}
			return sel.query(ctx, tx, all[:n], func(rows *sql.Rows) error {
				var id string
				if err := rows.Scan(&id); err != nil {
					return err
				}
				got = append(got, id)
				return nil
			})
		})
		if err != nil {
			t.Fatalf("%d ids: %v", n, err)
		}
		slices.Sort(got)
		if !slices.Equal(got, all[:n]) {
			t.Errorf("%d ids: query returned %d rows", n, len(got))
		}
		var marked int
		if err := db.w.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE mark = ?`, fmt.Sprint(n)).Scan(&marked); err != nil {
			t.Fatal(err)
		}
		if marked != n {
			t.Errorf("%d ids: exec marked %d rows", n, marked)
		}
	}
}
