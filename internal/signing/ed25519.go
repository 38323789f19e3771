package signing

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Key prefixes of the Standard Webhooks asymmetric scheme (v1a). Like
// SecretPrefix they make keys recognisable in configuration and to secret
// scanners, and they keep the two halves of a pair from being mixed up: a
// whpk_ key can be published, a whsk_ key must stay with Herald.
const (
	SecretKeyPrefix = "whsk_"
	PublicKeyPrefix = "whpk_"
)

const secretKeyFormat = "secret key must be " + SecretKeyPrefix +
	" followed by base64 of a 64-byte Ed25519 private key (seed and public key)"

// Scheme signs requests under one key, whichever Standard Webhooks scheme
// the key belongs to, so that delivery code need not care whether an
// endpoint uses a shared secret or a key pair. Both *Signer and *EdSigner
// implement it.
type Scheme interface {
	// Sign returns the webhook-signature value for a request; see
	// Signer.Sign and EdSigner.Sign.
	Sign(id string, ts time.Time, body []byte) string
}

var (
	_ Scheme = (*Signer)(nil)
	_ Scheme = (*EdSigner)(nil)
)

// NewScheme returns the signer for secret, chosen by its prefix: a whsk_
// secret key signs with Ed25519 (v1a), anything else is parsed as a whsec_
// HMAC secret (v1). Errors wrap ErrInvalidSecret either way.
func NewScheme(secret string) (Scheme, error) {
	switch {
	case strings.HasPrefix(secret, SecretKeyPrefix):
		return NewEdSigner(secret)
	case strings.HasPrefix(secret, SecretPrefix):
		return NewSigner(secret)
	case strings.HasPrefix(secret, PublicKeyPrefix):
		return nil, fmt.Errorf("%w: a whpk_ public key verifies, it cannot sign; use the whsk_ secret key", ErrInvalidSecret)
	default:
		// Not of the whsec_ form: the product's own secret, used as is.
		return NewRawSigner(secret)
	}
}

// GenerateKeyPair returns a new Ed25519 key pair: the whsk_ secret key that
// Herald signs with, and the whpk_ public key to hand to receivers.
func GenerateKeyPair() (secretKey, publicKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(nil) // nil: crypto/rand
	if err != nil {
		return "", "", fmt.Errorf("generate webhook key pair: %w", err)
	}
	return SecretKeyPrefix + base64.StdEncoding.EncodeToString(priv),
		PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub), nil
}

// ParseSecretKey returns the Ed25519 private key held in a whsk_ secret key:
// base64 of the 64-byte seed followed by the public key, the form Go's
// ed25519.PrivateKey and the Standard Webhooks libraries use. Padding is
// optional, as for ParseSecret. Errors wrap ErrInvalidSecret and never
// contain the key.
func ParseSecretKey(s string) (ed25519.PrivateKey, error) {
	key, err := decodeKey(s, "secret key", SecretKeyPrefix, secretKeyFormat)
	if err != nil {
		return nil, err
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: key is %d bytes; %s", ErrInvalidSecret, len(key), secretKeyFormat)
	}
	// The public half is stored, not derived, and ed25519.Sign trusts it: a
	// corrupted or spliced one would yield signatures that no receiver can
	// verify, so catch it here rather than at the first delivery.
	priv := ed25519.NewKeyFromSeed(key[:ed25519.SeedSize])
	if string(priv[ed25519.SeedSize:]) != string(key[ed25519.SeedSize:]) {
		return nil, fmt.Errorf("%w: public half does not match the seed; %s", ErrInvalidSecret, secretKeyFormat)
	}
	return priv, nil
}

// PublicKeyOf returns the whpk_ public key of a whsk_ secret key, which is
// what receivers configure; it lets Herald show the public key without
// storing it separately.
func PublicKeyOf(secretKey string) (string, error) {
	priv, err := ParseSecretKey(secretKey)
	if err != nil {
		return "", err
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(priv[ed25519.SeedSize:]), nil
}

// EdSigner signs requests with one Ed25519 secret key (scheme v1a). It is
// safe for concurrent use; like Signer, keep one per key so the key is
// parsed once.
type EdSigner struct {
	key ed25519.PrivateKey
	// pool recycles the buffer that holds the signed content: unlike HMAC,
	// Ed25519 needs the whole message in one slice.
	pool sync.Pool // of *[]byte
}

// maxPooledMsg keeps one large body from pinning its buffer in the pool;
// typical webhook bodies are far smaller.
const maxPooledMsg = 64 << 10

// NewEdSigner parses secretKey (see ParseSecretKey) and returns an EdSigner
// for it.
func NewEdSigner(secretKey string) (*EdSigner, error) {
	key, err := ParseSecretKey(secretKey)
	if err != nil {
		return nil, err
	}
	return &EdSigner{key: key}, nil
}

// Sign returns the webhook-signature value for a request: "v1a," and the
// base64 Ed25519 signature of "{id}.{unix seconds}.{body}". body must be
// exactly the bytes sent, since any re-encoding breaks the signature.
func (s *EdSigner) Sign(id string, ts time.Time, body []byte) string {
	bp, _ := s.pool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	msg := append((*bp)[:0], id...)
	msg = append(msg, '.')
	msg = strconv.AppendInt(msg, ts.Unix(), 10)
	msg = append(msg, '.')
	msg = append(msg, body...)
	sig := ed25519.Sign(s.key, msg)
	if cap(msg) <= maxPooledMsg {
		*bp = msg[:0]
		s.pool.Put(bp)
	}

	var out [len("v1a,") + 88]byte // 88: padded base64 of 64 bytes
	b := append(out[:0], "v1a,"...)
	b = base64.StdEncoding.AppendEncode(b, sig)
	return string(b)
}
