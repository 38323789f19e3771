// Package bench implements `herald bench`: it runs a Herald server as a
// child process, points its endpoints at receivers inside the bench, sends
// events through the public API and times each one from its 202 to its
// arrival. Every figure is set beside the machine's own HTTP ceiling,
// measured in the same run with the same receiver and a plain Go client,
// because on a shared machine the ratio holds where absolute figures do
// not.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// Run runs the selected scenarios and prints a table for each to stdout
// (stderr when the JSON goes to stdout); progress goes to stderr.
func Run(ctx context.Context, c *Config, stdout, stderr io.Writer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	out := stdout
	if c.JSON == "-" {
		out = stderr
	}
	sz := c.sizes()
	sel := c.selected()
	exe, version, err := serverBinary(ctx, c.Server, sel)
	if err != nil {
		return err
	}
	rc, err := startReceiver()
	if err != nil {
		return fmt.Errorf("start the receiver: %w", err)
	}
	defer rc.close()

	rep := &Report{Version: herald.Version, Started: time.Now().UTC(), Machine: machine(),
		Server: exe, ServerVersion: version, Instructions: c.Instructions}
	fmt.Fprintf(stderr, "ceiling: %d plain clients straight to the receiver for %s\n", sz.concurrency, sz.ceiling)
	rps, failed, err := measureCeiling(ctx, rc, sz.concurrency, sz.ceiling)
	if err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	rep.Ceiling = Ceiling{RequestsPerSec: float64(int64(rps)), Concurrency: sz.concurrency, Seconds: sz.ceiling.Seconds(), Errors: failed}
	fmt.Fprintf(stderr, "relay: the same clients through a plain Go relay that stores nothing, for %s\n", sz.ceiling)
	relayed, failed, err := measureRelay(ctx, rc, sz.concurrency, sz.ceiling)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	rep.Relay = Relay{RequestsPerSec: float64(int64(relayed)), Errors: failed}
	if rt := ratio(relayed, rps); rt != nil {
		rep.Relay.Ratio = *rt
	}
	rep.writeHeader(out)

	r := &runner{ctx: ctx, cfg: c, sz: sz, rc: rc, ceiling: rps, progress: stderr, exe: exe}
	short := 0
	for _, name := range Scenarios {
		if !sel[name] {
			continue
		}
		start := time.Now()
		sc := Scenario{Name: name, Description: r.describe(name)}
		fmt.Fprintf(stderr, "%s: %s\n", name, sc.Description)
		if err := r.run(name, &sc); err != nil {
			sc.Error = err.Error()
			short++
		}
		if c.Instructions && len(sc.Rows) > 0 {
			sc.Notes = append(sc.Notes, "under callgrind, which runs the server 20-50 times slower: events/s, deliveries/s, ratio, latency, cpu and rss are valgrind's, not Herald's; compare server Minstr and instr/delivery")
		}
		sc.Seconds = time.Since(start).Round(100 * time.Millisecond).Seconds()
		rep.Scenarios = append(rep.Scenarios, sc)
		writeScenario(out, &sc)
		if ctx.Err() != nil {
			break
		}
	}
	if c.JSON != "" {
		if err := rep.writeJSON(c.JSON, stdout); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if short > 0 {
		return fmt.Errorf("%d scenario(s) stopped short; see their error lines", short)
	}
	return nil
}

// serverBinary returns the herald binary the scenarios run as their
// server, and its version: --server-binary if set (checked to take the flags the
// bench passes), else the bench's own executable.
func serverBinary(ctx context.Context, server string, sel map[string]bool) (exe, version string, err error) {
	if server == "" {
		exe, err = os.Executable()
		if err != nil {
			return "", "", fmt.Errorf("find the herald binary: %w", err)
		}
		return exe, herald.Version, nil
	}
	if exe, err = exec.LookPath(server); err == nil {
		exe, err = filepath.Abs(exe)
	}
	if err != nil {
		return "", "", fmt.Errorf("--server-binary %s: not an executable file", server)
	}
	version, err = probeServer(ctx, exe, sel)
	return exe, version, err
}

// runner holds what the scenarios share.
type runner struct {
	ctx      context.Context
	cfg      *Config
	sz       sizes
	rc       *receiver
	ceiling  float64
	progress io.Writer
	exe      string // the server's binary
	streams  int    // for unique app uids
}

func (r *runner) describe(name string) string {
	sz := r.sz
	switch name {
	case Throughput:
		return fmt.Sprintf("1 endpoint, %d events of 1 KiB from %d clients as fast as accepted", sz.events, sz.concurrency)
	case Latency:
		return fmt.Sprintf("1 endpoint, %d events/s for %s", sz.rate, sz.duration)
	case Steady:
		return fmt.Sprintf("1 endpoint, events of 1 KiB at %s events/s, each rate for %s on a fresh server", steadyRatesText(sz.steadyRates), sz.duration)
	case Fanout:
		return fmt.Sprintf("%d endpoints on one event type, %d events → %d deliveries", sz.endpoints, sz.fanoutEvents, sz.endpoints*sz.fanoutEvents)
	case SlowEndpoint:
		return fmt.Sprintf("10 endpoints, one answering after %s; %d events/s for %s", slowDelay, sz.rate, sz.duration)
	case NoisyNeighbour:
		return fmt.Sprintf("app A bursts %d events while app B sends %d events/s for %s", 2*sz.events, quietRate(sz.rate), sz.duration)
	case HostileTenant:
		return fmt.Sprintf("app B sends %d events/s alone for %s, then for %s beside app A, whose %d endpoints (max_in_flight %d) answer after %s and have %d deliveries waiting",
			quietRate(sz.rate), aloneFor(sz.duration), sz.duration, hostileEndpoints, tenantInFlight, slowDelay, hostileEndpoints*hostileEvents)
	case StuckEndpoints:
		return fmt.Sprintf("%d endpoints that never answer, one app, %d events/s of %d KB for %s", stuckEndpoints, stuckRate, stuckPayload/1000, sz.duration)
	case HangingEndpoints:
		return fmt.Sprintf("one app, %d events/s to its %d endpoints for %s, then for %s while %d of them hang (never answer)",
			quietRate(sz.rate), 1+hangingEndpoints, aloneFor(sz.duration), sz.duration, hangingEndpoints)
	case Backlog:
		eps, per := backlogShape(sz.backlog)
		return fmt.Sprintf("receivers answer 503 while %d events × %d endpoints = %d deliveries pile up, then answer 200", per, eps, per*eps)
	case Postgres:
		return fmt.Sprintf("throughput (%d events) on PostgreSQL, one node then two", sz.events)
	case Nats:
		return fmt.Sprintf("1 nats endpoint publishing to a JetStream stream, %d events of 1 KiB from %d clients as fast as accepted; then %d held back and drained at once; then the same %d messages straight from nats.go, %d in flight", sz.events, sz.concurrency, sz.events, sz.events, natsPublishers)
	case Ordered:
		return fmt.Sprintf("1 endpoint, %d events of 1 KiB from %d clients as fast as accepted, without ordering_key, then with %d keys in turn (each key's next event sent once its last is accepted)", sz.events, sz.concurrency, orderKeys(sz.events))
	case Batched:
		return fmt.Sprintf("1 endpoint, %d events of 1 KiB from %d clients as fast as accepted, unbatched, then with batch {max_events: %d, max_wait_ms: %d}", sz.events, sz.concurrency, batchMaxEvents, batchMaxWaitMS)
	}
	return ""
}

func (r *runner) run(name string, sc *Scenario) error {
	switch name {
	case Throughput:
		return r.throughput(sc)
	case Latency:
		return r.latency(sc)
	case Steady:
		return r.steady(sc)
	case Fanout:
		return r.fanout(sc)
	case SlowEndpoint:
		return r.slowEndpoint(sc)
	case NoisyNeighbour:
		return r.noisyNeighbour(sc)
	case HostileTenant:
		return r.hostileTenant(sc)
	case StuckEndpoints:
		return r.stuckEndpoints(sc)
	case HangingEndpoints:
		return r.hangingEndpoints(sc)
	case Backlog:
		return r.backlog(sc)
	case Postgres:
		return r.postgres(sc)
	case Nats:
		return r.nats(sc)
	case Ordered:
		return r.ordered(sc)
	case Batched:
		return r.batched(sc)
	}
	return fmt.Errorf("unknown scenario %q", name)
}

// newStream makes a stream with a fresh app uid and registers it with the
// receiver.
func (r *runner) newStream(prefix string, capacity, endpoints int) *stream {
	r.streams++
	s := newStream(prefix+"-"+strconv.Itoa(r.streams), capacity, endpoints)
	r.rc.add(s)
	return s
}

// node is a started server with its API client.
type node struct {
	srv *server
	c   *client
}

// startNodes starts n servers (n > 1 only on a shared database), adds the
// event type through the first, and returns them; stop them with
// stopNodes.
func (r *runner) startNodes(n int, o serverOptions) ([]node, error) {
	if o.token == "" {
		o.token = randomToken()
	}
	o.exe, o.callgrind = r.exe, r.cfg.Instructions
	var nodes []node
	for range n {
		srv, err := startServer(r.ctx, o)
		if err != nil {
			stopNodes(nodes)
			return nil, err
		}
		nodes = append(nodes, node{srv: srv, c: newClient(srv.url, srv.token, r.sz.concurrency)})
	}
	if err := setupEventType(r.ctx, nodes[0].c); err != nil {
		stopNodes(nodes)
		return nil, err
	}
	return nodes, nil
}

func stopNodes(nodes []node) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		n.c.close()
		wg.Go(n.srv.stop)
	}
	wg.Wait()
}

