package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// These tests run a whole Engine over a real SQLite file inside a
// testing/synctest bubble: the engine's timers are the bubble's fake
// time, so a retry due in ten minutes goes out at once, at exactly ten
// minutes, and synctest.Wait tells when the engine has nothing left to do
// at the current instant. That is what lets them assert that something
// did not happen. SQLite's file I/O is not a durable block, so Wait simply
// waits for it to finish.
//
// What is sent is answered by a script: the engine's contract with the
// wire is Outbound, and the real HTTP path is tested through heraldtest.

// sendFunc is an Outbound that answers with a function.
type sendFunc func(ctx context.Context, d *outbound.Delivery) outbound.Outcome

func (f sendFunc) Send(ctx context.Context, d *outbound.Delivery) outbound.Outcome { return f(ctx, d) }

// sent is one call of the engine to its Outbound.
type sent struct {
	// at is the fake time of the call, from the start of the test.
	at       time.Duration
	delivery string
	endpoint string
}

// engineRig is an engine started in the current bubble, with an app.
type engineRig struct {
	t   *testing.T
	db  *sqlite.DB
	e   *Engine
	app *herald.App
	t0  time.Time

	mu    sync.Mutex
	calls []sent
	// batches holds the batched requests: their deliveries, in order.
	batches []sentBatch
	// each, when set, answers a batch's deliveries one by one
	// (BatchOutcome.Each), as a receiver with per-record results does.
	each func(ds []*outbound.Delivery) map[int]outbound.Outcome
}

// sentBatch is one batched request of the engine.
type sentBatch struct {
	at  time.Duration
	id  string
	ids []string
}

// rigOutbound is the rig's Outbound: a batch is one call of the answer
// (with its first delivery) for all its deliveries.
type rigOutbound struct {
	sendFunc
	batch func(ctx context.Context, ds []*outbound.Delivery) outbound.BatchOutcome
}

func (o rigOutbound) SendBatch(ctx context.Context, ds []*outbound.Delivery) outbound.BatchOutcome {
	return o.batch(ctx, ds)
}

// answerFunc answers the n-th call (1-based) of the engine.
type answerFunc func(ctx context.Context, n int, d *outbound.Delivery) outbound.Outcome

// startEngine opens a store in a temporary directory and starts an engine
// on it; both end with the test. Options left zero get values that keep
// fake hours cheap: the poll (a backstop the tests must not lean on),
// heartbeats and lease renewals run once an hour.
func startEngine(t *testing.T, o Options, answer answerFunc) *engineRig {
	return startEngineOn(t, nil, o, answer)
}

// startEngineOn is startEngine with a wrapper around the store.
func startEngineOn(t *testing.T, wrap func(*sqlite.DB) Store, o Options, answer answerFunc) *engineRig {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	r := &engineRig{t: t, db: db, t0: time.Now()}
	r.app = &herald.App{ID: herald.NewID(herald.PrefixApp), UID: "acme", Name: "Acme", CreatedAt: r.t0, UpdatedAt: r.t0}
	if err := db.AppCreate(ctx, r.app); err != nil {
		t.Fatal(err)
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Hour
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = time.Hour
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = time.Hour
	}
	o.Owner = "node-test"
	out := sendFunc(func(ctx context.Context, d *outbound.Delivery) outbound.Outcome {
		r.mu.Lock()
		r.calls = append(r.calls, sent{at: time.Since(r.t0), delivery: d.ID, endpoint: d.Endpoint.ID})
		n := len(r.calls)
		r.mu.Unlock()
		return answer(ctx, n, d)
	})
	batch := func(ctx context.Context, ds []*outbound.Delivery) outbound.BatchOutcome {
		b := sentBatch{at: time.Since(r.t0), id: herald.NewID(herald.PrefixBatch)}
		for _, d := range ds {
			b.ids = append(b.ids, d.ID)
		}
		r.mu.Lock()
		r.batches = append(r.batches, b)
		r.calls = append(r.calls, sent{at: b.at, delivery: ds[0].ID, endpoint: ds[0].Endpoint.ID})
		n := len(r.calls)
		each := r.each
		r.mu.Unlock()
		o := outbound.BatchOutcome{Outcome: answer(ctx, n, ds[0]), BatchID: b.id}
		if each != nil {
			o.Each = each(ds)
		}
		return o
	}
	var st Store = db
	if wrap != nil {
		st = wrap(db)
	}
	r.e = New(st, rigOutbound{sendFunc: out, batch: batch}, o)
	r.e.Start(ctx)
	t.Cleanup(func() { _ = r.e.Shutdown(context.Background()) })
	// The first heartbeat and claim are done before the test goes on.
	synctest.Wait()
	return r
}

