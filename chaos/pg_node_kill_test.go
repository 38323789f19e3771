//go:build chaos

package chaos

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// testDatabase is a throw-away database of this test's own.
func testDatabase(t *testing.T) string { return heraldtest.PostgresDatabase(t, "herald_chaos_") }

// TestPGNodeKill: two nodes on one PostgreSQL database under load; one is
// killed with SIGKILL, by turns, and restarted. Takeover time is, for each
// delivery the dead node held (queued: of an event it accepted, not yet
// received; in flight: received, not yet answered), the time from the kill
// until the survivor sends it.
func TestPGNodeKill(t *testing.T) {
	dbURL := testDatabase(t)
	kills := envInt(t, "HERALD_CHAOS_NODE_KILLS", 3)
	rate := envInt(t, "HERALD_CHAOS_NODE_RATE", 40)
	flags, lease, limit := leaseFlags(t)
	began := time.Now()
	l := newLedger()
	// The receiver answers after 500 ms, so that a node always holds
	// deliveries in flight when it dies.
	rc := newReceiver(t, l, 500*time.Millisecond, nil)
	args := append([]string{"--database-url", dbURL, "--encryption-key", encryptionKey}, flags...)
	nodes := []*node{newNode(t, "node-a", t.TempDir(), args...), newNode(t, "node-b", t.TempDir(), args...)}
	nodes[0].startReady()
	nodes[1].startReady()
	setupApp(t, nodes[0].url, "chaos", "chaos.event", rc.url+"/ok")
	// A burst to an endpoint answering in 2 s just before each kill
	// leaves the node a queue in memory besides what it has in flight.
	burstN := envInt(t, "HERALD_CHAOS_NODE_BURST", 40)
	rc.mux.HandleFunc("/slow", rc.recorder(2*time.Second))
	call(t, nodes[0].url, "POST", "/v1/apps/chaos/endpoints",
		map[string]any{"url": rc.url + "/slow", "event_types": []string{"chaos.burst"}}, http.StatusCreated)
	burstClient := &http.Client{Timeout: 30 * time.Second}

	ld := &load{l: l, app: "chaos", eventType: "chaos.event", prefix: "n", rate: rate, conc: 16, pad: 256,
		targets: func() []*node {
			var live []*node
			for _, n := range nodes {
				if n.running() {
					live = append(live, n)
				}
			}
			return live
		}}
	ld.start()
	var takeover, queued, resent, perKill []time.Duration
	heldQueued, heldInFlight := 0, 0
	for i := range kills {
		time.Sleep(3 * time.Second)
		victim := nodes[i%2]
		bl := &load{l: l, targets: func() []*node { return []*node{victim} }, app: "chaos",
			eventType: "chaos.burst", prefix: "b" + strconv.Itoa(i), pad: 256}
		var wg sync.WaitGroup
		for j := range burstN {
			wg.Go(func() { bl.send(burstClient, int64(j)) })
		}
		wg.Wait()
		// What the node holds when it dies: the deliveries of events it
		// accepted that have not reached the receiver (queued), and those
		// the receiver has but not yet answered (in flight), which the
		// survivor sends again.
		l.mu.Lock()
		victim.kill()
		killedAt := time.Now()
		var pending, inflight []string
		for k, acc := range l.accepted {
			if _, ok := l.arrived[k]; !ok && l.via[k] == victim.name && acc.Before(killedAt) {
				pending = append(pending, k)
			}
		}
		// Which node sent a request under way is told by its answer: one
		// whose sender is gone was the victim's (either node may send
		// deliveries of events the other accepted).
		for id := range l.inflight {
			inflight = append(inflight, id)
		}
		l.mu.Unlock()
		heldQueued += len(pending)
		taken := func() (done bool, delays []time.Duration, q, rs []time.Duration) {
			l.mu.Lock()
			defer l.mu.Unlock()
			done = true
			for _, k := range pending {
				at, ok := l.arrived[k]
				if !ok {
					done = false
					continue
				}
				q = append(q, at.Sub(killedAt))
			}
			for _, id := range inflight {
				gone, ok := l.goneAt[id]
				if !ok || !gone.After(killedAt) {
					if at, ok := l.answeredLive[id]; ok && at.After(killedAt) {
						// Under way from the live node, and answered
						// to it: not the victim's to hand over.
						continue
					}
					// Not answered yet: whose it was is not known.
					done = false
					continue
				}
				var again time.Time
				for _, at := range l.ids[id] {
					if at.After(killedAt) {
						again = at
						break
					}
				}
				if again.IsZero() {
					done = false
					continue
				}
				rs = append(rs, again.Sub(killedAt))
			}
			return done, append(slices.Clone(q), rs...), q, rs
		}
		ok := waitFor(limit, func() bool { done, _, _, _ := taken(); return done })
		_, delays, q, rs := taken()
		heldInFlight += len(rs)
		takeover = append(takeover, delays...)
		queued = append(queued, q...)
		resent = append(resent, rs...)
		last := slices.Max(append(delays, 0))
		perKill = append(perKill, last)
		t.Logf("kill %d of %s: it held %d queued and %d in flight; the last taken over %s after the kill",
			i+1, victim.name, len(pending), len(rs), last.Round(time.Millisecond))
		if !ok {
			ld.stop()
			t.Fatalf("kill %d: the dead node's deliveries were not taken over within %s", i+1, limit)
		}
		victim.start()
		if _, err := victim.waitReady(30 * time.Second); err != nil {
			ld.stop()
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	ld.stop()
	drain, drained := l.waitDrained(limit)
	r := &result{Scenario: "pg-node-kill"}
	l.fillCounts(r)
	r.Recovery = map[string]stats{"takeover": summarize(takeover), "takeover_queued": summarize(queued),
		"takeover_in_flight": summarize(resent), "takeover_last_per_kill": summarize(perKill)}
	r.Figures = map[string]any{"kills": kills, "rate": rate, "lease": lease, "burst": burstN,
		"held_queued": heldQueued, "held_in_flight": heldInFlight,
		"drain_s": drain.Round(100 * time.Millisecond).Seconds(), "duplicate_rate_pct": pct(r.Duplicates, r.Delivered),
		"answers_sender_gone": l.senderGoneCount()}
	report(t, r, l, began)
	if !drained {
		t.Errorf("the backlog did not drain within %s", limit)
	}
	if envOn("HERALD_CHAOS_ASSERT_TAKEOVER") {
		if s := summarize(takeover); s.P99MS > 20000 {
			t.Errorf("takeover p99 %.0f ms, want at most 20 s", s.P99MS)
		}
	}
	for _, n := range nodes {
		n.stop(10 * time.Second)
	}
}
