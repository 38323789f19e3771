// Package verify checks that a webhook request was sent by Herald, was not
// altered, and is not a replay of an old request.
//
// Herald signs requests with the Standard Webhooks schemes: each request
// carries webhook-id, webhook-timestamp and webhook-signature headers, and
// the signature covers "{id}.{timestamp}.{body}". (An endpoint set to
// webhook_headers "svix" sends svix-id, svix-timestamp and svix-signature
// instead, with the same values; Verify reads those when no webhook-*
// header is present.) An endpoint is signed
// either with a shared secret ("whsec_...", HMAC-SHA256, signatures "v1,...")
// or with an Ed25519 key pair, of which the receiver holds only the public
// key ("whpk_...", signatures "v1a,..."); the public key lets a receiver
// check requests without holding anything that could sign them. The package
// uses only the standard library, so it adds nothing to a receiver's
// dependencies.
//
// Create one Verifier per endpoint secret or public key and share it between
// requests:
//
//	v, err := verify.New(os.Getenv("HERALD_WEBHOOK_SECRET")) // "whsec_..."
//	// or, for an endpoint signed with a key pair:
//	// v, err := verify.NewPublic(os.Getenv("HERALD_WEBHOOK_PUBLIC_KEY")) // "whpk_..."
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.HandleFunc("/webhooks", func(w http.ResponseWriter, r *http.Request) {
//		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//		if err != nil {
//			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
//			return
//		}
//		if err := v.Verify(r.Header, body); err != nil {
//			http.Error(w, "invalid signature", http.StatusUnauthorized)
//			return
//		}
//		// body is authentic; decode and handle it.
//	})
//
// Verify the raw body bytes before decoding them: re-encoding JSON changes
// the bytes and breaks the signature. The webhook-id is stable across
// retries of one message, so receivers can also use it to drop duplicates.
package verify

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
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

// DefaultTolerance is how far a request's timestamp may be from the
// receiver's clock. It bounds the window in which a captured request can be
// replayed, while allowing for clock skew and transit time.
const DefaultTolerance = 5 * time.Minute

// Key prefixes of the Standard Webhooks schemes: a signing secret (v1), an
// Ed25519 public key and its secret key (v1a).
const (
	secretPrefix    = "whsec_"
	publicKeyPrefix = "whpk_"
	secretKeyPrefix = "whsk_"
)

// Header names in their canonical form, as net/http stores them, so that
// lookups need no canonicalisation. The lowercase forms are also tried, for
// callers that build an http.Header by hand from another framework.
const (
	hdrID        = "Webhook-Id"
	hdrTimestamp = "Webhook-Timestamp"
	hdrSignature = "Webhook-Signature"
)

// headerNames are the names of the three headers a request is verified
// by, canonical and lowercase.
type headerNames struct {
	id, ts, sig, lowerID, lowerTS, lowerSig string
}

var (
	standardNames = headerNames{hdrID, hdrTimestamp, hdrSignature, "webhook-id", "webhook-timestamp", "webhook-signature"}
	// svixNames are the same headers as Svix names them (svix-id, ...):
	// Herald sends them instead for endpoints set to webhook_headers
	// "svix", with the same values.
	svixNames = headerNames{"Svix-Id", "Svix-Timestamp", "Svix-Signature", "svix-id", "svix-timestamp", "svix-signature"}
)

// namesOf picks the header names of a request: the webhook-* ones, or
// svix-* when no webhook-* header is present and svix-id is (as Svix's
// own libraries fall back).
func namesOf(h http.Header) headerNames {
	for _, n := range [...]string{hdrID, hdrTimestamp, hdrSignature, "webhook-id", "webhook-timestamp", "webhook-signature"} {
		if len(h[n]) > 0 {
			return standardNames
		}
	}
	if headerValue(h, svixNames.id, svixNames.lowerID) != "" {
		return svixNames
	}
	return standardNames
}

// Every error from this package wraps one of these, so callers can tell a
// misconfiguration or a clock problem from a forged request with errors.Is.
// Any error from Verify means the request must not be trusted.
var (
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature
	// is absent or empty.
	ErrMissingHeaders = errors.New("verify: missing webhook headers")
	// ErrInvalidTimestamp: webhook-timestamp is not Unix seconds in decimal.
	ErrInvalidTimestamp = errors.New("verify: invalid webhook-timestamp")
	// ErrTimestampTooOld: the request is older than the tolerance, so it may
	// be a replay (or the receiver's clock is ahead).
	ErrTimestampTooOld = errors.New("verify: webhook-timestamp too old")
	// ErrTimestampTooNew: the timestamp is further in the future than the
	// tolerance; accepting it would stretch the replay window, and it means
	// one of the two clocks is wrong.
	ErrTimestampTooNew = errors.New("verify: webhook-timestamp too new")
	// ErrNoMatchingSignature: no signature of the Verifier's scheme (v1 for
	// New, v1a for NewPublic) in webhook-signature matches the request, i.e.
	// the key is wrong or the request was altered.
	ErrNoMatchingSignature = errors.New("verify: no matching signature")
	// ErrInvalidSecret: the secret given to New or Sign is not a usable key.
	ErrInvalidSecret = errors.New("verify: invalid secret")
	// ErrInvalidPublicKey: the key given to NewPublic is not an Ed25519
	// public key. It is separate from ErrInvalidSecret because a public key
	// is not secret and may be handled, logged and shown differently.
	ErrInvalidPublicKey = errors.New("verify: invalid public key")
)

// Verifier checks requests signed with one secret (New) or one Ed25519
// key pair (NewPublic). It is safe for concurrent use. The zero value
// rejects every request.
type Verifier struct {
	tolerance time.Duration
	// pool holds HMAC states keyed with the secret; nil for a public-key
	// Verifier. It is a pointer so that copies made by WithTolerance share it.
	pool *sync.Pool
	// pub is the Ed25519 public key; nil for an HMAC Verifier. Exactly one of
	// pool and pub is set, so a Verifier checks one scheme only: accepting
	// v1 as well would let anyone holding a leaked HMAC secret sign requests
	// that a public-key receiver meant to rule out.
	pub ed25519.PublicKey
}

// macState is per-call scratch space recycled through Verifier.pool.
type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// maxPooledBuf keeps a request with a huge webhook-id from pinning memory.
const maxPooledBuf = 1 << 10

// NewRaw verifies signatures made with a raw secret: the bytes of the
// string as given, which Herald uses for an endpoint secret that is not of
// the whsec_ form.
func NewRaw(secret string) (*Verifier, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w: empty secret", ErrInvalidSecret)
	}
	key := []byte(secret)
	return &Verifier{
		tolerance: DefaultTolerance,
		pool: &sync.Pool{New: func() any {
			return &macState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)}
		}},
	}, nil
}

