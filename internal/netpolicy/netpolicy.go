// Package netpolicy decides which network addresses Herald may deliver to.
//
// Herald sends HTTP requests to URLs its customers choose, so without a
// policy anyone who can create an endpoint can make Herald reach what only
// Herald can reach: its own loopback services, the private network it runs
// in, or a cloud metadata service at 169.254.169.254 (server-side request
// forgery). By default every address that is not globally routable is
// refused; operators can open ranges up (Options.Allow, AllowPrivate) and
// close others (Options.Deny, which always wins).
//
// The decisive check happens when connecting, not when an endpoint is
// created: a host name can resolve to anything, and to something else
// tomorrow, so only the address actually dialled can be trusted. DialContext
// resolves the name itself, checks every address, and dials the checked IP
// literal, so no second lookup can slip in between check and connect (DNS
// rebinding). CheckURL is the early, cheap check for endpoint creation that
// catches the obvious cases (literal IPs, localhost) while the customer is
// still there to read the error.
package netpolicy

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/heraldhq/herald"
)

// Rule names reported in BlockedError.Rule.
const (
	RuleLoopback      = "loopback"
	RulePrivate       = "private"
	RuleLinkLocal     = "link-local"
	RuleCGNAT         = "cgnat"
	RuleMulticast     = "multicast"
	RuleUnspecified   = "unspecified"
	RuleBroadcast     = "broadcast"
	RuleDocumentation = "documentation"
	RuleBenchmarking  = "benchmarking"
	RuleReserved      = "reserved"
	// RuleDenied is an address listed in Options.Deny.
	RuleDenied = "denied"
	// RuleInvalid is the zero netip.Addr, which is no destination at all.
	RuleInvalid = "invalid"
)

// rule is one blocked range. The first matching rule of a table names the
// refusal, so more specific ranges come before the ranges containing them.
type rule struct {
	prefix netip.Prefix
	name   string
	desc   string
}

func r(cidr, name, desc string) rule {
	return rule{prefix: netip.MustParsePrefix(cidr), name: name, desc: desc}
}

// rules4 are the IPv4 ranges that are not globally reachable, after the IANA
// IPv4 Special-Purpose Address Registry. Special-purpose ranges that are
// globally reachable (AS112, AMT) are left out: they are real destinations.
var rules4 = []rule{
	r("0.0.0.0/32", RuleUnspecified, "unspecified address (0.0.0.0, which reaches this machine)"),
	r("0.0.0.0/8", RuleReserved, `"this network" address (0.0.0.0/8)`),
	r("10.0.0.0/8", RulePrivate, "private address (RFC 1918)"),
	r("100.64.0.0/10", RuleCGNAT, "carrier-grade NAT shared address (100.64.0.0/10)"),
	r("127.0.0.0/8", RuleLoopback, "loopback address (127.0.0.0/8)"),
	r("169.254.0.0/16", RuleLinkLocal, "link-local address (169.254.0.0/16, home of cloud metadata services)"),
	r("172.16.0.0/12", RulePrivate, "private address (RFC 1918)"),
	r("192.0.0.0/24", RuleReserved, "IETF protocol assignment (192.0.0.0/24)"),
	r("192.0.2.0/24", RuleDocumentation, "documentation address (TEST-NET-1, 192.0.2.0/24)"),
	r("192.88.99.0/24", RuleReserved, "deprecated 6to4 relay anycast address (192.88.99.0/24)"),
	r("192.168.0.0/16", RulePrivate, "private address (RFC 1918)"),
	r("198.18.0.0/15", RuleBenchmarking, "benchmarking address (198.18.0.0/15)"),
	r("198.51.100.0/24", RuleDocumentation, "documentation address (TEST-NET-2, 198.51.100.0/24)"),
	r("203.0.113.0/24", RuleDocumentation, "documentation address (TEST-NET-3, 203.0.113.0/24)"),
	r("224.0.0.0/4", RuleMulticast, "multicast address (224.0.0.0/4)"),
	r("255.255.255.255/32", RuleBroadcast, "limited broadcast address (255.255.255.255)"),
	r("240.0.0.0/4", RuleReserved, "reserved address (240.0.0.0/4)"),
}

