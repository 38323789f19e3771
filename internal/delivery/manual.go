package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// ErrAborted is returned when a send made on request was cut short (the
// caller went away, or Herald is shutting down) before an answer came.
var ErrAborted = errors.New("the request was aborted before an answer came")

// TestSend sends one request to the endpoint right now, built and signed
// exactly like a delivery of ev, and records it in the history flagged as
// a test. It is never retried. The event need not be of a subscribed type.
func (e *Engine) TestSend(ctx context.Context, ep *herald.Endpoint, ev *herald.Event) (*herald.Delivery, error) {
	now := e.clock.Now()
	ev.ID = herald.NewID(herald.PrefixEvent)
	ev.AppID = ep.AppID
	ev.CreatedAt = now
	ev.Routing = &herald.Routing{Matched: []string{ep.ID}, Skipped: []herald.Skip{}}
	d := &herald.Delivery{
		ID: herald.NewID(herald.PrefixDelivery), AppID: ep.AppID, EventID: ev.ID, EndpointID: ep.ID,
		EventType: ev.EventType, Test: true, CreatedAt: now,
	}
	r, ok := e.attempt(ctx, ctx, &store.Job{Delivery: d, Event: ev, Endpoint: ep}, herald.TriggerTest)
	if !ok {
		return nil, ErrAborted
	}
	d.Status = herald.StatusFailed
	if r.Status == herald.StatusSucceeded {
		d.Status = herald.StatusSucceeded
	}
	d.AttemptCount = 1
	d.LastError = r.Attempt.Error
	d.UpdatedAt = r.Now
	if err := e.st.TestSendRecord(ctx, ev, d, r.Attempt); err != nil {
		return nil, fmt.Errorf("record test send: %w", err)
	}
	d.Attempts = []*herald.Attempt{r.Attempt}
	return d, nil
}

// Resend sends a delivery again now, whatever its status, with the same
// webhook-id, and records the attempt. If it fails in a way worth
// retrying, the delivery goes back on its retry schedule.
func (e *Engine) Resend(ctx context.Context, j *store.Job) (*herald.Attempt, error) {
	r, ok := e.attempt(ctx, ctx, j, herald.TriggerResend)
	if !ok {
		return nil, ErrAborted
	}
	// Sent: its record must not fail because the caller went away now.
	e.record(context.WithoutCancel(ctx), []recordItem{{res: r, job: j}})
	return r.Attempt, nil
}

// SendEvents pushes chosen past events to one endpoint now, subscribed or
// not (a manual export). It returns the deliveries created.
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
	return ds, nil
}

// RecoverParams choose the deliveries a recovery requeues.
type RecoverParams struct {
	AppID      string
	EndpointID string
	Since      time.Time
	Until      time.Time // zero: now
	Status     herald.DeliveryStatus
}

// Recover starts a background job that requeues every matching delivery
// of the endpoint; its progress is saved on job as it goes. The job
// outlives the call: ctx gives it its values, not its end.
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
	lp := store.DeliveryListParams{AppID: p.AppID, EndpointID: p.EndpointID, Status: p.Status, Since: p.Since, Until: p.Until}
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
	job.Total = len(ids)
	job.UpdatedAt = e.clock.Now()
	if err := e.st.BulkJobUpdate(ctx, job); err != nil {
		return err
	}
	const chunk = 200
	for i := 0; i < len(ids); i += chunk {
		if e.isStopping() {
			return errors.New("interrupted by shutdown; run the recovery again")
		}
		part := ids[i:min(i+chunk, len(ids))]
		if _, err := e.st.DeliveriesRequeue(ctx, p.AppID, part, e.clock.Now()); err != nil {
			return fmt.Errorf("requeue: %w", err)
		}
		job.Done += len(part)
		job.UpdatedAt = e.clock.Now()
		if err := e.st.BulkJobUpdate(ctx, job); err != nil {
			return err
		}
		e.budget.markSpilled(p.EndpointID)
		e.wakeClaimer()
	}
	return nil
}