// New returns a Verifier for secret, which is the endpoint's signing secret
// as shown by Herald ("whsec_" followed by base64). A bare base64 key
// without the prefix is accepted too. Surrounding white space is ignored, as
// secrets read from files often end in a newline.
func New(secret string) (*Verifier, error) {
	key, err := parseSecret(secret)
	if err != nil {
		return nil, err
	}
	return &Verifier{
		tolerance: DefaultTolerance,
		pool: &sync.Pool{New: func() any {
			return &macState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)}
		}},
	}, nil
}

// NewPublic returns a Verifier for an endpoint signed with an Ed25519 key
// pair (Standard Webhooks scheme v1a). publicKey is the endpoint's public
// key as shown by Herald ("whpk_" followed by base64 of 32 bytes); a bare
// base64 key without the prefix is accepted too, and surrounding white
// space and missing padding are ignored, as for New.
//
// Such a Verifier accepts only "v1a," signatures and skips "v1," ones, so a
// sender may list both kinds in one header while receivers move from a
// shared secret to a public key.
func NewPublic(publicKey string) (*Verifier, error) {
	pub, err := parsePublicKey(publicKey)
	if err != nil {
		return nil, err
	}
	return &Verifier{tolerance: DefaultTolerance, pub: pub}, nil
}

// WithTolerance returns a copy of v that accepts timestamps up to d away
// from the current time, in either direction. Timestamps have one-second
// resolution, so d is truncated to whole seconds; a negative d counts as
// zero. Keep it small: it is the window in which a captured request can be
// replayed.
func (v *Verifier) WithTolerance(d time.Duration) *Verifier {
	c := *v
	c.tolerance = max(d, 0)
	return &c
}

// Tolerance reports how far a timestamp may be from the current time.
func (v *Verifier) Tolerance() time.Duration { return v.tolerance }

// Verify reports whether a request with the given headers and raw body was
// signed with v's key within the tolerance of the current time. A nil
// error is the only success; any error means the request must be rejected.
func (v *Verifier) Verify(header http.Header, body []byte) error {
	return v.VerifyAt(header, body, time.Now())
}

