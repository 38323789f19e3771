package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

const bulkJobCols = `id, app_id, kind, state, total, done, error, created_at, updated_at`

// BulkJobCreate implements store.Store. Like EndpointCreate, the insert is
// conditional on the app's existence (ErrNotFound), so that a job started
// while its app is deleted leaves no row AppDelete would not remove.
func (db *DB) BulkJobCreate(ctx context.Context, j *herald.BulkJob) error {
	res, err := db.w.ExecContext(ctx, `INSERT INTO bulk_jobs (`+bulkJobCols+`)
		SELECT ?, id, ?, ?, ?, ?, ?, ?, ? FROM apps WHERE id = ?`,
		j.ID, j.Kind, j.State, j.Total, j.Done, j.Error, micro(j.CreatedAt), micro(j.UpdatedAt), j.AppID)
	if isUnique(err) {
		return fmt.Errorf("job %q: %w", j.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("job create: %w", err)
	}
	return mustAffect(res, "app %q", j.AppID)
}

// BulkJobUpdate implements store.Store. The job is matched by AppID and ID.
func (db *DB) BulkJobUpdate(ctx context.Context, j *herald.BulkJob) error {
	res, err := db.w.ExecContext(ctx, `UPDATE bulk_jobs
		SET state = ?, total = ?, done = ?, error = ?, updated_at = ?
		WHERE app_id = ? AND id = ?`,
		j.State, j.Total, j.Done, j.Error, micro(j.UpdatedAt), j.AppID, j.ID)
	if err != nil {
		return fmt.Errorf("job update: %w", err)
	}
	return mustAffect(res, "job %q", j.ID)
}

// BulkJobGet implements store.Store.
func (db *DB) BulkJobGet(ctx context.Context, appID, id string) (*herald.BulkJob, error) {
	var (
		j          herald.BulkJob
		created, u int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT `+bulkJobCols+` FROM bulk_jobs WHERE app_id = ? AND id = ?`, appID, id).
		Scan(&j.ID, &j.AppID, &j.Kind, &j.State, &j.Total, &j.Done, &j.Error, &created, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("job %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("job get: %w", err)
	}
	j.CreatedAt, j.UpdatedAt = fromMicro(created), fromMicro(u)
	return &j, nil
}
