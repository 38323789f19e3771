package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// createDelivery inserts one delivery of DeliveriesCreate, conditional on
// its event and its endpoint being the app's and the endpoint not deleted.
const createDelivery = `INSERT INTO deliveries (id, app_id, event_id, endpoint_id, event_type, status,
		attempt_count, next_attempt_at, last_error, test, created_at, updated_at)
	SELECT $1::text, ev.app_id, ev.id, e.id, CASE WHEN $5::text = '' THEN ev.event_type ELSE $5::text END, 'pending',
		0, $6::timestamptz, '', $7::boolean, $8::timestamptz, $9::timestamptz
	FROM events ev JOIN endpoints e ON e.id = $4 AND e.app_id = $2 AND e.deleted_at IS NULL
	WHERE ev.id = $3 AND ev.app_id = $2`

// DeliveriesCreate implements store.Store.
//
// A delivery whose event or endpoint is not the app's, or whose endpoint
// is deleted, fails the whole call with ErrNotFound, and nothing is
// stored. A nil NextAttemptAt means due at CreatedAt, and an empty
// EventType the event's. The deliveries count in their app's usage for
// the month of their CreatedAt, and are refused together (a
// *store.QuotaError) when they would pass the app's quota; test
// deliveries neither count nor are refused.
func (db *DB) DeliveriesCreate(ctx context.Context, ds []*herald.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	var b pgx.Batch
	usage := store.UsageCounts{}
	for _, d := range ds {
		next, updated := store.DeliveryTimes(d)
		b.Queue(createDelivery, d.ID, d.AppID, d.EventID, d.EndpointID, d.EventType,
			ts(next), d.Test, ts(d.CreatedAt), ts(updated)).Exec(func(tag pgconn.CommandTag) error {
			return mustAffect(tag, "delivery %q: event %q or endpoint %q of app %q", d.ID, d.EventID, d.EndpointID, d.AppID)
		})
		if !d.Test {
			usage.Add(d.AppID, d.CreatedAt, 1)
		}
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		quotas := newQuotaLedger()
		keys := usage.Keys()
		if len(keys) > 0 {
			if _, err := quotas.lockFor(ctx, tx, keys); err != nil {
				return fmt.Errorf("deliveries create: %w", err)
			}
		}
		for _, k := range keys {
			if err := quotas.Take(k, usage[k]); err != nil {
				return err
			}
		}
		queueUsage(&b, quotas.Counts)
		b.Queue(notifyDue)
		err := tx.SendBatch(ctx, &b).Close()
		if isUnique(err) {
			return fmt.Errorf("deliveries create: %w: %w", store.ErrConflict, err)
		}
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return err
			}
			return fmt.Errorf("deliveries create: %w", err)
		}
		return nil
	})
}