// answer makes an Outcome with the given status (and Retry-After, if any).
func answer(status int, retryAfter ...time.Duration) outbound.Outcome {
	o := outbound.Outcome{Status: status, Response: &herald.AttemptResponse{StatusCode: status}}
	if status/100 != 2 {
		o.Kind = herald.ErrorKindHTTPStatus
	}
	if len(retryAfter) > 0 {
		o.RetryAfter = &retryAfter[0]
	}
	return o
}

// always answers every call with status.
func always(status int) answerFunc {
	return func(context.Context, int, *outbound.Delivery) outbound.Outcome { return answer(status) }
}

// script answers the n-th call with outcomes[n-1], then 200.
func script(outcomes ...outbound.Outcome) answerFunc {
	return func(_ context.Context, n int, _ *outbound.Delivery) outbound.Outcome {
		if n <= len(outcomes) {
			return outcomes[n-1]
		}
		return answer(http.StatusOK)
	}
}

// holdGate answers every call with 200 once open is closed, and counts
// the calls in flight at once meanwhile.
type holdGate struct {
	open      chan struct{}
	mu        sync.Mutex
	cur, peak int
}

func newHoldGate() *holdGate { return &holdGate{open: make(chan struct{})} }

func (g *holdGate) answer(context.Context, int, *outbound.Delivery) outbound.Outcome {
	g.mu.Lock()
	g.cur++
	g.peak = max(g.peak, g.cur)
	g.mu.Unlock()
	<-g.open
	g.mu.Lock()
	g.cur--
	g.mu.Unlock()
	return answer(http.StatusOK)
}

// most returns the most calls that were in flight at once.
func (g *holdGate) most() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

// endpoint stores an enabled endpoint of the rig's app, subscribed to
// every event type.
func (r *engineRig) endpoint(mod func(*herald.Endpoint)) *herald.Endpoint {
	r.t.Helper()
	now := time.Now()
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: r.app.ID, URL: "https://receiver.example/hook",
		EventTypes: []string{}, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if mod != nil {
		mod(ep)
	}
	if err := r.db.EndpointCreate(context.Background(), ep); err != nil {
		r.t.Fatal(err)
	}
	return ep
}

// change saves new settings of an endpoint and tells the engine, as the
// API does.
func (r *engineRig) change(ep *herald.Endpoint, mod func(*herald.Endpoint)) {
	r.t.Helper()
	mod(ep)
	ep.UpdatedAt = time.Now()
	if err := r.db.EndpointUpdate(context.Background(), ep); err != nil {
		r.t.Fatal(err)
	}
	c := *ep
	r.e.EndpointChanged(&c)
}

// enqueue accepts n events and returns their ids.
func (r *engineRig) enqueue(n int) []string {
	r.t.Helper()
	var ids []string
	for range n {
		res, err := r.e.Enqueue(context.Background(), &herald.Event{AppID: r.app.ID, EventType: "lead.created", Payload: herald.RawJSON(`{}`)})
		if err != nil || res.Err != nil {
			r.t.Fatalf("enqueue: %v %v", err, res.Err)
		}
		ids = append(ids, res.Event.ID)
	}
	return ids
}

