package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Fixed keys so that failures are reproducible.
var (
	keyA = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA1}, KeySize))
	keyB = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xB2}, KeySize))
)

func mustParse(t testing.TB, s string) *Keyring {
	t.Helper()
	k, err := ParseKeys(s)
	if err != nil {
		t.Fatalf("ParseKeys: %v", err)
	}
	return k
}

func TestRoundTrip(t *testing.T) {
	k := mustParse(t, "a:"+keyA)
	for _, plain := range []string{
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"Bearer abc.def.ghi",
		"x",
		"ünïcödé ✓",
		strings.Repeat("long ", 2000),
		"enc:v1:a:looks-encrypted-but-is-the-plaintext",
	} {
		for _, aad := range []string{"", "ep_123/secret"} {
			enc, err := k.EncryptFor(plain, aad)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(enc, "enc:v1:a:") {
				t.Fatalf("EncryptFor = %q, want prefix enc:v1:a:", enc)
			}
			if len(plain) >= 8 && strings.Contains(enc, plain) {
				t.Fatalf("ciphertext contains the plaintext")
			}
			if !IsEncrypted(enc) {
				t.Fatalf("IsEncrypted(%q) = false", enc)
			}
			got, err := k.DecryptFor(enc, aad)
			if err != nil {
				t.Fatalf("DecryptFor: %v", err)
			}
			if got != plain {
				t.Fatalf("round trip = %q, want %q", got, plain)
			}
		}
	}
}

func TestEncryptDecryptNoAAD(t *testing.T) {
	k := mustParse(t, keyA)
	enc, err := k.Encrypt("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Decrypt(enc)
	if err != nil || got != "s3cret" {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	// Encrypt is EncryptFor with aad "", so the two interoperate.
	if got, err := k.DecryptFor(enc, ""); err != nil || got != "s3cret" {
		t.Fatalf("DecryptFor(Encrypt) = %q, %v", got, err)
	}
}

func TestEmptyStringPassesThrough(t *testing.T) {
	k := mustParse(t, keyA)
	enc, err := k.EncryptFor("", "ep_1/secret")
	if err != nil || enc != "" {
		t.Fatalf("EncryptFor(\"\") = %q, %v; want \"\", nil", enc, err)
	}
	if got, err := k.Decrypt(""); err != nil || got != "" {
		t.Fatalf("Decrypt(\"\") = %q, %v", got, err)
	}
	if k.NeedsRotation("") {
		t.Fatal("NeedsRotation(\"\") = true")
	}
}

func TestAADMismatchFails(t *testing.T) {
	k := mustParse(t, keyA)
	enc, err := k.EncryptFor("hunter2", "ep_1/secret")
	if err != nil {
		t.Fatal(err)
	}
	for _, aad := range []string{"", "ep_2/secret", "ep_1/headers", "ep_1/secret "} {
		got, err := k.DecryptFor(enc, aad)
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("DecryptFor(aad %q) = %q, %v; want ErrDecrypt", aad, got, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the plaintext: %v", err)
		}
	}
}

func TestTamperFails(t *testing.T) {
	k := mustParse(t, "a:"+keyA)
	enc, err := k.Encrypt("hunter2")
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.TrimPrefix(enc, "enc:v1:a:")
	sealed, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one bit in every byte position in turn: nonce, ciphertext and tag
	// are all covered.
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		s := "enc:v1:a:" + base64.StdEncoding.EncodeToString(bad)
		if got, err := k.Decrypt(s); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("byte %d flipped: Decrypt = %q, %v; want ErrDecrypt", i, got, err)
		}
	}
	// Truncated, empty, bad base64 and a relabelled key id.
	k2 := mustParse(t, "a:"+keyA+",b:"+keyB)
	for name, s := range map[string]string{
		"truncated":  "enc:v1:a:" + base64.StdEncoding.EncodeToString(sealed[:len(sealed)-1]),
		"too short":  "enc:v1:a:" + base64.StdEncoding.EncodeToString(sealed[:nonceSize+tagSize-1]),
		"empty":      "enc:v1:a:",
		"bad base64": "enc:v1:a:!!!!",
		"no id":      "enc:v1:" + payload,
		"relabelled": "enc:v1:b:" + payload,
	} {
		if got, err := k2.Decrypt(s); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: Decrypt = %q, %v; want ErrDecrypt", name, got, err)
		}
	}
}

