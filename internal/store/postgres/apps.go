package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// AppCreate implements store.Store.
func (db *DB) AppCreate(ctx context.Context, app *herald.App) error {
	settings, err := store.JSONDoc(app.AppSettings)
	if err != nil {
		return fmt.Errorf("app create: settings: %w", err)
	}
	_, err = db.pool.Exec(ctx,
		`INSERT INTO apps (id, uid, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		app.ID, nullString(app.UID), app.Name, settings, ts(app.CreatedAt), ts(app.UpdatedAt))
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
	a, err := scanApp(db.pool.QueryRow(ctx,
		`SELECT `+appCols+` FROM apps WHERE id = $1 OR uid = $1 ORDER BY id = $1 DESC LIMIT 1`, idOrUID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("app %q: %w", idOrUID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("app get: %w", err)
	}
	return a, nil
}

// AppList implements store.Store.
func (db *DB) AppList(ctx context.Context, p store.ListParams) ([]*herald.App, error) {
	var args params
	q := `SELECT ` + appCols + ` FROM apps`
	if p.Cursor != "" {
		q += ` WHERE id < ` + args.add(p.Cursor)
	}
	q += ` ORDER BY id DESC LIMIT ` + args.add(store.ListLimit(p.Limit))
	rows, err := db.pool.Query(ctx, q, args...)
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

// AppUpdate implements store.Store. It saves the app's settings too.
func (db *DB) AppUpdate(ctx context.Context, app *herald.App) error {
	settings, err := store.JSONDoc(app.AppSettings)
	if err != nil {
		return fmt.Errorf("app update: settings: %w", err)
	}
	tag, err := db.pool.Exec(ctx,
		`UPDATE apps SET name = $1, uid = $2, settings = $3, updated_at = $4 WHERE id = $5`,
		app.Name, nullString(app.UID), settings, ts(app.UpdatedAt), app.ID)
	if isUnique(err) {
		return fmt.Errorf("app %q: uid %q: %w", app.ID, app.UID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("app update: %w", err)
	}
	return mustAffect(tag, "app %q", app.ID)
}

// AppDelete implements store.Store. Without foreign keys the cascade is
// spelled out, in one transaction. Deleting the app row first locks it:
// inserts conditional on the app (endpoints, events, jobs) wait for this
// transaction, then find the app gone. The app's API keys go with it; its
// audit entries stay: the history of a deleted tenant remains readable by
// the installation's admin (AuditList).
func (db *DB) AppDelete(ctx context.Context, appID string) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM apps WHERE id = $1`, appID)
		if err != nil {
			return fmt.Errorf("app delete: %w", err)
		}
		if err := mustAffect(tag, "app %q", appID); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE app_id = $1)`,
			`DELETE FROM deliveries WHERE app_id = $1`,
			`DELETE FROM events WHERE app_id = $1`,
			`DELETE FROM endpoints WHERE app_id = $1`,
			`DELETE FROM endpoint_templates WHERE app_id = $1`,
			`DELETE FROM bulk_jobs WHERE app_id = $1`,
			`DELETE FROM usage WHERE app_id = $1`,
			`DELETE FROM api_keys WHERE app_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, appID); err != nil {
				return fmt.Errorf("app delete: %w", err)
			}
		}
		return nil
	})
}

