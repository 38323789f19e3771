package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// answer is one API answer, with how long it took.
type answer struct {
	code    int
	body    string
	retry   string
	elapsed time.Duration
	err     error
}

func (a answer) String() string {
	return fmt.Sprintf("%d (Retry-After %q) in %s: %s %v", a.code, a.retry, a.elapsed.Round(time.Millisecond), strings.TrimSpace(a.body), a.err)
}

// errCode is the code of an error answer.
func (a answer) errCode() string {
	var e struct{ Error struct{ Code string } }
	_ = json.Unmarshal([]byte(a.body), &e)
	return e.Error.Code
}

// do calls p with a client that gives up after a minute, so that a hang
// shows as a long elapsed time rather than a stuck test.
func (p *proc) do(bearer, method, path string, body any) answer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.url+path, rd)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	c := &http.Client{Timeout: time.Minute}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, body: string(b), retry: resp.Header.Get("Retry-After"), elapsed: time.Since(start), err: err}
}

// within polls f every 50 ms until it is true, failing after d; it returns
// how long it took.
func within(t *testing.T, d time.Duration, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !f() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// unavailable503 checks a store-fault answer: 503, one of codes, a
// Retry-After, within limit.
func unavailable503(t *testing.T, what string, a answer, limit time.Duration, codes ...string) {
	t.Helper()
	ok := a.err == nil && a.code == 503 && a.retry != "" && a.elapsed <= limit
	if ok {
		ok = false
		for _, c := range codes {
			ok = ok || a.errCode() == c
		}
	}
	if !ok {
		t.Fatalf("%s: %s; want 503 %v with Retry-After within %s", what, a, codes, limit)
	}
}

// metric reads one sample of /metrics.
func metric(t *testing.T, p *proc, name string) string {
	t.Helper()
	a := p.do("", "GET", "/metrics", nil)
	if a.code != 200 {
		t.Fatalf("/metrics: %s", a)
	}
	m := regexp.MustCompile(`(?m)^` + name + `(?:\{[^}]*\})? (\S+)$`).FindStringSubmatch(a.body)
	if m == nil {
		return ""
	}
	return m[1]
}

// mountTmpfs mounts a tmpfs of size at a new directory, unmounted at
// cleanup. It needs root, which CI has.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return
		}
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				// Bytes may remain below a block: write them one by one.
				for {
					if _, err := f.Write(buf[:1]); err != nil {
						return
					}
				}
			}
			t.Fatal(err)
		}
	}
}

