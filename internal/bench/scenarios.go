package bench

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// slowDelay is how long slow-endpoint's slow receiver takes to answer:
// well inside the default 15 s request timeout, so its deliveries succeed
// and occupy their in-flight slots the whole time.
const slowDelay = 10 * time.Second

// quietRate is noisy-neighbour's steady app's rate: a tenth of --rate.
func quietRate(rate int) int { return max(1, rate/10) }

// backlogShape spreads the backlog over up to backlogEndpoints endpoints:
// it returns the endpoints and the events.
func backlogShape(backlog int) (endpoints, events int) {
	endpoints = min(backlogEndpoints, backlog)
	return endpoints, max(1, backlog/endpoints)
}

// backlogSchedule retries every second, many times over: receivers are
// down for the whole pile-up, and no delivery may use up its retries
// before they come back. Under callgrind the pile-up lasts 20-50 times
// longer, and so must the retries.
func backlogSchedule(retries int) string {
	return strings.TrimSuffix(strings.Repeat("1s,", retries), ",")
}

const (
	backlogRetries          = 30
	backlogRetriesCallgrind = 1200
)

// burstCase sends n events to stream s as fast as the nodes accept them
// (each key's in turn when s has ordering keys) and waits for every
// delivery: throughput, fanout, postgres, ordered and batched.
func (r *runner) burstCase(name, caseName string, nodes []node, s *stream, n int) (Row, error) {
	if err := setupApp(r.ctx, nodes[0].c, r.rc, s); err != nil {
		return Row{}, err
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return Row{}, err
	}
	stop := r.watch(name, s)
	start := time.Now()
	send := burst
	if s.keys > 0 {
		send = keyedBurst
	}
	send(r.ctx, clientsOf(nodes), s, n, r.sz.concurrency)
	err = r.waitDelivered(s)
	stop()
	row := r.row(caseName, s, start, true)
	return row, errors.Join(err, m.fill(&row))
}

func (r *runner) throughput(sc *Scenario) error {
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	s := r.newStream("throughput", r.sz.events, 1)
	defer r.rc.remove(s)
	row, err := r.burstCase(sc.Name, "sqlite", nodes, s, r.sz.events)
	sc.Rows = append(sc.Rows, row)
	errorNotes(sc, s)
	return err
}

func (r *runner) latency(sc *Scenario) error {
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	s := r.newStream("latency", pacedCount(r.sz.rate, r.sz.duration), 1)
	defer r.rc.remove(s)
	if err := setupApp(r.ctx, nodes[0].c, r.rc, s); err != nil {
		return err
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return err
	}
	stop := r.watch(sc.Name, s)
	start := time.Now()
	paced(r.ctx, clientsOf(nodes), s, 0, r.sz.rate, r.sz.duration, r.sz.concurrency)
	err = r.waitDelivered(s)
	stop()
	row := r.row(fmt.Sprintf("%d/s", r.sz.rate), s, start, false)
	err = errors.Join(err, m.fill(&row))
	sc.Rows = append(sc.Rows, row)
	errorNotes(sc, s)
	return err
}

// steady sends events of 1 KiB to one endpoint at each rate of
// --steady-rates in turn, for --duration each, and works out the server's
// CPU per event accepted. Every rate has a fresh server, so that neither
// the CPU nor the state (database, caches, connections) of one phase
// carries into the next, and its meter starts once the app is set up, so
// that the start-up is left out.
func (r *runner) steady(sc *Scenario) error {
	var errs []error
	for _, rate := range r.sz.steadyRates {
		err := r.steadyPhase(sc, rate)
		errs = append(errs, err)
		if r.ctx.Err() != nil || isStartError(err) {
			break
		}
	}
	sc.Notes = append(sc.Notes, "server cpu/event ms: the server's CPU seconds from the rate's first event to its last delivery ÷ the events accepted; each rate on a fresh server, measured from once its app and endpoint are set up")
	return errors.Join(errs...)
}