// deliveries returns the deliveries of the rig's app (of one event when
// event is set), with their attempts.
func (r *engineRig) deliveries(event string) []*herald.Delivery {
	r.t.Helper()
	ds, err := r.db.DeliveryList(context.Background(), store.DeliveryListParams{AppID: r.app.ID, EventID: event, WithAttempts: true,
		ListParams: store.ListParams{Limit: store.MaxListLimit}})
	if err != nil {
		r.t.Fatal(err)
	}
	return ds
}

// delivery returns the one delivery of an event.
func (r *engineRig) delivery(event string) *herald.Delivery {
	r.t.Helper()
	ds := r.deliveries(event)
	if len(ds) != 1 {
		r.t.Fatalf("event %s has %d deliveries, want 1", event, len(ds))
	}
	return ds[0]
}

// claimable returns how many deliveries another node can claim now: due,
// pending, leased to no one. It claims them.
func (r *engineRig) claimable() int {
	r.t.Helper()
	now := time.Now()
	jobs, err := r.db.DeliveriesClaim(context.Background(), store.ClaimParams{Owner: "node-other", Now: now, LeaseUntil: now.Add(time.Minute), Limit: 100})
	if err != nil {
		r.t.Fatal(err)
	}
	return len(jobs)
}

// sent returns the calls made so far.
func (r *engineRig) sent() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// times returns when the calls were made.
func (r *engineRig) times() []time.Duration {
	var out []time.Duration
	for _, c := range r.sent() {
		out = append(out, c.at)
	}
	return out
}

// A delivery is tried again exactly when its schedule (or its receiver's
// Retry-After) says, never in between, and ends when the schedule does.
func TestEngineRetryClock(t *testing.T) {
	t.Parallel()
	s, m, h := time.Second, time.Minute, time.Hour
	for _, c := range []struct {
		name     string
		schedule []time.Duration
		answer   answerFunc
		at       []time.Duration
		status   herald.DeliveryStatus
	}{
		{"503 until the schedule runs out", []time.Duration{s, m, 10 * m}, always(http.StatusServiceUnavailable),
			[]time.Duration{0, s, s + m, s + 11*m}, herald.StatusFailed},
		{"400 is final", []time.Duration{s, s}, always(http.StatusBadRequest),
			[]time.Duration{0}, herald.StatusFailed},
		{"no schedule, no retry", nil, always(http.StatusServiceUnavailable),
			[]time.Duration{0}, herald.StatusFailed},
		{"Retry-After on 503 and 429, capped; not on 500", []time.Duration{10 * m, 20 * m, 40 * m}, script(
			answer(http.StatusServiceUnavailable, 30*s),
			answer(http.StatusTooManyRequests, 5*h), // capped at MaxRetryAfter, 1 h
			answer(http.StatusInternalServerError, s),
		), []time.Duration{0, 30 * s, 30*s + h, 30*s + h + 40*m}, herald.StatusSucceeded},
		{"timeout, then success", []time.Duration{5 * s}, script(outbound.Outcome{Kind: herald.ErrorKindTimeout, Error: "timeout"}),
			[]time.Duration{0, 5 * s}, herald.StatusSucceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := startEngine(t, Options{Retry: RetryPolicy{Schedule: c.schedule, MaxRetryAfter: h}}, c.answer)
				r.endpoint(nil)
				ev := r.enqueue(1)[0]
				// A day: far past the last retry of any case.
				time.Sleep(24 * h)
				if got := r.times(); !slices.Equal(got, c.at) {
					t.Fatalf("sent at %v, want %v", got, c.at)
				}
				d := r.delivery(ev)
				if d.Status != c.status || d.AttemptCount != len(c.at) || len(d.Attempts) != len(c.at) {
					t.Fatalf("delivery %s with %d attempts (%d listed), want %s with %d", d.Status, d.AttemptCount, len(d.Attempts), c.status, len(c.at))
				}
				if d.NextAttemptAt != nil {
					t.Fatalf("%s delivery still has a next attempt at %v", d.Status, d.NextAttemptAt)
				}
				for i, a := range d.Attempts {
					if a.Number != i+1 || !a.CreatedAt.Equal(r.t0.Add(c.at[i])) {
						t.Errorf("attempt %d: number %d at %v, want at %v", i+1, a.Number, a.CreatedAt.Sub(r.t0), c.at[i])
					}
				}
			})
		})
	}
}

