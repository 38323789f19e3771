package herald

import "strings"

// secretWords mark header and option names whose values are credentials.
var secretWords = []string{"authorization", "token", "secret", "password", "api-key", "apikey", "api_key", "cookie", "signature-key"}

// SecretHeader reports whether a header's name marks its value as a
// credential. Such a header is masked even when an endpoint's
// plain_headers names it: a name is a promise about the value, and
// showing a credential takes more than one field set by mistake.
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

// Masked is what a hidden value is shown as. Sending it back in an update
// keeps the stored value.
const Masked = "********"

// authSchemes are the HTTP authentication schemes (lower case) that Mask
// leaves readable: which scheme a credential is sent with helps whoever
// debugs a receiver, and a scheme from this list says nothing of the
// credential. Any other first word might be part of the secret.
var authSchemes = map[string]bool{
	"basic": true, "bearer": true, "digest": true, "token": true, "bot": true, "oauth": true,
	"negotiate": true, "ntlm": true, "dpop": true, "hoba": true, "mutual": true, "gnap": true,
	"ssws": true, "apikey": true, "aws4-hmac-sha256": true,
}

// Mask hides a value entirely, whatever its length: nothing of it is kept
// but a known authentication scheme in front ("Bearer ********"). Keeping
// a few first characters would give away part of short secrets, and all
// of some whose start is their only varying part.
func Mask(v string) string {
	if sch, rest, ok := strings.Cut(v, " "); ok && authSchemes[strings.ToLower(sch)] && strings.TrimSpace(rest) != "" {
		// A credential of asterisks ("Bearer **") would show whole in it;
		// one already masked shows nothing.
		if m := sch + " " + Masked; rest == Masked || !strings.Contains(m, v) {
			return m
		}
	}
	return Masked
}

// heraldHeaders are the headers Herald sets on every request itself.
// Their values are Herald's, never a customer's: a custom User-Agent or
// Content-Type is replaced before sending, and webhook-* (and svix-*)
// signature headers cannot be set.
var heraldHeaders = []string{"Content-Type", "User-Agent", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature",
	"Svix-Id", "Svix-Timestamp", "Svix-Signature",
	// W3C trace context, sent with an app's propagate_trace_context: ids,
	// never credentials.
	"Traceparent", "Tracestate"}

// HeraldHeader reports whether Herald sets the header on every request
// itself, so that its value is shown wherever a request is.
func HeraldHeader(name string) bool {
	for _, h := range heraldHeaders {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// PlainHeader reports whether a custom header's value may be shown in
// clear: its name is in plain (an endpoint's plain_headers, compared
// case-insensitively) and does not mark a credential (SecretHeader).
func PlainHeader(name string, plain []string) bool {
	if SecretHeader(name) {
		return false
	}
	for _, p := range plain {
		if strings.EqualFold(p, name) {
			return true
		}
	}
	return false
}

// MaskHeaders returns a copy of an endpoint's custom headers (its own and
// its preset's) with every value masked but those plain names: a value a
// customer typed is a secret until they say it is not.
func MaskHeaders(h map[string]string, plain []string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if !PlainHeader(k, plain) {
			v = Mask(v)
		}
		out[k] = v
	}
	return out
}

// MaskRequestHeaders returns a copy of the flattened headers of a request
// as sent, for previews and the attempt history: Herald's own headers in
// clear, the rest (custom headers, credentials Herald added) as
// MaskHeaders shows them.
func MaskRequestHeaders(h map[string]string, plain []string) map[string]string {
	out := MaskHeaders(h, plain)
	for k, v := range h {
		if HeraldHeader(k) {
			out[k] = v
		}
	}
	return out
}
