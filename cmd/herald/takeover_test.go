package main

import (
	"context"
	"os"
	"path/filepath"

	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/jackc/pgx/v5"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// takeoverTarget is the promise with default settings: every
// delivery a SIGKILLed node held is sent by another node within 20 s.
const takeoverTarget = 20 * time.Second

// startDefaultNode starts a node on dbURL with the default heartbeat and
// lease settings (startNode shortens the heartbeat).
func startDefaultNode(t *testing.T, dbURL string) *proc {
	return startHerald(t, t.TempDir(), "--database-url", dbURL,
		"--encryption-key", "test:"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
}

// TestClusterTakeoverAfterKill: node A holds deliveries (some in flight to
// a receiver that does not answer, the rest queued in its memory, all
// leased to it); A is SIGKILLed; node B sends every one of them within
// the takeover target, with default settings (a 5-minute lease).
func TestClusterTakeoverAfterKill(t *testing.T) {
	db := testDatabase(t)
	var (
		hang    atomic.Bool
		hung    atomic.Int64
		mu      sync.Mutex
		got     = map[string]time.Time{} // seq -> first answered after the kill
		dups    int
		release = make(chan struct{})
	)
	hang.Store(true)
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free()
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Data struct{ Seq string } }
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		if hang.Load() {
			// Held until the sender goes away (it is killed). B may
			// have claimed a few deliveries of its own meanwhile: those
			// it sent are let through once A is gone, and count as
			// delivered then (they were never A's to take over).
			hung.Add(1)
			select {
			case <-r.Context().Done():
				return
			case <-release:
			}
			// A's connections closed when it died: a request of A's
			// still seen open here ends within moments, B's do not.
			select {
			case <-r.Context().Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
		mu.Lock()
		if _, ok := got[body.Data.Seq]; ok {
			dups++
		} else {
			got[body.Data.Seq] = time.Now()
		}
		mu.Unlock()
	}))
	defer rc.Close()

	a := startDefaultNode(t, db)
	b := startDefaultNode(t, db)
	a.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	a.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	a.mustCall(t, "POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL}, 201)

	// Events accepted by A are leased to A and sent from its memory.
	const total = 100
	for i := range total {
		a.mustCall(t, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"seq": fmt.Sprint(i)}}, 202)
	}
	deadline := time.Now().Add(20 * time.Second)
	for hung.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("node A sent nothing:\n%s", a.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	held := hung.Load()

	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-a.done
	hang.Store(false)
	free()

	deadline = killed.Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries sent within 60 s of the kill\nnode B:\n%s", n, total, b.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	var first, last time.Time
	for _, at := range got {
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	d := dups
	mu.Unlock()
	took := last.Sub(killed)
	t.Logf("node A held %d events (%d requests hanging at the kill); node B sent them all %v to %v after the SIGKILL (default settings: lease 5m, heartbeat 2s); %d sent twice",
		total, held, first.Sub(killed).Round(time.Millisecond), took.Round(time.Millisecond), d)
	if took > takeoverTarget {
		t.Fatalf("takeover took %v, want within %v\nnode B:\n%s", took, takeoverTarget, b.log())
	}
	if !strings.Contains(b.log(), "took over the deliveries of nodes that stopped heartbeating") {
		t.Errorf("node B does not say it took over:\n%s", b.log())
	}
}

var nodesMetricRE = regexp.MustCompile(`(?m)^herald_nodes\{[^}]*\} (\d+)$`)

// nodesMetric reads herald_nodes from a node's /metrics.
func nodesMetric(t *testing.T, p *proc) string {
	t.Helper()
	res, err := http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := nodesMetricRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no herald_nodes in /metrics:\n%s", b)
	}
	return string(m[1])
}

