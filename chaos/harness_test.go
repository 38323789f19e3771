//go:build chaos

package chaos

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// binary is the herald command, built once for the whole suite.
var binary string

// token is the admin token of every server the suite starts.
const token = "chaos-admin-token"

// encryptionKey is shared by the nodes of one database.
var encryptionKey = func() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "chaos:" + base64.StdEncoding.EncodeToString(b[:])
}()

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "herald")
	out, err := exec.Command("go", "build", "-o", binary, "../cmd/herald").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build herald: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if path := os.Getenv("HERALD_CHAOS_REPORT"); path != "" {
		if err := writeReport(path); err != nil {
			fmt.Fprintf(os.Stderr, "HERALD_CHAOS_REPORT: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// envInt reads a size from the environment; def when unset. A value that
// is not a positive number stops the suite: a typo must not run the small
// size silently.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

// envDuration is envInt for durations ("20s").
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 20s", name, v)
	}
	return d
}

// envOn reports whether a gate such as HERALD_CHAOS_ASSERT_FAULTS is on:
// every gate is, unless set to 0 (to collect figures of a build that
// misses a target).
func envOn(name string) bool { return os.Getenv(name) != "0" }

// leaseFlags are the flags of nodes on PostgreSQL: Herald's defaults,
// unless HERALD_CHAOS_LEASE sets a --lease-duration (with request
// timeouts at half of it); the report says which was used. wait is how
// long a scenario may wait for what a dead node held: the lease and a
// minute, however soon the heartbeats hand it over.
func leaseFlags(t *testing.T) (flags []string, lease string, wait time.Duration) {
	if v := os.Getenv("HERALD_CHAOS_LEASE"); v == "" || v == "default" {
		return nil, "default", 5*time.Minute + time.Minute
	}
	d := envDuration(t, "HERALD_CHAOS_LEASE", 20*time.Second)
	timeout := min(d/2, 15*time.Second)
	return []string{"--lease-duration", d.String(), "--request-timeout", timeout.String(),
		"--max-tenant-timeout", timeout.String()}, d.String(), d + time.Minute
}

// ---------------------------------------------------------------------
// herald serve processes

// node is one `herald serve` on a fixed address: it keeps its port and
// data dir over restarts, so that clients and receivers need not follow it.
type node struct {
	t       *testing.T
	name    string
	url     string
	dataDir string
	args    []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	logs    []string // the last lines of stderr, for failure messages
	errors  int      // level=ERROR lines over every run
	started time.Time
}

func newNode(t *testing.T, name, dataDir string, extra ...string) *node {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{"serve", "--addr", addr, "--data-dir", dataDir, "--admin-token", token,
		"--allow-private-destinations", "--allow-undeclared-event-types", "--api-rate-limit", "0",
		"--shutdown-timeout", "5s"}, extra...)
	n := &node{t: t, name: name, url: "http://" + addr, dataDir: dataDir, args: args}
	t.Cleanup(n.kill)
	return n
}

// start starts the process; it does not wait for it to be ready.
func (n *node) start() {
	n.t.Helper()
	cmd := exec.Command(binary, n.args...)
	// The child takes its settings from its flags only.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	done := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.done, n.started = cmd, done, time.Now()
	n.mu.Unlock()
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start %s: %v", n.name, err)
	}
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			n.mu.Lock()
			n.logs = append(n.logs, line)
			if len(n.logs) > 40 {
				n.logs = n.logs[len(n.logs)-40:]
			}
			if strings.Contains(line, "level=ERROR") {
				n.errors++
			}
			n.mu.Unlock()
		}
	}()
	go func() { <-logsDone; _ = cmd.Wait(); close(done) }()
}

// running reports whether the last process started is still there.
func (n *node) running() bool {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// waitReady waits until /readyz answers 200 and returns how long after
// the start that was; an error if the process exits or within is over.
func (n *node) waitReady(within time.Duration) (time.Duration, error) {
	n.mu.Lock()
	done, started := n.done, n.started
	n.mu.Unlock()
	deadline := time.Now().Add(within)
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(n.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(started), nil
			}
		}
		select {
		case <-done:
			return 0, fmt.Errorf("%s exited before it was ready:\n%s", n.name, n.lastLog())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s was not ready within %s:\n%s", n.name, within, n.lastLog())
		}
	}
}

// startReady starts the node and fails the test unless it is ready within
// 30 s.
func (n *node) startReady() time.Duration {
	n.t.Helper()
	n.start()
	d, err := n.waitReady(30 * time.Second)
	if err != nil {
		n.t.Fatal(err)
	}
	return d
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *node) kill() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop sends SIGTERM and waits up to limit; then SIGKILL. It returns how
// long the process took to exit and whether it did so by itself.
func (n *node) stop(limit time.Duration) (time.Duration, bool) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil || !n.running() {
		return 0, true
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return time.Since(start), true
	case <-time.After(limit):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return time.Since(start), false
	}
}

