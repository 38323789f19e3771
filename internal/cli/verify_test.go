package cli_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/cli"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/verify"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// signed is a request signed with testSecret at ts, with LF line ends
// as a request pasted into an editor has them.
func signed(t testing.TB, ts time.Time, body string) []byte {
	s, err := signing.NewSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	signing.Headers(h, "msg_1", ts, s.Sign("msg_1", ts, []byte(body)))
	var b bytes.Buffer
	b.WriteString("POST /hooks HTTP/1.1\nContent-Type: application/json\n")
	for _, k := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"} {
		b.WriteString(k + ": " + h.Get(k) + "\n")
	}
	b.WriteString("\n" + body)
	return b.Bytes()
}

func TestParseRequestAndCheck(t *testing.T) {
	t.Parallel()
	v, err := verify.New(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	raw := signed(t, now.Add(-time.Minute), `{"a":1}`)
	h, body, err := cli.ParseRequest(raw)
	if err != nil || string(body) != `{"a":1}` || h.Get("Webhook-Id") != "msg_1" {
		t.Fatalf("ParseRequest: %v %q %v", h, body, err)
	}
	if r := cli.Check(v, 0, h, body, now); !r.Valid || r.Age != time.Minute || r.ID != "msg_1" {
		t.Fatalf("Check: %+v", r)
	}
	if r := cli.Check(v, 30*time.Second, h, body, now); r.Valid {
		t.Fatalf("a minute old with a tolerance of 30s: %+v", r)
	}
	// Content-Length cuts what follows the body (a final newline).
	withLen := bytes.Replace(raw, []byte("Content-Type"), []byte("Content-Length: 7\nContent-Type"), 1)
	if _, body, err := cli.ParseRequest(append(withLen, "\n\n"...)); err != nil || string(body) != `{"a":1}` {
		t.Fatalf("with Content-Length: %q %v", body, err)
	}
	for _, bad := range []string{"", "\n", "hello", "POST /hooks\n\n", "Webhook-Id: x\n\n{}", "POST /x HTTP/1.1\nContent-Length: x\n\n{}"} {
		if _, _, err := cli.ParseRequest([]byte(bad)); err == nil {
			t.Errorf("ParseRequest(%q) accepted", bad)
		}
	}
}

// FuzzParseRequest: `herald verify` reads whatever it is given. Never
// panics; a body it returns is bytes of the input, and checking it never
// panics either.
func FuzzParseRequest(f *testing.F) {
	f.Add(signed(f, time.Unix(1_800_000_000, 0), `{"a":1}`))                                       // a signed request
	f.Add([]byte("POST /hooks HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"))                           // CRLF, a length
	f.Add([]byte("POST /hooks HTTP/1.1\r\nContent-Length: 99\r\n\r\n{}"))                          // a length past the end
	f.Add([]byte("POST /hooks HTTP/1.1\nWebhook-Signature: v1,a v1,b\nWebhook-Timestamp: -1\n\n")) // odd values
	f.Add([]byte("GET / HTTP/1.1\n folded: header\n\n"))                                           // a continuation line
	f.Add([]byte("not a request"))                                                                 // garbage
	v, err := verify.New(testSecret)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, body, err := cli.ParseRequest(raw)
		if err != nil {
			return
		}
		if !bytes.Contains(raw, body) {
			t.Fatalf("body %q is not in the input", body)
		}
		_ = cli.Check(v, 0, h, body, time.Unix(1_800_000_000, 0)).Line()
		_ = cli.Check(v, time.Minute, h, body, time.Unix(1_800_000_000, 0)).Line()
	})
}