// TestRestartCountsOneNode: on SQLite, a process started again after a
// SIGKILL counts itself alone at once: the heartbeats of its earlier runs
// are not counted (they would halve its share of every endpoint).
func TestRestartCountsOneNode(t *testing.T) {
	dataDir := t.TempDir()
	for run := range 3 {
		h := startHerald(t, dataDir)
		if n := nodesMetric(t, h); n != "1" {
			t.Fatalf("run %d: herald_nodes %s right after the start, want 1\n%s", run+1, n, h.log())
		}
		if strings.Contains(h.log(), "nodes sharing the work") {
			t.Fatalf("run %d counted other nodes:\n%s", run+1, h.log())
		}
		if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-h.done
	}
}

// TestClusterRestartForgetsEarlierRun: a PostgreSQL node on a fixed
// address, SIGKILLed while holding deliveries and started again, counts
// itself alone at once (its earlier run is not another node) and sends
// what the earlier run held without waiting for its heartbeat to die.
func TestClusterRestartForgetsEarlierRun(t *testing.T) {
	db := testDatabase(t)
	var (
		hang    atomic.Bool
		hung    atomic.Int64
		mu      sync.Mutex
		got     = map[string]bool{}
		release = make(chan struct{})
	)
	hang.Store(true)
	defer close(release)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Data struct{ Seq string } }
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		if hang.Load() {
			hung.Add(1)
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		mu.Lock()
		got[body.Data.Seq] = true
		mu.Unlock()
	}))
	defer rc.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dataDir := t.TempDir()
	args := []string{"--addr", addr, "--database-url", db,
		"--encryption-key", "test:" + base64.StdEncoding.EncodeToString(make([]byte, 32))}

	first := startHerald(t, dataDir, args...)
	first.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	first.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	first.mustCall(t, "POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL}, 201)
	const total = 20
	for i := range total {
		first.mustCall(t, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"seq": fmt.Sprint(i)}}, 202)
	}
	deadline := time.Now().Add(20 * time.Second)
	for hung.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the first run sent nothing:\n%s", first.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	hang.Store(false)

	started := time.Now()
	again := startHerald(t, dataDir, args...)
	if n := nodesMetric(t, again); n != "1" {
		t.Fatalf("herald_nodes %s right after the restart, want 1 (the earlier run counted)\n%s", n, again.log())
	}
	if !strings.Contains(again.log(), "gave back the deliveries of this node's earlier run") {
		t.Errorf("the restarted node does not say it took its earlier run's deliveries back:\n%s", again.log())
	}
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == total {
			break
		}
		if time.Since(started) > takeoverTarget {
			t.Fatalf("%d of %d deliveries sent %v after the restart\n%s", n, total, takeoverTarget, again.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("all %d deliveries of the killed run sent %v after the restart began", total, time.Since(started).Round(time.Millisecond))
}

// fencedMetric reads herald_deliveries_fenced_total from a node's /metrics.
func fencedMetric(t *testing.T, p *proc) float64 {
	return metricValue(t, p, "herald_deliveries_fenced_total")
}

// inFlightMetric reads herald_requests_in_flight from a node's /metrics.
func inFlightMetric(t *testing.T, p *proc) float64 {
	return metricValue(t, p, "herald_requests_in_flight")
}

// metricValue reads one of the node's metrics (labelled node=..., or not labelled).
func metricValue(t *testing.T, p *proc, name string) float64 {
	t.Helper()
	res, err := http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^` + name + `(?:\{[^}]*\})? (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s in /metrics:\n%s", name, b)
	}
	var v float64
	if _, err := fmt.Sscan(string(m[1]), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestClusterFencesNodeThatComesBack: node A, holding deliveries, is
// frozen (SIGSTOP, as cut off from the database); node B takes them over
// and sends each once. When A runs again (SIGCONT) it sends none of them
// and records none of the attempts it had under way: it counts every one
// of them as fenced.
func TestClusterFencesNodeThatComesBack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("tells a stopped process by /proc")
	}
	db := testDatabase(t)
	var (
		hang    atomic.Bool
		hung    atomic.Int64
		mu      sync.Mutex
		got     = map[string]int{}
		release = make(chan struct{})
	)
	hang.Store(true)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Data struct{ Seq string } }
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		if hang.Load() {
			// Answered (uncounted) once the test lets go: A reads it
			// when it runs again.
			hung.Add(1)
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		mu.Lock()
		got[body.Data.Seq]++
		mu.Unlock()
	}))
	defer rc.Close()

	// B starts once A is frozen, so that every delivery is A's first:
	// A holds what its memory takes, the rest waits in the database.
	a := startDefaultNode(t, db)
	a.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	a.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	a.mustCall(t, "POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL}, 201)
	const total = 100
	for i := range total {
		a.mustCall(t, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"seq": fmt.Sprint(i)}}, 202)
	}
	// Freeze A once every request it has under way reached the receiver:
	// one still being written would reach it after A runs again, a
	// duplicate within the at-least-once window, not what this checks.
	deadline := time.Now().Add(20 * time.Second)
	for h := hung.Load(); h == 0 || inFlightMetric(t, a) != float64(h); h = hung.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("node A: %d requests hanging at the receiver, %v in flight:\n%s", h, inFlightMetric(t, a), a.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	held, inFlight := metricValue(t, a, "herald_memory_held_deliveries"), hung.Load()
	if held < 1 {
		t.Fatalf("node A holds no deliveries before the freeze:\n%s", a.log())
	}
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = a.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	waitStopped(t, a.cmd.Process.Pid)
	hang.Store(false)
	close(release)
	b := startDefaultNode(t, db)

	// B takes everything over while A is frozen.
	deadline = time.Now().Add(takeoverTarget)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == total {
			break
		}
		if time.Now().After(deadline) {
			logDatabaseState(t, db)
			t.Fatalf("node B sent %d of %d within %v while A was frozen\n%s", n, total, takeoverTarget, b.log())
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	deadline = time.Now().Add(30 * time.Second)
	// Every delivery A held is let go of: the attempts it had under way
	// are refused by the store (fenced), the rest given back unsent.
	for fencedMetric(t, a) < float64(inFlight) || metricValue(t, a, "herald_memory_held_deliveries") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("node A fenced %v of its %d attempts under way, and holds %v deliveries\n%s",
				fencedMetric(t, a), inFlight, metricValue(t, a, "herald_memory_held_deliveries"), a.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	for seq, n := range got {
		if n != 1 {
			t.Errorf("event %s received %d times after the freeze, want once (from B)", seq, n)
		}
	}
	mu.Unlock()
	t.Logf("node A frozen while holding %v of %d deliveries, %d under way; node B sent each once; A, running again, sent none and recorded none", held, total, inFlight)
	for !strings.Contains(a.log(), "heartbeats were missed long enough for other nodes to take over") {
		if time.Now().After(deadline) {
			t.Fatalf("node A does not say it was taken over:\n%s", a.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStopped waits until every thread of the process is stopped: a
// signal's delivery is not, and a thread still running could answer the
// receiver meanwhile.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil || len(tasks) == 0 {
			t.Fatalf("threads of %d: %v", pid, err)
		}
		all := true
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			// The state follows the command name in parentheses.
			if i := strings.LastIndexByte(string(b), ')'); err != nil || i < 0 || !strings.HasPrefix(string(b[i:]), ") T") {
				all = false
				break
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// logDatabaseState logs the sessions on the test's database and who holds
// its deliveries, to tell why a takeover did not happen.
func logDatabaseState(t *testing.T, db string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Logf("connect: %v", err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid, coalesce(state, ''), coalesce(wait_event_type, ''), left(query, 200)
		FROM pg_stat_activity WHERE datname = current_database()`)
	if err == nil {
		for rows.Next() {
			var pid int
			var st, we, q string
			_ = rows.Scan(&pid, &st, &we, &q)
			t.Logf("session %d: %s, waiting on %q: %s", pid, st, we, q)
		}
		rows.Close()
	}
	rows, err = conn.Query(ctx, `SELECT coalesce(lease_owner, '-'), status, count(*) FROM deliveries GROUP BY 1, 2`)
	if err == nil {
		for rows.Next() {
			var o, st string
			var c int
			_ = rows.Scan(&o, &st, &c)
			t.Logf("deliveries leased to %s, %s: %d", o, st, c)
		}
		rows.Close()
	}
}
