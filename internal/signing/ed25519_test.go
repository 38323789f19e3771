package signing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

type v1aVector struct {
	SecretKey string `json:"secret_key"`
	PublicKey string `json:"public_key"`
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

func loadV1aVectors(t testing.TB) []v1aVector {
	t.Helper()
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		V1a []v1aVector `json:"v1a_ed25519"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.V1a) == 0 {
		t.Fatal("no v1a_ed25519 vectors in " + vectorsPath)
	}
	return file.V1a
}

func TestEdSignVectors(t *testing.T) {
	for _, v := range loadV1aVectors(t) {
		t.Run(v.ID, func(t *testing.T) {
			s, err := NewEdSigner(v.SecretKey)
			if err != nil {
				t.Fatal(err)
			}
			// Twice, so the second call runs on a recycled buffer; the
			// sub-second part of the time must not matter.
			for _, ns := range []int64{0, 999_999_999} {
				got := s.Sign(v.ID, time.Unix(v.Timestamp, ns), []byte(v.Payload))
				if got != v.Signature {
					t.Fatalf("Sign = %q, want %q", got, v.Signature)
				}
			}
			sch, err := NewScheme(v.SecretKey)
			if err != nil {
				t.Fatal(err)
			}
			if got := sch.Sign(v.ID, time.Unix(v.Timestamp, 0), []byte(v.Payload)); got != v.Signature {
				t.Fatalf("NewScheme(...).Sign = %q, want %q", got, v.Signature)
			}
		})
	}
}

func TestPublicKeyOfVector(t *testing.T) {
	for _, v := range loadV1aVectors(t) {
		got, err := PublicKeyOf(v.SecretKey)
		if err != nil {
			t.Fatal(err)
		}
		if got != v.PublicKey {
			t.Fatalf("PublicKeyOf = %q, want %q", got, v.PublicKey)
		}
		// Padding is optional, as for whsec_ secrets.
		if got, err := PublicKeyOf(strings.TrimRight(v.SecretKey, "=")); err != nil || got != v.PublicKey {
			t.Fatalf("PublicKeyOf(unpadded) = %q, %v; want %q", got, err, v.PublicKey)
		}
	}
}

func TestGenerateKeyPairRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		sk, pk, err := GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sk, SecretKeyPrefix) || !strings.HasPrefix(pk, PublicKeyPrefix) {
			t.Fatalf("key pair %q / %q lacks prefixes", sk, pk)
		}
		if seen[sk] {
			t.Fatalf("GenerateKeyPair repeated %q", sk)
		}
		seen[sk] = true

		priv, err := ParseSecretKey(sk)
		if err != nil {
			t.Fatalf("ParseSecretKey(GenerateKeyPair()) = %v", err)
		}
		if want := base64.StdEncoding.EncodeToString(priv); sk != SecretKeyPrefix+want {
			t.Fatalf("re-encoded key %q does not match %q", want, sk)
		}
		if got, err := PublicKeyOf(sk); err != nil || got != pk {
			t.Fatalf("PublicKeyOf = %q, %v; want %q", got, err, pk)
		}

		pub, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pk, PublicKeyPrefix))
		if err != nil || len(pub) != ed25519.PublicKeySize {
			t.Fatalf("public key %q: %d bytes, %v", pk, len(pub), err)
		}
		s, err := NewEdSigner(sk)
		if err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"type":"invoice.paid"}`)
		ts := time.Unix(1614265330, 0)
		sig, ok := strings.CutPrefix(s.Sign("msg_1", ts, body), "v1a,")
		if !ok {
			t.Fatalf("signature lacks v1a, prefix")
		}
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || len(raw) != ed25519.SignatureSize {
			t.Fatalf("signature %q: %d bytes, %v", sig, len(raw), err)
		}
		if !ed25519.Verify(pub, []byte("msg_1.1614265330."+string(body)), raw) {
			t.Fatal("signature does not verify with the public key")
		}
	}
}

