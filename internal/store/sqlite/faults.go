package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald/internal/store"
)

// Classify turns the errors of a file that cannot be written (disk full,
// read-only file system, I/O error) or of a database that cannot be used
// (locked beyond the busy timeout, closed) into *store.UnavailableError,
// and returns any other error unchanged. A failed write transaction is
// rolled back by SQLite, so only an I/O error leaves its outcome unknown.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var ue *store.UnavailableError
	if errors.As(err, &ue) {
		return err
	}
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return &store.UnavailableError{Cause: err, Full: true, NotWritable: true}
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
			return &store.UnavailableError{Cause: err, NotWritable: true}
		case sqlite3.SQLITE_IOERR:
			// Only a commit that failed half-way (its log written,
			// its sync not) may have left the transaction in.
			return &store.UnavailableError{Cause: err, NotWritable: true, MaybeCommitted: strings.Contains(err.Error(), "commit: ")}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_INTERRUPT:
			return store.Unavailable(err)
		}
		return err
	}
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return &store.UnavailableError{Cause: err, Full: true, NotWritable: true}
	case errors.Is(err, syscall.EROFS):
		return &store.UnavailableError{Cause: err, NotWritable: true}
	case errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn):
		return store.Unavailable(err)
	case err.Error() == "sql: database is closed":
		return store.Unavailable(err)
	}
	return err
}

// minFree is the free space under which Probe reports the disk full: a
// write needs room for at least a few pages of the log.
const minFree = 256 << 10

// Probe implements store.Prober: the file can be read, its directory has
// room, and a write commits (a one-page write to the log, fsynced like
// every commit).
func (db *DB) Probe(ctx context.Context) error {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		return Classify(fmt.Errorf("sqlite: probe read: %w", err))
	}
	if free, err := FreeBytes(filepath.Dir(db.path)); err == nil && free < minFree {
		return &store.UnavailableError{Cause: fmt.Errorf("sqlite: %d bytes free in %s: %w", free, filepath.Dir(db.path), syscall.ENOSPC),
			Full: true, NotWritable: true}
	}
	// user_version is Herald's to use and otherwise unused: writing it
	// changes nothing, but commits one page like any write.
	if _, err := db.w.ExecContext(ctx, `PRAGMA user_version = 0`); err != nil {
		return Classify(fmt.Errorf("sqlite: probe write: %w", err))
	}
	return nil
}
