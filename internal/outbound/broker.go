package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/netpolicy"
)

// A Kind is one destination kind beyond HTTP (NATS, RabbitMQ, ...): it
// checks an endpoint's destination fields and opens clients of it. The
// kinds live in package broker; everything they share (rendering,
// signing, pooling, recording, error kinds) lives here, so that a kind is
// only what talks to its broker.
type Kind interface {
	// Name is the endpoint kind, one of herald.BrokerKinds.
	Name() string
	// Check validates the destination's fields for this kind when an
	// endpoint is saved; reachability and logins are checked at delivery.
	// A problem is a *shape.FieldError naming the field
	// ("destination.subject").
	// Template fields are checked as they are, tags and all.
	Check(d *herald.Destination) error
	// Hosts returns the host:port addresses a client of the destination
	// dials, for the destination policy on save (a cloud kind without
	// Endpoint set returns its service's address).
	Hosts(d *herald.Destination) []string
	// Open makes a client of the destination. It should not block long:
	// connecting may wait for the first Publish. Every connection the
	// client makes goes through env.Dial or env.HTTP.
	Open(ctx context.Context, d *herald.Destination, env Env) (Client, error)
}

// Env is what a kind's clients get from Herald.
type Env struct {
	// Dial connects through the destination policy (a private address is
	// refused unless allowed). Clients must make every connection with it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// HTTP is a client whose transport dials through Dial, for kinds
	// whose service speaks HTTP (SQS).
	HTTP *http.Client
	// Timeout bounds connecting; a Publish is bounded by its context.
	Timeout time.Duration
}

// A Client publishes to one destination; the pool keeps one per endpoint
// version and shares it between that endpoint's concurrent deliveries, so
// it must be safe for concurrent use.
type Client interface {
	// Publish sends m and returns once the destination acknowledged it
	// (JetStream ack, publisher confirm, acks=all, PUBACK, XADD's entry
	// id, Pub/Sub's or SQS's message id), with that acknowledgement in a
	// few words for the history ("stream ORDERS seq 12"). A message not
	// acknowledged is an error: the delivery is retried.
	Publish(ctx context.Context, m *Message) (ack string, err error)
	// Close releases the client's connections.
	Close() error
}

// Message is one attempt's message. Its template fields already filled in,
// Dest says where it goes; the headers and body are those the endpoint's
// HTTP request would carry.
type Message struct {
	Dest *herald.Destination
	// ID is the delivery id, also the webhook-id header: the same on
	// every attempt, for consumers to drop duplicates.
	ID string
	// Headers, lower-case names: webhook-id, webhook-timestamp,
	// webhook-signature (Standard Webhooks), content-type, and the
	// endpoint's own headers. Kinds carry them in their own way (NATS
	// and Kafka headers, AMQP and MQTT 5 properties, Pub/Sub and SQS
	// attributes, Redis stream fields).
	Headers []Header
	Body    []byte
}

// Header is one message header.
type Header struct{ Name, Value string }

// Fail gives a publish error the error kind its attempt records (auth for
// a refused login, rejected for a negative acknowledgement, ...). Errors a
// kind does not mark are classified from what they wrap: a refused
// address is policy, a failed dial connect, a TLS failure tls, a deadline
// timeout, anything else network.
func Fail(kind herald.ErrorKind, err error) error {
	if err == nil {
		return nil
	}
	return &KindError{Kind: kind, Err: err}
}

// KindError is an error with the error kind its attempt records.
type KindError struct {
	Kind herald.ErrorKind
	Err  error
}

func (e *KindError) Error() string { return e.Err.Error() }
func (e *KindError) Unwrap() error { return e.Err }

// ErrorKindOf returns the error kind an attempt that failed with err
// records.
func ErrorKindOf(err error) herald.ErrorKind {
	if ke, ok := errors.AsType[*KindError](err); ok {
		return ke.Kind
	}
	return classifyNet(err)
}

// classifyNet gives an error no kind marked the error kind of what it
// wraps.
func classifyNet(err error) herald.ErrorKind {
	if _, ok := errors.AsType[*netpolicy.BlockedError](err); ok {
		return herald.ErrorKindPolicy
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return herald.ErrorKindDNS
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return herald.ErrorKindTimeout
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return herald.ErrorKindTimeout
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		return herald.ErrorKindConnect
	}
	if isTLSError(err) {
		return herald.ErrorKindTLS
	}
	return herald.ErrorKindNetwork
}

func isTLSError(err error) bool {
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
	_, ok := errors.AsType[x509.HostnameError](err)
	return ok
}
