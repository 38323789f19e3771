package sender

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

const testUA = "Herald/test"

// slack is how late past its timeout an attempt may end and still count as
// "within roughly the timeout", generous enough for the race detector on a
// busy machine.
const slack = 2 * time.Second

// newServer starts an HTTP server on 127.0.0.1 and counts the connections
// made to it.
func newServer(t testing.TB, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	var conns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// newSender returns a Sender whose idle connections are closed at the end of
// the test, before the servers it talked to are.
func newSender(t testing.TB, o Options) *Sender {
	t.Helper()
	if o.UserAgent == "" {
		o.UserAgent = testUA
	}
	s := New(o)
	t.Cleanup(s.CloseIdleConnections)
	return s
}

// release returns a channel that is closed at the end of the test, before
// the servers registered earlier are closed, so that handlers blocking on it
// let the test finish.
func release(t testing.TB) chan struct{} {
	t.Helper()
	ch := make(chan struct{})
	t.Cleanup(func() { close(ch) })
	return ch
}

// rawListener accepts connections on 127.0.0.1 and hands each to serve, for
// receivers that misbehave in ways net/http servers cannot.
func rawListener(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				serve(c)
			})
		}
	})
	return ln.Addr().String()
}

// readRequest reads one request, body included, from a raw connection.
func readRequest(c net.Conn) error {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return err
}

func checkKind(t *testing.T, res *Result, want herald.ErrorKind) {
	t.Helper()
	if res == nil {
		t.Fatal("Send returned nil")
	}
	if res.ErrorKind != want {
		t.Fatalf("ErrorKind = %q, want %q (status %d, err %v)", res.ErrorKind, want, res.StatusCode, res.Err)
	}
	switch want {
	case herald.ErrorKindNone, herald.ErrorKindHTTPStatus:
		if res.Err != nil {
			t.Errorf("Err = %v, want nil", res.Err)
		}
	default:
		if res.Err == nil {
			t.Fatal("Err = nil, want an error")
		}
		t.Logf("Err: %v", res.Err)
		if msg := res.Err.Error(); !strings.HasPrefix(msg, string(want)+": ") {
			t.Errorf("Err = %q, want it to start with %q", msg, string(want)+": ")
		}
	}
}

func TestSendOK(t *testing.T) {
	t.Parallel()
	type received struct {
		method, path, ua, id, ctype string
		body                        []byte
		contentLength               int64
	}
	got := make(chan received, 1)
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.URL.RequestURI(), r.UserAgent(), r.Header.Get("Webhook-Id"),
			r.Header.Get("Content-Type"), b, r.ContentLength}
		w.Header().Set("X-Receiver", "yes")
		w.Write([]byte("thanks"))
	}))
	s := newSender(t, Options{})

	hdr := http.Header{
		"Webhook-Id":   {"msg_1"},
		"Content-Type": {"application/json"},
		"user-agent":   {"someone-else"}, // the request's own, sent as is
	}
	body := []byte(`{"type":"invoice.paid"}`)
	res := s.Send(t.Context(), &Request{
		Method: http.MethodPost, URL: srv.URL + "/hook?x=1", Header: hdr, Body: body, Timeout: 5 * time.Second,
	})
	checkKind(t, res, herald.ErrorKindNone)
	if res.StatusCode != 200 || string(res.Body) != "thanks" || res.BodyTruncated {
		t.Errorf("got status %d body %q truncated %v", res.StatusCode, res.Body, res.BodyTruncated)
	}
	if res.Header.Get("X-Receiver") != "yes" {
		t.Errorf("response headers not captured: %v", res.Header)
	}
	if res.Latency <= 0 {
		t.Errorf("Latency = %v", res.Latency)
	}

	r := <-got
	want := received{"POST", "/hook?x=1", "someone-else", "msg_1", "application/json", body, int64(len(body))}
	if r.method != want.method || r.path != want.path || r.ua != want.ua || r.id != want.id ||
		r.ctype != want.ctype || !bytes.Equal(r.body, want.body) || r.contentLength != want.contentLength {
		t.Errorf("received %+v, want %+v", r, want)
	}
	if len(hdr) != 3 || hdr.Get("User-Agent") != "" || hdr["user-agent"][0] != "someone-else" {
		t.Errorf("caller's header was modified: %v", hdr)
	}
}