// A disabled endpoint gets nothing, however long it stays disabled, and
// its deliveries go out as soon as it is enabled again: retries waiting in
// the store, and deliveries that were queued in memory behind its cap.
func TestEngineDisabledEndpointWaits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		r := startEngine(t, Options{Retry: RetryPolicy{Schedule: []time.Duration{time.Second, time.Second}}},
			func(_ context.Context, n int, _ *outbound.Delivery) outbound.Outcome {
				switch n {
				case 1:
					return answer(http.StatusInternalServerError)
				case 2:
					<-gate
				}
				return answer(http.StatusOK)
			})
		ep := r.endpoint(func(ep *herald.Endpoint) { ep.MaxInFlight = 1 })
		first := r.enqueue(1)[0]
		synctest.Wait()
		// The first delivery failed and waits for its retry in the store;
		// three more come, one in flight (held at the gate), two queued.
		queued := r.enqueue(3)
		synctest.Wait()
		r.change(ep, func(ep *herald.Endpoint) { ep.Enabled = false })
		close(gate)
		time.Sleep(24 * time.Hour)
		if got := r.times(); !slices.Equal(got, []time.Duration{0, 0}) {
			t.Fatalf("sent at %v while disabled; want only the two calls made before", got)
		}
		if d := r.delivery(first); d.Status != herald.StatusPending || d.AttemptCount != 1 {
			t.Fatalf("the retry waiting while disabled: %s with %d attempts", d.Status, d.AttemptCount)
		}
		enabledAt := time.Since(r.t0)
		r.change(ep, func(ep *herald.Endpoint) { ep.Enabled = true })
		synctest.Wait()
		calls := r.sent()
		if len(calls) != 5 {
			t.Fatalf("%d calls after enabling, want 5", len(calls))
		}
		for _, c := range calls[2:] {
			if c.at != enabledAt {
				t.Errorf("%s sent at %v, want at once when enabled (%v)", c.delivery, c.at, enabledAt)
			}
		}
		for _, ev := range append([]string{first}, queued...) {
			if d := r.delivery(ev); d.Status != herald.StatusSucceeded {
				t.Errorf("event %s: %s with %d attempts", ev, d.Status, d.AttemptCount)
			}
		}
	})
}

// At its deadline, Shutdown aborts the requests in flight; they and the
// deliveries still queued are given back unattempted, free for another
// node to claim at once.
func TestEngineShutdownAbortsAtDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{Workers: 2}, func(ctx context.Context, _ int, _ *outbound.Delivery) outbound.Outcome {
			<-ctx.Done() // a receiver that never answers
			return outbound.Outcome{Aborted: true}
		})
		r.endpoint(nil)
		r.enqueue(5)
		synctest.Wait()
		if n := len(r.sent()); n != 2 {
			t.Fatalf("%d requests in flight, want 2 (the workers)", n)
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v, want the deadline's error", err)
		}
		if took := time.Since(start); took != 10*time.Second {
			t.Fatalf("Shutdown took %v, want the 10 s deadline", took)
		}
		for _, d := range r.deliveries("") {
			if d.Status != herald.StatusPending || d.AttemptCount != 0 {
				t.Errorf("delivery %s: %s with %d attempts, want pending with none", d.ID, d.Status, d.AttemptCount)
			}
		}
		if n := r.claimable(); n != 5 {
			t.Fatalf("another node claims %d of 5: leases were kept", n)
		}
	})
}