// VerifyAt is Verify with an explicit current time, for tests and for
// checking stored requests against the time they were received.
func (v *Verifier) VerifyAt(header http.Header, body []byte, now time.Time) error {
	if v == nil || v.pool == nil && v.pub == nil {
		return fmt.Errorf("%w: Verifier not created with New or NewPublic", ErrNoMatchingSignature)
	}
	names := namesOf(header)
	id := headerValue(header, names.id, names.lowerID)
	tsRaw := headerValue(header, names.ts, names.lowerTS)
	hasSig := headerValue(header, names.sig, names.lowerSig) != ""
	if id == "" || tsRaw == "" || !hasSig {
		var missing []string
		if id == "" {
			missing = append(missing, "webhook-id")
		}
		if tsRaw == "" {
			missing = append(missing, "webhook-timestamp")
		}
		if !hasSig {
			missing = append(missing, "webhook-signature")
		}
		return fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}

	ts, err := parseTimestamp(tsRaw)
	if err != nil {
		return err
	}
	// Whole seconds on both sides, as the timestamp has no finer resolution.
	// Distances are unsigned so that no timestamp or clock value overflows:
	// nowSec±tolerance would, at the ends of the int64 range.
	nowSec, tolSec := now.Unix(), uint64(v.tolerance/time.Second)
	if ts < nowSec {
		if d := uint64(nowSec) - uint64(ts); d > tolSec {
			return fmt.Errorf("%w: %s ago, tolerance %s", ErrTimestampTooOld, seconds(d), v.tolerance)
		}
	} else if d := uint64(ts) - uint64(nowSec); d > tolSec {
		return fmt.Errorf("%w: %s ahead, tolerance %s", ErrTimestampTooNew, seconds(d), v.tolerance)
	}

	var ok bool
	var n int
	version := "v1"
	if v.pub != nil {
		version = "v1a"
		ok, n = v.matchPublic(header[names.sig], header[names.lowerSig], id, tsRaw, body)
	} else {
		var want [sigLen]byte
		v.expected(&want, id, tsRaw, body)
		ok1, n1 := matchAny(header[names.sig], &want)
		ok2, n2 := matchAny(header[names.lowerSig], &want)
		ok, n = ok1 || ok2, n1+n2
	}
	switch {
	case ok:
		return nil
	case n == 0:
		// Worth telling apart: it points at a sender or proxy problem, or a
		// key of the other scheme, rather than a wrong key.
		return fmt.Errorf("%w: no %s signature in webhook-signature", ErrNoMatchingSignature, version)
	default:
		return fmt.Errorf("%w: none of %d %s signatures matched", ErrNoMatchingSignature, n, version)
	}
}

// seconds formats a distance in seconds for an error message, like a
// time.Duration where one can hold it.
func seconds(d uint64) string {
	if d > uint64(time.Duration(1<<63-1)/time.Second) {
		return strconv.FormatUint(d, 10) + "s"
	}
	return (time.Duration(d) * time.Second).String()
}

// sigLen is the length of a padded base64 HMAC-SHA256.
const sigLen = 44

// expected writes the base64 v1 signature of the request into dst. ts is
// the timestamp exactly as received, so the signed content is byte for byte
// what the sender signed.
func (v *Verifier) expected(dst *[sigLen]byte, id, ts string, body []byte) {
	st := v.pool.Get().(*macState)
	st.mac.Reset()
	// Hash the short prefix from scratch space and the body in place, rather
	// than copying the body into a new buffer.
	b := append(st.buf[:0], id...)
	b = append(b, '.')
	b = append(b, ts...)
	b = append(b, '.')
	st.mac.Write(b)
	st.mac.Write(body)
	base64.StdEncoding.Encode(dst[:], st.mac.Sum(st.sum[:0]))
	if cap(b) <= maxPooledBuf {
		st.buf = b[:0]
		v.pool.Put(st)
	}
}

// matchAny reports whether any "v1," signature in the header values equals
// want, and how many v1 signatures there were. Signatures of other versions
// (such as "v1a," asymmetric ones) are skipped: a sender may list several
// signatures, e.g. while rotating secrets, and one match is enough.
func matchAny(values []string, want *[sigLen]byte) (matched bool, v1 int) {
	for _, value := range values {
		for sig := range strings.FieldsSeq(value) {
			b64, ok := strings.CutPrefix(sig, "v1,")
			if !ok {
				continue
			}
			v1++
			if len(b64) != sigLen {
				continue
			}
			// Compare the encoded form: only the canonical encoding the sender
			// produces is accepted, and nothing needs decoding.
			var got [sigLen]byte
			copy(got[:], b64)
			if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
				return true, v1
			}
		}
	}
	return false, v1
}

// edSigLen is the length of a padded base64 Ed25519 signature.
const edSigLen = 88

