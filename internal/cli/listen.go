package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/heraldhq/herald/client"
)

// Listen configures `herald listen`: it makes a temporary pull endpoint,
// and forwards what it pulls to a local app that Herald cannot reach
// itself (a laptop behind NAT), so that a developer sees real, signed
// deliveries without exposing anything.
type Listen struct {
	DataDirFlag
	AppFlag
	ForwardTo   string        `name:"forward-to" required:"" placeholder:"URL" help:"Where to send each delivery: the local app's URL (http://localhost:3000/hooks)."`
	Events      string        `name:"events" placeholder:"TYPES" help:"Comma-separated event types to receive: names, prefix wildcards (lead.*) or groups (group:nps). Default: all."`
	PrintSecret bool          `name:"print-secret" help:"Print the temporary endpoint's signing secret at start, for the local app to verify signatures with."`
	Timeout     time.Duration `name:"timeout" default:"30s" help:"How long the local app may take to answer one delivery."`
}

// Validate checks --forward-to as the flags are read.
func (c *Listen) Validate() error {
	u, err := url.Parse(c.ForwardTo)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--forward-to must be an http or https URL, such as http://localhost:3000/hooks")
	}
	if c.Timeout <= 0 || c.Timeout > maxForwardTimeout {
		return fmt.Errorf("--timeout must be more than 0 and at most %s", maxForwardTimeout)
	}
	return nil
}

// Pull parameters: the longest wait the server allows, so that an idle
// listener costs one request a minute; the visibility leaves a slow local
// app its whole timeout before a delivery is handed out again.
const (
	listenWait  = "60s"
	listenLimit = 10
)

// maxAckError is the most of an error's text an acknowledgement may
// carry (the server refuses more).
const maxAckError = 1024

// maxForwardTimeout bounds --timeout: a delivery handed out is kept
// from other pulls for the timeout and half a minute more, and the
// server keeps one at most 12 hours.
const maxForwardTimeout = time.Hour

// maxForwardedAnswer caps the local app's answer read and acknowledged:
// the server keeps 64 KiB of a response by default anyway.
const maxForwardedAnswer = 64 << 10

// Run listens until ctx ends, then removes the endpoint.
func (c *Listen) Run(ctx context.Context, env Env) error {
	if err := c.Validate(); err != nil {
		return &UsageError{Msg: err.Error()}
	}
	h, app, err := c.dial(ctx, env)
	if err != nil {
		return err
	}
	ep, err := c.create(ctx, h, app)
	if err != nil {
		return err
	}
	// The endpoint goes whatever ends the listener: the context is over
	// by then, so the removal gets its own.
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, derr := h.DeleteEndpointWithResponse(dctx, app, ep); derr != nil {
			fmt.Fprintf(env.Stderr, "herald listen: could not remove the endpoint %s: %v; delete it with herald endpoints delete %s --app %s\n", ep, derr, ep, app)
			return
		}
		fmt.Fprintf(env.Stdout, "removed the endpoint %s\n", ep)
	}()
	if c.PrintSecret {
		res, err := h.GetEndpointSecretWithResponse(ctx, app, ep)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "signing secret: %s\n", res.JSON200.Secret)
	}
	events := "all events"
	if c.Events != "" {
		events = c.Events
	}
	fmt.Fprintf(env.Stdout, "listening to app %s (%s) through the pull endpoint %s, forwarding to %s; Ctrl-C stops\n", app, events, ep, c.ForwardTo)
	f := &forwarder{
		to: c.ForwardTo,
		hc: &http.Client{
			Timeout: c.Timeout,
			// The local app's answer is the outcome, as Herald's own
			// sender takes it: a redirect is not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			// No proxy, and no Accept-Encoding added: the request is
			// the one Herald built.
			Transport: &http.Transport{DisableCompression: true},
		},
	}
	defer f.hc.CloseIdleConnections()
	visibility := (c.Timeout + 30*time.Second).Round(time.Second).String()
	wait, limit := listenWait, listenLimit
	for ctx.Err() == nil {
		res, err := h.PullDeliveriesWithResponse(ctx, app, ep, &client.PullDeliveriesParams{Wait: &wait, Limit: &limit, Visibility: &visibility})
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			return err
		}
		for _, d := range res.JSON200.Data {
			if ctx.Err() != nil {
				break
			}
			c.handle(ctx, h, app, ep, f, d, env)
		}
	}
	return nil
}