// Before its deadline, Shutdown lets the requests in flight finish and
// records them; what is still queued is given back unattempted.
func TestEngineShutdownFinishesInFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		r := startEngine(t, Options{Workers: 2}, func(context.Context, int, *outbound.Delivery) outbound.Outcome {
			<-gate
			return answer(http.StatusOK)
		})
		r.endpoint(nil)
		r.enqueue(5)
		synctest.Wait()
		done := make(chan error)
		go func() { done <- r.e.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned (%v) with requests in flight", err)
		default:
		}
		time.Sleep(3 * time.Second)
		close(gate)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		byStatus := map[herald.DeliveryStatus]int{}
		for _, d := range r.deliveries("") {
			byStatus[d.Status]++
			if d.Status == herald.StatusSucceeded && (d.AttemptCount != 1 || !d.Attempts[0].CreatedAt.Equal(r.t0)) {
				t.Errorf("finished delivery %s: %d attempts, first at %v", d.ID, d.AttemptCount, d.Attempts[0].CreatedAt.Sub(r.t0))
			}
		}
		if byStatus[herald.StatusSucceeded] != 2 || byStatus[herald.StatusPending] != 3 {
			t.Fatalf("deliveries by status %v, want the 2 in flight recorded and 3 given back", byStatus)
		}
		if n := r.claimable(); n != 3 {
			t.Fatalf("another node claims %d of the 3 given back", n)
		}
	})
}

// A rate limit spaces the requests to an endpoint exactly, and is shared
// with the other live nodes.
func TestEngineRateLimit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		nodes int
		every time.Duration
	}{
		{"one node", 1, 200 * time.Millisecond},
		{"two nodes", 2, 400 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := startEngine(t, Options{}, always(http.StatusOK))
				r.endpoint(func(ep *herald.Endpoint) { ep.RateLimit = 5 })
				heartbeat(t, r, c.nodes)
				start := time.Since(r.t0)
				r.enqueue(6)
				time.Sleep(time.Minute)
				var want []time.Duration
				for i := range 6 {
					want = append(want, start+time.Duration(i)*c.every)
				}
				if got := r.times(); !slices.Equal(got, want) {
					t.Fatalf("sent at %v, want %v", got, want)
				}
			})
		})
	}
}

// heartbeat makes the engine see n live nodes: itself and n-1 others that
// share the store.
func heartbeat(t *testing.T, r *engineRig, n int) {
	t.Helper()
	if n == 1 {
		return
	}
	for i := range n - 1 {
		if _, err := r.db.NodeHeartbeat(context.Background(), fmt.Sprintf("node-other-%d", i), time.Now(), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// The engine's next heartbeat counts them and reshares its limits.
	time.Sleep(r.e.o.HeartbeatInterval)
	synctest.Wait()
	if got := r.e.nodes.Load(); got != int64(n) {
		t.Fatalf("engine sees %d nodes, want %d", got, n)
	}
}

// An endpoint's in-flight cap is shared between the live nodes.
func TestEngineInFlightShare(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ nodes, want int }{{1, 4}, {2, 2}, {3, 2}} {
		t.Run(fmt.Sprintf("%d nodes", c.nodes), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				gate := newHoldGate()
				r := startEngine(t, Options{Workers: 8, InitialWindow: 64}, gate.answer)
				r.endpoint(func(ep *herald.Endpoint) { ep.MaxInFlight = 4 })
				heartbeat(t, r, c.nodes)
				r.enqueue(10)
				synctest.Wait()
				if n := len(r.sent()); n != c.want {
					t.Fatalf("%d nodes: %d requests in flight, want %d of the cap of 4", c.nodes, n, c.want)
				}
				close(gate.open)
				synctest.Wait()
				if n := len(r.sent()); n != 10 || gate.most() != c.want {
					t.Fatalf("%d nodes: %d sent of 10, at most %d at once (want %d)", c.nodes, n, gate.most(), c.want)
				}
			})
		})
	}
}