// strictBase64 rejects encodings with non-zero padding bits, so that, as for
// v1, only the one encoding a sender produces is accepted.
var strictBase64 = base64.StdEncoding.Strict()

// matchPublic reports whether any "v1a," signature in the header verifies
// with v's public key, and how many v1a signatures there were. Signatures
// of other versions are skipped, as in matchAny.
func (v *Verifier) matchPublic(canonical, lower []string, id, ts string, body []byte) (matched bool, v1a int) {
	var msg []byte // built on the first v1a signature, as Ed25519 needs it whole
	for _, values := range [...][]string{canonical, lower} {
		for _, value := range values {
			for sig := range strings.FieldsSeq(value) {
				b64, ok := strings.CutPrefix(sig, "v1a,")
				if !ok {
					continue
				}
				v1a++
				if len(b64) != edSigLen {
					continue
				}
				var raw [ed25519.SignatureSize + 2]byte // DecodedLen(edSigLen)
				if n, err := strictBase64.Decode(raw[:], []byte(b64)); err != nil || n != ed25519.SignatureSize {
					continue
				}
				if msg == nil {
					msg = make([]byte, 0, len(id)+len(ts)+2+len(body))
					msg = append(msg, id...)
					msg = append(msg, '.')
					msg = append(msg, ts...)
					msg = append(msg, '.')
					msg = append(msg, body...)
				}
				if ed25519.Verify(v.pub, msg, raw[:ed25519.SignatureSize]) {
					return true, v1a
				}
			}
		}
	}
	return false, v1a
}

// headerValue returns the first value of a header, trying the canonical key
// (net/http's form) and then the lowercase one, without allocating.
func headerValue(h http.Header, canonical, lower string) string {
	if vs := h[canonical]; len(vs) > 0 && vs[0] != "" {
		return vs[0]
	}
	if vs := h[lower]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// parseTimestamp accepts only ASCII digits: strconv.ParseInt alone would also
// take "+" and "-" signs, which senders never produce.
func parseTimestamp(s string) (int64, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: must be Unix seconds in decimal digits", ErrInvalidTimestamp)
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: out of range", ErrInvalidTimestamp)
	}
	return ts, nil
}

// Sign returns a webhook-signature value ("v1," and base64) for a request,
// as Herald would send it. It is meant for receivers' own tests: build a
// request, sign it with a test secret, and check the handler accepts it.
func Sign(secret string, id string, ts time.Time, body []byte) (string, error) {
	v, err := New(secret)
	if err != nil {
		return "", err
	}
	var sig [sigLen]byte
	v.expected(&sig, id, strconv.FormatInt(ts.Unix(), 10), body)
	return "v1," + string(sig[:]), nil
}

// parseSecret decodes a secret into an HMAC key. Padding is optional because
// '=' is often lost when secrets are copied by hand. Errors never include the
// secret itself, as they may be logged.
func parseSecret(secret string) ([]byte, error) {
	s := strings.TrimSpace(secret)
	s = strings.TrimPrefix(s, secretPrefix)
	if s == "" {
		return nil, fmt.Errorf("%w: empty; expected %s followed by base64", ErrInvalidSecret, secretPrefix)
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	key, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not valid base64; expected %s followed by base64", ErrInvalidSecret, secretPrefix)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: empty key; expected %s followed by base64", ErrInvalidSecret, secretPrefix)
	}
	return key, nil
}

// parsePublicKey decodes a whpk_ public key, with padding optional as for
// secrets. Keys of the wrong kind get their own messages, as mixing up the
// three prefixes is the likely mistake.
func parsePublicKey(publicKey string) (ed25519.PublicKey, error) {
	const format = "expected " + publicKeyPrefix + " followed by base64 of 32 bytes"
	s := strings.TrimSpace(publicKey)
	switch {
	case strings.HasPrefix(s, secretKeyPrefix):
		// Say so without echoing it: this key must not be on the receiver.
		return nil, fmt.Errorf("%w: got a %s secret key, which must stay with the sender; %s",
			ErrInvalidPublicKey, secretKeyPrefix, format)
	case strings.HasPrefix(s, secretPrefix):
		return nil, fmt.Errorf("%w: got a %s secret, which New takes; %s",
			ErrInvalidPublicKey, secretPrefix, format)
	}
	s = strings.TrimPrefix(s, publicKeyPrefix)
	if s == "" {
		return nil, fmt.Errorf("%w: empty; %s", ErrInvalidPublicKey, format)
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	key, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not valid base64; %s", ErrInvalidPublicKey, format)
	}
	if len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: key is %d bytes; %s", ErrInvalidPublicKey, len(key), format)
	}
	return key, nil
}
