package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/verify"
)

// signV1a signs a request the way a v1a sender does. It is written out here
// rather than taken from Herald's signer, so the two are held to the
// published vectors independently.
func signV1a(priv ed25519.PrivateKey, id string, ts int64, body []byte) string {
	msg := id + "." + strconv.FormatInt(ts, 10) + "." + string(body)
	return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(msg)))
}

// testKeyPair is a key pair of the v1a scheme derived from a fixed seed, so
// that failures found by fuzzing reproduce.
func testKeyPair() (priv ed25519.PrivateKey, publicKey string) {
	priv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
	return priv, "whpk_" + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
}

func mustNewPublic(t testing.TB, publicKey string) *verify.Verifier {
	t.Helper()
	v, err := verify.NewPublic(publicKey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPublicVectorsVerify(t *testing.T) {
	for _, vec := range loadVectors(t).V1a {
		t.Run(vec.ID, func(t *testing.T) {
			bare := strings.TrimPrefix(vec.PublicKey, "whpk_")
			for _, key := range []string{
				vec.PublicKey,
				bare,
				strings.TrimRight(vec.PublicKey, "="),
				" " + vec.PublicKey + "\n",
			} {
				v := mustNewPublic(t, key)
				now := time.Unix(vec.Timestamp, 0)
				h := headers(vec.ID, vec.Timestamp, vec.Signature)
				if err := v.VerifyAt(h, []byte(vec.Payload), now); err != nil {
					t.Fatalf("key %q: VerifyAt = %v", key, err)
				}
				if err := v.Verify(h, []byte(vec.Payload)); !errors.Is(err, verify.ErrTimestampTooOld) {
					t.Fatalf("Verify with current clock = %v, want ErrTimestampTooOld", err)
				}
				lower := http.Header{
					"webhook-id":        {vec.ID},
					"webhook-timestamp": {strconv.FormatInt(vec.Timestamp, 10)},
					"webhook-signature": {vec.Signature},
				}
				if err := v.VerifyAt(lower, []byte(vec.Payload), now); err != nil {
					t.Fatalf("VerifyAt with lowercase header keys = %v", err)
				}
			}
		})
	}
}

// The vector's secret key must sign to its signature with plain
// crypto/ed25519, which confirms the whsk_ encoding this package documents.
func TestPublicVectorKeyEncoding(t *testing.T) {
	vec := loadVectors(t).V1a[0]
	sk, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vec.SecretKey, "whsk_"))
	if err != nil || len(sk) != ed25519.PrivateKeySize {
		t.Fatalf("secret key: %d bytes, %v", len(sk), err)
	}
	if got := signV1a(sk, vec.ID, vec.Timestamp, []byte(vec.Payload)); got != vec.Signature {
		t.Fatalf("signV1a = %q, want %q", got, vec.Signature)
	}
	if want := "whpk_" + base64.StdEncoding.EncodeToString(sk[32:]); want != vec.PublicKey {
		t.Fatalf("public half %q, want %q", want, vec.PublicKey)
	}
}

