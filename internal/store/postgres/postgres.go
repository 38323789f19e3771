// Package postgres is Herald's PostgreSQL store, for running several Herald
// nodes on one database.
//
// Nodes coordinate through the database alone: claims lock the rows they
// take with FOR UPDATE SKIP LOCKED, leases that run out let another node
// take over, migrations run under an advisory lock, and commits that make
// deliveries due send a notification (herald_due) that WatchDue relays to
// the other nodes' claimers.
//
// Durability: every connection runs with synchronous_commit=on, set in its
// startup parameters, so a call returns only once its commit is flushed to
// the server's WAL, even on a server whose default was relaxed: Herald
// promises that an accepted event survives a crash.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/internal/store"
)

var _ store.Store = (*DB)(nil)

// Options tune Open. Zero values mean the defaults.
type Options struct {
	// Schema, when set, is the schema Herald's tables live in: it is put
	// in front of the search_path of every connection. It must exist.
	Schema string
	// MaxConns caps the pool's connections; default pgxpool's (the
	// greater of 4 and the number of CPUs), or the URL's pool_max_conns.
	MaxConns int32
	// ConnectTimeout bounds making a connection (--store-timeout),
	// unless the URL sets connect_timeout; 0: none.
	ConnectTimeout time.Duration
}

// DB is a Herald store in a PostgreSQL database. It is safe for concurrent
// use, also by several processes on the same database.
type DB struct {
	pool *pgxpool.Pool
	// connCfg makes the dedicated connections of migrations and WatchDue,
	// with the same runtime parameters as the pool's.
	connCfg *pgx.ConnConfig
}

// Advisory lock keys. Session and transaction advisory locks are
// database-wide, so every Herald schema of the database shares them.
const (
	// migrateLockKey serialises migrations of nodes starting together.
	migrateLockKey int64 = 0x4845_5241_4c44_0001
	// partitionLockKey serialises creating and dropping attempts
	// partitions (Open and Retain of several nodes).
	partitionLockKey int64 = 0x4845_5241_4c44_0002
	// idempotencyLockClass is the class (first key) of the two-key
	// transaction locks that make idempotency keys unique across nodes;
	// the second key is a hash of app id and key.
	idempotencyLockClass int32 = 0x4852_4c44
	// quotaLockClass is the class of the transaction locks that
	// serialise, per app with a delivery quota, the transactions counting
	// its usage; the second key is a hash of the app id.
	quotaLockClass int32 = 0x4852_5154
)

// dueChannel is the notification channel of WatchDue.
const dueChannel = "herald_due"

// notifyDue, run inside a transaction, tells the watching nodes on commit
// that deliveries may have become due. Notifications are sent only if the
// transaction commits, and identical ones of a transaction are folded.
const notifyDue = `SELECT pg_notify('` + dueChannel + `', '')`

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN), brings its schema up to date and creates the attempts partitions
// of the current and next two months.
func Open(ctx context.Context, url string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	rp := cfg.ConnConfig.RuntimeParams
	// Durable commits whatever the server's or the role's default.
	rp["synchronous_commit"] = "on"
	if o.Schema != "" {
		rp["search_path"] = pgx.Identifier{o.Schema}.Sanitize()
	}
	// Statement times are UTC, so that date_trunc and month names agree
	// on every node.
	rp["timezone"] = "UTC"
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.ConnectTimeout > 0 && cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	}
	// Idle connections broken by a restart of the server are found
	// within seconds, not at the default minute; pings of connections
	// idle over a second (pgxpool's rule) give up after one.
	cfg.HealthCheckPeriod = 5 * time.Second
	cfg.PingTimeout = time.Second
	db := &DB{connCfg: cfg.ConnConfig.Copy()}

	if err := db.migrate(ctx); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db.pool = pool
	if err := db.ensurePartitions(ctx, time.Now()); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the pool's connections. WatchDue calls end with their
// contexts. It waits at most closeWait: connections cut short by a
// deadline on a server that hangs are closed by pgx only after it has
// tried, for up to 15 s, to cancel their queries, and a process stopping
// must not wait for that.
func (db *DB) Close() error {
	done := make(chan struct{})
	go func() {
		db.pool.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeWait):
	}
	return nil
}

// closeWait bounds Close.
const closeWait = time.Second

// Migrations are numbered files, NNNN_name.sql (see store.Migration).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations sorted by version.
func migrations() ([]store.Migration, error) {
	return store.ReadMigrations(migrationFiles, "migrations")
}

// migrate applies the migrations the schema lacks, each in its own
// transaction with its schema_migrations row.
//
// It runs on a connection of its own holding a session advisory lock:
// nodes started together would otherwise both find a migration missing
// and both apply it, and the second would fail half-way. Closing the
// connection releases the lock even when migrating fails.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, db.connCfg.Copy())
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
				m.Version).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, m.Version)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", m.Name, err)
		}
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("postgres: migrate: unlock: %w", err)
	}
	return nil
}

// isUnique reports whether err is a unique violation (SQLSTATE 23505).
func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// inTx runs fn in a transaction and commits it; any error rolls it back.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		if isUnique(err) {
			return fmt.Errorf("commit: %w: %w", store.ErrConflict, err)
		}
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// inReadTx runs fn in a read-only repeatable-read transaction, so that its
// queries see one snapshot.
func (db *DB) inReadTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(tx)
}

// mustAffect returns ErrNotFound, described by format and args, when tag
// changed no row.
func mustAffect(tag pgconn.CommandTag, format string, args ...any) error {
	if tag.RowsAffected() == 0 {
		return fmt.Errorf(format+": %w", append(args, store.ErrNotFound)...)
	}
	return nil
}
