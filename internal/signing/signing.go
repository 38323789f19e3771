// Package signing signs outgoing webhook requests with the Standard Webhooks
// schemes, so receivers can check a request came from Herald and was not
// altered or replayed. Two schemes are supported: HMAC-SHA256 (version v1,
// "whsec_" secrets), where sender and receiver share the secret, and Ed25519
// (version v1a, "whsk_" secret keys), where receivers hold only the public
// key and so cannot forge requests themselves. Receivers use the public
// package github.com/heraldhq/herald/verify, which implements both.
package signing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SecretPrefix marks a string as a webhook signing secret, so that it is
// recognisable in configuration and in secret scanners.
const SecretPrefix = "whsec_"

// Key length bounds. Below 16 bytes a key is guessable; above 64 HMAC-SHA256
// hashes the key down anyway, so longer keys only hint at a mistake.
const (
	minKeyLen = 16
	maxKeyLen = 64
	// generatedKeyLen matches what other Standard Webhooks senders issue.
	generatedKeyLen = 24
)

// ErrInvalidSecret is wrapped by every ParseSecret and NewSigner error, so
// callers can map a bad user-supplied secret to a client error.
var ErrInvalidSecret = errors.New("invalid webhook secret")

const secretFormat = "secret must be " + SecretPrefix + " followed by base64 of 16 to 64 bytes"

// GenerateSecret returns a new random secret in the whsec_ format.
func GenerateSecret() (string, error) {
	key := make([]byte, generatedKeyLen)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// ParseSecret returns the HMAC key held in a whsec_ secret. Padding is
// optional because secrets are often copied by hand and '=' gets lost.
// Error messages never contain the secret, as they end up in API responses
// and logs.
func ParseSecret(s string) ([]byte, error) {
	key, err := decodeKey(s, "secret", SecretPrefix, secretFormat)
	if err != nil {
		return nil, err
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return nil, fmt.Errorf("%w: key is %d bytes; %s", ErrInvalidSecret, len(key), secretFormat)
	}
	return key, nil
}

// decodeKey checks prefix and decodes the base64 after it, with padding
// optional. Errors wrap ErrInvalidSecret, name what (such as "secret") and
// end with format, so the user learns what a valid value looks like; they
// report a position rather than the offending text, which is secret.
func decodeKey(s, what, prefix, format string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: %s is empty; %s", ErrInvalidSecret, what, format)
	}
	b64, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: missing %s prefix; %s", ErrInvalidSecret, prefix, format)
	}
	if b64 == "" {
		return nil, fmt.Errorf("%w: nothing after %s; %s", ErrInvalidSecret, prefix, format)
	}
	// encoding/base64 skips line breaks: a secret holding one would sign
	// with a key that receivers, who strip or keep it, read otherwise.
	if i := strings.IndexAny(b64, "\r\n"); i >= 0 {
		return nil, fmt.Errorf("%w: not valid base64 at character %d; %s", ErrInvalidSecret, i+len(prefix)+1, format)
	}
	enc := base64.StdEncoding
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	key, err := enc.DecodeString(b64)
	if err != nil {
		var pos base64.CorruptInputError
		if errors.As(err, &pos) {
			// Count from the start of the whole value, which is what the user sees.
			return nil, fmt.Errorf("%w: not valid base64 at character %d; %s",
				ErrInvalidSecret, int(pos)+len(prefix)+1, format)
		}
		return nil, fmt.Errorf("%w: not valid base64; %s", ErrInvalidSecret, format)
	}
	return key, nil
}

// Signer signs requests with one secret. It is safe for concurrent use and
// meant to be kept per endpoint secret, since building it parses the secret
// and each Signer recycles its own HMAC state between calls.
type Signer struct {
	pool sync.Pool // of *signState, all keyed with this Signer's key
}

// signState is the per-call scratch space recycled through Signer.pool.
type signState struct {
	mac hash.Hash
	buf []byte // "{id}.{ts}." while hashing, then the "v1,..." result
	sum [sha256.Size]byte
}

// maxPooledBuf keeps one request with a huge id from pinning memory in the pool.
const maxPooledBuf = 1 << 10

// NewSigner parses secret (see ParseSecret) and returns a Signer for it.
func NewSigner(secret string) (*Signer, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return nil, err
	}
	return newSignerKey(key), nil
}

// MaxRawSecretLen caps a raw (non-whsec_) secret.
const MaxRawSecretLen = 1024

// NewRawSigner signs with the bytes of secret as they are: the HMAC key of
// a product that already gave its customers secrets of its own form
// (Pendo lets them type any text), so that they keep working unchanged.
func NewRawSigner(secret string) (*Signer, error) {
	if secret == "" || len(secret) > MaxRawSecretLen {
		return nil, fmt.Errorf("%w: a raw secret must be 1 to %d bytes", ErrInvalidSecret, MaxRawSecretLen)
	}
	return newSignerKey([]byte(secret)), nil
}

func newSignerKey(key []byte) *Signer {
	s := &Signer{}
	s.pool.New = func() any {
		return &signState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)}
	}
	return s
}

// Sign returns the webhook-signature value for a request: "v1," and the
// base64 HMAC-SHA256 of "{id}.{unix seconds}.{body}". body must be exactly
// the bytes sent, since any re-encoding breaks the signature.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	st := s.pool.Get().(*signState)
	st.mac.Reset()

	// Hash the short prefix from scratch space and the body in place, rather
	// than building the whole signed content in a new buffer.
	b := append(st.buf[:0], id...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts.Unix(), 10)
	b = append(b, '.')
	st.mac.Write(b)
	st.mac.Write(body)

	b = append(b[:0], "v1,"...)
	b = base64.StdEncoding.AppendEncode(b, st.mac.Sum(st.sum[:0]))
	sig := string(b)

	if cap(b) <= maxPooledBuf {
		st.buf = b[:0]
		s.pool.Put(st)
	}
	return sig
}

// Headers sets the three Standard Webhooks headers on h. signature may hold
// several space-separated signatures, e.g. one per secret during rotation.
func Headers(h http.Header, id string, ts time.Time, signature string) {
	// Canonical keys, assigned directly: the same header map that h.Set
	// would build, without canonicalising three names on every request.
	h["Webhook-Id"] = []string{id}
	h["Webhook-Timestamp"] = []string{strconv.FormatInt(ts.Unix(), 10)}
	h["Webhook-Signature"] = []string{signature}
}

// SvixHeaders sets svix-id, svix-timestamp and svix-signature on h, with
// the values Headers would give the webhook-* ones, for receivers that
// verify with Svix's libraries (which read these names).
func SvixHeaders(h http.Header, id string, ts time.Time, signature string) {
	h["Svix-Id"] = []string{id}
	h["Svix-Timestamp"] = []string{strconv.FormatInt(ts.Unix(), 10)}
	h["Svix-Signature"] = []string{signature}
}
