package bench

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// stream is one app's events: when each was accepted (its 202 came back)
// and, for each of its endpoints, when it first reached the receiver.
// Events are numbered 0..capacity-1 by the "seq" of their payload, so
// plain arrays replace maps and the hot path takes no lock.
type stream struct {
	name      string
	capacity  int
	endpoints int
	slowEP    int           // the endpoint that answers after slowDelay; -1 for none
	allSlow   bool          // every endpoint answers after slowDelay (hostile-tenant's app A)
	slowDelay time.Duration //
	down      atomic.Bool   // answer 503 to everything (backlog's pile-up)
	// hangFrom > 0: endpoints hangFrom and up answer at once until hang
	// is set, then hold every request until Herald gives up on it
	// (hanging-endpoints); they count as slow.
	hangFrom int
	hang     atomic.Bool
	// payloadBytes is the size of each event's payload; 0: payloadSize.
	payloadBytes int
	// settings are set on each of the stream's endpoints when created.
	settings map[string]any
	// keys > 0: event seq carries ordering_key "k<seq%keys>", and the
	// receiver checks that each event of a key arrives after the one
	// before it (ordered).
	keys int

	requests   atomic.Int64 // requests received (a batch is one)
	outOfOrder atomic.Int64 // events that arrived before their key's previous one

	accepted []atomic.Int64 // unix ns of the 202, by seq
	arrived  []atomic.Int64 // unix ns of the first arrival, by ep*capacity+seq

	sent     atomic.Int64 // events answered 202
	errors   atomic.Int64 // events refused or failed, and malformed deliveries
	unique   atomic.Int64 // deliveries to healthy endpoints, each counted once
	dups     atomic.Int64 // deliveries that arrived again (at least once)
	slowHits atomic.Int64 // requests that reached the slow endpoint(s)
	slowNow  atomic.Int64 // requests the slow endpoint(s) hold now
	slowPeak atomic.Int64 // the most they held at once
	refused  atomic.Int64 // requests answered 503 while down

	errMu  sync.Mutex
	errMsg string // the first error, to show what went wrong
}

func newStream(name string, capacity, endpoints int) *stream {
	return &stream{name: name, capacity: capacity, endpoints: endpoints, slowEP: -1,
		accepted: make([]atomic.Int64, capacity), arrived: make([]atomic.Int64, capacity*endpoints)}
}

func (s *stream) fail(msg string) {
	s.errors.Add(1)
	s.errMu.Lock()
	if s.errMsg == "" {
		s.errMsg = msg
	}
	s.errMu.Unlock()
}

func (s *stream) firstError() string {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.errMsg
}

// healthy is how many endpoints answer at once.
func (s *stream) healthy() int {
	switch {
	case s.allSlow:
		return 0
	case s.slowEP >= 0:
		return s.endpoints - 1
	case s.hangFrom > 0:
		return s.hangFrom
	}
	return s.endpoints
}

// slow reports whether endpoint ep answers after slowDelay.
func (s *stream) slow(ep int) bool {
	return s.allSlow || ep == s.slowEP || (s.hangFrom > 0 && ep >= s.hangFrom)
}

// latencies returns the end-to-end latency of every delivery to a healthy
// endpoint, sorted: arrival minus the 202. A delivery may arrive before
// its 202 reaches the client; that counts as 0.
func (s *stream) latencies() []time.Duration { return s.latenciesOf(0, s.capacity) }

// latenciesOf is latencies of the events from seq first to seq end
// (excluded), sorted.
func (s *stream) latenciesOf(first, end int) []time.Duration {
	out := make([]time.Duration, 0, end-first)
	for ep := range s.endpoints {
		if s.slow(ep) {
			continue
		}
		for seq := first; seq < end; seq++ {
			at := s.arrived[ep*s.capacity+seq].Load()
			acc := s.accepted[seq].Load()
			if at == 0 || acc == 0 {
				continue
			}
			out = append(out, time.Duration(max(0, at-acc)))
		}
	}
	slices.Sort(out)
	return out
}

// lastArrival is when the last delivery to a healthy endpoint arrived.
func (s *stream) lastArrival() time.Time {
	var last int64
	for i := range s.arrived {
		if ep := i / s.capacity; !s.slow(ep) {
			last = max(last, s.arrived[i].Load())
		}
	}
	return time.Unix(0, last)
}

// lastAccept is when the last 202 came back.
func (s *stream) lastAccept() time.Time {
	var last int64
	for i := range s.accepted {
		last = max(last, s.accepted[i].Load())
	}
	return time.Unix(0, last)
}

