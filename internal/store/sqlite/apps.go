package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// AppCreate implements store.Store.
func (db *DB) AppCreate(ctx context.Context, app *herald.App) error {
	settings, err := store.JSONDoc(app.AppSettings)
	if err != nil {
		return fmt.Errorf("app create: settings: %w", err)
	}
	_, err = db.w.ExecContext(ctx,
		`INSERT INTO apps (id, uid, name, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		app.ID, nullString(app.UID), app.Name, settings, micro(app.CreatedAt), micro(app.UpdatedAt))
	if isUnique(err) {
		return fmt.Errorf("app %q (uid %q): %w", app.ID, app.UID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("app create: %w", err)
	}
	return nil
}

// AppGet implements store.Store. An id match wins over a uid match.
func (db *DB) AppGet(ctx context.Context, idOrUID string) (*herald.App, error) {
	row := db.r.QueryRowContext(ctx,
		`SELECT `+appCols+` FROM apps WHERE id = ?1 OR uid = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrUID)
	a, err := scanApp(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("app %q: %w", idOrUID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("app get: %w", err)
	}
	return a, nil
}

// AppList implements store.Store.
func (db *DB) AppList(ctx context.Context, p store.ListParams) ([]*herald.App, error) {
	q := `SELECT ` + appCols + ` FROM apps`
	var args []any
	if p.Cursor != "" {
		q += ` WHERE id < ?`
		args = append(args, p.Cursor)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, store.ListLimit(p.Limit))
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("app list: %w", err)
	}
	defer rows.Close()
	apps := []*herald.App{}
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("app list: %w", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("app list: %w", err)
	}
	return apps, nil
}

// AppUpdate implements store.Store. It saves the app's settings too: they
// are edited through the same API call as its name.
func (db *DB) AppUpdate(ctx context.Context, app *herald.App) error {
	settings, err := store.JSONDoc(app.AppSettings)
	if err != nil {
		return fmt.Errorf("app update: settings: %w", err)
	}
	res, err := db.w.ExecContext(ctx,
		`UPDATE apps SET name = ?, uid = ?, settings = ?, updated_at = ? WHERE id = ?`,
		app.Name, nullString(app.UID), settings, micro(app.UpdatedAt), app.ID)
	if isUnique(err) {
		return fmt.Errorf("app %q: uid %q: %w", app.ID, app.UID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("app update: %w", err)
	}
	return mustAffect(res, "app %q", app.ID)
}

// AppDelete implements store.Store. Without foreign keys the cascade is
// spelled out, child tables first, in one transaction. The app's API keys
// go with it; its audit entries stay: the history of a deleted tenant
// remains readable by the installation's admin (AuditList).
func (db *DB) AppDelete(ctx context.Context, appID string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM apps WHERE id = ?`, appID)
		if err != nil {
			return fmt.Errorf("app delete: %w", err)
		}
		if err := mustAffect(res, "app %q", appID); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE app_id = ?)`,
			`DELETE FROM deliveries WHERE app_id = ?`,
			`DELETE FROM events WHERE app_id = ?`,
			`DELETE FROM endpoints WHERE app_id = ?`,
			`DELETE FROM endpoint_templates WHERE app_id = ?`,
			`DELETE FROM bulk_jobs WHERE app_id = ?`,
			`DELETE FROM usage WHERE app_id = ?`,
			`DELETE FROM api_keys WHERE app_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, appID); err != nil {
				return fmt.Errorf("app delete: %w", err)
			}
		}
		return nil
	})
}

// EventTypeCreate implements store.Store.
func (db *DB) EventTypeCreate(ctx context.Context, et *herald.EventType) error {
	_, err := db.w.ExecContext(ctx,
		`INSERT INTO event_types (name, description, schema, sample, group_name, deprecated, created_at, updated_at, versions)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		et.Name, et.Description, blob(et.Schema), blob(et.Sample), et.Group, et.Deprecated,
		micro(et.CreatedAt), micro(et.UpdatedAt), store.EncodeVersions(et))
	if isUnique(err) {
		return fmt.Errorf("event type %q: %w", et.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("event type create: %w", err)
	}
	return nil
}

// EventTypeGet implements store.Store.
func (db *DB) EventTypeGet(ctx context.Context, name string) (*herald.EventType, error) {
	et, err := scanEventType(db.r.QueryRowContext(ctx,
		`SELECT `+eventTypeCols+` FROM event_types WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("event type %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("event type get: %w", err)
	}
	return et, nil
}

// EventTypeList implements store.Store.
func (db *DB) EventTypeList(ctx context.Context, p store.ListParams) ([]*herald.EventType, error) {
	q := `SELECT ` + eventTypeCols + ` FROM event_types`
	var args []any
	if p.Cursor != "" {
		q += ` WHERE name > ?`
		args = append(args, p.Cursor)
	}
	q += ` ORDER BY name LIMIT ?`
	args = append(args, store.ListLimit(p.Limit))
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("event type list: %w", err)
	}
	defer rows.Close()
	ets := []*herald.EventType{}
	for rows.Next() {
		et, err := scanEventType(rows)
		if err != nil {
			return nil, fmt.Errorf("event type list: %w", err)
		}
		ets = append(ets, et)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("event type list: %w", err)
	}
	return ets, nil
}

// EventTypeUpdate implements store.Store. Group and deprecation are saved
// too: they are edited with the description.
func (db *DB) EventTypeUpdate(ctx context.Context, et *herald.EventType) error {
	res, err := db.w.ExecContext(ctx,
		`UPDATE event_types SET description = ?, schema = ?, sample = ?, group_name = ?, deprecated = ?, updated_at = ?
		WHERE name = ?`,
		et.Description, blob(et.Schema), blob(et.Sample), et.Group, et.Deprecated, micro(et.UpdatedAt), et.Name)
	if err != nil {
		return fmt.Errorf("event type update: %w", err)
	}
	return mustAffect(res, "event type %q", et.Name)
}

// EventTypeSetVersions implements store.Store.
func (db *DB) EventTypeSetVersions(ctx context.Context, et *herald.EventType, was string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE event_types SET versions = ?, updated_at = ? WHERE name = ? AND versions = ?`,
		store.EncodeVersions(et), micro(et.UpdatedAt), et.Name, was)
	if err != nil {
		return fmt.Errorf("event type versions: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	if _, err := db.EventTypeGet(ctx, et.Name); err != nil {
		return err
	}
	return fmt.Errorf("event type %q: versions changed meanwhile: %w", et.Name, store.ErrConflict)
}

// EventTypeDelete implements store.Store.
func (db *DB) EventTypeDelete(ctx context.Context, name string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM event_types WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("event type delete: %w", err)
	}
	return mustAffect(res, "event type %q", name)
}

// mustAffect returns ErrNotFound, described by format and args, when res
// changed no row.
func mustAffect(res sql.Result, format string, args ...any) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf(format+": %w", append(args, err)...)
	}
	if n == 0 {
		return fmt.Errorf(format+": %w", append(args, store.ErrNotFound)...)
	}
	return nil
}