func TestSendEmptyBody(t *testing.T) {
	t.Parallel()
	got := make(chan int64, 1)
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.ContentLength
		w.WriteHeader(http.StatusNoContent)
	}))
	s := newSender(t, Options{})
	res := s.Send(t.Context(), &Request{Method: "POST", URL: srv.URL, Timeout: 5 * time.Second})
	checkKind(t, res, herald.ErrorKindNone)
	if res.StatusCode != 204 || len(res.Body) != 0 {
		t.Errorf("status %d body %q", res.StatusCode, res.Body)
	}
	if cl := <-got; cl != 0 {
		t.Errorf("server saw ContentLength %d, want 0", cl)
	}
}

func TestSendStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   herald.ErrorKind
	}{
		{200, herald.ErrorKindNone},
		{201, herald.ErrorKindNone},
		{299, herald.ErrorKindNone},
		{404, herald.ErrorKindHTTPStatus},
		{429, herald.ErrorKindHTTPStatus},
		{500, herald.ErrorKindHTTPStatus},
		{503, herald.ErrorKindHTTPStatus},
	}
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(code)
		w.Write([]byte(http.StatusText(code)))
	}))
	s := newSender(t, Options{})
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			res := s.Send(t.Context(), &Request{
				Method: "POST", URL: srv.URL + "/?code=" + strconv.Itoa(tt.status), Body: []byte("{}"), Timeout: 5 * time.Second,
			})
			checkKind(t, res, tt.want)
			if res.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", res.StatusCode, tt.status)
			}
			if string(res.Body) != http.StatusText(tt.status) || res.Header.Get("Retry-After") != "7" {
				t.Errorf("body %q, headers %v", res.Body, res.Header)
			}
		})
	}
}

func TestSendRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	for _, code := range []int{301, 302, 307, 308} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			var targetHits atomic.Int64
			mux := http.NewServeMux()
			mux.HandleFunc("/from", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/to", code)
			})
			mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
				targetHits.Add(1)
			})
			srv, _ := newServer(t, mux)
			s := newSender(t, Options{})
			res := s.Send(t.Context(), &Request{Method: "POST", URL: srv.URL + "/from", Body: []byte("x"), Timeout: 5 * time.Second})
			checkKind(t, res, herald.ErrorKindHTTPStatus)
			if res.StatusCode != code || res.Header.Get("Location") != "/to" {
				t.Errorf("status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
			}
			if n := targetHits.Load(); n != 0 {
				t.Errorf("redirect target was hit %d times", n)
			}
		})
	}
}

func TestSendBodyCap(t *testing.T) {
	t.Parallel()
	const limit = 1024
	tests := []struct {
		name      string
		size      int
		chunked   bool // no Content-Length
		wantTrunc bool
		wantConns int64 // after two sends
	}{
		{"under cap", limit - 1, false, false, 1},
		{"exactly cap", limit, false, false, 1},
		{"exactly cap chunked", limit, true, false, 1},
		{"small excess", limit + 100, false, true, 1},
		{"small excess chunked", limit + 100, true, true, 1},
		{"excess past drain", limit + maxDrain + 64<<10, false, true, 2},
		{"excess past drain chunked", limit + maxDrain + 64<<10, true, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			payload := bytes.Repeat([]byte("abcdefghij"), tt.size/10+1)[:tt.size]
			srv, conns := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.chunked {
					w.(http.Flusher).Flush()
				} else {
					w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
				}
				w.Write(payload)
			}))
			s := newSender(t, Options{MaxResponseBody: limit})
			for i := range 2 {
				res := s.Send(t.Context(), &Request{Method: "POST", URL: srv.URL, Timeout: 5 * time.Second})
				checkKind(t, res, herald.ErrorKindNone)
				wantBody := payload[:min(len(payload), limit)]
				if !bytes.Equal(res.Body, wantBody) || res.BodyTruncated != tt.wantTrunc {
					t.Fatalf("send %d: body len %d truncated %v, want len %d truncated %v",
						i, len(res.Body), res.BodyTruncated, len(wantBody), tt.wantTrunc)
				}
			}
			if n := conns.Load(); n != tt.wantConns {
				t.Errorf("%d connections, want %d", n, tt.wantConns)
			}
		})
	}
}

