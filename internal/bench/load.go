package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// eventType is the one event type every scenario sends.
const eventType = "bench.event"

// payloadSize is the size of each event's payload, as the brief of every
// scenario says: 1 KiB.
const payloadSize = 1024

// payload returns a payload of exactly payloadSize bytes carrying seq.
func payload(seq int) string {
	head := `{"seq":` + strconv.Itoa(seq) + `,"pad":"`
	return head + strings.Repeat("x", payloadSize-len(head)-2) + `"}`
}

// eventBody is the API request that sends event seq.
func eventBody(seq int) []byte {
	return []byte(`{"event_type":"` + eventType + `","payload":` + payload(seq) + `}`)
}

// body is the API request that sends event seq of s, with a payload of
// s.payloadBytes when set.
func (s *stream) body(seq int) []byte {
	if s.keys > 0 {
		return []byte(`{"event_type":"` + eventType + `","ordering_key":"k` + strconv.Itoa(seq%s.keys) + `","payload":` + payload(seq) + `}`)
	}
	if s.payloadBytes <= payloadSize {
		return eventBody(seq)
	}
	head := `{"seq":` + strconv.Itoa(seq) + `,"pad":"`
	return []byte(`{"event_type":"` + eventType + `","payload":` + head + strings.Repeat("x", s.payloadBytes-len(head)-2) + `"}}`)
}

// client calls one Herald's API with keep-alive connections, one per
// concurrent caller.
type client struct {
	base, token string
	hc          *http.Client
}

func newClient(base, token string, conns int) *client {
	return &client{base: base, token: token, hc: &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			Proxy:               nil, // only 127.0.0.1, never through a proxy
			MaxIdleConns:        conns + 16,
			MaxIdleConnsPerHost: conns + 16,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		}}}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// do calls the API and returns the status and body, always read to the
// end so that the connection goes back to the pool.
func (c *client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// mustDo is do for the set-up calls, which must answer want.
func (c *client) mustDo(ctx context.Context, method, path string, in any, want int) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	code, out, err := c.do(ctx, method, path, b)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code != want {
		return fmt.Errorf("%s %s: answered %d, want %d: %s", method, path, code, want, bytes.TrimSpace(out))
	}
	return nil
}

// setupEventType adds the bench's event type to the server's catalog.
func setupEventType(ctx context.Context, c *client) error {
	return c.mustDo(ctx, "POST", "/v1/event-types", map[string]any{"name": eventType}, http.StatusCreated)
}

// setupApp creates the app of stream s (its uid is the stream's name) and
// its endpoints on the receiver, a few at a time.
func setupApp(ctx context.Context, c *client, rc *receiver, s *stream) error {
	if err := c.mustDo(ctx, "POST", "/v1/apps", map[string]any{"name": s.name, "uid": s.name}, http.StatusCreated); err != nil {
		return err
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for range min(16, s.endpoints) {
		wg.Go(func() {
			for {
				ep := int(next.Add(1) - 1)
				if ep >= s.endpoints {
					return
				}
				body := map[string]any{"url": rc.endpointURL(s, ep), "event_types": []string{eventType}}
				for k, v := range s.settings {
					body[k] = v
				}
				err := c.mustDo(ctx, "POST", "/v1/apps/"+s.name+"/endpoints", body, http.StatusCreated)
				if err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// send posts event seq of stream s and records when its 202 came back.
func send(ctx context.Context, c *client, s *stream, seq int) {
	code, body, err := c.do(ctx, "POST", "/v1/apps/"+s.name+"/events", s.body(seq))
	switch {
	case err != nil:
		if ctx.Err() == nil {
			s.fail("send: " + err.Error())
		}
	case code != http.StatusAccepted:
		s.fail(fmt.Sprintf("send: answered %d: %s", code, bytes.TrimSpace(body)))
	default:
		s.accepted[seq].Store(time.Now().UnixNano())
		s.sent.Add(1)
	}
}

// burst sends events 0..n-1 of s from conc concurrent callers, each
// sending its next event as soon as the previous one is accepted. With
// several clients (several nodes), callers spread over them.
func burst(ctx context.Context, clients []*client, s *stream, n, conc int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range conc {
		c := clients[w%len(clients)]
		wg.Go(func() {
			for ctx.Err() == nil {
				seq := int(next.Add(1) - 1)
				if seq >= n {
					return
				}
				send(ctx, c, s, seq)
			}
		})
	}
	wg.Wait()
}

// paced sends rate events per second of s for d (events first..first+
// rate*d-1), whatever the answers' pace: each is due at its own time, and
// up to conc are in flight, so a slow answer does not slow the schedule.
func paced(ctx context.Context, clients []*client, s *stream, first, rate int, d time.Duration, conc int) {
	total := pacedCount(rate, d)
	due := make(chan int, 4096)
	var wg sync.WaitGroup
	for w := range conc {
		c := clients[w%len(clients)]
		wg.Go(func() {
			for seq := range due {
				send(ctx, c, s, first+seq)
			}
		})
	}
	start := time.Now()
	for seq := 0; seq < total && ctx.Err() == nil; {
		for upTo := min(total, int(time.Since(start).Seconds()*float64(rate))+1); seq < upTo; seq++ {
			due <- seq
		}
		time.Sleep(time.Millisecond)
	}
	close(due)
	wg.Wait()
}

func pacedCount(rate int, d time.Duration) int { return max(1, int(float64(rate)*d.Seconds())) }

// measureCeiling drives the receiver directly with a plain Go client, with
// the same concurrency and a request of the size Herald sends, for d: the
// requests per second this machine manages without Herald in between.
func measureCeiling(ctx context.Context, rc *receiver, conc int, d time.Duration) (float64, int64, error) {
	return drive(ctx, rc, rc.url, conc, d)
}

// measureRelay puts a plain Go relay between the same clients and the
// receiver: it reads each request, posts its body to the receiver over a
// keep-alive connection and answers 202 once the receiver has answered. It
// stores nothing. Any webhook sender does at least this much per event
// (one request in, one out), so its requests/s is the most a sender can
// reach on this machine, whatever its store.
func measureRelay(ctx context.Context, rc *receiver, conc int, d time.Duration) (float64, int64, error) {
	out := newClient(rc.url, "", conc)
	defer out.close()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		code, _, err := out.do(r.Context(), "POST", r.URL.Path, body)
		if err != nil || code != http.StatusOK {
			http.Error(w, "receiver failed", http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	return drive(ctx, rc, "http://"+ln.Addr().String(), conc, d)
}

// drive posts a delivery-sized body to base's /ceiling from conc clients
// for d, and returns the requests/s the receiver got meanwhile and the
// calls not answered 200 or 202.
func drive(ctx context.Context, rc *receiver, base string, conc int, d time.Duration) (float64, int64, error) {
	c := newClient(base, "", conc)
	defer c.close()
	body := []byte(`{"type":"` + eventType + `","timestamp":"2026-01-01T00:00:00.000Z","data":` + payload(1) + `}`)
	// Warm up the connections first, so that dialing is not measured.
	for range 2 {
		_, _, _ = c.do(ctx, "POST", "/ceiling", body)
	}
	var failed atomic.Int64
	stop := time.Now().Add(d)
	start := time.Now()
	before := rc.ceiling.Load()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for time.Now().Before(stop) && ctx.Err() == nil {
				code, _, err := c.do(ctx, "POST", "/ceiling", body)
				if err != nil || code != http.StatusOK && code != http.StatusAccepted {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	n := rc.ceiling.Load() - before
	return float64(n) / elapsed.Seconds(), failed.Load(), nil
}
