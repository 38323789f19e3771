//go:build chaos

package chaos

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cluster is a private PostgreSQL cluster: initdb into a temp dir, its own
// port on 127.0.0.1 and its socket in the dir. The suite restarts and
// freezes it; it never touches the machine's own server.
type cluster struct {
	t    *testing.T
	dir  string // data directory
	port int
	cred *syscall.Credential // run as this user when the suite runs as root
	bin  string              // directory of initdb and pg_ctl
}

// pgBin finds the directory of initdb and pg_ctl: PATH, else Debian's
// /usr/lib/postgresql/*/bin. Without them the test fails in CI (where
// HERALD_TEST_DATABASE_URL is set) and skips elsewhere.
func pgBin(t *testing.T) string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) > 0 {
		return filepath.Dir(m[len(m)-1])
	}
	if os.Getenv("HERALD_TEST_DATABASE_URL") != "" {
		t.Fatal("initdb and pg_ctl not found; the pg-restart scenario must run in CI")
	}
	t.Skip("initdb and pg_ctl not found")
	return ""
}

func startCluster(t *testing.T) *cluster {
	c := &cluster{t: t, bin: pgBin(t), port: freePort(t)}
	// PostgreSQL refuses to run as root: as root, the cluster belongs to
	// the postgres user, in a dir of its own that it can reach.
	base, err := os.MkdirTemp("", "herald-chaos-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	c.dir = filepath.Join(base, "data")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, the private cluster needs the user postgres: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(base, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	c.run("initdb", "-D", c.dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
	t.Cleanup(func() {
		c.thaw()
		_, _ = c.output("pg_ctl", "-D", c.dir, "-m", "immediate", "-w", "stop")
	})
	c.run("pg_ctl", "-D", c.dir, "-w", "-t", "60", "-l", filepath.Join(base, "log"), "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100", c.port, base), "start")
	return c
}

