package verify_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/verify"
)

type vectorFile struct {
	V1 []struct {
		Secret    string `json:"secret"`
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Payload   string `json:"payload"`
		Signature string `json:"signature"`
	} `json:"v1_hmac_sha256"`
	V1a []struct {
		SecretKey string `json:"secret_key"`
		PublicKey string `json:"public_key"`
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Payload   string `json:"payload"`
		Signature string `json:"signature"`
	} `json:"v1a_ed25519"`
	MustReject []map[string]any `json:"must_reject"`
	MustAccept []map[string]any `json:"must_accept"`
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	data, err := os.ReadFile("testdata/standard-webhooks-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.V1) == 0 || len(f.V1a) == 0 || len(f.MustReject) == 0 {
		t.Fatal("vector file lacks v1, v1a or must_reject entries")
	}
	return f
}

func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	return h
}

func mustNew(t testing.TB, secret string) *verify.Verifier {
	t.Helper()
	v, err := verify.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVectorsVerify(t *testing.T) {
	for _, vec := range loadVectors(t).V1 {
		t.Run(vec.ID, func(t *testing.T) {
			v := mustNew(t, vec.Secret)
			now := time.Unix(vec.Timestamp, 0)
			h := headers(vec.ID, vec.Timestamp, vec.Signature)
			if err := v.VerifyAt(h, []byte(vec.Payload), now); err != nil {
				t.Fatalf("VerifyAt = %v", err)
			}
			// Vectors are years old: against the real clock they are replays.
			if err := v.Verify(h, []byte(vec.Payload)); !errors.Is(err, verify.ErrTimestampTooOld) {
				t.Fatalf("Verify with current clock = %v, want ErrTimestampTooOld", err)
			}
			// Headers built by hand with the spec's lowercase names.
			lower := http.Header{
				"webhook-id":        {vec.ID},
				"webhook-timestamp": {strconv.FormatInt(vec.Timestamp, 10)},
				"webhook-signature": {vec.Signature},
			}
			if err := v.VerifyAt(lower, []byte(vec.Payload), now); err != nil {
				t.Fatalf("VerifyAt with lowercase header keys = %v", err)
			}
		})
	}
}

func TestSignVectors(t *testing.T) {
	for _, vec := range loadVectors(t).V1 {
		got, err := verify.Sign(vec.Secret, vec.ID, time.Unix(vec.Timestamp, 0), []byte(vec.Payload))
		if err != nil {
			t.Fatal(err)
		}
		if got != vec.Signature {
			t.Errorf("Sign = %q, want %q", got, vec.Signature)
		}
	}
}

// TestMustReject runs each must_reject case as its fields describe. Cases
// leave out what they do not vary; the rest comes from the first v1 vector,
// which shares the wrong-signature case's secret, id and payload.
func TestMustReject(t *testing.T) {
	f := loadVectors(t)
	base := f.V1[0]
	str := func(c map[string]any, k, def string) string {
		if s, ok := c[k].(string); ok {
			return s
		}
		return def
	}
	for _, c := range f.MustReject {
		name, _ := c["case"].(string)
		t.Run(name, func(t *testing.T) {
			_, hasSig := c["signature"]
			_, hasSecret := c["secret"]
			tol, hasTol := c["tolerance_seconds"].(float64)
			switch {
			case hasSig:
				// A signature that must not verify the base request.
				v := mustNew(t, str(c, "secret", base.Secret))
				id := str(c, "id", base.ID)
				body := []byte(str(c, "payload", base.Payload))
				h := headers(id, base.Timestamp, str(c, "signature", ""))
				err := v.VerifyAt(h, body, time.Unix(base.Timestamp, 0))
				if !errors.Is(err, verify.ErrNoMatchingSignature) {
					t.Fatalf("VerifyAt = %v, want ErrNoMatchingSignature", err)
				}
			case hasTol:
				// Correctly signed requests just outside the window, both ways.
				v := mustNew(t, base.Secret)
				if v.Tolerance() != time.Duration(tol)*time.Second {
					t.Fatalf("default tolerance %s, vector says %vs", v.Tolerance(), tol)
				}
				body := []byte(base.Payload)
				for _, tc := range []struct {
					offset int64
					want   error
				}{
					{-int64(tol) - 1, verify.ErrTimestampTooOld},
					{-int64(tol) * 10, verify.ErrTimestampTooOld},
					{int64(tol) + 1, verify.ErrTimestampTooNew},
					{int64(tol) * 10, verify.ErrTimestampTooNew},
				} {
					ts := base.Timestamp + tc.offset
					sig, err := verify.Sign(base.Secret, base.ID, time.Unix(ts, 0), body)
					if err != nil {
						t.Fatal(err)
					}
					err = v.VerifyAt(headers(base.ID, ts, sig), body, time.Unix(base.Timestamp, 0))
					if !errors.Is(err, tc.want) {
						t.Errorf("offset %ds: VerifyAt = %v, want %v", tc.offset, err, tc.want)
					}
				}
			case hasSecret:
				// Secrets that hold no key must be refused up front.
				for _, s := range []string{str(c, "secret", ""), ""} {
					if v, err := verify.New(s); !errors.Is(err, verify.ErrInvalidSecret) {
						t.Errorf("New(%q) = %v, %v; want ErrInvalidSecret", s, v, err)
					}
					if _, err := verify.Sign(s, base.ID, time.Unix(base.Timestamp, 0), nil); !errors.Is(err, verify.ErrInvalidSecret) {
						t.Errorf("Sign with secret %q = %v, want ErrInvalidSecret", s, err)
					}
				}
			default:
				t.Fatalf("must_reject case with unrecognised fields: %v", c)
			}
		})
	}
}

func TestSeveralSignatures(t *testing.T) {
	f := loadVectors(t)
	vec := f.V1[0]
	v1a := f.V1a[0].Signature
	v := mustNew(t, vec.Secret)
	body := []byte(vec.Payload)
	now := time.Unix(vec.Timestamp, 0)
	wrong := f.MustReject[0]["signature"].(string)

	cases := []struct {
		name, header string
		want         error
	}{
		{"second of two matches", wrong + " " + vec.Signature, nil},
		{"first of two matches", vec.Signature + " " + wrong, nil},
		{"v1a alongside valid v1", v1a + " " + vec.Signature, nil},
		{"valid v1 alongside v1a", vec.Signature + " " + v1a, nil},
		{"unknown versions and junk around valid", "v2,xyz v1 , v1,! " + vec.Signature + " v1a,", nil},
		{"extra spaces", "  " + wrong + "   " + vec.Signature + "  ", nil},
		{"v1a alone", v1a, verify.ErrNoMatchingSignature},
		{"v1a and a wrong v1", v1a + " " + wrong, verify.ErrNoMatchingSignature},
		{"two wrong", wrong + " " + wrong, verify.ErrNoMatchingSignature},
		{"uppercase version", "V1," + strings.TrimPrefix(vec.Signature, "v1,"), verify.ErrNoMatchingSignature},
		{"no version", strings.TrimPrefix(vec.Signature, "v1,"), verify.ErrNoMatchingSignature},
		{"padding removed", strings.TrimRight(vec.Signature, "="), verify.ErrNoMatchingSignature},
		{"comma-joined", wrong + "," + vec.Signature, verify.ErrNoMatchingSignature},
		{"only spaces", "   ", verify.ErrNoMatchingSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := headers(vec.ID, vec.Timestamp, c.header)
			err := v.VerifyAt(h, body, now)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("VerifyAt = %v, want %v", err, c.want)
			}
		})
	}

	t.Run("signatures on separate header lines", func(t *testing.T) {
		h := headers(vec.ID, vec.Timestamp, wrong)
		h.Add("webhook-signature", vec.Signature)
		if err := v.VerifyAt(h, body, now); err != nil {
			t.Fatalf("VerifyAt = %v", err)
		}
	})
}

