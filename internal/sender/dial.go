package sender

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
)

// errNilConn is reported when a replacement dialer returns neither a
// connection nor an error.
var errNilConn = errors.New("dialer returned no connection")

// dialPlain establishes a TCP connection within the dial timeout. The
// transport detaches dials from the request's context (a connection may
// serve a later request), so without this bound a stalled dial could outlive
// the request by far.
func (s *Sender) dialPlain(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.dialTimeout)
	defer cancel()
	return s.dialTCP(ctx, network, addr)
}

func (s *Sender) dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := s.dial(ctx, network, addr)
	if err != nil {
		return nil, &dialError{err: err}
	}
	if c == nil {
		return nil, &dialError{err: errNilConn}
	}
	return c, nil
}

// dialTLS establishes a TCP connection and completes the TLS handshake on it,
// both within the dial timeout. Handshake failures are marked as such so they
// are reported as TLS failures whatever their underlying form.
func (s *Sender) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.dialTimeout)
	defer cancel()
	raw, err := s.dialTCP(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := s.tlsConfig
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			raw.Close()
			return nil, &dialError{err: err}
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, &handshakeError{addr: addr, err: err}
	}
	return tc, nil
}
