package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// orderingEvents is how many events of each key the ordering tests send:
// the 200 (about 15 s on SQLite, 20 s on two PostgreSQL nodes),
// or HERALD_ORDERING_EVENTS.
func orderingEvents(t *testing.T) int {
	if v := os.Getenv("HERALD_ORDERING_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("HERALD_ORDERING_EVENTS=%q: want a positive count", v)
		}
		return n
	}
	return 200
}

const orderingKeys = 10

// orderedReceiver answers 500 to about 30 % of requests (at most a few
// times per delivery, so that none fails for good) and checks what a
// receiver of ordered deliveries relies on: per key, the events it
// accepts come in the order they were sent, and no two requests of one key
// are open at once. It drops a delivery it already accepted (the same
// webhook-id, sent again after a crash), as receivers do.
type orderedReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	open     map[string]int      // key -> requests in progress
	next     map[string]int      // key -> next seq expected
	accepted map[string]bool     // webhook-id -> accepted
	failures map[string]int      // webhook-id -> 500s answered
	arrival  []string            // keys of accepted events, in arrival order
	problems []string            // what went wrong
	perKey   map[string][]string // key -> seqs accepted, for messages
	total    int
	dups     int
}

func newOrderedReceiver(t *testing.T) *orderedReceiver {
	rc := &orderedReceiver{open: map[string]int{}, next: map[string]int{}, accepted: map[string]bool{},
		failures: map[string]int{}, perKey: map[string][]string{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *orderedReceiver) serve(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data struct {
			Key string `json:"key"`
			Seq int    `json:"seq"`
		} `json:"data"`
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id, key, seq := r.Header.Get("webhook-id"), body.Data.Key, body.Data.Seq
	rc.mu.Lock()
	rc.open[key]++
	if rc.open[key] > 1 {
		rc.problems = append(rc.problems, fmt.Sprintf("key %s: %d requests open at once (seq %d)", key, rc.open[key], seq))
	}
	rc.mu.Unlock()
	// A moment in flight, so that a second request of the key, were it
	// sent, would overlap this one.
	time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.open[key]--
	if rc.accepted[id] {
		rc.dups++
		return
	}
	if rc.failures[id] < 4 && rand.IntN(10) < 3 {
		rc.failures[id]++
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	rc.accepted[id] = true
	if seq != rc.next[key] {
		rc.problems = append(rc.problems, fmt.Sprintf("key %s: got seq %d, want %d", key, seq, rc.next[key]))
	}
	rc.next[key] = seq + 1
	rc.perKey[key] = append(rc.perKey[key], strconv.Itoa(seq))
	rc.arrival = append(rc.arrival, key)
	rc.total++
}

func (rc *orderedReceiver) received() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.total
}

// check fails t with what went wrong, and when the keys did not go in
// parallel: the arrivals must switch keys often, not drain one key after
// the other.
func (rc *orderedReceiver) check(t *testing.T, want int) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, p := range rc.problems[:min(len(rc.problems), 20)] {
		t.Error(p)
	}
	if rc.total != want {
		t.Errorf("accepted %d events, want %d", rc.total, want)
	}
	switches := 0
	for i := 1; i < len(rc.arrival); i++ {
		if rc.arrival[i] != rc.arrival[i-1] {
			switches++
		}
	}
	if switches < len(rc.arrival)/4 {
		t.Errorf("keys were not interleaved: %d key switches over %d arrivals", switches, len(rc.arrival))
	}
	t.Logf("%d events over %d keys, %d key switches, %d duplicates dropped", rc.total, len(rc.next), switches, rc.dups)
}

// waitReceived waits until rc accepted n events.
func (rc *orderedReceiver) waitReceived(t *testing.T, n int, within time.Duration, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for rc.received() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events received within %v\n%s", rc.received(), n, within, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// setUpOrdered creates the app, event type and an endpoint of rc with a
// short retry schedule on p.
func setUpOrdered(t *testing.T, p *proc, rc *orderedReceiver, extra map[string]any) string {
	p.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	p.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "msg.sent"}, 201)
	ep := map[string]any{"url": rc.srv.URL, "retry_schedule": "50ms,50ms,50ms,50ms,50ms,50ms", "max_in_flight": 8}
	for k, v := range extra {
		ep[k] = v
	}
	var created struct{ ID string }
	if err := json.Unmarshal(p.mustCall(t, "POST", "/v1/apps/acme/endpoints", ep, 201), &created); err != nil {
		t.Fatal(err)
	}
	return created.ID
}

