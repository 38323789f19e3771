//go:build chaos

package chaos

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// smallDisk mounts a tmpfs of size (say "16m") on a new temp dir and
// unmounts it at cleanup. It needs root (CI runs as root); elsewhere the
// test skips.
func smallDisk(t *testing.T, size string) string {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir, err := os.MkdirTemp("", "herald-chaos-disk-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		t.Fatalf("mount a tmpfs of %s: %v: %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			return
		}
		os.Remove(dir)
	})
	return dir
}

// fill writes a file into dir that leaves about leave bytes free.
func fill(t *testing.T, dir string, leave int64) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for left := free - leave; left > 0; {
		n := min(left, int64(len(chunk)))
		if _, err := f.Write(chunk[:n]); err != nil {
			break // full already: that is what was wanted
		}
		left -= n
	}
	return path
}

// TestDiskFull: herald serve on SQLite on a 16 MiB tmpfs; a filler file
// takes nearly all the space and the load fills the rest. It reports the
// answers while full and /readyz, kills the server while the disk is full
// and restarts it, then removes the filler and checks that writes resume
// and that nothing answered 202 is lost.
func TestDiskFull(t *testing.T) {
	disk := smallDisk(t, "16m")
	began := time.Now()
	l := newLedger()
	rc := newReceiver(t, l, 0, nil)
	n := newNode(t, "sqlite", filepath.Join(disk, "data"), "--retry-schedule", "1s,2s,5s,10s,30s")
	n.startReady()
	setupApp(t, n.url, "chaos", "chaos.event", rc.url+"/ok")
	filler := fill(t, disk, 1<<20)

	ld := &load{l: l, targets: func() []*node { return []*node{n} }, app: "chaos", eventType: "chaos.event",
		prefix: "d", rate: 20, conc: 8, pad: 16 << 10, timeout: 15 * time.Second}
	ld.start()
	refused := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.calls) - l.statuses["202"]
	}
	full := waitFor(30*time.Second, func() bool { return refused() >= 20 })
	fullAt := time.Now()
	time.Sleep(2 * time.Second) // a while full, deliveries and all
	readyFull := status(n.url + "/readyz")
	readsFull := readStatus(n)

	// A crash while the disk is full, and a restart on it.
	n.kill()
	n.start()
	_, err := n.waitReady(15 * time.Second)
	startedFull := n.running() && status(n.url+"/healthz") == 200
	readyAfterRestart := status(n.url + "/readyz")
	if !startedFull {
		t.Logf("herald serve did not start on the full disk: %s", lastLine(err.Error()))
	}
	time.Sleep(2 * time.Second)

	// Space comes back.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freedAt := time.Now()
	if !n.running() {
		n.start()
	}
	resumed := waitFor(30*time.Second, func() bool { return !l.firstAcceptAfter(freedAt).IsZero() })
	readyAt := time.Time{}
	if waitFor(30*time.Second, func() bool { return status(n.url+"/readyz") == 200 }) {
		readyAt = time.Now()
	}
	time.Sleep(3 * time.Second)
	ld.stop()
	drain, drained := l.waitDrained(2 * time.Minute)

	r := &result{Scenario: "disk-full"}
	l.fillCounts(r)
	r.Recovery = map[string]stats{}
	if first := l.firstAcceptAfter(freedAt); !first.IsZero() {
		r.Recovery["space_back_to_first_202"] = summarize([]time.Duration{first.Sub(freedAt)})
	}
	if !readyAt.IsZero() {
		r.Recovery["space_back_to_ready"] = summarize([]time.Duration{readyAt.Sub(freedAt)})
	}
	r.Figures = map[string]any{"filled_s": fullAt.Sub(began).Round(100 * time.Millisecond).Seconds(),
		"readyz_while_full": readyFull, "reads_while_full": readsFull,
		"started_on_full_disk": startedFull, "readyz_after_restart_on_full_disk": readyAfterRestart,
		"drain_s": drain.Round(100 * time.Millisecond).Seconds(), "error_log_lines": n.errorLines()}
	report(t, r, l, began)
	if !full {
		t.Errorf("the disk never filled: fewer than 20 refused writes in 30 s")
	}
	if !resumed {
		t.Errorf("writes did not resume within 30 s of the space coming back")
	}
	if !drained {
		t.Errorf("the backlog did not drain within 2 minutes")
	}
	if envOn("HERALD_CHAOS_ASSERT_FAULTS") {
		if !startedFull {
			t.Errorf("herald serve did not start on a full disk")
		}
		if readyFull != 503 {
			t.Errorf("/readyz answered %d while the disk was full, want 503", readyFull)
		}
		if readsFull != 200 {
			t.Errorf("a read answered %d while the disk was full, want 200", readsFull)
		}
		for _, s := range []string{"500", "timeout"} {
			if r.Statuses[s] > 0 {
				t.Errorf("%d calls answered %s; a full disk must answer 503", r.Statuses[s], s)
			}
		}
	}
	n.stop(10 * time.Second)
}

// readStatus is the status of a read of the API (the app's events).
func readStatus(n *node) int {
	req, _ := http.NewRequest("GET", n.url+"/v1/apps/chaos/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
