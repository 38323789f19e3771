package store

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

// Errors of a store that cannot be reached or cannot write. They are the
// server's trouble, not the caller's: the API answers them 503 with
// Retry-After. Drivers' classifiers (and Guard) return an
// *UnavailableError, which errors.Is matches against these.
var (
	// ErrUnavailable: the store could not be reached, did not answer in
	// time, or could not commit.
	ErrUnavailable = errors.New("store unavailable")
	// ErrFull: the storage has no space left (also ErrUnavailable).
	ErrFull = errors.New("storage full")
	// ErrNotWritable: the store answers reads but refuses writes (disk
	// full, read-only file system, I/O error); also ErrUnavailable.
	ErrNotWritable = errors.New("store not writable")
	// ErrMaybeCommitted: the write was sent but its outcome is unknown
	// (the connection broke or the deadline passed during the call): it
	// may have been stored. Also ErrUnavailable.
	ErrMaybeCommitted = errors.New("the write may have been committed")
)

// UnavailableError is a failure to reach or commit to the store, with
// what is known of it.
type UnavailableError struct {
	// Cause is the driver's error; its text may name hosts, users and
	// files, so it goes to logs, never to clients.
	Cause error
	// Full: no space left on the storage.
	Full bool
	// NotWritable: reads may work, writes do not (Full implies it).
	NotWritable bool
	// MaybeCommitted: a write may have been committed before the failure.
	MaybeCommitted bool
}

// Error describes the failure with its cause.
func (e *UnavailableError) Error() string {
	what := "store unavailable"
	switch {
	case e.Full:
		what = "storage full"
	case e.NotWritable:
		what = "store not writable"
	}
	if e.MaybeCommitted {
		what += " (the write may have been committed)"
	}
	if e.Cause == nil {
		return what
	}
	return what + ": " + e.Cause.Error()
}

// Unwrap makes errors.Is match ErrUnavailable and, as they apply,
// ErrFull, ErrNotWritable and ErrMaybeCommitted, besides the cause.
func (e *UnavailableError) Unwrap() []error {
	errs := []error{ErrUnavailable}
	if e.Full {
		errs = append(errs, ErrFull)
	}
	if e.Full || e.NotWritable {
		errs = append(errs, ErrNotWritable)
	}
	if e.MaybeCommitted {
		errs = append(errs, ErrMaybeCommitted)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// Unavailable wraps cause as an *UnavailableError.
func Unavailable(cause error) *UnavailableError { return &UnavailableError{Cause: cause} }

// ClassifyNetwork recognises the failures of reaching a store over the
// network, whatever the driver: refused or reset connections, a network
// that is down, connections cut in the middle of an answer. It returns
// an *UnavailableError for them and err unchanged otherwise.
func ClassifyNetwork(err error) error {
	if err == nil {
		return nil
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return err
	}
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Unavailable(err)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, net.ErrClosed),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return Unavailable(err)
	case errors.As(err, &oe), errors.As(err, &ne) && ne.Timeout():
		return Unavailable(err)
	}
	return err
}
