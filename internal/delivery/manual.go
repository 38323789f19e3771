package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// ErrAborted is returned when a send made on request was cut short (the
// caller went away, or Herald is shutting down) before an answer came.
var ErrAborted = errors.New("the request was aborted before an answer came")

// MaxManualPerApp bounds, per app and node, the test sends in flight or
// waiting for a worker, and the resends likewise: each holds a caller
// and, once sent, a connection, so a tenant firing thousands at a
// receiver that never answers holds a few.
const MaxManualPerApp = 8

// BusyError is returned, before anything is sent or counted, when an app
// already has MaxManualPerApp manual sends of a kind in flight or waiting.
type BusyError struct {
	// What names the kind: "test sends" or "resends".
	What  string
	Limit int
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("the app already has %d %s in flight or waiting for their turn; try again when one has ended", e.Limit, e.What)
}

// manualReq is a test send or resend waiting for a worker, and then for
// its attempt; done gets exactly one result.
type manualReq struct {
	ctx     context.Context
	job     *store.Job
	trigger string
	done    chan manualResult
}

type manualResult struct {
	res store.AttemptResult
	ok  bool
}

// abort answers a manual send that was never sent.
func (r *manualReq) abort() { r.done <- manualResult{} }

// manualMsg hands the dispatcher a manual send, or withdraws one whose
// caller went away.
type manualMsg struct {
	req    *manualReq
	cancel bool
}

// manualSlots counts the manual sends of each app and kind on this node.
type manualSlots struct {
	mu sync.Mutex
	n  map[[2]string]int
}

func (s *manualSlots) take(app, kind string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[[2]string]int{}
	}
	k := [2]string{app, kind}
	if s.n[k] >= MaxManualPerApp {
		return false
	}
	s.n[k]++
	return true
}

func (s *manualSlots) give(app, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{app, kind}
	if s.n[k]--; s.n[k] <= 0 {
		delete(s.n, k)
	}
}

// manual sends one attempt of j through the workers, as soon as its
// endpoint has a free slot within its in-flight limit and its app within
// its share of the workers, ahead of the endpoint's queued deliveries,
// and waits for it. It returns ErrAborted when the caller went away
// before an answer came, ErrStopped when the engine does not run.
func (e *Engine) manual(ctx context.Context, j *store.Job, trigger string) (store.AttemptResult, error) {
	if !e.started.Load() {
		return store.AttemptResult{}, ErrStopped
	}
	r := &manualReq{ctx: ctx, job: j, trigger: trigger, done: make(chan manualResult, 1)}
	select {
	case e.manualCh <- manualMsg{req: r}:
	case <-ctx.Done():
		return store.AttemptResult{}, ErrAborted
	case <-e.dispDone:
		return store.AttemptResult{}, ErrStopped
	}
	var res manualResult
	select {
	case res = <-r.done:
	case <-ctx.Done():
		// Gone: withdraw it if it still waits. One already sent ends at
		// once, its context being done; either way an answer comes.
		select {
		case e.manualCh <- manualMsg{req: r, cancel: true}:
			res = <-r.done
		case res = <-r.done:
		case <-e.dispDone:
			res = <-r.done
		}
	}
	if !res.ok {
		return store.AttemptResult{}, ErrAborted
	}
	return res.res, nil
}

// TestSend sends one request to the endpoint, built and signed exactly
// like a delivery of ev, and records it in the history flagged as a test.
// It waits for a worker and the endpoint's slot like any delivery, ahead
// of those queued; past MaxManualPerApp test sends of the app in flight
// or waiting it returns a *BusyError at once. It is never retried. The
// event need not be of a subscribed type.
func (e *Engine) TestSend(ctx context.Context, ep *herald.Endpoint, ev *herald.Event) (*herald.Delivery, error) {
	if !e.slots.take(ep.AppID, "test") {
		return nil, &BusyError{What: "test sends", Limit: MaxManualPerApp}
	}
	defer e.slots.give(ep.AppID, "test")
	now := e.clock.Now()
	ev.ID = herald.NewID(herald.PrefixEvent)
	ev.AppID = ep.AppID
	ev.CreatedAt = now
	ev.Routing = &herald.Routing{Matched: []string{ep.ID}, Skipped: []herald.Skip{}}
	d := &herald.Delivery{
		ID: herald.NewID(herald.PrefixDelivery), AppID: ep.AppID, EventID: ev.ID, EndpointID: ep.ID,
		EventType: ev.EventType, Test: true, CreatedAt: now,
	}
	r, err := e.manual(ctx, &store.Job{Delivery: d, Event: ev, Endpoint: ep}, herald.TriggerTest)
	if err != nil {
		return nil, err
	}
	d.Status = herald.StatusFailed
	if r.Status == herald.StatusSucceeded || r.Status == herald.StatusCancelled {
		d.Status = r.Status
	}
	d.AttemptCount = 1
	d.LastError, d.LastErrorKind = r.Attempt.Error, r.Attempt.ErrorKind
	d.UpdatedAt = r.Now
	if err := e.st.TestSendRecord(ctx, ev, d, r.Attempt); err != nil {
		return nil, fmt.Errorf("record test send: %w", err)
	}
	e.signalRecorded()
	d.Attempts = []*herald.Attempt{r.Attempt}
	return d, nil
}