func TestPlaintextPassthrough(t *testing.T) {
	k := mustParse(t, keyA)
	for _, s := range []string{
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"Basic dXNlcjpwYXNz",
		"enc",
		"enc:",
		"enc:v",
		"enc:vx:a:b",
		"enc:v1", // no separator after the version: not the format
		"ENC:v1:a:b",
		" enc:v1:a:b",
	} {
		if IsEncrypted(s) {
			t.Errorf("IsEncrypted(%q) = true", s)
		}
		got, err := k.Decrypt(s)
		if err != nil || got != s {
			t.Errorf("Decrypt(%q) = %q, %v; want it unchanged", s, got, err)
		}
		if !k.NeedsRotation(s) {
			t.Errorf("NeedsRotation(%q) = false for plaintext", s)
		}
	}
	// A nil keyring (encryption not configured) still passes plaintext.
	var none *Keyring
	if got, err := none.Decrypt("plain"); err != nil || got != "plain" {
		t.Errorf("nil keyring: Decrypt = %q, %v", got, err)
	}
}

func TestNilKeyring(t *testing.T) {
	var none *Keyring
	if _, err := none.Encrypt("x"); err == nil {
		t.Error("nil keyring: Encrypt succeeded")
	}
	enc, err := mustParse(t, "a:"+keyA).Encrypt("x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := none.Decrypt(enc); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("nil keyring: Decrypt = %v, want ErrUnknownKey", err)
	}
	if !none.NeedsRotation(enc) {
		t.Error("nil keyring: NeedsRotation = false")
	}
	if none.String() == "" || none.CurrentKeyID() != "" || none.KeyIDs() != nil {
		t.Error("nil keyring accessors")
	}
}

func TestLaterFormatVersionIsNotPassedThrough(t *testing.T) {
	// After a downgrade, a value in a newer format must fail rather than be
	// used as a literal secret.
	k := mustParse(t, keyA)
	s := "enc:v2:a:QUJD"
	if !IsEncrypted(s) {
		t.Fatal("IsEncrypted(v2) = false")
	}
	_, err := k.Decrypt(s)
	if !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), "v2") {
		t.Fatalf("Decrypt(v2) = %v; want ErrDecrypt naming v2", err)
	}
	if !k.NeedsRotation(s) {
		t.Error("NeedsRotation(v2) = false")
	}
}