// TestDiskFull: with the data dir on a full disk, writes answer 503
// storage_full with Retry-After, reads keep working, /readyz is 503 and
// /metrics says so; a process SIGKILLed there starts again on the full
// disk; when space returns, writes succeed again without a restart; every
// event answered 202 is still there.
func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "8m")
	dataDir := filepath.Join(dir, "data")
	// Reserve room that freeing gives back later.
	reserve := filepath.Join(dir, "reserve")
	if err := os.WriteFile(reserve, make([]byte, 3<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--store-timeout", "1s", "--disk-warn-free", "2MiB"}
	h := startHerald(t, dataDir, flags...)
	h.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	h.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	h.mustCall(t, "POST", "/v1/apps/acme/endpoints", map[string]any{"url": "http://127.0.0.1:9/never"}, 201)

	// Events of 32 KB until the disk is full.
	payload := map[string]any{"pad": strings.Repeat("x", 32<<10)}
	var accepted []string
	var full answer
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatalf("the disk never filled: %d events accepted", len(accepted))
		}
		a := h.do(token, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": payload})
		if a.code == 202 {
			var ev struct{ ID string }
			_ = json.Unmarshal([]byte(a.body), &ev)
			accepted = append(accepted, ev.ID)
			continue
		}
		full = a
		break
	}
	unavailable503(t, "POST event on a full disk", full, 3*time.Second, "storage_full")
	// Take what is left, so that no write finds room by chance.
	fill(t, filepath.Join(dir, "filler"))
	for range 3 {
		a := h.do(token, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": payload})
		unavailable503(t, "POST event on a full disk", a, 3*time.Second, "storage_full", "unavailable")
	}
	if a := h.do(token, "GET", "/v1/apps/acme/events?limit=5", nil); a.code != 200 {
		t.Fatalf("reads on a full disk: %s", a)
	}
	within(t, 3*time.Second, "/readyz 503 on a full disk", func() bool {
		a := h.do("", "GET", "/readyz", nil)
		return a.code == 503 && strings.TrimSpace(a.body) == `{"status":"unavailable","store":"full"}`
	})
	if v := metric(t, h, "herald_store_writable"); v != "0" {
		t.Fatalf("herald_store_writable on a full disk: %q", v)
	}
	if v := metric(t, h, "herald_data_dir_free_bytes"); v == "" {
		t.Fatal("no herald_data_dir_free_bytes")
	}
	t.Logf("%d events accepted before the disk filled; then %s", len(accepted), full)

	// A crash on the full disk, and a start there.
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
	<-h.done
	h = startHerald(t, dataDir, flags...)
	if a := h.do(token, "GET", "/v1/apps/acme/events?limit=5", nil); a.code != 200 {
		t.Fatalf("reads after a restart on a full disk: %s", a)
	}
	a := h.do(token, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": payload})
	unavailable503(t, "POST event after a restart on a full disk", a, 3*time.Second, "storage_full", "unavailable")
	if a := h.do("", "GET", "/readyz", nil); a.code != 503 {
		t.Fatalf("/readyz after a restart on a full disk: %s", a)
	}
	if !strings.Contains(h.log(), "running out of space") {
		t.Errorf("no warning below --disk-warn-free:\n%s", h.log())
	}

	// Space comes back: the same process heals.
	if err := os.Remove(reserve); err != nil {
		t.Fatal(err)
	}
	took := within(t, 5*time.Second, "/readyz 200 once space is back", func() bool {
		return h.do("", "GET", "/readyz", nil).code == 200
	})
	within(t, 5*time.Second, "POST event once space is back", func() bool {
		return h.do(token, "POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"small": 1}}).code == 202
	})
	t.Logf("ready again %s after space was freed", took.Round(time.Millisecond))
	for _, id := range accepted {
		if a := h.do(token, "GET", "/v1/apps/acme/events/"+id, nil); a.code != 200 {
			t.Fatalf("accepted event %s: %s", id, a)
		}
	}
	if n := strings.Count(h.log(), "level=ERROR"); n > 3 {
		t.Errorf("%d ERROR lines; the store's state should be logged once per change:\n%s", n, h.log())
	}
}

// pgProxy forwards TCP connections to a PostgreSQL server and can stop
// forwarding without closing anything (a hung server) or cut every
// connection and refuse new ones (a server that is down).
type pgProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	down   bool
	thaw   chan struct{}
	conns  map[net.Conn]struct{}
	closed bool
}

func startProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target, thaw: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.thaw)
	go p.serve()
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		if p.frozen {
			close(p.thaw)
			p.frozen = false
		}
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		ln.Close()
	})
	return p
}

func (p *pgProxy) addr() string { return p.ln.Addr().String() }

func (p *pgProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down || p.closed {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *pgProxy) pipe(c net.Conn) {
	// Connecting waits while frozen too: a hung server's accept queue.
	p.gate()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[s] = struct{}{}
	p.mu.Unlock()
	cp := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.gate()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go cp(s, c)
	cp(c, s)
}

// gate waits while the proxy is frozen.
func (p *pgProxy) gate() {
	p.mu.Lock()
	ch := p.thaw
	p.mu.Unlock()
	<-ch
}

// freeze stops forwarding; nothing is closed.
func (p *pgProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen = true
		p.thaw = make(chan struct{})
	}
}

// resume forwards again, what was held first.
func (p *pgProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thaw)
	}
	p.down = false
}

// cut closes every connection and refuses new ones until resume.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// viaProxy is dbURL with its host and port replaced by the proxy's.
func viaProxy(t *testing.T, dbURL string, p *pgProxy) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.addr()
	return u.String()
}