// A receiver's header block is bounded: past MaxResponseHeaderBytes the
// attempt fails instead of Herald holding it (Go's default is 10 MiB).
func TestSendResponseHeaderLimit(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("kib"))
		for i := range n {
			w.Header().Set(fmt.Sprintf("X-Fill-%04d", i), strings.Repeat("f", 1000))
		}
	}))
	s := newSender(t, Options{})
	res := s.Send(t.Context(), &Request{Method: "POST", URL: srv.URL + "/?kib=40", Timeout: 5 * time.Second})
	checkKind(t, res, herald.ErrorKindNone)
	if len(res.Header) < 40 {
		t.Fatalf("%d headers of 40 arrived", len(res.Header))
	}
	res = s.Send(t.Context(), &Request{Method: "POST", URL: srv.URL + "/?kib=70", Timeout: 5 * time.Second})
	checkKind(t, res, herald.ErrorKindNetwork)
	if res.StatusCode != 0 || res.Header != nil || !strings.Contains(res.Err.Error(), "exceeded 65536 bytes") {
		t.Fatalf("status %d, %d headers, err %v", res.StatusCode, len(res.Header), res.Err)
	}
}

func TestSendKeepAlive(t *testing.T) {
	t.Parallel()
	srv, conns := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	}))
	s := newSender(t, Options{})
	req := &Request{Method: "POST", URL: srv.URL, Body: bytes.Repeat([]byte("x"), 1024), Timeout: 5 * time.Second}
	for range 50 {
		checkKind(t, s.Send(t.Context(), req), herald.ErrorKindNone)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("50 sequential sends opened %d connections, want 1", n)
	}

	s.CloseIdleConnections()
	checkKind(t, s.Send(t.Context(), req), herald.ErrorKindNone)
	if n := conns.Load(); n != 2 {
		t.Errorf("after CloseIdleConnections: %d connections, want 2", n)
	}
}

// stallDialer is a DialContext that never connects until the test ends or
// its context is done.
func stallDialer(done <-chan struct{}) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-done:
			return nil, errors.New("test over")
		}
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name   string
		setup  func(t *testing.T, done chan struct{}) (url string, o Options)
		status int // expected StatusCode: the headers had arrived
	}{
		{"dial stalls", func(t *testing.T, done chan struct{}) (string, Options) {
			return "http://127.0.0.1:9/", Options{DialContext: stallDialer(done)}
		}, 0},
		{"TLS handshake stalls", func(t *testing.T, done chan struct{}) (string, Options) {
			addr := rawListener(t, func(c net.Conn) { <-done })
			return "https://" + addr + "/", Options{}
		}, 0},
		{"headers never come", func(t *testing.T, done chan struct{}) (string, Options) {
			srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-done:
				case <-r.Context().Done():
				}
			}))
			return srv.URL, Options{}
		}, 0},
		{"body stalls", func(t *testing.T, done chan struct{}) (string, Options) {
			srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				w.Write([]byte("partial"))
				w.(http.Flusher).Flush()
				select {
				case <-done:
				case <-r.Context().Done():
				}
			}))
			return srv.URL, Options{}
		}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			done := make(chan struct{})
			url, o := tt.setup(t, done)
			t.Cleanup(func() { close(done) }) // runs before the setup's cleanups
			s := newSender(t, o)
			start := time.Now()
			res := s.Send(t.Context(), &Request{Method: "POST", URL: url, Body: []byte("{}"), Timeout: timeout})
			elapsed := time.Since(start)
			checkKind(t, res, herald.ErrorKindTimeout)
			if !errors.Is(res.Err, context.DeadlineExceeded) {
				t.Errorf("errors.Is(%v, DeadlineExceeded) = false", res.Err)
			}
			if elapsed < timeout || elapsed > timeout+slack {
				t.Errorf("took %v, want about %v", elapsed, timeout)
			}
			if res.Latency < timeout || res.Latency > elapsed {
				t.Errorf("Latency = %v, elapsed %v", res.Latency, elapsed)
			}
			if res.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", res.StatusCode, tt.status)
			}
		})
	}
}

