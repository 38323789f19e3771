package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/verify"
)

// Receive configures `herald receive`: a receiver for trying Herald out
// that prints every request it gets and, given the endpoint's secret,
// whether its signature verifies. It listens on 127.0.0.1 only: it is a
// developer's tool, not a server to expose.
type Receive struct {
	Port      int           `name:"port" default:"9000" help:"Port to listen on, on 127.0.0.1 (0: any free port, printed at start)."`
	Secret    string        `name:"secret" env:"HERALD_WEBHOOK_SECRET" placeholder:"whsec_…" help:"The endpoint's signing secret (whsec_…) or public key (whpk_…): each request is reported verified or not."`
	Raw       bool          `name:"raw" help:"The secret is raw text used as it is (an endpoint given a secret not of the whsec_ form)."`
	Status    int           `name:"status" default:"200" help:"Status to answer every request with, 200 to 599: 500 to watch Herald retry, 410 to watch it disable the endpoint."`
	Tolerance time.Duration `name:"tolerance" default:"5m" help:"How far a webhook-timestamp may be from now, as a receiver checks it; 0: signature only."`
}

// Validate refuses settings the receiver cannot run with, as the flags
// are read, so that they get a usage error.
func (c *Receive) Validate() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("--port must be from 0 to 65535")
	}
	if c.Status < 200 || c.Status > 599 {
		return fmt.Errorf("--status must be from 200 to 599")
	}
	if c.Secret != "" {
		if _, err := newVerifier(c.Secret, c.Raw); err != nil {
			return fmt.Errorf("--secret: %v", err)
		}
	}
	return nil
}

// maxReceived caps a request's body: beyond it the receiver answers 413.
const maxReceived = 16 << 20

// maxPrinted caps the part of a body printed, so that one large request
// does not flood the terminal.
const maxPrinted = 64 << 10

// Run listens until ctx ends, printing each request to stdout.
func (c *Receive) Run(ctx context.Context, stdout io.Writer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	var ver *verify.Verifier
	if c.Secret != "" {
		ver, _ = newVerifier(c.Secret, c.Raw)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)))
	if err != nil {
		return fmt.Errorf("%v (another receiver may be running; pick another port with --port)", err)
	}
	p := &printer{out: stdout, ver: ver, tolerance: c.Tolerance, status: c.Status}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	checked := "signatures not checked (no --secret)"
	if ver != nil {
		checked = "checking signatures"
	}
	fmt.Fprintf(stdout, "herald receive: listening on http://%s/ (any path), answering %d, %s; Ctrl-C stops\n", ln.Addr(), c.Status, checked)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// printer answers and prints each request, one block at a time.
type printer struct {
	mu        sync.Mutex // one request's block is written whole
	out       io.Writer
	ver       *verify.Verifier
	tolerance time.Duration
	status    int
}

// skipped are headers every request has that say nothing about the
// webhook.
var skipped = []string{"Accept-Encoding", "Connection", "Content-Length"}

func (p *printer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReceived))
	status := p.status
	if err != nil {
		status = http.StatusRequestEntityTooLarge
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "\n%s %s  %s, %d bytes\n", r.Method, r.URL.RequestURI(), now.Format("15:04:05.000"), len(body))
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		if !slices.Contains(skipped, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "  %s: %s\n", k, v)
		}
	}
	writeBody(&b, body, err)
	switch {
	case err != nil:
	case p.ver == nil:
	default:
		res := Check(p.ver, p.tolerance, r.Header, body, now)
		// A receiver gets the exact bytes: no line end is forgiven here.
		if res.TrimmedNewline {
			res.Valid, res.Reason = false, "no matching signature: the body differs from what was signed by a final line end"
		}
		b.WriteString("signature: " + res.Line() + "\n")
	}
	fmt.Fprintf(&b, "answered %d\n", status)
	w.WriteHeader(status)
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.out.Write(b.Bytes())
}

// writeBody prints a body: JSON indented, other text as it is, binary
// data by its size.
func writeBody(b *bytes.Buffer, body []byte, readErr error) {
	switch {
	case readErr != nil:
		fmt.Fprintf(b, "(body over %d MiB, not read; answered 413)\n", maxReceived>>20)
		return
	case len(body) == 0:
		b.WriteString("(empty body)\n")
		return
	case json.Valid(body) && len(body) <= maxPrinted:
		var ind bytes.Buffer
		if json.Indent(&ind, body, "", "  ") == nil {
			b.Write(ind.Bytes())
			b.WriteByte('\n')
			return
		}
	case !utf8.Valid(body):
		fmt.Fprintf(b, "(%d bytes of binary data)\n", len(body))
		return
	}
	shown := body
	if len(shown) > maxPrinted {
		shown = shown[:maxPrinted]
	}
	b.Write(shown)
	if !bytes.HasSuffix(shown, []byte("\n")) {
		b.WriteByte('\n')
	}
	if len(body) > len(shown) {
		fmt.Fprintf(b, "… (%d more bytes)\n", len(body)-len(shown))
	}
}
