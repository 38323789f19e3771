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

// EndpointDisable implements store.Store. The health record is left as it
// is: EndpointUpdate clears it when the endpoint is enabled again.
func (db *DB) EndpointDisable(ctx context.Context, appID, id, reason string, now time.Time) (*herald.Endpoint, error) {
	var ep *herald.Endpoint
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		ep, err = disableEndpoint(ctx, tx, appID, id, reason, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ep, nil
}

// disableEndpoint turns an enabled endpoint off with reason and time, and
// returns it as stored; nil when it was disabled already. The settings
// document is read and written back in the caller's write transaction, so
// that no concurrent change to the other settings is lost.
func disableEndpoint(ctx context.Context, tx *sql.Tx, appID, id, reason string, now time.Time) (*herald.Endpoint, error) {
	ep, err := scanEndpoint(tx.QueryRowContext(ctx,
		`SELECT `+endpointCols+` FROM endpoints e WHERE e.app_id = ? AND e.id = ? AND e.deleted_at IS NULL`,
		appID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("endpoint %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint disable: %w", err)
	}
	if !ep.Enabled {
		return nil, nil
	}
	settings, err := store.MarkDisabled(ep, reason, now)
	if err != nil {
		return nil, fmt.Errorf("endpoint disable: settings: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET enabled = 0, settings = ?, updated_at = ? WHERE id = ?`,
		settings, micro(ep.UpdatedAt), ep.ID); err != nil {
		return nil, fmt.Errorf("endpoint disable: %w", err)
	}
	return ep, nil
}

// EndpointsTrackHealth implements store.Store.
//
// Results are folded per endpoint first (store.FoldHealth), so that a
// batch costs one update per endpoint however many of its deliveries it
// holds.
func (db *DB) EndpointsTrackHealth(ctx context.Context, p store.HealthParams) ([]*herald.Endpoint, error) {
	if len(p.Results) == 0 {
		return nil, nil
	}
	tallies := store.FoldHealth(p.Results)
	now := micro(p.Now)
	var disabled []*herald.Endpoint
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		st := tx.StmtContext(ctx, db.stmts.trackHealth)
		for _, t := range tallies {
			var (
				enabled bool
				since   sql.NullInt64
				count   int
			)
			err := st.QueryRowContext(ctx, t.Reset, t.Failures, now, t.AppID, t.EndpointID).Scan(&enabled, &since, &count)
			if errors.Is(err, sql.ErrNoRows) {
				continue // deleted, never was, or healthy and still so
			}
			if err != nil {
				return fmt.Errorf("track health: %w", err)
			}
			reason := p.DisableReason(enabled, fromNullMicro(since), count)
			if reason == "" {
				continue
			}
			ep, err := disableEndpoint(ctx, tx, t.AppID, t.EndpointID, reason, p.Now)
			if err != nil {
				return fmt.Errorf("track health: %w", err)
			}
			if ep != nil {
				disabled = append(disabled, ep)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return disabled, nil
}

// statsCountsQuery counts an endpoint's deliveries of the week by status
// and window in one pass. Its arguments: ?1 the endpoint, ?2 the id bound
// of the week (see herald.IDAt), ?3 to ?5 the starts of the week, day and hour,
// ?6 now. The id bound makes the endpoint's index read the week's rows
// only; created_at decides exactly.
const statsCountsQuery = `SELECT
		COALESCE(SUM(d.status = 'pending' AND d.created_at >= ?5), 0),
		COALESCE(SUM(d.status = 'succeeded' AND d.created_at >= ?5), 0),
		COALESCE(SUM(d.status = 'failed' AND d.created_at >= ?5), 0),
		COALESCE(SUM(d.status = 'pending' AND d.created_at >= ?4), 0),
		COALESCE(SUM(d.status = 'succeeded' AND d.created_at >= ?4), 0),
		COALESCE(SUM(d.status = 'failed' AND d.created_at >= ?4), 0),
		COALESCE(SUM(d.status = 'pending'), 0),
		COALESCE(SUM(d.status = 'succeeded'), 0),
		COALESCE(SUM(d.status = 'failed'), 0),
		COALESCE(SUM(d.status = 'pending' AND d.attempt_count > 0 AND d.created_at >= ?5), 0),
		COALESCE(SUM(d.status = 'pending' AND d.attempt_count > 0 AND d.created_at >= ?4), 0),
		COALESCE(SUM(d.status = 'pending' AND d.attempt_count > 0), 0),
		COALESCE(SUM(d.status = 'cancelled' AND d.created_at >= ?5), 0),
		COALESCE(SUM(d.status = 'cancelled' AND d.created_at >= ?4), 0),
		COALESCE(SUM(d.status = 'cancelled'), 0)
	FROM deliveries d
	WHERE d.endpoint_id = ?1 AND d.id >= ?2 AND d.created_at >= ?3 AND d.created_at < ?6`

// statsAttemptsQuery reads the attempts of the same deliveries that got an
// answer or failed. Its arguments: ?1 the endpoint, ?2 the week's id
// bound, ?3 the week's start, ?4 now.
const statsAttemptsQuery = `SELECT a.id, a.created_at, a.response_status, a.latency_us, a.error_kind, a.error
	FROM deliveries d CROSS JOIN attempts a ON a.delivery_id = d.id
	WHERE d.endpoint_id = ?1 AND d.id >= ?2 AND d.created_at >= ?3 AND d.created_at < ?4
		AND (a.response_status IS NOT NULL OR a.error_kind != '')`

// EndpointStats implements store.Store.
//
// Everything is about the deliveries created in the week before now and
// their attempts, read through the endpoint's delivery index from the
// week's id bound: the cost follows the week's traffic, not the history.
// So the last success and the last failure are those among the week's
// deliveries' attempts: an endpoint with no delivery for a week reports
// neither.
func (db *DB) EndpointStats(ctx context.Context, appID, id string, now time.Time) (*herald.EndpointStats, error) {
	var st *herald.EndpointStats
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM endpoints WHERE app_id = ? AND id = ?`,
			appID, id).Scan(&n); err != nil {
			return fmt.Errorf("endpoint stats: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("endpoint %q: %w", id, store.ErrNotFound)
		}

		b := store.NewStatsBuilder(now)
		hour, day, week := b.Windows()
		if err := tx.QueryRowContext(ctx, statsCountsQuery, id, b.WeekIDBound, micro(b.WeekStart),
			micro(b.DayStart), micro(b.HourStart), micro(now)).Scan(
			&hour.Pending, &hour.Succeeded, &hour.Failed,
			&day.Pending, &day.Succeeded, &day.Failed,
			&week.Pending, &week.Succeeded, &week.Failed,
			&hour.Retrying, &day.Retrying, &week.Retrying,
			&hour.Cancelled, &day.Cancelled, &week.Cancelled); err != nil {
			return fmt.Errorf("endpoint stats: counts: %w", err)
		}

		rows, err := tx.QueryContext(ctx, statsAttemptsQuery, id, b.WeekIDBound, micro(b.WeekStart), micro(now))
		if err != nil {
			return fmt.Errorf("endpoint stats: attempts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				aid, kind, msg  string
				created, micros int64
				status          sql.NullInt64
			)
			if err := rows.Scan(&aid, &created, &status, &micros, &kind, &msg); err != nil {
				return fmt.Errorf("endpoint stats: attempts: %w", err)
			}
			var code *int
			if status.Valid {
				c := int(status.Int64)
				code = &c
			}
			b.AddAttempt(aid, fromMicro(created), code, micros, kind, msg)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("endpoint stats: attempts: %w", err)
		}
		st = b.Stats()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}
