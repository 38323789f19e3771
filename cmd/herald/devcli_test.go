package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/verify"
)

// The tests of the commands that talk to a server (listen, trigger,
// resend, recover, apps, event-types, endpoints) run them in-process
// with Main against a real Herald (heraldtest), so they are also the
// tests of the Go client those commands are built on.

// outBuf is a stdout or stderr that a running command writes while the
// test reads it.
type outBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *outBuf) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *outBuf) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// waitMatch waits until the output has a line matching re, and returns
// the line's submatches.
func (o *outBuf) waitMatch(t *testing.T, re string, within time.Duration) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for {
		for line := range strings.Lines(o.String()) {
			if m := rx.FindStringSubmatch(strings.TrimSuffix(line, "\n")); m != nil {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line matching %q within %v; output:\n%s", re, within, o.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runRemote runs one command against s with the admin token and returns its
// exit code, stdout and stderr.
func runRemote(t *testing.T, s *heraldtest.Server, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	all := append([]string{"--server", s.URL, "--token", heraldtest.Token}, args...)
	code := Main(context.Background(), all, &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustHerald is runRemote that fails the test unless the command succeeds.
func mustHerald(t *testing.T, s *heraldtest.Server, args ...string) string {
	t.Helper()
	code, out, errOut := runRemote(t, s, args...)
	if code != 0 {
		t.Fatalf("herald %s: exit %d: %s%s", strings.Join(args, " "), code, errOut, out)
	}
	return out
}

// oneLine checks that stderr is exactly one line holding each of parts.
func oneLine(t *testing.T, stderr string, parts ...string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr %q, want one line", stderr)
	}
	for _, p := range parts {
		if !strings.Contains(stderr, p) {
			t.Errorf("stderr %q lacks %q", stderr, p)
		}
	}
}

// startListen runs `herald listen` until the returned stop is called;
// stop returns its exit code.
func startListen(t *testing.T, s *heraldtest.Server, args ...string) (out, errOut *outBuf, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut = &outBuf{}, &outBuf{}
	done := make(chan int, 1)
	all := append([]string{"listen", "--server", s.URL, "--token", heraldtest.Token}, args...)
	go func() { done <- Main(ctx, all, out, errOut) }()
	stop = sync.OnceValue(func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(15 * time.Second):
			t.Fatalf("herald listen did not end within 15 s of its cancel; output:\n%s", out)
			return -1
		}
	})
	t.Cleanup(func() { stop() })
	return out, errOut, stop
}

// TestListen follows one delivery through `herald listen`: it reaches the
// local app with Herald's signature (checked with the secret that
// --print-secret shows), the app's 500 is recorded as an attempt and
// retried, the retry's 200 is recorded, a line is printed for each, and
// ending the command removes its pull endpoint.
func TestListen(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "order.paid"}, nil, 201)
	local := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("boom"))
			return
		}
		_, _ = w.Write([]byte("thanks"))
	})

	// --app is left out: acme is the only app.
	out, errOut, stop := startListen(t, s, "--forward-to", local.URL+"/hooks", "--events", "lead.*", "--print-secret")
	secret := out.waitMatch(t, `^signing secret: (whsec_\S+)`, 10*time.Second)[1]
	ep := out.waitMatch(t, `^listening to app acme \(lead\.\*\) through the pull endpoint (ep_\S+),`, 10*time.Second)[1]
	var got struct {
		Kind       string   `json:"kind"`
		EventTypes []string `json:"event_types"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep, nil, &got, 200)
	if got.Kind != "pull" || len(got.EventTypes) != 1 || got.EventTypes[0] != "lead.*" {
		t.Fatalf("the endpoint is %+v, want a pull endpoint subscribed to lead.*", got)
	}

	// An event of another type is not received; ours is.
	s.MustSend(t, "order.paid", map[string]any{"n": 0})
	ev := s.MustSend(t, "lead.created", map[string]any{"name": "山田 太郎", "n": 1})
	reqs := local.Wait(t, 2, 15*time.Second)
	v, err := verify.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		if r.Method != "POST" || r.Path != "/hooks" {
			t.Errorf("request %d: %s %s, want POST /hooks", i, r.Method, r.Path)
		}
		if err := v.Verify(r.Header, r.Body); err != nil {
			t.Errorf("request %d: the signature does not verify: %v", i, err)
		}
		if !strings.Contains(string(r.Body), `"type":"lead.created"`) || !strings.Contains(string(r.Body), "山田 太郎") {
			t.Errorf("request %d: body %s", i, r.Body)
		}
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "Herald/") {
			t.Errorf("request %d: User-Agent %q, want Herald's", i, ua)
		}
	}
	// Herald's headers and no others: nothing added on the way (no
	// Accept-Encoding, no proxy's).
	var names []string
	for k := range reqs[1].Header {
		if k != "Content-Length" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	if got, want := strings.Join(names, " "), "Content-Type User-Agent Webhook-Id Webhook-Signature Webhook-Timestamp"; got != want {
		t.Errorf("headers %s, want %s", got, want)
	}
	if a, b := reqs[0].Header.Get("Webhook-Id"), reqs[1].Header.Get("Webhook-Id"); a == "" || a != b {
		t.Errorf("webhook-ids %q and %q, want one delivery's", a, b)
	}
	out.waitMatch(t, `^→ lead\.created `+ev+` ← 500 \d+ ms \(retried at `, 10*time.Second)
	out.waitMatch(t, `^→ lead\.created `+ev+` ← 200 \d+ ms$`, 10*time.Second)

	d := s.WaitDelivery(ev, "succeeded", 2, 10*time.Second)
	if r := d.Attempts[0].Response; r == nil || r.StatusCode != 500 || r.Body != "boom" {
		t.Errorf("first attempt's response %+v, want 500 boom", r)
	}
	if r := d.Attempts[1].Response; r == nil || r.StatusCode != 200 || r.Body != "thanks" {
		t.Errorf("second attempt's response %+v, want 200 thanks", r)
	}

	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	if !strings.Contains(out.String(), "removed the endpoint "+ep) {
		t.Errorf("output %q does not say the endpoint was removed", out)
	}
	if code := s.Do("GET", "/v1/apps/acme/endpoints/"+ep, nil, nil); code != 404 {
		t.Errorf("the endpoint after exit: %d, want 404", code)
	}
}

// TestListenLocalAppDown: with nothing listening at --forward-to, each
// delivery is acknowledged with the connection's error, which is
// recorded as a failed attempt; `herald resend` of a pull endpoint's
// delivery hands it out again at once; exit still removes the endpoint.
func TestListenLocalAppDown(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h"})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	// A port just freed: connections to it are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/hooks"
	ln.Close()

	// Two apps: --app is required.
	code, _, stderr := runRemote(t, s, "listen", "--forward-to", down)
	if code != 2 {
		t.Errorf("listen without --app among two apps: exit %d, want 2", code)
	}
	oneLine(t, stderr, "--app")

	out, _, stop := startListen(t, s, "--forward-to", down, "--app", "acme")
	ep := out.waitMatch(t, `pull endpoint (ep_\S+),`, 10*time.Second)[1]
	ev := s.MustSend(t, "lead.created", map[string]any{"n": 1})
	out.waitMatch(t, `^→ lead\.created `+ev+` ← error: .*refused`, 15*time.Second)
	d := s.WaitDelivery(ev, "pending", 1, 10*time.Second)
	a := d.Attempts[0]
	if a.Response != nil || !strings.Contains(a.Error, "refused") {
		t.Errorf("attempt: response %+v, error %q; want no response and the connection's error", a.Response, a.Error)
	}
	// Its retry is an hour away; a resend makes it due for listen now.
	out2 := mustHerald(t, s, "resend", d.ID, "--app", "acme")
	if want := d.ID + " is due again for its pull endpoint's client (" + ep + ")\n"; out2 != want {
		t.Errorf("resend: %q, want %q", out2, want)
	}
	// One retry in the schedule: the second error ends the delivery.
	s.WaitDelivery(ev, "failed", 2, 15*time.Second)
	out.waitMatch(t, `^→ lead\.created `+ev+` ← error: .*refused \d+ ms \(failed: not retried\)$`, 10*time.Second)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if code := s.Do("GET", "/v1/apps/acme/endpoints/"+ep, nil, nil); code != 404 {
		t.Errorf("the endpoint after exit: %d, want 404", code)
	}
}

// TestTrigger sends the catalog's sample, then a payload from a file, as
// real events that reach a subscribed endpoint; an unknown type is one
// line on stderr.
func TestTrigger(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "sample": map[string]any{"email": "sample@example.com"}}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/a", "event_types": []string{"lead.created"}}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/b", "event_types": []string{"lead.created"}}, nil, 201)

	out := mustHerald(t, s, "trigger", "lead.created")
	m := regexp.MustCompile(`^(evt_\S+) lead\.created sent to app acme: 2 deliveries\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output %q", out)
	}
	for _, r := range rc.Wait(t, 2, 10*time.Second) {
		if !strings.Contains(string(r.Body), `"data":{"email":"sample@example.com"}`) {
			t.Errorf("body %s, want the sample", r.Body)
		}
	}
	s.WaitDelivery(m[1], "succeeded", 1, 10*time.Second)

	file := filepath.Join(t.TempDir(), "lead.json")
	if err := os.WriteFile(file, []byte(`{"email": "file@example.com", "n": 42}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = mustHerald(t, s, "trigger", "lead.created", "--app", "acme", "--payload", "@"+file)
	if !strings.Contains(out, "2 deliveries") {
		t.Errorf("output %q", out)
	}
	for _, r := range rc.Wait(t, 4, 10*time.Second)[2:] {
		if !strings.Contains(string(r.Body), `"data":{"email":"file@example.com","n":42}`) {
			t.Errorf("body %s, want the file's payload", r.Body)
		}
	}

	code, out, stderr := runRemote(t, s, "trigger", "lead.craeted")
	if code != 1 || out != "" {
		t.Errorf("unknown type: exit %d, stdout %q", code, out)
	}
	oneLine(t, stderr, "herald: ", "lead.craeted")
	code, _, stderr = runRemote(t, s, "trigger", "lead.craeted", "--payload", `{"a": 1}`)
	if code != 1 {
		t.Errorf("unknown type with a payload: exit %d", code)
	}
	oneLine(t, stderr, "herald: 422 ", "lead.craeted")
	code, _, stderr = runRemote(t, s, "trigger", "lead.created", "--payload", `{"a": `)
	if code != 2 {
		t.Errorf("a payload that is not JSON: exit %d, want 2", code)
	}
	oneLine(t, stderr, "--payload")
}

// TestRecoverAndResend: deliveries that failed are requeued by `herald
// recover` (the built binary), which follows its job to the end and prints
// its progress as lines when stdout is not a terminal; `herald resend` sends one again
// and prints the receiver's answer.
func TestRecoverAndResend(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "50ms"})
	var mu sync.Mutex
	status := http.StatusServiceUnavailable
	rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
	})
	ep := s.Setup(rc.URL, nil)
	var evs []string
	for i := range 3 {
		evs = append(evs, s.Send(map[string]any{"n": i}))
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, s.WaitDelivery(ev, "failed", 2, 10*time.Second).ID)
	}
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()

	// One cause only: none of them got a 500 (they got 503s).
	if out := mustHerald(t, s, "recover", "--endpoint", ep, "--since", "1h", "--status-code", "500", "--app", "acme"); !strings.Contains(out, "succeeded: 0 deliveries requeued") {
		t.Errorf("recover --status-code 500: %q, want none requeued", out)
	}
	// Through the built binary: its stdout is a pipe, so progress comes
	// as lines.
	got, err := exec.Command(binary, "recover", "--endpoint", ep, "--since", "1h", "--status-code", "5xx",
		"--server", s.URL, "--token", heraldtest.Token).Output()
	if err != nil {
		t.Fatalf("herald recover: %v: %s", err, got)
	}
	out := string(got)
	if !regexp.MustCompile(`(?m)^job_\S+: \d+/3$`).MatchString(out) {
		t.Errorf("no progress line in %q", out)
	}
	if !regexp.MustCompile(`(?m)^job_\S+ succeeded: 3 deliveries requeued$`).MatchString(out) {
		t.Errorf("no final line in %q", out)
	}
	for _, ev := range evs {
		s.WaitDelivery(ev, "succeeded", 3, 10*time.Second)
	}

	out = mustHerald(t, s, "resend", ids[0], "--app", "acme")
	if !regexp.MustCompile(`^` + ids[0] + ` resent \(attempt 4\) ← 200 \d+ ms: succeeded\n$`).MatchString(out) {
		t.Errorf("resend output %q", out)
	}
	code, _, stderr := runRemote(t, s, "resend", "dlv_nope")
	if code != 1 {
		t.Errorf("resend of no delivery: exit %d", code)
	}
	oneLine(t, stderr, "herald: 404 not_found: ")
	code, _, stderr = runRemote(t, s, "recover", "--endpoint", ep)
	if code != 2 {
		t.Errorf("recover without --since: exit %d, want 2", code)
	}
	oneLine(t, stderr, "--since")
}

