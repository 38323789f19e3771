package brokertest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Mosquitto is a Mosquitto broker of one test, with logins and an ACL,
// for what the shared broker on 1883 (anonymous, no ACL) cannot show.
type Mosquitto struct {
	// Addr is the broker's host:port on 127.0.0.1.
	Addr string
	t    testing.TB
	acl  string
	cmd  *exec.Cmd
}

// StartMosquitto starts a Mosquitto of the test's own on a free port that
// accepts only username with password and applies acl (Mosquitto's
// acl_file syntax). It stops with the test; without Mosquitto installed
// the test skips (fails in CI).
func StartMosquitto(t testing.TB, username, password, acl string) *Mosquitto {
	t.Helper()
	need := func(bin string) string {
		p, err := exec.LookPath(bin)
		if err != nil {
			// Debian installs the broker in /usr/sbin, off a user's PATH.
			if _, serr := os.Stat("/usr/sbin/" + bin); serr == nil {
				return "/usr/sbin/" + bin
			}
			if os.Getenv("HERALD_CI") != "" {
				t.Fatalf("%s is not installed: %v", bin, err)
			}
			t.Skipf("%s is not installed, so no broker with logins can be started: %v", bin, err)
		}
		return p
	}
	mosquitto, passwd := need("mosquitto"), need("mosquitto_passwd")
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if out, err := exec.Command(passwd, "-b", "-c", pw, username, password).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	m := &Mosquitto{t: t, acl: filepath.Join(dir, "acl")}
	if err := os.WriteFile(m.acl, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	// As root Mosquitto would switch to its own user, who cannot read the
	// test's files: stay who the test is.
	me := "root"
	if u, err := user.Current(); err == nil {
		me = u.Username
	}
	// The free port is found by listening then closing: another process
	// may take it first, so a Mosquitto that exits is tried again.
	var log bytes.Buffer
	for try := 1; ; try++ {
		addr := freePort(t)
		_, port, _ := net.SplitHostPort(addr)
		conf := filepath.Join(dir, "mosquitto.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(
			"listener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\nacl_file %s\npersistence false\nuser %s\n",
			port, pw, m.acl, me)), 0o600); err != nil {
			t.Fatal(err)
		}
		log.Reset()
		cmd := exec.Command(mosquitto, "-c", conf)
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		if listening(addr, exited, 10*time.Second) {
			t.Cleanup(stop)
			m.Addr, m.cmd = addr, cmd
			return m
		}
		stop()
		if try == 3 {
			t.Fatalf("mosquitto did not listen on %s: %s", addr, log.String())
		}
	}
}

// SetACL replaces the broker's ACL and has it read again (SIGHUP), for a
// test that refuses a topic and then allows it.
func (m *Mosquitto) SetACL(acl string) {
	m.t.Helper()
	if err := os.WriteFile(m.acl, []byte(acl), 0o600); err != nil {
		m.t.Fatal(err)
	}
	if err := m.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		m.t.Fatalf("reload mosquitto: %v", err)
	}
}

// StartRedis starts a Redis of this test alone on a free loopback port,
// with args added to its configuration, and returns its address. Without
// redis-server installed the test skips (fails in CI).
func StartRedis(t testing.TB, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("HERALD_CI") != "" {
			t.Fatalf("redis-server is not installed: %v", err)
		}
		t.Skipf("redis-server is not installed: %v", err)
	}
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, append([]string{"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	if !listening(addr, exited, 10*time.Second) {
		t.Fatalf("redis-server on %s did not start", addr)
	}
	return addr
}

// freePort is a loopback address no one listened on a moment ago.
func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// listening waits until addr accepts connections, the process behind
// it exits, or the time is up.
func listening(addr string, exited <-chan struct{}, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		select {
		case <-exited:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}
