package bench_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNATS runs the nats scenario small against the NATS with JetStream
// on 127.0.0.1:4222: Herald's row, its drain row and the ceiling's each
// have every message in their stream, Herald's ratios are set against the
// ceiling, and the streams are gone afterwards. It checks no speed. Outside CI it
// skips without NATS; in CI (HERALD_CI set) it fails.
func TestNATS(t *testing.T) {
	const addr = "127.0.0.1:4222"
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("HERALD_CI") != "" {
			t.Fatalf("NATS is not running on %s: %v", addr, err)
		}
		t.Skipf("NATS is not running on %s: %v", addr, err)
	}
	c.Close()

	rep, out := runBench(t, "--scenario", "nats", "--quick", "--concurrency", "8", "--nats-url", "nats://"+addr)
	if len(rep.Scenarios) != 1 {
		t.Fatalf("want one scenario:\n%s", out)
	}
	sc := rep.Scenarios[0]
	if sc.Name != "nats" || sc.Error != "" || sc.Skipped != "" || len(sc.Rows) != 3 {
		t.Fatalf("want nats with three rows, no error:\n%s", out)
	}
	for _, r := range sc.Rows {
		if r.Events != 300 || r.Deliveries != r.Events || r.DeliveriesExpected != r.Events || r.Errors != 0 {
			t.Errorf("%s: %d events, %d/%d deliveries, %d errors; want 300 of each, no error", r.Case, r.Events, r.Deliveries, r.DeliveriesExpected, r.Errors)
		}
		if r.DeliveriesPerSec <= 0 || r.Ratio == nil || *r.Ratio <= 0 {
			t.Errorf("%s: %v deliveries/s, ratio %v", r.Case, r.DeliveriesPerSec, r.Ratio)
		}
	}
	for _, h := range sc.Rows[1:] {
		if !strings.HasPrefix(h.Case, "herald") || h.ServerRSS <= 0 {
			t.Errorf("row %q has no server figures (rss %v)", h.Case, h.ServerRSS)
		}
	}
	for _, c := range []string{"ceiling: nats.go → JetStream", "herald drain: backlog → JetStream"} {
		if !strings.Contains(out, c) {
			t.Errorf("no row %q in the table:\n%s", c, out)
		}
	}

	// The run deletes what it made: no stream named in its notes is left.
	var streams []string
	for _, n := range sc.Notes {
		if rest, ok := strings.CutPrefix(n, "streams "); ok {
			rest, _, _ = strings.Cut(rest, " deleted")
			streams = strings.Split(rest, ", ")
		}
	}
	if len(streams) != 3 {
		t.Fatalf("the notes do not name the three streams: %q", sc.Notes)
	}
	nc, err := nats.Connect("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range streams {
		if _, err := js.Stream(ctx, name); err == nil {
			t.Errorf("stream %s is still there", name)
			_ = js.DeleteStream(ctx, name)
		}
	}
}

// TestNATSUnreachable: the nats scenario asked for by name where no NATS
// answers is skipped with the reason, and the run does not fail.
func TestNATSUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port nobody listens on
	rep, out := runBench(t, "--scenario", "nats", "--quick", "--concurrency", "8", "--nats-url", "nats://"+addr)
	if len(rep.Scenarios) != 1 || !strings.Contains(rep.Scenarios[0].Skipped, "NATS is not reachable at nats://"+addr) {
		t.Fatalf("want nats skipped as unreachable:\n%s", out)
	}
}