// DeliveryJob implements store.Store. The job is not leased: the caller
// sends it at once, outside the claim path.
func (db *DB) DeliveryJob(ctx context.Context, appID, id string) (*store.Job, error) {
	j, err := scanJob(db.pool.QueryRow(ctx,
		jobSelect+` WHERE d.app_id = $1 AND d.id = $2 AND e.deleted_at IS NULL`, appID, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	k := store.UsageKey{AppID: appID, Month: store.UsageMonth(now)}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		quotas := newQuotaLedger()
		if _, err := quotas.lockFor(ctx, tx, []store.UsageKey{k}); err != nil {
			return fmt.Errorf("requeue: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE deliveries
			SET status = 'pending', next_attempt_at = $1, lease_owner = NULL, lease_until = NULL, updated_at = $1, skipped = false
			WHERE app_id = $2 AND id = ANY($3::text[])
				AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id AND e.deleted_at IS NULL)`,
			ts(now), appID, ids)
		if err != nil {
			return fmt.Errorf("requeue: %w", err)
		}
		changed = int(tag.RowsAffected())
		if err := quotas.Take(k, int64(changed)); err != nil {
			return err
		}
		if len(quotas.Counts) > 0 {
			var b pgx.Batch
			queueUsage(&b, quotas.Counts)
			if err := tx.SendBatch(ctx, &b).Close(); err != nil {
				return fmt.Errorf("requeue: %w", err)
			}
		}
		return notifyIf(ctx, tx, changed > 0, "requeue")
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
// error as its last error. An attempt without ID gets one, written back,
// and one without number gets the delivery's attempt count (at least 1).
func (db *DB) TestSendRecord(ctx context.Context, ev *herald.Event, d *herald.Delivery, a *herald.Attempt) error {
	row, err := store.PrepareTestSend(ev, d, a)
	if err != nil {
		return fmt.Errorf("test send: %w", err)
	}
	v := row.Attempt

	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO events (id, app_id, event_type, payload, idempotency_key, routing, created_at,
				channels, tags, payload_expires_at)
			SELECT $1::text, id, $2::text, $3::bytea, $4::text, $5::text, $6::timestamptz, $8::text, $9::text, $10::timestamptz
			FROM apps WHERE id = $7 FOR KEY SHARE`,
			ev.ID, ev.EventType, blob(ev.Payload), nullString(ev.IdempotencyKey), row.Routing, ts(ev.CreatedAt), ev.AppID,
			row.Labels.Channels, row.Labels.Tags, tsPtr(ev.PayloadExpiresAt))
		if isUnique(err) {
			return fmt.Errorf("event %q: %w", ev.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("test send: insert event: %w", err)
		}
		if err := mustAffect(tag, "app %q", ev.AppID); err != nil {
			return err
		}

		_, err = tx.Exec(ctx, `INSERT INTO deliveries (id, app_id, event_id, endpoint_id, event_type, status,
				attempt_count, next_attempt_at, last_error, last_error_kind, test, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			d.ID, d.AppID, ev.ID, d.EndpointID, d.EventType, string(d.Status),
			d.AttemptCount, tsPtr(d.NextAttemptAt), a.Error, string(a.ErrorKind), d.Test, ts(d.CreatedAt), ts(row.UpdatedAt))
		if isUnique(err) {
			return fmt.Errorf("delivery %q: %w", d.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("test send: insert delivery: %w", err)
		}

		_, err = tx.Exec(ctx, `INSERT INTO attempts (`+attemptCols+`, app_id, delivery_status, next_attempt_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, NULL)`,
			a.ID, d.ID, row.Number, a.Trigger, ts(row.AttemptAt),
			a.Request.Method, a.Request.URL, v.RequestHeaders, v.RequestBody,
			int32Ptr(v.Status), v.ResponseHeaders, v.ResponseBody, v.Truncated,
			v.LatencyUS, string(a.ErrorKind), a.Error, int32Ptr(v.PayloadAt), d.AppID, string(d.Status))
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
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = scanDelivery(tx.QueryRow(ctx,
			`SELECT `+deliveryCols+` FROM deliveries d WHERE d.app_id = $1 AND d.id = $2 FOR UPDATE`, appID, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("delivery %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("skip: %w", err)
		}
		if d.Status != herald.StatusFailed {
			return fmt.Errorf("delivery %q is %s, only a failed delivery can be skipped: %w", id, d.Status, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET skipped = true, updated_at = $2 WHERE id = $1`, id, ts(now)); err != nil {
			return fmt.Errorf("skip: %w", err)
		}
		d.Skipped, d.UpdatedAt = true, ts(now)
		return loadAttempts(ctx, tx, []*herald.Delivery{d})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// OrderingBlocked implements store.Store.
func (db *DB) OrderingBlocked(ctx context.Context, appID, endpointID string, limit int) ([]store.BlockedKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT b.k, b.id,
			(SELECT COUNT(*) FROM deliveries w WHERE w.ordering_key IS NOT NULL AND w.status IN ('pending', 'failed')
				AND w.endpoint_id = $2 AND w.ordering_key = b.k AND w.ordering_seq > b.seq AND w.status = 'pending')
		FROM (SELECT DISTINCT ON (o.ordering_key) o.ordering_key AS k, o.id, o.ordering_seq AS seq FROM deliveries o
			WHERE o.ordering_key IS NOT NULL AND o.status IN ('pending', 'failed')
				AND o.endpoint_id = $2 AND o.app_id = $1 AND o.status = 'failed' AND NOT o.skipped
			ORDER BY o.ordering_key, o.ordering_seq) b
		ORDER BY b.k LIMIT $3`, appID, endpointID, store.ListLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("ordering blocked: %w", err)
	}
	out := []store.BlockedKey{}
	for rows.Next() {
		var k store.BlockedKey
		var n int64
		if err := rows.Scan(&k.OrderingKey, &k.DeliveryID, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ordering blocked: %w", err)
		}
		k.Waiting = int(n)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ordering blocked: %w", err)
	}
	return out, nil
}
