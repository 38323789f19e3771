package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/store"
)

// Classify turns the errors of a server that cannot be reached, is
// shutting down or starting, refuses writes or has no space into
// *store.UnavailableError, and returns any other error unchanged. A
// failure after the request may have reached the server leaves a write's
// outcome unknown (MaybeCommitted).
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var ue *store.UnavailableError
	if errors.As(err, &ue) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			return &store.UnavailableError{Cause: err, Full: true, NotWritable: true}
		case pe.Code == "25006", pe.Code == "58030": // read_only_sql_transaction, io_error
			return &store.UnavailableError{Cause: err, NotWritable: true}
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // admin or crash shutdown, cannot connect now
			pe.Code == "57P05",               // idle session timeout
			strings.HasPrefix(pe.Code, "53"), // insufficient resources
			pe.Code == "57014":               // query_canceled (by the deadline)
			return &store.UnavailableError{Cause: err, MaybeCommitted: true}
		}
		return err
	}
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ce):
		return store.Unavailable(err)
	case pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded):
		return &store.UnavailableError{Cause: err, MaybeCommitted: !pgconn.SafeToRetry(err)}
	}
	if c := store.ClassifyNetwork(err); c != err {
		return &store.UnavailableError{Cause: err, MaybeCommitted: !pgconn.SafeToRetry(err)}
	}
	if msg := err.Error(); strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool") {
		return &store.UnavailableError{Cause: err, MaybeCommitted: !pgconn.SafeToRetry(err)}
	}
	return err
}

// Probe implements store.Prober: a transaction that takes a transaction
// id commits a record to the server's log, so it fails on a server that
// is read-only (a standby) or cannot write.
func (db *DB) Probe(ctx context.Context) error {
	if _, err := db.pool.Exec(ctx, `SELECT txid_current()`); err != nil {
		return Classify(fmt.Errorf("postgres: probe: %w", err))
	}
	return nil
}

// DropConnections closes the pool's connections (those in use as they are
// released), so that after an outage no broken one is handed out.
func (db *DB) DropConnections() { db.pool.Reset() }
