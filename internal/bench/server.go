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
}

// serverOptions are the settings that differ between scenarios.
type serverOptions struct {
	databaseURL string
	token       string
	extra       []string
}

// startServer starts the same binary as `serve` on a free port of
// 127.0.0.1 with a fresh data dir, and waits until /readyz answers.
func startServer(ctx context.Context, o serverOptions) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the herald binary: %w", err)
	}
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
	cmd := exec.Command(exe, args...)
	// The child takes its settings from these flags only: a HERALD_*
	// variable of the caller's (a database URL, say) must not change
	// what is measured.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd.Stdout = nil
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start herald serve: %w", err)
	}
	s := &server{cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), token: o.token, dataDir: dir, done: make(chan struct{})}
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

	deadline := time.Now().Add(30 * time.Second)
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
			return nil, fmt.Errorf("herald serve was not ready within 30s:\n%s", s.lastLog())
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
// few seconds, and removes its data dir.
func (s *server) stop() {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	os.RemoveAll(s.dataDir)
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
