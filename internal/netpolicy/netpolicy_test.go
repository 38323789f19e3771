package netpolicy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

func TestCheckDefault(t *testing.T) {
	p := New(Options{})
	tests := []struct {
		addr string
		rule string // "" means allowed
	}{
		// Globally reachable: allowed. Check does no I/O, so nothing is
		// sent to these.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.216.34", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:80b::200e", ""},
		{"192.31.196.1", ""},   // AS112, globally reachable
		{"100.63.255.255", ""}, // just below CGNAT
		{"100.128.0.0", ""},    // just above CGNAT
		{"172.15.255.255", ""}, // just below 172.16/12
		{"172.32.0.0", ""},     // just above 172.16/12
		{"223.255.255.255", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},  // 6to4 of 8.8.8.8
		{"::ffff:8.8.8.8", ""},   // IPv4-mapped 8.8.8.8
		{"2001:4860:4860::8888", ""},

		// IPv4.
		{"0.0.0.0", RuleUnspecified},
		{"0.1.2.3", RuleReserved},
		{"10.0.0.5", RulePrivate},
		{"10.255.255.255", RulePrivate},
		{"100.64.0.1", RuleCGNAT},
		{"100.127.255.254", RuleCGNAT},
		{"127.0.0.1", RuleLoopback},
		{"127.255.255.254", RuleLoopback},
		{"169.254.169.254", RuleLinkLocal}, // cloud metadata
		{"169.254.0.1", RuleLinkLocal},
		{"172.16.0.1", RulePrivate},
		{"172.31.255.255", RulePrivate},
		{"192.0.0.8", RuleReserved},
		{"192.0.0.170", RuleReserved},
		{"192.0.2.1", RuleDocumentation},
		{"192.88.99.1", RuleReserved},
		{"192.168.1.1", RulePrivate},
		{"198.18.0.1", RuleBenchmarking},
		{"198.19.255.255", RuleBenchmarking},
		{"198.51.100.7", RuleDocumentation},
		{"203.0.113.9", RuleDocumentation},
		{"224.0.0.1", RuleMulticast},
		{"239.255.255.250", RuleMulticast},
		{"240.0.0.1", RuleReserved},
		{"254.1.2.3", RuleReserved},
		{"255.255.255.255", RuleBroadcast},

		// IPv6.
		{"::", RuleUnspecified},
		{"::1", RuleLoopback},
		{"::127.0.0.1", RuleReserved}, // deprecated IPv4-compatible
		{"::8.8.8.8", RuleReserved},
		{"64:ff9b:1::a00:1", RuleReserved},
		{"100::1", RuleReserved},  // discard-only
		{"2001::1", RuleReserved}, // Teredo
		{"2001:2::1", RuleBenchmarking},
		{"2001:db8::1", RuleDocumentation},
		{"3fff::1", RuleDocumentation},
		{"5f00::1", RuleReserved}, // SRv6 SIDs, outside 2000::/3
		{"4000::1", RuleReserved},
		{"fc00::1", RulePrivate},
		{"fd12:3456:789a::1", RulePrivate},
		{"fe80::1", RuleLinkLocal},
		{"fe80::1%eth0", RuleLinkLocal},
		{"febf::1", RuleLinkLocal},
		{"fec0::1", RulePrivate},
		{"ff02::1", RuleMulticast},
		{"ff0e::1", RuleMulticast},

		// IPv6 forms that lead to an IPv4 address: judged by it.
		{"::ffff:127.0.0.1", RuleLoopback},
		{"::ffff:10.0.0.1", RulePrivate},
		{"::ffff:169.254.169.254", RuleLinkLocal},
		{"::ffff:0.0.0.0", RuleUnspecified},
		{"::ffff:100.64.0.1", RuleCGNAT},
		{"64:ff9b::7f00:1", RuleLoopback},      // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", RuleLinkLocal},  // NAT64 of 169.254.169.254
		{"64:ff9b::c0a8:101", RulePrivate},     // NAT64 of 192.168.1.1
		{"64:ff9b::ffff:ffff", RuleBroadcast},  // NAT64 of 255.255.255.255
		{"2002:7f00:1::", RuleLoopback},        // 6to4 of 127.0.0.1
		{"2002:a00:1::1", RulePrivate},         // 6to4 of 10.0.0.1
		{"2002:a9fe:a9fe:1::1", RuleLinkLocal}, // 6to4 of 169.254.169.254
		{"2002:c000:201::", RuleDocumentation}, // 6to4 of 192.0.2.1
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			err := p.Check(a)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want allowed", a, err)
				}
				return
			}
			be, ok := errors.AsType[*BlockedError](err)
			if !ok {
				t.Fatalf("Check(%s) = %v, want *BlockedError with rule %q", a, err, tt.rule)
			}
			if be.Rule != tt.rule {
				t.Errorf("Check(%s) rule = %q, want %q (%v)", a, be.Rule, tt.rule, err)
			}
			if be.Addr != a {
				t.Errorf("Check(%s) Addr = %s", a, be.Addr)
			}
			if be.ErrorKind() != herald.ErrorKindPolicy {
				t.Errorf("ErrorKind = %q, want policy", be.ErrorKind())
			}
		})
	}
}

