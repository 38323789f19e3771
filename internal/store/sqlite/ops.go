package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Usage, queue statistics, retention and heartbeats: the calls that serve
// quotas, metrics and housekeeping rather than the delivery path.

// writeUsage adds the counts to the usage table within tx, with st.
func writeUsage(ctx context.Context, tx *sql.Tx, st *sql.Stmt, u store.UsageCounts) error {
	if len(u) == 0 {
		return nil
	}
	add := tx.StmtContext(ctx, st)
	for k, n := range u {
		if _, err := add.ExecContext(ctx, k.AppID, k.Month, n); err != nil {
			return fmt.Errorf("usage: %w", err)
		}
	}
	return nil
}

// quotas returns the ledger of one write transaction: an app's usage is
// read within tx, which holds SQLite's only writer, so no other write can
// spend the same remainder in between.
func (db *DB) quotas(ctx context.Context, tx *sql.Tx) *store.Quotas {
	usageOf := tx.StmtContext(ctx, db.stmts.usageOf)
	return store.NewQuotas(func(k store.UsageKey) (int64, error) {
		var n int64
		err := usageOf.QueryRowContext(ctx, k.AppID, k.Month).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return n, err
	})
}

// appQuota reads, within tx, whether an app exists and tells q its
// quota.
func (db *DB) appQuota(ctx context.Context, tx *sql.Tx, q *store.Quotas, appID string) (bool, error) {
	var doc string
	err := tx.StmtContext(ctx, db.stmts.appSettings).QueryRowContext(ctx, appID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("app lookup: %w", err)
	}
	var s herald.AppSettings
	if err := store.FromJSONDoc(doc, &s); err != nil {
		return false, fmt.Errorf("app %s: settings: %w", appID, err)
	}
	q.SetQuota(appID, s.MonthlyDeliveryQuota)
	return true, nil
}

// UsageCharge implements store.Store.
func (db *DB) UsageCharge(ctx context.Context, appID string, n int, at time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		q := db.quotas(ctx, tx)
		ok, err := db.appQuota(ctx, tx, q, appID)
		if err != nil {
			return fmt.Errorf("usage charge: %w", err)
		}
		if !ok {
			return fmt.Errorf("app %q: %w", appID, store.ErrNotFound)
		}
		if err := q.Take(store.UsageKey{AppID: appID, Month: store.UsageMonth(at)}, int64(n)); err != nil {
			return err
		}
		return writeUsage(ctx, tx, db.stmts.addUsage, q.Counts)
	})
}

// UsageGet implements store.Store. An app without a row for the month (or
// no app at all) has used nothing: the quota check needs no error to
// handle there.
func (db *DB) UsageGet(ctx context.Context, appID string, at time.Time) (int64, error) {
	var n int64
	err := db.r.QueryRowContext(ctx, `SELECT deliveries FROM usage WHERE app_id = ? AND month = ?`,
		appID, store.UsageMonth(at)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("usage get: %w", err)
	}
	return n, nil
}

// queueStatsQuery reads the pending deliveries from the two partial
// indexes that hold them: deliveries_due (unleased) and
// deliveries_lease_owner (leased, few: those in flight). A lease is only
// ever held by a pending delivery (every status change clears it), so the
// two parts add up to the pending deliveries without reading the finished
// history. The cost grows with the backlog, not with the history; a
// metrics scrape can afford that, and a dedicated covering index would
// cost every enqueue and every record instead.
const queueStatsQuery = `
	SELECT COUNT(*), COUNT(CASE WHEN next_attempt_at <= ?1 THEN 1 END),
		MIN(CASE WHEN next_attempt_at <= ?1 THEN next_attempt_at END)
	FROM deliveries INDEXED BY deliveries_due
	WHERE status = 'pending' AND lease_owner IS NULL
	UNION ALL
	SELECT COUNT(*), COUNT(CASE WHEN next_attempt_at <= ?1 THEN 1 END),
		MIN(CASE WHEN next_attempt_at <= ?1 THEN next_attempt_at END)
	FROM deliveries INDEXED BY deliveries_lease_owner
	WHERE lease_owner IS NOT NULL AND status = 'pending'`

// QueueStats implements store.Store. Leased deliveries count as pending
// and, once their time has come, as due: they are not sent yet.
func (db *DB) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	var st store.QueueStats
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, queueStatsQuery, micro(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				pending, due int64
				oldest       sql.NullInt64
			)
			if err := rows.Scan(&pending, &due, &oldest); err != nil {
				return err
			}
			st.Pending += pending
			st.Due += due
			if oldest.Valid && (st.OldestDue.IsZero() || fromMicro(oldest.Int64).Before(st.OldestDue)) {
				st.OldestDue = fromMicro(oldest.Int64)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return store.QueueStats{}, fmt.Errorf("queue stats: %w", err)
	}
	return st, nil
}

// retainSelect picks the oldest events of a Retain call from
// events_created, so that a call reads no more than its batch.
const retainSelect = `SELECT id FROM events WHERE created_at < ? ORDER BY created_at LIMIT ?`