// A node that joins later shrinks the share of an endpoint already
// sending: requests in flight finish, and no new one goes out until the
// endpoint is below its new share.
func TestEngineInFlightShareFollowsNodes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tokens := make(chan struct{})
		var mu sync.Mutex
		cur := 0
		// The first requests are held while the heartbeat comes: a
		// heartbeat a second, and workers enough for the worker time
		// they then hold, so that the node share alone limits them.
		r := startEngine(t, Options{Workers: 64, InitialWindow: 64, HeartbeatInterval: time.Second}, func(context.Context, int, *outbound.Delivery) outbound.Outcome {
			mu.Lock()
			cur++
			mu.Unlock()
			<-tokens // answered when the test says
			mu.Lock()
			cur--
			mu.Unlock()
			return answer(http.StatusOK)
		})
		inFlight := func() int {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			return cur
		}
		r.endpoint(func(ep *herald.Endpoint) { ep.MaxInFlight = 4 })
		r.enqueue(8)
		if n := inFlight(); n != 4 {
			t.Fatalf("%d in flight alone, want the cap of 4", n)
		}
		heartbeat(t, r, 2)
		// Four in flight, share now 2: two must end before one starts.
		for i, want := range []int{3, 2, 2, 2, 2, 2, 1, 0} {
			tokens <- struct{}{}
			if n := inFlight(); n != want {
				t.Fatalf("after %d answers: %d in flight, want %d", i+1, n, want)
			}
		}
		if n := len(r.sent()); n != 8 {
			t.Fatalf("%d sent of 8", n)
		}
	})
}

// Deliveries beyond an endpoint's room in memory wait in the store and
// are brought in as its queue drains, without waiting for the poll;
// memory never holds more than the endpoint's room.
func TestEngineRefillsFromStore(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var r *engineRig
		var mu sync.Mutex
		held := 0
		// QueueTotal under 100 leaves general claims no room, so only the
		// endpoint's own refills can bring its deliveries in.
		r = startEngine(t, Options{QueuePerEndpoint: 4, QueueTotal: 50}, func(context.Context, int, *outbound.Delivery) outbound.Outcome {
			<-gate
			_, room := r.e.budget.room("")
			mu.Lock()
			held = max(held, 50-room)
			mu.Unlock()
			return answer(http.StatusOK)
		})
		ep := r.endpoint(nil)
		evs := r.enqueue(30)
		if r.e.budget.spillGen(ep.ID) == 0 {
			t.Fatal("nothing was left in the store")
		}
		close(gate)
		synctest.Wait()
		calls := r.sent()
		seen := map[string]int{}
		for _, c := range calls {
			seen[c.delivery]++
			if c.at != 0 {
				t.Fatalf("%s sent at %v; a refill should have brought it in at once", c.delivery, c.at)
			}
		}
		if len(calls) != 30 || len(seen) != 30 {
			t.Fatalf("%d calls for %d deliveries, want 30 for 30", len(calls), len(seen))
		}
		if held > 4 {
			t.Fatalf("memory held %d deliveries of the endpoint, room is 4", held)
		}
		for _, ev := range evs {
			if d := r.delivery(ev); d.Status != herald.StatusSucceeded || d.AttemptCount != 1 {
				t.Errorf("event %s: %s with %d attempts", ev, d.Status, d.AttemptCount)
			}
		}
		if per, total := r.e.budget.room(ep.ID); per != 4 || total != 50 {
			t.Fatalf("room after all was sent: %d, %d; want all of it back", per, total)
		}
	})
}

// An API-only node stores events and their deliveries and sends nothing,
// however long it runs; the deliveries are left unleased, for the worker
// nodes to claim at once.
func TestEngineNoDeliveryNode(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{NoDelivery: true}, always(http.StatusOK))
		r.endpoint(nil)
		r.endpoint(nil)
		r.enqueue(3)
		time.Sleep(24 * time.Hour)
		if n := len(r.sent()); n != 0 {
			t.Fatalf("the API-only node sent %d requests", n)
		}
		if n := r.claimable(); n != 6 {
			t.Fatalf("a worker node claims %d of 6 deliveries", n)
		}
	})
}

// slowRelease is a store whose DeliveriesRelease takes a second of fake
// time, so that a release still running can be seen.
type slowRelease struct {
	*sqlite.DB
	mu       sync.Mutex
	running  int
	released []string
}