func TestRotation(t *testing.T) {
	onlyA := mustParse(t, "a:"+keyA)
	encA, err := onlyA.EncryptFor("hunter2", "ep_1/secret")
	if err != nil {
		t.Fatal(err)
	}
	if onlyA.NeedsRotation(encA) {
		t.Fatal("NeedsRotation under its own current key = true")
	}

	rotating := mustParse(t, "b:"+keyB+", a:"+keyA)
	if got := rotating.CurrentKeyID(); got != "b" {
		t.Fatalf("CurrentKeyID = %q, want b", got)
	}
	if got := rotating.KeyIDs(); fmt.Sprint(got) != "[b a]" {
		t.Fatalf("KeyIDs = %v", got)
	}
	plain, err := rotating.DecryptFor(encA, "ep_1/secret")
	if err != nil || plain != "hunter2" {
		t.Fatalf("B,A keyring: DecryptFor(A value) = %q, %v", plain, err)
	}
	if !rotating.NeedsRotation(encA) {
		t.Fatal("NeedsRotation(A value) under B,A = false")
	}

	// What the re-encrypt command does.
	encB, err := rotating.EncryptFor(plain, "ep_1/secret")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encB, "enc:v1:b:") {
		t.Fatalf("re-encrypted = %q, want key b", encB)
	}
	if rotating.NeedsRotation(encB) {
		t.Fatal("NeedsRotation(B value) = true")
	}

	// Once A is dropped, B values still read and A values fail clearly.
	onlyB := mustParse(t, "b:"+keyB)
	if got, err := onlyB.DecryptFor(encB, "ep_1/secret"); err != nil || got != "hunter2" {
		t.Fatalf("B keyring: DecryptFor(B value) = %q, %v", got, err)
	}
	_, err = onlyB.DecryptFor(encA, "ep_1/secret")
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("B keyring: DecryptFor(A value) = %v; want ErrUnknownKey", err)
	}
	for _, want := range []string{"encrypted with key a", "not in HERALD_ENCRYPTION_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestRotationDerivedIDs(t *testing.T) {
	// The same key given bare or with its derived id is the same key, so
	// values survive switching from one form to the other (GenerateKey
	// writes the derived id out).
	bare := mustParse(t, keyA)
	id := bare.CurrentKeyID()
	if len(id) != 8 {
		t.Fatalf("derived id %q, want 8 hex digits", id)
	}
	enc, err := bare.Encrypt("x")
	if err != nil {
		t.Fatal(err)
	}
	withID := mustParse(t, keyB+","+id+":"+keyA)
	if got, err := withID.Decrypt(enc); err != nil || got != "x" {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	if !withID.NeedsRotation(enc) {
		t.Fatal("NeedsRotation = false")
	}
}

func TestNoncesDiffer(t *testing.T) {
	k := mustParse(t, "a:"+keyA)
	seen := map[string]bool{}
	for range 100 {
		enc, err := k.Encrypt("same text")
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(enc, "enc:v1:a:"))
		if err != nil {
			t.Fatal(err)
		}
		nonce := string(sealed[:nonceSize])
		if seen[nonce] {
			t.Fatal("nonce repeated")
		}
		seen[nonce] = true
	}
}

func TestParseKeys(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	long := base64.StdEncoding.EncodeToString(make([]byte, 33))
	for _, tc := range []struct {
		name, in string
		want     string // substring of the error; "" for success
		ids      string
	}{
		{"bare", keyA, "", "[" + deriveID(bytes.Repeat([]byte{0xA1}, KeySize)) + "]"},
		{"with id", "k1:" + keyA, "", "[k1]"},
		{"two keys", "new:" + keyB + ",old:" + keyA, "", "[new old]"},
		{"spaces and newline", "  new:" + keyB + " ,\told:" + keyA + "\n", "", "[new old]"},
		{"unpadded", "k:" + strings.TrimRight(keyA, "="), "", "[k]"},
		{"url-safe", "k:" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xFB}, KeySize)), "", "[k]"},

		{"empty", "", "no key given", ""},
		{"blank", "  \n", "no key given", ""},
		{"stray comma", keyA + ",", "key 2: empty", ""},
		{"double comma", "a:" + keyA + ",,b:" + keyB, "key 2: empty", ""},
		{"bad base64", "a:" + keyA + ",b:not*base64", "key 2: must be base64 of 32 bytes, not valid base64 at character 4", ""},
		{"wrong length", "a:" + keyA + ",b:" + short, "key 2: must be base64 of 32 bytes, got 16", ""},
		{"too long", long, "key 1: must be base64 of 32 bytes, got 33", ""},
		{"missing key", "a:", "key 1: must be base64 of 32 bytes, got nothing", ""},
		{"empty id", ":" + keyA, "key 1: empty id", ""},
		{"bad id", "a b:" + keyA, "key 1: id may only contain letters, digits, '.', '_' and '-', not character 2", ""},
		{"key before id", keyA + ":a", "key 1: id may only contain", ""},
		{"long id", strings.Repeat("x", 65) + ":" + keyA, "key 1: id is 65 characters", ""},
		{"duplicate id", "a:" + keyA + ",a:" + keyB, "key 2: id \"a\" is already used", ""},
		{"duplicate derived id", keyA + "," + keyA, "key 2: id", ""},
		{"same key twice", "a:" + keyA + ",b:" + keyA, "key 2: same key as key 1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKeys(tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ParseKeys: %v", err)
				}
				if got := fmt.Sprint(k.KeyIDs()); got != tc.ids {
					t.Fatalf("ids = %s, want %s", got, tc.ids)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseKeys succeeded, want error containing %q", tc.want)
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("error does not wrap ErrInvalidKey: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			for _, secret := range []string{keyA, keyB, strings.TrimRight(keyA, "=")} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks key material: %v", err)
				}
			}
		})
	}
}