func TestSendDialTimeout(t *testing.T) {
	t.Parallel()
	s := newSender(t, Options{DialTimeout: 200 * time.Millisecond, DialContext: stallDialer(release(t))})
	start := time.Now()
	res := s.Send(t.Context(), &Request{Method: "POST", URL: "http://127.0.0.1:9/", Timeout: 10 * time.Second})
	checkKind(t, res, herald.ErrorKindTimeout)
	if elapsed := time.Since(start); elapsed > 200*time.Millisecond+slack {
		t.Errorf("took %v, want about the 200ms dial timeout", elapsed)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	s := newSender(t, Options{})
	res := s.Send(t.Context(), &Request{Method: "POST", URL: "http://" + addr + "/", Body: []byte("{}"), Timeout: 5 * time.Second})
	checkKind(t, res, herald.ErrorKindConnect)
	if msg := res.Err.Error(); !strings.Contains(msg, "connection refused") || !strings.Contains(msg, addr) {
		t.Errorf("Err = %q, want the address and the reason", msg)
	}
	if res.StatusCode != 0 {
		t.Errorf("StatusCode = %d", res.StatusCode)
	}
}

func TestSendDNSFailure(t *testing.T) {
	t.Parallel()
	resolver := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			return nil, errors.New("no DNS server in tests")
		},
	}
	s := newSender(t, Options{Resolver: resolver})
	res := s.Send(t.Context(), &Request{Method: "POST", URL: "http://nonexistent.invalid/hook", Timeout: 5 * time.Second})
	checkKind(t, res, herald.ErrorKindDNS)
	if msg := res.Err.Error(); !strings.Contains(msg, "nonexistent.invalid") {
		t.Errorf("Err = %q, want the host name", msg)
	}
	var dnsErr *net.DNSError
	if !errors.As(res.Err, &dnsErr) {
		t.Errorf("Err %v does not wrap a *net.DNSError", res.Err)
	}
}

func TestSendTLS(t *testing.T) {
	t.Parallel()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
		w.Write([]byte("secure"))
	})
	newTLS := func(t *testing.T, h2 bool) (*httptest.Server, *x509.CertPool) {
		srv := httptest.NewUnstartedServer(handler)
		srv.EnableHTTP2 = h2
		srv.StartTLS()
		t.Cleanup(srv.Close)
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		return srv, pool
	}

	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		srv, _ := newTLS(t, false)
		s := newSender(t, Options{})
		res := s.Send(t.Context(), &Request{Method: "POST", URL: srv.URL, Timeout: 5 * time.Second})
		checkKind(t, res, herald.ErrorKindTLS)
		if !strings.Contains(res.Err.Error(), "certificate") {
			t.Errorf("Err = %q, want it to mention the certificate", res.Err)
		}
	})
	t.Run("wrong host name", func(t *testing.T) {
		t.Parallel()
		srv, pool := newTLS(t, false)
		// The test certificate is valid for 127.0.0.1 and example.com only.
		s := newSender(t, Options{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "other.test"},
		})
		res := s.Send(t.Context(), &Request{Method: "POST", URL: srv.URL, Timeout: 5 * time.Second})
		checkKind(t, res, herald.ErrorKindTLS)
	})
	t.Run("not a TLS server", func(t *testing.T) {
		t.Parallel()
		srv, _ := newServer(t, handler)
		s := newSender(t, Options{})
		res := s.Send(t.Context(), &Request{Method: "POST", URL: strings.Replace(srv.URL, "http:", "https:", 1), Timeout: 5 * time.Second})
		checkKind(t, res, herald.ErrorKindTLS)
	})
	t.Run("peer closes during handshake", func(t *testing.T) {
		t.Parallel()
		addr := rawListener(t, func(c net.Conn) {
			c.Read(make([]byte, 1))
		})
		s := newSender(t, Options{})
		res := s.Send(t.Context(), &Request{Method: "POST", URL: "https://" + addr + "/", Timeout: 5 * time.Second})
		checkKind(t, res, herald.ErrorKindTLS)
	})
	for _, h2 := range []bool{false, true} {
		name, wantProto := "trusted HTTP/1.1", "HTTP/1.1"
		if h2 {
			name, wantProto = "trusted HTTP/2", "HTTP/2.0"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, pool := newTLS(t, h2)
			s := newSender(t, Options{TLSClientConfig: &tls.Config{RootCAs: pool}})
			for range 3 {
				res := s.Send(t.Context(), &Request{Method: "POST", URL: srv.URL, Body: []byte("{}"), Timeout: 5 * time.Second})
				checkKind(t, res, herald.ErrorKindNone)
				if res.StatusCode != 200 || string(res.Body) != "secure" {
					t.Fatalf("status %d body %q", res.StatusCode, res.Body)
				}
				if got := res.Header.Get("X-Proto"); got != wantProto {
					t.Errorf("protocol %q, want %q", got, wantProto)
				}
			}
		})
	}
}