// steadyPhase runs one rate of steady on its own server and adds its row.
func (r *runner) steadyPhase(sc *Scenario, rate int) error {
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	name := fmt.Sprintf("%d events/s", rate)
	s := r.newStream("steady", pacedCount(rate, r.sz.duration), 1)
	defer r.rc.remove(s)
	if err := setupApp(r.ctx, nodes[0].c, r.rc, s); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return err
	}
	stop := r.watch(sc.Name+" "+name, s)
	start := time.Now()
	paced(r.ctx, clientsOf(nodes), s, 0, rate, r.sz.duration, r.sz.concurrency)
	err = r.waitDelivered(s)
	stop()
	row := r.row(name, s, start, false)
	err = errors.Join(err, m.fill(&row))
	row.ServerCPUPerEvent = cpuPerEventMS(m.serverCPU, row.Events)
	sc.Rows = append(sc.Rows, row)
	errorNotes(sc, s)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// cpuPerEventMS is cpu seconds over n events, in milliseconds to the
// microsecond; 0 without events.
func cpuPerEventMS(cpu float64, n int64) float64 {
	if n <= 0 || cpu <= 0 {
		return 0
	}
	return math.Round(cpu/float64(n)*1e6) / 1e3
}

// steadyRatesText lists rates as "100 and 500".
func steadyRatesText(rates []int) string {
	parts := make([]string, len(rates))
	for i, rate := range rates {
		parts[i] = strconv.Itoa(rate)
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func (r *runner) fanout(sc *Scenario) error {
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	s := r.newStream("fanout", r.sz.fanoutEvents, r.sz.endpoints)
	defer r.rc.remove(s)
	row, err := r.burstCase(sc.Name, fmt.Sprintf("%d endpoints", r.sz.endpoints), nodes, s, r.sz.fanoutEvents)
	sc.Rows = append(sc.Rows, row)
	errorNotes(sc, s)
	return err
}

func (r *runner) slowEndpoint(sc *Scenario) error {
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	s := r.newStream("slow", pacedCount(r.sz.rate, r.sz.duration), 10)
	s.slowEP, s.slowDelay = 9, slowDelay
	defer r.rc.remove(s)
	if err := setupApp(r.ctx, nodes[0].c, r.rc, s); err != nil {
		return err
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return err
	}
	stop := r.watch(sc.Name, s)
	start := time.Now()
	paced(r.ctx, clientsOf(nodes), s, 0, r.sz.rate, r.sz.duration, r.sz.concurrency)
	err = r.waitDelivered(s)
	stop()
	healthy := r.row("9 healthy endpoints", s, start, false)
	slow := Row{Case: "slow endpoint", Endpoints: 1, Events: s.sent.Load(), Deliveries: s.slowHits.Load(),
		DeliveriesExpected: s.sent.Load(), HeldAtOnce: s.slowPeak.Load()}
	err = errors.Join(err, m.fill(&healthy, &slow))
	sc.Rows = append(sc.Rows, healthy, slow)
	sc.Notes = append(sc.Notes, fmt.Sprintf("the slow endpoint (answers after %s) got %d of %d requests by the time the healthy ones had all theirs; it is not waited for, so its row counts no errors",
		slowDelay, slow.Deliveries, slow.Events))
	errorNotes(sc, s)
	return err
}

func (r *runner) noisyNeighbour(sc *Scenario) error {
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	rate := quietRate(r.sz.rate)
	noisy := r.newStream("noisy", 2*r.sz.events, 1)
	quiet := r.newStream("quiet", pacedCount(rate, r.sz.duration), 1)
	defer r.rc.remove(noisy)
	defer r.rc.remove(quiet)
	for _, s := range []*stream{noisy, quiet} {
		if err := setupApp(r.ctx, nodes[0].c, r.rc, s); err != nil {
			return err
		}
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return err
	}
	stop := r.watch(sc.Name, noisy, quiet)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { burst(r.ctx, clientsOf(nodes), noisy, noisy.capacity, r.sz.concurrency) })
	wg.Go(func() { paced(r.ctx, clientsOf(nodes), quiet, 0, rate, r.sz.duration, 8) })
	wg.Wait()
	err = r.waitDelivered(noisy, quiet)
	stop()
	q := r.row(fmt.Sprintf("app B, %d/s", rate), quiet, start, false)
	n := r.row("app A, burst", noisy, start, true)
	err = errors.Join(err, m.fill(&q, &n))
	sc.Rows = append(sc.Rows, q, n)
	if r.cfg.Instructions {
		sc.Notes = append(sc.Notes, "server and bench CPU and server instructions are the scenario's, on both rows; instr/delivery divides them by the deliveries of both")
	} else {
		sc.Notes = append(sc.Notes, "server and bench CPU are the scenario's, on both rows")
	}
	errorNotes(sc, noisy, quiet)
	return err
}

func (r *runner) backlog(sc *Scenario) error {
	retries := backlogRetries
	if r.cfg.Instructions {
		retries = backlogRetriesCallgrind
	}
	nodes, err := r.startNodes(1, serverOptions{extra: []string{"--retry-schedule", backlogSchedule(retries)}})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	eps, per := backlogShape(r.sz.backlog)
	s := r.newStream("backlog", per, eps)
	defer r.rc.remove(s)
	s.down.Store(true)
	if err := setupApp(r.ctx, nodes[0].c, r.rc, s); err != nil {
		return err
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return err
	}
	stop := r.watch(sc.Name, s)
	defer stop()
	start := time.Now()
	burst(r.ctx, clientsOf(nodes), s, per, r.sz.concurrency)
	pile := Row{Case: "pile-up (503)", Endpoints: eps, Events: s.sent.Load(), EventsPerSec: perSec(s.sent.Load(), s.lastAccept().Sub(start)),
		Errors: s.errors.Load()}
	if err := m.fill(&pile); err != nil {
		return err
	}
	refused := s.refused.Load()

	if m, err = r.startMeter(nodes); err != nil {
		return err
	}
	up := time.Now()
	s.down.Store(false)
	err = r.waitDelivered(s)
	got, want := s.unique.Load(), s.sent.Load()*int64(eps)
	drain := Row{Case: "drain (200)", Endpoints: eps, Events: s.sent.Load(), Deliveries: got, DeliveriesExpected: want,
		Errors: max(0, want-got), Duplicates: s.dups.Load()}
	if got > 0 {
		drain.DeliveriesPerSec = perSec(got, s.lastArrival().Sub(up))
	}
	drain.Ratio = ratio(drain.DeliveriesPerSec, r.ceiling)
	err = errors.Join(err, m.fill(&drain))
	sc.Rows = append(sc.Rows, pile, drain)
	sc.Notes = append(sc.Notes,
		fmt.Sprintf("server rss of the pile-up row is its peak while the receivers were down; %d requests were answered 503 then", refused),
		fmt.Sprintf("retry schedule %d × 1s; latency is left out: it would measure the outage", retries))
	errorNotes(sc, s)
	return err
}

// hostile-tenant's app A: hostileEndpoints endpoints whose receivers answer
// 200 after slowDelay, each allowed the tenant ceiling in flight, and
// hostileEvents events for every one of them. Held to the worker time its
// requests take, each endpoint may have 2 in flight of 256 workers, so A
// wants 200, more than its share; and its 5,000 deliveries of 10 s are far
// more than the run lets it send, so it never stops wanting.
const (
	hostileEndpoints = 100
	hostileEvents    = 50
	// tenantInFlight is --max-tenant-in-flight's default: the most
	// max_in_flight an app's endpoint may set.
	tenantInFlight = 64
)

// aloneFor is how long hostile-tenant's app B sends alone, for its
// unloaded latency: a third of --duration, at least a second.
func aloneFor(d time.Duration) time.Duration { return max(time.Second, d/3) }

func (r *runner) hostileTenant(sc *Scenario) error {
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	rate, alone := quietRate(r.sz.rate), aloneFor(r.sz.duration)
	first, then := pacedCount(rate, alone), pacedCount(rate, r.sz.duration)
	quiet := r.newStream("quiet", first+then, 1)
	hostile := r.newStream("hostile", hostileEvents, hostileEndpoints)
	hostile.allSlow, hostile.slowDelay = true, slowDelay
	hostile.settings = map[string]any{"max_in_flight": tenantInFlight}
	defer r.rc.remove(quiet)
	defer r.rc.remove(hostile)
	for _, s := range []*stream{quiet, hostile} {
		if err := setupApp(r.ctx, nodes[0].c, r.rc, s); err != nil {
			return err
		}
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return err
	}
	stop := r.watch(sc.Name, quiet, hostile)
	defer stop()
	clients := clientsOf(nodes)

	// B alone.
	start := time.Now()
	paced(r.ctx, clients, quiet, 0, rate, alone, 8)
	if err := r.waitDelivered(quiet); err != nil {
		return err
	}
	unloaded := quiet.phaseRow(fmt.Sprintf("app B alone, %d/s", rate), 0, first, start)

	// A takes all it may, then B sends again beside it.
	startA := time.Now()
	burst(r.ctx, clients, hostile, hostileEvents, r.sz.concurrency)
	r.waitHeld(hostile)
	start = time.Now()
	paced(r.ctx, clients, quiet, first, rate, r.sz.duration, 8)
	err = r.waitDelivered(quiet)
	loaded := quiet.phaseRow(fmt.Sprintf("app B beside A, %d/s", rate), first, first+then, start)
	a := Row{Case: fmt.Sprintf("app A (answers after %s)", slowDelay), Endpoints: hostileEndpoints, Events: hostile.sent.Load(),
		Deliveries: hostile.slowHits.Load(), DeliveriesExpected: hostile.sent.Load() * hostileEndpoints, Errors: hostile.errors.Load(),
		EventsPerSec: perSec(hostile.sent.Load(), hostile.lastAccept().Sub(startA)), HeldAtOnce: hostile.slowPeak.Load()}
	err = errors.Join(err, m.fill(&unloaded, &loaded, &a))
	sc.Rows = append(sc.Rows, unloaded, loaded, a)
	sc.Notes = append(sc.Notes,
		fmt.Sprintf("app A's receivers held at most %d requests at once (%d endpoints, max_in_flight %d each); its deliveries row counts the requests that reached them, not waited for",
			a.HeldAtOnce, hostileEndpoints, tenantInFlight))
	if u, l := unloaded.Latency, loaded.Latency; u != nil && l != nil && u.P99 > 0 {
		sc.Notes = append(sc.Notes, fmt.Sprintf("app B's p99 beside A is %.1f× its p99 alone (target: within 2×)", l.P99/u.P99))
	}
	sc.Notes = append(sc.Notes, "server and bench CPU are the scenario's, on every row")
	errorNotes(sc, quiet, hostile)
	return err
}

// waitHeld waits until the slow receivers of s hold as many requests as
// they will: the count has not grown for a second (at most slowDelay).
func (r *runner) waitHeld(s *stream) {
	deadline := time.Now().Add(slowDelay)
	last, since := int64(-1), time.Now()
	for time.Now().Before(deadline) && r.ctx.Err() == nil {
		if n := s.slowNow.Load(); n != last {
			last, since = n, time.Now()
		} else if n > 0 && time.Since(since) >= time.Second {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// phaseRow sums up the events of s from seq first to seq end (excluded),
// sent from start on: rates and latency.
func (s *stream) phaseRow(name string, first, end int, start time.Time) Row {
	var sent, got, lastAccept, lastArrival int64
	for seq := first; seq < end; seq++ {
		if at := s.accepted[seq].Load(); at != 0 {
			sent++
			lastAccept = max(lastAccept, at)
		}
		for ep := range s.endpoints {
			if at := s.arrived[ep*s.capacity+seq].Load(); at != 0 && !s.slow(ep) {
				got++
				lastArrival = max(lastArrival, at)
			}
		}
	}
	want := sent * int64(s.healthy())
	row := Row{Case: name, Endpoints: s.healthy(), Events: sent, Deliveries: got, DeliveriesExpected: want,
		Errors: max(0, want-got), Latency: latencyOf(s.latenciesOf(first, end))}
	if sent > 0 {
		row.EventsPerSec = perSec(sent, time.Unix(0, lastAccept).Sub(start))
	}
	if got > 0 {
		row.DeliveriesPerSec = perSec(got, time.Unix(0, lastArrival).Sub(start))
	}
	return row
}
