//go:build chaos

package chaos

import (
	"math/rand/v2"
	"time"

	"testing"
)

// TestSQLiteKill: one herald serve on SQLite under steady load is killed
// with SIGKILL at random moments and restarted on the same data dir, again
// and again; at the end every event answered 202 must have arrived.
func TestSQLiteKill(t *testing.T) {
	kills := envInt(t, "HERALD_CHAOS_KILLS", 50)
	rate := envInt(t, "HERALD_CHAOS_RATE", 100)
	began := time.Now()
	l := newLedger()
	rc := newReceiver(t, l, 0, nil)
	n := newNode(t, "sqlite", t.TempDir())
	n.startReady()
	setupApp(t, n.url, "chaos", "chaos.event", rc.url+"/ok")

	ld := &load{l: l, targets: func() []*node { return []*node{n} }, app: "chaos", eventType: "chaos.event",
		prefix: "k", rate: rate, conc: 16, pad: 256, timeout: 10 * time.Second}
	ld.start()
	var ready, firstDelivery []time.Duration
	noDelivery := 0
	restarts := make([]time.Time, 0, kills)
	for i := range kills {
		// Let it run for a random moment, so that kills land anywhere:
		// in a commit, in a send, in recording an attempt.
		time.Sleep(time.Duration(150+rand.IntN(650)) * time.Millisecond)
		n.kill()
		restartAt := time.Now()
		restarts = append(restarts, restartAt)
		n.start()
		d, err := n.waitReady(30 * time.Second)
		if err != nil {
			ld.stop()
			t.Fatalf("restart %d: %v", i+1, err)
		}
		ready = append(ready, d)
	}
	time.Sleep(time.Second)
	ld.stop()
	drain, ok := l.waitDrained(2 * time.Minute)
	// Time to first delivery after each restart: from the start of the new
	// process to the first request the receiver got from it (none if the
	// next kill came first).
	for i, at := range restarts {
		first := l.firstArrivalAfter(at)
		if first.IsZero() || i+1 < len(restarts) && first.After(restarts[i+1]) {
			noDelivery++
			continue
		}
		firstDelivery = append(firstDelivery, first.Sub(at))
	}
	r := &result{Scenario: "sqlite-kill"}
	l.fillCounts(r)
	r.Recovery = map[string]stats{"ready_after_restart": summarize(ready), "first_delivery_after_restart": summarize(firstDelivery)}
	r.Figures = map[string]any{"kills": kills, "rate": rate, "drain_s": drain.Round(100 * time.Millisecond).Seconds(),
		"restarts_without_delivery_before_next_kill": noDelivery,
		"duplicate_rate_pct":                         pct(r.Duplicates, r.Delivered)}
	report(t, r, l, began)
	if !ok {
		t.Errorf("the backlog did not drain within 2 minutes")
	}
	n.stop(10 * time.Second)
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(int(float64(a)/float64(b)*10000)) / 100
}