// rules6 are the IPv6 ranges that are not globally reachable, after the IANA
// IPv6 Special-Purpose Address Registry. The forms that embed an IPv4
// address (IPv4-mapped, NAT64 64:ff9b::/96, 6to4) are not here: they are
// judged by the IPv4 address they lead to (see embedded4).
var rules6 = []rule{
	r("::/128", RuleUnspecified, "unspecified address (::, which reaches this machine)"),
	r("::1/128", RuleLoopback, "loopback address (::1)"),
	r("64:ff9b:1::/48", RuleReserved, "local-use NAT64 address (64:ff9b:1::/48)"),
	r("::/8", RuleReserved, "reserved address (::/8, including deprecated IPv4-compatible forms)"),
	r("100::/64", RuleReserved, "discard-only address (100::/64)"),
	r("2001:2::/48", RuleBenchmarking, "benchmarking address (2001:2::/48)"),
	r("2001::/23", RuleReserved, "IETF protocol assignment (2001::/23, including Teredo 2001::/32)"),
	r("2001:db8::/32", RuleDocumentation, "documentation address (2001:db8::/32)"),
	r("3fff::/20", RuleDocumentation, "documentation address (3fff::/20)"),
	r("fc00::/7", RulePrivate, "unique local address (fc00::/7)"),
	r("fe80::/10", RuleLinkLocal, "link-local address (fe80::/10)"),
	r("fec0::/10", RulePrivate, "deprecated site-local address (fec0::/10)"),
	r("ff00::/8", RuleMulticast, "multicast address (ff00::/8)"),
}

