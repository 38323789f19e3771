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

// Deliveries made on request rather than by the enqueue path: events sent
// again by hand, resends, recoveries and test sends.

// DeliveriesCreate implements store.Store.
//
// Each insert is conditional on its event and its endpoint being the app's,
// and the endpoint not deleted: a pending delivery of a deleted endpoint
// would never be sent nor failed. Such a delivery fails the whole call with
// ErrNotFound, and nothing is stored. A nil NextAttemptAt means due at
// CreatedAt, and an empty EventType the event's. The deliveries count in
// their app's usage for the month of their CreatedAt, as enqueued ones do,
// and are refused together (a *store.QuotaError) when they would pass the
// app's quota; test deliveries neither count nor are refused: like
// TestSendRecord's, they are not the app's traffic.
func (db *DB) DeliveriesCreate(ctx context.Context, ds []*herald.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO deliveries (id, app_id, event_id, endpoint_id, event_type, status,
				attempt_count, next_attempt_at, last_error, test, created_at, updated_at)
			SELECT ?1, ev.app_id, ev.id, e.id, CASE WHEN ?5 = '' THEN ev.event_type ELSE ?5 END, 'pending',
				0, ?6, '', ?7, ?8, ?9
			FROM events ev CROSS JOIN endpoints e
			WHERE ev.id = ?3 AND ev.app_id = ?2 AND e.id = ?4 AND e.app_id = ?2 AND e.deleted_at IS NULL`)
		if err != nil {
			return fmt.Errorf("deliveries create: %w", err)
		}
		defer st.Close()
		usage := store.UsageCounts{}
		quotas := db.quotas(ctx, tx)
		for _, d := range ds {
			next, updated := store.DeliveryTimes(d)
			res, err := st.ExecContext(ctx, d.ID, d.AppID, d.EventID, d.EndpointID, d.EventType,
				micro(next), d.Test, micro(d.CreatedAt), micro(updated))
			if isUnique(err) {
				return fmt.Errorf("delivery %q: %w", d.ID, store.ErrConflict)
			}
			if err != nil {
				return fmt.Errorf("deliveries create: %w", err)
			}
			if err := mustAffect(res, "delivery %q: event %q or endpoint %q of app %q", d.ID, d.EventID, d.EndpointID, d.AppID); err != nil {
				return err
			}
			if !d.Test {
				usage.Add(d.AppID, d.CreatedAt, 1)
			}
		}
		read := map[string]bool{}
		for _, k := range usage.Keys() {
			if !read[k.AppID] {
				read[k.AppID] = true
				if _, err := db.appQuota(ctx, tx, quotas, k.AppID); err != nil {
					return fmt.Errorf("deliveries create: %w", err)
				}
			}
			if err := quotas.Take(k, usage[k]); err != nil {
				return err
			}
		}
		return writeUsage(ctx, tx, db.stmts.addUsage, quotas.Counts)
	})
}

// DeliveryJob implements store.Store. The job is not leased: the caller
// sends it at once, outside the claim path.
func (db *DB) DeliveryJob(ctx context.Context, appID, id string) (*store.Job, error) {
	j, err := scanJob(db.r.QueryRowContext(ctx,
		jobSelect+` WHERE d.app_id = ? AND d.id = ? AND e.deleted_at IS NULL`, appID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("delivery %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("delivery job: %w", err)
	}
	return j, nil
}

// DeliveriesRequeue implements store.Store. Attempt count and last error
// are kept: the history of the earlier attempts stays what it was. The
// rows changed are counted, and checked against the app's quota, before
// the commit: a refusal rolls them back.
func (db *DB) DeliveriesRequeue(ctx context.Context, appID string, ids []string, now time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	changed := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		quotas := db.quotas(ctx, tx)
		if _, err := db.appQuota(ctx, tx, quotas, appID); err != nil {
			return fmt.Errorf("requeue: %w", err)
		}
		for start := 0; start < len(ids); start += inChunk {
			chunk := ids[start:min(start+inChunk, len(ids))]
			args := []any{micro(now), appID}
			for _, id := range chunk {
				args = append(args, id)
			}
			res, err := tx.ExecContext(ctx, `UPDATE deliveries
				SET status = 'pending', next_attempt_at = ?1, lease_owner = NULL, lease_until = NULL, updated_at = ?1, skipped = 0
				WHERE app_id = ?2 AND id IN (`+placeholders(len(chunk))+`)
					AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id AND e.deleted_at IS NULL)`,
				args...)
			if err != nil {
				return fmt.Errorf("requeue: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("requeue: %w", err)
			}
			changed += int(n)
		}
		if err := quotas.Take(store.UsageKey{AppID: appID, Month: store.UsageMonth(now)}, int64(changed)); err != nil {
			return err
		}
		return writeUsage(ctx, tx, db.stmts.addUsage, quotas.Counts)
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

// TestSendRecord implements store.Store.
//
// The event is stored only if its app exists (ErrNotFound otherwise). The
// delivery is stored as given, as a delivery of ev, with the attempt's
// error as its last error.
// Like DeliveriesRecord, an attempt without ID gets one, written back, and
// one without number gets the delivery's attempt count (at least 1).
func (db *DB) TestSendRecord(ctx context.Context, ev *herald.Event, d *herald.Delivery, a *herald.Attempt) error {
	row, err := store.PrepareTestSend(ev, d, a)
	if err != nil {
		return fmt.Errorf("test send: %w", err)
	}
	v := row.Attempt
	var next any
	if d.NextAttemptAt != nil {
		next = micro(*d.NextAttemptAt)
	}

	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO events (id, app_id, event_type, payload, idempotency_key, routing, created_at,
				channels, tags, payload_expires_at)
			SELECT ?, id, ?, ?, ?, ?, ?, ?, ?, ? FROM apps WHERE id = ?`,
			ev.ID, ev.EventType, blob(ev.Payload), nullString(ev.IdempotencyKey), orNull(row.Routing), micro(ev.CreatedAt),
			orNull(row.Labels.Channels), orNull(row.Labels.Tags), microPtr(ev.PayloadExpiresAt), ev.AppID)
		if isUnique(err) {
			return fmt.Errorf("event %q: %w", ev.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("test send: insert event: %w", err)
		}
		if err := mustAffect(res, "app %q", ev.AppID); err != nil {
			return err
		}

		_, err = tx.ExecContext(ctx, `INSERT INTO deliveries (id, app_id, event_id, endpoint_id, event_type, status,
				attempt_count, next_attempt_at, last_error, last_error_kind, test, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.AppID, ev.ID, d.EndpointID, d.EventType, string(d.Status),
			d.AttemptCount, next, a.Error, string(a.ErrorKind), d.Test, micro(d.CreatedAt), micro(row.UpdatedAt))
		if isUnique(err) {
			return fmt.Errorf("delivery %q: %w", d.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("test send: insert delivery: %w", err)
		}

		_, err = tx.ExecContext(ctx, `INSERT INTO attempts (`+attemptCols+`, app_id, delivery_status, next_attempt_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
			a.ID, d.ID, row.Number, a.Trigger, micro(row.AttemptAt),
			a.Request.Method, a.Request.URL, orNull(v.RequestHeaders), v.RequestBody,
			orNull(v.Status), orNull(v.ResponseHeaders), v.ResponseBody, v.Truncated,
			v.LatencyUS, string(a.ErrorKind), a.Error, orNull(v.PayloadAt), d.AppID, string(d.Status))
		if isUnique(err) {
			return fmt.Errorf("attempt %q: %w", a.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("test send: insert attempt: %w", err)
		}
		return nil
	})
}