// sendOrdered sends per events of each of orderingKeys keys, each key's
// in order from its own goroutine (so that keys interleave), each event
// to the next of nodes in turn; midway (after half the events were
// accepted) it calls halfway once.
func sendOrdered(t *testing.T, nodes func() []*proc, per int, keyed bool, halfway func()) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	var once sync.Once
	errs := make(chan error, orderingKeys)
	for k := range orderingKeys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("conv-%d", k)
			for i := range per {
				ev := map[string]any{"event_type": "msg.sent", "payload": map[string]any{"key": key, "seq": i, "conversation": map[string]any{"id": key}}}
				if keyed {
					ev["ordering_key"] = key
				}
				ns := nodes()
				p := ns[(k+i)%len(ns)]
				var code int
				var b []byte
				var err error
				// A node being killed may drop the request, or its answer:
				// it is sent again with the same Idempotency-Key until a
				// 202, and only then is the next one of its key sent.
				for try := 0; ; try++ {
					code, b, err = p.postIdempotent("/v1/apps/acme/events", fmt.Sprintf("%s-%d", key, i), ev)
					if err == nil && code == 202 {
						break
					}
					if try == 50 {
						errs <- fmt.Errorf("event %s/%d: %d %v %s", key, i, code, err, b)
						return
					}
					time.Sleep(100 * time.Millisecond)
					ns = nodes()
					p = ns[(k+i+try+1)%len(ns)]
				}
				mu.Lock()
				sent++
				half := sent == orderingKeys*per/2
				mu.Unlock()
				if half && halfway != nil {
					once.Do(halfway)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestOrderingKeysRandomFailuresAndKill: on SQLite, 10 keys of events sent
// in parallel reach a receiver that fails a third of the requests, each
// key in order and one request at a time, the keys interleaved; the server
// is SIGKILLed midway and started again on its data, and the order holds
// across the crash.
func TestOrderingKeysRandomFailuresAndKill(t *testing.T) {
	per := orderingEvents(t)
	rc := newOrderedReceiver(t)
	dir := t.TempDir()
	var mu sync.Mutex
	h := startHerald(t, dir, "--min-retry-delay", "10ms")
	nodes := func() []*proc { mu.Lock(); defer mu.Unlock(); return []*proc{h} }
	setUpOrdered(t, h, rc, nil)

	sendOrdered(t, nodes, per, true, func() {
		mu.Lock()
		old := h
		mu.Unlock()
		if err := old.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Error(err)
		}
		<-old.done
		restarted := startHerald(t, dir, "--min-retry-delay", "10ms")
		mu.Lock()
		h = restarted
		mu.Unlock()
	})
	rc.waitReceived(t, orderingKeys*per, 3*time.Minute, func() string { return nodes()[0].log() })
	rc.check(t, orderingKeys*per)
}

// TestOrderingKeysTemplate: an endpoint's ordering_key_template orders
// events that carry no key.
func TestOrderingKeysTemplate(t *testing.T) {
	per := 20
	rc := newOrderedReceiver(t)
	h := startHerald(t, t.TempDir(), "--min-retry-delay", "10ms")
	setUpOrdered(t, h, rc, map[string]any{"ordering_key_template": "{{payload.conversation.id}}"})
	sendOrdered(t, func() []*proc { return []*proc{h} }, per, false, nil)
	rc.waitReceived(t, orderingKeys*per, 2*time.Minute, h.log)
	rc.check(t, orderingKeys*per)
	var list struct {
		Data []struct {
			OrderingKey string `json:"ordering_key"`
		}
	}
	if err := json.Unmarshal(h.mustCall(t, "GET", "/v1/apps/acme/deliveries?limit=1", nil, 200), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Data) != 1 || list.Data[0].OrderingKey == "" {
		t.Fatalf("the delivery does not show its rendered ordering key: %+v", list.Data)
	}
}

// TestClusterOrderingKeysNodeKilled: two nodes on one PostgreSQL database
// take the events of 10 keys in turn and send them to a receiver that
// fails at random; one node is SIGKILLed midway; the survivor finishes,
// and every key arrived in order, one request at a time.
func TestClusterOrderingKeysNodeKilled(t *testing.T) {
	db := testDatabase(t)
	per := orderingEvents(t)
	rc := newOrderedReceiver(t)
	a := startNode(t, db, "--min-retry-delay", "10ms")
	b := startNode(t, db, "--min-retry-delay", "10ms")
	var mu sync.Mutex
	live := []*proc{a, b}
	nodes := func() []*proc { mu.Lock(); defer mu.Unlock(); return live }
	setUpOrdered(t, a, rc, nil)

	sendOrdered(t, nodes, per, true, func() {
		mu.Lock()
		live = []*proc{b}
		mu.Unlock()
		// Killed while it holds deliveries, so that B has keys to take
		// over midway rather than a clean slate.
		waitLeased(t, db, a)
		if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Error(err)
		}
		<-a.done
	})
	// A was killed holding leased deliveries (waitLeased): every event
	// arriving means B sent those too, whether it took them over on A's
	// missed heartbeats or when their leases ran out, whichever came
	// first on a loaded machine.
	rc.waitReceived(t, orderingKeys*per, 3*time.Minute, b.log)
	rc.check(t, orderingKeys*per)
}

