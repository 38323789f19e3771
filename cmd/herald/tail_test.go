package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// nextLine returns the next line written to w, failing after 10 s.
func nextLine(t *testing.T, w *lineWriter, what string) string {
	t.Helper()
	select {
	case l := <-w.lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s line within 10 s; so far:\n%s", what, w.String())
	}
	return ""
}

// failOnce is a receiver that answers its first request 500, then 200.
func failOnce(n int, w http.ResponseWriter, r *http.Request) {
	if n == 1 {
		w.WriteHeader(500)
	}
}

// TestTailBinary runs the built `herald tail` against a real Herald and a
// receiver on 127.0.0.1: it prints the failed attempt with its retry,
// then the successful one, and exits 0 on SIGINT.
func TestTailBinary(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, failOnce)
	ep := s.Setup(rc.URL, nil)

	out := &lineWriter{lines: make(chan string, 64)}
	errOut := &lineWriter{lines: make(chan string, 64)}
	cmd := exec.Command(binary, "tail", "--server", s.URL, "--token", heraldtest.Token, "--app", "acme")
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	if l := nextLine(t, errOut, "start"); !strings.Contains(l, "following the attempts of app acme") {
		t.Fatalf("first line on stderr: %q", l)
	}

	evt := s.Send(map[string]any{"n": 1})
	failed := regexp.MustCompile(`^\d\d:\d\d:\d\d ← 500 lead\.created ` + evt + ` → ` + ep + ` attempt 1, \d+ ms · retry in \d+ms$`)
	if l := nextLine(t, out, "attempt"); !failed.MatchString(l) {
		t.Errorf("first attempt's line: %q", l)
	}
	ok := regexp.MustCompile(`^\d\d:\d\d:\d\d ← 200 lead\.created ` + evt + ` → ` + ep + ` attempt 2, \d+ ms · delivered$`)
	if l := nextLine(t, out, "attempt"); !ok.MatchString(l) {
		t.Errorf("second attempt's line: %q", l)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("tail after SIGINT: %v; stderr:\n%s", err, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not exit within 10 s of SIGINT")
	}
}

// TestTailJSON runs `herald tail --output json --status succeeded`
// in-process: one JSON object per line, only the attempts that
// delivered; cancelling (as SIGINT does) exits 0. A bad --status is a
// usage error.
func TestTailJSON(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, failOnce)
	s.Setup(rc.URL, nil)

	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{lines: make(chan string, 64)}
	errOut := &lineWriter{lines: make(chan string, 64)}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"tail", "--server", s.URL, "--token", heraldtest.Token, "--status", "succeeded", "-o", "json"}, out, errOut)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	// Without --app: the server's only app.
	if l := nextLine(t, errOut, "start"); !strings.Contains(l, "following the attempts of app app_") {
		t.Fatalf("first line on stderr: %q", l)
	}
	evt := s.Send(map[string]any{"n": 1})
	var got struct {
		Cursor         string `json:"cursor"`
		EventID        string `json:"event_id"`
		DeliveryStatus string `json:"delivery_status"`
		Attempt        int    `json:"attempt"`
		StatusCode     int    `json:"status_code"`
	}
	line := nextLine(t, out, "JSON")
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, line)
	}
	if got.EventID != evt || got.Attempt != 2 || got.StatusCode != 200 || got.DeliveryStatus != "succeeded" || got.Cursor == "" {
		t.Errorf("first line with --status succeeded: %s; want the second attempt", line)
	}
	cancel()
	select {
	case code := <-done:
		done <- code
		if code != 0 {
			t.Errorf("exit %d after cancel; stderr: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not end within 10 s of the cancel")
	}

	var stderr strings.Builder
	if code := Main(context.Background(), []string{"tail", "--status", "nope"}, &strings.Builder{}, &stderr); code != 2 {
		t.Errorf("--status nope: exit %d, %s", code, stderr.String())
	}
}