// TestCheckAgreesWithStdlib cross-checks the rules against the net/netip
// predicates over a spread of addresses: whatever the standard library calls
// loopback, private, link-local, multicast or unspecified must be refused.
func TestCheckAgreesWithStdlib(t *testing.T) {
	p := New(Options{})
	var b [16]byte
	for i := range 20000 {
		// A cheap deterministic spread, with the interesting first bytes
		// over-represented.
		x := uint32(i)*2654435761 + 12345
		for j := range b {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			b[j] = byte(x)
		}
		firsts4 := []byte{0, 10, 100, 127, 169, 172, 192, 224, 240, 255}
		firsts6 := []byte{0x00, 0xfc, 0xfd, 0xfe, 0xff, 0x20}
		var a netip.Addr
		if i%2 == 0 {
			v := [4]byte(b[:4])
			if i%4 == 0 {
				v[0] = firsts4[i/4%len(firsts4)]
			}
			a = netip.AddrFrom4(v)
		} else {
			if i%3 == 0 {
				b[0] = firsts6[i/3%len(firsts6)]
			}
			a = netip.AddrFrom16(b)
		}
		bad := a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
			a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified()
		if bad && p.Check(a) == nil {
			t.Fatalf("Check(%s) allowed an address the standard library calls non-global", a)
		}
		// And in IPv4-mapped form.
		if a.Is4() {
			m := netip.AddrFrom16(a.As16())
			if bad && p.Check(m) == nil {
				t.Fatalf("Check(%s) allowed the mapped form of a non-global address", m)
			}
		}
	}
}

func TestCheckInvalid(t *testing.T) {
	err := New(Options{AllowPrivate: true}).Check(netip.Addr{})
	be, ok := errors.AsType[*BlockedError](err)
	if !ok || be.Rule != RuleInvalid {
		t.Fatalf("Check(zero Addr) = %v, want rule invalid", err)
	}
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		addr string
		rule string // "" means allowed
	}{
		{"default private", Options{}, "10.1.2.3", RulePrivate},
		{"allow-private", Options{AllowPrivate: true}, "10.1.2.3", ""},
		{"allow-private loopback", Options{AllowPrivate: true}, "127.0.0.1", ""},
		{"allow-private metadata", Options{AllowPrivate: true}, "169.254.169.254", ""},
		{"allow-private public", Options{AllowPrivate: true}, "8.8.8.8", ""},
		{"allow cidr", Options{Allow: pfx("10.1.0.0/16")}, "10.1.2.3", ""},
		{"allow cidr other", Options{Allow: pfx("10.1.0.0/16")}, "10.2.0.1", RulePrivate},
		{"allow cidr ipv6", Options{Allow: pfx("fd00::/8")}, "fd00::1", ""},
		{"allow covers mapped", Options{Allow: pfx("127.0.0.1/32")}, "::ffff:127.0.0.1", ""},
		{"allow covers nat64", Options{Allow: pfx("10.0.0.0/8")}, "64:ff9b::a00:1", ""},
		{"allow mapped prefix", Options{Allow: pfx("::ffff:10.0.0.0/104")}, "10.9.9.9", ""},
		{"deny public", Options{Deny: pfx("8.8.8.0/24")}, "8.8.8.8", RuleDenied},
		{"deny beats allow", Options{Allow: pfx("10.0.0.0/8"), Deny: pfx("10.0.0.0/24")}, "10.0.0.5", RuleDenied},
		{"deny beats allow-private", Options{AllowPrivate: true, Deny: pfx("169.254.169.254/32")}, "169.254.169.254", RuleDenied},
		{"deny beats both", Options{AllowPrivate: true, Allow: pfx("10.0.0.0/8"), Deny: pfx("10.0.0.0/8")}, "10.0.0.1", RuleDenied},
		{"deny sees mapped", Options{AllowPrivate: true, Deny: pfx("169.254.0.0/16")}, "::ffff:169.254.169.254", RuleDenied},
		{"deny sees nat64", Options{AllowPrivate: true, Deny: pfx("169.254.0.0/16")}, "64:ff9b::a9fe:a9fe", RuleDenied},
		{"deny sees 6to4", Options{Deny: pfx("8.8.8.8/32")}, "2002:808:808::1", RuleDenied},
		{"deny embedded beats allow outer", Options{Allow: pfx("64:ff9b::/96"), Deny: pfx("10.0.0.0/8")}, "64:ff9b::a00:1", RuleDenied},
		{"deny zoned", Options{AllowPrivate: true, Deny: pfx("fe80::/10")}, "fe80::1%eth0", RuleDenied},
		{"deny other range", Options{AllowPrivate: true, Deny: pfx("10.0.0.0/8")}, "192.168.0.1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New(tt.opts).Check(netip.MustParseAddr(tt.addr))
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want allowed", tt.addr, err)
				}
				return
			}
			be, ok := errors.AsType[*BlockedError](err)
			if !ok || be.Rule != tt.rule {
				t.Fatalf("Check(%s) = %v, want rule %q", tt.addr, err, tt.rule)
			}
		})
	}
}

