package netpolicy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/sender"
)

// fakeResolver answers from a function and counts lookups. It never
// touches DNS.
type fakeResolver struct {
	calls  atomic.Int32
	answer func(call int, network, host string) ([]netip.Addr, error)
}

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	n := int(r.calls.Add(1))
	return r.answer(n, network, host)
}

func resolveTo(addrs ...string) *fakeResolver {
	var ips []netip.Addr
	for _, a := range addrs {
		ips = append(ips, netip.MustParseAddr(a))
	}
	return &fakeResolver{answer: func(int, string, string) ([]netip.Addr, error) { return ips, nil }}
}

// recordingDialer is a base dialer that records the addresses it is asked
// to dial and connects with a plain net.Dialer (tests only ever let it
// reach 127.0.0.1) or fails as told.
type recordingDialer struct {
	mu    sync.Mutex
	addrs []string
	fail  map[string]error // by host
}

func (d *recordingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	host, _, _ := net.SplitHostPort(addr)
	if err := d.fail[host]; err != nil {
		return nil, err
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *recordingDialer) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// listen starts a TCP listener on 127.0.0.1 that accepts and closes
// connections, recording the remote addresses.
func listen(t *testing.T) (port string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, func() int { return int(n.Load()) }
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDialBlockedNameNeverReachesBase(t *testing.T) {
	res := resolveTo("10.0.0.1")
	p := New(Options{}).WithResolver(res)
	var d recordingDialer
	c, err := p.DialContext(d.dial)(testCtx(t), "tcp", "internal.example:443")
	if c != nil {
		c.Close()
		t.Fatal("got a connection")
	}
	be, ok := errors.AsType[*BlockedError](err)
	if !ok {
		t.Fatalf("err = %v (%T), want *BlockedError", err, err)
	}
	if be.Rule != RulePrivate || be.Addr != netip.MustParseAddr("10.0.0.1") || be.Host != "internal.example" {
		t.Errorf("BlockedError = %+v", be)
	}
	if be.ErrorKind() != herald.ErrorKindPolicy {
		t.Errorf("ErrorKind = %q", be.ErrorKind())
	}
	if want := "destination 10.0.0.1 (host internal.example) is refused: private address (RFC 1918)"; !strings.HasPrefix(be.Detail(), want) {
		t.Errorf("Detail() = %q, want prefix %q", be.Detail(), want)
	}
	if msg := err.Error(); strings.Contains(msg, "10.0.0.1") || strings.Contains(msg, "internal.example") || !strings.Contains(msg, "private") {
		t.Errorf("Error() = %q: want the category, not the address or host", msg)
	}
	if got := d.calls(); len(got) != 0 {
		t.Errorf("base dialer called with %v", got)
	}
}

func TestDialSkipsBlockedAddresses(t *testing.T) {
	port, accepted := listen(t)
	res := resolveTo("10.0.0.1", "169.254.169.254", "127.0.0.1")
	p := New(Options{Allow: pfx("127.0.0.1/32")}).WithResolver(res)
	var d recordingDialer
	c, err := p.DialContext(d.dial)(testCtx(t), "tcp", "mixed.example:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.RemoteAddr().String(), "127.0.0.1:"+port; got != want {
		t.Errorf("connected to %s, want %s", got, want)
	}
	if got := d.calls(); len(got) != 1 || got[0] != "127.0.0.1:"+port {
		t.Errorf("base dialer calls = %v, want only 127.0.0.1:%s", got, port)
	}
	waitFor(t, func() bool { return accepted() == 1 })
}

func TestDialAllBlockedReportsFirst(t *testing.T) {
	p := New(Options{}).WithResolver(resolveTo("169.254.169.254", "10.0.0.1", "::1"))
	var d recordingDialer
	_, err := p.DialContext(d.dial)(testCtx(t), "tcp", "meta.example:80")
	be, ok := errors.AsType[*BlockedError](err)
	if !ok || be.Rule != RuleLinkLocal || be.Addr.String() != "169.254.169.254" || be.Host != "meta.example" {
		t.Fatalf("err = %v, want the link-local refusal of the first address", err)
	}
	if len(d.calls()) != 0 {
		t.Errorf("base dialer called: %v", d.calls())
	}
}

// TestDialDNSRebinding uses a resolver that answers an allowed address
// first and a refused one afterwards, the pattern of a rebinding attack.
// The policy resolves once and hands the base dialer the very IP literal it
// checked, so there is no second lookup for the attacker to answer; a later
// dial sees the new answer and is refused.
func TestDialDNSRebinding(t *testing.T) {
	port, _ := listen(t)
	res := &fakeResolver{answer: func(call int, _, _ string) ([]netip.Addr, error) {
		if call == 1 {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("10.0.0.1")}, nil
	}}
	p := New(Options{Allow: pfx("127.0.0.1/32")}).WithResolver(res)
	var d recordingDialer
	dial := p.DialContext(d.dial)

	c, err := dial(testCtx(t), "tcp", "rebind.example:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := res.calls.Load(); n != 1 {
		t.Errorf("resolver called %d times for one dial, want 1", n)
	}
	calls := d.calls()
	if len(calls) != 1 {
		t.Fatalf("base dialer calls = %v, want one", calls)
	}
	ap, err := netip.ParseAddrPort(calls[0])
	if err != nil {
		t.Fatalf("base dialer got %q, not an IP literal: %v", calls[0], err)
	}
	if ap.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("base dialer got %s, want the checked 127.0.0.1", ap.Addr())
	}
	if err := p.Check(ap.Addr()); err != nil {
		t.Errorf("the dialled address does not pass the check: %v", err)
	}

	// The rebound answer is checked on the next connection.
	_, err = dial(testCtx(t), "tcp", "rebind.example:"+port)
	if be, ok := errors.AsType[*BlockedError](err); !ok || be.Addr.String() != "10.0.0.1" {
		t.Fatalf("second dial err = %v, want refusal of 10.0.0.1", err)
	}
	if len(d.calls()) != 1 {
		t.Errorf("base dialer called for the rebound address: %v", d.calls())
	}
}

func TestDialIPLiteral(t *testing.T) {
	port, _ := listen(t)
	res := resolveTo("8.8.8.8")
	var d recordingDialer

	_, err := New(Options{}).WithResolver(res).DialContext(d.dial)(testCtx(t), "tcp", "127.0.0.1:"+port)
	if be, ok := errors.AsType[*BlockedError](err); !ok || be.Rule != RuleLoopback || be.Host != "" {
		t.Fatalf("err = %v, want loopback refusal", err)
	}
	_, err = New(Options{}).WithResolver(res).DialContext(d.dial)(testCtx(t), "tcp", "[::ffff:169.254.169.254]:80")
	if be, ok := errors.AsType[*BlockedError](err); !ok || be.Rule != RuleLinkLocal {
		t.Fatalf("err = %v, want link-local refusal", err)
	}
	_, err = New(Options{}).WithResolver(res).DialContext(d.dial)(testCtx(t), "tcp", ":"+port)
	if be, ok := errors.AsType[*BlockedError](err); !ok || be.Rule != RuleUnspecified {
		t.Fatalf("empty host: err = %v, want unspecified refusal", err)
	}
	if len(d.calls()) != 0 {
		t.Fatalf("base dialer called: %v", d.calls())
	}

	c, err := New(Options{AllowPrivate: true}).WithResolver(res).DialContext(d.dial)(testCtx(t), "tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if res.calls.Load() != 0 {
		t.Error("resolver called for an IP literal")
	}
	if got := d.calls(); len(got) != 1 || got[0] != "127.0.0.1:"+port {
		t.Errorf("base dialer calls = %v", got)
	}
}

func TestDialNetworkFamilyAndMapped(t *testing.T) {
	port, _ := listen(t)
	var d recordingDialer
	// An IPv6 answer is skipped for tcp4; a mapped answer is dialled as
	// the IPv4 address it stands for.
	res := resolveTo("::1", "::ffff:127.0.0.1")
	p := New(Options{Allow: pfx("127.0.0.1/32")}).WithResolver(res)
	c, err := p.DialContext(d.dial)(testCtx(t), "tcp4", "v4.example:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := d.calls(); len(got) != 1 || got[0] != "127.0.0.1:"+port {
		t.Errorf("base dialer calls = %v, want 127.0.0.1:%s", got, port)
	}

	// No address of the wanted family at all.
	_, err = New(Options{AllowPrivate: true}).WithResolver(resolveTo("::1")).DialContext(d.dial)(testCtx(t), "tcp4", "v6only.example:80")
	if de, ok := errors.AsType[*net.DNSError](err); !ok || !de.IsNotFound {
		t.Errorf("err = %v, want a not-found DNS error", err)
	}
}

func TestDialFallsBackAfterConnectError(t *testing.T) {
	port, _ := listen(t)
	refused := errors.New("connection refused (simulated)")
	d := recordingDialer{fail: map[string]error{"127.0.0.2": refused}}
	res := resolveTo("127.0.0.2", "127.0.0.1")
	p := New(Options{Allow: pfx("127.0.0.0/8")}).WithResolver(res)
	c, err := p.DialContext(d.dial)(testCtx(t), "tcp", "two.example:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := d.calls(); len(got) != 2 || got[0] != "127.0.0.2:"+port || got[1] != "127.0.0.1:"+port {
		t.Errorf("base dialer calls = %v", got)
	}

	// When every allowed address fails, the first connect error is
	// returned, not a refusal of the blocked ones.
	d = recordingDialer{fail: map[string]error{"127.0.0.2": refused}}
	p = New(Options{Allow: pfx("127.0.0.2/32")}).WithResolver(resolveTo("10.0.0.1", "127.0.0.2"))
	_, err = p.DialContext(d.dial)(testCtx(t), "tcp", "two.example:"+port)
	if !errors.Is(err, refused) {
		t.Errorf("err = %v, want the connect error", err)
	}
}

func TestDialResolverError(t *testing.T) {
	dnsErr := &net.DNSError{Err: "no such host", Name: "nx.example", IsNotFound: true}
	res := &fakeResolver{answer: func(int, string, string) ([]netip.Addr, error) { return nil, dnsErr }}
	var d recordingDialer
	_, err := New(Options{}).WithResolver(res).DialContext(d.dial)(testCtx(t), "tcp", "nx.example:80")
	if !errors.Is(err, dnsErr) {
		t.Fatalf("err = %v, want the resolver's error", err)
	}
	if len(d.calls()) != 0 {
		t.Fatal("base dialer called")
	}
}

func TestDialUncheckableNetwork(t *testing.T) {
	var d recordingDialer
	_, err := New(Options{AllowPrivate: true}).DialContext(d.dial)(testCtx(t), "unix", "/tmp/x.sock")
	if err == nil || len(d.calls()) != 0 {
		t.Fatalf("err = %v, calls = %v; want refusal without dialling", err, d.calls())
	}
}

func TestDialSharesDeadline(t *testing.T) {
	// Three addresses that hang: each attempt gets a share of the
	// deadline (at least minAttemptTimeout), so the first cannot use it all.
	var (
		mu        sync.Mutex
		deadlines []time.Duration
	)
	base := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dl, _ := ctx.Deadline()
		mu.Lock()
		deadlines = append(deadlines, time.Until(dl))
		mu.Unlock()
		return nil, errors.New("simulated failure")
	}
	p := New(Options{AllowPrivate: true}).WithResolver(resolveTo("10.0.0.1", "10.0.0.2", "10.0.0.3"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = p.DialContext(base)(ctx, "tcp", "slow.example:80")
	if len(deadlines) != 3 {
		t.Fatalf("attempts = %d", len(deadlines))
	}
	if deadlines[0] > 11*time.Second || deadlines[2] < 29*time.Second {
		t.Errorf("per-attempt time left = %v, want about 10s, 15s, 30s", deadlines)
	}
}

func TestControl(t *testing.T) {
	port, accepted := listen(t)
	d := net.Dialer{Control: New(Options{}).Control}
	// A plain dialer: Control sees the final socket address.
	_, err := d.DialContext(testCtx(t), "tcp", "127.0.0.1:"+port)
	be, ok := errors.AsType[*BlockedError](err)
	if !ok || be.Rule != RuleLoopback {
		t.Fatalf("err = %v, want a loopback refusal in the chain", err)
	}

	d = net.Dialer{Control: New(Options{Allow: pfx("127.0.0.1/32")}).Control}
	c, err := d.DialContext(testCtx(t), "tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, func() bool { return accepted() == 1 })

	if err := New(Options{AllowPrivate: true}).Control("unix", "/tmp/x.sock", nil); err == nil {
		t.Error("Control accepted an address it cannot check")
	}
	if err := New(Options{}).Control("tcp6", "[fe80::1%eth0]:80", nil); err == nil {
		t.Error("Control accepted a zoned link-local address")
	}
}

func TestDialNilBaseUsesControl(t *testing.T) {
	port, _ := listen(t)
	p := New(Options{AllowPrivate: true}).WithResolver(resolveTo("127.0.0.1"))
	c, err := p.DialContext(nil)(testCtx(t), "tcp", "local.example:"+port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestSender runs the policy inside the sender, the way Herald uses it:
// a refusal is reported as a policy error and never reaches the receiver,
// and an allowed connection carries HTTPS with the URL's host name for
// certificate verification, although the policy dialled an IP literal.
func TestSender(t *testing.T) {
	var hits atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "ok")
	})
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	// The test certificate is issued for example.com; the fake resolver
	// points that name at the test server.
	url := "https://example.com:" + port + "/hook"

	send := func(p *Policy) *sender.Result {
		s := sender.New(sender.Options{
			DialContext:     p.DialContext(nil),
			TLSClientConfig: &tls.Config{RootCAs: roots},
		})
		defer s.CloseIdleConnections()
		return s.Send(context.Background(), &sender.Request{Method: "POST", URL: url, Body: []byte("{}"), Timeout: 5 * time.Second})
	}

	res := send(New(Options{}).WithResolver(resolveTo("127.0.0.1")))
	if res.ErrorKind != herald.ErrorKindPolicy {
		t.Fatalf("default policy: kind %q, err %v; want policy", res.ErrorKind, res.Err)
	}
	if msg := res.Err.Error(); msg != "policy: destination not allowed: loopback address" {
		t.Errorf("err = %q", msg)
	}
	if be, ok := errors.AsType[*BlockedError](res.Err); !ok || !strings.HasPrefix(be.Detail(), "destination 127.0.0.1 (host example.com) is refused: loopback address") {
		t.Errorf("the refusal's detail is lost: %v", res.Err)
	}
	if hits.Load() != 0 {
		t.Fatal("the receiver was reached")
	}

	res = send(New(Options{Allow: pfx("127.0.0.1/32")}).WithResolver(resolveTo("127.0.0.1")))
	if res.Err != nil || res.StatusCode != 200 || string(res.Body) != "ok" {
		t.Fatalf("allowed: status %d, kind %q, err %v", res.StatusCode, res.ErrorKind, res.Err)
	}
	if hits.Load() != 1 {
		t.Fatalf("hits = %d", hits.Load())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
