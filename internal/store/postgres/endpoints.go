package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// EndpointCreate implements store.Store. The insert is conditional on the
// app's existence, under a key-share lock of its row so that a concurrent
// AppDelete either waits for it (and removes the endpoint) or wins (and
// the insert finds no app).
func (db *DB) EndpointCreate(ctx context.Context, ep *herald.Endpoint) error {
	docs, err := store.EncodeEndpoint(ep)
	if err != nil {
		return fmt.Errorf("endpoint create: %w", err)
	}
	ep.Kind = store.EndpointKind(ep)
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO endpoints (id, app_id, url, description, event_types, enabled, secret, timeout_ms, shape, settings, created_at, updated_at, kind)
		SELECT $1, id, $2, $3, $4, $5::boolean, $6, $7::int, $8, $9, $10::timestamptz, $11::timestamptz, $13
		FROM apps WHERE id = $12 FOR KEY SHARE`,
		ep.ID, ep.URL, ep.Description, docs.EventTypes, ep.Enabled, ep.Secret, ep.TimeoutMS, docs.Shape, docs.Settings,
		ts(ep.CreatedAt), ts(ep.UpdatedAt), ep.AppID, ep.Kind)
	if isUnique(err) {
		return fmt.Errorf("endpoint %q: %w", ep.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("endpoint create: %w", err)
	}
	return mustAffect(tag, "app %q", ep.AppID)
}

// EndpointGet implements store.Store.
func (db *DB) EndpointGet(ctx context.Context, appID, id string) (*herald.Endpoint, error) {
	ep, err := scanEndpoint(db.pool.QueryRow(ctx,
		`SELECT `+endpointCols+` FROM endpoints e WHERE e.app_id = $1 AND e.id = $2 AND e.deleted_at IS NULL`,
		appID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("endpoint %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint get: %w", err)
	}
	return ep, nil
}

// EndpointList implements store.Store.
func (db *DB) EndpointList(ctx context.Context, appID string, p store.ListParams) ([]*herald.Endpoint, error) {
	var args params
	q := `SELECT ` + endpointCols + ` FROM endpoints e WHERE e.app_id = ` + args.add(appID) + ` AND e.deleted_at IS NULL`
	if p.Cursor != "" {
		q += ` AND e.id < ` + args.add(p.Cursor)
	}
	q += ` ORDER BY e.id DESC LIMIT ` + args.add(store.ListLimit(p.Limit))
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("endpoint list: %w", err)
	}
	return collectEndpoints(rows)
}

func collectEndpoints(rows pgx.Rows) ([]*herald.Endpoint, error) {
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
// An endpoint enabled again starts with a clean health record: the
// failures that got it disabled must not disable it again at its first
// failure. Enabling an endpoint makes its waiting deliveries due: the
// other nodes are told.
func (db *DB) EndpointUpdate(ctx context.Context, ep *herald.Endpoint) error {
	docs, err := store.EncodeEndpoint(ep)
	if err != nil {
		return fmt.Errorf("endpoint update: %w", err)
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		// SET expressions read the row as it was, so "NOT enabled" is
		// the state before this update.
		tag, err := tx.Exec(ctx, `
			UPDATE endpoints
			SET url = $1, description = $2, event_types = $3, enabled = $4, secret = $5, timeout_ms = $6,
				shape = $7, settings = $8, updated_at = $9,
				failing_since = CASE WHEN NOT enabled AND $4 THEN NULL ELSE failing_since END,
				failed_count = CASE WHEN NOT enabled AND $4 THEN 0 ELSE failed_count END
			WHERE app_id = $10 AND id = $11 AND deleted_at IS NULL`,
			ep.URL, ep.Description, docs.EventTypes, ep.Enabled, ep.Secret, ep.TimeoutMS, docs.Shape, docs.Settings, ts(ep.UpdatedAt),
			ep.AppID, ep.ID)
		if isUnique(err) {
			return fmt.Errorf("endpoint %q: uid %q: %w", ep.ID, ep.UID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("endpoint update: %w", err)
		}
		if err := mustAffect(tag, "endpoint %q", ep.ID); err != nil {
			return err
		}
		if ep.Enabled {
			if _, err := tx.Exec(ctx, notifyDue); err != nil {
				return fmt.Errorf("endpoint update: notify: %w", err)
			}
		}
		return nil
	})
}

// EndpointDelete implements store.Store. The row stays, marked deleted, so
// that its deliveries and attempts keep pointing at something.
func (db *DB) EndpointDelete(ctx context.Context, appID, id string, now time.Time) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`UPDATE endpoints SET deleted_at = $1, updated_at = $1 WHERE app_id = $2 AND id = $3 AND deleted_at IS NULL`,
			ts(now), appID, id)
		if err != nil {
			return fmt.Errorf("endpoint delete: %w", err)
		}
		if err := mustAffect(tag, "endpoint %q", id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE deliveries
			SET status = 'failed', last_error = 'endpoint deleted', last_error_kind = '', next_attempt_at = NULL,
			    lease_owner = NULL, lease_until = NULL, updated_at = $1
			WHERE endpoint_id = $2 AND status = 'pending'`,
			ts(now), id)
		if err != nil {
			return fmt.Errorf("endpoint delete: fail pending deliveries: %w", err)
		}
		return nil
	})
}
