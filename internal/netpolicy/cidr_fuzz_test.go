package netpolicy

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseCIDRs: --destination-allow-cidrs and --destination-deny-cidrs
// decide what tenants' endpoints reach. Never panics; what it accepts is
// one valid, masked prefix per non-empty item, containing the item's
// address, and the prefixes printed parse back to themselves.
func FuzzParseCIDRs(f *testing.F) {
	f.Add("10.0.0.0/8, 192.168.0.0/16 ,fd00::/8") // the documented form
	f.Add("127.0.0.1,::1")                        // bare addresses
	f.Add("10.1.2.3/8")                           // host bits set
	f.Add("10.0.0.0/8,,")                         // empty items
	f.Add("::ffff:10.0.0.0/104")                  // IPv4-mapped
	f.Add("0.0.0.0/0,::/0")                       // everything
	f.Add("fe80::1%eth0,fe80::/10%eth0")          // zones
	f.Add("10.0.0.0/33,10.0.0.0/-1,10.0.0.0/08")  // prefix lengths out of range
	f.Add("010.0.0.1,1.2.3,example.com")          // forms net/netip refuses
	f.Add("10.0.0.0/8;192.168.0.0/16")            // the wrong separator
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCIDRs(s)
		if err != nil {
			if got != nil || !strings.Contains(err.Error(), "(item ") {
				t.Fatalf("ParseCIDRs(%q) = %v, %v", s, got, err)
			}
			return
		}
		var items []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		if len(got) != len(items) {
			t.Fatalf("ParseCIDRs(%q) gave %d prefixes for %d items", s, len(got), len(items))
		}
		printed := make([]string, len(got))
		for i, p := range got {
			if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" {
				t.Fatalf("ParseCIDRs(%q) gave %v", s, p)
			}
			a, _, _ := strings.Cut(items[i], "/")
			if addr, err := netip.ParseAddr(a); err != nil || !p.Contains(addr) {
				t.Fatalf("ParseCIDRs(%q): %v does not contain %s", s, p, a)
			}
			printed[i] = p.String()
		}
		again, err := ParseCIDRs(strings.Join(printed, ","))
		if err != nil || len(again) != len(got) {
			t.Fatalf("printed %q of %q: %v, %v", printed, s, again, err)
		}
		for i := range got {
			if again[i] != got[i] {
				t.Fatalf("printed %q of %q parses to %v", printed, s, again)
			}
		}
	})
}
