package sender

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/heraldhq/herald"
)

// sendError is the error of a Result: a message that starts with the kind,
// and the underlying error, if any, for errors.Is and errors.As.
type sendError struct {
	msg string
	err error
}

func (e *sendError) Error() string { return e.msg }
func (e *sendError) Unwrap() error { return e.err }

// dialError marks a failure to establish a TCP connection (including name
// resolution), as opposed to one on a connection that was made.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// handshakeError marks a failure during the TLS handshake, whatever form the
// underlying error takes (alerts, certificate errors, a peer closing the
// connection mid-handshake, a non-TLS server).
type handshakeError struct {
	addr string
	err  error
}

func (e *handshakeError) Error() string { return "handshake with " + e.addr + ": " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// kinder is implemented by errors that know their own kind, such as a
// refusal by an address policy in Options.DialContext.
type kinder interface {
	error
	ErrorKind() herald.ErrorKind
}

// classify turns a transport error into a kind and a Result.Err. parent is
// the caller's context and reqCtx the one carrying the attempt's timeout;
// inBody reports that the response headers had already arrived.
func (s *Sender) classify(parent, reqCtx context.Context, timeout time.Duration, err error, inBody bool) (herald.ErrorKind, error) {
	// The context is consulted before the error: once it is done, the
	// transport's error is only a consequence of tearing the exchange
	// down, and its form depends on the stage it was at.
	if context.Cause(reqCtx) == errAttemptTimeout {
		msg := fmt.Sprintf("timeout: no response within %s", timeout)
		if inBody {
			msg = fmt.Sprintf("timeout: response body not complete within %s", timeout)
		}
		return herald.ErrorKindTimeout, &sendError{msg: msg, err: context.DeadlineExceeded}
	}
	if perr := parent.Err(); perr != nil {
		return herald.ErrorKindNetwork, &sendError{msg: "network: send canceled: " + perr.Error(), err: perr}
	}

	// Report the transport's error without the "Post \"url\": " wrapping;
	// the attempt record has the method and URL already.
	detail := err
	if ue, ok := errors.AsType[*url.Error](err); ok && ue.Err != nil {
		detail = ue.Err
	}
	kind, stage := kindOf(err)
	var msg string
	switch {
	case kind == herald.ErrorKindTimeout && stage == stageDial:
		msg = fmt.Sprintf("timeout: no connection within %s: %v", s.dialTimeout, detail)
	case kind == herald.ErrorKindTimeout && stage == stageHandshake:
		msg = fmt.Sprintf("timeout: TLS handshake not complete within %s: %v", s.dialTimeout, detail)
	case kind == herald.ErrorKindNetwork && inBody:
		msg = "network: reading response body: " + detail.Error()
	case kind == herald.ErrorKindNetwork && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		msg = "network: connection closed before a response arrived: " + detail.Error()
	default:
		msg = string(kind) + ": " + detail.Error()
	}
	return kind, &sendError{msg: msg, err: detail}
}

// Stages at which kindOf can place an error.
const (
	stageUnknown = iota
	stageDial
	stageHandshake
)

// kindOf classifies err by the most specific thing known about it: an
// explicit kind, the stage it happened at (dial, handshake), then its type.
func kindOf(err error) (herald.ErrorKind, int) {
	if k, ok := errors.AsType[kinder](err); ok && k.ErrorKind() != "" {
		return k.ErrorKind(), stageUnknown
	}
	if he, ok := errors.AsType[*handshakeError](err); ok {
		if isTimeout(he.err) {
			return herald.ErrorKindTimeout, stageHandshake
		}
		return herald.ErrorKindTLS, stageHandshake
	}
	if de, ok := errors.AsType[*dialError](err); ok {
		switch {
		case isDNS(de.err):
			// Even a resolver timeout: the name did not resolve.
			return herald.ErrorKindDNS, stageDial
		case isTimeout(de.err):
			return herald.ErrorKindTimeout, stageDial
		}
		return herald.ErrorKindConnect, stageDial
	}
	// Below: errors that did not come through this package's dialers.
	switch {
	case isTLS(err):
		return herald.ErrorKindTLS, stageUnknown
	case isDNS(err):
		return herald.ErrorKindDNS, stageUnknown
	case isDial(err):
		return herald.ErrorKindConnect, stageUnknown
	case isTimeout(err):
		return herald.ErrorKindTimeout, stageUnknown
	}
	return herald.ErrorKindNetwork, stageUnknown
}

func isDNS(err error) bool {
	_, ok := errors.AsType[*net.DNSError](err)
	return ok
}

func isDial(err error) bool {
	oe, ok := errors.AsType[*net.OpError](err)
	return ok && oe.Op == "dial"
}

func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

func isTLS(err error) bool {
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.AlertError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return true
	}
	return false
}
