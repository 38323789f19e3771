// Package sqlite is Herald's default store: one SQLite database file, driven
// by the pure-Go modernc.org/sqlite driver so that Herald builds without cgo.
//
// The file runs in WAL mode. A single writer connection serialises every
// write transaction in Go, and a pool of reader connections serves Get and
// List calls concurrently with it.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/heraldhq/herald/internal/store"
)

var _ store.Store = (*DB)(nil)

// DB is a Herald store kept in one SQLite file. It is safe for concurrent
// use.
type DB struct {
	path string
	// w is the only connection that writes. SQLite admits one writer at a
	// time; queueing writers in database/sql's pool instead of in SQLite's
	// lock avoids storms of SQLITE_BUSY retries, and lets every write
	// transaction start with BEGIN IMMEDIATE without ever waiting on
	// another connection of this process.
	w *sql.DB
	// r serves reads. In WAL mode readers see the last committed state and
	// neither block the writer nor wait for it.
	r *sql.DB

	// Statements of the hot paths, prepared once on the writer connection
	// and bound to each transaction with Tx.StmtContext.
	stmts writerStmts

	// events caches decoded events for claims.
	events eventCache
}

// Pragmas of every connection, applied by the driver when it opens one.
//
//   - busy_timeout(10000): a connection that finds the file locked (another
//     process, a checkpoint, WAL recovery) waits up to 10 s instead of
//     failing at once with "database is locked".
//   - journal_mode(WAL): readers work from a snapshot while the writer
//     appends to the log, so List and Get calls never wait for a commit;
//     a commit is one sequential append to the log.
//   - synchronous(FULL): every commit fsyncs the log before it returns. With
//     NORMAL a WAL commit is durable only after the next checkpoint, and the
//     last transactions could be lost on power failure; Herald promises that
//     an accepted event survives kill -9 and power loss.
//   - fullfsync(1): on macOS, fsync does not flush the drive's cache;
//     F_FULLFSYNC does. Other systems ignore it.
//   - journal_size_limit(64 MiB): after a checkpoint, a log that grew during
//     a burst is truncated back instead of keeping its peak size on disk.
var commonPragmas = []string{
	"busy_timeout(10000)",
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"fullfsync(1)",
	"journal_size_limit(67108864)",
}

// Options size the memory a DB may take besides what its callers hold.
// Zero fields take the defaults.
type Options struct {
	// WriterCache is the page cache of the writer connection, in bytes
	// (DefaultWriterCache when 0). SQLite's default (2 MiB) is smaller
	// than what one group commit of fan-out dirties (the deliveries'
	// table and its seven indexes): a transaction that outgrows its
	// cache spills dirty pages into the log before it commits, writing
	// many of them more than once. It is taken as pages are used, and
	// large payloads fill it with their overflow pages. It changes
	// nothing of durability: commits still fsync the log.
	WriterCache int64
	// ReaderCache is the page cache of each reader connection, in bytes
	// (SQLite's default, 2 MiB, when 0).
	ReaderCache int64
	// EventCache bounds the events kept decoded for claims, in bytes
	// (DefaultEventCache when 0).
	EventCache int64
}

// DefaultWriterCache holds thousands of deliveries per commit (64 MiB
// measured no faster).
const DefaultWriterCache = 16 << 20

// dsn builds the modernc DSN of the file at path. The writer starts its
// transactions with BEGIN IMMEDIATE (_txlock=immediate): it takes the write
// lock at BEGIN, so a transaction that reads and then writes cannot fail
// half-way when upgrading its lock. Readers are query_only so that a write
// sent to the wrong pool fails loudly instead of competing with the writer.
func dsn(path string, writer bool, cacheBytes int64) string {
	var b strings.Builder
	b.WriteString("file:")
	b.WriteString(escapePath(path))
	sep := "?"
	for _, p := range commonPragmas {
		b.WriteString(sep + "_pragma=" + p)
		sep = "&"
	}
	if writer {
		b.WriteString("&_txlock=immediate")
		// A statement that writes many rows keeps a statement journal,
		// to undo itself alone if it fails half-way; in a file, every
		// page it first touches is also written there. In memory it
		// costs no syscall. It is not the rollback journal: crash
		// recovery (the WAL) does not use it.
		b.WriteString("&_pragma=temp_store(MEMORY)")
	} else {
		b.WriteString("&_pragma=query_only(1)")
	}
	if cacheBytes > 0 {
		// Negative: in KiB rather than in pages.
		b.WriteString("&_pragma=cache_size(-" + strconv.FormatInt(max(cacheBytes>>10, 64), 10) + ")")
	}
	return b.String()
}

// escapePath escapes the characters that end or alter the path part of a
// SQLite file: URI.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// Open opens the database file at path, creating it if needed (its directory
// must exist), and brings its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with the memory it may take set by o.
func OpenWith(ctx context.Context, path string, o Options) (*DB, error) {
	if o.WriterCache <= 0 {
		o.WriterCache = DefaultWriterCache
	}
	if o.EventCache <= 0 {
		o.EventCache = DefaultEventCache
	}
	db := &DB{path: path}
	db.events.max = int(o.EventCache)

	w, err := sql.Open("sqlite", dsn(path, true, o.WriterCache))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db.w = w

	// The writer opens first: switching a new file to WAL and creating the
	// schema need the write lock, and readers should only ever see a file
	// that is already in WAL mode.
	if err := db.checkWAL(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := db.stmts.prepare(ctx, w); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", dsn(path, false, o.ReaderCache))
	if err != nil {
		db.stmts.close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open readers %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db.r = r
	if err := r.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open readers %s: %w", path, err)
	}
	return db, nil
}

// checkWAL fails when the file did not switch to WAL mode, which SQLite
// does silently on file systems without shared memory (some network file
// systems): the store's concurrency relies on it.
func (db *DB) checkWAL(ctx context.Context) error {
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite: open %s: journal_mode is %q, not wal (is the file on a network file system?)", db.path, mode)
	}
	return nil
}

// Path returns the database file's path as given to Open.
func (db *DB) Path() string { return db.path }

// Close closes every connection. The last one to close checkpoints the log
// into the database file.
func (db *DB) Close() error {
	db.stmts.close()
	var errs []error
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	return errors.Join(errs...)
}

// isUnique reports whether err is a violation of a unique or primary key
// constraint.
func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// inTx runs fn in a write transaction and commits it; any error rolls it
// back.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// inReadTx runs fn in a read transaction, so that its queries see one
// snapshot.
func (db *DB) inReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}