func TestTampered(t *testing.T) {
	f := loadVectors(t)
	vec := f.V1[0]
	v := mustNew(t, vec.Secret)
	other := mustNew(t, f.V1[1].Secret)
	now := time.Unix(vec.Timestamp, 0)
	cases := []struct {
		name string
		v    *verify.Verifier
		h    http.Header
		body string
	}{
		{"body changed", v, headers(vec.ID, vec.Timestamp, vec.Signature), vec.Payload + " "},
		{"body empty", v, headers(vec.ID, vec.Timestamp, vec.Signature), ""},
		{"id changed", v, headers(vec.ID+"x", vec.Timestamp, vec.Signature), vec.Payload},
		{"timestamp changed", v, headers(vec.ID, vec.Timestamp+1, vec.Signature), vec.Payload},
		// Same number, different bytes: the signed content is what was sent.
		{"timestamp with leading zero", v, func() http.Header {
			h := headers(vec.ID, vec.Timestamp, vec.Signature)
			h.Set("webhook-timestamp", "0"+h.Get("webhook-timestamp"))
			return h
		}(), vec.Payload},
		{"wrong secret", other, headers(vec.ID, vec.Timestamp, vec.Signature), vec.Payload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.v.VerifyAt(c.h, []byte(c.body), now); !errors.Is(err, verify.ErrNoMatchingSignature) {
				t.Fatalf("VerifyAt = %v, want ErrNoMatchingSignature", err)
			}
		})
	}
}

