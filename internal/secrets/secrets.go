// Package secrets encrypts the values Herald must be able to read back but
// that should not sit in the database in the clear: endpoint signing secrets
// and the credentials in request headers and auth settings. A stolen
// database file or backup then reveals nothing without the key, which is
// kept apart from it (HERALD_ENCRYPTION_KEY, or a key file in the data dir).
//
// Values are sealed with AES-256-GCM and stored as text:
//
//	enc:v1:<key id>:<base64 of nonce | ciphertext | tag>
//
// The key id travels with each value so that keys can be rotated: the
// keyring holds a current key, which encrypts, and older keys that remain
// readable until every value has been re-encrypted.
//
// Strings without the encrypted prefix are returned unchanged by Decrypt.
// They are values written before encryption was enabled or by an older
// version of Herald; they get encrypted the next time they are written, or
// by re-encrypting all stored values (see Keyring.NeedsRotation).
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// KeySize is the length of an encryption key in bytes (AES-256).
const KeySize = 32

// prefix marks an encrypted value. Only "v1" exists; the version is there so
// that a later format can be told apart from this one.
const prefix = "enc:v1:"

// maxKeyIDLen keeps ids short, as one is stored with every encrypted value.
const maxKeyIDLen = 64

// derivedIDLen is how many hex digits of sha256(key) name a key given
// without an id: enough to tell a handful of keys apart, and 32 bits of a
// hash reveal nothing useful about a random 256-bit key.
const derivedIDLen = 8

// nonceSize and tagSize are those of standard GCM; the nonce is random per
// value, which is safe for far more values than Herald will ever store under
// one key.
const (
	nonceSize = 12
	tagSize   = 16
)

var (
	// ErrInvalidKey is wrapped by every ParseKeys and LoadOrCreateKeyFile
	// error about the content of a key, so callers can report a
	// configuration mistake rather than an internal error.
	ErrInvalidKey = errors.New("invalid encryption key")

	// ErrUnknownKey is wrapped when a value was encrypted with a key that is
	// not in the keyring, typically an old key removed too early during
	// rotation, or a database restored next to the wrong key.
	ErrUnknownKey = errors.New("unknown encryption key")

	// ErrDecrypt is wrapped when an encrypted value cannot be opened: it is
	// malformed, was altered, or was moved to another row or field.
	ErrDecrypt = errors.New("cannot decrypt value")
)

const keysFormat = "keys are separated by commas, each <id>:<base64 of 32 bytes> or <base64 of 32 bytes>"

// Keyring holds the keys values are encrypted with. The first key is the
// current one and encrypts every new value; the others only decrypt, so that
// values written before a rotation stay readable. A Keyring is immutable and
// safe for concurrent use.
type Keyring struct {
	current string
	ids     []string // in configuration order, current first
	aeads   map[string]cipher.AEAD
}

// ParseKeys parses the HERALD_ENCRYPTION_KEY format: one or more keys
// separated by commas, each "<id>:<base64 of 32 bytes>" or a bare base64 key,
// whose id is then the first 8 hex digits of sha256(key). The first key is
// the current one.
//
// To rotate, put the new key first and keep the old one after it until all
// values have been re-encrypted; then drop the old key.
//
// Errors name the key by position (1-based) and never contain key material,
// as they end up in logs.
func ParseKeys(s string) (*Keyring, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: no key given; %s", ErrInvalidKey, keysFormat)
	}
	items := strings.Split(s, ",")
	k := &Keyring{aeads: make(map[string]cipher.AEAD, len(items))}
	seen := make(map[[KeySize]byte]int, len(items)) // key bytes -> position
	for i, item := range items {
		n := i + 1
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("%w: key %d: empty (stray comma?); %s", ErrInvalidKey, n, keysFormat)
		}
		id, b64, hasID := strings.Cut(item, ":")
		if !hasID {
			b64 = item
		} else if err := checkKeyID(id); err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrInvalidKey, n, err)
		}
		key, err := decodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrInvalidKey, n, err)
		}
		if !hasID {
			id = deriveID(key)
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("%w: key %d: id %q is already used by an earlier key; ids must be unique", ErrInvalidKey, n, id)
		}
		// The same key under two ids would make NeedsRotation report values
		// as stale that are in fact under the current key; it is always a
		// copy-paste mistake.
		var kb [KeySize]byte
		copy(kb[:], key)
		if prev, dup := seen[kb]; dup {
			return nil, fmt.Errorf("%w: key %d: same key as key %d", ErrInvalidKey, n, prev)
		}
		seen[kb] = n
		aead, err := newAEAD(key)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrInvalidKey, n, err)
		}
		k.aeads[id] = aead
		k.ids = append(k.ids, id)
	}
	k.current = k.ids[0]
	return k, nil
}

