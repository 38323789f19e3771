package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/store"
)

// Pull endpoints: Herald never dials them. A client long-polls for their
// due deliveries (Pull), each handed out as the signed request a send
// would have made and leased to store.PullOwner for its visibility, and
// acknowledges each with its receiver's answer (Ack), which is recorded
// like the outcome of a send: retries, auto-disable, health and stats
// follow. A handout is not an attempt: a client that vanishes costs a
// delivery its visibility, not one of its retries, since nothing says a
// receiver was ever tried. An unacknowledged delivery is handed out
// again once its visibility ends, also after a restart (the lease is in
// the store).

// Handouts builds the requests of pull endpoints without sending them;
// the engine's Outbound implements it when it can (*outbound.HTTP does).
type Handouts interface {
	Handout(ctx context.Context, d *outbound.Delivery) (sent, recorded herald.AttemptRequest, err error)
}

// Limits of what a pull client can make a node hold.
const (
	// MaxPullsPerEndpoint and MaxPullsPerApp bound the pulls a node
	// holds open at once (each a waiting request), per endpoint and per
	// app; one more gets a *BusyError.
	MaxPullsPerEndpoint = 4
	MaxPullsPerApp      = 32
	// MaxPullLimit bounds the deliveries one pull hands out, and
	// MaxAckResults the results one acknowledgement carries.
	MaxPullLimit  = 100
	MaxAckResults = 100
)

// PullParams shape one pull.
type PullParams struct {
	// Wait is how long to wait for a due delivery when none is; 0
	// answers at once.
	Wait time.Duration
	// Visibility is how long a delivery handed out is kept from other
	// pulls, waiting for its acknowledgement.
	Visibility time.Duration
	// Limit caps the deliveries handed out (at most MaxPullLimit).
	Limit int
}

// Handout is one delivery handed out to a pull client.
type Handout struct {
	DeliveryID string `json:"delivery_id"`
	// Request is the request Herald would have sent: method, URL (empty
	// for an endpoint without one), headers with the signature, and the
	// exact body.
	Request herald.AttemptRequest `json:"request"`
}

// AckResult is what a pull client's receiver made of one delivery.
type AckResult struct {
	DeliveryID string
	// StatusCode is the receiver's answer; 0 when none came, and then
	// Error says why.
	StatusCode int
	Body       string
	// BodyTruncated says the client cut Body short.
	BodyTruncated bool
	Error         string
	// Latency is how long the receiver took, as the client measured it.
	Latency time.Duration
}

// Ack outcomes (AckOutcome.Result).
const (
	AckRecorded     = "recorded"       // stored as an attempt
	AckNotFound     = "not_found"      // no such delivery of this endpoint
	AckNotHandedOut = "not_handed_out" // not out with a client: never handed out, or acknowledged already
)

// AckOutcome tells what became of one AckResult.
type AckOutcome struct {
	DeliveryID string `json:"delivery_id"`
	Result     string `json:"result"`
	// Status and NextAttemptAt are the delivery's, once recorded.
	Status        herald.DeliveryStatus `json:"status,omitempty"`
	NextAttemptAt *time.Time            `json:"next_attempt_at,omitempty"`
	// Attempt is the attempt recorded.
	Attempt *herald.Attempt `json:"attempt,omitempty"`
}

// pulls counts the open pulls per endpoint and app, and wakes those
// waiting on an endpoint when it may have new deliveries.
type pulls struct {
	mu     sync.Mutex
	perEp  map[string]int
	perApp map[string]int
	// wake holds, per endpoint with pulls waiting, a channel closed when
	// it may have new deliveries.
	wake map[string]chan struct{}
}

// take counts one more pull open, or says which limit refuses it.
func (p *pulls) take(app, ep string) *BusyError {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perEp == nil {
		p.perEp, p.perApp, p.wake = map[string]int{}, map[string]int{}, map[string]chan struct{}{}
	}
	if p.perEp[ep] >= MaxPullsPerEndpoint {
		return &BusyError{What: "pulls of this endpoint", Limit: MaxPullsPerEndpoint}
	}
	if p.perApp[app] >= MaxPullsPerApp {
		return &BusyError{What: "pulls", Limit: MaxPullsPerApp}
	}
	p.perEp[ep]++
	p.perApp[app]++
	return nil
}

func (p *pulls) give(app, ep string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perEp[ep]--; p.perEp[ep] <= 0 {
		delete(p.perEp, ep)
		delete(p.wake, ep)
	}
	if p.perApp[app]--; p.perApp[app] <= 0 {
		delete(p.perApp, app)
	}
}

// watch returns a channel closed at the endpoint's next notify.
func (p *pulls) watch(ep string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.wake[ep]
	if !ok {
		ch = make(chan struct{})
		p.wake[ep] = ch
	}
	return ch
}

// notify wakes the pulls waiting on the endpoints.
func (p *pulls) notify(eps ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ep := range eps {
		if ch, ok := p.wake[ep]; ok {
			close(ch)
			delete(p.wake, ep)
		}
	}
}

