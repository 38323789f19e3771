package netpolicy

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

var (
	loopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	loopback6 = netip.IPv6Loopback()
)

// CheckURL is the early check for endpoint creation and update: it refuses
// a URL whose host is an IP address the policy refuses, or a localhost name,
// so that the customer sees the refusal at once instead of as failed
// deliveries later. Host names are not resolved here: what a name resolves
// to can change at any time, so DialContext checks the resolved addresses on
// every connection, and that is the check that protects; this one only
// improves the error.
//
// A host counts as an IP address when it is one in any of the forms that
// some resolvers and URL parsers accept and silently turn into one: a single
// number (http://2130706433/), fewer than four parts (127.1), octal or hex
// parts (0177.0.0.1, 0x7f.0.0.1), a trailing dot, or full-width digits and
// dots. The names localhost and *.localhost (RFC 6761) stand for 127.0.0.1
// and are refused unless the policy allows that (AllowPrivate, or an Allow
// range holding it).
//
// The error is a *BlockedError, or a plain error when rawURL does not parse.
func (p *Policy) CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("url is not a valid URL: %w", err)
	}
	host := u.Hostname()
	if host == "" {
		return nil
	}
	h := normalizeHost(host)
	if a, ok := parseIPHost(h); ok {
		if err := p.Check(a); err != nil {
			be := err.(*BlockedError)
			if host != a.String() {
				be.Host = host
			}
			return be
		}
		return nil
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		err4 := p.Check(loopback4)
		if err4 == nil || p.Check(loopback6) == nil {
			return nil
		}
		be := err4.(*BlockedError)
		be.Host = host
		return be
	}
	return nil
}

// normalizeHost lower-cases host, maps full-width ASCII (U+FF01 to U+FF5E)
// and the ideographic full stops to ASCII, as IDNA mapping does, and drops
// one trailing dot, so that "１２７.０.０.１." and "LOCALHOST." are
// recognised for what resolvers will make of them.
func normalizeHost(host string) string {
	h := strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFF01 + '!'
		case r == 0x3002 || r == 0xFF61:
			return '.'
		}
		return r
	}, host)
	h = strings.ToLower(h)
	if strings.HasSuffix(h, ".") && !strings.HasSuffix(h, "..") {
		h = h[:len(h)-1]
	}
	return h
}

// parseIPHost parses h as an IP address, in standard form (IPv6 possibly with
// a zone) or in one of the legacy IPv4 forms of inet_aton.
func parseIPHost(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a, true
	}
	return parseLegacyIPv4(h)
}

// parseLegacyIPv4 parses the IPv4 forms accepted by inet_aton and by the
// WHATWG URL standard: one to four parts separated by dots, each decimal,
// octal (leading 0) or hex (leading 0x), the last part filling all remaining
// bytes, so 127.1, 2130706433, 0x7f000001 and 0177.0.0.01 are all 127.0.0.1.
func parseLegacyIPv4(h string) (netip.Addr, bool) {
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals [4]uint64
	for i, part := range parts {
		v, ok := parseLegacyNumber(part)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	n := len(parts)
	var ip uint32
	for i := 0; i < n-1; i++ {
		if vals[i] > 0xFF {
			return netip.Addr{}, false
		}
		ip |= uint32(vals[i]) << (24 - 8*i)
	}
	last := vals[n-1]
	if last >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	ip |= uint32(last)
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

// parseLegacyNumber parses one part of a legacy IPv4 address. Values above
// 2^32 are rejected early, which also rules out overflow.
func parseLegacyNumber(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base, s = 16, s[2:]
		if s == "" {
			return 0, true // "0x" alone is 0, as inet_aton and WHATWG have it
		}
	case len(s) >= 2 && s[0] == '0':
		base, s = 8, s[1:]
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		case 'A' <= c && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
		if v > 1<<32 {
			return 0, false
		}
	}
	return v, true
}