// receiver is the HTTP server on 127.0.0.1 that every endpoint points at:
// /r/{stream}/{endpoint}. It also answers /ceiling, which the plain
// client drives to measure what the machine itself can do.
type receiver struct {
	url     string
	srv     *http.Server
	streams sync.Map // name → *stream
	closing chan struct{}
	ceiling atomic.Int64
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{url: "http://" + ln.Addr().String(), closing: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/r/{stream}/{ep}", rc.deliver)
	mux.HandleFunc("/ceiling", rc.ceilingHit)
	rc.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

func (rc *receiver) close() {
	close(rc.closing)
	_ = rc.srv.Close()
}

func (rc *receiver) add(s *stream) { rc.streams.Store(s.name, s) }

func (rc *receiver) remove(s *stream) { rc.streams.Delete(s.name) }

func (rc *receiver) endpointURL(s *stream, ep int) string {
	return rc.url + "/r/" + s.name + "/" + strconv.Itoa(ep)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// deliver records one delivery. The body is read to the end whatever the
// answer, so that Herald's connection is reused as it would be with any
// well-behaved receiver.
func (rc *receiver) deliver(w http.ResponseWriter, r *http.Request) {
	now := time.Now().UnixNano()
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	_, err := buf.ReadFrom(r.Body)
	v, ok := rc.streams.Load(r.PathValue("stream"))
	if !ok || err != nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	s := v.(*stream)
	ep, err := strconv.Atoi(r.PathValue("ep"))
	if err != nil || ep < 0 || ep >= s.endpoints {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if s.down.Load() {
		s.refused.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	s.requests.Add(1)
	body := buf.Bytes()
	if len(body) > 0 && body[0] == '[' {
		// A batch: one element per delivery, each with its payload's seq.
		// A slow endpoint is never batched.
		n := 0
		for {
			seq, rest, ok := nextSeq(body)
			if !ok {
				break
			}
			body, n = rest, n+1
			if seq >= s.capacity {
				s.fail("a batch element with an unknown seq")
				continue
			}
			s.record(ep, seq, now)
		}
		if n == 0 {
			s.fail("a batch without a known seq: " + string(buf.Bytes()[:min(buf.Len(), 120)]))
			w.WriteHeader(http.StatusBadRequest)
		}
		return
	}
	seq, ok := parseSeq(body)
	if !ok || seq >= s.capacity {
		s.fail("a delivery without a known seq: " + string(buf.Bytes()[:min(buf.Len(), 120)]))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if s.slow(ep) {
		s.slowHits.Add(1)
		if s.hangFrom > 0 && !s.hang.Load() {
			return // not hanging yet: answered at once
		}
		n := s.slowNow.Add(1)
		defer s.slowNow.Add(-1)
		for p := s.slowPeak.Load(); n > p && !s.slowPeak.CompareAndSwap(p, n); p = s.slowPeak.Load() {
		}
		t := time.NewTimer(s.slowDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-rc.closing:
		case <-r.Context().Done():
		}
		return
	}
	s.record(ep, seq, now)
}

// record counts the arrival of event seq at endpoint ep. With keys, the
// key's previous event (seq-keys), accepted before this one was sent,
// must have arrived already: Herald sends a key's next delivery only once
// the last one is answered.
func (s *stream) record(ep, seq int, now int64) {
	if !s.arrived[ep*s.capacity+seq].CompareAndSwap(0, now) {
		s.dups.Add(1)
		return
	}
	s.unique.Add(1)
	if prev := seq - s.keys; s.keys > 0 && prev >= 0 && s.accepted[prev].Load() != 0 && s.arrived[ep*s.capacity+prev].Load() == 0 {
		s.outOfOrder.Add(1)
		s.fail(fmt.Sprintf("out of order: event %d of key k%d arrived before event %d", seq, seq%s.keys, prev))
	}
}

// nextSeq finds the next "seq" in b and returns it with the rest of b.
func nextSeq(b []byte) (int, []byte, bool) {
	i := bytes.Index(b, seqKey)
	if i < 0 {
		return 0, nil, false
	}
	seq, ok := parseSeq(b[i:])
	return seq, b[i+len(seqKey):], ok
}

// ceilingHit does the same work as deliver for a request of the same
// size, minus the bookkeeping of one array slot.
func (rc *receiver) ceilingHit(w http.ResponseWriter, r *http.Request) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	_, _ = buf.ReadFrom(r.Body)
	if _, ok := parseSeq(buf.Bytes()); !ok {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.ceiling.Add(1)
}

var seqKey = []byte(`"seq":`)

// parseSeq finds the payload's "seq" without decoding the whole body: the
// body is Herald's default {"type","timestamp","data"} around the payload.
func parseSeq(b []byte) (int, bool) {
	i := bytes.Index(b, seqKey)
	if i < 0 {
		return 0, false
	}
	b = b[i+len(seqKey):]
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	n, digits := 0, 0
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		digits++
		if digits > 12 {
			return 0, false
		}
	}
	return n, digits > 0
}
