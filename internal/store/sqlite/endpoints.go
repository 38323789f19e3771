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

// EndpointCreate implements store.Store. The insert is conditional on the
// app's existence, so a missing app costs no extra round trip.
func (db *DB) EndpointCreate(ctx context.Context, ep *herald.Endpoint) error {
	docs, err := store.EncodeEndpoint(ep)
	if err != nil {
		return fmt.Errorf("endpoint create: %w", err)
	}
	ep.Kind = store.EndpointKind(ep)
	res, err := db.w.ExecContext(ctx, `
		INSERT INTO endpoints (id, app_id, url, description, event_types, enabled, secret, timeout_ms, shape, settings, created_at, updated_at, kind)
		SELECT ?, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM apps WHERE id = ?`,
		ep.ID, ep.URL, ep.Description, docs.EventTypes, ep.Enabled, ep.Secret, ep.TimeoutMS, docs.Shape, docs.Settings,
		micro(ep.CreatedAt), micro(ep.UpdatedAt), ep.Kind, ep.AppID)
	if isUnique(err) {
		return fmt.Errorf("endpoint %q: %w", ep.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("endpoint create: %w", err)
	}
	return mustAffect(res, "app %q", ep.AppID)
}

// EndpointGet implements store.Store.
func (db *DB) EndpointGet(ctx context.Context, appID, id string) (*herald.Endpoint, error) {
	ep, err := scanEndpoint(db.r.QueryRowContext(ctx,
		`SELECT `+endpointCols+` FROM endpoints e WHERE e.app_id = ? AND e.id = ? AND e.deleted_at IS NULL`,
		appID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("endpoint %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint get: %w", err)
	}
	return ep, nil
}

// EndpointList implements store.Store.
func (db *DB) EndpointList(ctx context.Context, appID string, p store.ListParams) ([]*herald.Endpoint, error) {
	q := `SELECT ` + endpointCols + ` FROM endpoints e WHERE e.app_id = ? AND e.deleted_at IS NULL`
	args := []any{appID}
	if p.Cursor != "" {
		q += ` AND e.id < ?`
		args = append(args, p.Cursor)
	}
	q += ` ORDER BY e.id DESC LIMIT ?`
	args = append(args, store.ListLimit(p.Limit))
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("endpoint list: %w", err)
	}
	return collectEndpoints(rows)
}

func collectEndpoints(rows *sql.Rows) ([]*herald.Endpoint, error) {
	defer rows.Close()
	eps := []*herald.Endpoint{}
	for rows.Next() {
		ep, err := scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("endpoint list: %w", err)
		}
		eps = append(eps, ep)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("endpoint list: %w", err)
	}
	return eps, nil
}

// EndpointUpdate implements store.Store. CreatedAt is kept as stored.
//
// An endpoint enabled again (enabled going from 0 to 1) starts with a clean
// health record: the failures that got it disabled, perhaps days ago, must
// not disable it again at its first failure.
func (db *DB) EndpointUpdate(ctx context.Context, ep *herald.Endpoint) error {
	docs, err := store.EncodeEndpoint(ep)
	if err != nil {
		return fmt.Errorf("endpoint update: %w", err)
	}
	// SET expressions read the row as it was, so "enabled = 0" is the
	// state before this update.
	res, err := db.w.ExecContext(ctx, `
		UPDATE endpoints
		SET url = ?1, description = ?2, event_types = ?3, enabled = ?4, secret = ?5, timeout_ms = ?6,
			shape = ?7, settings = ?8, updated_at = ?9,
			failing_since = CASE WHEN enabled = 0 AND ?4 THEN NULL ELSE failing_since END,
			failed_count = CASE WHEN enabled = 0 AND ?4 THEN 0 ELSE failed_count END
		WHERE app_id = ?10 AND id = ?11 AND deleted_at IS NULL`,
		ep.URL, ep.Description, docs.EventTypes, ep.Enabled, ep.Secret, ep.TimeoutMS, docs.Shape, docs.Settings, micro(ep.UpdatedAt),
		ep.AppID, ep.ID)
	if isUnique(err) {
		return fmt.Errorf("endpoint %q: uid %q: %w", ep.ID, ep.UID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("endpoint update: %w", err)
	}
	return mustAffect(res, "endpoint %q", ep.ID)
}

// EndpointDelete implements store.Store. The row stays, marked deleted, so
// that its deliveries and attempts keep pointing at something.
func (db *DB) EndpointDelete(ctx context.Context, appID, id string, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE endpoints SET deleted_at = ?1, updated_at = ?1 WHERE app_id = ?2 AND id = ?3 AND deleted_at IS NULL`,
			micro(now), appID, id)
		if err != nil {
			return fmt.Errorf("endpoint delete: %w", err)
		}
		if err := mustAffect(res, "endpoint %q", id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE deliveries
			SET status = 'failed', last_error = 'endpoint deleted', last_error_kind = '', next_attempt_at = NULL,
			    lease_owner = NULL, lease_until = NULL, updated_at = ?
			WHERE endpoint_id = ? AND status = 'pending'`,
			micro(now), id)
		if err != nil {
			return fmt.Errorf("endpoint delete: fail pending deliveries: %w", err)
		}
		return nil
	})
}
