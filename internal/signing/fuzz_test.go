package signing

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/verify"
)

// rotate maps every letter and digit to another one of its kind and keeps
// every other byte: a secret of the same shape (length, padding, invalid
// characters at the same places) and other content.
func rotate(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = 'a' + (c-'a'+13)%26
		case 'A' <= c && c <= 'Z':
			b[i] = 'A' + (c-'A'+13)%26
		case '0' <= c && c <= '9':
			b[i] = '0' + (c-'0'+5)%10
		}
	}
	return string(b)
}

// kindOf names the scheme NewScheme picks for s by its prefix.
func kindOf(s string) string {
	for _, p := range []string{SecretPrefix, SecretKeyPrefix, PublicKeyPrefix} {
		if strings.HasPrefix(s, p) {
			return p
		}
	}
	return "raw"
}

// sameShape gives s with the content after its prefix rotated.
func sameShape(s string) string {
	p := kindOf(s)
	if p == "raw" {
		return rotate(s)
	}
	return p + rotate(s[len(p):])
}

// FuzzSecret: endpoint secrets are given by tenants. Never panics; every
// refusal wraps ErrInvalidSecret and depends only on the secret's shape,
// never its content, so no error can reveal a secret; what is accepted
// signs requests that the receivers' package, verify, accepts with the
// same secret, and a whsec_ secret encoded again is the same secret.
func FuzzSecret(f *testing.F) {
	vec := loadV1aVectors(f)[0]
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")                          // Standard Webhooks' example
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw==")                        // with padding that does not belong
	f.Add("whsec_" + base64.RawStdEncoding.EncodeToString(make([]byte, 64))) // the longest key, unpadded
	f.Add("whsec_AAAAAAAAAAAAAAAAAAAAAA==")                                  // the shortest key
	f.Add("whsec_AAAA")                                                      // too short
	f.Add("whsec_MfKQ9r8G*YqrTwjUPD8ILPZIo2LaLaSw")                          // a character that is not base64
	f.Add("whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")                         // a space after the prefix
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")                        // a line break from a file
	f.Add(vec.SecretKey)                                                     // a v1a secret key
	f.Add(strings.TrimRight(vec.SecretKey, "="))                             // unpadded
	f.Add(vec.SecretKey[:len(vec.SecretKey)-8] + "AAAAAAA=")                 // a spliced public half
	f.Add(vec.PublicKey)                                                     // a public key given as a secret
	f.Add("my pendo secret")                                                 // a product's own raw secret
	f.Add(strings.Repeat("x", MaxRawSecretLen+1))                            // a raw secret too long
	f.Add("")
	body := []byte(`{"type":"lead.created","data":{"id":"42"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4*MaxRawSecretLen {
			return
		}
		other := sameShape(s)
		if kindOf(other) != kindOf(s) {
			other = ""
		}
		check := func(what string, err error, again func(string) error) {
			t.Helper()
			if err == nil {
				return
			}
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("%s(%q): %v does not wrap ErrInvalidSecret", what, s, err)
			}
			if other == "" {
				return
			}
			if err2 := again(other); err2 != nil && err2.Error() != err.Error() {
				t.Fatalf("%s: the error depends on the secret's content:\n%q: %v\n%q: %v", what, s, err, other, err2)
			}
		}
		key, err := ParseSecret(s)
		check("ParseSecret", err, func(s string) error { _, err := ParseSecret(s); return err })
		if err == nil {
			if len(key) < minKeyLen || len(key) > maxKeyLen {
				t.Fatalf("ParseSecret(%q): %d-byte key", s, len(key))
			}
			again, err := ParseSecret(SecretPrefix + base64.StdEncoding.EncodeToString(key))
			if err != nil || string(again) != string(key) {
				t.Fatalf("ParseSecret(%q) encoded again: %x, %v", s, again, err)
			}
		}
		priv, err := ParseSecretKey(s)
		check("ParseSecretKey", err, func(s string) error { _, err := ParseSecretKey(s); return err })
		pub, perr := PublicKeyOf(s)
		if (err == nil) != (perr == nil) || err == nil && pub != PublicKeyPrefix+base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)) {
			t.Fatalf("ParseSecretKey(%q): %v, PublicKeyOf: %q, %v", s, err, pub, perr)
		}
		_, err = NewRawSigner(s)
		check("NewRawSigner", err, func(s string) error { _, err := NewRawSigner(s); return err })
		sch, err := NewScheme(s)
		check("NewScheme", err, func(s string) error { _, err := NewScheme(s); return err })
		if err != nil {
			return
		}
		// What Herald signs, receivers verify with the same secret.
		var v *verify.Verifier
		switch kindOf(s) {
		case SecretPrefix:
			v, err = verify.New(s)
		case SecretKeyPrefix:
			v, err = verify.NewPublic(pub)
		default:
			v, err = verify.NewRaw(s)
		}
		if err != nil {
			t.Fatalf("Herald signs with %q, verify refuses it: %v", s, err)
		}
		now := time.Now()
		h := http.Header{}
		Headers(h, "dlv_1", now, sch.Sign("dlv_1", now, body))
		if err := v.VerifyAt(h, body, now); err != nil {
			t.Fatalf("signature with %q does not verify: %v", s, err)
		}
	})
}
