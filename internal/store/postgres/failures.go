package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// failuresQuery reads the failing deliveries of a window, newest first,
// with their latest attempt (one probe of attempts_delivery per delivery)
// and endpoint; an attempt without an error kind succeeded (a delivery
// sent again after a success) and is left out. The inner select walks the
// window's part of the index from the newest, bounded by the id of the
// window's start (herald.IDAt) and by the rows it may examine, whatever
// their status; the outer LIMIT is the scan bound, plus one row that
// tells the scan was cut. Samples are cut short here so that large
// bodies are not read whole.
const failuresQuery = `SELECT d.app_id, d.id, d.endpoint_id, COALESCE(e.url, ''), COALESCE(e.enabled, false), d.status,
	a.created_at, a.response_status, a.error_kind, left(a.error, 480), substring(a.response_body from 1 for 480)
FROM (SELECT id, app_id, endpoint_id, status, attempt_count, test FROM deliveries
	WHERE %s id >= $1 ORDER BY id DESC LIMIT $2) d
JOIN attempts a ON a.delivery_id = d.id
	AND a.number = (SELECT MAX(m.number) FROM attempts m WHERE m.delivery_id = d.id)
LEFT JOIN endpoints e ON e.id = d.endpoint_id AND e.deleted_at IS NULL
WHERE NOT d.test
	AND (d.status = 'failed' OR (d.status = 'pending' AND d.attempt_count > 0))
	AND a.error_kind <> ''
ORDER BY d.id DESC LIMIT $3`

// failuresReadQuery tells whether the window holds more deliveries than
// a report examines.
const failuresReadQuery = `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries WHERE %s id >= $1 LIMIT $2) w`

// Failures implements store.Store.
func (db *DB) Failures(ctx context.Context, p store.FailuresParams) (*store.FailuresReport, error) {
	scan, _ := p.Limits()
	maxRead := p.MaxReadOrDefault()
	bound := herald.IDAt(herald.PrefixDelivery, p.Since)
	where, readWhere := "", ""
	args, readArgs := []any{bound, maxRead, scan + 1}, []any{bound, maxRead + 1}
	if p.AppID != "" {
		where, args = "app_id = $4 AND", append(args, p.AppID)
		readWhere, readArgs = "app_id = $3 AND", append(readArgs, p.AppID)
	}
	var (
		out  []store.FailureRow
		read int
	)
	err := db.inReadTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, fmt.Sprintf(failuresReadQuery, readWhere), readArgs...).Scan(&read); err != nil {
			return fmt.Errorf("failures: %w", err)
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(failuresQuery, where), args...)
		if err != nil {
			return fmt.Errorf("failures: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r      store.FailureRow
				status *int32
			)
			if err := rows.Scan(&r.AppID, &r.DeliveryID, &r.EndpointID, &r.EndpointURL, &r.EndpointEnabled, &r.Status,
				&r.AttemptAt, &status, &r.ErrorKind, &r.Error, &r.Body); err != nil {
				return fmt.Errorf("failures: %w", err)
			}
			r.AttemptAt = r.AttemptAt.UTC()
			if status != nil {
				code := int(*status)
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
	err := db.inReadTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM endpoints
			WHERE app_id = $1 AND deleted_at IS NULL AND failing_since IS NOT NULL`, appID).Scan(&h.EndpointsFailing); err != nil {
			return fmt.Errorf("app health: endpoints: %w", err)
		}
		// One walk of the window's part of deliveries_app, newest first,
		// stopped at the bound whatever the statuses: the cost of a row of
		// the apps page does not grow with an app's traffic.
		var scanned int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*),
			COUNT(*) FILTER (WHERE status = 'failed' AND NOT test),
			COUNT(*) FILTER (WHERE status = 'pending' AND NOT test)
			FROM (SELECT status, test FROM deliveries WHERE app_id = $1 AND id >= $2 ORDER BY id DESC LIMIT $3) w`,
			appID, bound, store.HealthMaxScan+1).Scan(&scanned, &h.Failed, &h.Pending); err != nil {
			return fmt.Errorf("app health: deliveries: %w", err)
		}
		h.Capped = scanned > store.HealthMaxScan
		var at time.Time
		err := tx.QueryRow(ctx, `SELECT created_at FROM events WHERE app_id = $1 ORDER BY id DESC LIMIT 1`, appID).Scan(&at)
		if err == nil {
			at = at.UTC()
			h.LastEventAt = &at
		} else if !errors.Is(err, pgx.ErrNoRows) {
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
		kind, q = store.KindEndpoint, `SELECT app_id, id, '' FROM endpoints WHERE id = $1 AND deleted_at IS NULL`
	case strings.HasPrefix(id, herald.PrefixEvent):
		kind, q = store.KindEvent, `SELECT app_id, id, '' FROM events WHERE id = $1`
	case strings.HasPrefix(id, herald.PrefixDelivery):
		kind, q = store.KindDelivery, `SELECT app_id, id, '' FROM deliveries WHERE id = $1`
	case strings.HasPrefix(id, herald.PrefixAttempt):
		kind, q = store.KindAttempt, `SELECT d.app_id, a.id, d.id FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE a.id = $1`
	}
	var l store.Located
	err := db.inReadTx(ctx, func(tx pgx.Tx) error {
		if kind != "" {
			err := tx.QueryRow(ctx, q, id).Scan(&l.AppID, &l.ID, &l.DeliveryID)
			if err == nil && (appID == "" || l.AppID == appID) {
				l.Kind = kind
				return nil
			}
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("locate: %w", err)
			}
		}
		if appID == "" {
			return fmt.Errorf("%q: %w", id, store.ErrNotFound)
		}
		err := tx.QueryRow(ctx, `SELECT id FROM events WHERE app_id = $1 AND idempotency_key = $2
			ORDER BY created_at DESC LIMIT 1`, appID, id).Scan(&l.ID)
		if errors.Is(err, pgx.ErrNoRows) {
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