// notifyAll wakes every waiting pull: another node may have made
// deliveries due.
func (p *pulls) notifyAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for ep, ch := range p.wake {
		close(ch)
		delete(p.wake, ep)
	}
}

// PullsOpen returns how many pulls of the endpoint this node holds open.
func (e *Engine) PullsOpen(endpointID string) int {
	e.pulls.mu.Lock()
	defer e.pulls.mu.Unlock()
	return e.pulls.perEp[endpointID]
}

// Pull hands out up to p.Limit due deliveries of a pull endpoint, waiting
// up to p.Wait for one when none is due, and returns an empty list when
// none came. Each is leased to the pull clients until p.Visibility from
// now. Past MaxPullsPerEndpoint or MaxPullsPerApp pulls open on this
// node it returns a *BusyError at once. A delivery whose request cannot
// be built (a strict template met a missing value) is not handed out: it
// fails as a send would, recorded with its error.
func (e *Engine) Pull(ctx context.Context, ep *herald.Endpoint, p PullParams) ([]Handout, error) {
	if !ep.IsPull() {
		return nil, errors.New("not a pull endpoint")
	}
	h, ok := e.out.(Handouts)
	if !ok {
		return nil, errors.New("the outbound layer cannot build requests for pull endpoints")
	}
	if be := e.pulls.take(ep.AppID, ep.ID); be != nil {
		return nil, be
	}
	defer e.pulls.give(ep.AppID, ep.ID)
	limit := min(max(p.Limit, 1), MaxPullLimit)
	deadline := e.clock.Now().Add(p.Wait)
	for {
		wake := e.pulls.watch(ep.ID)
		now := e.clock.Now()
		jobs, err := e.st.DeliveriesPull(ctx, store.PullParams{
			AppID: ep.AppID, EndpointID: ep.ID, Now: now, Until: now.Add(p.Visibility), Limit: limit,
		})
		if err != nil {
			return nil, err
		}
		if out := e.handouts(ctx, h, jobs); len(out) > 0 {
			return out, nil
		}
		left := deadline.Sub(e.clock.Now())
		if left <= 0 {
			return []Handout{}, nil
		}
		// New deliveries of this node wake the pull at once; retries
		// coming due and another node's deliveries are found by polling.
		t := e.clock.NewTimer(min(left, e.o.PollInterval))
		select {
		case <-wake:
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-e.stopped:
			t.Stop()
			return []Handout{}, nil
		}
		t.Stop()
	}
}

// handouts builds the requests of jobs just leased to the pull clients.
// Those that cannot be built are recorded as failed attempts at once,
// as a send records them.
func (e *Engine) handouts(ctx context.Context, h Handouts, jobs []*store.Job) []Handout {
	out := make([]Handout, 0, len(jobs))
	var failed []recordItem
	for _, j := range jobs {
		app := e.app(ctx, j.Event.AppID)
		sent, recorded, err := h.Handout(ctx, &outbound.Delivery{ID: j.Delivery.ID, Event: j.Event, Endpoint: j.Endpoint, App: app})
		if err == nil {
			out = append(out, Handout{DeliveryID: j.Delivery.ID, Request: sent})
			continue
		}
		now := e.clock.Now()
		n := j.Delivery.AttemptCount + 1
		a := &herald.Attempt{
			ID: herald.NewID(herald.PrefixAttempt), DeliveryID: j.Delivery.ID, Number: n, CreatedAt: now,
			Trigger: herald.TriggerScheduled, Request: recorded, ErrorKind: outbound.BuildErrorKind(err), Error: err.Error(),
		}
		v := e.policy(j.Endpoint, app).Decide(n, a.ErrorKind, 0, nil, now)
		if errors.Is(err, outbound.ErrCancelled) {
			v = Verdict{Status: herald.StatusCancelled}
		}
		failed = append(failed, recordItem{job: j, res: e.result(j, a, v, now)})
	}
	if len(failed) > 0 {
		e.recordPulled(ctx, failed)
	}
	return out
}

// result is the store's record of an attempt of j and its verdict, fenced
// by the pull clients' lease.
func (e *Engine) result(j *store.Job, a *herald.Attempt, v Verdict, now time.Time) store.AttemptResult {
	r := store.AttemptResult{Attempt: a, Status: v.Status, Now: now, Owner: store.PullOwner, EventPayload: j.Event.Payload}
	if v.Status == herald.StatusPending {
		t := v.NextAttemptAt
		r.NextAttemptAt = &t
	}
	return r
}

