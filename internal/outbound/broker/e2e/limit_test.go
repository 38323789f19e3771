package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/outbound/broker/brokertest"
)

// natsWatch reads the NATS protocol passing through a proxy and counts
// the JetStream publishes to one subject still waiting for their ack; it
// holds each ack back a while, so that publishes that may overlap do.
type natsWatch struct {
	subject string
	delay   time.Duration

	mu                   sync.Mutex
	waiting, most, begun int
}

func (w *natsWatch) begin() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting++
	w.begun++
	w.most = max(w.most, w.waiting)
}

func (w *natsWatch) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting > 0 {
		w.waiting--
	}
}

func (w *natsWatch) counts() (most, begun int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.most, w.begun
}

// pipe forwards one direction frame by frame: a line, and for PUB, HPUB,
// MSG and HMSG the payload its last field sizes.
func (w *natsWatch) pipe(dst io.Writer, src io.Reader, toBroker bool) {
	r := bufio.NewReaderSize(src, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			_, _ = dst.Write(line)
			return
		}
		frame := line
		if f := strings.Fields(string(line)); len(f) >= 3 {
			switch op := strings.ToUpper(f[0]); op {
			case "PUB", "HPUB", "MSG", "HMSG":
				n, err := strconv.Atoi(f[len(f)-1])
				if err != nil || n < 0 || n > 8<<20 {
					return
				}
				payload := make([]byte, n+2)
				if _, err := io.ReadFull(r, payload); err != nil {
					return
				}
				frame = append(line, payload...)
				// A publish with a reply subject is one JetStream awaits
				// an ack for; its ack comes back on the reply inbox.
				withReply := (op == "PUB" && len(f) == 4) || (op == "HPUB" && len(f) == 5)
				if toBroker && withReply && f[1] == w.subject {
					w.begin()
				}
				if !toBroker && strings.HasPrefix(f[1], "_INBOX.") {
					time.Sleep(w.delay)
					// Counted off before Herald can read it: a publish
					// it sends after this one's ack never overlaps it.
					w.end()
				}
			}
		}
		if _, err := dst.Write(frame); err != nil {
			return
		}
	}
}

// An endpoint's max_in_flight bounds the publishes it has waiting for an
// acknowledgement while 20 events flow; a higher limit lets them overlap,
// which shows that the watch would see it.
func TestE2EEndpointLimit(t *testing.T) {
	for _, c := range []struct {
		limit   int
		bounded bool
	}{{1, true}, {4, false}} {
		t.Run(fmt.Sprintf("nats/max_in_flight_%d", c.limit), func(t *testing.T) {
			t.Parallel()
			stream, subject, _, read := natsStream(t, true)
			w := &natsWatch{subject: subject, delay: 40 * time.Millisecond}
			p := brokertest.NewProxyWith(t, natsAddr, w.pipe)
			s := startHerald(t)
			_, secret := endpoint(t, s, "nats", map[string]any{"url": "nats://" + p.Addr(), "subject": subject, "stream": stream},
				map[string]any{"max_in_flight": c.limit})
			var evs []string
			for i := range 20 {
				evs = append(evs, s.Send(map[string]any{"n": i}))
			}
			var ids []string
			for _, ev := range evs {
				d := waitFor(t, s, ev, "success", 60*time.Second, succeeded)
				ids = append(ids, d.ID)
			}
			tg := &target{read: read}
			for _, m := range collect(t, tg, ids, 20*time.Second) {
				verifySigned(t, secret, m)
			}
			most, begun := w.counts()
			if begun < 20 {
				t.Fatalf("the watch saw %d publishes of 20", begun)
			}
			if c.bounded && most > c.limit {
				t.Errorf("%d publishes awaited their ack at once, limit %d", most, c.limit)
			}
			if !c.bounded && most < 2 {
				t.Errorf("with limit %d no publishes overlapped (at most %d at once): the watch sees no concurrency", c.limit, most)
			}
			t.Logf("limit %d: at most %d publishes awaiting their ack, %d publishes", c.limit, most, begun)
		})
	}
}
