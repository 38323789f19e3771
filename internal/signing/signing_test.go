package signing

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The vectors live with the public verify package so that signer and
// verifier are held to the same published values.
const vectorsPath = "../../verify/testdata/standard-webhooks-vectors.json"

type v1Vector struct {
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

func loadV1Vectors(t testing.TB) []v1Vector {
	t.Helper()
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		V1 []v1Vector `json:"v1_hmac_sha256"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.V1) == 0 {
		t.Fatal("no v1_hmac_sha256 vectors in " + vectorsPath)
	}
	return file.V1
}

func TestSignVectors(t *testing.T) {
	for _, v := range loadV1Vectors(t) {
		t.Run(v.ID, func(t *testing.T) {
			s, err := NewSigner(v.Secret)
			if err != nil {
				t.Fatal(err)
			}
			// Twice, so the second call runs on recycled HMAC state.
			for range 2 {
				got := s.Sign(v.ID, time.Unix(v.Timestamp, 0), []byte(v.Payload))
				if got != v.Signature {
					t.Fatalf("Sign = %q, want %q", got, v.Signature)
				}
			}
		})
	}
}

func TestSignIgnoresSubSecond(t *testing.T) {
	v := loadV1Vectors(t)[0]
	s, err := NewSigner(v.Secret)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Sign(v.ID, time.Unix(v.Timestamp, 999_999_999), []byte(v.Payload))
	if got != v.Signature {
		t.Fatalf("Sign = %q, want %q", got, v.Signature)
	}
}

func TestSignConcurrent(t *testing.T) {
	vs := loadV1Vectors(t)
	signers := make([]*Signer, len(vs))
	for i, v := range vs {
		s, err := NewSigner(v.Secret)
		if err != nil {
			t.Fatal(err)
		}
		signers[i] = s
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(vs)
				v := vs[k]
				if got := signers[k].Sign(v.ID, time.Unix(v.Timestamp, 0), []byte(v.Payload)); got != v.Signature {
					t.Errorf("Sign = %q, want %q", got, v.Signature)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSignLongIDIsNotPooled(t *testing.T) {
	v := loadV1Vectors(t)[0]
	s, err := NewSigner(v.Secret)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 4*maxPooledBuf)
	a := s.Sign(long, time.Unix(v.Timestamp, 0), nil)
	b := s.Sign(long, time.Unix(v.Timestamp, 0), nil)
	if a != b || !strings.HasPrefix(a, "v1,") {
		t.Fatalf("signatures differ or malformed: %q %q", a, b)
	}
	// Whatever the pool holds now must still sign correctly.
	if got := s.Sign(v.ID, time.Unix(v.Timestamp, 0), []byte(v.Payload)); got != v.Signature {
		t.Fatalf("Sign = %q, want %q", got, v.Signature)
	}
}

func TestGenerateSecretRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		s, err := GenerateSecret()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s, SecretPrefix) {
			t.Fatalf("secret %q lacks prefix %q", s, SecretPrefix)
		}
		if seen[s] {
			t.Fatalf("GenerateSecret repeated %q", s)
		}
		seen[s] = true
		key, err := ParseSecret(s)
		if err != nil {
			t.Fatalf("ParseSecret(GenerateSecret()) = %v", err)
		}
		if len(key) != generatedKeyLen {
			t.Fatalf("key length = %d, want %d", len(key), generatedKeyLen)
		}
		if want := base64.StdEncoding.EncodeToString(key); s != SecretPrefix+want {
			t.Fatalf("re-encoded key %q does not match secret %q", want, s)
		}
		if _, err := NewSigner(s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseSecret(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA5}, n)) }
	raw := func(n int) string { return base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xA5}, n)) }

	ok := []struct {
		name, in string
		keyLen   int
	}{
		{"vector", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 24},
		{"minimum", SecretPrefix + b64(16), 16},
		{"maximum", SecretPrefix + b64(64), 64},
		{"padded", SecretPrefix + b64(17), 17},
		{"padding dropped", SecretPrefix + raw(17), 17},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			key, err := ParseSecret(c.in)
			if err != nil {
				t.Fatalf("ParseSecret(%q) = %v", c.in, err)
			}
			if len(key) != c.keyLen {
				t.Fatalf("key length = %d, want %d", len(key), c.keyLen)
			}
		})
	}

	bad := []struct {
		name, in string
		msg      string // a part of the message that tells the user what to fix
	}{
		{"empty", "", "secret is empty"},
		{"prefix only", SecretPrefix, "nothing after whsec_"},
		{"no prefix", b64(24), "missing whsec_ prefix"},
		{"wrong prefix", "whsk_" + b64(24), "missing whsec_ prefix"},
		{"uppercase prefix", "WHSEC_" + b64(24), "missing whsec_ prefix"},
		{"bad base64", SecretPrefix + "not*base64!not*base64!not*", "not valid base64 at character 10"},
		{"url-safe base64", SecretPrefix + "____________________________", "not valid base64"},
		{"impossible length", SecretPrefix + "AAAAA", "not valid base64"},
		{"too short", SecretPrefix + b64(15), "key is 15 bytes"},
		{"too long", SecretPrefix + b64(65), "key is 65 bytes"},
		{"whitespace", " " + SecretPrefix + b64(24), "missing whsec_ prefix"},
		{"line break", SecretPrefix + b64(24) + "\n", "not valid base64 at character 39"},
		{"line break inside", SecretPrefix + b64(12) + "\r\n" + b64(12), "not valid base64 at character 23"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			key, err := ParseSecret(c.in)
			if err == nil {
				t.Fatalf("ParseSecret(%q) = %x, want error", c.in, key)
			}
			if !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("error %v does not wrap ErrInvalidSecret", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
			if !strings.Contains(err.Error(), secretFormat) {
				t.Errorf("error %q does not say what a secret looks like", err)
			}
			if _, err := NewSigner(c.in); !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("NewSigner(%q) = %v, want ErrInvalidSecret", c.in, err)
			}
		})
	}
}

func TestParseSecretErrorHidesSecret(t *testing.T) {
	secret := SecretPrefix + "c2VjcmV0LXZhbHVlLXRoYXQtaXMtd2F5LXRvby1sb25nLWZvci1hbi1obWFjLWtleS1ib3VuZHMtc28tcmVqZWN0ZWQ="
	_, err := ParseSecret(secret)
	if err == nil {
		t.Fatal("want error")
	}
	if strings.Contains(err.Error(), secret[len(SecretPrefix):len(SecretPrefix)+8]) {
		t.Fatalf("error %q leaks the secret", err)
	}
}

func TestHeaders(t *testing.T) {
	h := http.Header{}
	ts := time.Unix(1614265330, 500_000_000)
	Headers(h, "msg_1", ts, "v1,a= v1,b=")
	want := map[string]string{
		"Webhook-Id":        "msg_1",
		"Webhook-Timestamp": "1614265330",
		"Webhook-Signature": "v1,a= v1,b=",
	}
	if len(h) != len(want) {
		t.Fatalf("headers = %v, want %v", h, want)
	}
	for k, v := range want {
		if got := h[k]; len(got) != 1 || got[0] != v {
			t.Errorf("h[%q] = %q, want [%q]", k, got, v)
		}
	}
	if got := h.Get("webhook-id"); got != "msg_1" {
		t.Errorf(`h.Get("webhook-id") = %q`, got)
	}
	// Setting again replaces rather than appends: a retried attempt is re-signed.
	Headers(h, "msg_1", ts.Add(time.Minute), "v1,c=")
	if got := h.Values("webhook-signature"); len(got) != 1 || got[0] != "v1,c=" {
		t.Errorf("after re-sign, signature = %q", got)
	}
}

func BenchmarkSign(b *testing.B) {
	s, err := NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("a"), 1024)
	ts := time.Unix(1614265330, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
	}
}

func BenchmarkSignParallel(b *testing.B) {
	s, err := NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("a"), 1024)
	ts := time.Unix(1614265330, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
		}
	})
}

func BenchmarkHeaders(b *testing.B) {
	h := http.Header{}
	ts := time.Unix(1614265330, 0)
	b.ReportAllocs()
	for b.Loop() {
		Headers(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	}
}
