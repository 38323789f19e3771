package herald_test

import (
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

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "********",
		"short":               "********",
		"12345678":            "********",
		"cw-token-123456":     "cw-t********",
		"Bearer abcdefghijkl": "Bearer abcd********",
		"Basic dXNlcjpwYXNz":  "Basic dXNl********",
		"Bearer short":        "Bearer ********",
	} {
		if got := herald.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
	h := herald.MaskHeaders(map[string]string{"Authorization": "Bearer abcdefghijkl", "X-Plain": "visible value"})
	if h["Authorization"] != "Bearer abcd********" || h["X-Plain"] != "visible value" {
		t.Fatalf("MaskHeaders: %v", h)
	}
}
