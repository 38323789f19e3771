package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/verify"
)

// Exit codes of `herald verify`, which scripts branch on.
const (
	ExitValid    = 0
	ExitInvalid  = 1
	ExitBadInput = 2
)

// maxRequest caps what `herald verify` reads: far above any event Herald
// accepts, low enough that a wrong file cannot exhaust memory.
const maxRequest = 64 << 20

// Verify configures `herald verify`: check offline that a webhook request
// was signed with a secret, from the raw request (request line, headers,
// blank line, body), as a receiver would.
type Verify struct {
	Secret    string        `name:"secret" env:"HERALD_WEBHOOK_SECRET" required:"" placeholder:"whsec_…" help:"The endpoint's signing secret (whsec_…), or its public key (whpk_…) for an endpoint signed with a key pair."`
	Raw       bool          `name:"raw" help:"The secret is raw text used as it is (an endpoint given a secret not of the whsec_ form)."`
	Tolerance time.Duration `name:"tolerance" default:"0" help:"Also refuse a webhook-timestamp further than this from now, as a receiver does (5m); 0 checks only the signature, for requests captured earlier."`
	File      string        `arg:"" optional:"" placeholder:"FILE" help:"The raw request; stdin when absent or -."`
}

// Run reads the request from the file or stdin, writes a one-line verdict
// to stdout and returns the exit code: ExitValid, ExitInvalid, or
// ExitBadInput (with the reason on stderr) when the input or the secret
// cannot be read.
func (v *Verify) Run(stdin io.Reader, stdout, stderr io.Writer) int {
	bad := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "herald: "+format+"\n", args...)
		return ExitBadInput
	}
	ver, err := newVerifier(v.Secret, v.Raw)
	if err != nil {
		return bad("--secret: %v", err)
	}
	in := stdin
	if v.File != "" && v.File != "-" {
		f, err := os.Open(v.File)
		if err != nil {
			return bad("%v", err)
		}
		defer f.Close()
		in = f
	}
	raw, err := io.ReadAll(io.LimitReader(in, maxRequest+1))
	if err != nil {
		return bad("reading the request: %v", err)
	}
	if len(raw) > maxRequest {
		return bad("the request is larger than %d MiB", maxRequest>>20)
	}
	header, body, err := ParseRequest(raw)
	if err != nil {
		return bad("%v", err)
	}
	res := Check(ver, v.Tolerance, header, body, time.Now())
	fmt.Fprintln(stdout, res.Line())
	if res.Valid {
		return ExitValid
	}
	return ExitInvalid
}

// newVerifier picks the scheme by the key's prefix: whpk_ is a public key
// (v1a signatures); anything else is a whsec_ secret (v1), or raw text
// with raw set.
func newVerifier(secret string, raw bool) (*verify.Verifier, error) {
	switch {
	case raw:
		return verify.NewRaw(secret)
	case strings.HasPrefix(strings.TrimSpace(secret), "whpk_"):
		return verify.NewPublic(secret)
	case strings.HasPrefix(strings.TrimSpace(secret), "whsk_"):
		return nil, errors.New("this is the endpoint's private key (whsk_); verify with its public key (whpk_)")
	}
	return verify.New(secret)
}

// ParseRequest splits a raw HTTP request into its headers and body. The
// body is Content-Length bytes when the header says so, else everything
// after the blank line. Line ends may be CRLF or LF, as in a request
// pasted into a file.
func ParseRequest(raw []byte) (http.Header, []byte, error) {
	const shape = "the input is not an HTTP request (a request line such as POST /hook HTTP/1.1, headers, a blank line, the body)"
	br := bufio.NewReader(bytes.NewReader(raw))
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: it is empty", shape)
	}
	parts := strings.Fields(line)
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/") || strings.ContainsRune(parts[0], ':') {
		return nil, nil, fmt.Errorf("%s: the first line is %q", shape, truncate(line, 80))
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", shape, err)
	}
	header := http.Header(mh)
	body, _ := io.ReadAll(br)
	if cl := header.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(strings.TrimSpace(cl))
		if err != nil || n < 0 {
			return nil, nil, fmt.Errorf("Content-Length %q is not a number of bytes", cl)
		}
		if n > len(body) {
			return nil, nil, fmt.Errorf("the body has %d bytes, fewer than its Content-Length %d: the file was cut", len(body), n)
		}
		body = body[:n]
	}
	return header, body, nil
}

// Result is the verdict on one request.
type Result struct {
	Valid bool
	// Reason says why the request is not valid.
	Reason string
	// ID and Signed are the request's webhook-id and timestamp, when
	// present; Age is how long before the check it was signed.
	ID     string
	Signed time.Time
	Age    time.Duration
	// TrimmedNewline: the signature matched once a final line end, which
	// files saved by editors add, was left out of the body.
	TrimmedNewline bool
}

// Check verifies a request with v at now. With tolerance 0 the time is
// not checked, only reported: a request captured earlier is judged on its
// signature alone.
func Check(v *verify.Verifier, tolerance time.Duration, header http.Header, body []byte, now time.Time) Result {
	r := Result{ID: header.Get("Webhook-Id")}
	ts, tsErr := strconv.ParseInt(strings.TrimSpace(header.Get("Webhook-Timestamp")), 10, 64)
	if tsErr == nil {
		r.Signed = time.Unix(ts, 0).UTC()
		r.Age = now.Sub(r.Signed).Truncate(time.Second)
	}
	at := now
	if tolerance > 0 {
		v = v.WithTolerance(tolerance)
	} else if tsErr == nil {
		at = r.Signed // judged at its own time: only the signature counts
	}
	err := v.VerifyAt(header, body, at)
	if errors.Is(err, verify.ErrNoMatchingSignature) {
		for _, end := range []string{"\r\n", "\n"} {
			if trimmed, ok := bytes.CutSuffix(body, []byte(end)); ok && v.VerifyAt(header, trimmed, at) == nil {
				r.TrimmedNewline = true
				err = nil
				break
			}
		}
	}
	if err == nil {
		r.Valid = true
		return r
	}
	switch {
	case errors.Is(err, verify.ErrMissingHeaders):
		r.Reason = strings.TrimPrefix(err.Error(), "verify: ") + ": the request is not signed"
	case errors.Is(err, verify.ErrTimestampTooOld), errors.Is(err, verify.ErrTimestampTooNew):
		r.Reason = strings.TrimPrefix(err.Error(), "verify: ")
	case errors.Is(err, verify.ErrNoMatchingSignature):
		r.Reason = strings.TrimPrefix(err.Error(), "verify: ") + ": the secret is not the endpoint's, or the request was altered"
	default:
		r.Reason = strings.TrimPrefix(err.Error(), "verify: ")
	}
	return r
}

// Line is the verdict as `herald verify` prints it.
func (r Result) Line() string {
	var b strings.Builder
	if r.Valid {
		b.WriteString("valid: signature matches")
	} else {
		b.WriteString("invalid: " + r.Reason)
	}
	var facts []string
	if r.ID != "" {
		facts = append(facts, "webhook-id "+r.ID)
	}
	if !r.Signed.IsZero() {
		facts = append(facts, "signed "+r.Signed.Format(time.RFC3339)+" ("+age(r.Age)+")")
	}
	if r.TrimmedNewline {
		facts = append(facts, "without the input's final line end")
	}
	if len(facts) > 0 {
		b.WriteString(" (" + strings.Join(facts, ", ") + ")")
	}
	return b.String()
}

// age says how long ago a request was signed, to the second.
func age(d time.Duration) string {
	if d < 0 {
		return (-d).String() + " from now"
	}
	return d.String() + " ago"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
