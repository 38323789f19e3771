package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/signing"
)

// rawRequest writes a request as `herald verify` reads it: request line,
// headers, blank line, body.
func rawRequest(method, path string, h http.Header, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, path)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// runVerify runs `herald verify` in-process with stdin.
func runVerify(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := MainIO(context.Background(), append([]string{"verify"}, args...), bytes.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestVerify checks a request that a real Herald sent to a receiver,
// then altered copies of it: exit 0 and "valid" for the request as sent,
// 1 and "invalid" for a changed body or header or another secret, 2 and
// one line on stderr for input that is not a request or a bad secret.
func TestVerify(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	ep := s.Setup(rc.URL+"/hooks", nil)
	// A second endpoint signs with a key pair (Ed25519, v1a).
	var keyed struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/keyed", "signature_scheme": "v1a"}, &keyed, 201)
	s.Send(map[string]any{"name": "山田 太郎", "n": 1})
	var got, gotKeyed heraldtest.Request
	for _, r := range rc.Wait(t, 2, 10*time.Second) {
		if r.Path == "/keyed" {
			gotKeyed = r
		} else {
			got = r
		}
	}
	var sec struct{ Secret string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep+"/secret", nil, &sec, 200)
	var pub struct {
		PublicKey string `json:"public_key"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+keyed.ID+"/public-key", nil, &pub, 200)
	var private struct{ Secret string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+keyed.ID+"/secret", nil, &private, 200)
	raw := rawRequest(got.Method, got.Path, got.Header, got.Body)
	rawKeyed := rawRequest(gotKeyed.Method, gotKeyed.Path, gotKeyed.Header, gotKeyed.Body)
	id := got.Header.Get("Webhook-Id")

	other, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(raw, []byte("山田"), []byte("田中"), 1)
	otherID := bytes.Replace(raw, []byte(id), []byte("dlv_other"), 1)
	// A request signed two hours ago: valid on its signature, refused by
	// a receiver's time check.
	signer, err := signing.NewSigner(sec.Secret)
	if err != nil {
		t.Fatal(err)
	}
	old := http.Header{}
	then := time.Now().Add(-2 * time.Hour)
	signing.Headers(old, "msg_old", then, signer.Sign("msg_old", then, []byte(`{"a":1}`)))
	oldRaw := rawRequest("POST", "/hooks", old, []byte(`{"a":1}`))
	long := got.Header.Clone()
	long.Set("Content-Length", fmt.Sprint(len(got.Body)+10))
	cut := rawRequest(got.Method, got.Path, long, got.Body)
	file := filepath.Join(t.TempDir(), "request.txt")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name  string
		stdin []byte
		args  []string
		code  int
		out   string // start of stdout
		err   string // start of stderr
	}{
		{"as sent", raw, []string{"--secret", sec.Secret}, 0, "valid: signature matches (webhook-id " + id + ", signed ", ""},
		{"from a file", nil, []string{"--secret", sec.Secret, file}, 0, "valid: signature matches", ""},
		{"with a final newline", append(slices.Clip(raw), '\n'), []string{"--secret", sec.Secret}, 0, "valid: signature matches", ""},
		{"body altered", tampered, []string{"--secret", sec.Secret}, 1, "invalid: no matching signature: none of 1 v1 signatures matched: the secret is not the endpoint's, or the request was altered", ""},
		{"webhook-id altered", otherID, []string{"--secret", sec.Secret}, 1, "invalid: no matching signature", ""},
		{"another secret", raw, []string{"--secret", other}, 1, "invalid: no matching signature", ""},
		{"signed long ago", oldRaw, []string{"--secret", sec.Secret}, 0, "valid: signature matches (webhook-id msg_old, signed " + then.UTC().Format(time.RFC3339) + " (2h0m", ""},
		{"signed long ago, time checked", oldRaw, []string{"--secret", sec.Secret, "--tolerance", "5m"}, 1, "invalid: webhook-timestamp too old: 2h0m", ""},
		{"public key", rawKeyed, []string{"--secret", pub.PublicKey}, 0, "valid: signature matches", ""},
		{"public key, body altered", bytes.Replace(rawKeyed, []byte("山田"), []byte("田中"), 1), []string{"--secret", pub.PublicKey}, 1, "invalid: no matching signature", ""},
		{"public key of another endpoint", raw, []string{"--secret", pub.PublicKey}, 1, "invalid: no matching signature: no v1a signature", ""},
		{"private key", rawKeyed, []string{"--secret", private.Secret}, 2, "", "herald: --secret: this is the endpoint's private key (whsk_); verify with its public key (whpk_)"},
		{"not signed", rawRequest("POST", "/hooks", http.Header{"Content-Type": {"application/json"}}, []byte(`{}`)), []string{"--secret", sec.Secret}, 1, "invalid: missing webhook headers: webhook-id, webhook-timestamp, webhook-signature", ""},
		{"not a request", []byte("{\"type\":\"lead.created\"}\n"), []string{"--secret", sec.Secret}, 2, "", "herald: the input is not an HTTP request"},
		{"empty input", nil, []string{"--secret", sec.Secret}, 2, "", "herald: the input is not an HTTP request"},
		{"cut short", cut, []string{"--secret", sec.Secret}, 2, "", "herald: the body has"},
		{"bad secret", raw, []string{"--secret", "whsec_!!"}, 2, "", "herald: --secret: verify: invalid secret"},
		{"missing file", nil, []string{"--secret", sec.Secret, file + ".gone"}, 2, "", "herald: open "},
	} {
		code, out, errOut := runVerify(t, c.stdin, c.args...)
		if code != c.code || !strings.HasPrefix(out, c.out) || !strings.HasPrefix(errOut, c.err) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q…, %q…", c.name, code, out, errOut, c.code, c.out, c.err)
		}
		if lines := strings.Count(out+errOut, "\n"); lines != 1 {
			t.Errorf("%s: %d lines, want one", c.name, lines)
		}
	}

	// The exit codes of the real process, for scripts.
	for _, c := range []struct {
		stdin []byte
		code  int
	}{{raw, 0}, {tampered, 1}, {[]byte("hello"), 2}} {
		cmd := exec.Command(binary, "verify", "--secret", sec.Secret)
		cmd.Stdin = bytes.NewReader(c.stdin)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		code := 0
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code {
			t.Errorf("the binary: exit %d, want %d: %s", code, c.code, out)
		}
	}
}

// TestReceiveBinary: the built binary's `herald receive` prints a request
// Herald delivered to it, with its signature verified, and ends on SIGINT.
func TestReceiveBinary(t *testing.T) {
	t.Parallel()
	secret, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "receive", "--port", "0", "--secret", secret)
	out := &outBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	url := out.waitMatch(t, receiveRE.String(), 20*time.Second)[1]

	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(url+"/hooks", map[string]any{"secret": secret})
	ev := s.Send(map[string]any{"name": "山田 太郎"})
	s.WaitDelivery(ev, "succeeded", 1, 10*time.Second)
	out.waitMatch(t, `^signature: valid: signature matches \(webhook-id dlv_`, 10*time.Second)
	out.waitMatch(t, `^    "name": "山田 太郎"`, time.Second)

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Fatalf("herald receive after SIGINT: %v; output:\n%s", err, out)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("herald receive did not end after SIGINT; output:\n%s", out)
	}
}

// receiver is a `herald receive` run by Main in-process.
type receiver struct {
	url string
	out *lineWriter
}

var receiveRE = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)/`)

func startReceive(t *testing.T, args ...string) *receiver {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &receiver{out: &lineWriter{lines: make(chan string, 64)}}
	done := make(chan int, 1)
	var errOut bytes.Buffer
	go func() {
		done <- Main(ctx, append([]string{"receive", "--port", "0"}, args...), r.out, &errOut)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("receive exited %d: %s", code, errOut.String())
		}
	})
	deadline := time.After(10 * time.Second)
	for r.url == "" {
		select {
		case line := <-r.out.lines:
			if m := receiveRE.FindStringSubmatch(line); m != nil {
				r.url = m[1]
			}
		case code := <-done:
			t.Fatalf("receive exited %d at start: %s", code, errOut.String())
		case <-deadline:
			t.Fatalf("receive did not start: %s", r.out)
		}
	}
	return r
}

// waitFor waits until the receiver printed every one of parts, or fails.
func (r *receiver) waitFor(t *testing.T, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := r.out.String()
		missing := ""
		for _, p := range parts {
			if !strings.Contains(out, p) {
				missing = p
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("receive did not print %q; it printed:\n%s", missing, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReceive: a real Herald delivers to `herald receive`, which prints
// the request (pretty JSON, the webhook headers) and reports it verified;
// a request whose body was altered after signing is reported invalid;
// --status sets the answer, which Herald records.
func TestReceive(t *testing.T) {
	t.Parallel()
	secret, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	rcv := startReceive(t, "--secret", secret)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rcv.url+"/hooks?src=herald", map[string]any{"secret": secret})
	ev := s.Send(map[string]any{"name": "山田 太郎", "tags": []string{"vip"}})
	s.WaitDelivery(ev, "succeeded", 1, 10*time.Second)
	rcv.waitFor(t, "POST /hooks?src=herald  ", "  Webhook-Id: dlv_", "  Content-Type: application/json",
		"\n  \"type\": \"lead.created\",", "\n    \"name\": \"山田 太郎\",", "signature: valid: signature matches (webhook-id dlv_", "answered 200")
	if strings.Contains(rcv.out.String(), "invalid") {
		t.Fatalf("a request from Herald reported invalid:\n%s", rcv.out)
	}

	// The same headers on another body.
	signer, err := signing.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req, _ := http.NewRequest("POST", rcv.url+"/tampered", strings.NewReader(`{"amount":1000}`))
	signing.Headers(req.Header, "msg_t", now, signer.Sign("msg_t", now, []byte(`{"amount":1}`)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("answered %d", resp.StatusCode)
	}
	rcv.waitFor(t, "POST /tampered  ", "\n  \"amount\": 1000\n", "signature: invalid: no matching signature")

	// Another status, no secret: nothing checked.
	failing := startReceive(t, "--status", "503")
	resp, err = http.Post(failing.url+"/x", "text/plain", strings.NewReader("plain text"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("--status 503 answered %d", resp.StatusCode)
	}
	failing.waitFor(t, "signatures not checked", "POST /x  ", "\nplain text\n", "answered 503")
	if strings.Contains(failing.out.String(), "signature:") {
		t.Fatalf("a signature verdict without a secret:\n%s", failing.out)
	}
}

// TestMainVersionAndHelp: --version prints what `herald version` does;
// help prints a command's help on stdout and exits 0.
func TestMainVersionAndHelp(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	_, version, _ := run("version")
	if code, out, errOut := run("--version"); code != 0 || out != version || errOut != "" {
		t.Errorf("--version: %d %q %q, want %q", code, out, errOut, version)
	}
	for _, args := range [][]string{{"help"}, {"help", "serve"}, {"help", "verify"}, {"receive", "--help"}} {
		code, out, errOut := run(args...)
		if code != 0 || !strings.HasPrefix(out, "Usage: herald") || errOut != "" {
			t.Errorf("%v: %d %q %q", args, code, out, errOut)
		}
		if args[0] == "help" && len(args) == 2 && !strings.Contains(out, "Usage: herald "+args[1]) {
			t.Errorf("%v: not the command's help: %q", args, out)
		}
	}
	if _, out, _ := run("help", "serve"); !strings.Contains(out, "--config=FILE") || !strings.Contains(out, "--retention=720h") {
		t.Errorf("serve's help lacks --config or --retention: %s", out)
	}
	// herald alone shows the commands, but is not a success.
	if code, out, _ := run(); code != 2 || !strings.Contains(out, "verify") || !strings.Contains(out, "receive") {
		t.Errorf("no arguments: %d %q", code, out)
	}
}