func TestTolerance(t *testing.T) {
	vec := loadVectors(t).V1[0]
	v := mustNew(t, vec.Secret)
	h := headers(vec.ID, vec.Timestamp, vec.Signature)
	body := []byte(vec.Payload)
	signed := time.Unix(vec.Timestamp, 0)

	check := func(t *testing.T, v *verify.Verifier, now time.Time, want error) {
		t.Helper()
		err := v.VerifyAt(h, body, now)
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("VerifyAt(now = signed%+v) = %v, want %v", now.Sub(signed), err, want)
		}
	}
	if v.Tolerance() != verify.DefaultTolerance || verify.DefaultTolerance != 5*time.Minute {
		t.Fatalf("default tolerance = %s", v.Tolerance())
	}
	// now after the timestamp: the request is old.
	check(t, v, signed.Add(5*time.Minute), nil)
	check(t, v, signed.Add(5*time.Minute+999*time.Millisecond), nil) // still second 300
	check(t, v, signed.Add(5*time.Minute+time.Second), verify.ErrTimestampTooOld)
	// now before the timestamp: the request claims to come from the future.
	check(t, v, signed.Add(-5*time.Minute), nil)
	check(t, v, signed.Add(-5*time.Minute-time.Second), verify.ErrTimestampTooNew)
	check(t, v, signed.Add(-5*time.Minute-time.Millisecond), verify.ErrTimestampTooNew)

	t.Run("WithTolerance", func(t *testing.T) {
		short := v.WithTolerance(10 * time.Second)
		if v.Tolerance() != verify.DefaultTolerance {
			t.Fatal("WithTolerance changed the original Verifier")
		}
		check(t, short, signed.Add(10*time.Second), nil)
		check(t, short, signed.Add(11*time.Second), verify.ErrTimestampTooOld)
		check(t, short, signed.Add(-11*time.Second), verify.ErrTimestampTooNew)
		check(t, v, signed.Add(11*time.Second), nil)

		zero := v.WithTolerance(-time.Hour)
		if zero.Tolerance() != 0 {
			t.Fatalf("negative tolerance became %s, want 0", zero.Tolerance())
		}
		check(t, zero, signed, nil)
		check(t, zero, signed.Add(time.Second), verify.ErrTimestampTooOld)

		long := v.WithTolerance(time.Duration(1<<63 - 1))
		check(t, long, time.Unix(0, 0), nil)
	})
}

