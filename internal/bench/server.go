package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat. It is
// USER_HZ, which Linux fixes at 100 on every common architecture; reading
// it for real would need cgo (sysconf), which Herald does without.
const clockTicks = 100

// server is a `herald serve` child process. Running Herald as a separate
// process, rather than in the bench's own, is what lets its CPU time and
// memory be told apart from the load generator's.
type server struct {
	cmd     *exec.Cmd
	url     string
	token   string
	dataDir string
	done    chan struct{}
	mu      sync.Mutex
	logs    []string // the last lines of its stderr, for error messages
	// cgDir holds callgrind's dumps and vgdb's pipes when the server runs
	// under callgrind (--instructions); empty otherwise.
	cgDir    string
	lastDump int // the number of the last dump read
}

// serverOptions are the settings that differ between scenarios.
type serverOptions struct {
	exe         string // the herald binary: the bench's own, or --server-binary
	callgrind   bool   // run it under valgrind's callgrind (--instructions)
	databaseURL string
	token       string
	extra       []string
}

// Waits for a server, and for its next delivery, before the bench gives
// up. Under callgrind the server runs 20-50 times slower, so they are
// longer there.
const (
	readyWait          = 30 * time.Second
	readyWaitCallgrind = 5 * time.Minute
)

// startServer starts o.exe as `serve` on a free port of 127.0.0.1 with a
// fresh data dir, and waits until /readyz answers.
func startServer(ctx context.Context, o serverOptions) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return nil, err
	}
	if o.token == "" {
		o.token = randomToken()
	}
	args := []string{"serve", "--addr", "127.0.0.1:" + strconv.Itoa(port), "--data-dir", dir,
		"--admin-token", o.token, "--shutdown-timeout", "3s",
		// The bench's receivers listen on 127.0.0.1, which the default
		// destination policy refuses.
		"--allow-private-destinations",
		// The load generator is one client that sends as fast as the API
		// takes events: the per-key API rate limit (1,000/s by default)
		// would measure itself, not Herald.
		"--api-rate-limit", "0"}
	if o.databaseURL != "" {
		// Nodes on one database share the key of secrets at rest; a
		// bench's is thrown away with its database.
		args = append(args, "--database-url", o.databaseURL, "--encryption-key", benchKey)
	}
	args = append(args, o.extra...)
	s := &server{url: "http://127.0.0.1:" + strconv.Itoa(port), token: o.token, dataDir: dir, done: make(chan struct{})}
	wait := readyWait
	cmd := exec.Command(o.exe, args...)
	if o.callgrind {
		if s.cgDir, err = os.MkdirTemp("", "herald-bench-callgrind-"); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		cmd = exec.Command("valgrind", append([]string{"-q", "--tool=callgrind", "--vgdb=yes",
			"--vgdb-prefix=" + s.vgdbPrefix(), "--callgrind-out-file=" + filepath.Join(s.cgDir, "callgrind.out"),
			o.exe}, args...)...)
		wait = readyWaitCallgrind
	}
	s.cmd = cmd
	// The child takes its settings from these flags only: a HERALD_*
	// variable of the caller's (a database URL, say) must not change
	// what is measured.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") && !(o.callgrind && strings.HasPrefix(kv, "GODEBUG=")) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if o.callgrind {
		// Callgrind fails an assertion on the SIGURG signals with which
		// Go preempts goroutines asynchronously.
		cmd.Env = append(cmd.Env, "GODEBUG=asyncpreemptoff=1")
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.removeDirs()
		return nil, err
	}
	cmd.Stdout = nil
	if err := cmd.Start(); err != nil {
		s.removeDirs()
		return nil, fmt.Errorf("start herald serve: %w", err)
	}
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.logs = append(s.logs, sc.Text())
			if len(s.logs) > 50 {
				s.logs = s.logs[len(s.logs)-50:]
			}
			s.mu.Unlock()
		}
	}()
	go func() { <-logsDone; _ = cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(wait)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			s.stop()
			return nil, &startError{log: s.lastLog()}
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("herald serve was not ready within %s:\n%s", wait, s.lastLog())
		}
	}
}

// startError is a server that exited before it was ready: it refused its
// settings, most likely.
type startError struct{ log string }

func (e *startError) Error() string { return "herald serve exited at start:\n" + e.log }

func (s *server) lastLog() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.logs, "\n")
}

