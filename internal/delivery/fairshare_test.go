package delivery

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
)

// slowApp answers the rig's app after delay, every other app at once,
// and counts the rig's app's requests in flight.
type slowApp struct {
	app       string
	delay     time.Duration
	mu        sync.Mutex
	cur, peak int
}

func (s *slowApp) answer(ctx context.Context, _ int, d *outbound.Delivery) outbound.Outcome {
	if d.Endpoint.AppID != s.app {
		return answer(http.StatusOK)
	}
	s.mu.Lock()
	s.cur++
	s.peak = max(s.peak, s.cur)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cur--
		s.mu.Unlock()
	}()
	select {
	case <-time.After(s.delay):
		return answer(http.StatusOK)
	case <-ctx.Done():
		return outbound.Outcome{Aborted: true}
	}
}

func (s *slowApp) most() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// startSlowApp starts an engine of 8 workers whose app has six endpoints
// answering after 10 s; other apps' endpoints answer at once.
func startSlowApp(t *testing.T) (*engineRig, *slowApp) {
	slow := &slowApp{delay: 10 * time.Second}
	r := startEngine(t, Options{Workers: 8}, slow.answer)
	slow.app = r.app.ID
	for range 6 {
		r.endpoint(nil)
	}
	return r, slow
}

// otherApp stores a second app with one endpoint, subscribed to every
// event type.
func (r *engineRig) otherApp(uid string) (*herald.App, *herald.Endpoint) {
	r.t.Helper()
	now := time.Now()
	a := &herald.App{ID: herald.NewID(herald.PrefixApp), UID: uid, Name: uid, CreatedAt: now, UpdatedAt: now}
	if err := r.db.AppCreate(context.Background(), a); err != nil {
		r.t.Fatal(err)
	}
	ep := r.endpoint(func(ep *herald.Endpoint) { ep.AppID = a.ID })
	return a, ep
}

// enqueueFor accepts one event of app and returns its id.
func (r *engineRig) enqueueFor(app string) string {
	r.t.Helper()
	res, err := r.e.Enqueue(context.Background(), &herald.Event{AppID: app, EventType: "lead.created", Payload: herald.RawJSON(`{}`)})
	if err != nil || res.Err != nil {
		r.t.Fatalf("enqueue: %v %v", err, res.Err)
	}
	return res.Event.ID
}

// An app whose receivers answer 200 after 10 s, with a backlog for six
// endpoints, holds at most its share of the workers (half of 8) while
// another app sends now and then: each of the other app's deliveries goes
// out the moment it is accepted, for a minute, though the slow app never
// stops wanting more.
func TestEngineSlowAppHoldsItsShare(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r, slow := startSlowApp(t)
		b, bEP := r.otherApp("quiet")
		// B's first event, before A's backlog: it is the one other app.
		r.enqueueFor(b.ID)
		synctest.Wait()
		r.enqueue(50) // 300 deliveries of 10 s each
		synctest.Wait()
		var want []time.Duration
		for range 60 {
			time.Sleep(time.Second)
			want = append(want, time.Since(r.t0))
			r.enqueueFor(b.ID)
			synctest.Wait()
		}
		var got []time.Duration
		for _, c := range r.sent() {
			if c.endpoint == bEP.ID {
				got = append(got, c.at)
			}
		}
		if len(got) != 61 {
			t.Fatalf("B's endpoint got %d requests, want 61", len(got))
		}
		for i, at := range got[1:] {
			if at != want[i] {
				t.Fatalf("B's delivery %d went out at %v, accepted at %v: it waited for a worker", i+2, at, want[i])
			}
		}
		if n := slow.most(); n != 4 {
			t.Fatalf("the slow app had at most %d requests in flight, want its share of 4 of 8 workers", n)
		}
	})
}

// Alone, the same app may use every worker.
func TestEngineSlowAppAloneUsesAllWorkers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r, slow := startSlowApp(t)
		r.enqueue(10)
		synctest.Wait()
		if n := slow.most(); n != 8 {
			t.Fatalf("the only app had at most %d requests in flight, want all 8 workers", n)
		}
	})
}

