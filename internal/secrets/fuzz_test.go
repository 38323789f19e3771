package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// keyPieces returns the parts of a key list that decode as a key where an
// error or a String could show them: every part after an item's first
// ':', and the part before it unless it is a valid id (ids are shown by
// design, and logged at start-up). A key written before the ':' by
// mistake is not a valid id once it holds '+', '/' or '='.
func keyPieces(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		parts := strings.Split(item, ":")
		for i, p := range parts {
			p = strings.TrimSpace(p)
			if i == 0 && len(parts) > 1 && checkKeyID(p) == nil {
				continue
			}
			if k, err := decodeKey(p); err == nil && len(k) == KeySize {
				out = append(out, p, strings.TrimRight(p, "="))
			}
		}
	}
	return out
}

func checkNoKey(t *testing.T, what, text, input string) {
	t.Helper()
	for _, p := range keyPieces(input) {
		if strings.Contains(text, p) {
			t.Fatalf("%s %q holds the key %q of %q", what, text, p, input)
		}
	}
}

// keyU is a key in URL-safe base64, as some tools print them.
var keyU = base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, KeySize))

// keySeeds are HERALD_ENCRYPTION_KEY values as operators write them.
var keySeeds = []string{
	"a:" + keyA,                     // herald keygen's form
	keyA,                            // a bare key, its id derived
	"new:" + keyB + ", old:" + keyA, // during a rotation
	strings.TrimRight(keyA, "="),    // padding lost in a copy
	"u:" + keyU,                     // URL-safe base64
	"a:" + keyA + ",a:" + keyB,      // an id twice
	"a:" + keyA + ",b:" + keyA,      // a key twice
	"a:" + keyA + ",",               // a stray comma
	"a b:" + keyA,                   // a space in the id
	"a:" + keyA[:40],                // a key cut short
	"a:" + keyA + "\n",              // a line break from a file
	"",                              // nothing
	keyA + ":a",                     // the key written before its id
}

// FuzzParseKeys: never panics; errors wrap ErrInvalidKey and hold no key;
// an accepted list has one unique, valid id per item, the first current,
// and encrypts values it reads back.
func FuzzParseKeys(f *testing.F) {
	for _, s := range keySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKeys(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("ParseKeys(%q): %v does not wrap ErrInvalidKey", s, err)
			}
			checkNoKey(t, "error", err.Error(), s)
			return
		}
		ids := k.KeyIDs()
		if len(ids) != len(strings.Split(strings.TrimSpace(s), ",")) || k.CurrentKeyID() != ids[0] {
			t.Fatalf("ParseKeys(%q): ids %q, current %q", s, ids, k.CurrentKeyID())
		}
		for i, id := range ids {
			if checkKeyID(id) != nil || slices.Index(ids, id) != i {
				t.Fatalf("ParseKeys(%q): ids %q", s, ids)
			}
		}
		checkNoKey(t, "String", k.String(), s)
		enc, err := k.EncryptFor("hunter2", "ep_1/secret")
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseKeys(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := again.DecryptFor(enc, "ep_1/secret"); err != nil || got != "hunter2" {
			t.Fatalf("ParseKeys(%q) twice: DecryptFor = %q, %v", s, got, err)
		}
	})
}

// FuzzKeyFile: the key file in the data dir holds the same format, maybe
// edited by hand. Never panics; a file that does not parse is refused
// with ErrInvalidKey and no key in the error, and one that does gives its
// keys back as written, never replaced.
func FuzzKeyFile(f *testing.F) {
	for _, s := range keySeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte("\r\n a:" + keyA + " \r\n"))  // a file edited on Windows
	f.Add([]byte("# a comment\na:" + keyA))    // a comment line
	f.Add([]byte("a:" + keyA + "\nb:" + keyB)) // one key per line
	f.Add([]byte{0xff, 0xfe, 'a', 0, ':', 0})  // UTF-16
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "encryption.key")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		keys, created, err := LoadOrCreateKeyFile(path)
		if created {
			t.Fatalf("a new key replaced the file %q", data)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("key file %q: %v does not wrap ErrInvalidKey", data, err)
			}
			checkNoKey(t, "error", err.Error(), string(data))
			return
		}
		if keys != strings.TrimSpace(string(data)) {
			t.Fatalf("key file %q gave %q", data, keys)
		}
		if _, err := ParseKeys(keys); err != nil {
			t.Fatalf("key file %q accepted, but ParseKeys: %v", data, err)
		}
		if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("key file changed to %q (%v)", b, err)
		}
	})
}