// Resend sends a delivery again, whatever its status, with the same
// webhook-id, and records the attempt. Like a test send it waits for a
// worker and its endpoint's slot, and past MaxManualPerApp resends of the
// app in flight or waiting it returns a *BusyError at once. If it fails
// in a way worth retrying, the delivery goes back on its retry schedule.
// A resend counts once in its app's usage, before anything is sent: over
// the app's monthly quota it returns the store's *store.QuotaError and
// sends nothing. Resends of test deliveries, like test sends, do not
// count.
func (e *Engine) Resend(ctx context.Context, j *store.Job) (*herald.Attempt, error) {
	if !e.slots.take(j.Delivery.AppID, "resend") {
		return nil, &BusyError{What: "resends", Limit: MaxManualPerApp}
	}
	defer e.slots.give(j.Delivery.AppID, "resend")
	if !j.Delivery.Test {
		if err := e.st.UsageCharge(ctx, j.Delivery.AppID, 1, e.clock.Now()); err != nil {
			return nil, err
		}
	}
	r, err := e.manual(ctx, j, herald.TriggerResend)
	if err != nil {
		return nil, err
	}
	// Sent: its record must not fail because the caller went away now.
	e.record(context.WithoutCancel(ctx), []recordItem{{res: r, job: j}})
	return r.Attempt, nil
}

// SendEvents pushes chosen past events to one endpoint now, subscribed or
// not (a manual export). It returns the deliveries created, or, when they
// would pass the app's monthly quota, the store's *store.QuotaError and
// none.
func (e *Engine) SendEvents(ctx context.Context, ep *herald.Endpoint, evs []*herald.Event) ([]*herald.Delivery, error) {
	now := e.clock.Now()
	ds := make([]*herald.Delivery, len(evs))
	for i, ev := range evs {
		next := now
		ds[i] = &herald.Delivery{
			ID: herald.NewID(herald.PrefixDelivery), AppID: ep.AppID, EventID: ev.ID, EndpointID: ep.ID,
			EventType: ev.EventType, Status: herald.StatusPending, NextAttemptAt: &next, CreatedAt: now, UpdatedAt: now,
			Attempts: []*herald.Attempt{},
		}
	}
	if err := e.st.DeliveriesCreate(ctx, ds); err != nil {
		return nil, err
	}
	e.budget.markSpilled(ep.ID)
	e.wakeClaimer()
	e.pulls.notify(ep.ID)
	return ds, nil
}

// RecoverParams choose the deliveries a recovery requeues.
type RecoverParams struct {
	AppID      string
	EndpointID string
	Since      time.Time
	Until      time.Time // zero: now
	Status     herald.DeliveryStatus
	// The Last* filters pick deliveries by their latest attempt, as
	// store.DeliveryListParams does: one cause of failure (a status or
	// class of statuses, or an error kind) rather than all of them.
	LastStatusMin, LastStatusMax int
	LastErrorKind                herald.ErrorKind
}

// Recover starts a background job that requeues every matching delivery
// of the endpoint; its progress is saved on job as it goes. The job
// outlives the call: ctx gives it its values, not its end. Each delivery
// requeued counts in the app's usage: when the monthly quota runs out,
// the job requeues what still fits and stops, failed, with an error
// naming the quota; the deliveries already requeued stay requeued.
func (e *Engine) Recover(ctx context.Context, job *herald.BulkJob, p RecoverParams) {
	ctx = context.WithoutCancel(ctx)
	e.jobs.Add(1)
	go func() {
		defer e.jobs.Done()
		err := e.recover(ctx, job, p)
		job.State = herald.JobSucceeded
		if err != nil {
			job.State, job.Error = herald.JobFailed, err.Error()
		}
		job.UpdatedAt = e.clock.Now()
		if uerr := e.st.BulkJobUpdate(ctx, job); uerr != nil {
			e.log.Error("save job", errAttr(uerr), "job_id", job.ID)
		}
	}()
}

