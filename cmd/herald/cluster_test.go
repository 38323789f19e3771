package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// testDatabase is a throw-away database of this test's own.
func testDatabase(t *testing.T) string { return heraldtest.PostgresDatabase(t, "herald_cluster_") }

func startNode(t *testing.T, dbURL string, extra ...string) *proc {
	// Nodes on one database share one key for secrets at rest.
	args := append([]string{"--database-url", dbURL, "--heartbeat-interval", "500ms",
		"--encryption-key", "test:" + base64.StdEncoding.EncodeToString(make([]byte, 32))}, extra...)
	return startHerald(t, t.TempDir(), args...)
}

// TestClusterSurvivesNodeKill: three nodes on one database share the work;
// one is killed with SIGKILL mid-run; every accepted event still reaches
// every matching endpoint.
func TestClusterSurvivesNodeKill(t *testing.T) {
	db := testDatabase(t)
	const endpoints = 4
	var mu sync.Mutex
	got := map[string]int{} // endpoint/seq -> times received
	var rcs []*httptest.Server
	for i := range endpoints {
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body struct{ Data struct{ Seq string } }
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &body)
			time.Sleep(time.Millisecond)
			mu.Lock()
			got[fmt.Sprintf("%d/%s", i, body.Data.Seq)]++
			mu.Unlock()
		}))
		defer rc.Close()
		rcs = append(rcs, rc)
	}
	// Short leases, so that the killed node's work is taken over quickly.
	nodes := []*proc{
		startNode(t, db, "--lease-duration", "3s", "--request-timeout", "1s", "--max-tenant-timeout", "1s"),
		startNode(t, db, "--lease-duration", "3s", "--request-timeout", "1s", "--max-tenant-timeout", "1s"),
		startNode(t, db, "--lease-duration", "3s", "--request-timeout", "1s", "--max-tenant-timeout", "1s"),
	}
	n0 := nodes[0]
	n0.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	n0.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	for _, rc := range rcs {
		n0.mustCall(t, "POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL}, 201)
	}
	time.Sleep(3 * time.Second) // caches on the other nodes expire

	var (
		accMu    sync.Mutex
		accepted []string
		seq      atomic.Int64
		wg       sync.WaitGroup
	)
	const total = 3000
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := seq.Add(1)
				if n > total {
					return
				}
				node := nodes[int(n)%len(nodes)]
				if w%3 == 0 {
					node = nodes[0] // node 0 is never killed
				}
				s := fmt.Sprint(n)
				code, _, err := node.call("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"seq": s}})
				if err == nil && code == 202 {
					accMu.Lock()
					accepted = append(accepted, s)
					accMu.Unlock()
				}
			}
		}()
	}
	// Kill node 2 once a third of the events went in.
	for seq.Load() < total/3 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := nodes[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	accMu.Lock()
	n := len(accepted)
	accMu.Unlock()
	if n < total/2 {
		t.Fatalf("only %d of %d events accepted", n, total)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for _, s := range accepted {
			for i := range endpoints {
				if got[fmt.Sprintf("%d/%s", i, s)] == 0 {
					missing++
				}
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries of %d accepted events never arrived\nnode 0:\n%s", missing, n, n0.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	dups := 0
	for _, c := range got {
		dups += c - 1
	}
	mu.Unlock()
	t.Logf("%d events accepted by 3 nodes (one killed), %d deliveries all arrived; %d sent twice", n, n*endpoints, dups)
}

// TestClusterLimitsHold: with two nodes, an endpoint's max_in_flight and
// rate_limit hold for the cluster, not per node.
func TestClusterLimitsHold(t *testing.T) {
	db := testDatabase(t)
	var cur, peak atomic.Int64
	var mu sync.Mutex
	var times []time.Time
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := cur.Add(1)
		for {
			p := peak.Load()
			if c <= p || peak.CompareAndSwap(p, c) {
				break
			}
		}
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		cur.Add(-1)
	}))
	defer rc.Close()
	a := startNode(t, db)
	b := startNode(t, db)
	a.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	a.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	a.mustCall(t, "POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "max_in_flight": 2, "rate_limit": 20}, 201)
	time.Sleep(3 * time.Second) // both nodes see each other and the endpoint
	const n = 120
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := a
			if i%2 == 1 {
				node = b
			}
			node.mustCall(t, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"i": i}}, 202)
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		k := len(times)
		mu.Unlock()
		if k >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d delivered", k, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := peak.Load(); p > 2 {
		t.Fatalf("%d requests in flight at once; max_in_flight is 2 for the cluster", p)
	}
	// No one-second window holds more than the rate (and a token of burst
	// per node).
	mu.Lock()
	defer mu.Unlock()
	worst := 0
	for i := range times {
		c := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
			c++
		}
		worst = max(worst, c)
	}
	if worst > 22 {
		t.Fatalf("%d requests within one second; rate_limit is 20/s for the cluster", worst)
	}
	t.Logf("peak in flight %d, busiest second %d requests", peak.Load(), worst)
}

// TestRoles: an api node accepts events and sends nothing; a worker node
// sends them and serves no API.
func TestRoles(t *testing.T) {
	db := testDatabase(t)
	var hits atomic.Int64
	// The time of the first request: the api node sending would show
	// before the worker node even started.
	var first atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.CompareAndSwap(0, time.Now().UnixNano())
		hits.Add(1)
	}))
	defer rc.Close()
	api := startNode(t, db, "--role", "api")
	api.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	api.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	api.mustCall(t, "POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL}, 201)
	for i := range 5 {
		api.mustCall(t, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"i": i}}, 202)
	}
	workerStart := time.Now()
	worker := startNode(t, db, "--role", "worker")
	deadline := time.Now().Add(15 * time.Second)
	for hits.Load() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("the worker node sent %d of 5:\n%s", hits.Load(), worker.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if at := time.Unix(0, first.Load()); at.Before(workerStart) {
		t.Fatalf("a request arrived %v before the worker node started: the api node sends", workerStart.Sub(at))
	}
	// A worker serves no API: what it answers there is outside the
	// OpenAPI document, so the call goes unchecked.
	worker.client = http.DefaultClient
	if code, body, _ := worker.call("GET", "/v1/apps", nil); code != 404 || !strings.Contains(string(body), "role worker") {
		t.Fatalf("the worker node serves the API: %d %s", code, body)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(worker.url + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("worker %s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	// A role needs PostgreSQL.
	out, err := execHerald("serve", "--role", "api", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(out, "needs --database-url") {
		t.Fatalf("--role api on SQLite: %v %s", err, out)
	}
}

func execHerald(args ...string) (string, error) {
	out, err := exec.Command(binary, args...).CombinedOutput()
	return string(out), err
}