// TestStoreHangsAndFails: PostgreSQL behind a proxy that stops forwarding
// (a hung server) and then cuts every connection (a server gone). Events
// posted meanwhile, with the admin token and with an app key never looked
// up before, answer 503 with Retry-After within --store-timeout (1 s here;
// asserted under 3 s), never 500 and never a hang; /readyz is 503 without
// connection details; when the server is back, /readyz is 200 and writes
// succeed within about a second, with no tail of 500s; SIGTERM with the
// server hung exits within --shutdown-timeout.
func TestStoreHangsAndFails(t *testing.T) {
	dbURL := testDatabase(t)
	u, _ := url.Parse(dbURL)
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	host := u.Hostname()
	if host == "" {
		host = "127.0.0.1"
	}
	px := startProxy(t, net.JoinHostPort(host, port))
	h := startNode(t, viaProxy(t, dbURL, px), "--store-timeout", "1s", "--shutdown-timeout", "2s")
	h.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	h.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	var keys [3]string
	for i := range keys {
		var k struct{ Key string }
		b := h.mustCall(t, "POST", "/v1/api-keys", map[string]any{"name": fmt.Sprint("k", i), "scope": "app", "app": "acme"}, 201)
		_ = json.Unmarshal(b, &k)
		keys[i] = k.Key
	}
	event := map[string]any{"event_type": "lead.created", "payload": map[string]any{"id": 1}}
	h.mustCall(t, "POST", "/v1/apps/acme/events", event, 202)

	check := func(phase string, key string) {
		t.Helper()
		var wg sync.WaitGroup
		answers := make([]answer, 8)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bearer := token
				if i == 0 {
					bearer = key
				}
				answers[i] = h.do(bearer, "POST", "/v1/apps/acme/events", event)
			}()
		}
		wg.Wait()
		for i, a := range answers {
			unavailable503(t, fmt.Sprintf("%s: POST event %d", phase, i), a, 3*time.Second, "unavailable")
		}
		a := h.do("", "GET", "/readyz", nil)
		if a.code != 503 || a.elapsed > 3*time.Second || strings.TrimSpace(a.body) != `{"status":"unavailable","store":"unreachable"}` {
			t.Fatalf("%s: /readyz: %s", phase, a)
		}
		for _, secret := range []string{u.User.Username(), host, port, strings.TrimPrefix(u.Path, "/")} {
			if secret != "" && strings.Contains(a.body, secret) {
				t.Fatalf("%s: /readyz shows %q: %s", phase, secret, a.body)
			}
		}
		if v := metric(t, h, "herald_store_up"); v != "0" {
			t.Fatalf("%s: herald_store_up %q", phase, v)
		}
	}
	recover := func(phase string) {
		t.Helper()
		start := time.Now()
		px.resume()
		took := within(t, 5*time.Second, phase+": /readyz 200", func() bool { return h.do("", "GET", "/readyz", nil).code == 200 })
		// From now on, every call succeeds: no tail of errors.
		for i := range 20 {
			if a := h.do(token, "POST", "/v1/apps/acme/events", event); a.code != 202 {
				t.Fatalf("%s: POST event %d after recovery: %s", phase, i, a)
			}
		}
		t.Logf("%s: ready %s after the server was back (%s for 20 events)", phase, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}

	px.freeze()
	check("hung", keys[0])
	recover("hung")

	px.cut()
	check("down", keys[1])
	recover("down")

	// SIGTERM while the server hangs, with a request waiting on it.
	px.freeze()
	go h.do(token, "POST", "/v1/apps/acme/events", event)
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGTERM with --shutdown-timeout 2s:\n%s", h.log())
	}
	took := time.Since(start)
	if took > 2*time.Second+2*time.Second {
		t.Fatalf("SIGTERM took %s with --shutdown-timeout 2s", took)
	}
	t.Logf("exited %s after SIGTERM with the server hung", took.Round(time.Millisecond))
	if n := strings.Count(h.log(), "level=ERROR"); n > 8 {
		t.Errorf("%d ERROR lines for two outages; the store's state should be logged once per change:\n%s", n, h.log())
	}
	if strings.Contains(h.log(), "code=internal") || strings.Contains(h.log(), "status=500") {
		t.Errorf("a 500 was logged:\n%s", h.log())
	}
}