func (e *Engine) recover(ctx context.Context, job *herald.BulkJob, p RecoverParams) error {
	// Collect first, so the total is known while the job runs; requeuing
	// changes the rows a listing by status would see.
	var ids []string
	lp := store.DeliveryListParams{AppID: p.AppID, EndpointID: p.EndpointID, Status: p.Status, Since: p.Since, Until: p.Until,
		LastStatusMin: p.LastStatusMin, LastStatusMax: p.LastStatusMax, LastErrorKind: p.LastErrorKind}
	lp.Limit = store.MaxListLimit
	for {
		if e.isStopping() {
			return errors.New("interrupted by shutdown; run the recovery again")
		}
		page, err := e.st.DeliveryList(ctx, lp)
		if err != nil {
			return fmt.Errorf("list deliveries: %w", err)
		}
		for _, d := range page {
			ids = append(ids, d.ID)
		}
		if len(page) < lp.Limit {
			break
		}
		lp.Cursor = page[len(page)-1].ID
	}
	return e.requeueJob(ctx, job, p.AppID, ids, []string{p.EndpointID})
}

// ResendAll starts a background job that makes the given deliveries of
// the app due again now (a bulk resend of a filtered list); endpointIDs
// are their endpoints, woken once requeued. Progress, quota and the end
// of the job are as for Recover.
func (e *Engine) ResendAll(ctx context.Context, job *herald.BulkJob, appID string, ids, endpointIDs []string) {
	ctx = context.WithoutCancel(ctx)
	e.jobs.Add(1)
	go func() {
		defer e.jobs.Done()
		err := e.requeueJob(ctx, job, appID, ids, endpointIDs)
		job.State = herald.JobSucceeded
		if err != nil {
			job.State, job.Error = herald.JobFailed, err.Error()
		}
		job.UpdatedAt = e.clock.Now()
		if uerr := e.st.BulkJobUpdate(ctx, job); uerr != nil {
			e.log.Error("save job", errAttr(uerr), "job_id", job.ID)
		}
	}()
}

// requeueJob requeues ids in chunks, saving the job's progress after each.
func (e *Engine) requeueJob(ctx context.Context, job *herald.BulkJob, appID string, ids, endpointIDs []string) error {
	job.Total = len(ids)
	job.UpdatedAt = e.clock.Now()
	if err := e.st.BulkJobUpdate(ctx, job); err != nil {
		return err
	}
	const chunk = 200
	for i := 0; i < len(ids); i += chunk {
		if e.isStopping() {
			return errors.New("interrupted by shutdown; run it again")
		}
		part := ids[i:min(i+chunk, len(ids))]
		n, err := e.requeue(ctx, appID, part)
		job.Done += n
		job.UpdatedAt = e.clock.Now()
		if n > 0 {
			for _, ep := range endpointIDs {
				e.budget.markSpilled(ep)
			}
			e.wakeClaimer()
			e.pulls.notify(endpointIDs...)
		}
		var qe *store.QuotaError
		if errors.As(err, &qe) {
			return fmt.Errorf("stopped: the app's monthly delivery quota of %d deliveries is used up for %s (%d used); %d of %d deliveries were requeued, the others were left as they were",
				qe.Quota, qe.Month, qe.Used, job.Done, job.Total)
		}
		if err != nil {
			return fmt.Errorf("requeue: %w", err)
		}
		if err := e.st.BulkJobUpdate(ctx, job); err != nil {
			return err
		}
	}
	return nil
}

// requeue requeues ids, all of them when the app's quota allows, else as
// many as it still does (in order), and says how many of ids it went
// through. Ids of deliveries the store leaves alone (a deleted
// endpoint's) use no quota, so after a partial requeue the rest is tried
// again until the quota says no.
func (e *Engine) requeue(ctx context.Context, appID string, ids []string) (int, error) {
	done := 0
	for len(ids) > 0 {
		take := ids
		_, err := e.st.DeliveriesRequeue(ctx, appID, take, e.clock.Now())
		var qe *store.QuotaError
		for errors.As(err, &qe) && qe.Remaining() > 0 && len(take) > 1 {
			take = take[:min(int(qe.Remaining()), len(take)-1)]
			_, err = e.st.DeliveriesRequeue(ctx, appID, take, e.clock.Now())
		}
		if err != nil {
			return done, err
		}
		done += len(take)
		ids = ids[len(take):]
	}
	return done, nil
}

// Skip marks a failed delivery skipped so that the later deliveries of
// its ordering key go on (see store.Store.DeliverySkip), and looks for
// them at once.
func (e *Engine) Skip(ctx context.Context, appID, id string) (*herald.Delivery, error) {
	d, err := e.st.DeliverySkip(ctx, appID, id, e.clock.Now())
	if err != nil {
		return nil, err
	}
	e.wakeClaimer()
	return d, nil
}