func (s *slowRelease) DeliveriesRelease(ctx context.Context, owner string, ids []string) error {
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	time.Sleep(time.Second)
	err := s.DB.DeliveriesRelease(ctx, owner, ids)
	s.mu.Lock()
	s.running--
	if err == nil {
		s.released = append(s.released, ids...)
	}
	s.mu.Unlock()
	return err
}

// Deliveries given back while the engine runs (their endpoint was
// disabled) are released before Shutdown returns: after it, the caller
// closes the store, and a release still running would fail and leave the
// leases to expire.
func TestEngineShutdownWaitsForReleases(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var st *slowRelease
		gate := make(chan struct{})
		r := startEngineOn(t, func(db *sqlite.DB) Store { st = &slowRelease{DB: db}; return st }, Options{},
			func(context.Context, int, *outbound.Delivery) outbound.Outcome {
				<-gate
				return answer(http.StatusOK)
			})
		ep := r.endpoint(func(ep *herald.Endpoint) { ep.MaxInFlight = 1 })
		r.enqueue(3)
		synctest.Wait()
		// One in flight, two queued: disabling gives the two back.
		r.change(ep, func(ep *herald.Endpoint) { ep.Enabled = false })
		synctest.Wait()
		close(gate)
		if err := r.e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.running != 0 || len(st.released) != 2 {
			t.Fatalf("Shutdown returned with %d releases running and %d deliveries released, want 0 and 2", st.running, len(st.released))
		}
	})
}

// An event handed to the committer gets a verdict even when the committer
// stops without it: Enqueue returns ErrStopped instead of waiting for
// ever. (The committer drains what it was given before it stops; an event
// that slips in after the drain, as one emitted while Shutdown runs can,
// reaches the same state as one handed to an engine never started.)
func TestEnqueueAfterCommitterStopped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := New(nil, nil, Options{})
		errc := make(chan error, 1)
		go func() {
			_, err := e.Enqueue(context.Background(), &herald.Event{AppID: "app", EventType: "x"})
			errc <- err
		}()
		synctest.Wait() // handed over; nothing will commit it
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case err := <-errc:
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("Enqueue: %v, want ErrStopped", err)
			}
		default:
			t.Fatal("Enqueue still waits for a committer that has stopped")
		}
	})
}

// countHealth counts the engine's health-tracking calls.
type countHealth struct {
	*sqlite.DB
	mu    sync.Mutex
	calls []store.HealthParams
}

func (c *countHealth) EndpointsTrackHealth(ctx context.Context, p store.HealthParams) ([]*herald.Endpoint, error) {
	c.mu.Lock()
	c.calls = append(c.calls, p)
	c.mu.Unlock()
	return c.DB.EndpointsTrackHealth(ctx, p)
}

func (c *countHealth) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// A success of an endpoint whose health record this node just left clean
// is not written again for a second; a failure always is, and the next
// success after it too.
func TestEngineSkipsCleanHealth(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var st *countHealth
		var fail atomic.Bool
		r := startEngineOn(t, func(db *sqlite.DB) Store { st = &countHealth{DB: db}; return st },
			Options{AutoDisableAfter: time.Hour, AutoDisableMinFailures: 3},
			func(context.Context, int, *outbound.Delivery) outbound.Outcome {
				if fail.Load() {
					return answer(http.StatusInternalServerError)
				}
				return answer(http.StatusOK)
			})
		r.endpoint(nil)
		step := func(want int, what string) {
			t.Helper()
			r.enqueue(1)
			synctest.Wait()
			if got := st.count(); got != want {
				t.Fatalf("%s: %d health calls, want %d", what, got, want)
			}
		}
		step(1, "first success")
		step(1, "second success at once")
		step(1, "third success at once")
		time.Sleep(cleanFor)
		step(2, "success a second later")
		fail.Store(true)
		step(3, "failure")
		fail.Store(false)
		step(4, "success after a failure")
		step(4, "success after that")
	})
}
