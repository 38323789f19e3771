package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Attempts are partitioned by month of created_at: retention drops a
// month's partition whole, which costs nothing next to deleting (and then
// vacuuming) its millions of rows one by one. The partitions of the
// current and next two months are created at Open and by every Retain, so
// that the month's attempts never land in the DEFAULT partition; the
// DEFAULT partition catches any other time, so that an insert never fails.

// partitionsAhead is how many months after the current one get a
// partition in advance.
const partitionsAhead = 2

// partitionName is the name of the partition of the month starting at m.
func partitionName(m time.Time) string {
	return fmt.Sprintf("attempts_y%04dm%02d", m.Year(), int(m.Month()))
}

// monthStart returns the start of t's calendar month in UTC.
func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ensurePartitions creates the attempts partitions of now's month and the
// next partitionsAhead months that do not exist yet.
func (db *DB) ensurePartitions(ctx context.Context, now time.Time) error {
	start := monthStart(now)
	for i := 0; i <= partitionsAhead; i++ {
		if err := db.ensurePartition(ctx, start.AddDate(0, i, 0)); err != nil {
			return err
		}
	}
	return nil
}

// ensurePartition creates the partition of the month starting at m, if it
// does not exist. It runs under a transaction advisory lock, so that nodes
// doing it at once do not collide. Rows of the month already in the
// DEFAULT partition (attempts stamped ahead of time) move into the new
// partition, which PostgreSQL would otherwise refuse to create.
func (db *DB) ensurePartition(ctx context.Context, m time.Time) error {
	name := partitionName(m)
	from, to := m, m.AddDate(0, 1, 0)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		exists, err := tableExists(ctx, tx, name)
		if err != nil || exists {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLockKey); err != nil {
			return err
		}
		// Checked again under the lock: another node may have made it.
		if exists, err := tableExists(ctx, tx, name); err != nil || exists {
			return err
		}
		ident := pgx.Identifier{name}.Sanitize()
		bounds := fmt.Sprintf(`FOR VALUES FROM ('%s') TO ('%s')`, from.Format(time.RFC3339), to.Format(time.RFC3339))
		var stray bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM attempts_default WHERE created_at >= $1 AND created_at < $2)`,
			from, to).Scan(&stray); err != nil {
			return err
		}
		if !stray {
			_, err := tx.Exec(ctx, `CREATE TABLE `+ident+` PARTITION OF attempts `+bounds)
			return err
		}
		for _, q := range []string{
			`CREATE TABLE ` + ident + ` (LIKE attempts INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
			`WITH moved AS (DELETE FROM attempts_default WHERE created_at >= $1 AND created_at < $2 RETURNING *)
				INSERT INTO ` + ident + ` SELECT * FROM moved`,
			`ALTER TABLE attempts ATTACH PARTITION ` + ident + ` ` + bounds,
		} {
			var args []any
			if q[:4] == "WITH" {
				args = []any{from, to}
			}
			if _, err := tx.Exec(ctx, q, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: attempts partition %s: %w", name, err)
	}
	return nil
}

// dropPartitionsBefore drops the monthly attempts partitions that end at
// or before `before`, and returns how many attempts they held.
func (db *DB) dropPartitionsBefore(ctx context.Context, before time.Time) (int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'attempts'::regclass`)
	if err != nil {
		return 0, fmt.Errorf("retain: list partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("retain: list partitions: %w", err)
	}
	var total int64
	for _, name := range names {
		var y, m int
		if n, err := fmt.Sscanf(name, "attempts_y%04dm%02d", &y, &m); err != nil || n != 2 || partitionName(time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)) != name {
			continue // the DEFAULT partition, or not one of ours
		}
		end := time.Date(y, time.Month(m)+1, 1, 0, 0, 0, 0, time.UTC)
		if end.After(before) {
			continue
		}
		ident := pgx.Identifier{name}.Sanitize()
		err := db.inTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLockKey); err != nil {
				return err
			}
			exists, err := tableExists(ctx, tx, name)
			if err != nil {
				return err
			}
			if !exists {
				return nil // dropped by another node meanwhile
			}
			var n int64
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+ident).Scan(&n); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DROP TABLE `+ident); err != nil {
				return err
			}
			total += n
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("retain: drop partition %s: %w", name, err)
		}
	}
	return total, nil
}

// tableExists reports whether the schema in use holds a table named name.
// It reads pg_class with the statement's snapshot, which sees a table
// another node committed while this transaction waited for the lock;
// to_regclass would consult the session's catalog cache, which may not.
func tableExists(ctx context.Context, tx pgx.Tx, name string) (bool, error) {
	var exists bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class
		WHERE relname = $1 AND relnamespace = current_schema()::regnamespace)`, name).Scan(&exists)
	return exists, err
}
