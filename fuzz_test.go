package herald_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// FuzzMask: header and preset option values are tenants' credentials, and
// masked values are shown to whoever reads an endpoint, a preview or the
// history. Never panics; a value of 9 bytes or more never appears whole in
// its masked form, alone or among headers; a header's secrecy does not
// depend on how its name is capitalised; every secret header name is a
// secret option name too.
func FuzzMask(f *testing.F) {
	f.Add("Authorization", "Bearer abcdefghijkl") // a bearer token
	f.Add("authorization", "Basic dXNlcjpwYXNz")  // basic credentials
	f.Add("X-ChatWorkToken", "cw-token-123456")   // Chatwork's token header
	f.Add("X-Api-Key", "12345678")                // exactly 8 bytes
	f.Add("Cookie", "a=1; b=2")                   // a cookie
	f.Add("Idempotency-Key", "not a secret")      // not a credential
	f.Add("X-Token", "abcd********")              // a value that looks masked
	f.Add("X-Token", "*********")                 // nine asterisks
	f.Add("X-Token", "Bearer **")                 // a scheme and asterisks
	f.Add("X-Token", "a b c d e f g h i")         // many spaces
	f.Add("X-Secret", "ヘラルド株式会社")                 // multi-byte text
	f.Add("X-API-KEY", "\x00\xff\xfe")            // bytes that are not text
	f.Fuzz(func(t *testing.T, name, value string) {
		m := herald.Mask(value)
		// A value already masked may mask to itself: it holds no secret.
		if len(value) >= 9 && strings.Contains(m, value) && m != value {
			t.Fatalf("Mask(%q) = %q", value, m)
		}
		secret := herald.SecretHeader(name)
		if herald.SecretHeader(http.CanonicalHeaderKey(name)) != secret || herald.SecretHeader(strings.ToLower(name)) != secret {
			t.Fatalf("SecretHeader(%q) depends on case", name)
		}
		if secret && !herald.SecretOption(name) {
			t.Fatalf("header %q is secret, option %q not", name, name)
		}
		h := herald.MaskHeaders(map[string]string{name: value, "X-Plain": "visible"}, []string{"X-Plain"})
		if _, ok := h[name]; !ok || len(h) != 2 && name != "X-Plain" {
			t.Fatalf("MaskHeaders lost a header: %q", h)
		}
		// A custom header's value is a secret unless named plain.
		if !strings.EqualFold(name, "X-Plain") && len(value) >= 9 && strings.Contains(h[name], value) && h[name] != value {
			t.Fatalf("MaskHeaders shows %s: %q", name, h[name])
		}
		if !strings.EqualFold(name, "X-Plain") && h["X-Plain"] != "visible" {
			t.Fatalf("MaskHeaders hides the plain header: %q", h)
		}
	})
}