// DeliverySkip implements store.Store.
func (db *DB) DeliverySkip(ctx context.Context, appID, id string, now time.Time) (*herald.Delivery, error) {
	var d *herald.Delivery
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if d, err = deliveryByID(ctx, tx, appID, id, "skip"); err != nil {
			return err
		}
		if d.Status != herald.StatusFailed {
			return fmt.Errorf("delivery %q is %s, only a failed delivery can be skipped: %w", id, d.Status, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET skipped = 1, updated_at = ? WHERE id = ?`, micro(now), id); err != nil {
			return fmt.Errorf("skip: %w", err)
		}
		d.Skipped, d.UpdatedAt = true, fromMicro(micro(now))
		return loadAttempts(ctx, tx, []*herald.Delivery{d})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// OrderingBlocked implements store.Store.
func (db *DB) OrderingBlocked(ctx context.Context, appID, endpointID string, limit int) ([]store.BlockedKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT b.k, b.id,
			(SELECT COUNT(*) FROM deliveries w WHERE w.ordering_key IS NOT NULL AND w.status IN ('pending', 'failed')
				AND w.endpoint_id = ?2 AND w.ordering_key = b.k AND w.id > b.id AND w.status = 'pending')
		FROM (SELECT o.ordering_key AS k, MIN(o.id) AS id FROM deliveries o
			WHERE o.ordering_key IS NOT NULL AND o.status IN ('pending', 'failed')
				AND o.endpoint_id = ?2 AND o.app_id = ?1 AND o.status = 'failed' AND o.skipped = 0
			GROUP BY o.ordering_key) b
		ORDER BY b.k LIMIT ?3`, appID, endpointID, store.ListLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("ordering blocked: %w", err)
	}
	defer rows.Close()
	out := []store.BlockedKey{}
	for rows.Next() {
		var k store.BlockedKey
		if err := rows.Scan(&k.OrderingKey, &k.DeliveryID, &k.Waiting); err != nil {
			return nil, fmt.Errorf("ordering blocked: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ordering blocked: %w", err)
	}
	return out, nil
}
