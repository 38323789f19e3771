package netpolicy

import (
	"errors"
	"net"
	"net/netip"
	"net/url"
	"testing"

	"github.com/heraldhq/herald"
)

func TestCheckURL(t *testing.T) {
	def := New(Options{})
	allowPrivate := New(Options{AllowPrivate: true})
	allowLoop := New(Options{Allow: pfx("127.0.0.0/8")})
	denyLoop := New(Options{AllowPrivate: true, Deny: pfx("127.0.0.0/8", "::1/128")})
	tests := []struct {
		name string
		p    *Policy
		url  string
		rule string // "" means accepted
		addr string // the refused address, when rule is set
	}{
		// Host names are not resolved here, whatever they resolve to.
		{"hostname", def, "https://hooks.example.com/in", "", ""},
		{"hostname resolving to loopback", def, "http://127.0.0.1.nip.io/", "", ""},
		{"public literal", def, "https://93.184.216.34/hook", "", ""},
		{"public ipv6 literal", def, "https://[2606:4700:4700::1111]:8443/", "", ""},
		{"public decimal", def, "http://1572395042/", "", ""}, // 93.184.216.34

		{"loopback", def, "http://127.0.0.1:8080/", RuleLoopback, "127.0.0.1"},
		{"loopback other", def, "http://127.1.2.3/", RuleLoopback, "127.1.2.3"},
		{"private", def, "https://10.0.0.5/x", RulePrivate, "10.0.0.5"},
		{"metadata", def, "http://169.254.169.254/latest/meta-data/", RuleLinkLocal, "169.254.169.254"},
		{"unspecified", def, "http://0.0.0.0:9000/", RuleUnspecified, "0.0.0.0"},
		{"ipv6 loopback", def, "http://[::1]/", RuleLoopback, "::1"},
		{"ipv6 unspecified", def, "http://[::]:80/", RuleUnspecified, "::"},
		{"ipv6 ula", def, "http://[fd00::1]/", RulePrivate, "fd00::1"},
		{"ipv6 link-local zone", def, "http://[fe80::1%25eth0]/", RuleLinkLocal, "fe80::1%eth0"},
		{"mapped", def, "http://[::ffff:127.0.0.1]/", RuleLoopback, "::ffff:127.0.0.1"},
		{"mapped hex", def, "http://[::ffff:7f00:1]/", RuleLoopback, "::ffff:127.0.0.1"},
		{"nat64", def, "http://[64:ff9b::a9fe:a9fe]/", RuleLinkLocal, "64:ff9b::a9fe:a9fe"},
		{"6to4", def, "http://[2002:a00:1::1]/", RulePrivate, "2002:a00:1::1"},

		// Numeric forms that inet_aton and URL parsers turn into IPs.
		{"decimal", def, "http://2130706433/", RuleLoopback, "127.0.0.1"},
		{"hex whole", def, "http://0x7f000001/", RuleLoopback, "127.0.0.1"},
		{"hex first", def, "http://0x7f.0.0.1/", RuleLoopback, "127.0.0.1"},
		{"hex upper", def, "http://0X7F.0X0.0X0.0X1/", RuleLoopback, "127.0.0.1"},
		{"octal", def, "http://0177.0.0.1/", RuleLoopback, "127.0.0.1"},
		{"octal padded", def, "http://0177.0000.0000.0001/", RuleLoopback, "127.0.0.1"},
		{"short", def, "http://127.1/", RuleLoopback, "127.0.0.1"},
		{"three parts", def, "http://10.1.256/", RulePrivate, "10.1.1.0"},
		{"metadata decimal", def, "http://2852039166/", RuleLinkLocal, "169.254.169.254"},
		{"metadata mixed", def, "http://0xa9.254.0251.0376/", RuleLinkLocal, "169.254.169.254"},
		{"zero", def, "http://0/", RuleUnspecified, "0.0.0.0"},
		{"trailing dot", def, "http://127.0.0.1./", RuleLoopback, "127.0.0.1"},
		{"fullwidth", def, "http://１２７.０.０.１/", RuleLoopback, "127.0.0.1"},
		{"ideographic dots", def, "http://127。0。0。1/", RuleLoopback, "127.0.0.1"},
		{"not numeric: too many parts", def, "http://1.2.3.4.5/", "", ""},
		{"not numeric: bad octal", def, "http://0189.0.0.1/", "", ""},
		{"not numeric: too big", def, "http://4294967296/", "", ""},
		{"not numeric: part too big", def, "http://256.0.0.1/", "", ""},
		{"not numeric: letters", def, "http://0x7g.0.0.1/", "", ""},

		// localhost names stand for the loopback address.
		{"localhost", def, "http://localhost:3000/", RuleLoopback, "127.0.0.1"},
		{"localhost upper", def, "http://LOCALHOST/", RuleLoopback, "127.0.0.1"},
		{"localhost dot", def, "http://localhost./", RuleLoopback, "127.0.0.1"},
		{"sub.localhost", def, "http://api.localhost/", RuleLoopback, "127.0.0.1"},
		{"not localhost", def, "http://localhost.example.com/", "", ""},
		{"not localhost 2", def, "http://mylocalhost/", "", ""},

		// Opening up, and Deny winning.
		{"allow-private loopback", allowPrivate, "http://127.0.0.1:8080/", "", ""},
		{"allow-private localhost", allowPrivate, "http://localhost:8080/", "", ""},
		{"allow-private numeric", allowPrivate, "http://2130706433/", "", ""},
		{"allow cidr localhost", allowLoop, "http://localhost/", "", ""},
		{"allow cidr literal", allowLoop, "http://127.0.0.1/", "", ""},
		{"allow cidr other", allowLoop, "http://10.0.0.1/", RulePrivate, "10.0.0.1"},
		{"deny localhost", denyLoop, "http://localhost/", RuleDenied, "127.0.0.1"},
		{"deny literal", denyLoop, "http://[::1]/", RuleDenied, "::1"},
		{"deny numeric", denyLoop, "http://0x7f.1/", RuleDenied, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.CheckURL(tt.url)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			be, ok := errors.AsType[*BlockedError](err)
			if !ok {
				t.Fatalf("CheckURL(%q) = %v, want *BlockedError", tt.url, err)
			}
			if be.Rule != tt.rule || be.Addr.String() != tt.addr {
				t.Fatalf("CheckURL(%q) = rule %q addr %s, want rule %q addr %s (%v)", tt.url, be.Rule, be.Addr, tt.rule, tt.addr, err)
			}
			if be.ErrorKind() != herald.ErrorKindPolicy {
				t.Fatalf("ErrorKind = %q", be.ErrorKind())
			}
		})
	}
}