func TestSendConnectionBroken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		serve  func(c net.Conn)
		status int
	}{
		{"reset after request", func(c net.Conn) {
			readRequest(c)
			c.(*net.TCPConn).SetLinger(0) // RST instead of FIN
		}, 0},
		{"closed after request", func(c net.Conn) {
			readRequest(c)
		}, 0},
		{"closed mid-body", func(c net.Conn) {
			readRequest(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		}, 200},
		{"reset mid-body", func(c net.Conn) {
			readRequest(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
			c.(*net.TCPConn).SetLinger(0)
		}, 200},
		{"malformed response", func(c net.Conn) {
			readRequest(c)
			io.WriteString(c, "this is not HTTP\r\n\r\n")
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := rawListener(t, tt.serve)
			s := newSender(t, Options{})
			res := s.Send(t.Context(), &Request{Method: "POST", URL: "http://" + addr + "/", Body: []byte("{}"), Timeout: 5 * time.Second})
			checkKind(t, res, herald.ErrorKindNetwork)
			if res.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", res.StatusCode, tt.status)
			}
			if errors.Is(res.Err, context.Canceled) {
				t.Errorf("Err %v looks like a cancellation", res.Err)
			}
		})
	}
}

func TestSendCanceled(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	srv, _ := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
	}))
	s := newSender(t, Options{})

	t.Run("during request", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			<-started
			cancel()
		}()
		res := s.Send(ctx, &Request{Method: "POST", URL: srv.URL, Timeout: 10 * time.Second})
		checkKind(t, res, herald.ErrorKindNetwork)
		if !errors.Is(res.Err, context.Canceled) {
			t.Errorf("errors.Is(%v, context.Canceled) = false", res.Err)
		}
	})
	t.Run("before request", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		res := s.Send(ctx, &Request{Method: "POST", URL: srv.URL, Timeout: 10 * time.Second})
		checkKind(t, res, herald.ErrorKindNetwork)
		if !errors.Is(res.Err, context.Canceled) {
			t.Errorf("errors.Is(%v, context.Canceled) = false", res.Err)
		}
	})
}

