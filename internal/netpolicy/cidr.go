package netpolicy

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseCIDRs parses a comma-separated list of CIDR prefixes, the form of
// --destination-allow-cidrs and --destination-deny-cidrs. A bare IP address
// stands for itself (/32 or /128). Spaces around items and empty items are
// ignored; an empty s is an empty list. Host bits are cleared
// (10.0.0.1/8 is 10.0.0.0/8). The error names the offending item, so that a
// typo in a flag is found without guessing.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var (
			p   netip.Prefix
			err error
		)
		if strings.Contains(item, "/") {
			p, err = netip.ParsePrefix(item)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(item)
			if err == nil && a.Zone() != "" {
				err = fmt.Errorf("zones are not allowed")
			}
			if err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("invalid CIDR %q (item %d of the list): want a prefix like 10.0.0.0/8 or 2001:db8::/32, or a single IP address: %v", item, i+1, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