func TestParseSecretKey(t *testing.T) {
	vec := loadV1aVectors(t)[0]
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vec.SecretKey, SecretKeyPrefix))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	spliced := bytes.Clone(raw)
	spliced[40] ^= 1

	bad := []struct {
		name, in string
		msg      string // a part of the message that tells the user what to fix
	}{
		{"empty", "", "secret key is empty"},
		{"prefix only", SecretKeyPrefix, "nothing after whsk_"},
		{"no prefix", b64(raw), "missing whsk_ prefix"},
		{"hmac secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "missing whsk_ prefix"},
		{"public key", vec.PublicKey, "missing whsk_ prefix"},
		{"bad base64", SecretKeyPrefix + "not*base64!", "not valid base64 at character 9"},
		{"impossible length", SecretKeyPrefix + "AAAAA", "not valid base64"},
		{"seed only", SecretKeyPrefix + b64(raw[:32]), "key is 32 bytes"},
		{"too long", SecretKeyPrefix + b64(append(bytes.Clone(raw), 0)), "key is 65 bytes"},
		{"public half altered", SecretKeyPrefix + b64(spliced), "public half does not match"},
		{"whitespace", " " + vec.SecretKey, "missing whsk_ prefix"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			key, err := ParseSecretKey(c.in)
			if err == nil {
				t.Fatalf("ParseSecretKey(%q) = %x, want error", c.in, key)
			}
			if !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("error %v does not wrap ErrInvalidSecret", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
			if !strings.Contains(err.Error(), secretKeyFormat) {
				t.Errorf("error %q does not say what a secret key looks like", err)
			}
			if len(c.in) > 16 && strings.Contains(err.Error(), strings.TrimSpace(c.in)[5:16]) {
				t.Errorf("error %q leaks the key", err)
			}
			if _, err := NewEdSigner(c.in); !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("NewEdSigner(%q) = %v, want ErrInvalidSecret", c.in, err)
			}
			if _, err := PublicKeyOf(c.in); !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("PublicKeyOf(%q) = %v, want ErrInvalidSecret", c.in, err)
			}
		})
	}
}

func TestNewScheme(t *testing.T) {
	hmacVec := loadV1Vectors(t)[0]
	edVec := loadV1aVectors(t)[0]

	s, err := NewScheme(hmacVec.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*Signer); !ok {
		t.Fatalf("NewScheme(whsec_) = %T, want *Signer", s)
	}
	if got := s.Sign(hmacVec.ID, time.Unix(hmacVec.Timestamp, 0), []byte(hmacVec.Payload)); got != hmacVec.Signature {
		t.Fatalf("Sign = %q, want %q", got, hmacVec.Signature)
	}

	s, err = NewScheme(edVec.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*EdSigner); !ok {
		t.Fatalf("NewScheme(whsk_) = %T, want *EdSigner", s)
	}

	// Any other text is a product's own secret, the raw HMAC key.
	if s, err := NewScheme("nonsense"); err != nil {
		t.Errorf("NewScheme(raw) = %v, %v; want a raw HMAC signer", s, err)
	}
	for _, in := range []string{"", "whsk_", "whsk_AAAA", "whsec_", edVec.PublicKey} {
		if s, err := NewScheme(in); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("NewScheme(%q) = %v, %v; want ErrInvalidSecret", in, s, err)
		}
	}
	// A whsk_ key is reported as one, not as a malformed whsec_ secret.
	if _, err := NewScheme("whsk_AAAA"); err == nil || !strings.Contains(err.Error(), secretKeyFormat) {
		t.Errorf("NewScheme(whsk_AAAA) = %v, want the secret key format", err)
	}
}

func TestEdSignConcurrent(t *testing.T) {
	v := loadV1aVectors(t)[0]
	s, err := NewEdSigner(v.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 2*maxPooledMsg)
	want := s.Sign(v.ID, time.Unix(v.Timestamp, 0), big)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				// Mix in bodies too large to pool, so pooled and unpooled
				// buffers alternate.
				if (g+i)%5 == 0 {
					if got := s.Sign(v.ID, time.Unix(v.Timestamp, 0), big); got != want {
						t.Errorf("large body: Sign = %q, want %q", got, want)
						return
					}
					continue
				}
				if got := s.Sign(v.ID, time.Unix(v.Timestamp, 0), []byte(v.Payload)); got != v.Signature {
					t.Errorf("Sign = %q, want %q", got, v.Signature)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkEdSign(b *testing.B) {
	s, err := NewEdSigner(loadV1aVectors(b)[0].SecretKey)
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
