package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// followQuery reads an app's attempts after a rowid, in rowid order: the
// order the single writer wrote them in (see migration 0010). The index
// attempts_app (app_id, then rowid) serves the range and the order; each
// row's delivery is found by its primary key.
const followQuery = `SELECT a.rowid, a.id, a.delivery_id, a.number, a.trigger, a.created_at,
		a.request_method, a.request_url, a.response_status, a.latency_us, a.error_kind, a.error,
		a.delivery_status, d.event_id, d.event_type, d.endpoint_id,
		a.next_attempt_at
	FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
	WHERE a.app_id = ?1 AND a.rowid > ?2
	ORDER BY a.rowid
	LIMIT ?3`

// AttemptsFollow implements store.Store. The cursor is a rowid in
// decimal. Herald never runs VACUUM, which may renumber the rowids of a
// table without an INTEGER PRIMARY KEY: cursors handed out before one
// may then repeat or skip attempts, so followers should start again
// without their cursor after an operator runs it.
func (db *DB) AttemptsFollow(ctx context.Context, p store.FollowParams) (store.FollowPage, error) {
	if p.Cursor == "" {
		var last int64
		err := db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(rowid), 0) FROM attempts WHERE app_id = ?`, p.AppID).Scan(&last)
		if err != nil {
			return store.FollowPage{}, fmt.Errorf("follow: latest: %w", err)
		}
		return store.FollowPage{Cursor: strconv.FormatInt(last, 10)}, nil
	}
	after, err := strconv.ParseInt(p.Cursor, 10, 64)
	if err != nil || after < 0 {
		return store.FollowPage{}, fmt.Errorf("follow: cursor %q: %w", p.Cursor, store.ErrCursor)
	}
	rows, err := db.r.QueryContext(ctx, followQuery, p.AppID, after, store.ListLimit(p.Limit))
	if err != nil {
		return store.FollowPage{}, fmt.Errorf("follow: select: %w", err)
	}
	defer rows.Close()
	page := store.FollowPage{Cursor: p.Cursor}
	for rows.Next() {
		var (
			seq, created int64
			a            herald.Attempt
			f            = store.FollowedAttempt{Attempt: &a}
			status       sql.NullInt64
			c            store.FollowedColumns
			next         sql.NullInt64
		)
		if err := rows.Scan(&seq, &a.ID, &a.DeliveryID, &a.Number, &a.Trigger, &created,
			&a.Request.Method, &a.Request.URL, &status, &c.LatencyUS, &a.ErrorKind, &a.Error,
			&f.DeliveryStatus, &f.EventID, &f.EventType, &f.EndpointID, &next); err != nil {
			return store.FollowPage{}, fmt.Errorf("follow: scan: %w", err)
		}
		a.CreatedAt = fromMicro(created)
		if status.Valid {
			code := int(status.Int64)
			c.Status = &code
		}
		f.NextAttemptAt = fromNullMicro(next)
		f.Cursor = strconv.FormatInt(seq, 10)
		page.Attempts = append(page.Attempts, store.Followed(&f, c))
		page.Cursor = f.Cursor
	}
	if err := rows.Err(); err != nil {
		return store.FollowPage{}, fmt.Errorf("follow: %w", err)
	}
	return page, nil
}