// TestResourceCommands creates, reads, lists, changes and deletes apps,
// event types and endpoints through the commands, reading --output json
// back as the API's objects and checking the tables' columns.
func TestResourceCommands(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	decode := func(out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("not JSON: %v: %s", err, out)
		}
	}
	type app struct {
		ID, UID, Name string
	}
	var a app
	decode(mustHerald(t, s, "apps", "create", "--name", "Acme", "--uid", "acme", "-o", "json"), &a)
	if !strings.HasPrefix(a.ID, "app_") || a.UID != "acme" || a.Name != "Acme" {
		t.Fatalf("created %+v", a)
	}
	// --data gives the fields no flag has; a flag wins over it.
	var b struct {
		app
		RetrySchedule string `json:"retry_schedule"`
	}
	decode(mustHerald(t, s, "apps", "create", "--name", "Beta", "--data", `{"name": "x", "uid": "beta", "retry_schedule": "1s,2s"}`, "--output", "json"), &b)
	if b.Name != "Beta" || b.UID != "beta" || b.RetrySchedule != "1s,2s" {
		t.Errorf("created %+v", b)
	}
	var list []app
	decode(mustHerald(t, s, "apps", "list", "-o", "json"), &list)
	if len(list) != 2 {
		t.Errorf("listed %+v", list)
	}
	table := mustHerald(t, s, "apps", "list")
	checkTable(t, table, []string{"ID", "UID", "NAME", "CREATED"}, a.ID, "acme", "Acme")
	decode(mustHerald(t, s, "apps", "update", "acme", "--name", "Acme Corp", "-o", "json"), &a)
	if a.Name != "Acme Corp" {
		t.Errorf("updated %+v", a)
	}
	checkTable(t, mustHerald(t, s, "apps", "get", a.ID), []string{"ID", "UID", "NAME", "CREATED"}, a.ID, "acme", "Acme Corp")

	var et struct {
		Name, Description string
		Sample            map[string]any
	}
	decode(mustHerald(t, s, "event-types", "create", "lead.created", "--description", "A form was sent", "--sample", `{"email": "a@example.com"}`, "-o", "json"), &et)
	if et.Name != "lead.created" || et.Sample["email"] != "a@example.com" {
		t.Errorf("created %+v", et)
	}
	mustHerald(t, s, "event-types", "create", "order.paid")
	decode(mustHerald(t, s, "event-types", "update", "order.paid", "--description", "Paid", "-o", "json"), &et)
	if et.Description != "Paid" {
		t.Errorf("updated %+v", et)
	}
	checkTable(t, mustHerald(t, s, "event-types", "list"), []string{"NAME", "GROUP", "DEPRECATED", "SAMPLE", "DESCRIPTION"}, "lead.created", "yes", "A form was sent")

	type endpoint struct {
		ID, Kind, URL string
		Enabled       bool
		EventTypes    []string `json:"event_types"`
	}
	var ep endpoint
	decode(mustHerald(t, s, "endpoints", "create", "--app", "acme", "--url", "http://127.0.0.1:9/hooks", "--events", "lead.created, order.paid", "-o", "json"), &ep)
	if ep.Kind != "push" || ep.URL != "http://127.0.0.1:9/hooks" || len(ep.EventTypes) != 2 || !ep.Enabled {
		t.Errorf("created %+v", ep)
	}
	var pull endpoint
	decode(mustHerald(t, s, "endpoints", "create", "--app", "acme", "--pull", "-o", "json"), &pull)
	if pull.Kind != "pull" || pull.URL != "" {
		t.Errorf("created %+v", pull)
	}
	decode(mustHerald(t, s, "endpoints", "update", ep.ID, "--app", "acme", "--disable", "-o", "json"), &ep)
	if ep.Enabled {
		t.Errorf("updated %+v", ep)
	}
	var eps []endpoint
	decode(mustHerald(t, s, "endpoints", "list", "--app", "acme", "-o", "json"), &eps)
	if len(eps) != 2 {
		t.Errorf("listed %+v", eps)
	}
	table = mustHerald(t, s, "endpoints", "list", "--app", "acme")
	checkTable(t, table, []string{"ID", "KIND", "URL", "EVENTS", "ENABLED", "DESCRIPTION"}, ep.ID, "push", "http://127.0.0.1:9/hooks", "lead.created,order.paid", "false")
	checkTable(t, table, []string{"ID", "KIND", "URL", "EVENTS", "ENABLED", "DESCRIPTION"}, pull.ID, "pull", "-", "(all)", "true")
	// Two apps: the app must be named.
	code, _, stderr := runRemote(t, s, "endpoints", "list")
	if code != 2 {
		t.Errorf("endpoints list without --app: exit %d, want 2", code)
	}
	oneLine(t, stderr, "--app")

	if out := mustHerald(t, s, "endpoints", "delete", pull.ID, "--app", "acme"); out != "deleted the endpoint "+pull.ID+"\n" {
		t.Errorf("delete: %q", out)
	}
	mustHerald(t, s, "event-types", "delete", "order.paid")
	mustHerald(t, s, "apps", "delete", "beta")
	code, out, stderr := runRemote(t, s, "apps", "get", "beta")
	if code != 1 || out != "" {
		t.Errorf("a deleted app: exit %d, stdout %q", code, out)
	}
	oneLine(t, stderr, "herald: 404 not_found: ")
	code, _, stderr = runRemote(t, s, "apps", "create", "--data", "[1]")
	if code != 2 {
		t.Errorf("--data not an object: exit %d, want 2", code)
	}
	oneLine(t, stderr, "--data")
}