func clientsOf(nodes []node) []*client {
	var cs []*client
	for _, n := range nodes {
		cs = append(cs, n.c)
	}
	return cs
}

// meter takes the CPU time of the servers and of the bench from one point
// on, the servers' peak memory and, under callgrind, the instructions the
// servers execute from that point on.
type meter struct {
	ctx    context.Context
	nodes  []node
	server float64
	bench  float64
	// serverCPU is the servers' CPU seconds from the start to fill, not
	// rounded: set by fill.
	serverCPU float64
}

// startMeter starts measuring: it zeroes the servers' instruction counts,
// if they run under callgrind, so that their start-up and set-up are left
// out.
func (r *runner) startMeter(nodes []node) (*meter, error) {
	m := &meter{ctx: r.ctx, nodes: nodes, bench: procCPU("self")}
	for _, n := range nodes {
		m.server += n.srv.cpuSeconds()
		if err := n.srv.zeroInstructions(r.ctx); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// fill sets, on the rows of one measured span, the CPU seconds since the
// start, the largest peak RSS of the servers and their instructions;
// instructions per delivery divide those by the deliveries of all the
// rows. Call it once per meter: reading the instructions resets them.
func (m *meter) fill(rows ...*Row) error {
	var cpu, rss float64
	var instr int64
	for _, n := range m.nodes {
		cpu += n.srv.cpuSeconds()
		rss = max(rss, n.srv.peakRSS())
		v, err := n.srv.instructions(m.ctx)
		if err != nil {
			return err
		}
		instr += v
	}
	m.serverCPU = cpu - m.server
	var delivered int64
	for _, row := range rows {
		delivered += row.Deliveries
	}
	for _, row := range rows {
		row.ServerCPU = round1(cpu - m.server)
		row.ServerRSS = round1(rss)
		row.BenchCPU = round1(procCPU("self") - m.bench)
		row.ServerInstructions = instr
		if delivered > 0 {
			row.InstructionsPerDelivery = (instr + delivered/2) / delivered
		}
	}
	return nil
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// watch prints a progress line a second for the streams until stopped.
func (r *runner) watch(name string, streams ...*stream) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var sent, got, errs, refused, slow int64
			for _, s := range streams {
				sent += s.sent.Load()
				got += s.unique.Load()
				errs += s.errors.Load()
				refused += s.refused.Load()
				slow += s.slowHits.Load()
			}
			line := fmt.Sprintf("  %s %4.0fs  accepted %d  delivered %d  errors %d", name, time.Since(start).Seconds(), sent, got, errs)
			if refused > 0 {
				line += fmt.Sprintf("  refused (503) %d", refused)
			}
			if slow > 0 {
				line += fmt.Sprintf("  slow endpoint %d", slow)
			}
			fmt.Fprintln(r.progress, line)
		}
	})
	return func() { close(done); wg.Wait() }
}

