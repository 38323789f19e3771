package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// failuresQuery reads the failing deliveries of a window, newest first,
// with their latest attempt (found through attempts_delivery, one probe
// per delivery) and endpoint; an attempt without an error kind succeeded
// (a delivery sent again after a success) and is left out. The inner
// select walks the window's part of deliveries_app (or of the primary
// key, for every app) from the newest, bounded by the id of the window's
// start (herald.IDAt) and by the rows it may examine, whatever their
// status; the outer LIMIT is the scan bound, plus one row that tells the
// scan was cut. Samples are cut short here so that large bodies are not
// read whole.
const failuresQuery = `SELECT d.app_id, d.id, d.endpoint_id, COALESCE(e.url, ''), COALESCE(e.enabled, 0), d.status,
	a.created_at, a.response_status, a.error_kind, substr(a.error, 1, 480), substr(a.response_body, 1, 480)
FROM (SELECT id, app_id, endpoint_id, status, attempt_count, test FROM deliveries
	WHERE %s id >= ? ORDER BY id DESC LIMIT ?) d
JOIN attempts a ON a.delivery_id = d.id
	AND a.number = (SELECT MAX(m.number) FROM attempts m WHERE m.delivery_id = d.id)
LEFT JOIN endpoints e ON e.id = d.endpoint_id AND e.deleted_at IS NULL
WHERE d.test = 0
	AND (d.status = 'failed' OR (d.status = 'pending' AND d.attempt_count > 0))
	AND a.error_kind <> ''
ORDER BY d.id DESC LIMIT ?`

// failuresReadQuery tells whether the window holds more deliveries than
// a report examines: it reads the index alone.
const failuresReadQuery = `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries WHERE %s id >= ? LIMIT ?)`

// Failures implements store.Store.
func (db *DB) Failures(ctx context.Context, p store.FailuresParams) (*store.FailuresReport, error) {
	scan, _ := p.Limits()
	maxRead := p.MaxReadOrDefault()
	where, args := "", []any{}
	if p.AppID != "" {
		where, args = "app_id = ? AND", append(args, p.AppID)
	}
	args = append(args, herald.IDAt(herald.PrefixDelivery, p.Since))
	var (
		out  []store.FailureRow
		read int
	)
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, fmt.Sprintf(failuresReadQuery, where), append(args, maxRead+1)...).Scan(&read); err != nil {
			return fmt.Errorf("failures: %w", err)
		}
		rows, err := tx.QueryContext(ctx, fmt.Sprintf(failuresQuery, where), append(args, maxRead, scan+1)...)
		if err != nil {
			return fmt.Errorf("failures: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r      store.FailureRow
				at     int64
				status sql.NullInt64
				errMsg []byte
			)
			if err := rows.Scan(&r.AppID, &r.DeliveryID, &r.EndpointID, &r.EndpointURL, &r.EndpointEnabled, &r.Status,
				&at, &status, &r.ErrorKind, &errMsg, &r.Body); err != nil {
				return fmt.Errorf("failures: %w", err)
			}
			r.AttemptAt, r.Error = fromMicro(at), string(errMsg)
			if status.Valid {
				code := int(status.Int64)
				r.StatusCode = &code
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return store.GroupFailures(p, out, read > maxRead), nil
}

// AppHealth implements store.Store. The endpoint count reads the app's
// endpoints (a bounded number); the delivery counts read the window's
// newest deliveries, at most store.HealthMaxScan; the last event is the
// first row of events_app read backwards.
func (db *DB) AppHealth(ctx context.Context, appID string, since time.Time) (*store.AppHealth, error) {
	h := &store.AppHealth{AppID: appID, Since: since.UTC()}
	bound := herald.IDAt(herald.PrefixDelivery, since)
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM endpoints
			WHERE app_id = ? AND deleted_at IS NULL AND failing_since IS NOT NULL`, appID).Scan(&h.EndpointsFailing); err != nil {
			return fmt.Errorf("app health: endpoints: %w", err)
		}
		// One walk of the window's part of deliveries_app, newest first,
		// stopped at the bound whatever the statuses: the cost of a row of
		// the apps page does not grow with an app's traffic.
		var scanned int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*),
			COALESCE(SUM(CASE WHEN status = 'failed' AND test = 0 THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN status = 'pending' AND test = 0 THEN 1 ELSE 0 END), 0)
			FROM (SELECT status, test FROM deliveries WHERE app_id = ? AND id >= ? ORDER BY id DESC LIMIT ?)`,
			appID, bound, store.HealthMaxScan+1).Scan(&scanned, &h.Failed, &h.Pending); err != nil {
			return fmt.Errorf("app health: deliveries: %w", err)
		}
		h.Capped = scanned > store.HealthMaxScan
		var at int64
		err := tx.QueryRowContext(ctx, `SELECT created_at FROM events WHERE app_id = ? ORDER BY id DESC LIMIT 1`, appID).Scan(&at)
		if err == nil {
			t := fromMicro(at)
			h.LastEventAt = &t
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("app health: last event: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Locate implements store.Store. The id's prefix picks the one table to
// look in, by its primary key.
func (db *DB) Locate(ctx context.Context, appID, id string) (*store.Located, error) {
	var q string
	kind := ""
	switch {
	case strings.HasPrefix(id, herald.PrefixEndpoint):
		kind, q = store.KindEndpoint, `SELECT app_id, id, '' FROM endpoints WHERE id = ? AND deleted_at IS NULL`
	case strings.HasPrefix(id, herald.PrefixEvent):
		kind, q = store.KindEvent, `SELECT app_id, id, '' FROM events WHERE id = ?`
	case strings.HasPrefix(id, herald.PrefixDelivery):
		kind, q = store.KindDelivery, `SELECT app_id, id, '' FROM deliveries WHERE id = ?`
	case strings.HasPrefix(id, herald.PrefixAttempt):
		kind, q = store.KindAttempt, `SELECT d.app_id, a.id, d.id FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE a.id = ?`
	}
	var l store.Located
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		if kind != "" {
			err := tx.QueryRowContext(ctx, q, id).Scan(&l.AppID, &l.ID, &l.DeliveryID)
			if err == nil && (appID == "" || l.AppID == appID) {
				l.Kind = kind
				return nil
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("locate: %w", err)
			}
		}
		if appID == "" {
			return fmt.Errorf("%q: %w", id, store.ErrNotFound)
		}
		err := tx.QueryRowContext(ctx, `SELECT id FROM events WHERE app_id = ? AND idempotency_key = ?
			ORDER BY created_at DESC LIMIT 1`, appID, id).Scan(&l.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("locate: %w", err)
		}
		l.Kind, l.AppID, l.DeliveryID = store.KindEvent, appID, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &l, nil
}