// checkTable checks a table's header and that one of its rows has
// exactly the given leading cells.
func checkTable(t *testing.T, table string, header []string, cells ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != strings.Join(header, " ") {
		t.Errorf("header %q, want %q", lines[0], header)
	}
	// Columns are aligned: each header word starts where the rows'
	// cells do.
	starts := map[int]bool{}
	for _, f := range header {
		starts[strings.Index(lines[0], f)] = true
	}
	for _, row := range lines[1:] {
		if !strings.HasPrefix(row, cells[0]+" ") {
			continue
		}
		pos := 0
		for _, c := range cells {
			i := strings.Index(row[pos:], c)
			if i < 0 || !starts[pos+i] {
				t.Errorf("row %q: %q not at a column's start (table:\n%s)", row, c, table)
				return
			}
			pos += i + len(c)
		}
		return
	}
	t.Errorf("no row starting %q in:\n%s", cells[0], table)
}

// TestRemoteTokenFromDataDir: without --token, the commands take the
// admin token file that herald serve keeps in $HERALD_DATA_DIR; without
// either, one line says what to do.
func TestRemoteTokenFromDataDir(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	dir := t.TempDir()
	t.Setenv("HERALD_TOKEN", "")
	t.Setenv("HERALD_DATA_DIR", dir)
	run := func() (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), []string{"apps", "list", "--server", s.URL}, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, _, stderr := run()
	if code != 1 {
		t.Errorf("without a token: exit %d", code)
	}
	oneLine(t, stderr, "--token", app.AdminTokenFile)
	if err := os.WriteFile(filepath.Join(dir, app.AdminTokenFile), []byte(heraldtest.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run()
	if code != 0 || !strings.Contains(out, "acme") {
		t.Errorf("with the data dir's token: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	// --data-dir, on a command or on its group, wins over the variable.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, app.AdminTokenFile), []byte(heraldtest.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HERALD_DATA_DIR", t.TempDir())
	for _, args := range [][]string{
		{"apps", "list", "--data-dir", other},
		{"apps", "--data-dir", other, "list"},
		{"trigger", "lead.created", "--payload", `{"n":1}`, "--data-dir", other},
	} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append(args, "--server", s.URL), &out, &errOut)
		if args[0] == "trigger" {
			// No such event type: the token was taken, the server answered.
			if code != 1 || strings.Contains(errOut.String(), "no token") {
				t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
			}
			continue
		}
		if code != 0 || !strings.Contains(out.String(), "acme") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errOut.String())
		}
	}
}