// recordPulled records outcomes of pull deliveries through the store and
// then acts on them as on sent ones (410, auto-disable, recovery). It
// returns the ids whose lease the pull clients no longer held (refused).
func (e *Engine) recordPulled(ctx context.Context, items []recordItem) (map[string]bool, error) {
	batch := make([]store.AttemptResult, len(items))
	for i, it := range items {
		batch[i] = it.res
	}
	refused := map[string]bool{}
	err := e.st.DeliveriesRecord(ctx, batch)
	if lost, ok := errors.AsType[*store.LeaseLostError](err); ok {
		for _, id := range lost.DeliveryIDs {
			refused[id] = true
		}
		err = nil
	}
	if err != nil {
		return nil, err
	}
	kept := items[:0:0]
	for _, it := range items {
		if !refused[it.res.Attempt.DeliveryID] {
			kept = append(kept, it)
			e.o.Metrics.Attempt(it.job.Event.AppID, it.job.Endpoint.ID, outcome(it.res.Status), time.Duration(it.res.Attempt.LatencyMS*float64(time.Millisecond)))
		}
	}
	e.afterRecord(ctx, kept)
	return refused, nil
}

// Ack records what a pull client's receiver answered for deliveries of
// ep handed out to it, each as an attempt of its delivery decided as a
// send's would be: a 2xx succeeds, a 429, 5xx or no answer is retried on
// the schedule, any other answer fails. It says per result what became of
// it; results of unknown deliveries, or of deliveries not out with a
// client, change nothing. maxBody caps each response body kept.
func (e *Engine) Ack(ctx context.Context, ep *herald.Endpoint, results []AckResult, maxBody int) ([]AckOutcome, error) {
	h, _ := e.out.(Handouts)
	outs := make([]AckOutcome, len(results))
	var items []recordItem
	at := map[string]int{} // delivery id -> index in outs
	app := e.app(ctx, ep.AppID)
	for i, r := range results {
		outs[i] = AckOutcome{DeliveryID: r.DeliveryID, Result: AckNotFound}
		j, err := e.st.DeliveryJob(ctx, ep.AppID, r.DeliveryID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && j.Delivery.EndpointID != ep.ID) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, dup := at[r.DeliveryID]; dup || j.Delivery.Status != herald.StatusPending {
			outs[i].Result = AckNotHandedOut
			continue
		}
		at[r.DeliveryID] = i
		now := e.clock.Now()
		n := j.Delivery.AttemptCount + 1
		a := &herald.Attempt{
			ID: herald.NewID(herald.PrefixAttempt), DeliveryID: j.Delivery.ID, Number: n, CreatedAt: now,
			Trigger: herald.TriggerScheduled, LatencyMS: float64(r.Latency.Microseconds()) / 1000, Error: r.Error,
		}
		if h != nil {
			// What the client was given, signed anew: the same body.
			_, a.Request, _ = h.Handout(ctx, &outbound.Delivery{ID: j.Delivery.ID, Event: j.Event, Endpoint: j.Endpoint, App: app})
		}
		switch {
		case r.StatusCode == 0:
			a.ErrorKind = herald.ErrorKindNetwork
		case r.StatusCode < 200 || r.StatusCode > 299:
			a.ErrorKind = herald.ErrorKindHTTPStatus
			if a.Error == "" {
				a.Error = fmt.Sprintf("receiver answered %d %s", r.StatusCode, http.StatusText(r.StatusCode))
			}
		}
		if r.StatusCode != 0 {
			body, cut := r.Body, r.BodyTruncated
			if maxBody > 0 && len(body) > maxBody {
				k := maxBody
				for k > 0 && !utf8.RuneStart(body[k]) {
					k--
				}
				body, cut = body[:k], true
			}
			a.Response = &herald.AttemptResponse{StatusCode: r.StatusCode, Headers: map[string]string{}, Body: body, BodyTruncated: cut}
		}
		v := e.policy(j.Endpoint, app).Decide(n, a.ErrorKind, r.StatusCode, nil, now)
		items = append(items, recordItem{job: j, res: e.result(j, a, v, now)})
	}
	if len(items) == 0 {
		return outs, nil
	}
	refused, err := e.recordPulled(ctx, items)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		o := &outs[at[it.res.Attempt.DeliveryID]]
		if refused[o.DeliveryID] {
			o.Result = AckNotHandedOut
			continue
		}
		o.Result, o.Status, o.NextAttemptAt, o.Attempt = AckRecorded, it.res.Status, it.res.NextAttemptAt, it.res.Attempt
	}
	return outs, nil
}

// ResendPulled is a resend of a pull endpoint's delivery: Herald never
// dials the endpoint, so the delivery becomes pending and due now,
// whatever its status, for the next pull (one out with a client is
// handed out again; its late acknowledgement is then not_handed_out). It
// counts in the app's usage like a resend: over the monthly quota it
// returns the store's *store.QuotaError and changes nothing.
func (e *Engine) ResendPulled(ctx context.Context, j *store.Job) error {
	n, err := e.st.DeliveriesRequeue(ctx, j.Delivery.AppID, []string{j.Delivery.ID}, e.clock.Now())
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("delivery %q: %w", j.Delivery.ID, store.ErrNotFound)
	}
	e.pulls.notify(j.Endpoint.ID)
	return nil
}