// Test sends and resends go through the workers: they wait for their
// endpoint's slot (here one at a time) and take it ahead of its queued
// deliveries; an app has at most MaxManualPerApp of each kind in flight
// or waiting, beyond which they are refused at once, sending nothing; a
// caller that leaves while waiting frees its place.
func TestEngineManualSendsWaitForTheirTurn(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tokens, end := make(chan struct{}), make(chan struct{})
		r := startEngine(t, Options{Workers: 4}, func(ctx context.Context, _ int, _ *outbound.Delivery) outbound.Outcome {
			select {
			case <-tokens:
				return answer(http.StatusOK)
			case <-end:
				return answer(http.StatusOK)
			case <-ctx.Done():
				return outbound.Outcome{Aborted: true}
			}
		})
		// Before the engine's shutdown, also when the test fails midway.
		t.Cleanup(func() { close(end) })
		ep := r.endpoint(func(ep *herald.Endpoint) { ep.MaxInFlight = 1 })
		r.enqueue(3)
		synctest.Wait()
		regular := map[string]bool{}
		for _, d := range r.deliveries("") {
			regular[d.ID] = true
		}

		type result struct {
			d   *herald.Delivery
			err error
		}
		results := make(chan result, 2*MaxManualPerApp)
		testSend := func(ctx context.Context) {
			d, err := r.e.TestSend(ctx, ep, &herald.Event{EventType: "lead.created", Payload: herald.RawJSON(`{}`)})
			results <- result{d, err}
		}
		leaving, leave := context.WithCancel(context.Background())
		go testSend(leaving)
		for range MaxManualPerApp {
			go testSend(context.Background())
		}
		synctest.Wait()
		var busy *BusyError
		select {
		case res := <-results:
			if !errors.As(res.err, &busy) || busy.Limit != MaxManualPerApp {
				t.Fatalf("the test send past %d: %v, want a BusyError at once", MaxManualPerApp, res.err)
			}
		default:
			t.Fatal("every test send waits; the one past the bound must be refused at once")
		}
		if n := len(r.sent()); n != 1 {
			t.Fatalf("%d requests made; the test sends must wait for the endpoint's one slot", n)
		}
		// A resend is another kind: it is taken.
		j, err := r.db.DeliveryJob(context.Background(), r.app.ID, r.sent()[0].delivery)
		if err != nil {
			t.Fatal(err)
		}
		resent := make(chan error, 1)
		go func() { _, err := r.e.Resend(context.Background(), j); resent <- err }()
		// A caller leaving frees its place for another.
		leave()
		synctest.Wait()
		if res := <-results; !errors.Is(res.err, ErrAborted) {
			t.Fatalf("the caller that left: %v, want ErrAborted", res.err)
		}
		go testSend(context.Background())
		synctest.Wait()
		select {
		case res := <-results:
			t.Fatalf("a test send after a caller left: %v; its place was free", res.err)
		default:
		}

		// One answer at a time: the 8 test sends and the resend first,
		// then the 2 queued deliveries.
		for range 11 {
			tokens <- struct{}{}
			synctest.Wait()
		}
		calls := r.sent()
		if len(calls) != 12 {
			t.Fatalf("%d requests, want 12", len(calls))
		}
		for i, c := range calls {
			if manual := i >= 1 && i <= 9; manual == regular[c.delivery] && c.delivery != j.Delivery.ID {
				t.Errorf("request %d was %s (a queued delivery: %v); want the manual sends right after the first", i+1, c.delivery, regular[c.delivery])
			}
		}
		for range MaxManualPerApp {
			if res := <-results; res.err != nil || res.d.Status != herald.StatusSucceeded {
				t.Fatalf("test send: %v", res.err)
			}
		}
		if err := <-resent; err != nil {
			t.Fatalf("resend: %v", err)
		}
	})
}

// A test send to an engine not started, or already shut down, answers
// ErrStopped at once instead of waiting for workers that will never come.
func TestEngineManualSendStopped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := startEngine(t, Options{}, always(http.StatusOK))
		ep := r.endpoint(nil)
		ev := func() *herald.Event { return &herald.Event{EventType: "lead.created", Payload: herald.RawJSON(`{}`)} }
		if _, err := New(r.db, nil, Options{}).TestSend(context.Background(), ep, ev()); !errors.Is(err, ErrStopped) {
			t.Fatalf("an engine never started: %v, want ErrStopped", err)
		}
		if err := r.e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Several: a send racing the engine's end must not slip into a
		// queue no one reads, however the race goes.
		for range 10 {
			if _, err := r.e.TestSend(context.Background(), ep, ev()); !errors.Is(err, ErrStopped) {
				t.Fatalf("after Shutdown: %v, want ErrStopped", err)
			}
		}
		if len(r.sent()) != 0 {
			t.Fatalf("%d requests sent", len(r.sent()))
		}
	})
}
