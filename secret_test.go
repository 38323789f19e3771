package herald_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

func TestSecretNames(t *testing.T) {
	for _, c := range []struct {
		name           string
		header, option bool
	}{
		{"Authorization", true, true},
		{"X-ChatWorkToken", true, true},
		{"X-Api-Key", true, true},
		{"Cookie", true, true},
		{"api_token", true, true},
		{"client_secret", true, true},
		{"password", true, true},
		// Segment's write key: a credential as an option; as a header
		// name, a "-Key" suffix (Idempotency-Key) is not one.
		{"write_key", false, true},
		{"Idempotency-Key", false, false},
		{"Content-Type", false, false},
		{"room_id", false, false},
		{"client_id", false, false},
		{"munchkin_id", false, false},
		{"lookup_field", false, false},
		{"message", false, false},
		{"base_url", false, false},
	} {
		if got := herald.SecretHeader(c.name); got != c.header {
			t.Errorf("SecretHeader(%q) = %v, want %v", c.name, got, c.header)
		}
		if got := herald.SecretOption(c.name); got != c.option {
			t.Errorf("SecretOption(%q) = %v, want %v", c.name, got, c.option)
		}
	}
}

// Nothing of a masked value is kept, however long: only a known
// authentication scheme in front stays readable.
func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "********",
		"short":               "********",
		"12345678":            "********",
		"cw-token-123456":     "********",
		"Bearer abcdefghijkl": "Bearer ********",
		"bearer abcdefghijkl": "bearer ********",
		"Basic dXNlcjpwYXNz":  "Basic ********",
		"Bearer short":        "Bearer ********",
		"Bearer ":             "********",
		"Bearer":              "********",
		// Not a scheme: the first word may be the secret itself.
		"hunter2 and-more": "********",
		"Bearer ********":  "Bearer ********",
	} {
		if got := herald.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// Custom headers are masked whatever their name (X-Auth-Key was shown in
// clear when only names like credentials were masked), except those named
// in plain_headers; a credential's name is masked even there; in a request,
// Herald's own headers stay readable.
func TestMaskHeaders(t *testing.T) {
	custom := map[string]string{
		"Authorization":    "Bearer abcdefghijkl",
		"X-Auth-Key":       "k-1234567890",
		"X-Request-Source": "crm",
		"X-Api-Key":        "ak-123456",
		"Content-Type":     "application/json; v=secret",
	}
	plain := []string{"x-request-source", "X-Api-Key"}
	got := herald.MaskHeaders(custom, plain)
	want := map[string]string{
		"Authorization":    "Bearer ********",
		"X-Auth-Key":       "********",
		"X-Request-Source": "crm",
		"X-Api-Key":        "********",
		"Content-Type":     "********",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("MaskHeaders: %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) || custom["X-Auth-Key"] != "k-1234567890" {
		t.Errorf("MaskHeaders changed the set or its input: %v, %v", got, custom)
	}

	sent := map[string]string{
		"Content-Type": "application/json", "User-Agent": "Herald/1.0", "Webhook-Id": "dlv_1",
		"Webhook-Timestamp": "1700000000", "Webhook-Signature": "v1,abc=",
		"X-Auth-Key": "k-1234567890", "X-Request-Source": "crm", "Authorization": "Basic dXNlcjpwYXNz",
	}
	got = herald.MaskRequestHeaders(sent, plain)
	for k, v := range sent {
		want := v
		switch k {
		case "X-Auth-Key":
			want = "********"
		case "Authorization":
			want = "Basic ********"
		}
		if got[k] != want {
			t.Errorf("MaskRequestHeaders: %s = %q, want %q", k, got[k], want)
		}
	}
}

// secretRunes are what random secrets are made of: no ASCII letter, space
// or '*', so that no run of four of them can be found in a mask or in a
// scheme's name by chance, and any such run in a masked output is a leak.
var secretRunes = []rune("0123456789-_=+/.:;,~!@$%^&()[]{}<>?|'\"\\\té漢字鍵ßøЖ😀")

func randomSecret(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(secretRunes[r.IntN(len(secretRunes))])
	}
	return b.String()
}

// leaks reports a run of four runes that out shares with secret.
func leaks(secret, out string) string {
	rs := []rune(out)
	for i := 0; i+4 <= len(rs); i++ {
		if w := string(rs[i : i+4]); strings.Contains(secret, w) {
			return w
		}
	}
	return ""
}

// Masking property, over random values of every length: the output of
// Mask is the mask, with at most a known scheme that the value started
// with; no run of four characters of the secret appears in it; and
// MaskHeaders and MaskRequestHeaders give every value they do not show in
// clear the same treatment.
func TestMaskKeepsNothingOfTheSecret(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	prefixes := []string{"", "", "Bearer ", "Basic ", "token ", "hunter2 ", "X9 ", "Bearer"}
	for i := range 20000 {
		n := 1 + r.IntN(64)
		if i%10 == 0 {
			n = 200 + r.IntN(2000)
		}
		prefix := prefixes[r.IntN(len(prefixes))]
		v := prefix + randomSecret(r, n)
		out := herald.Mask(v)
		scheme, _, _ := strings.Cut(prefix, " ")
		switch {
		case out == herald.Masked:
		case strings.HasSuffix(prefix, " ") && out == scheme+" "+herald.Masked && (scheme == "Bearer" || scheme == "Basic" || scheme == "token"):
		default:
			t.Fatalf("Mask(%q) = %q: more than the mask and a known scheme", v, out)
		}
		if w := leaks(strings.TrimPrefix(v, prefix), out); w != "" {
			t.Fatalf("Mask(%q) = %q keeps %q", v, out, w)
		}

		h := map[string]string{"X-Custom": v, "X-Plain": "shown", "Authorization": v, "Webhook-Id": "dlv_1"}
		for _, m := range []map[string]string{
			herald.MaskHeaders(h, []string{"X-Plain", "Authorization"}),
			herald.MaskRequestHeaders(h, []string{"x-plain", "authorization"}),
		} {
			for _, k := range []string{"X-Custom", "Authorization"} {
				if m[k] != out {
					t.Fatalf("%s masked as %q, Mask gives %q", k, m[k], out)
				}
			}
			if m["X-Plain"] != "shown" {
				t.Fatalf("plain header masked: %v", m)
			}
			if w := leaks(strings.TrimPrefix(v, prefix), strings.Join([]string{m["X-Custom"], m["Authorization"], m["X-Plain"], m["Webhook-Id"]}, "\n")); w != "" {
				t.Fatalf("headers %v keep %q of %q", m, w, v)
			}
		}
	}
}