func TestPublicSchemesDoNotMix(t *testing.T) {
	f := loadVectors(t)
	v1, v1a := f.V1[0], f.V1a[0]
	// The published vectors sign the same request with both schemes.
	if v1.ID != v1a.ID || v1.Timestamp != v1a.Timestamp || v1.Payload != v1a.Payload {
		t.Fatal("v1 and v1a vectors no longer describe the same request")
	}
	hv := mustNew(t, v1.Secret)
	pv := mustNewPublic(t, v1a.PublicKey)
	body := []byte(v1.Payload)
	now := time.Unix(v1.Timestamp, 0)
	wrongV1 := f.MustReject[0]["signature"].(string)
	_, otherPub := testKeyPair()
	other := mustNewPublic(t, otherPub)

	cases := []struct {
		name   string
		v      *verify.Verifier
		header string
		want   error
		text   string
	}{
		{"v1 alone, public key", pv, v1.Signature, verify.ErrNoMatchingSignature, "no v1a signature"},
		{"v1a alone, public key", pv, v1a.Signature, nil, ""},
		{"v1a alone, secret", hv, v1a.Signature, verify.ErrNoMatchingSignature, "no v1 signature"},
		{"v1 then v1a, public key", pv, v1.Signature + " " + v1a.Signature, nil, ""},
		{"v1a then v1, public key", pv, v1a.Signature + " " + v1.Signature, nil, ""},
		{"v1 then v1a, secret", hv, v1.Signature + " " + v1a.Signature, nil, ""},
		{"v1a then v1, secret", hv, v1a.Signature + " " + v1.Signature, nil, ""},
		{"wrong v1 and valid v1a, public key", pv, wrongV1 + " " + v1a.Signature, nil, ""},
		{"junk around v1a", pv, "v2,xyz v1a v1a,! v1a, " + v1a.Signature + " v1,", nil, ""},
		{"other public key", other, v1.Signature + " " + v1a.Signature, verify.ErrNoMatchingSignature, "none of 1 v1a signatures matched"},
		{"v1a twice, other public key", other, v1a.Signature + " " + v1a.Signature, verify.ErrNoMatchingSignature, "none of 2 v1a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.v.VerifyAt(headers(v1.ID, v1.Timestamp, c.header), body, now)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("VerifyAt = %v, want %v", err, c.want)
			}
			if err != nil && !strings.Contains(err.Error(), c.text) {
				t.Fatalf("error %q does not contain %q", err, c.text)
			}
		})
	}

	t.Run("signatures on separate header lines", func(t *testing.T) {
		h := headers(v1.ID, v1.Timestamp, v1.Signature)
		h.Add("webhook-signature", v1a.Signature)
		for _, v := range []*verify.Verifier{hv, pv} {
			if err := v.VerifyAt(h, body, now); err != nil {
				t.Fatalf("VerifyAt = %v", err)
			}
		}
	})
}

func TestPublicTampered(t *testing.T) {
	vec := loadVectors(t).V1a[0]
	v := mustNewPublic(t, vec.PublicKey)
	_, otherPub := testKeyPair()
	other := mustNewPublic(t, otherPub)
	now := time.Unix(vec.Timestamp, 0)

	b64 := strings.TrimPrefix(vec.Signature, "v1a,")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(raw)
	flipped[10] ^= 0x01
	// The last character before "==" carries 4 unused bits; setting one
	// gives a different string that lax decoders read as the same bytes.
	last := strings.IndexByte(base64Alphabet, b64[85])
	nonCanonical := b64[:85] + string(base64Alphabet[last|1]) + "=="
	if nonCanonical == b64 {
		nonCanonical = b64[:85] + string(base64Alphabet[last&^1]) + "=="
	}
	if lax, err := base64.StdEncoding.DecodeString(nonCanonical); err != nil || !bytes.Equal(lax, raw) {
		t.Fatalf("test setup: %q does not decode to the same bytes (%v)", nonCanonical, err)
	}

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
		{"timestamp with leading zero", v, func() http.Header {
			h := headers(vec.ID, vec.Timestamp, vec.Signature)
			h.Set("webhook-timestamp", "0"+h.Get("webhook-timestamp"))
			return h
		}(), vec.Payload},
		{"signature bit flipped", v, headers(vec.ID, vec.Timestamp, "v1a,"+base64.StdEncoding.EncodeToString(flipped)), vec.Payload},
		{"non-canonical base64", v, headers(vec.ID, vec.Timestamp, "v1a,"+nonCanonical), vec.Payload},
		{"padding removed", v, headers(vec.ID, vec.Timestamp, strings.TrimRight(vec.Signature, "=")), vec.Payload},
		{"truncated", v, headers(vec.ID, vec.Timestamp, vec.Signature[:len(vec.Signature)-4]), vec.Payload},
		{"uppercase version", v, headers(vec.ID, vec.Timestamp, "V1A,"+b64), vec.Payload},
		{"wrong public key", other, headers(vec.ID, vec.Timestamp, vec.Signature), vec.Payload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.v.VerifyAt(c.h, []byte(c.body), now); !errors.Is(err, verify.ErrNoMatchingSignature) {
				t.Fatalf("VerifyAt = %v, want ErrNoMatchingSignature", err)
			}
		})
	}
}

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func TestPublicTolerance(t *testing.T) {
	vec := loadVectors(t).V1a[0]
	v := mustNewPublic(t, vec.PublicKey)
	h := headers(vec.ID, vec.Timestamp, vec.Signature)
	body := []byte(vec.Payload)
	signed := time.Unix(vec.Timestamp, 0)
	if v.Tolerance() != verify.DefaultTolerance {
		t.Fatalf("default tolerance = %s", v.Tolerance())
	}
	for _, c := range []struct {
		v    *verify.Verifier
		now  time.Time
		want error
	}{
		{v, signed.Add(5 * time.Minute), nil},
		{v, signed.Add(5*time.Minute + time.Second), verify.ErrTimestampTooOld},
		{v, signed.Add(-5*time.Minute - time.Second), verify.ErrTimestampTooNew},
		{v.WithTolerance(10 * time.Second), signed.Add(10 * time.Second), nil},
		{v.WithTolerance(10 * time.Second), signed.Add(11 * time.Second), verify.ErrTimestampTooOld},
	} {
		err := c.v.VerifyAt(h, body, c.now)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("tolerance %s, now = signed%+v: VerifyAt = %v, want %v",
				c.v.Tolerance(), c.now.Sub(signed), err, c.want)
		}
	}
	// Missing headers are reported before any signature work.
	h.Del("webhook-id")
	if err := v.VerifyAt(h, body, signed); !errors.Is(err, verify.ErrMissingHeaders) {
		t.Errorf("without webhook-id: VerifyAt = %v, want ErrMissingHeaders", err)
	}
}