// mountExt4 mounts a new 32 MiB ext4 file system (a loop file) at a new
// directory, unmounted at cleanup; it returns the directory and the loop
// device's name. It needs root and mkfs.ext4, which CI has.
func mountExt4(t *testing.T) (string, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a loop file needs root (CI runs as root)")
	}
	base := t.TempDir()
	img, dir := filepath.Join(base, "img"), filepath.Join(base, "mnt")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"truncate", "-s", "32M", img}, {"mkfs.ext4", "-q", img}, {"mount", "-o", "loop,errors=remount-ro", img, dir}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", c, err, out)
		}
	}
	t.Cleanup(func() {
		_ = exec.Command("chattr", "-R", "-i", dir).Run()
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	src, err := exec.Command("findmnt", "-n", "-o", "SOURCE", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Base(strings.TrimSpace(string(src)))
}

// TestDataDirNotWritable: the data dir's files become unwritable, then
// writable again, then the kernel makes the file system read-only. Linux
// refuses to remount a file system read-only (or a bind mount of it)
// while files on it are open for writing, so the first phase makes the
// files immutable (chattr +i), which fails every write to them just the
// same and can be undone; the last phase is a real read-only file system,
// forced by an error (ext4 errors=remount-ro), which only an unmount
// undoes. Writes answer 503 with Retry-After, never 500; reads work;
// /readyz is 503; once the files are writable again Herald writes again
// without a restart; nothing accepted is lost.
func TestDataDirNotWritable(t *testing.T) {
	dir, dev := mountExt4(t)
	dataDir := filepath.Join(dir, "data")
	h := startHerald(t, dataDir, "--store-timeout", "1s")
	h.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	h.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	event := map[string]any{"event_type": "lead.created", "payload": map[string]any{"a": 1}}
	var accepted []string
	send := func() answer {
		a := h.do(token, "POST", "/v1/apps/acme/events", event)
		if a.code == 202 {
			var ev struct{ ID string }
			_ = json.Unmarshal([]byte(a.body), &ev)
			accepted = append(accepted, ev.ID)
		}
		return a
	}
	for range 20 {
		if a := send(); a.code != 202 {
			t.Fatalf("POST event: %s", a)
		}
	}
	// The database and its log, not the shared-memory index, which
	// readers write too (it lives in memory on a read-only file system).
	chattr := func(flag string) {
		t.Helper()
		db := filepath.Join(dataDir, "herald.db")
		if out, err := exec.Command("chattr", flag, db, db+"-wal").CombinedOutput(); err != nil {
			t.Fatalf("chattr %s: %v %s", flag, err, out)
		}
	}
	notWritable := func(phase string) {
		t.Helper()
		for i := range 5 {
			a := send()
			unavailable503(t, fmt.Sprintf("%s: POST event %d", phase, i), a, 3*time.Second, "unavailable", "storage_full")
		}
		if a := h.do(token, "GET", "/v1/apps/acme/events?limit=5", nil); a.code != 200 {
			t.Fatalf("%s: reads: %s\n%s", phase, a, h.log())
		}
		within(t, 3*time.Second, phase+": /readyz 503", func() bool {
			a := h.do("", "GET", "/readyz", nil)
			return a.code == 503 && strings.Contains(a.body, `"status":"unavailable"`)
		})
		if v := metric(t, h, "herald_store_writable"); v != "0" {
			t.Fatalf("%s: herald_store_writable %q", phase, v)
		}
	}

	chattr("+i")
	notWritable("immutable files")
	chattr("-i")
	took := within(t, 5*time.Second, "/readyz 200 once the files are writable", func() bool {
		return h.do("", "GET", "/readyz", nil).code == 200
	})
	within(t, 5*time.Second, "POST event once the files are writable", func() bool { return send().code == 202 })
	t.Logf("ready again %s after the files were writable again", took.Round(time.Millisecond))
	for _, id := range accepted {
		if a := h.do(token, "GET", "/v1/apps/acme/events/"+id, nil); a.code != 200 {
			t.Fatalf("accepted event %s: %s", id, a)
		}
	}

	// A real read-only file system, as the kernel makes it after an error.
	if err := os.WriteFile("/sys/fs/ext4/"+dev+"/trigger_fs_error", []byte("test"), 0o200); err != nil {
		t.Fatalf("make %s read-only: %v", dev, err)
	}
	notWritable("read-only file system")
	for _, id := range accepted {
		if a := h.do(token, "GET", "/v1/apps/acme/events/"+id, nil); a.code != 200 {
			t.Fatalf("accepted event %s on the read-only file system: %s", id, a)
		}
	}
	if strings.Contains(h.log(), "status=500") || strings.Contains(h.log(), "panic") {
		t.Errorf("a 500 or a panic:\n%s", h.log())
	}
}

// privateCluster is a PostgreSQL server of the test's own (initdb into a
// temp dir, on a free port), which it may restart; never the machine's.
type privateCluster struct {
	dir, port string
	run       func(args ...string) ([]byte, error)
	// restart stops the server (fast: sessions are ended) and starts it
	// again, waiting for both.
	restart func()
}

func startCluster(t *testing.T) *privateCluster {
	t.Helper()
	// Where PostgreSQL's tests run (CI), this one must too.
	skip := t.Skipf
	if os.Getenv("HERALD_TEST_DATABASE_URL") != "" {
		skip = t.Fatalf
	}
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
		if len(matches) == 0 {
			skip("initdb not found (CI has it at /usr/local/bin/initdb)")
		}
		initdb = matches[len(matches)-1]
	}
	pgCtl := filepath.Join(filepath.Dir(initdb), "pg_ctl")
	if _, err := os.Stat(pgCtl); err != nil {
		if pgCtl, err = exec.LookPath("pg_ctl"); err != nil {
			skip("pg_ctl not found")
		}
	}
	base := t.TempDir()
	dir := filepath.Join(base, "pgdata")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		out, err := exec.Command("id", "-u", "postgres").Output()
		if err != nil {
			skip("running as root without a postgres user to run PostgreSQL as")
		}
		var uid, gid int
		fmt.Sscan(strings.TrimSpace(string(out)), &uid)
		out, _ = exec.Command("id", "-g", "postgres").Output()
		fmt.Sscan(strings.TrimSpace(string(out)), &gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
		// The test's temp dirs are root's: let the server through.
		if err := os.Chmod(filepath.Dir(base), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	c := &privateCluster{dir: dir, port: port}
	c.run = func(args ...string) ([]byte, error) {
		cmd := exec.Command(args[0], args[1:]...)
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd.CombinedOutput()
	}
	if out, err := c.run(initdb, "-D", dir, "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v %s", err, out)
	}
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, base)
	pg := func(args ...string) {
		t.Helper()
		full := append([]string{pgCtl, "-D", dir, "-o", opts, "-l", filepath.Join(base, "log"), "-w", "-t", "30"}, args...)
		if out, err := c.run(full...); err != nil {
			log, _ := os.ReadFile(filepath.Join(base, "log"))
			t.Fatalf("pg_ctl %v: %v %s\n%s", args, err, out, log)
		}
	}
	pg("start")
	t.Cleanup(func() { _, _ = c.run(pgCtl, "-D", dir, "-m", "immediate", "-w", "stop") })
	c.restart = func() { pg("-m", "fast", "restart") }
	return c
}

// TestPostgresRestart: a real PostgreSQL server of the test's own is
// restarted under a steady load of events. Every answer is 202 or 503
// with Retry-After (never 500); events flow again within two seconds of
// the server being back, and then without a tail of errors; nothing
// answered 202 is lost.
func TestPostgresRestart(t *testing.T) {
	c := startCluster(t)
	dbURL := "postgres://postgres@127.0.0.1:" + c.port + "/postgres?sslmode=disable"
	h := startNode(t, dbURL, "--store-timeout", "1s")
	h.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	h.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
	event := map[string]any{"event_type": "lead.created", "payload": map[string]any{"a": 1}}

	type result struct {
		at  time.Time
		ans answer
		id  string
	}
	var (
		mu      sync.Mutex
		results []result
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				a := h.do(token, "POST", "/v1/apps/acme/events", event)
				r := result{at: time.Now(), ans: a}
				if a.code == 202 {
					var ev struct{ ID string }
					_ = json.Unmarshal([]byte(a.body), &ev)
					r.id = ev.ID
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	restartAt := time.Now()
	c.restart()
	backAt := time.Now()
	time.Sleep(4 * time.Second)
	close(stop)
	wg.Wait()

	var accepted, refused int
	firstOK := time.Duration(-1)
	var lastErr time.Time
	for _, r := range results {
		switch {
		case r.ans.code == 202:
			accepted++
			if r.at.After(backAt) && firstOK < 0 {
				firstOK = r.at.Sub(backAt)
			}
		case r.ans.code == 503 && r.ans.retry != "" && r.ans.elapsed < 3*time.Second:
			refused++
			lastErr = r.at
		default:
			t.Fatalf("answer during a restart: %s", r.ans)
		}
	}
	if firstOK < 0 || firstOK > 2*time.Second {
		t.Fatalf("first event accepted %s after the server was back; want within 2 s", firstOK)
	}
	if !lastErr.IsZero() && lastErr.Sub(backAt) > 2*time.Second {
		t.Fatalf("503s went on until %s after the server was back: a tail of errors", lastErr.Sub(backAt))
	}
	for _, r := range results {
		if r.id != "" {
			if a := h.do(token, "GET", "/v1/apps/acme/events/"+r.id, nil); a.code != 200 {
				t.Fatalf("accepted event %s: %s", r.id, a)
			}
		}
	}
	t.Logf("restart took %s; %d accepted, %d answered 503; first accepted %s after the server was back, last 503 %s after",
		backAt.Sub(restartAt).Round(time.Millisecond), accepted, refused, firstOK.Round(time.Millisecond), max(0, lastErr.Sub(backAt)).Round(time.Millisecond))
	if n := strings.Count(h.log(), "level=ERROR"); n > 4 {
		t.Errorf("%d ERROR lines for one restart:\n%s", n, h.log())
	}
}
