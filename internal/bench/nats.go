package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsPublishers is how many publishes the ceiling keeps in flight: serve's
// default --max-in-flight, the most deliveries Herald has in flight to the
// scenario's one endpoint (its --workers, 256, are shared by all endpoints).
const natsPublishers = 32

// natsCallTimeout bounds each call the bench makes to NATS itself.
const natsCallTimeout = 10 * time.Second

// natsAddr returns host:port of a nats:// or tls:// URL, with NATS's
// default port when it has none.
func natsAddr(raw string) (string, error) {
	if strings.Contains(raw, ",") {
		return "", errors.New("--nats-url takes one server URL, not a list")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Hostname() == "" {
		return "", errors.New("--nats-url must be a nats:// (or tls://) URL with a host, such as nats://127.0.0.1:4222")
	}
	port := u.Port()
	if port == "" {
		port = "4222"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// natsReachable reports whether something listens at the NATS URL: the
// nats scenario joins the default set only then.
func natsReachable(raw string) bool {
	addr, err := natsAddr(raw)
	if err != nil {
		return false
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// redactedURL is raw without its password, for messages.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the --nats-url"
	}
	return u.Redacted()
}

// natsBench is one run of the nats scenario: its connection and the
// streams it made, deleted at the end.
type natsBench struct {
	js      jetstream.JetStream
	id      string
	streams []string
}

// nats measures Herald publishing to a JetStream stream through a nats
// endpoint, and right after it the same nats.go client publishing the
// same messages straight to a stream of the same kind: the broker's own
// ceiling on this machine, in the same run.
func (r *runner) nats(sc *Scenario) error {
	nc, err := nats.Connect(r.cfg.NATSURL, nats.Timeout(5*time.Second), nats.MaxReconnects(0), nats.Name("herald-bench"))
	if err != nil {
		sc.Skipped = fmt.Sprintf("NATS is not reachable at %s: %v", redactedURL(r.cfg.NATSURL), err)
		return nil
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err == nil {
		ctx, cancel := context.WithTimeout(r.ctx, natsCallTimeout)
		_, err = js.AccountInfo(ctx)
		cancel()
	}
	if err != nil {
		sc.Skipped = fmt.Sprintf("NATS at %s has no JetStream: %v", redactedURL(r.cfg.NATSURL), err)
		return nil
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	nb := &natsBench{js: js, id: hex.EncodeToString(b[:])}
	defer nb.deleteStreams()

	herald, tmpl, herr := r.natsHerald(nb)
	if tmpl == nil {
		tmpl = syntheticMessage()
	}
	drain, derr := r.natsDrain(nb)
	ceiling, cerr := r.natsCeiling(nb, tmpl)
	herald.Ratio = ratio(herald.DeliveriesPerSec, ceiling.DeliveriesPerSec)
	drain.Ratio = ratio(drain.DeliveriesPerSec, ceiling.DeliveriesPerSec)
	ceiling.Ratio = ratio(ceiling.DeliveriesPerSec, ceiling.DeliveriesPerSec)
	sc.Rows = append(sc.Rows, ceiling, herald, drain)
	sc.Notes = append(sc.Notes,
		fmt.Sprintf("ratio here is deliveries/s ÷ the ceiling row's: the same nats.go client, one connection, %d publishes in flight (serve's default --max-in-flight for one endpoint), each awaiting JetStream's ack, the same %d-byte message with the same headers, to a file-backed stream like Herald's", natsPublishers, len(tmpl.Data)),
		"deliveries are the stream's messages (JetStream drops a repeated Nats-Msg-Id); deliveries/s run from the first publish or API call to the stream's time of its last message; latency is not measured",
		fmt.Sprintf("the drain row: a server of its own (retries every %s) takes the events while the endpoint's stream does not exist yet, so JetStream refuses each publish (no responders) and it is retried; then the endpoint is disabled, the stream made, and after %s, when every delivery is due, the endpoint enabled: its deliveries/s, cpu and rss run from that call to the stream's last message, no API traffic meanwhile; its events/s is the pile-up's", natsDrainEvery, natsDueWait()),
		"server cpu s is Herald's (none for the ceiling), bench cpu s the bench's (the publisher, for the ceiling)")
	if natsServerCPU() >= 0 {
		sc.Notes = append(sc.Notes, fmt.Sprintf("nats-server cpu s: ceiling %.1f, herald %.1f, drain %.1f (processes named nats-server on this machine)", ceiling.BrokerCPU, herald.BrokerCPU, drain.BrokerCPU))
	}
	sc.Notes = append(sc.Notes, "streams "+strings.Join(nb.streams, ", ")+" deleted after the run")
	return errors.Join(herr, derr, cerr)
}

// streamNames are the stream and subject of the run's stream suffix.
func (nb *natsBench) streamNames(suffix string) (name, subject string) {
	return "HERALD_BENCH_" + strings.ToUpper(nb.id) + "_" + suffix, "herald.bench." + nb.id + "." + strings.ToLower(suffix)
}

// createStream makes a file-backed stream holding the one subject.
func (nb *natsBench) createStream(ctx context.Context, suffix string) (name, subject string, err error) {
	name, subject = nb.streamNames(suffix)
	ctx, cancel := context.WithTimeout(ctx, natsCallTimeout)
	defer cancel()
	_, err = nb.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Storage: jetstream.FileStorage})
	if err != nil {
		return "", "", fmt.Errorf("create stream %s: %w", name, err)
	}
	nb.streams = append(nb.streams, name)
	return name, subject, nil
}

func (nb *natsBench) deleteStreams() {
	for _, name := range nb.streams {
		ctx, cancel := context.WithTimeout(context.Background(), natsCallTimeout)
		_ = nb.js.DeleteStream(ctx, name)
		cancel()
	}
}

// streamState reads a stream's message count and the time of its last
// message.
func (nb *natsBench) streamState(ctx context.Context, name string) (jetstream.StreamState, error) {
	ctx, cancel := context.WithTimeout(ctx, natsCallTimeout)
	defer cancel()
	st, err := nb.js.Stream(ctx, name)
	if err != nil {
		return jetstream.StreamState{}, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return jetstream.StreamState{}, err
	}
	return info.State, nil
}

// natsHerald runs Herald with one nats endpoint publishing to a fresh
// stream, sends the events through the API and waits until the stream
// holds every accepted one. It returns the row and the first message
// Herald published, which the ceiling copies.
func (r *runner) natsHerald(nb *natsBench) (Row, *nats.Msg, error) {
	row := Row{Case: "herald: API → JetStream", Endpoints: 1}
	streamName, subject, err := nb.createStream(r.ctx, "HERALD")
	if err != nil {
		return row, nil, err
	}
	nodes, err := r.startNodes(1, serverOptions{})
	if err != nil {
		return row, nil, err
	}
	defer stopNodes(nodes)
	n := r.sz.events
	s := r.newStream("nats", n, 1)
	defer r.rc.remove(s)
	c := nodes[0].c
	if err := c.mustDo(r.ctx, "POST", "/v1/apps", map[string]any{"name": s.name, "uid": s.name}, http.StatusCreated); err != nil {
		return row, nil, err
	}
	ep := map[string]any{"kind": "nats", "event_types": []string{eventType},
		"destination": map[string]any{"url": r.cfg.NATSURL, "subject": subject, "stream": streamName}}
	if err := c.mustDo(r.ctx, "POST", "/v1/apps/"+s.name+"/endpoints", ep, http.StatusCreated); err != nil {
		return row, nil, fmt.Errorf("create the nats endpoint: %w", err)
	}
	m, err := r.startMeter(nodes)
	if err != nil {
		return row, nil, err
	}
	broker0 := natsServerCPU()
	stop := r.watch(Nats, s)
	start := time.Now()
	var (
		wg   sync.WaitGroup
		sent atomic.Bool
	)
	var last jetstream.StreamState
	var werr error
	wg.Go(func() { last, werr = r.waitStream(nb, streamName, s, &sent) })
	burst(r.ctx, clientsOf(nodes), s, n, r.sz.concurrency)
	sent.Store(true)
	wg.Wait()
	stop()

	got, want := int64(last.Msgs), s.sent.Load()
	row.Events, row.Deliveries, row.DeliveriesExpected = want, got, want
	row.Errors = s.errors.Load() + max(0, want-got)
	if want > 0 {
		row.EventsPerSec = perSec(want, s.lastAccept().Sub(start))
	}
	if got > 0 {
		row.DeliveriesPerSec = perSec(got, streamEnd(last, start))
	}
	err = errors.Join(werr, m.fill(&row))
	row.BrokerCPU = brokerCPUSince(broker0)
	if e := s.firstError(); e != "" {
		err = errors.Join(err, errors.New("first API error: "+e))
	}
	var tmpl *nats.Msg
	if got > 0 {
		ctx, cancel := context.WithTimeout(r.ctx, natsCallTimeout)
		if st, serr := nb.js.Stream(ctx, streamName); serr == nil {
			if raw, gerr := st.GetMsg(ctx, last.FirstSeq); gerr == nil {
				tmpl = &nats.Msg{Subject: raw.Subject, Header: raw.Header, Data: raw.Data}
			}
		}
		cancel()
	}
	return row, tmpl, err
}

// waitStream polls the stream until it holds every event accepted, once
// sending is over; it gives up when the count stops moving for as long as
// the other scenarios wait for a delivery. It keeps s.unique at the
// stream's count for the progress lines.
func (r *runner) waitStream(nb *natsBench, name string, s *stream, sent *atomic.Bool) (jetstream.StreamState, error) {
	stall := stallAfter
	if r.cfg.Instructions {
		stall = stallAfterCallgrind
	}
	var last jetstream.StreamState
	lastChange := time.Now()
	for {
		done := sent.Load()
		st, err := nb.streamState(r.ctx, name)
		if err != nil {
			return last, fmt.Errorf("read stream %s: %w", name, err)
		}
		if st.Msgs != last.Msgs {
			lastChange = time.Now()
		}
		last = st
		s.unique.Store(int64(st.Msgs))
		if done && int64(st.Msgs) >= s.sent.Load() {
			return last, nil
		}
		if done && time.Since(lastChange) > stall {
			return last, fmt.Errorf("%d deliveries missing: the stream got no message for %s", s.sent.Load()-int64(st.Msgs), stall)
		}
		select {
		case <-r.ctx.Done():
			return last, r.ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// streamEnd is the span from start to the stream's last message, or to
// now should the broker's clock put it before start.
func streamEnd(st jetstream.StreamState, start time.Time) time.Duration {
	if d := st.LastTime.Sub(start); d > 0 {
		return d
	}
	return time.Since(start)
}

// natsCeiling publishes the same number of messages as Herald was sent,
// each a copy of tmpl with an id of its own, to a fresh stream of the same
// kind from natsPublishers goroutines on one connection, each waiting for
// its ack as Herald does.
func (r *runner) natsCeiling(nb *natsBench, tmpl *nats.Msg) (Row, error) {
	n := r.sz.events
	row := Row{Case: "ceiling: nats.go → JetStream", Endpoints: 1, Events: int64(n), DeliveriesExpected: int64(n)}
	name, subject, err := nb.createStream(r.ctx, "CEILING")
	if err != nil {
		return row, err
	}
	fmt.Fprintf(r.progress, "  nats ceiling: %d messages of %d bytes from %d publishers straight to JetStream\n", n, len(tmpl.Data), natsPublishers)
	// Herald's own headers, without those JetStream's options set.
	hdr := nats.Header{}
	for k, v := range tmpl.Header {
		if !strings.HasPrefix(strings.ToLower(k), "nats-") {
			hdr[k] = v
		}
	}
	baseID := hdr.Get("webhook-id")
	var (
		next, failed atomic.Int64
		errMu        sync.Mutex
		firstErr     error
		wg           sync.WaitGroup
	)
	bench0, broker0 := procCPU("self"), natsServerCPU()
	start := time.Now()
	for range natsPublishers {
		wg.Go(func() {
			for r.ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				id := uniqueID(baseID, nb.id, i)
				h := make(nats.Header, len(hdr)+2)
				for k, v := range hdr {
					h[k] = v
				}
				h["webhook-id"] = []string{id}
				ctx, cancel := context.WithTimeout(r.ctx, natsCallTimeout)
				_, err := nb.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: h, Data: tmpl.Data},
					jetstream.WithExpectStream(name), jetstream.WithMsgID(id))
				cancel()
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	row.BenchCPU = round1(procCPU("self") - bench0)
	row.BrokerCPU = brokerCPUSince(broker0)
	row.EventsPerSec = perSec(int64(n)-failed.Load(), elapsed)
	st, err := nb.streamState(r.ctx, name)
	if err != nil {
		return row, fmt.Errorf("read stream %s: %w", name, err)
	}
	row.Deliveries = int64(st.Msgs)
	row.Errors = failed.Load() + max(0, int64(n)-row.Deliveries)
	if row.Deliveries > 0 {
		row.DeliveriesPerSec = perSec(row.Deliveries, streamEnd(st, start))
	}
	if firstErr != nil {
		return row, fmt.Errorf("ceiling: %d publishes failed, the first: %w", failed.Load(), firstErr)
	}
	return row, nil
}

// uniqueID gives message i of the ceiling an id as long as Herald's
// (base), so that the headers keep their size.
func uniqueID(base, run string, i int) string {
	id := run + "-" + strconv.Itoa(i)
	if pad := len(base) - len(id); pad > 0 {
		id = strings.Repeat("0", pad) + id
	}
	return id
}

// syntheticMessage stands in for Herald's message when Herald published
// none: the standard envelope of a 1 KiB payload and Standard Webhooks
// headers of their usual sizes.
func syntheticMessage() *nats.Msg {
	h := nats.Header{}
	h["webhook-id"] = []string{"msg_" + strings.Repeat("0", 26)}
	h["webhook-timestamp"] = []string{strconv.FormatInt(time.Now().Unix(), 10)}
	h["webhook-signature"] = []string{"v1," + strings.Repeat("A", 43) + "="}
	h["content-type"] = []string{"application/json"}
	body := `{"type":"` + eventType + `","timestamp":"2026-01-01T00:00:00.000Z","data":` + payload(1) + `}`
	return &nats.Msg{Header: h, Data: []byte(body)}
}

// natsServerCPU is the CPU seconds so far of every process named
// nats-server on this machine (-1 where none is found): the broker's side
// of the cost, told apart from Herald's and the bench's.
func natsServerCPU() float64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	total, found := 0.0, false
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "nats-server" {
			continue
		}
		total += procCPU(e.Name())
		found = true
	}
	if !found {
		return -1
	}
	return total
}

// brokerCPUSince is the nats-server CPU seconds since before (a value of
// natsServerCPU), 0 where no nats-server process is found.
func brokerCPUSince(before float64) float64 {
	now := natsServerCPU()
	if before < 0 || now < 0 {
		return 0
	}
	return round1(now - before)
}
