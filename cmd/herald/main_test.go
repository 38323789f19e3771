package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// binary is the herald command built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "herald")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build herald: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const token = "crash-test-token"

// proc is a running `herald serve`.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
	// client checks each call and its answer against the API's OpenAPI
	// document.
	client *http.Client
}

var listenRE = regexp.MustCompile(`herald is listening" addr=(http://[0-9.:]+)`)

func startHerald(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--admin-token", token, "--allow-private-destinations"}, extra...)
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{}), client: heraldtest.CheckedClient(t)}
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				urlCh <- m[1]
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.url = <-urlCh:
	case <-p.done:
		t.Fatalf("herald exited at start:\n%s", p.log())
	case <-time.After(20 * time.Second):
		t.Fatalf("herald did not start:\n%s", p.log())
	}
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) call(method, path string, body any) (int, []byte, error) {
	return p.callAs(token, method, path, body)
}

// callAs is call with another bearer token than the admin's.
func (p *proc) callAs(bearer, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+bearer)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (p *proc) mustCall(t *testing.T, method, path string, body any, want int) []byte {
	t.Helper()
	got, b, err := p.call(method, path, body)
	if err != nil || got != want {
		t.Fatalf("%s %s: %d %v %s", method, path, got, err, b)
	}
	return b
}

