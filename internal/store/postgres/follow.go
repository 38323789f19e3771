package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// followQuery reads an app's attempts after the cursor ($2 xid, $3 id)
// in (xid, id) order, only those of transactions that ended before the
// oldest one still running began (see migration 0007): a row written by
// a transaction still open may be committed later with a smaller xid
// than another's, but never one below the horizon. The index
// attempts_app serves the range and the order.
const followQuery = `SELECT a.xid::text, a.id, a.delivery_id, a.number, a.trigger, a.created_at,
		a.request_method, a.request_url, a.response_status, a.latency_us, a.error_kind, a.error,
		a.delivery_status, d.event_id, d.event_type, d.endpoint_id,
		a.next_attempt_at
	FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
	WHERE a.app_id = $1 AND (a.xid, a.id) > ($2::text::xid8, $3::text)
		AND a.xid < pg_snapshot_xmin(pg_current_snapshot())
	ORDER BY a.xid, a.id
	LIMIT $4`

// AttemptsFollow implements store.Store. The cursor is "xid:id"; the
// first one is the app's latest attempt, or the horizon with no id (before
// every row still to come). An attempt whose transaction was still open
// when the first cursor was made, with an xid below that latest one's,
// is taken as before it: it was being recorded as the follower started.
func (db *DB) AttemptsFollow(ctx context.Context, p store.FollowParams) (store.FollowPage, error) {
	if p.Cursor == "" {
		// Past the horizon, and past the app's latest attempt already
		// visible, which may be beyond it: a long transaction elsewhere
		// must not make "from now" show the past.
		var cursor string
		err := db.pool.QueryRow(ctx, `WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x)
			SELECT COALESCE((SELECT a.xid::text || ':' || a.id FROM attempts a, h
					WHERE a.app_id = $1 AND a.xid >= h.x ORDER BY a.xid DESC, a.id DESC LIMIT 1),
				(SELECT x::text || ':' FROM h))`, p.AppID).Scan(&cursor)
		if err != nil {
			return store.FollowPage{}, fmt.Errorf("follow: latest: %w", err)
		}
		return store.FollowPage{Cursor: cursor}, nil
	}
	xid, id, ok := strings.Cut(p.Cursor, ":")
	if _, err := strconv.ParseUint(xid, 10, 64); !ok || err != nil {
		return store.FollowPage{}, fmt.Errorf("follow: cursor %q: %w", p.Cursor, store.ErrCursor)
	}
	rows, err := db.pool.Query(ctx, followQuery, p.AppID, xid, id, store.ListLimit(p.Limit))
	if err != nil {
		return store.FollowPage{}, fmt.Errorf("follow: select: %w", err)
	}
	defer rows.Close()
	page := store.FollowPage{Cursor: p.Cursor}
	for rows.Next() {
		var (
			rowXID string
			a      herald.Attempt
			f      = store.FollowedAttempt{Attempt: &a}
			status *int32
			c      store.FollowedColumns
			kind   string
			dstat  string
			next   *time.Time
		)
		if err := rows.Scan(&rowXID, &a.ID, &a.DeliveryID, &a.Number, &a.Trigger, &a.CreatedAt,
			&a.Request.Method, &a.Request.URL, &status, &c.LatencyUS, &kind, &a.Error,
			&dstat, &f.EventID, &f.EventType, &f.EndpointID, &next); err != nil {
			return store.FollowPage{}, fmt.Errorf("follow: scan: %w", err)
		}
		a.CreatedAt = a.CreatedAt.UTC()
		a.ErrorKind = herald.ErrorKind(kind)
		f.DeliveryStatus = herald.DeliveryStatus(dstat)
		if status != nil {
			code := int(*status)
			c.Status = &code
		}
		if next != nil {
			u := next.UTC()
			f.NextAttemptAt = &u
		}
		f.Cursor = rowXID + ":" + a.ID
		page.Attempts = append(page.Attempts, store.Followed(&f, c))
		page.Cursor = f.Cursor
	}
	if err := rows.Err(); err != nil {
		return store.FollowPage{}, fmt.Errorf("follow: %w", err)
	}
	return page, nil
}