func TestNewCopiesOptions(t *testing.T) {
	allow := pfx("10.0.0.0/8")
	p := New(Options{Allow: allow})
	allow[0] = netip.MustParsePrefix("8.8.8.0/24")
	if err := p.Check(netip.MustParseAddr("10.1.1.1")); err != nil {
		t.Fatalf("changing Options.Allow after New changed the policy: %v", err)
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	tests := []struct {
		err  *BlockedError
		want string
	}{
		{
			&BlockedError{Addr: netip.MustParseAddr("10.0.0.5"), Rule: RulePrivate, Host: "internal.example"},
			"destination 10.0.0.5 (host internal.example) is refused: private address (RFC 1918); allow it with --destination-allow-cidrs or --allow-private-destinations",
		},
		{
			&BlockedError{Addr: netip.MustParseAddr("169.254.169.254"), Rule: RuleLinkLocal},
			"destination 169.254.169.254 is refused: link-local address (169.254.0.0/16, home of cloud metadata services); allow it with --destination-allow-cidrs or --allow-private-destinations",
		},
		{
			&BlockedError{Addr: netip.MustParseAddr("::ffff:127.0.0.1"), Rule: RuleLoopback},
			"destination ::ffff:127.0.0.1 is refused: IPv4-mapped form of 127.0.0.1: loopback address (127.0.0.0/8); allow it with --destination-allow-cidrs or --allow-private-destinations",
		},
		{
			&BlockedError{Addr: netip.MustParseAddr("64:ff9b::a00:1"), Rule: RulePrivate},
			"destination 64:ff9b::a00:1 is refused: NAT64 form of 10.0.0.1: private address (RFC 1918); allow it with --destination-allow-cidrs or --allow-private-destinations",
		},
		{
			&BlockedError{Addr: netip.MustParseAddr("8.8.8.8"), Rule: RuleDenied, Host: "dns.google"},
			"destination 8.8.8.8 (host dns.google) is refused: listed in --destination-deny-cidrs, which wins over every allow setting",
		},
		{
			&BlockedError{Host: "localhost", Rule: RuleLoopback},
			"destination localhost is refused: the name localhost always means this machine (loopback); allow it with --allow-private-destinations",
		},
		{
			&BlockedError{Addr: netip.MustParseAddr("8.8.8.8"), Rule: "custom"},
			"destination 8.8.8.8 is refused: custom address; allow it with --destination-allow-cidrs or --allow-private-destinations",
		},
	}
	for _, tt := range tests {
		if got := tt.err.Detail(); got != tt.want {
			t.Errorf("Detail() =\n  %s\nwant\n  %s", got, tt.want)
		}
	}
}

// The message tenants read names the category of the address, never the
// address or the host it was resolved from: a tenant must not learn
// Herald's network by pointing endpoints at names.
func TestBlockedErrorIsQuiet(t *testing.T) {
	tests := []struct {
		err  *BlockedError
		want string
	}{
		{&BlockedError{Addr: netip.MustParseAddr("10.0.0.5"), Rule: RulePrivate, Host: "crm.internal"}, "destination not allowed: private network address"},
		{&BlockedError{Addr: netip.MustParseAddr("169.254.169.254"), Rule: RuleLinkLocal, Host: "meta.internal"}, "destination not allowed: link-local address (where cloud metadata services live)"},
		{&BlockedError{Addr: netip.MustParseAddr("::ffff:127.0.0.1"), Rule: RuleLoopback, Host: "db.internal"}, "destination not allowed: loopback address"},
		{&BlockedError{Addr: netip.MustParseAddr("100.64.3.4"), Rule: RuleCGNAT, Host: "nat.internal"}, "destination not allowed: carrier-grade NAT address"},
		{&BlockedError{Addr: netip.MustParseAddr("8.8.8.8"), Rule: RuleDenied, Host: "dns.google"}, "destination not allowed: denied by the operator's destination list"},
		{&BlockedError{Host: "localhost", Rule: RuleLoopback}, "destination not allowed: loopback address"},
	}
	for _, tt := range tests {
		got := tt.err.Error()
		if got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if a := tt.err.Addr; a.IsValid() && (strings.Contains(got, a.String()) || strings.Contains(got, a.Unmap().String())) {
			t.Errorf("Error() = %q gives the address away", got)
		}
		if tt.err.Host != "" && strings.Contains(got, tt.err.Host) {
			t.Errorf("Error() = %q gives the host away", got)
		}
		if !strings.Contains(tt.err.Detail(), tt.err.Host) {
			t.Errorf("Detail() = %q lost the host", tt.err.Detail())
		}
	}
}

func TestParseCIDRs(t *testing.T) {
	tests := []struct {
		in      string
		want    string // prefixes joined by ","
		wantErr string // substring of the error
	}{
		{"", "", ""},
		{"  ", "", ""},
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"10.0.0.0/8, 192.168.0.0/16 ,fd00::/8", "10.0.0.0/8,192.168.0.0/16,fd00::/8", ""},
		{"127.0.0.1", "127.0.0.1/32", ""},
		{"::1", "::1/128", ""},
		{"10.1.2.3/8", "10.0.0.0/8", ""},
		{"10.0.0.0/8,", "10.0.0.0/8", ""},
		{"10.0.0.0/8,,::1", "10.0.0.0/8,::1/128", ""},
		{"10.0.0.0/8,10.0.0.300/24", "", `"10.0.0.300/24" (item 2`},
		{"10.0.0.0/33", "", `"10.0.0.0/33" (item 1`},
		{"example.com", "", `"example.com" (item 1`},
		{"fe80::1%eth0", "", `"fe80::1%eth0"`},
		{"10.0.0.0/8;192.168.0.0/16", "", `"10.0.0.0/8;192.168.0.0/16"`},
	}
	for _, tt := range tests {
		got, err := ParseCIDRs(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseCIDRs(%q) error = %v, want one containing %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCIDRs(%q) = %v", tt.in, err)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if j := strings.Join(s, ","); j != tt.want {
			t.Errorf("ParseCIDRs(%q) = %s, want %s", tt.in, j, tt.want)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	addrs := []netip.Addr{
		netip.MustParseAddr("93.184.216.34"),        // allowed: scans all IPv4 rules
		netip.MustParseAddr("2606:4700:4700::1111"), // allowed: scans all IPv6 rules
		netip.MustParseAddr("10.0.0.1"),             // blocked early
		netip.MustParseAddr("64:ff9b::a9fe:a9fe"),   // blocked through NAT64
	}
	for _, name := range []string{"default", "with-lists"} {
		p := New(Options{})
		if name == "with-lists" {
			p = New(Options{Allow: pfx("10.1.0.0/16", "fd00:1::/32"), Deny: pfx("8.8.8.0/24", "192.0.2.0/24", "2001:db8::/32")})
		}
		for _, a := range addrs {
			b.Run(name+"/"+a.String(), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = p.Check(a)
				}
			})
		}
	}
}