// checkKeyID restricts ids to characters that cannot clash with the
// separators of either the key list (',' and ':') or the stored format.
func checkKeyID(id string) error {
	if id == "" {
		return errors.New("empty id before ':'; leave out the ':' to derive the id from the key")
	}
	if len(id) > maxKeyIDLen {
		return fmt.Errorf("id is %d characters, at most %d allowed", len(id), maxKeyIDLen)
	}
	for i, c := range []byte(id) {
		if !isIDChar(c) {
			// Not quoted: what stands before the ':' may be the key itself,
			// written first by mistake.
			return fmt.Errorf("id may only contain letters, digits, '.', '_' and '-', not character %d (the id goes before the ':', the key after it)", i+1)
		}
	}
	return nil
}

func isIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// decodeKey accepts standard and URL-safe base64, with or without padding,
// since keys come from varied tools (openssl, head | base64, password
// managers) and padding is easily lost when copied.
func decodeKey(b64 string) ([]byte, error) {
	const want = "must be base64 of 32 bytes"
	if b64 == "" {
		return nil, errors.New(want + ", got nothing")
	}
	raw := strings.TrimRight(b64, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(raw, "-_") {
		enc = base64.RawURLEncoding
	}
	key, err := enc.DecodeString(raw)
	if err != nil {
		var pos base64.CorruptInputError
		if errors.As(err, &pos) {
			return nil, fmt.Errorf("%s, not valid base64 at character %d", want, int(pos)+1)
		}
		return nil, fmt.Errorf("%s, not valid base64", want)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%s, got %d", want, len(key))
	}
	return key, nil
}

func deriveID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:])[:derivedIDLen]
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	// The nonce is drawn from crypto/rand on each Seal and prepended to the
	// output, so it cannot be reused by mistake.
	return cipher.NewGCMWithRandomNonce(block)
}

// CurrentKeyID returns the id of the key new values are encrypted with, for
// logging at start-up.
func (k *Keyring) CurrentKeyID() string {
	if k == nil {
		return ""
	}
	return k.current
}

// KeyIDs returns the ids of all keys, current first.
func (k *Keyring) KeyIDs() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.ids...)
}

// String lists the key ids only. It exists so that printing a Keyring (or a
// struct holding one) with %v cannot put key material in a log.
func (k *Keyring) String() string {
	if k == nil {
		return "secrets.Keyring(none)"
	}
	return "secrets.Keyring(" + strings.Join(k.ids, ",") + ")"
}

// GoString is String, for the same reason, under %#v.
func (k *Keyring) GoString() string { return k.String() }

// Encrypt is EncryptFor with no additional data.
func (k *Keyring) Encrypt(plaintext string) (string, error) {
	return k.EncryptFor(plaintext, "")
}

// Decrypt is DecryptFor with no additional data.
func (k *Keyring) Decrypt(s string) (string, error) {
	return k.DecryptFor(s, "")
}

// EncryptFor encrypts plaintext with the current key. aad names where the
// value is stored, e.g. the endpoint id and field name; the same aad must be
// given to DecryptFor, so a value copied to another row or field does not
// decrypt there (it would otherwise let someone with write access to the
// database move a credential to an endpoint they control).
//
// The empty string is returned unchanged: columns use "" for "not set", and
// an encrypted empty value would hide that from queries and callers while
// protecting nothing.
func (k *Keyring) EncryptFor(plaintext, aad string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	if k == nil {
		return "", errors.New("encrypt: no encryption key configured")
	}
	aead := k.aeads[k.current]
	sealed := aead.Seal(nil, nil, []byte(plaintext), additionalData(k.current, aad))
	var b strings.Builder
	b.Grow(len(prefix) + len(k.current) + 1 + base64.StdEncoding.EncodedLen(len(sealed)))
	b.WriteString(prefix)
	b.WriteString(k.current)
	b.WriteByte(':')
	b.WriteString(base64.StdEncoding.EncodeToString(sealed))
	return b.String(), nil
}