// Retain implements store.Store. Each call is one write transaction of at
// most Batch events: SQLite has one writer, and a long delete would hold
// up every enqueue behind it. Attempts go first, then deliveries, then
// events, each found by index from the events' ids. Bulk jobs not updated
// since before the cut are removed as well: they only report progress,
// and a job still running is updated often.
func (db *DB) Retain(ctx context.Context, p store.RetainParams) (store.RetainResult, error) {
	batch := p.BatchSize()
	before := micro(p.Before)
	var res store.RetainResult
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res = store.RetainResult{}
		rows, err := tx.QueryContext(ctx, retainSelect, before, batch)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		for start := 0; start < len(ids); start += inChunk {
			chunk := ids[start:min(start+inChunk, len(ids))]
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			in := `(` + placeholders(len(chunk)) + `)`
			for _, d := range []struct {
				n *int64
				q string
			}{
				{&res.Attempts, `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN ` + in + `)`},
				{&res.Deliveries, `DELETE FROM deliveries WHERE event_id IN ` + in},
				{&res.Events, `DELETE FROM events WHERE id IN ` + in},
			} {
				r, err := tx.ExecContext(ctx, d.q, args...)
				if err != nil {
					return err
				}
				n, err := r.RowsAffected()
				if err != nil {
					return err
				}
				*d.n += n
			}
		}

		if _, err := tx.ExecContext(ctx, `DELETE FROM bulk_jobs WHERE updated_at < ?`, before); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE expires_at < ?`, before); err != nil {
			return err
		}

		// A short batch took everything left; a full one may have too,
		// which only a look at the index can tell.
		if len(ids) < batch {
			res.Done = true
			return nil
		}
		var more int
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE created_at < ?)`, before).Scan(&more); err != nil {
			return err
		}
		res.Done = more == 0
		return nil
	})
	if err != nil {
		return store.RetainResult{}, fmt.Errorf("retain: %w", err)
	}
	return res, nil
}

// NodeHeartbeat implements store.Store. Several processes may share one
// database file, so the count is real even here. A node is alive at
// exactly now-within, and the caller itself always counts.
func (db *DB) NodeHeartbeat(ctx context.Context, node string, now time.Time, within time.Duration) (int, error) {
	var n int
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, seen_at) VALUES (?1, ?2)
			ON CONFLICT (id) DO UPDATE SET seen_at = ?2`, node, micro(now)); err != nil {
			return err
		}
		if within > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE seen_at < ?`,
				micro(now.Add(-store.NodesForgetAfter*within))); err != nil {
				return err
			}
		}
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM nodes WHERE seen_at >= ?`,
			micro(now.Add(-max(within, 0)))).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("node heartbeat: %w", err)
	}
	return max(n, 1), nil
}

// NodeLeave implements store.Store.
func (db *DB) NodeLeave(ctx context.Context, node string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE id = ?`, node); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?`, node)
		return err
	})
	if err != nil {
		return fmt.Errorf("node leave: %w", err)
	}
	return nil
}

// NodesLeaveEarlier implements store.Store.
func (db *DB) NodesLeaveEarlier(ctx context.Context, prefix, node string) (int, error) {
	if prefix == "" {
		return 0, nil
	}
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE substr(id, 1, length(?1)) = ?1 AND id <> ?2`, prefix, node); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL
			WHERE lease_owner IS NOT NULL AND substr(lease_owner, 1, length(?1)) = ?1 AND lease_owner <> ?2`, prefix, node)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("leave earlier runs: %w", err)
	}
	return int(n), nil
}

// WatchDue implements store.Store. It returns nil at once: SQLite has no
// way to notify another process of a commit, and within one process the
// engine that makes deliveries due wakes its own claimer. Processes
// sharing a file find each other's work through NextDueAt and claims.
func (db *DB) WatchDue(ctx context.Context, fn func()) error { return nil }

// payloadExpireSelect picks the events whose payload is due for removal,
// from the partial index of those still waiting for it.
const payloadExpireSelect = `SELECT id FROM events
	WHERE payload_expires_at IS NOT NULL AND payload_expires_at <= ?
	ORDER BY payload_expires_at LIMIT ?`

// EventPayloadsExpire implements store.Store. One write transaction per
// call, of at most Batch events found through events_payload_expiry (a
// partial index of the events still waiting for it), as Retain keeps its
// transactions short. The cached copies of the events go too: the cache
// otherwise holds their payload for the claims to come.
func (db *DB) EventPayloadsExpire(ctx context.Context, p store.PayloadExpireParams) (store.PayloadExpireResult, error) {
	batch := store.RetainParams{Batch: p.Batch}.BatchSize()
	now := micro(p.Now)
	var res store.PayloadExpireResult
	var ids []string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, ids = store.PayloadExpireResult{}, nil
		rows, err := tx.QueryContext(ctx, payloadExpireSelect, now, batch)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for start := 0; start < len(ids); start += inChunk {
			chunk := ids[start:min(start+inChunk, len(ids))]
			args := make([]any, 0, len(chunk)+2)
			for _, id := range chunk {
				args = append(args, id)
			}
			in := `(` + placeholders(len(chunk)) + `)`
			for _, d := range []struct {
				n     *int64
				q     string
				extra []any
			}{
				// Every stored body of the events' attempts: a split
				// one needs the payload to be read back, a whole one
				// holds it or what a template made of it.
				{&res.Attempts, `UPDATE attempts SET request_body = NULL, body_payload_at = NULL
					WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN ` + in + `)
					AND request_body IS NOT NULL`, nil},
				{&res.Deliveries, `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL,
					last_error = ?, last_error_kind = '', lease_owner = NULL, lease_until = NULL, updated_at = ?
					WHERE event_id IN ` + in + ` AND status = 'pending'`, []any{store.LastErrorPayloadExpired, now}},
				{&res.Events, `UPDATE events SET payload = NULL, payload_expires_at = NULL, payload_expired = 1
					WHERE id IN ` + in, nil},
			} {
				r, err := tx.ExecContext(ctx, d.q, append(append([]any(nil), d.extra...), args...)...)
				if err != nil {
					return err
				}
				n, err := r.RowsAffected()
				if err != nil {
					return err
				}
				*d.n += n
			}
		}
		res.Done = len(ids) < batch
		return nil
	})
	if err != nil {
		return store.PayloadExpireResult{}, fmt.Errorf("expire payloads: %w", err)
	}
	db.events.drop(ids)
	return res, nil
}