// How long deliveries may stop arriving before the bench gives up on the
// rest; callgrind runs the server 20-50 times slower.
const (
	stallAfter          = 30 * time.Second
	stallAfterCallgrind = 10 * time.Minute
)

// waitDelivered waits until every accepted event of each stream reached
// each of its healthy endpoints.
func (r *runner) waitDelivered(streams ...*stream) error {
	var last int64 = -1
	lastChange := time.Now()
	stall := stallAfter
	if r.cfg.Instructions {
		stall = stallAfterCallgrind
	}
	for {
		var got, missing int64
		for _, s := range streams {
			u := s.unique.Load()
			got += u
			missing += max(0, s.sent.Load()*int64(s.healthy())-u)
		}
		if missing == 0 {
			return nil
		}
		if got != last {
			last, lastChange = got, time.Now()
		}
		if time.Since(lastChange) > stall {
			return fmt.Errorf("%d deliveries missing: none arrived for %s", missing, stall)
		}
		select {
		case <-r.ctx.Done():
			return r.ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// row sums up stream s from start: rates, latency and errors.
func (r *runner) row(name string, s *stream, start time.Time, withRatio bool) Row {
	sent, got := s.sent.Load(), s.unique.Load()
	want := sent * int64(s.healthy())
	row := Row{Case: name, Endpoints: s.healthy(), Events: sent, Deliveries: got, DeliveriesExpected: want,
		Errors: s.errors.Load() + max(0, want-got), Duplicates: s.dups.Load()}
	if sent > 0 {
		row.EventsPerSec = perSec(sent, s.lastAccept().Sub(start))
	}
	if got > 0 {
		row.DeliveriesPerSec = perSec(got, s.lastArrival().Sub(start))
	}
	if withRatio {
		row.Ratio = ratio(row.DeliveriesPerSec, r.ceiling)
	}
	row.Latency = latencyOf(s.latencies())
	return row
}

// errorNotes adds each stream's first error to the notes.
func errorNotes(sc *Scenario, streams ...*stream) {
	for _, s := range streams {
		if e := s.firstError(); e != "" {
			sc.Notes = append(sc.Notes, fmt.Sprintf("first error of app %s: %s", s.name, e))
		}
	}
}

// isStartError reports whether err is a server that refused to start.
func isStartError(err error) bool {
	var se *startError
	return errors.As(err, &se)
}
