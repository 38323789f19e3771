package herald

import "strings"

// secretWords mark header and option names whose values are credentials.
var secretWords = []string{"authorization", "token", "secret", "password", "api-key", "apikey", "api_key", "cookie", "signature-key"}

// SecretHeader reports whether a header's value is a credential, to be
// masked wherever a request is shown (history, previews, audit log).
func SecretHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// SecretOption reports whether a preset option holds a credential, to be
// encrypted at rest and masked when shown. The rule is the option's name
// (a token, a secret, a password, or a name ending in _key such as
// Segment's write_key), not a list kept beside the presets: the store
// seals options without knowing any preset, and a new preset's
// credential is sealed as soon as it is named like one.
func SecretOption(name string) bool {
	return SecretHeader(name) || strings.HasSuffix(strings.ToLower(name), "_key")
}

// Mask hides a secret value, keeping a hint of its start so that a person
// can tell two credentials apart.
func Mask(v string) string {
	if len(v) <= 8 {
		return "********"
	}
	m := v[:4] + "********"
	// Keep an auth scheme ("Bearer ", "Basic ") readable.
	if sch, rest, ok := strings.Cut(v, " "); ok && len(sch) < 10 && len(rest) > 0 {
		m = sch + " " + Mask(rest)
	}
	if strings.Contains(m, v) {
		// A value made mostly of asterisks would show whole in its hint.
		return "********"
	}
	return m
}

// MaskHeaders returns a copy of flattened headers with credentials masked.
func MaskHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if SecretHeader(k) {
			v = Mask(v)
		}
		out[k] = v
	}
	return out
}