// stop sends SIGTERM, then SIGKILL if the server is still there after a
// few seconds, and removes its data dir. Under callgrind it sends SIGKILL
// at once: callgrind crashes on a SIGTERM, and the counts were read
// already.
func (s *server) stop() {
	select {
	case <-s.done:
	default:
		if s.cgDir != "" {
			_ = s.cmd.Process.Kill()
			<-s.done
			break
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	s.removeDirs()
}

func (s *server) removeDirs() {
	os.RemoveAll(s.dataDir)
	if s.cgDir != "" {
		os.RemoveAll(s.cgDir)
	}
}

// vgdbPrefix puts vgdb's pipes in the callgrind dir: a server killed with
// SIGKILL leaves them behind, and there they go with the dir.
func (s *server) vgdbPrefix() string { return filepath.Join(s.cgDir, "vgdb") }

// zeroInstructions resets callgrind's counters, so that the next dump
// counts from here: the start-up and the set-up are left out. Without
// callgrind it does nothing.
func (s *server) zeroInstructions(ctx context.Context) error {
	if s.cgDir == "" {
		return nil
	}
	return s.callgrindControl(ctx, "--zero")
}

// instructions dumps callgrind's counters and returns the instructions the
// server executed since they were last zeroed or dumped (a dump resets
// them). Without callgrind it returns 0.
func (s *server) instructions(ctx context.Context) (int64, error) {
	if s.cgDir == "" {
		return 0, nil
	}
	if err := s.callgrindControl(ctx, "--dump"); err != nil {
		return 0, err
	}
	// Callgrind numbers its dumps callgrind.out.1, .2, …; the new one is
	// the highest.
	entries, err := os.ReadDir(s.cgDir)
	if err != nil {
		return 0, err
	}
	newest := 0
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "callgrind.out.")); err == nil && n > newest {
			newest = n
		}
	}
	if newest <= s.lastDump {
		return 0, fmt.Errorf("callgrind wrote no dump in %s", s.cgDir)
	}
	s.lastDump = newest
	path := filepath.Join(s.cgDir, "callgrind.out."+strconv.Itoa(newest))
	n, err := dumpTotal(path)
	// A dump holds the whole call graph, megabytes for a long run: only
	// its total is wanted.
	os.Remove(path)
	return n, err
}

// callgrindControl sends one command to the server's callgrind and waits
// for its answer.
func (s *server) callgrindControl(ctx context.Context, command string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "callgrind_control", "--vgdb-prefix="+s.vgdbPrefix(), command,
		strconv.Itoa(s.cmd.Process.Pid)).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("OK.")) {
		return fmt.Errorf("callgrind_control %s: %v: %s", command, err, bytes.TrimSpace(out))
	}
	return nil
}

// dumpTotal reads the instruction count of a callgrind dump: its
// "totals:" line (events default to Ir, instructions read), else its
// "summary:" line.
func dumpTotal(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "totals:"); ok {
			total = rest
		} else if rest, ok := strings.CutPrefix(sc.Text(), "summary:"); ok && total == "" {
			total = rest
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	f0, _, _ := strings.Cut(strings.TrimSpace(total), " ")
	n, err := strconv.ParseInt(f0, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: no instruction total", filepath.Base(path))
	}
	return n, nil
}

// probeServer checks, before any scenario, that exe (--server-binary) is a
// herald whose serve takes the flags the selected scenarios pass, and returns
// its version: a binary that is not would otherwise fail each scenario
// with a page of usage.
func probeServer(ctx context.Context, exe string, sel map[string]bool) (version string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	flags := []string{"--addr", "--data-dir", "--admin-token", "--shutdown-timeout", "--allow-private-destinations", "--api-rate-limit"}
	if sel[Backlog] || sel[Nats] {
		flags = append(flags, "--retry-schedule")
	}
	if sel[Nats] {
		flags = append(flags, "--max-retries")
	}
	if sel[Postgres] {
		flags = append(flags, "--database-url", "--encryption-key")
	}
	help, _ := exec.CommandContext(ctx, exe, "serve", "--help").CombinedOutput()
	for _, flag := range flags {
		if !bytes.Contains(help, []byte(flag)) {
			return "", fmt.Errorf("--server-binary %s: its serve does not take %s; it must be a herald build whose serve takes the flags the bench passes", exe, flag)
		}
	}
	out, _ := exec.CommandContext(ctx, exe, "version").Output()
	version = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "herald"))
	if version == "" {
		version = "unknown"
	}
	return version, nil
}

// cpuSeconds is the server's user plus system CPU time so far.
func (s *server) cpuSeconds() float64 { return procCPU(strconv.Itoa(s.cmd.Process.Pid)) }

// peakRSS is the server's peak resident set (VmHWM), in MiB.
func (s *server) peakRSS() float64 { return procPeakRSS(strconv.Itoa(s.cmd.Process.Pid)) }

// procCPU reads utime+stime of a process ("self" for this one) from
// /proc; 0 where there is no /proc.
func procCPU(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. utime and stime are fields 14 and 15
	// of the whole line, so 12 and 13 after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks
}

// procPeakRSS reads VmHWM from /proc/<pid>/status, in MiB.
func procPeakRSS(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// freePort asks the kernel for a port of 127.0.0.1 nobody listens on.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// benchKey encrypts the secrets of benchmark databases; one per process so
// that two bench nodes on one database share it.
var benchKey = func() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "bench:" + base64.StdEncoding.EncodeToString(b[:])
}()

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "bench_" + hex.EncodeToString(b[:])
}