func TestKeyringDoesNotPrintKeys(t *testing.T) {
	k := mustParse(t, "a:"+keyA+",b:"+keyB)
	type holder struct{ K *Keyring }
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v", holder{k}), fmt.Sprintf("%+v", holder{k}), fmt.Sprintf("%#v", k),
	} {
		if !strings.Contains(s, "a,b") {
			t.Errorf("printed keyring %q does not list ids", s)
		}
		if strings.Contains(s, "0xa1") || strings.Contains(s, keyA) {
			t.Errorf("printed keyring leaks key: %q", s)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	s, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	id, _, ok := strings.Cut(s, ":")
	if !ok {
		t.Fatalf("GenerateKey = %q, want id:base64", s)
	}
	k := mustParse(t, s)
	if k.CurrentKeyID() != id {
		t.Fatalf("id %q, parsed %q", id, k.CurrentKeyID())
	}
	// The written-out id is the derived one, so the bare key is the same key.
	_, b64, _ := strings.Cut(s, ":")
	if got := mustParse(t, b64).CurrentKeyID(); got != id {
		t.Fatalf("derived id %q, generated %q", got, id)
	}
	s2, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if s2 == s {
		t.Fatal("two generated keys are equal")
	}
}

func TestConcurrentUse(t *testing.T) {
	k := mustParse(t, "b:"+keyB+",a:"+keyA)
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			for i := range 200 {
				aad := fmt.Sprintf("ep_%d/%d", g, i)
				var enc, got string
				if enc, err = k.EncryptFor("v", aad); err != nil {
					break
				}
				if got, err = k.DecryptFor(enc, aad); err == nil && got != "v" {
					err = fmt.Errorf("got %q", got)
				}
				if err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func FuzzDecrypt(f *testing.F) {
	k := mustParse(f, "a:"+keyA+",b:"+keyB)
	valid, err := k.EncryptFor("hunter2", "ep_1/secret")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"", "plain", "enc:", "enc:v1:", "enc:v1:a", "enc:v1:a:", "enc:v1:a:QUJD",
		"enc:v1:zz:QUJD", "enc:v2:a:QUJD", "enc:v99999999999:a:b", "enc:v1:a::::",
		valid, valid[:len(valid)-4], strings.Replace(valid, ":a:", ":b:", 1),
	} {
		f.Add(s, "ep_1/secret")
	}
	f.Fuzz(func(t *testing.T, s, aad string) {
		got, err := k.DecryptFor(s, aad)
		k.NeedsRotation(s)
		if !IsEncrypted(s) {
			if err != nil || got != s {
				t.Fatalf("plaintext %q: DecryptFor = %q, %v", s, got, err)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if got != "" {
				t.Fatalf("error with non-empty result %q", got)
			}
		}
	})
}

func benchKeyring(b *testing.B) *Keyring {
	return mustParse(b, "b:"+keyB+",a:"+keyA)
}

var benchSizes = []int{32, 1024}

func BenchmarkEncrypt(b *testing.B) {
	k := benchKeyring(b)
	for _, n := range benchSizes {
		plain := strings.Repeat("x", n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.EncryptFor(plain, "ep_1/secret"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	k := benchKeyring(b)
	for _, n := range benchSizes {
		enc, err := k.EncryptFor(strings.Repeat("x", n), "ep_1/secret")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.DecryptFor(enc, "ep_1/secret"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
