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

// A bad command line gets one line on stderr (the usage goes to stdout)
// and exit code 80, whether the flag parser or app refuses the value; a
// setting that fails at start gets exit code 1. Nothing is started.
func TestMainBadCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	for _, c := range []struct {
		args []string
		code int
		line string
	}{
		{[]string{"serve", "--no-such-flag"}, 80, "herald: error: unknown flag --no-such-flag"},
		{[]string{"serve", "--log-level", "loud"}, 80, `herald: error: --log-level must be one of "debug","info","warn","error" but got "loud"`},
		{[]string{"serve", "--workers", "0"}, 80, "herald: error: serve: --workers must be at least 1"},
		{[]string{"serve", "--retry-schedule", "5x"}, 80, `herald: error: serve: --retry-schedule: retry schedule item 1 "5x": not a duration like 30s, 5m or 2h`},
		{[]string{"serve", "--destination-deny-cidrs", "10.0.0.0/8,nope"}, 80, `herald: error: serve: --destination-deny-cidrs: invalid CIDR "nope"`},
		{[]string{"launch"}, 80, "herald: error: unexpected argument launch"},
		{[]string{"serve", "--tls-cert", missing, "--tls-key", missing}, 1, "herald: --tls-cert/--tls-key: open " + missing},
	} {
		dataDir := filepath.Join(dir, "data")
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append(c.args, "--data-dir", dataDir), &out, &errOut)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
		if lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], c.line) {
			t.Errorf("%v: stderr %q, want one line starting %q", c.args, errOut.String(), c.line)
		}
		if code == 80 && !strings.Contains(out.String(), "Usage: herald") {
			t.Errorf("%v: no usage on stdout: %q", c.args, out.String())
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

// `herald serve` runs in-process until its context is cancelled: it
// generates and prints an admin token, serves the API with it, and stops
// cleanly with exit code 0.
func TestMainServe(t *testing.T) {
	t.Setenv("HERALD_ADMIN_TOKEN", "") // generated, as on a first start
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	logs := &lineWriter{lines: make(chan string, 16)}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, &out, logs)
	}()

	var url string
	for url == "" {
		select {
		case line := <-logs.lines:
			if m := listenRE.FindStringSubmatch(line); m != nil {
				url = m[1]
			}
		case code := <-done:
			t.Fatalf("serve exited with %d at start:\n%s", code, logs)
		case <-time.After(20 * time.Second):
			t.Fatalf("serve did not start:\n%s", logs)
		}
	}
	// The token was printed before the server listened.
	b, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	if !regexp.MustCompile(`(?m)^    ` + regexp.QuoteMeta(tok) + `$`).MatchString(out.String()) {
		t.Fatalf("the generated token is not on stdout: %q", out.String())
	}
	req, _ := http.NewRequest("GET", url+"/v1/apps", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/apps with the generated token: %v %v", err, resp)
	}
	resp.Body.Close()

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after the context ended:\n%s", code, logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop when its context ended:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Fatalf("no clean stop in the log:\n%s", logs)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("still serving after Main returned")
	}
}
