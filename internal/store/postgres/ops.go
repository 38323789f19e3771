package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/store"
)

// UsageGet implements store.Store. An app without a row for the month (or
// no app at all) has used nothing.
func (db *DB) UsageGet(ctx context.Context, appID string, at time.Time) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT deliveries FROM usage WHERE app_id = $1 AND month = $2`,
		appID, store.UsageMonth(at)).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("usage get: %w", err)
	}
	return n, nil
}

// QueueStats implements store.Store. Leased deliveries count as pending
// and, once their time has come, as due: they are not sent yet. The
// partial due index holds exactly the pending deliveries.
func (db *DB) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	var (
		st     store.QueueStats
		oldest *time.Time
	)
	err := db.pool.QueryRow(ctx, `SELECT count(*),
			count(*) FILTER (WHERE next_attempt_at <= $1),
			min(next_attempt_at) FILTER (WHERE next_attempt_at <= $1)
		FROM deliveries WHERE status = 'pending'`, ts(now)).Scan(&st.Pending, &st.Due, &oldest)
	if err != nil {
		return store.QueueStats{}, fmt.Errorf("queue stats: %w", err)
	}
	if oldest != nil {
		st.OldestDue = oldest.UTC()
	}
	return st, nil
}

// Retain implements store.Store.
//
// First, attempts partitions that end at or before the cut are dropped
// whole (no row-by-row delete, nothing left to vacuum), and the partitions
// ahead are made sure of. Then one short transaction removes the oldest
// Batch events older than the cut, with their deliveries and the attempts
// of those deliveries still in the partitions that remain. Bulk jobs not
// updated since the cut go too.
func (db *DB) Retain(ctx context.Context, p store.RetainParams) (store.RetainResult, error) {
	batch := p.BatchSize()
	before := ts(p.Before)
	dropped, err := db.dropPartitionsBefore(ctx, before)
	if err != nil {
		return store.RetainResult{}, err
	}
	if err := db.ensurePartitions(ctx, time.Now()); err != nil {
		return store.RetainResult{}, err
	}

	var res store.RetainResult
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		res = store.RetainResult{Attempts: dropped}
		rows, err := tx.Query(ctx, `SELECT id FROM events WHERE created_at < $1 ORDER BY created_at LIMIT $2`, before, batch)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			var b pgx.Batch
			for _, d := range []struct {
				n *int64
				q string
			}{
				{&res.Attempts, `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ANY($1::text[]))`},
				{&res.Deliveries, `DELETE FROM deliveries WHERE event_id = ANY($1::text[])`},
				{&res.Events, `DELETE FROM events WHERE id = ANY($1::text[])`},
			} {
				b.Queue(d.q, ids).Exec(func(tag pgconn.CommandTag) error {
					*d.n += tag.RowsAffected()
					return nil
				})
			}
			if err := tx.SendBatch(ctx, &b).Close(); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM bulk_jobs WHERE updated_at < $1`, before); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE expires_at < $1`, before); err != nil {
			return err
		}
		// A short batch took everything left; a full one may have too,
		// which only a look at the index can tell.
		if len(ids) < batch {
			res.Done = true
			return nil
		}
		var more bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE created_at < $1)`, before).Scan(&more); err != nil {
			return err
		}
		res.Done = !more
		return nil
	})
	if err != nil {
		return store.RetainResult{}, fmt.Errorf("retain: %w", err)
	}
	return res, nil
}

// NodeHeartbeat implements store.Store. A node is alive at exactly
// now-within, and the caller itself always counts.
func (db *DB) NodeHeartbeat(ctx context.Context, node string, now time.Time, within time.Duration) (int, error) {
	var n int
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO nodes (id, seen_at) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, node, ts(now)); err != nil {
			return err
		}
		if within > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM nodes WHERE seen_at < $1`,
				ts(now.Add(-store.NodesForgetAfter*within))); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM nodes WHERE seen_at >= $1`,
			ts(now.Add(-max(within, 0)))).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("node heartbeat: %w", err)
	}
	return max(n, 1), nil
}

// NodeLeave implements store.Store.
func (db *DB) NodeLeave(ctx context.Context, node string) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM nodes WHERE id = $1`, node); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`, node)
		if err != nil {
			return err
		}
		return notifyIf(ctx, tx, tag.RowsAffected() > 0, "node leave")
	})
	if err != nil {
		return fmt.Errorf("node leave: %w", err)
	}
	return nil
}

// NodesLeaveEarlier implements store.Store. The owners of leases are
// found as in LeasesReleaseDead, one index probe per owner.
func (db *DB) NodesLeaveEarlier(ctx context.Context, prefix, node string) (int, error) {
	if prefix == "" {
		return 0, nil
	}
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM nodes WHERE left(id, length($1)) = $1 AND id <> $2`, prefix, node); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `WITH RECURSIVE o(v) AS (
				SELECT (SELECT min(lease_owner) FROM deliveries WHERE lease_owner IS NOT NULL)
				UNION ALL
				SELECT (SELECT min(lease_owner) FROM deliveries WHERE lease_owner > o.v) FROM o WHERE o.v IS NOT NULL)
			UPDATE deliveries SET lease_owner = NULL, lease_until = NULL
			WHERE lease_owner IN (SELECT v FROM o WHERE v IS NOT NULL AND left(v, length($1)) = $1 AND v <> $2)`, prefix, node)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return notifyIf(ctx, tx, n > 0, "leave earlier runs")
	})
	if err != nil {
		return 0, fmt.Errorf("leave earlier runs: %w", err)
	}
	return int(n), nil
}

// EventPayloadsExpire implements store.Store: one short transaction per
// call, of at most Batch events found through events_payload_expiry (a
// partial index of the events still waiting for it), locked so that two
// nodes running retention at once do not both take them.
func (db *DB) EventPayloadsExpire(ctx context.Context, p store.PayloadExpireParams) (store.PayloadExpireResult, error) {
	batch := store.RetainParams{Batch: p.Batch}.BatchSize()
	now := ts(p.Now)
	var res store.PayloadExpireResult
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		res = store.PayloadExpireResult{}
		rows, err := tx.Query(ctx, `SELECT id FROM events
			WHERE payload_expires_at IS NOT NULL AND payload_expires_at <= $1
			ORDER BY payload_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, batch)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			var b pgx.Batch
			for _, d := range []struct {
				n    *int64
				q    string
				args []any
			}{
				// Every stored body of the events' attempts: a split
				// one needs the payload to be read back, a whole one
				// holds it or what a template made of it.
				{&res.Attempts, `UPDATE attempts SET request_body = NULL, body_payload_at = NULL
					WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ANY($1::text[]))
					AND request_body IS NOT NULL`, []any{ids}},
				{&res.Deliveries, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL,
					last_error = $2, last_error_kind = '', lease_owner = NULL, lease_until = NULL, updated_at = $3
					WHERE event_id = ANY($1::text[]) AND status = 'pending'`, []any{ids, store.LastErrorPayloadExpired, now}},
				{&res.Events, `UPDATE events SET payload = NULL, payload_expires_at = NULL, payload_expired = true
					WHERE id = ANY($1::text[])`, []any{ids}},
			} {
				b.Queue(d.q, d.args...).Exec(func(tag pgconn.CommandTag) error {
					*d.n += tag.RowsAffected()
					return nil
				})
			}
			if err := tx.SendBatch(ctx, &b).Close(); err != nil {
				return err
			}
		}
		res.Done = len(ids) < batch
		return nil
	})
	if err != nil {
		return store.PayloadExpireResult{}, fmt.Errorf("expire payloads: %w", err)
	}
	return res, nil
}
