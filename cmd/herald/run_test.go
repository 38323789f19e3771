package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/secrets"
)

// These tests run Main in-process; main_test.go runs the built binary for
// what needs a process of its own (signals, SIGKILL, a second process).

func TestMainVersion(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"version"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if out.String() != "herald "+herald.Version+"\n" || errOut.Len() != 0 {
		t.Fatalf("stdout %q, stderr %q", out.String(), errOut.String())
	}
}

func TestMainKeygen(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"keygen"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if _, err := secrets.ParseKeys(out.String()); err != nil {
		t.Fatalf("the printed key %q does not parse: %v", out.String(), err)
	}
}

// --help prints the flags with their defaults and exits 0 without
// running anything.
func TestMainHelp(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"serve", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), `--retry-schedule="5s,5m,30m,2h,5h,10h,10h"`) || errOut.Len() != 0 {
		t.Fatalf("stdout %q, stderr %q", out.String(), errOut.String())
	}
}

// A bad command line gets one line on stderr, naming what is wrong and
// where the help is, and exit code 2, whether the flag parser or app
// refuses the value; the usage is not printed. A setting that fails at
// start gets exit code 1. Nothing is started.
func TestMainBadCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	for _, c := range []struct {
		args []string
		code int
		line string
	}{
		{[]string{"serve", "--no-such-flag"}, 2, "herald: unknown flag --no-such-flag; see herald help serve"},
		{[]string{"serve", "--retension", "1d"}, 2, "herald: unknown flag --retension (did you mean --retention?); see herald help serve"},
		{[]string{"serve", "--log-level", "loud"}, 2, `herald: --log-level must be one of "debug","info","warn","error" but got "loud"; see herald help serve`},
		{[]string{"serve", "--workers", "0"}, 2, "herald: --workers must be at least 1; see herald help serve"},
		{[]string{"serve", "--max-rendered-size", "65536"}, 2, "herald: --max-rendered-size must be at least --max-event-size + 4096 bytes (1052672), so that"},
		{[]string{"serve", "--retry-schedule", "5x"}, 2, `herald: --retry-schedule: retry schedule item 1 "5x": not a duration like 30s, 5m, 2h or 1d; see herald help serve`},
		{[]string{"serve", "--retry-schedule", "1s,1s,1s", "--max-retries", "2"}, 2, "herald: --retry-schedule: 3 retries, more than the 2 this installation allows (--max-retries); see herald help serve"},
		{[]string{"serve", "--destination-deny-cidrs", "10.0.0.0/8,nope"}, 2, `herald: --destination-deny-cidrs: invalid CIDR "nope"`},
		{[]string{"serve", "--queue-memory", "lots"}, 2, `herald: --queue-memory: "lots" is not a size`},
		{[]string{"serve", "--queue-memory", "512KiB"}, 2, "herald: --queue-memory must be at least 1MiB; see herald help serve"},
		{[]string{"serve", "--transform-memory-limit", "512KiB"}, 2, "herald: --transform-memory-limit must be at least 1MiB; see herald help serve"},
		{[]string{"serve", "--transform-cpu-limit", "0s"}, 2, "herald: --transform-cpu-limit must be at least 1ms; see herald help serve"},
		{[]string{"serve", "--store-timeout", "1ms"}, 2, "herald: --store-timeout must be at least 100ms; see herald help serve"},
		{[]string{"serve", "--disk-warn-free", "a lot"}, 2, `herald: --disk-warn-free: "a lot" is not a size`},
		{[]string{"serve", "--retention", "30x"}, 2, `herald: --retention: "30x" is not a duration like 30s, 5m, 2h or 30d; see herald help serve`},
		{[]string{"serve", "--config", filepath.Join(dir, "missing.toml")}, 2, "herald: open " + filepath.Join(dir, "missing.toml")},
		{[]string{"launch"}, 2, "herald: unknown command launch; see herald help"},
		{[]string{"help", "launch"}, 2, "herald: unknown command launch; see herald help"},
		{[]string{"verify"}, 2, "herald: missing flags: --secret=whsec_…; see herald help verify"},
		{[]string{"receive", "--status", "99"}, 2, "herald: --status must be from 200 to 599; see herald help receive"},
		{[]string{"serve", "--tls-cert", missing, "--tls-key", missing}, 1, "herald: --tls-cert/--tls-key: open " + missing},
	} {
		dataDir := filepath.Join(dir, "data")
		var out, errOut bytes.Buffer
		args := c.args
		if args[0] == "serve" {
			args = append(args, "--data-dir", dataDir)
		}
		code := Main(context.Background(), args, &out, &errOut)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
		if lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], c.line) {
			t.Errorf("%v: stderr %q, want one line starting %q", c.args, errOut.String(), c.line)
		}
		if out.Len() != 0 {
			t.Errorf("%v: stdout %q, want nothing", c.args, out.String())
		}
		if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
			t.Errorf("%v: the data dir was made", c.args)
		}
	}
}