// create makes the temporary pull endpoint and returns its id.
func (c *Listen) create(ctx context.Context, h *client.Herald, app string) (string, error) {
	kind := client.EndpointKindPull
	desc := "herald listen → " + c.ForwardTo
	if host, err := os.Hostname(); err == nil {
		desc += " on " + host
	}
	in := client.EndpointInput{Kind: &kind, Description: &desc}
	if c.Events != "" {
		var types []string
		for t := range strings.SplitSeq(c.Events, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
		in.EventTypes = &types
	}
	var body client.EndpointCreate
	if err := body.FromEndpointInput(in); err != nil {
		return "", err
	}
	res, err := h.CreateEndpointWithResponse(ctx, app, body)
	if err != nil {
		return "", err
	}
	return res.JSON201.ID, nil
}

// handle forwards one delivery, acknowledges the answer and prints its
// line.
func (c *Listen) handle(ctx context.Context, h *client.Herald, app, ep string, f *forwarder, d client.PulledDelivery, env Env) {
	ans := f.forward(ctx, d)
	if ctx.Err() != nil {
		// Stopped midway: no outcome to tell; the endpoint goes anyway.
		return
	}
	r := client.AckResult{DeliveryID: d.DeliveryID}
	latency := float32(ans.latency.Seconds() * 1000)
	r.LatencyMs = &latency
	if ans.err != nil {
		msg := ans.err.Error()
		if len(msg) > maxAckError {
			msg = strings.ToValidUTF8(msg[:maxAckError], "")
		}
		r.Error = &msg
	} else {
		r.StatusCode, r.Body = &ans.status, &ans.body
		r.BodyTruncated = &ans.truncated
	}
	res, err := h.AckDeliveriesWithResponse(ctx, app, ep, client.Ack{Results: []client.AckResult{r}})
	var note string
	switch {
	case err != nil:
		note = " (not acknowledged: " + strings.TrimPrefix(ErrorLine(err), "herald: ") + "; handed out again later)"
	case len(res.JSON200.Data) == 1 && res.JSON200.Data[0].Result != client.AckOutcomeResultRecorded:
		note = " (not recorded: " + string(res.JSON200.Data[0].Result) + ")"
	case len(res.JSON200.Data) == 1:
		o := res.JSON200.Data[0]
		switch {
		case o.Status == nil:
		case *o.Status == client.DeliveryStatusPending && o.NextAttemptAt != nil:
			note = " (retried at " + o.NextAttemptAt.Local().Format("15:04:05") + ")"
		case *o.Status == client.DeliveryStatusFailed:
			note = " (failed: not retried)"
		}
	}
	// The event's type and id are not in the handout: the delivery
	// has them.
	what := d.DeliveryID
	if dl, err := h.GetDeliveryWithResponse(ctx, app, d.DeliveryID); err == nil {
		what = dl.JSON200.EventType + " " + dl.JSON200.EventID
	}
	outcome := fmt.Sprintf("%d", ans.status)
	if ans.err != nil {
		outcome = "error: " + ans.err.Error()
	}
	fmt.Fprintf(env.Stdout, "→ %s ← %s %d ms%s\n", what, outcome, ans.latency.Milliseconds(), note)
}

// forwarder sends pulled requests to the local app.
type forwarder struct {
	to string
	hc *http.Client
}

// answer is what the local app made of one request.
type answer struct {
	status    int
	body      string
	truncated bool
	latency   time.Duration
	err       error
}

// forward sends the request Herald built (method, headers, the exact
// body) to the local URL, the handout's query string (a GET endpoint's
// fields) appended.
func (f *forwarder) forward(ctx context.Context, d client.PulledDelivery) answer {
	target := f.to
	if q, ok := strings.CutPrefix(d.Request.URL, "?"); ok && q != "" {
		if strings.Contains(target, "?") {
			target += "&" + q
		} else {
			target += "?" + q
		}
	}
	method := d.Request.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(d.Request.Body))
	if err != nil {
		return answer{err: err}
	}
	var headers map[string]string
	if d.Request.Headers != nil {
		headers = *d.Request.Headers
	}
	for k, v := range headers {
		switch http.CanonicalHeaderKey(k) {
		case "Host":
			req.Host = v
		case "Content-Length":
			// Set from the body itself.
		default:
			req.Header[k] = []string{v}
		}
	}
	if req.Header.Get("User-Agent") == "" {
		// Not Go's own: the local app sees what Herald sends.
		req.Header.Set("User-Agent", "")
	}
	start := time.Now()
	res, err := f.hc.Do(req)
	if err != nil {
		return answer{err: unwrapURLError(err), latency: time.Since(start)}
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, rerr := io.Copy(&b, io.LimitReader(res.Body, maxForwardedAnswer+1))
	a := answer{status: res.StatusCode, latency: time.Since(start)}
	if b.Len() > maxForwardedAnswer {
		b.Truncate(maxForwardedAnswer)
		a.truncated = true
	}
	a.body = strings.ToValidUTF8(b.String(), "\uFFFD")
	if rerr != nil {
		a.truncated = true
	}
	return a
}

// unwrapURLError drops net/http's `Post "http://…": ` prefix: the URL is
// the one the user gave, and the line is short.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
