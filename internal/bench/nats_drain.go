package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The drain's server retries every natsDrainEvery, natsDrainRetries times:
// the pile-up must not use up any delivery's retries (under callgrind it
// lasts 20-50 times longer), and the wait is short, so that every
// delivery is due again soon after the endpoint is paused.
const (
	natsDrainEvery   = 2 * time.Second
	natsDrainRetries = 600
	// natsRetryJitter is the spread serve puts on each retry wait (20 %
	// either way): the longest wait is natsDrainEvery times 1 + it.
	natsRetryJitter = 0.2
)

// natsDueWait is how long the drain waits after pausing the endpoint so
// that the next attempt of every delivery is due when it is enabled
// again: the longest retry wait and a margin for attempts that were in
// flight.
func natsDueWait() time.Duration {
	return time.Duration(float64(natsDrainEvery)*(1+natsRetryJitter)) + time.Second
}

// natsDrain measures Herald's delivery side alone: the events pile up
// while JetStream refuses them (the endpoint's stream does not exist yet,
// as backlog's receivers answer 503), the endpoint is then disabled, the
// stream made and, once every delivery is due, the endpoint enabled. The
// row runs from that moment to the stream's last message: no API call
// happens meanwhile.
func (r *runner) natsDrain(nb *natsBench) (Row, error) {
	row := Row{Case: "herald drain: backlog → JetStream", Endpoints: 1}
	schedule := strings.TrimSuffix(strings.Repeat(natsDrainEvery.String()+",", natsDrainRetries), ",")
	nodes, err := r.startNodes(1, serverOptions{extra: []string{
		"--max-retries", strconv.Itoa(natsDrainRetries), "--retry-schedule", schedule}})
	if err != nil {
		return row, err
	}
	defer stopNodes(nodes)
	n := r.sz.events
	s := r.newStream("nats-drain", n, 1)
	defer r.rc.remove(s)
	c := nodes[0].c
	if err := c.mustDo(r.ctx, "POST", "/v1/apps", map[string]any{"name": s.name, "uid": s.name}, http.StatusCreated); err != nil {
		return row, err
	}
	streamName, subject := nb.streamNames("DRAIN")
	epID, err := createEndpoint(r.ctx, c, s.name, map[string]any{"kind": "nats", "event_types": []string{eventType},
		"destination": map[string]any{"url": r.cfg.NATSURL, "subject": subject, "stream": streamName}})
	if err != nil {
		return row, fmt.Errorf("create the nats endpoint: %w", err)
	}
	epPath := "/v1/apps/" + s.name + "/endpoints/" + epID

	stop := r.watch(Nats+" drain", s)
	defer stop()
	fmt.Fprintf(r.progress, "  nats drain: %d events pile up while stream %s does not exist\n", n, streamName)
	start := time.Now()
	burst(r.ctx, clientsOf(nodes), s, n, r.sz.concurrency)
	row.Events, row.DeliveriesExpected = s.sent.Load(), s.sent.Load()
	if row.Events > 0 {
		row.EventsPerSec = perSec(row.Events, s.lastAccept().Sub(start))
	}
	if e := s.firstError(); e != "" {
		return row, errors.New("first API error: " + e)
	}

	if err := c.mustDo(r.ctx, "PATCH", epPath, map[string]any{"enabled": false}, http.StatusOK); err != nil {
		return row, fmt.Errorf("disable the endpoint: %w", err)
	}
	if _, _, err := nb.createStream(r.ctx, "DRAIN"); err != nil {
		return row, err
	}
	// Each delivery's next attempt was set by its last refusal; waiting
	// out the longest retry wait makes them all due at once.
	fmt.Fprintf(r.progress, "  nats drain: endpoint disabled, stream made; enabling it in %s, once every delivery is due\n", natsDueWait())
	select {
	case <-r.ctx.Done():
		return row, r.ctx.Err()
	case <-time.After(natsDueWait()):
	}
	before, err := nb.streamState(r.ctx, streamName)
	if err != nil {
		return row, fmt.Errorf("read stream %s: %w", streamName, err)
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return row, err
	}
	broker0 := natsServerCPU()
	up := time.Now()
	if err := c.mustDo(r.ctx, "PATCH", epPath, map[string]any{"enabled": true}, http.StatusOK); err != nil {
		return row, fmt.Errorf("enable the endpoint: %w", err)
	}
	var sent atomic.Bool
	sent.Store(true)
	last, werr := r.waitStream(nb, streamName, s, &sent)
	got := int64(last.Msgs)
	row.Deliveries = got
	row.Errors = max(0, row.DeliveriesExpected-got)
	// A message the stream held before the endpoint was enabled (none
	// is expected) is not the drain's.
	if drained := got - int64(before.Msgs); drained > 0 {
		row.DeliveriesPerSec = perSec(drained, streamEnd(last, up))
	}
	err = errors.Join(werr, m.fill(&row))
	row.BrokerCPU = brokerCPUSince(broker0)
	return row, err
}

// createEndpoint creates an endpoint of app and returns its id.
func createEndpoint(ctx context.Context, c *client, app string, ep map[string]any) (string, error) {
	b, err := json.Marshal(ep)
	if err != nil {
		return "", err
	}
	path := "/v1/apps/" + app + "/endpoints"
	code, out, err := c.do(ctx, "POST", path, b)
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", path, err)
	}
	if code != http.StatusCreated {
		return "", fmt.Errorf("POST %s: answered %d, want %d: %s", path, code, http.StatusCreated, strings.TrimSpace(string(out)))
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.ID == "" {
		return "", fmt.Errorf("POST %s: no endpoint id in its answer", path)
	}
	return created.ID, nil
}