func TestMissingHeaders(t *testing.T) {
	vec := loadVectors(t).V1[0]
	v := mustNew(t, vec.Secret)
	for _, name := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		for _, empty := range []bool{false, true} {
			h := headers(vec.ID, vec.Timestamp, vec.Signature)
			if empty {
				h.Set(name, "")
			} else {
				h.Del(name)
			}
			err := v.VerifyAt(h, []byte(vec.Payload), time.Unix(vec.Timestamp, 0))
			if !errors.Is(err, verify.ErrMissingHeaders) || !strings.Contains(err.Error(), name) {
				t.Errorf("without %s (empty=%v): VerifyAt = %v, want ErrMissingHeaders naming it", name, empty, err)
			}
		}
	}
	if err := v.VerifyAt(nil, nil, time.Now()); !errors.Is(err, verify.ErrMissingHeaders) {
		t.Errorf("nil header: %v", err)
	}
}

func TestInvalidTimestamp(t *testing.T) {
	vec := loadVectors(t).V1[0]
	v := mustNew(t, vec.Secret)
	for _, ts := range []string{
		"abc", "+1614265330", "-1614265330", "1614265330.0", "1.6e9", " 1614265330",
		"1614265330 ", "0x60380f32", "99999999999999999999", "１６１４２６５３３０",
	} {
		h := headers(vec.ID, vec.Timestamp, vec.Signature)
		h["Webhook-Timestamp"] = []string{ts}
		err := v.VerifyAt(h, []byte(vec.Payload), time.Unix(vec.Timestamp, 0))
		if !errors.Is(err, verify.ErrInvalidTimestamp) {
			t.Errorf("timestamp %q: VerifyAt = %v, want ErrInvalidTimestamp", ts, err)
		}
	}
	// Largest parseable value: far in the future, not an overflow.
	h := headers(vec.ID, vec.Timestamp, vec.Signature)
	h["Webhook-Timestamp"] = []string{"9223372036854775807"}
	if err := v.VerifyAt(h, nil, time.Unix(vec.Timestamp, 0)); !errors.Is(err, verify.ErrTimestampTooNew) {
		t.Errorf("max int64 timestamp: %v, want ErrTimestampTooNew", err)
	}
	h["Webhook-Timestamp"] = []string{"0"}
	if err := v.VerifyAt(h, nil, time.Unix(vec.Timestamp, 0)); !errors.Is(err, verify.ErrTimestampTooOld) {
		t.Errorf("zero timestamp: %v, want ErrTimestampTooOld", err)
	}
}

