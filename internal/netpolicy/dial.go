package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Resolver looks up the addresses of a host; *net.Resolver implements it.
// network is "ip", "ip4" or "ip6".
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// WithResolver returns a copy of p that resolves host names with r instead
// of net.DefaultResolver (nil restores the default). Tests use it to answer
// with chosen addresses without touching DNS.
func (p *Policy) WithResolver(r Resolver) *Policy {
	q := *p
	q.resolver = r
	return &q
}

func (p *Policy) lookup() Resolver {
	if p.resolver != nil {
		return p.resolver
	}
	return net.DefaultResolver
}

// minAttemptTimeout is the least time one address gets when a dial deadline
// is shared among several addresses, as in the net package: a shorter
// attempt would fail even on a healthy path.
const minAttemptTimeout = 2 * time.Second

// DialContext wraps base, the dialer that makes the actual connection, into
// one that enforces the policy, for the sender's Options.DialContext. A nil
// base means a net.Dialer whose Control hook is p.Control.
//
// The returned dialer resolves the host itself, checks every address it
// gets, and passes base only IP literals that passed the check, trying them
// in the resolver's order until one connects. Passing the literal, never the
// name, is what makes the check hold: were base given the name, it would
// resolve it again, and a DNS server answering a public address to the
// check and 127.0.0.1 to the connect (DNS rebinding) would get through.
// TLS is unaffected: it runs on top of the returned connection and still
// uses the host name from the URL for SNI and certificate verification.
//
// When every address is refused the error is the *BlockedError of the
// first, which reports itself as a policy error, and base is not called.
// When some addresses were allowed but none connected, the error is that of
// the first failed connection. Resolution errors are returned as the
// resolver gave them (a *net.DNSError from a *net.Resolver).
func (p *Policy) DialContext(base func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if base == nil {
		d := &net.Dialer{Control: p.Control}
		base = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var ipNet string
		switch network {
		case "tcp", "udp":
			ipNet = "ip"
		case "tcp4", "udp4":
			ipNet = "ip4"
		case "tcp6", "udp6":
			ipNet = "ip6"
		default:
			return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("netpolicy: network %q cannot be checked", network)}
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}

		// An IP literal is checked as it is and dialled as it is.
		if host == "" {
			// The net package dials the local system for an empty host.
			host = "0.0.0.0"
			if ipNet == "ip6" {
				host = "::"
			}
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			if err := p.Check(ip); err != nil {
				return nil, err
			}
			return base(ctx, network, net.JoinHostPort(ip.String(), port))
		}

		ips, err := p.lookup().LookupNetIP(ctx, ipNet, host)
		if err != nil {
			return nil, err
		}
		var (
			candidates []netip.Addr
			blocked    *BlockedError
		)
		for _, ip := range ips {
			// A resolver may hand out IPv4 answers in IPv4-mapped form;
			// the connection goes to the IPv4 address, so that is the
			// address checked and dialled.
			ip = ip.Unmap()
			if !ip.IsValid() || ipNet == "ip4" && !ip.Is4() || ipNet == "ip6" && !ip.Is6() {
				continue
			}
			if err := p.Check(ip); err != nil {
				if blocked == nil {
					blocked = err.(*BlockedError)
					blocked.Host = host
				}
				continue
			}
			candidates = append(candidates, ip)
		}
		if len(candidates) == 0 {
			if blocked != nil {
				return nil, blocked
			}
			return nil, &net.DNSError{Err: "no suitable address found", Name: host, IsNotFound: true}
		}

		var firstErr error
		for i, ip := range candidates {
			if err := ctx.Err(); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				break
			}
			actx, cancel := attemptContext(ctx, len(candidates)-i)
			c, err := base(actx, network, net.JoinHostPort(ip.String(), port))
			cancel()
			if err == nil {
				if c == nil {
					return nil, errors.New("netpolicy: base dialer returned no connection")
				}
				return c, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return nil, firstErr
	}
}

// attemptContext shares what is left of ctx's deadline among the remaining
// addresses, so that one address that never answers does not use up the
// time of all the others.
func attemptContext(ctx context.Context, remaining int) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok || remaining <= 1 {
		return ctx, func() {}
	}
	left := time.Until(dl)
	share := left / time.Duration(remaining)
	if share < minAttemptTimeout {
		share = min(minAttemptTimeout, left)
	}
	return context.WithTimeout(ctx, share)
}

// Control checks the address a socket is about to connect to, for use as
// net.Dialer.Control. It is the second line of defence: it sees the final
// address after all resolution, so even a dialer that was given a host name
// cannot connect anywhere the policy refuses. Addresses that are not IP
// socket addresses are refused, since they cannot be checked.
func (p *Policy) Control(network, address string, c syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netpolicy: cannot check %s address %q: %v", network, address, err)
	}
	return p.Check(ap.Addr())
}