// TestListenBinary runs the built binary as a developer does: listen in
// one process, trigger in another, and SIGINT (Ctrl-C) ends listen,
// which removes its endpoint.
func TestListenBinary(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "sample": map[string]any{"id": "42"}}, nil, 201)
	local := heraldtest.NewReceiver(t, nil)

	cmd := exec.Command(binary, "listen", "--forward-to", local.URL+"/hooks")
	cmd.Env = append(os.Environ(), "HERALD_SERVER="+s.URL, "HERALD_TOKEN="+heraldtest.Token)
	out := &outBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// done is closed when the process has ended, waitErr set.
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	ep := out.waitMatch(t, `pull endpoint (ep_\S+),`, 20*time.Second)[1]

	trigger := exec.Command(binary, "trigger", "lead.created", "--server", s.URL, "--token", heraldtest.Token)
	got, err := trigger.CombinedOutput()
	if err != nil {
		t.Fatalf("herald trigger: %v: %s", err, got)
	}
	ev := regexp.MustCompile(`^evt_\S+`).FindString(string(got))
	if ev == "" || !strings.Contains(string(got), "1 delivery") {
		t.Fatalf("herald trigger: %s", got)
	}
	r := local.Wait(t, 1, 15*time.Second)[0]
	if !strings.Contains(string(r.Body), `"data":{"id":"42"}`) {
		t.Errorf("body %s, want the sample", r.Body)
	}
	out.waitMatch(t, `^→ lead\.created `+ev+` ← 200 \d+ ms$`, 10*time.Second)
	s.WaitDelivery(ev, "succeeded", 1, 10*time.Second)

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("herald listen after SIGINT: %v; output:\n%s", waitErr, out)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("herald listen did not end after SIGINT; output:\n%s", out)
	}
	if code := s.Do("GET", "/v1/apps/acme/endpoints/"+ep, nil, nil); code != 404 {
		t.Errorf("the endpoint after SIGINT: %d, want 404", code)
	}
}