// TestCrashLosesNothing sends events while a receiver answers, kills the
// server with SIGKILL mid-flight, restarts it on the same data dir, and
// checks that every event answered 202 reached the receiver.
func TestCrashLosesNothing(t *testing.T) {
	var mu sync.Mutex
	received := map[string]int{} // seq -> times received
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Data struct{ Seq string }
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &body) != nil || body.Data.Seq == "" {
			w.WriteHeader(400)
			return
		}
		time.Sleep(10 * time.Millisecond) // deliver slower than events arrive, so a backlog is pending at the kill
		mu.Lock()
		received[body.Data.Seq]++
		mu.Unlock()
	}))
	defer rc.Close()

	dataDir := t.TempDir()
	schedule := "--retry-schedule=200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms"
	h := startHerald(t, dataDir, schedule, "--min-retry-delay=200ms", "--max-in-flight=4")
	h.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	h.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	h.mustCall(t, "POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL}, 201)

	// The load goes unchecked: checking each call against the OpenAPI
	// document slows the senders, and the test needs them to outrun
	// delivery (other tests check the same call).
	h.client = http.DefaultClient
	var (
		accMu    sync.Mutex
		accepted []string
		seq      atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				s := fmt.Sprint(seq.Add(1))
				code, _, err := h.call("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"seq": s}})
				if err == nil && code == 202 {
					accMu.Lock()
					accepted = append(accepted, s)
					accMu.Unlock()
				}
			}
		}()
	}
	// Kill once a good number was accepted and deliveries are flowing.
	deadline := time.Now().Add(30 * time.Second)
	for {
		accMu.Lock()
		n := len(accepted)
		accMu.Unlock()
		mu.Lock()
		r := len(received)
		mu.Unlock()
		if n >= 1500 && r >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d accepted, %d received before the kill:\n%s", n, r, h.log())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-h.done
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	atKill := len(received)
	mu.Unlock()

	accMu.Lock()
	total := len(accepted)
	accMu.Unlock()
	if total-atKill < 100 {
		t.Fatalf("only %d of %d accepted events were pending at the kill; the test proves little", total-atKill, total)
	}

	h2 := startHerald(t, dataDir, schedule, "--min-retry-delay=200ms")
	deadline = time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for _, s := range accepted {
			if received[s] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted events never reached the receiver:\n%s", missing, total, h2.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	dups := 0
	for _, n := range received {
		if n > 1 {
			dups += n - 1
		}
	}
	mu.Unlock()
	t.Logf("accepted %d events; %d had arrived at the kill; all arrived after restart; %d sent twice", total, atKill, dups)
}

// TestGracefulShutdown: SIGTERM lets a request in flight finish and the
// process exit 0; a delivery not yet sent goes out after the restart.
func TestGracefulShutdown(t *testing.T) {
	var hits atomic.Int64
	release := make(chan struct{})
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			<-release
		}
	}))
	defer rc.Close()
	dataDir := t.TempDir()
	h := startHerald(t, dataDir, "--shutdown-timeout", "10s", "--max-in-flight", "1")
	h.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	h.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	h.mustCall(t, "POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL}, 201)
	for i := range 2 {
		h.mustCall(t, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"i": i}}, 202)
	}
	for hits.Load() < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The request in flight finishes during shutdown, once it has begun.
	waitLog(t, h, "shutting down")
	close(release)
	select {
	case <-h.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("herald did not exit after SIGTERM:\n%s", h.log())
	}
	if code := h.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, h.log())
	}
	if !strings.Contains(h.log(), "stopped") {
		t.Fatalf("no clean stop in the log:\n%s", h.log())
	}
	h2 := startHerald(t, dataDir)
	deadline := time.Now().Add(10 * time.Second)
	for hits.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the queued delivery was not sent after restart:\n%s", h2.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The first delivery finished before exit, so it is recorded as
	// succeeded rather than sent again: once both deliveries are final
	// nothing more can be sent, and each took one attempt.
	var events struct{ Data []struct{ ID string } }
	if err := json.Unmarshal(h2.mustCall(t, "GET", "/v1/apps/acme/events", nil, 200), &events); err != nil || len(events.Data) != 2 {
		t.Fatalf("events: %v %+v", err, events)
	}
	for _, ev := range events.Data {
		for deadline := time.Now().Add(10 * time.Second); ; {
			var ds struct {
				Data []struct {
					Status       string `json:"status"`
					AttemptCount int    `json:"attempt_count"`
				}
			}
			if err := json.Unmarshal(h2.mustCall(t, "GET", "/v1/apps/acme/events/"+ev.ID+"/deliveries", nil, 200), &ds); err != nil || len(ds.Data) != 1 {
				t.Fatalf("deliveries of %s: %v %+v", ev.ID, err, ds)
			}
			if d := ds.Data[0]; d.Status == "succeeded" {
				if d.AttemptCount != 1 {
					t.Fatalf("event %s: delivered in %d attempts, want 1 (the finished one must not be resent)", ev.ID, d.AttemptCount)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("event %s: delivery not final:\n%s", ev.ID, h2.log())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("%d requests, want 2 (the finished one must not be resent)", n)
	}
}

// waitLog waits until the process has logged line.
func waitLog(t *testing.T, p *proc, line string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.log(), line); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", line, p.log())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSecondProcessRefused: two processes on one data dir would both
// release each other's leases; the second must refuse to start.
func TestSecondProcessRefused(t *testing.T) {
	dataDir := t.TempDir()
	startHerald(t, dataDir)
	out, err := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--admin-token", token).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another herald process") {
		t.Fatalf("second process: err %v, output %s", err, out)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--retry-schedule", "5x"},
		{"serve", "--workers", "0"},
		{"serve", "--max-app-share", "0"},
		{"serve", "--max-app-share", "half"},
		{"serve", "--log-level", "loud"},
		{"serve", "--no-such-flag"},
	} {
		out, err := exec.Command(binary, append(args, "--data-dir", t.TempDir())...).CombinedOutput()
		if err == nil {
			t.Errorf("%v: accepted", args)
		}
		if strings.Contains(string(out), "panic") || len(out) == 0 {
			t.Errorf("%v: output %q", args, out)
		}
	}
}

// TestTLS serves the API over HTTPS with --tls-cert and --tls-key.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)

	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--admin-token", token,
		"--tls-cert", certFile, "--tls-key", keyFile)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	re := regexp.MustCompile(`herald is listening" addr=(https://[0-9.:]+)`)
	sc := bufio.NewScanner(stderr)
	addr := ""
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	if addr == "" {
		t.Fatal("no https listen line")
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("GET", addr+"/v1/apps", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("https: %v %v", err, resp)
	}
	resp.Body.Close()
	// Plain HTTP to the TLS port does not reach the API.
	if resp, err := http.Get(strings.Replace(addr, "https://", "http://", 1) + "/v1/apps"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP served")
	}
	// A certificate without its key is refused at start.
	out, err := exec.Command(binary, "serve", "--data-dir", filepath.Join(dir, "d2"), "--tls-cert", certFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "go together") {
		t.Fatalf("cert without key: %v %s", err, out)
	}
}