var nodeRE = regexp.MustCompile(`herald is listening" .* node=(\S+)`)

// waitLeased waits until node p holds a lease on a pending delivery.
func waitLeased(t *testing.T, dbURL string, p *proc) {
	m := nodeRE.FindStringSubmatch(p.log())
	if m == nil {
		t.Errorf("no node id in the log:\n%s", p.log())
		return
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(t.Context())
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM deliveries WHERE lease_owner = $1 AND status = 'pending'`, m[1]).Scan(&n); err != nil {
			t.Error(err)
			return
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("node %s held no delivery within 30 s", m[1])
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// postIdempotent posts body to path with an Idempotency-Key.
func (p *proc) postIdempotent(path, key string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", p.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// TestOrderingPauseAndSkip: on an endpoint with ordering_on_failure
// "pause", a delivery that failed for good holds the later ones of its
// key, which the endpoint's ordering list shows; skipping it lets them go,
// while other keys went on all along.
func TestOrderingPauseAndSkip(t *testing.T) {
	var mu sync.Mutex
	var got []string
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Data struct {
				Key string `json:"key"`
				Seq int    `json:"seq"`
			} `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		if body.Data.Key == "k" && body.Data.Seq == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		mu.Lock()
		got = append(got, fmt.Sprintf("%s%d", body.Data.Key, body.Data.Seq))
		mu.Unlock()
	}))
	defer rc.Close()
	received := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
	h := startHerald(t, t.TempDir(), "--min-retry-delay", "10ms")
	h.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	h.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "msg.sent"}, 201)
	var ep struct {
		ID                string `json:"id"`
		OrderingOnFailure string `json:"ordering_on_failure"`
	}
	if err := json.Unmarshal(h.mustCall(t, "POST", "/v1/apps/acme/endpoints",
		map[string]any{"url": rc.URL, "retry_schedule": "20ms", "ordering_on_failure": "pause"}, 201), &ep); err != nil {
		t.Fatal(err)
	}
	if ep.OrderingOnFailure != "pause" {
		t.Fatalf("ordering_on_failure %q, want pause", ep.OrderingOnFailure)
	}

	send := func(key string, seq int) string {
		var ev struct{ ID string }
		b := h.mustCall(t, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "msg.sent",
			"payload": map[string]any{"key": key, "seq": seq}, "ordering_key": key}, 202)
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		return ev.ID
	}
	send("k", 0)
	failedEvent := send("k", 1)
	send("k", 2)
	send("j", 0)
	send("j", 1)

	type blocked struct {
		OrderingOnFailure string `json:"ordering_on_failure"`
		Data              []struct {
			OrderingKey string `json:"ordering_key"`
			DeliveryID  string `json:"delivery_id"`
			Waiting     int    `json:"waiting"`
		} `json:"data"`
	}
	var list blocked
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := json.Unmarshal(h.mustCall(t, "GET", "/v1/apps/acme/endpoints/"+ep.ID+"/ordering", nil, 200), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Data) > 0 && len(received()) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no paused key within 30 s: %+v, received %v\n%s", list, received(), h.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(list.Data) != 1 || list.Data[0].OrderingKey != "k" || list.Data[0].Waiting != 1 {
		t.Fatalf("paused keys %+v, want k with 1 waiting", list.Data)
	}
	var d struct {
		EventID     string `json:"event_id"`
		Status      string `json:"status"`
		OrderingKey string `json:"ordering_key"`
	}
	if err := json.Unmarshal(h.mustCall(t, "GET", "/v1/apps/acme/deliveries/"+list.Data[0].DeliveryID, nil, 200), &d); err != nil {
		t.Fatal(err)
	}
	if d.EventID != failedEvent || d.Status != "failed" || d.OrderingKey != "k" {
		t.Fatalf("the blocking delivery is %+v, want the failed delivery of event %s, key k", d, failedEvent)
	}
	if r := received(); fmt.Sprint(r) != "[k0 j0 j1]" && fmt.Sprint(r) != "[j0 k0 j1]" && fmt.Sprint(r) != "[j0 j1 k0]" {
		t.Fatalf("received %v before the skip, want k0, j0 and j1 only, each key in order", r)
	}

	var page struct {
		Data []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal(h.mustCall(t, "GET", "/v1/apps/acme/deliveries?status=succeeded&limit=1", nil, 200), &page); err != nil || len(page.Data) != 1 {
		t.Fatalf("no succeeded delivery: %v %+v", err, page)
	}
	h.mustCall(t, "POST", "/v1/apps/acme/deliveries/"+page.Data[0].ID+"/skip", nil, 409)
	h.mustCall(t, "POST", "/v1/apps/acme/deliveries/dlv_unknown/skip", nil, 404)

	var skipped struct {
		Status  string `json:"status"`
		Skipped bool   `json:"skipped"`
	}
	if err := json.Unmarshal(h.mustCall(t, "POST", "/v1/apps/acme/deliveries/"+list.Data[0].DeliveryID+"/skip", nil, 200), &skipped); err != nil {
		t.Fatal(err)
	}
	if skipped.Status != "failed" || !skipped.Skipped {
		t.Fatalf("skipped delivery %+v, want failed and skipped", skipped)
	}
	deadline = time.Now().Add(30 * time.Second)
	for len(received()) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("k2 not sent within 30 s of the skip: received %v\n%s", received(), h.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := received(); r[3] != "k2" {
		t.Fatalf("received %v, want k2 last", r)
	}
	if err := json.Unmarshal(h.mustCall(t, "GET", "/v1/apps/acme/endpoints/"+ep.ID+"/ordering", nil, 200), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Data) != 0 {
		t.Fatalf("paused keys after the skip: %+v", list.Data)
	}
}