// globalUnicast6 is the only IPv6 range from which globally reachable unicast
// addresses are assigned; everything outside it that no rule names is still
// reserved by the IETF and has no business being a webhook destination.
var globalUnicast6 = rule{
	prefix: netip.MustParsePrefix("2000::/3"),
	name:   RuleReserved,
	desc:   "reserved address (outside the global unicast range 2000::/3)",
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// classify returns the rule that blocks a, which must be valid and have no
// zone, or nil when a is globally reachable. IPv6 forms that embed an IPv4
// address are not looked into here.
func classify(a netip.Addr) *rule {
	if a.Is4() {
		for i := range rules4 {
			if rules4[i].prefix.Contains(a) {
				return &rules4[i]
			}
		}
		return nil
	}
	for i := range rules6 {
		if rules6[i].prefix.Contains(a) {
			return &rules6[i]
		}
	}
	if !globalUnicast6.prefix.Contains(a) {
		return &globalUnicast6
	}
	return nil
}

// embedded4 returns the IPv4 address that packets to a actually reach when a
// is an IPv6 form standing for an IPv4 destination: IPv4-mapped addresses
// (the kernel connects to the IPv4 address), the NAT64 well-known prefix (a
// translator forwards to the IPv4 address) and 6to4 (a relay tunnels to the
// IPv4 address). Checking only the IPv6 form would let ::ffff:127.0.0.1 or
// 64:ff9b::a9fe:a9fe through.
func embedded4(a netip.Addr) (v4 netip.Addr, form string, ok bool) {
	if !a.Is6() {
		return netip.Addr{}, "", false
	}
	b := a.As16()
	switch {
	case a.Is4In6():
		return a.Unmap(), "IPv4-mapped", true
	case nat64Prefix.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	}
	return netip.Addr{}, "", false
}

// Options configure a Policy. The zero value is the safe default: only
// globally reachable addresses.
type Options struct {
	// AllowPrivate allows every address except those in Deny
	// (--allow-private-destinations). It is meant for local development
	// and tests, where receivers run on loopback or a private network.
	AllowPrivate bool
	// Allow lists ranges that are allowed even though a rule blocks them
	// (--destination-allow-cidrs), e.g. one internal receiver.
	Allow []netip.Prefix
	// Deny lists ranges that are always refused
	// (--destination-deny-cidrs), even when Allow or AllowPrivate would let
	// them through, so an operator can fence off what must never be
	// reached whatever else is configured.
	Deny []netip.Prefix
}

// Policy decides whether Herald may connect to an address. It is immutable
// and safe for concurrent use.
type Policy struct {
	allowPrivate bool
	allow        []netip.Prefix
	deny         []netip.Prefix
	resolver     Resolver
}

// New returns a Policy for o. The prefix lists are copied and normalised
// (masked; IPv4-mapped IPv6 prefixes become IPv4 prefixes, since that is how
// addresses are compared); invalid prefixes are ignored.
func New(o Options) *Policy {
	return &Policy{
		allowPrivate: o.AllowPrivate,
		allow:        normalize(o.Allow),
		deny:         normalize(o.Deny),
	}
}

func normalize(in []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range in {
		if !p.IsValid() {
			continue
		}
		a := p.Addr().WithZone("")
		bits := p.Bits()
		if a.Is4In6() && bits >= 96 {
			a, bits = a.Unmap(), bits-96
		}
		out = append(out, netip.PrefixFrom(a, bits).Masked())
	}
	return out
}

func contains(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Check reports whether Herald may connect to addr: nil, or a *BlockedError
// naming the rule that refuses it. Deny is consulted first and wins; then an
// address in Allow, or any address under AllowPrivate, is allowed; otherwise
// the built-in rules decide. An IPv6 form embedding an IPv4 address is
// judged by that IPv4 address as well, for Deny, Allow and the rules alike.
// Check is pure: it does no I/O.
func (p *Policy) Check(addr netip.Addr) error {
	if !addr.IsValid() {
		return &BlockedError{Addr: addr, Rule: RuleInvalid}
	}
	// Zones only say which interface to use; they do not change where the
	// address is (and netip.Prefix never contains a zoned address).
	a := addr.WithZone("")
	v4, _, hasV4 := embedded4(a)
	if contains(p.deny, a) || hasV4 && contains(p.deny, v4) {
		return &BlockedError{Addr: addr, Rule: RuleDenied}
	}
	if p.allowPrivate || contains(p.allow, a) {
		return nil
	}
	if hasV4 {
		if contains(p.allow, v4) {
			return nil
		}
		a = v4
	}
	if rl := classify(a); rl != nil {
		return &BlockedError{Addr: addr, Rule: rl.name}
	}
	return nil
}

// BlockedError is a refusal by the policy. It reports itself as a policy
// error (ErrorKind), so the sender records the attempt as Herald's own
// refusal rather than as a failure to connect, and the delivery engine does
// not mistake it for a receiver that is down.
//
// Its message (Error) goes to tenants, in API errors and attempt records,
// so it names only the category of address: echoing the address a name
// resolved to, or the name behind an address, would let anyone who can
// save an endpoint map the network Herald runs in. Detail has everything,
// for the operator's log.
type BlockedError struct {
	// Addr is the refused address; it is the zero Addr when a host name was
	// refused without resolving it.
	Addr netip.Addr
	// Rule names the rule that refused it, e.g. "private" or "denied".
	Rule string
	// Host is the host name Addr was resolved from, if any.
	Host string
}

// ErrorKind reports herald.ErrorKindPolicy.
func (e *BlockedError) ErrorKind() herald.ErrorKind { return herald.ErrorKindPolicy }

// categories say, in a tenant's terms, what kind of address a rule refuses,
// without the range (a range would narrow down the address).
var categories = map[string]string{
	RuleLoopback:      "loopback address",
	RulePrivate:       "private network address",
	RuleLinkLocal:     "link-local address (where cloud metadata services live)",
	RuleCGNAT:         "carrier-grade NAT address",
	RuleMulticast:     "multicast address",
	RuleUnspecified:   "unspecified address",
	RuleBroadcast:     "broadcast address",
	RuleDocumentation: "documentation address",
	RuleBenchmarking:  "benchmarking address",
	RuleReserved:      "reserved address",
	RuleDenied:        "denied by the operator's destination list",
	RuleInvalid:       "no valid address",
}

// Error says that the destination is not allowed and the category of its
// address, e.g. "destination not allowed: private network address", and
// nothing that identifies the address.
func (e *BlockedError) Error() string {
	c, ok := categories[e.Rule]
	if !ok {
		c = e.Rule + " address"
	}
	return "destination not allowed: " + c
}

// Detail describes the refusal for the operator: the address, the host it
// was resolved from, the rule and how to lift it, e.g. "destination
// 10.0.0.5 (host internal.example) is refused: private address (RFC 1918);
// allow it with --destination-allow-cidrs or --allow-private-destinations".
func (e *BlockedError) Detail() string {
	var b strings.Builder
	b.WriteString("destination ")
	switch {
	case e.Addr.IsValid():
		b.WriteString(e.Addr.String())
		if e.Host != "" {
			fmt.Fprintf(&b, " (host %s)", e.Host)
		}
	case e.Host != "":
		b.WriteString(e.Host)
	default:
		b.WriteString("(none)")
	}
	b.WriteString(" is refused: ")
	switch e.Rule {
	case RuleDenied:
		b.WriteString("listed in --destination-deny-cidrs, which wins over every allow setting")
		return b.String()
	case RuleInvalid:
		b.WriteString("no valid address")
		return b.String()
	}
	b.WriteString(describe(e.Addr, e.Host, e.Rule))
	if e.Addr.IsValid() {
		b.WriteString("; allow it with --destination-allow-cidrs or --allow-private-destinations")
	} else {
		b.WriteString("; allow it with --allow-private-destinations")
	}
	return b.String()
}

// LogValue gives the operator's log what Error leaves out: the address,
// the host it came from, the rule and the Detail.
func (e *BlockedError) LogValue() slog.Value {
	addr := ""
	if e.Addr.IsValid() {
		addr = e.Addr.String()
	}
	return slog.GroupValue(slog.String("address", addr), slog.String("host", e.Host),
		slog.String("rule", e.Rule), slog.String("detail", e.Detail()))
}

// describe explains why rule refuses a, computed from the fields alone so
// that a BlockedError built by hand reads as well as one from Check.
func describe(a netip.Addr, host, name string) string {
	if !a.IsValid() {
		if host != "" && name == RuleLoopback {
			return "the name " + host + " always means this machine (loopback)"
		}
		return name + " destination"
	}
	a = a.WithZone("")
	if v4, form, ok := embedded4(a); ok {
		if rl := classify(v4); rl != nil && rl.name == name {
			return fmt.Sprintf("%s form of %s: %s", form, v4, rl.desc)
		}
	} else if rl := classify(a); rl != nil && rl.name == name {
		return rl.desc
	}
	return name + " address"
}