func TestSendInvalidRequest(t *testing.T) {
	t.Parallel()
	s := newSender(t, Options{})
	tests := []struct {
		name string
		req  *Request
	}{
		{"nil request", nil},
		{"empty method", &Request{URL: "http://127.0.0.1:9/"}},
		{"bad method", &Request{Method: "PO ST", URL: "http://127.0.0.1:9/"}},
		{"unparsable URL", &Request{Method: "POST", URL: "http://[::1"}},
		{"relative URL", &Request{Method: "POST", URL: "/hook"}},
		{"other scheme", &Request{Method: "POST", URL: "ftp://127.0.0.1/hook"}},
		{"no host", &Request{Method: "POST", URL: "http:///hook"}},
		{"bad header name", &Request{Method: "POST", URL: "http://127.0.0.1:9/", Header: http.Header{"Bad Name": {"x"}}}},
		{"bad header value", &Request{Method: "POST", URL: "http://127.0.0.1:9/", Header: http.Header{"X-A": {"a\r\nX-Injected: 1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := s.Send(t.Context(), tt.req)
			checkKind(t, res, herald.ErrorKindPolicy)
			if res.StatusCode != 0 {
				t.Errorf("StatusCode = %d", res.StatusCode)
			}
		})
	}
	t.Run("zero Sender", func(t *testing.T) {
		t.Parallel()
		var zero *Sender
		checkKind(t, zero.Send(t.Context(), &Request{Method: "POST", URL: "http://127.0.0.1:9/"}), herald.ErrorKindPolicy)
	})
}

// kindError is what an address policy in Options.DialContext might return.
type kindError struct{ kind herald.ErrorKind }

func (e kindError) Error() string               { return "address 127.0.0.1 is not allowed" }
func (e kindError) ErrorKind() herald.ErrorKind { return e.kind }

func TestSendDialerError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want herald.ErrorKind
	}{
		{"kind from error", kindError{herald.ErrorKindPolicy}, herald.ErrorKindPolicy},
		{"wrapped kind from error", &net.OpError{Op: "dial", Net: "tcp", Err: kindError{herald.ErrorKindPolicy}}, herald.ErrorKindPolicy},
		{"other error", errors.New("no route"), herald.ErrorKindConnect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSender(t, Options{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return nil, tt.err
			}})
			for _, scheme := range []string{"http", "https"} {
				res := s.Send(t.Context(), &Request{Method: "POST", URL: scheme + "://127.0.0.1:9/", Timeout: 5 * time.Second})
				checkKind(t, res, tt.want)
				if !errors.Is(res.Err, tt.err) {
					t.Errorf("errors.Is(%v, %v) = false", res.Err, tt.err)
				}
			}
		})
	}
}

func BenchmarkSend(b *testing.B) {
	srv, _ := newServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	}))
	s := newSender(b, Options{})
	req := &Request{
		Method:  "POST",
		URL:     srv.URL + "/hook",
		Header:  http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_1"}},
		Body:    bytes.Repeat([]byte("x"), 1024),
		Timeout: 10 * time.Second,
	}
	check := func(b *testing.B, res *Result) {
		if res.ErrorKind != herald.ErrorKindNone {
			b.Fatalf("%s: %v", res.ErrorKind, res.Err)
		}
	}

	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			check(b, s.Send(b.Context(), req))
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				check(b, s.Send(b.Context(), req))
			}
		})
	})
}

// TestVariantsPastTheBound: past maxVariants distinct TLS settings, only
// the least recently used variant is dropped, its idle connection closed;
// the others keep theirs and reuse them.
func TestVariantsPastTheBound(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	var opened, closed atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := newSender(t, Options{})
	send := func(i int) {
		t.Helper()
		// The URL is http: the variant's TLS settings go unused, but it
		// still has a transport and connections of its own.
		res := s.Send(context.Background(), &Request{Method: "POST", URL: srv.URL, Timeout: 5 * time.Second,
			TLS: &tls.Config{}, TLSKey: "ep_" + strconv.Itoa(i)})
		if res.ErrorKind != herald.ErrorKindNone || res.StatusCode != 200 {
			t.Fatalf("send %d: %s %d %v", i, res.ErrorKind, res.StatusCode, res.Err)
		}
	}
	for i := range maxVariants + 1 {
		send(i)
	}
	// Variant 0, the least recently used, was dropped: its connection
	// closes.
	deadline := time.Now().Add(10 * time.Second)
	for closed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no connection closed past the bound")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 1; i <= maxVariants; i++ {
		send(i)
	}
	if o, c := opened.Load(), closed.Load(); o != maxVariants+1 || c != 1 {
		t.Fatalf("%d connections opened and %d closed, want %d and 1: variants kept lost their connections", o, c, maxVariants+1)
	}
}