// lineWriter sends each line written to it on lines.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	all   strings.Builder
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case w.lines <- string(w.buf[:i]):
		default: // nobody waits for more lines
		}
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// running is a `herald serve` started by Main in-process.
type running struct {
	url  string
	out  *bytes.Buffer // written before the listening line only
	logs *lineWriter
	stop func() int // cancels the context and returns the exit code
}

// serve runs Main(serve) on dataDir, with extra flags, until it listens.
func serve(t *testing.T, dataDir string, extra ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: &bytes.Buffer{}, logs: &lineWriter{lines: make(chan string, 16)}}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, extra...), r.out, r.logs)
	}()
	r.stop = func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatalf("serve did not stop when its context ended:\n%s", r.logs)
			return -1
		}
	}
	t.Cleanup(func() { cancel() })
	for r.url == "" {
		select {
		case line := <-r.logs.lines:
			if m := listenRE.FindStringSubmatch(line); m != nil {
				r.url = m[1]
			}
		case code := <-done:
			t.Fatalf("serve exited with %d at start:\n%s", code, r.logs)
		case <-time.After(20 * time.Second):
			t.Fatalf("serve did not start:\n%s", r.logs)
		}
	}
	return r
}

// TestMainServe: without HERALD_ADMIN_TOKEN a token is generated once,
// printed, kept in the data dir (mode 0600) and reused after a restart;
// serve stops cleanly, exit code 0, when its context is cancelled.
func TestMainServe(t *testing.T) {
	t.Setenv("HERALD_ADMIN_TOKEN", "") // as on a first start without one
	dataDir := t.TempDir()
	tokenFile := filepath.Join(dataDir, "admin-token")
	appsWith := func(url, tok string) int {
		req, _ := http.NewRequest("GET", url+"/v1/apps", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	first := serve(t, dataDir)
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	if st, err := os.Stat(tokenFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st.Mode(), err)
	}
	if !regexp.MustCompile(`(?m)^    ` + regexp.QuoteMeta(tok) + `$`).MatchString(first.out.String()) {
		t.Fatalf("the generated token is not on stdout: %q", first.out.String())
	}
	if code := appsWith(first.url, tok); code != 200 {
		t.Fatalf("GET /v1/apps with the generated token: %d", code)
	}
	if code := first.stop(); code != 0 {
		t.Fatalf("exit %d after the context ended:\n%s", code, first.logs)
	}
	if !strings.Contains(first.logs.String(), "msg=stopped") {
		t.Fatalf("no clean stop in the log:\n%s", first.logs)
	}
	if _, err := http.Get(first.url + "/healthz"); err == nil {
		t.Fatal("still serving after Main returned")
	}

	second := serve(t, dataDir)
	if strings.Contains(second.out.String(), tok) {
		t.Fatal("the token was printed again on the second start")
	}
	if code := appsWith(second.url, tok); code != 200 {
		t.Fatalf("the kept token after a restart: %d", code)
	}
	if code := second.stop(); code != 0 {
		t.Fatalf("exit %d after the context ended:\n%s", code, second.logs)
	}
}
