package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/heraldhq/herald/client"
)

// Trigger configures `herald trigger`: one real event of a type, with the
// catalog's sample as payload unless one is given.
type Trigger struct {
	DataDirFlag
	AppFlag
	EventType string `arg:"" name:"event-type" help:"The event type, a name of the catalog."`
	Payload   string `name:"payload" placeholder:"JSON|@FILE" help:"The payload: JSON, or @file.json (@- reads stdin). Default: the event type's sample."`
}

// Run sends the event and prints its id and how many deliveries it made.
func (c *Trigger) Run(ctx context.Context, env Env) error {
	var payload json.RawMessage
	if c.Payload != "" {
		var err error
		if payload, err = jsonArg("--payload", c.Payload); err != nil {
			return err
		}
	}
	h, err := Dial(env.Remote)
	if err != nil {
		return err
	}
	if payload == nil {
		res, err := h.GetEventTypeWithResponse(ctx, c.EventType)
		if err != nil {
			if client.CodeOf(err) == client.ErrorCodeNotFound {
				return fmt.Errorf("no event type %q in the catalog (herald event-types list shows them)", c.EventType)
			}
			return err
		}
		if res.JSON200.Sample == nil {
			return fmt.Errorf("the event type %s has no sample: give one with --payload", c.EventType)
		}
		if payload, err = json.Marshal(res.JSON200.Sample); err != nil {
			return err
		}
	}
	app, err := c.resolve(ctx, h)
	if err != nil {
		return err
	}
	res, err := h.CreateEventWithResponse(ctx, app, nil, client.EventCreate{EventType: c.EventType, Payload: payload})
	if err != nil {
		return err
	}
	ev := res.JSON202
	n := 0
	if ev.Deliveries != nil {
		n = *ev.Deliveries
	}
	fmt.Fprintf(env.Stdout, "%s %s sent to app %s: %d %s\n", ev.ID, ev.EventType, app, n, plural(n, "delivery", "deliveries"))
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Resend configures `herald resend`.
type Resend struct {
	DataDirFlag
	AppFlag
	Delivery string `arg:"" name:"delivery" help:"The delivery's id (dlv_…)."`
}

// Run resends the delivery now and prints the attempt's outcome; a pull
// endpoint's delivery is only made due again for its client.
func (c *Resend) Run(ctx context.Context, env Env) error {
	h, app, err := c.dial(ctx, env)
	if err != nil {
		return err
	}
	res, err := h.ResendDeliveryWithResponse(ctx, app, c.Delivery, client.Resend{})
	if err != nil {
		return err
	}
	if res.JSON202 != nil {
		fmt.Fprintf(env.Stdout, "%s is due again for its pull endpoint's client (%s)\n", c.Delivery, res.JSON202.Delivery.EndpointID)
		return nil
	}
	a := res.JSON200.Attempt
	outcome := a.Error
	if a.Response != nil {
		outcome = fmt.Sprint(a.Response.StatusCode)
	}
	fmt.Fprintf(env.Stdout, "%s resent (attempt %d) ← %s %.0f ms: %s\n", c.Delivery, a.Attempt, outcome, a.LatencyMs, res.JSON200.Delivery.Status)
	return nil
}

// Recover configures `herald recover`: requeue an endpoint's failed (or
// succeeded) deliveries of a recent period, following the server's
// background job to its end.
type Recover struct {
	DataDirFlag
	AppFlag
	Endpoint string        `name:"endpoint" required:"" placeholder:"ID" help:"The endpoint (ep_…)."`
	Since    time.Duration `name:"since" required:"" help:"How far back: deliveries created within this long before now (24h, 7d)."`
	Status   string        `name:"status" enum:"failed,succeeded" default:"failed" help:"Which deliveries to requeue: failed or succeeded."`
	// StatusCode and ErrorKind pick one cause of failure, as a group of
	// the failures page does.
	StatusCode string `name:"status-code" placeholder:"CODE" help:"Only deliveries whose latest attempt got this status (500) or class (5xx)."`
	ErrorKind  string `name:"error-kind" placeholder:"KIND" help:"Only deliveries whose latest attempt failed so (timeout, connect, dns, tls, network, http_status, policy, auth, render, rejected)."`
}

// jobPoll is how often recover reads its job's progress: often enough
// for a bar that moves, a request the server answers from one row.
const jobPoll = 250 * time.Millisecond

// Validate checks --since as the flags are read.
func (c *Recover) Validate() error {
	if c.Since <= 0 {
		return errors.New("--since must be more than 0 (24h, 7d)")
	}
	return nil
}

// Run starts the job and follows it: a progress bar on a terminal, a
// line per change otherwise (logs, pipes).
func (c *Recover) Run(ctx context.Context, env Env) error {
	h, app, err := c.dial(ctx, env)
	if err != nil {
		return err
	}
	status := client.RecoverStatus(c.Status)
	body := client.Recover{Since: time.Now().Add(-c.Since), Status: &status}
	if c.StatusCode != "" {
		body.StatusCode = &c.StatusCode
	}
	if c.ErrorKind != "" {
		kind := client.ErrorKind(c.ErrorKind)
		body.ErrorKind = &kind
	}
	res, err := h.RecoverEndpointWithResponse(ctx, app, c.Endpoint, body)
	if err != nil {
		return err
	}
	job := *res.JSON202
	fmt.Fprintf(env.Stdout, "%s: requeueing the %s deliveries of %s since %s\n", job.ID, c.Status, c.Endpoint, time.Now().Add(-c.Since).Local().Format(time.DateTime))
	p := newProgress(env.Stdout, job.ID)
	tick := time.NewTicker(jobPoll)
	defer tick.Stop()
	for {
		p.show(job.Done, job.Total)
		if job.State != client.JobStateRunning {
			break
		}
		select {
		case <-ctx.Done():
			p.finish()
			return fmt.Errorf("stopped following %s; it goes on on the server (GET /v1/apps/%s/jobs/%s)", job.ID, app, job.ID)
		case <-tick.C:
		}
		res, err := h.GetJobWithResponse(ctx, app, job.ID)
		if err != nil {
			p.finish()
			return err
		}
		job = *res.JSON200
	}
	p.finish()
	if job.State == client.JobStateFailed {
		msg := "no reason given"
		if job.Error != nil {
			msg = *job.Error
		}
		return fmt.Errorf("%s failed after requeueing %d of %d: %s", job.ID, job.Done, job.Total, msg)
	}
	fmt.Fprintf(env.Stdout, "%s %s: %d %s requeued\n", job.ID, job.State, job.Done, plural(job.Done, "delivery", "deliveries"))
	return nil
}

// progress shows a job's progress: a bar on a terminal, plain lines
// (one per change) elsewhere, where a bar's redrawing would be noise.
type progress struct {
	out       io.Writer
	id        string
	terminal  bool
	bar       *progressbar.ProgressBar // once the total is known
	done, tot int
	shownOnce bool
}

func newProgress(out io.Writer, id string) *progress {
	p := &progress{out: out, id: id}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.terminal = true
	}
	return p
}

func (p *progress) show(done, total int) {
	if p.shownOnce && done == p.done && total == p.tot {
		return
	}
	p.shownOnce, p.done, p.tot = true, done, total
	if !p.terminal {
		fmt.Fprintf(p.out, "%s: %d/%d\n", p.id, done, total)
		return
	}
	if total == 0 {
		return // the job has not counted its deliveries yet
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.out),
			progressbar.OptionSetDescription(p.id),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(),
		)
	}
	p.bar.ChangeMax(total)
	_ = p.bar.Set(done)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