func TestCheckURLDetailNamesHost(t *testing.T) {
	err := New(Options{}).CheckURL("http://0x7f.0.0.1/")
	want := "destination 127.0.0.1 (host 0x7f.0.0.1) is refused: loopback address (127.0.0.0/8); allow it with --destination-allow-cidrs or --allow-private-destinations"
	if be, ok := errors.AsType[*BlockedError](err); !ok || be.Detail() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	err = New(Options{}).CheckURL("http://127.0.0.1/")
	want = "destination 127.0.0.1 is refused: loopback address (127.0.0.0/8); allow it with --destination-allow-cidrs or --allow-private-destinations"
	if be, ok := errors.AsType[*BlockedError](err); !ok || be.Detail() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestCheckURLUnparsable(t *testing.T) {
	if err := New(Options{AllowPrivate: true}).CheckURL("http://[::1"); err == nil {
		t.Fatal("CheckURL accepted a URL that does not parse")
	}
}

// FuzzCheckURL checks that CheckURL never panics and that no URL Herald
// would accept as an endpoint gets a literal loopback or private address
// past the default policy. Whether the host is such a literal is decided
// with the standard library's parsers and predicates, independently of
// the package's own tables.
func FuzzCheckURL(f *testing.F) {
	seeds := []string{
		"https://hooks.example.com/in",      // a host name: accepted
		"http://127.0.0.1:8080/",            // loopback literal
		"http://10.0.0.5/",                  // RFC 1918
		"http://[::1]/",                     // IPv6 loopback
		"http://[fd00::1]:9000/x",           // IPv6 unique local
		"http://[::ffff:192.168.0.1]/",      // IPv4-mapped private
		"http://[64:ff9b::7f00:1]/",         // NAT64 of loopback
		"http://[2002:a00:1::]/",            // 6to4 of 10.0.0.1
		"http://169.254.169.254/latest/",    // cloud metadata
		"http://2130706433/",                // decimal 127.0.0.1
		"http://0x7f.0.0.1/",                // hex first part
		"http://0177.0.0.1/",                // octal first part
		"http://127.1/",                     // two-part form
		"http://localhost:3000/",            // localhost
		"http://a.localhost./",              // *.localhost with trailing dot
		"http://１２７.０.０.１/",                 // full-width digits
		"http://[fe80::1%25en0]/",           // zoned link-local
		"http://0xffffffffffffffffffffff/",  // overflowing hex
		"http://1.2.3.4.5.6/",               // too many parts
		"https://%zz/",                      // bad escape
		"http://[::1",                       // unterminated bracket
		"http://user:pw@10.0.0.1/",          // credentials (ValidateURL refuses)
		"http://93.184.216.34:65535/?q=1#f", // public literal with port
	}
	for _, s := range seeds {
		f.Add(s)
	}
	def := New(Options{})
	f.Fuzz(func(t *testing.T, raw string) {
		err := def.CheckURL(raw)
		_ = New(Options{AllowPrivate: true}).CheckURL(raw)
		if herald.ValidateURL(raw) != nil {
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("ValidateURL accepted %q but url.Parse fails: %v", raw, perr)
		}
		host := u.Hostname()
		var literal []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			literal = append(literal, a.WithZone("").Unmap())
		}
		if ip := net.ParseIP(host); ip != nil {
			if a, ok := netip.AddrFromSlice(ip); ok {
				literal = append(literal, a.Unmap())
			}
		}
		for _, a := range literal {
			if (a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast()) && err == nil {
				t.Fatalf("CheckURL(%q) accepted literal %s under the default policy", raw, a)
			}
		}
		if err != nil {
			if _, ok := errors.AsType[*BlockedError](err); !ok {
				t.Fatalf("CheckURL(%q) = %v (%T) for a URL ValidateURL accepts, want nil or *BlockedError", raw, err, err)
			}
		}
	})
}