func (c *cluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

func (c *cluster) output(name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	cmd.Dir = os.TempDir()
	// The output goes to a file, not a pipe: the postmaster that pg_ctl
	// leaves running inherits it, and Run would wait for a pipe's end.
	f, err := os.CreateTemp("", "herald-chaos-pg-out-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

func (c *cluster) run(name string, args ...string) {
	c.t.Helper()
	if out, err := c.output(name, args...); err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// restart restarts the cluster in mode (fast, immediate) and returns how
// long it was away.
func (c *cluster) restart(mode string) time.Duration {
	start := time.Now()
	c.run("pg_ctl", "-D", c.dir, "-m", mode, "-w", "-t", "60", "restart")
	return time.Since(start)
}

// pids are the postmaster and every process under it.
func (c *cluster) pids() []int {
	b, err := os.ReadFile(filepath.Join(c.dir, "postmaster.pid"))
	if err != nil {
		return nil
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return nil
	}
	pids := []int{pm}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pm) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// freeze stops the postmaster and its children with SIGSTOP: the database
// hangs without refusing connections.
func (c *cluster) freeze() {
	for _, pid := range c.pids() {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
}

func (c *cluster) thaw() {
	for _, pid := range c.pids() {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
}

// TestPGRestart: one node on a private cluster under load while the
// cluster is restarted (fast, then immediate) and frozen. It counts the
// answers by status and their longest time, and checks that nothing
// answered 202 is lost.
func TestPGRestart(t *testing.T) {
	rate := envInt(t, "HERALD_CHAOS_RATE", 100)
	freeze := envDuration(t, "HERALD_CHAOS_FREEZE", 5*time.Second)
	flags, lease, limit := leaseFlags(t)
	began := time.Now()
	pg := startCluster(t)
	l := newLedger()
	rc := newReceiver(t, l, 0, nil)
	n := newNode(t, "node", t.TempDir(), append([]string{"--database-url", pg.url(), "--encryption-key", encryptionKey,
		"--retry-schedule", "1s,2s,5s,10s,30s"}, flags...)...)
	n.startReady()
	setupApp(t, n.url, "chaos", "chaos.event", rc.url+"/ok")
	ld := &load{l: l, targets: func() []*node { return []*node{n} }, app: "chaos", eventType: "chaos.event",
		prefix: "r", rate: rate, conc: 32, pad: 256, timeout: 30 * time.Second}
	ld.start()

	type fault struct {
		name     string
		at, back time.Time
	}
	var faults []fault
	time.Sleep(3 * time.Second)
	for _, mode := range []string{"fast", "immediate"} {
		at := time.Now()
		pg.restart(mode)
		faults = append(faults, fault{"restart_" + mode, at, time.Now()})
		time.Sleep(5 * time.Second)
	}
	at := time.Now()
	pg.freeze()
	// /readyz while the database hangs: 503 is right, 0 is no answer
	// within 3 s.
	time.Sleep(time.Second)
	readyFrozen := status(n.url + "/readyz")
	time.Sleep(time.Until(at.Add(freeze)))
	pg.thaw()
	faults = append(faults, fault{"freeze", at, time.Now()})
	time.Sleep(8 * time.Second)
	ld.stop()
	drain, drained := l.waitDrained(max(limit, 2*time.Minute))

	r := &result{Scenario: "pg-restart"}
	l.fillCounts(r)
	r.Recovery = map[string]stats{}
	r.Figures = map[string]any{"rate": rate, "lease": lease, "freeze_s": freeze.Seconds(),
		"drain_s": drain.Round(100 * time.Millisecond).Seconds(), "error_log_lines": n.errorLines()}
	for _, f := range faults {
		// Outage: the database away; recovery: from its return to the
		// first event answered 202 again.
		r.Figures[f.name+"_outage_s"] = f.back.Sub(f.at).Round(100 * time.Millisecond).Seconds()
		if first := l.firstAcceptAfter(f.back); !first.IsZero() {
			r.Recovery[f.name+"_to_first_202"] = summarize([]time.Duration{first.Sub(f.back)})
		}
	}
	r.Figures["readyz_during_freeze"] = readyFrozen
	// A SIGTERM while the database hangs must end the process within
	// its --shutdown-timeout (5 s) all the same.
	pg.freeze()
	time.Sleep(time.Second)
	stopTook, stoppedClean := n.stop(10 * time.Second)
	pg.thaw()
	r.Figures["sigterm_exit_while_frozen_s"] = stopTook.Round(100 * time.Millisecond).Seconds()
	r.Figures["sigterm_exited_by_itself"] = stoppedClean
	report(t, r, l, began)
	if !drained {
		t.Errorf("the backlog did not drain within %s", max(limit, 2*time.Minute))
	}
	if !stoppedClean {
		t.Logf("herald serve was still running 10 s after SIGTERM while the database hung; killed")
	}
	if body, ok := l.samples["500"]; ok {
		t.Logf("a 500 answer: %s", body)
	}
	if envOn("HERALD_CHAOS_ASSERT_FAULTS") {
		if n := r.Statuses["500"]; n > 0 {
			t.Errorf("%d answers were 500; a store fault must answer 503", n)
		}
		if n := r.Statuses["timeout"]; n > 0 {
			t.Errorf("%d calls got no answer within 30 s", n)
		}
		// The store timeout (5 s) and a margin.
		for s, m := range r.MaxResponseMS {
			if m > 7000 {
				t.Errorf("a call answered %s took %.0f ms, want at most the store timeout and 2 s", s, m)
			}
		}
		if readyFrozen != 503 {
			t.Errorf("/readyz answered %d while the database hung (0: no answer within 3 s), want 503", readyFrozen)
		}
		if stopTook > 7*time.Second {
			t.Errorf("SIGTERM while the database hung took %s to end the process, want within --shutdown-timeout 5s and 2 s", stopTook.Round(100*time.Millisecond))
		}
	}
}