// DecryptFor returns the plaintext of a value made by EncryptFor with the
// same aad. A string that is not encrypted (see IsEncrypted) is returned as
// is: it was stored before encryption was enabled and will be encrypted when
// next written.
//
// Errors wrap ErrUnknownKey when the value's key is not in the keyring and
// ErrDecrypt when the value is malformed, altered or bound to another aad.
// They never contain the value.
func (k *Keyring) DecryptFor(s, aad string) (string, error) {
	if !IsEncrypted(s) {
		return s, nil
	}
	id, payload, err := split(s)
	if err != nil {
		return "", err
	}
	if k == nil {
		return "", fmt.Errorf("%w: value is encrypted with key %s, but no encryption key is configured (HERALD_ENCRYPTION_KEY)", ErrUnknownKey, id)
	}
	aead, ok := k.aeads[id]
	if !ok {
		return "", fmt.Errorf("%w: value is encrypted with key %s, which is not in HERALD_ENCRYPTION_KEY (keys: %s)",
			ErrUnknownKey, id, strings.Join(k.ids, ", "))
	}
	sealed, err := base64.StdEncoding.Strict().DecodeString(payload)
	if err != nil {
		return "", fmt.Errorf("%w: value encrypted with key %s is not valid base64", ErrDecrypt, id)
	}
	if len(sealed) < nonceSize+tagSize {
		return "", fmt.Errorf("%w: value encrypted with key %s is truncated", ErrDecrypt, id)
	}
	plain, err := aead.Open(nil, nil, sealed, additionalData(id, aad))
	if err != nil {
		return "", fmt.Errorf("%w: value encrypted with key %s failed authentication: it was altered, or copied from another row or field", ErrDecrypt, id)
	}
	return string(plain), nil
}

// NeedsRotation reports whether s should be re-encrypted: it is plaintext, or
// encrypted with a key other than the current one. The re-encrypt command
// uses it to skip values already under the current key, so that it can be
// interrupted and rerun. The empty string is never encrypted (see
// EncryptFor), so it does not need rotation. A malformed value under the
// current key reports false: rewriting cannot repair it, and DecryptFor
// reports the problem.
func (k *Keyring) NeedsRotation(s string) bool {
	if s == "" {
		return false
	}
	if !IsEncrypted(s) {
		return true
	}
	id, _, err := split(s)
	if err != nil {
		return true
	}
	return k == nil || id != k.current
}

// IsEncrypted reports whether s is in the encrypted format, of this or any
// later version. Later versions count as encrypted so that, after a
// downgrade, their values fail loudly instead of being passed through and
// used as a literal secret. The consequence is that a plaintext value written
// before encryption was enabled and starting with "enc:v<digits>:" is taken
// for an encrypted one; no real secret or header has that form.
func IsEncrypted(s string) bool {
	_, ok := version(s)
	return ok
}

// version returns the version number of an "enc:v<n>:" prefix.
func version(s string) (int, bool) {
	rest, ok := strings.CutPrefix(s, "enc:v")
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, ":")
	if !ok || digits == "" || len(digits) > 9 {
		return 0, false
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// split parses an encrypted value into key id and base64 payload.
func split(s string) (id, payload string, err error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		v, _ := version(s)
		return "", "", fmt.Errorf("%w: value is in encryption format v%d, which this version of Herald cannot read", ErrDecrypt, v)
	}
	id, payload, ok = strings.Cut(rest, ":")
	if !ok || checkKeyID(id) != nil {
		return "", "", fmt.Errorf("%w: malformed encrypted value (expected %s<key id>:<data>)", ErrDecrypt, prefix)
	}
	return id, payload, nil
}

// additionalData binds a value to its format version, its key id and the
// caller's context. The key id contains no ':', so the encoding is
// unambiguous.
func additionalData(id, aad string) []byte {
	b := make([]byte, 0, len(prefix)+len(id)+1+len(aad))
	b = append(b, prefix...)
	b = append(b, id...)
	b = append(b, ':')
	b = append(b, aad...)
	return b
}
