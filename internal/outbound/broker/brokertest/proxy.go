// Package brokertest holds what the broker kinds' tests and the
// end-to-end tests of broker endpoints share: a TCP proxy that takes a
// real broker away and brings it back, and the check that a broker runs.
package brokertest

import (
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// Proxy stands between a client and a real broker on 127.0.0.1, so that a
// test can take the broker away (Down: the port refuses connections and
// open ones are cut) and bring it back (Up: the same port forwards again),
// without touching the broker the other tests share.
type Proxy struct {
	t      testing.TB
	target string
	addr   string
	// pipe copies one direction of a connection; io.Copy unless a test
	// watches the traffic.
	pipe func(dst io.Writer, src io.Reader, toBroker bool)

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

// NewProxy forwards a new port on 127.0.0.1 to target; it stops with the
// test.
func NewProxy(t testing.TB, target string) *Proxy {
	return NewProxyWith(t, target, func(dst io.Writer, src io.Reader, _ bool) { _, _ = io.Copy(dst, src) })
}

// NewProxyWith is NewProxy whose traffic goes through pipe, one call per
// direction of each connection (toBroker: from the client to the broker),
// for a test that watches or delays what passes; pipe returns when src
// ends.
func NewProxyWith(t testing.TB, target string, pipe func(dst io.Writer, src io.Reader, toBroker bool)) *Proxy {
	t.Helper()
	p := &Proxy{t: t, target: target, pipe: pipe, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Down)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *Proxy) forward(c net.Conn) {
	b, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil {
		p.mu.Unlock()
		c.Close()
		b.Close()
		return
	}
	p.conns[c], p.conns[b] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { p.pipe(b, c, true); done <- struct{}{} }()
	go func() { p.pipe(c, b, false); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, b)
	p.mu.Unlock()
}

// Down closes the port and cuts every open connection.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Up listens on the same port again.
func (p *Proxy) Up() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy up: %v", err)
	}
	p.serve(ln)
}

// NeedService returns the address of a broker this machine runs on
// loopback. Outside CI a test without it skips; in CI (HERALD_CI set, as
// .ci/run does) it fails, since every broker must be there.
func NeedService(t testing.TB, name, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("HERALD_CI") != "" {
			t.Fatalf("%s is not running on %s: %v", name, addr, err)
		}
		t.Skipf("%s is not running on %s: %v", name, addr, err)
	}
	c.Close()
	return addr
}