func (n *node) lastLog() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.logs, "\n")
}

func (n *node) errorLines() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.errors
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ---------------------------------------------------------------------
// API set-up

var setupClient = &http.Client{Timeout: 30 * time.Second}

// call sends one admin request and fails the test unless it answers want.
func call(t *testing.T, base, method, path string, body any, want int) []byte {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := setupClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: answered %d, want %d: %s", method, path, resp.StatusCode, want, out)
	}
	return out
}

// setupApp creates app uid with one endpoint per URL, each subscribed to
// eventType.
func setupApp(t *testing.T, base, uid, eventType string, urls ...string) {
	t.Helper()
	call(t, base, "POST", "/v1/apps", map[string]any{"name": uid, "uid": uid}, http.StatusCreated)
	for _, u := range urls {
		call(t, base, "POST", "/v1/apps/"+uid+"/endpoints",
			map[string]any{"url": u, "event_types": []string{eventType}}, http.StatusCreated)
	}
}

// ---------------------------------------------------------------------
// the ledger: what was accepted, what arrived

// ledger records every event the load generator sent and every request a
// receiver got. Events are named by a key carried in their payload ("k")
// and sent as their Idempotency-Key.
type ledger struct {
	mu           sync.Mutex
	accepted     map[string]time.Time   // key → when its 202 came back
	via          map[string]string      // key → the node that accepted it
	unknown      map[string]bool        // keys whose POST got no answer: maybe stored
	arrived      map[string]time.Time   // key → first arrival at a receiver
	ids          map[string][]time.Time // webhook-id → when each request came
	inflight     map[string]string      // webhook-id → key, while the receiver holds its answer
	answeredLive map[string]time.Time   // webhook-id → when an answer reached a sender still there
	arrivals     []time.Time            // every request, in order
	requests     int
	// senderGone counts requests whose sender went away before the
	// answer (a node killed while it waited).
	senderGone int
	goneAt     map[string]time.Time // webhook-id → when an answer found its sender gone
	statuses   map[string]int       // "202", "503", "500", "timeout", "error", …
	maxResp    map[string]time.Duration
	calls      []callRecord
	samples    map[string]string // one answer body per status, to show
}

type callRecord struct {
	start, end time.Time
	status     string
}

func newLedger() *ledger {
	return &ledger{accepted: map[string]time.Time{}, via: map[string]string{}, unknown: map[string]bool{},
		arrived: map[string]time.Time{}, ids: map[string][]time.Time{}, inflight: map[string]string{}, answeredLive: map[string]time.Time{}, goneAt: map[string]time.Time{}, statuses: map[string]int{},
		maxResp: map[string]time.Duration{}, samples: map[string]string{}}
}

// senderGoneCount is how many answers found their sender gone.
func (l *ledger) senderGoneCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.senderGone
}

// arrive records one request a receiver got.
func (l *ledger) arrive(key, webhookID string) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	l.arrivals = append(l.arrivals, now)
	if webhookID != "" {
		l.ids[webhookID] = append(l.ids[webhookID], now)
	}
	if _, ok := l.arrived[key]; !ok && key != "" {
		l.arrived[key] = now
	}
}

// answered records the outcome of one POST …/events.
func (l *ledger) answered(key, via string, start time.Time, status string, body []byte) {
	end := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statuses[status]++
	l.maxResp[status] = max(l.maxResp[status], end.Sub(start))
	l.calls = append(l.calls, callRecord{start: start, end: end, status: status})
	if _, ok := l.samples[status]; !ok && len(body) > 0 {
		l.samples[status] = string(body[:min(len(body), 200)])
	}
	if status == "202" {
		l.accepted[key] = end
		l.via[key] = via
	} else {
		l.unknown[key] = true
	}
}

// missing lists the accepted keys that never arrived, up to n.
func (l *ledger) missing(n int) (count int, some []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.accepted {
		if _, ok := l.arrived[k]; !ok {
			count++
			if len(some) < n {
				some = append(some, k)
			}
		}
	}
	return count, some
}

// duplicates is how many requests repeated a webhook-id already received.
func (l *ledger) duplicates() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := 0
	for _, at := range l.ids {
		d += len(at) - 1
	}
	return d
}

