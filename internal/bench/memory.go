package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stuck-endpoints: events with large payloads to endpoints that never
// answer, at a rate that fills memory within seconds on a server that
// keeps every queued delivery's payload.
const (
	stuckEndpoints = 10
	stuckPayload   = 500_000
	stuckRate      = 20
	// defaultQueueMemory is the server's --queue-memory default.
	defaultQueueMemory = 128 << 20
	// leastBound is the bound of a budget under it: the server keeps
	// its whole process within --queue-memory, but needs about 100 MiB
	// whatever the budget (its code, an idle heap, the API's request
	// bodies, SQLite).
	leastBound = 128 << 20
)

// hanging-endpoints: one app whose endpoint 0 stays healthy while its
// other 20 endpoints, healthy at first, start hanging at once.
const hangingEndpoints = 20

// hangFor is how long a hanging receiver holds a request: longer than any
// request timeout, so that Herald is the one that gives up.
const hangFor = time.Hour

func (r *runner) stuckEndpoints(sc *Scenario) error {
	budget := int64(defaultQueueMemory)
	var extra []string
	if q := int64(r.cfg.QueueMemory); q > 0 {
		budget = q
		extra = append(extra, "--queue-memory", strconv.FormatInt(q, 10))
	}
	nodes, err := r.startNodes(1, serverOptions{extra: extra})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	s := r.newStream("stuck", pacedCount(stuckRate, r.sz.duration), stuckEndpoints)
	s.allSlow, s.slowDelay, s.payloadBytes = true, hangFor, stuckPayload
	defer r.rc.remove(s)
	if err := setupApp(r.ctx, nodes[0].c, r.rc, s); err != nil {
		return err
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return err
	}
	stop := r.watch(sc.Name, s)
	defer stop()
	sampler := r.sampleHeld(nodes[0])
	start := time.Now()
	paced(r.ctx, clientsOf(nodes), s, 0, stuckRate, r.sz.duration, 8)
	peak := sampler()
	row := Row{Case: fmt.Sprintf("%d endpoints never answering, %d KB payloads", stuckEndpoints, stuckPayload/1000), Endpoints: stuckEndpoints,
		Events: s.sent.Load(), Deliveries: s.slowHits.Load(), DeliveriesExpected: s.sent.Load() * stuckEndpoints, Errors: s.errors.Load(),
		HeldAtOnce: s.slowPeak.Load()}
	if row.Events > 0 {
		row.EventsPerSec = perSec(row.Events, s.lastAccept().Sub(start))
	}
	err = m.fill(&row)
	sc.Rows = append(sc.Rows, row)
	mem := &Memory{BudgetMiB: mib(budget), BoundMiB: mib(max(budget, leastBound)), PeakRSSMiB: row.ServerRSS,
		PeakHeldDeliveries: peak.deliveries, PeakHeldMiB: round1(mib(peak.bytes)), PendingAtEnd: peak.pending}
	mem.WithinBound = row.ServerRSS <= mem.BoundMiB
	sc.Memory = mem
	held := "the server does not expose herald_memory_held_*"
	if peak.deliveries >= 0 {
		held = fmt.Sprintf("the engine held at most %d deliveries, %.1f MiB counted against the budget", peak.deliveries, mem.PeakHeldMiB)
	}
	sc.Notes = append(sc.Notes,
		fmt.Sprintf("--queue-memory %.0f MiB: peak RSS %.0f MiB, bound %.0f MiB (the budget, at least %d MiB): %s",
			mem.BudgetMiB, mem.PeakRSSMiB, mem.BoundMiB, leastBound>>20, map[bool]string{true: "within", false: "OVER"}[mem.WithinBound]),
		fmt.Sprintf("%s; %d deliveries pending in the database at the end; %d events × %d KB = %.0f MiB of payloads accepted",
			held, peak.pending, row.Events, stuckPayload/1000, mib(row.Events*stuckPayload)),
		fmt.Sprintf("deliveries counts the requests that reached the endpoints, which hold each until Herald's request timeout; held at once %d", row.HeldAtOnce))
	errorNotes(sc, s)
	if !mem.WithinBound {
		err = errors.Join(err, fmt.Errorf("peak RSS %.0f MiB over its bound, %.0f MiB", mem.PeakRSSMiB, mem.BoundMiB))
	}
	return err
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// heldPeak is the most the engine held, from /metrics; -1 when the
// server does not expose it.
type heldPeak struct {
	deliveries, bytes, pending int64
}

// sampleHeld reads the server's /metrics every 200 ms until the returned
// function is called, which returns the peaks.
func (r *runner) sampleHeld(n node) func() heldPeak {
	var mu sync.Mutex
	peak := heldPeak{deliveries: -1, bytes: -1, pending: -1}
	done := make(chan struct{})
	var wg sync.WaitGroup
	read := func() {
		code, body, err := n.c.do(r.ctx, "GET", "/metrics", nil)
		if err != nil || code != 200 {
			return
		}
		v := parseMetrics(body)
		mu.Lock()
		defer mu.Unlock()
		if d, ok := v["herald_memory_held_deliveries"]; ok {
			peak.deliveries = max(peak.deliveries, int64(d))
		}
		if b, ok := v["herald_memory_held_bytes"]; ok {
			peak.bytes = max(peak.bytes, int64(b))
		}
		if p, ok := v["herald_queue_pending"]; ok {
			peak.pending = int64(p)
		}
	}
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	})
	return func() heldPeak {
		close(done)
		wg.Wait()
		read()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// parseMetrics reads the unlabelled samples and those labelled only by
// node of Prometheus's text format.
func parseMetrics(b []byte) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		name := f[0]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[name] = v
		}
	}
	return out
}