func TestNew(t *testing.T) {
	vec := loadVectors(t).V1[0]
	bare := strings.TrimPrefix(vec.Secret, "whsec_")
	for _, s := range []string{
		vec.Secret,
		bare,
		vec.Secret + "\n",
		"  " + vec.Secret,
	} {
		v, err := verify.New(s)
		if err != nil {
			t.Errorf("New(%q) = %v", s, err)
			continue
		}
		h := headers(vec.ID, vec.Timestamp, vec.Signature)
		if err := v.VerifyAt(h, []byte(vec.Payload), time.Unix(vec.Timestamp, 0)); err != nil {
			t.Errorf("secret %q: VerifyAt = %v", s, err)
		}
	}
	// Unpadded base64 decodes to the same key.
	padded := "whsec_" + "AAECAwQFBgcICQoLDA0ODxAREhM=" // 20 bytes
	a, err := verify.Sign(padded, "m", time.Unix(1, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := verify.Sign(strings.TrimRight(padded, "="), "m", time.Unix(1, 0), nil)
	if err != nil || a != b {
		t.Errorf("unpadded secret: %q, %v; want %q", b, err, a)
	}

	for _, s := range []string{"", "   ", "whsec_", "whsec_!!!!", "whsec_====", "whsec_A", "whsec_" + bare + "*"} {
		if _, err := verify.New(s); !errors.Is(err, verify.ErrInvalidSecret) {
			t.Errorf("New(%q) = %v, want ErrInvalidSecret", s, err)
		} else if s != "" && len(s) > 8 && strings.Contains(err.Error(), s[6:]) {
			t.Errorf("error %q repeats the secret", err)
		}
	}
}

func TestZeroVerifierRejects(t *testing.T) {
	vec := loadVectors(t).V1[0]
	h := headers(vec.ID, vec.Timestamp, vec.Signature)
	for _, v := range []*verify.Verifier{nil, {}} {
		if err := v.VerifyAt(h, []byte(vec.Payload), time.Unix(vec.Timestamp, 0)); err == nil {
			t.Errorf("%#v accepted a request", v)
		}
	}
}

func TestVerifyNow(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v := mustNew(t, secret)
	body := []byte(`{"type":"invoice.paid"}`)
	now := time.Now()
	sig, err := verify.Sign(secret, "msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(headers("msg_1", now.Unix(), sig), body); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

func TestConcurrentVerify(t *testing.T) {
	f := loadVectors(t)
	vec := f.V1[0]
	v := mustNew(t, vec.Secret)
	short := v.WithTolerance(time.Second) // shares the pool with v
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			vv := v
			if g%2 == 1 {
				vv = short
			}
			for i := range 500 {
				body := []byte(vec.Payload)
				sig := vec.Signature
				if i%3 == 0 {
					body = bytes.Repeat([]byte("x"), i)
				}
				err := vv.VerifyAt(headers(vec.ID, vec.Timestamp, sig), body, time.Unix(vec.Timestamp, 0))
				if (i%3 == 0) != (err != nil) {
					t.Errorf("goroutine %d iteration %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

func BenchmarkVerify(b *testing.B) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v := mustNew(b, secret)
	body := bytes.Repeat([]byte("a"), 1024)
	now := time.Unix(1614265330, 0)
	sig, err := verify.Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", now, body)
	if err != nil {
		b.Fatal(err)
	}
	h := headers("msg_p5jXN8AQM9LWM0D4loKWxJek", now.Unix(), sig)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.VerifyAt(h, body, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRotation(b *testing.B) {
	// Two secrets listed during rotation, the matching one last.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v := mustNew(b, secret)
	body := bytes.Repeat([]byte("a"), 1024)
	now := time.Unix(1614265330, 0)
	sig, err := verify.Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", now, body)
	if err != nil {
		b.Fatal(err)
	}
	h := headers("msg_p5jXN8AQM9LWM0D4loKWxJek", now.Unix(), "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "+sig)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.VerifyAt(h, body, now); err != nil {
			b.Fatal(err)
		}
	}
}

// At the ends of the int64 range the tolerance window must not wrap around.
func TestToleranceExtremes(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v := mustNew(t, secret)
	const maxSec = 1<<63 - 1
	for _, c := range []struct {
		name     string
		ts, now  int64
		wantErr  error
		wantText string
	}{
		{"both at max", maxSec, maxSec, nil, ""},
		{"max timestamp, clock just inside", maxSec, maxSec - 300, nil, ""},
		{"max timestamp, clock just outside", maxSec, maxSec - 301, verify.ErrTimestampTooNew, "5m1s ahead"},
		{"max timestamp, clock at min", maxSec, -1 << 63, verify.ErrTimestampTooNew, "18446744073709551615s ahead"},
		{"zero timestamp, clock at max", 0, maxSec, verify.ErrTimestampTooOld, "9223372036854775807s ago"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := []byte("x")
			sig, err := verify.Sign(secret, "msg_1", time.Unix(c.ts, 0), body)
			if err != nil {
				t.Fatal(err)
			}
			err = v.VerifyAt(headers("msg_1", c.ts, sig), body, time.Unix(c.now, 0))
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("VerifyAt = %v, want %v", err, c.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), c.wantText) {
				t.Fatalf("error %q does not contain %q", err, c.wantText)
			}
		})
	}
}