// EventTypeCreate implements store.Store.
func (db *DB) EventTypeCreate(ctx context.Context, et *herald.EventType) error {
	_, err := db.pool.Exec(ctx,
		`INSERT INTO event_types (name, description, schema, sample, group_name, deprecated, created_at, updated_at, versions)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		et.Name, et.Description, blob(et.Schema), blob(et.Sample), et.Group, et.Deprecated,
		ts(et.CreatedAt), ts(et.UpdatedAt), store.EncodeVersions(et))
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
	et, err := scanEventType(db.pool.QueryRow(ctx,
		`SELECT `+eventTypeCols+` FROM event_types WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("event type %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("event type get: %w", err)
	}
	return et, nil
}

// EventTypeList implements store.Store. Names compare byte by byte (the
// column is COLLATE "C"), as in the SQLite driver.
func (db *DB) EventTypeList(ctx context.Context, p store.ListParams) ([]*herald.EventType, error) {
	var args params
	q := `SELECT ` + eventTypeCols + ` FROM event_types`
	if p.Cursor != "" {
		q += ` WHERE name > ` + args.add(p.Cursor)
	}
	q += ` ORDER BY name LIMIT ` + args.add(store.ListLimit(p.Limit))
	rows, err := db.pool.Query(ctx, q, args...)
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

// EventTypeUpdate implements store.Store.
func (db *DB) EventTypeUpdate(ctx context.Context, et *herald.EventType) error {
	tag, err := db.pool.Exec(ctx,
		`UPDATE event_types SET description = $1, schema = $2, sample = $3, group_name = $4, deprecated = $5, updated_at = $6
		WHERE name = $7`,
		et.Description, blob(et.Schema), blob(et.Sample), et.Group, et.Deprecated, ts(et.UpdatedAt), et.Name)
	if err != nil {
		return fmt.Errorf("event type update: %w", err)
	}
	return mustAffect(tag, "event type %q", et.Name)
}

// EventTypeSetVersions implements store.Store.
func (db *DB) EventTypeSetVersions(ctx context.Context, et *herald.EventType, was string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE event_types SET versions = $1, updated_at = $2 WHERE name = $3 AND versions = $4`,
		store.EncodeVersions(et), ts(et.UpdatedAt), et.Name, was)
	if err != nil {
		return fmt.Errorf("event type versions: %w", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	if _, err := db.EventTypeGet(ctx, et.Name); err != nil {
		return err
	}
	return fmt.Errorf("event type %q: versions changed meanwhile: %w", et.Name, store.ErrConflict)
}

// EventTypeDelete implements store.Store.
func (db *DB) EventTypeDelete(ctx context.Context, name string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM event_types WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("event type delete: %w", err)
	}
	return mustAffect(tag, "event type %q", name)
}

const bulkJobCols = `id, app_id, kind, state, total, done, error, created_at, updated_at`

// BulkJobCreate implements store.Store. The insert is conditional on the
// app's existence (ErrNotFound), under a key-share lock of its row so that
// a concurrent AppDelete cannot leave the job behind.
func (db *DB) BulkJobCreate(ctx context.Context, j *herald.BulkJob) error {
	tag, err := db.pool.Exec(ctx, `INSERT INTO bulk_jobs (`+bulkJobCols+`)
		SELECT $1, id, $2, $3, $4::int, $5::int, $6, $7::timestamptz, $8::timestamptz FROM apps WHERE id = $9 FOR KEY SHARE`,
		j.ID, j.Kind, j.State, j.Total, j.Done, j.Error, ts(j.CreatedAt), ts(j.UpdatedAt), j.AppID)
	if isUnique(err) {
		return fmt.Errorf("job %q: %w", j.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("job create: %w", err)
	}
	return mustAffect(tag, "app %q", j.AppID)
}

// BulkJobUpdate implements store.Store. The job is matched by AppID and ID.
func (db *DB) BulkJobUpdate(ctx context.Context, j *herald.BulkJob) error {
	tag, err := db.pool.Exec(ctx, `UPDATE bulk_jobs
		SET state = $1, total = $2, done = $3, error = $4, updated_at = $5
		WHERE app_id = $6 AND id = $7`,
		j.State, j.Total, j.Done, j.Error, ts(j.UpdatedAt), j.AppID, j.ID)
	if err != nil {
		return fmt.Errorf("job update: %w", err)
	}
	return mustAffect(tag, "job %q", j.ID)
}

// BulkJobGet implements store.Store.
func (db *DB) BulkJobGet(ctx context.Context, appID, id string) (*herald.BulkJob, error) {
	var j herald.BulkJob
	err := db.pool.QueryRow(ctx, `SELECT `+bulkJobCols+` FROM bulk_jobs WHERE app_id = $1 AND id = $2`, appID, id).
		Scan(&j.ID, &j.AppID, &j.Kind, &j.State, &j.Total, &j.Done, &j.Error, &j.CreatedAt, &j.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("job %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("job get: %w", err)
	}
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	return &j, nil
}