func TestNewPublicErrors(t *testing.T) {
	vec := loadVectors(t).V1a[0]
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA5}, n)) }
	for _, c := range []struct {
		name, in, msg string
	}{
		{"empty", "", "empty"},
		{"spaces", "   ", "empty"},
		{"prefix only", "whpk_", "empty"},
		{"secret key", vec.SecretKey, "secret key, which must stay with the sender"},
		{"hmac secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "which New takes"},
		{"bad base64", "whpk_!!!!", "not valid base64"},
		{"url-safe base64", "whpk_" + strings.Repeat("_", 44), "not valid base64"},
		{"impossible length", "whpk_AAAAA", "not valid base64"},
		{"31 bytes", "whpk_" + b64(31), "key is 31 bytes"},
		{"33 bytes", "whpk_" + b64(33), "key is 33 bytes"},
		{"64 bytes, no prefix", strings.TrimPrefix(vec.SecretKey, "whsk_"), "key is 64 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := verify.NewPublic(c.in)
			if !errors.Is(err, verify.ErrInvalidPublicKey) {
				t.Fatalf("NewPublic(%q) = %v, %v; want ErrInvalidPublicKey", c.in, v, err)
			}
			if errors.Is(err, verify.ErrInvalidSecret) {
				t.Errorf("error %v also wraps ErrInvalidSecret", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
			if len(c.in) > 16 && strings.Contains(err.Error(), c.in[6:16]) {
				t.Errorf("error %q repeats the key", err)
			}
		})
	}
	// The reverse mix-up stays an invalid secret for New.
	if _, err := verify.New(vec.PublicKey); !errors.Is(err, verify.ErrInvalidSecret) {
		t.Errorf("New(public key) = %v, want ErrInvalidSecret", err)
	}
}

func TestConcurrentVerifyPublic(t *testing.T) {
	vec := loadVectors(t).V1a[0]
	v := mustNewPublic(t, vec.PublicKey)
	short := v.WithTolerance(time.Second)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			vv := v
			if g%2 == 1 {
				vv = short
			}
			for i := range 100 {
				body := []byte(vec.Payload)
				if i%3 == 0 {
					body = bytes.Repeat([]byte("x"), i)
				}
				err := vv.VerifyAt(headers(vec.ID, vec.Timestamp, vec.Signature), body, time.Unix(vec.Timestamp, 0))
				if (i%3 == 0) != (err != nil) {
					t.Errorf("goroutine %d iteration %d: %v", g, i, err)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

func BenchmarkVerifyPublic(b *testing.B) {
	priv, pub := testKeyPair()
	v := mustNewPublic(b, pub)
	body := bytes.Repeat([]byte("a"), 1024)
	now := time.Unix(1614265330, 0)
	h := headers("msg_p5jXN8AQM9LWM0D4loKWxJek", now.Unix(), signV1a(priv, "msg_p5jXN8AQM9LWM0D4loKWxJek", now.Unix(), body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.VerifyAt(h, body, now); err != nil {
			b.Fatal(err)
		}
	}
}