func (r *runner) hangingEndpoints(sc *Scenario) error {
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	rate, alone := quietRate(r.sz.rate), aloneFor(r.sz.duration)
	first, then := pacedCount(rate, alone), pacedCount(rate, r.sz.duration)
	s := r.newStream("hanging", first+then, 1+hangingEndpoints)
	s.hangFrom, s.slowDelay = 1, hangFor
	defer r.rc.remove(s)
	if err := setupApp(r.ctx, nodes[0].c, r.rc, s); err != nil {
		return err
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return err
	}
	stop := r.watch(sc.Name, s)
	defer stop()
	clients := clientsOf(nodes)

	// All answer at once.
	start := time.Now()
	paced(r.ctx, clients, s, 0, rate, alone, 8)
	if err := r.waitDelivered(s); err != nil {
		return err
	}
	before := s.phaseRow(fmt.Sprintf("healthy endpoint, others answering, %d/s", rate), 0, first, start)

	// Then the 20 others hang at once.
	s.hang.Store(true)
	hits := s.slowHits.Load()
	start = time.Now()
	paced(r.ctx, clients, s, first, rate, r.sz.duration, 8)
	err = r.waitDelivered(s)
	during := s.phaseRow(fmt.Sprintf("healthy endpoint, %d others hanging, %d/s", hangingEndpoints, rate), first, first+then, start)
	hanging := Row{Case: fmt.Sprintf("%d hanging endpoints", hangingEndpoints), Endpoints: hangingEndpoints, Events: int64(then),
		Deliveries: s.slowHits.Load() - hits, DeliveriesExpected: int64(then) * hangingEndpoints, HeldAtOnce: s.slowPeak.Load()}
	err = errors.Join(err, m.fill(&before, &during, &hanging))
	sc.Rows = append(sc.Rows, before, during, hanging)
	sc.Notes = append(sc.Notes,
		fmt.Sprintf("the hanging endpoints held at most %d requests at once, of the server's workers (256 by default); their row counts the requests that reached them once hanging, not waited for", hanging.HeldAtOnce))
	if b, d := before.Latency, during.Latency; b != nil && d != nil && b.P99 > 0 {
		p50 := "-"
		if b.P50 > 0 {
			p50 = fmt.Sprintf("%.1f×", d.P50/b.P50)
		}
		sc.Notes = append(sc.Notes, fmt.Sprintf("healthy endpoint while %d others hang: p50 %s and p99 %.1f× its figures before (target: p99 within 2×)",
			hangingEndpoints, p50, d.P99/b.P99))
	}
	sc.Notes = append(sc.Notes, "server and bench CPU are the scenario's, on every row")
	errorNotes(sc, s)
	return err
}