// waitDrained waits until every accepted event has arrived, up to within,
// and returns how long that took.
func (l *ledger) waitDrained(within time.Duration) (time.Duration, bool) {
	start := time.Now()
	for {
		if n, _ := l.missing(0); n == 0 {
			return time.Since(start), true
		}
		if time.Since(start) > within {
			return time.Since(start), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// firstArrivalAfter is the first request received at or after t, or the
// zero time.
func (l *ledger) firstArrivalAfter(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.arrivals, t, func(a, b time.Time) int { return a.Compare(b) })
	if i < len(l.arrivals) {
		return l.arrivals[i]
	}
	return time.Time{}
}

// firstAcceptAfter is the end of the first call answered 202 that started
// at or after t, or the zero time.
func (l *ledger) firstAcceptAfter(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, c := range l.calls {
		if c.status == "202" && !c.start.Before(t) && (first.IsZero() || c.end.Before(first)) {
			first = c.end
		}
	}
	return first
}

// latencies are arrival minus 202 of the accepted keys with prefix whose
// 202 came within [from, to), sorted.
func (l *ledger) latencies(prefix string, from, to time.Time) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for k, acc := range l.accepted {
		if !strings.HasPrefix(k, prefix) || acc.Before(from) || !acc.Before(to) {
			continue
		}
		if at, ok := l.arrived[k]; ok {
			out = append(out, max(0, at.Sub(acc)))
		}
	}
	slices.Sort(out)
	return out
}

// fillCounts puts the ledger's totals into r.
func (l *ledger) fillCounts(r *result) {
	lost, _ := l.missing(0)
	dups := l.duplicates()
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Accepted = len(l.accepted)
	r.Lost = lost
	r.Delivered = r.Accepted - lost
	r.Duplicates = dups
	r.Requests = l.requests
	extra := 0
	for k := range l.unknown {
		if _, ok := l.arrived[k]; ok {
			if _, acc := l.accepted[k]; !acc {
				extra++
			}
		}
	}
	r.UnansweredDelivered = extra
	r.Statuses = maps.Clone(l.statuses)
	r.MaxResponseMS = map[string]float64{}
	for s, d := range l.maxResp {
		r.MaxResponseMS[s] = ms(d)
	}
}

// ---------------------------------------------------------------------
// receivers

// receiver is an HTTP server on 127.0.0.1 that records every delivery in
// a ledger on arrival and answers 200 after delay.
type receiver struct {
	url     string
	l       *ledger
	mux     *http.ServeMux
	srv     *http.Server
	closing chan struct{}
}

// newReceiver starts a receiver that records at /ok and answers after
// delay; extra handlers (the hostile ones) are mounted beside it.
func newReceiver(t *testing.T, l *ledger, delay time.Duration, extra map[string]http.HandlerFunc) *receiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{url: "http://" + ln.Addr().String(), l: l, mux: http.NewServeMux(), closing: make(chan struct{})}
	rc.mux.HandleFunc("/ok", rc.recorder(delay))
	for path, h := range extra {
		rc.mux.HandleFunc(path, h)
	}
	rc.srv = &http.Server{Handler: rc.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	t.Cleanup(func() {
		close(rc.closing)
		_ = rc.srv.Close()
	})
	return rc
}

// recorder records each delivery in the ledger when the whole request is
// in, then answers 200 after delay: a sender killed while waiting for the
// answer has delivered all the same. While it waits, the delivery is in
// the ledger's in-flight set.
func (rc *receiver) recorder(delay time.Duration) http.HandlerFunc {
	l := rc.l
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		var ev struct {
			Data struct {
				K string `json:"k"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		id := r.Header.Get("Webhook-Id")
		l.arrive(ev.Data.K, id)
		if delay <= 0 {
			return
		}
		l.mu.Lock()
		l.inflight[id] = ev.Data.K
		l.mu.Unlock()
		select {
		case <-time.After(delay):
		case <-rc.closing:
		}
		l.mu.Lock()
		delete(l.inflight, id)
		if r.Context().Err() == nil {
			// The sender is still there to record the answer: a
			// live node sent it, and nothing needs taking over.
			l.answeredLive[id] = time.Now()
		} else {
			l.senderGone++
			l.goneAt[id] = time.Now()
		}
		l.mu.Unlock()
	}
}

// ---------------------------------------------------------------------
// the load generator

// load posts rate events per second to the nodes that targets returns,
// from up to conc callers, until stopped. Each event's payload carries its
// key ("k") and pad bytes of padding.
type load struct {
	l         *ledger
	targets   func() []*node
	app       string
	eventType string
	prefix    string
	rate      int
	conc      int
	pad       int
	timeout   time.Duration

	seq     atomic.Int64
	skipped atomic.Int64 // ticks when every caller was busy
	stopCh  chan struct{}
	wg      sync.WaitGroup
}

func (ld *load) start() {
	if ld.timeout == 0 {
		ld.timeout = 30 * time.Second
	}
	ld.stopCh = make(chan struct{})
	hc := &http.Client{Timeout: ld.timeout, Transport: &http.Transport{Proxy: nil,
		MaxIdleConnsPerHost: ld.conc, IdleConnTimeout: 30 * time.Second}}
	due := make(chan int64, ld.conc)
	for range ld.conc {
		ld.wg.Go(func() {
			for seq := range due {
				ld.send(hc, seq)
			}
		})
	}
	ld.wg.Go(func() {
		defer close(due)
		tick := time.NewTicker(time.Second / time.Duration(ld.rate))
		defer tick.Stop()
		for {
			select {
			case <-ld.stopCh:
				return
			case <-tick.C:
				select {
				case due <- ld.seq.Add(1):
				default:
					ld.skipped.Add(1)
				}
			}
		}
	})
}

func (ld *load) stop() {
	close(ld.stopCh)
	ld.wg.Wait()
}

func (ld *load) send(hc *http.Client, seq int64) {
	nodes := ld.targets()
	if len(nodes) == 0 {
		return
	}
	n := nodes[int(seq)%len(nodes)]
	key := ld.prefix + "-" + strconv.FormatInt(seq, 10)
	body := `{"event_type":"` + ld.eventType + `","payload":{"k":"` + key + `","pad":"` + strings.Repeat("x", ld.pad) + `"}}`
	req, _ := http.NewRequest("POST", n.url+"/v1/apps/"+ld.app+"/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		status := "error"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			status = "timeout"
		}
		ld.l.answered(key, n.name, start, status, nil)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ld.l.answered(key, n.name, start, strconv.Itoa(resp.StatusCode), b)
}

// ---------------------------------------------------------------------
// results

// result is one scenario's figures: the summary line, and an entry of
// HERALD_CHAOS_REPORT.
type result struct {
	Scenario string `json:"scenario"`
	// Accepted: events answered 202. Delivered: of those, received at
	// least once. Lost: accepted and never received (must be 0).
	Accepted  int `json:"accepted"`
	Delivered int `json:"delivered"`
	Lost      int `json:"lost"`
	// Duplicates: requests that repeated a webhook-id already received.
	Duplicates int `json:"duplicates"`
	// Requests: every request the receivers recorded.
	Requests int `json:"requests"`
	// UnansweredDelivered: events whose POST got no answer (a kill, a
	// timeout) or an error and were delivered all the same.
	UnansweredDelivered int                `json:"unanswered_delivered"`
	Statuses            map[string]int     `json:"statuses"`
	MaxResponseMS       map[string]float64 `json:"max_response_ms"`
	// Recovery holds the scenario's recovery and takeover times, each as
	// p50/p99/max milliseconds.
	Recovery map[string]stats `json:"recovery,omitempty"`
	// Figures are the scenario's other measures.
	Figures map[string]any `json:"figures,omitempty"`
	Seconds float64        `json:"seconds"`
}

type stats struct {
	N     int     `json:"n"`
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
}

func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return stats{N: len(s), P50MS: ms(q(0.50)), P99MS: ms(q(0.99)), MaxMS: ms(s[len(s)-1])}
}

func (s stats) String() string {
	return fmt.Sprintf("n=%d p50=%.0fms p99=%.0fms max=%.0fms", s.N, s.P50MS, s.P99MS, s.MaxMS)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()/100) / 10 }

var (
	reportMu sync.Mutex
	reported []*result
)

// report logs r's summary line, keeps it for HERALD_CHAOS_REPORT and
// fails the test if anything accepted was lost.
func report(t *testing.T, r *result, l *ledger, began time.Time) {
	t.Helper()
	r.Seconds = time.Since(began).Round(100 * time.Millisecond).Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, "chaos %s: accepted=%d delivered=%d lost=%d duplicates=%d unanswered_delivered=%d statuses=%v",
		r.Scenario, r.Accepted, r.Delivered, r.Lost, r.Duplicates, r.UnansweredDelivered, r.Statuses)
	fmt.Fprintf(&b, " max_response_ms=%v", r.MaxResponseMS)
	for _, k := range sortedKeys(r.Recovery) {
		fmt.Fprintf(&b, " %s=[%s]", k, r.Recovery[k])
	}
	for _, k := range sortedKeys(r.Figures) {
		fmt.Fprintf(&b, " %s=%v", k, r.Figures[k])
	}
	fmt.Fprintf(&b, " seconds=%.1f", r.Seconds)
	t.Log(b.String())
	reportMu.Lock()
	reported = append(reported, r)
	reportMu.Unlock()
	if r.Lost > 0 {
		_, some := l.missing(10)
		t.Errorf("%d events answered 202 were never delivered, among them %v", r.Lost, some)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func writeReport(path string) error {
	reportMu.Lock()
	defer reportMu.Unlock()
	b, err := json.MarshalIndent(map[string]any{"finished": time.Now().UTC(), "scenarios": reported}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// waitFor polls cond every 20 ms until it holds or within is over.
func waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// status answers the status of a GET, or 0 when no answer came within 3 s.
func status(url string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// lastLine is the last non-empty line of a log: its message, most often.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
