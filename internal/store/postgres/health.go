package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// EndpointDisable implements store.Store. The health record is left as it
// is: EndpointUpdate clears it when the endpoint is enabled again.
func (db *DB) EndpointDisable(ctx context.Context, appID, id, reason string, now time.Time) (*herald.Endpoint, error) {
	var ep *herald.Endpoint
	err := db.inTx(ctx, func(tx pgx.Tx) error {
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
// returns it as stored; nil when it was disabled already. The row is read
// FOR UPDATE and its settings document written back in the caller's
// transaction, so that no concurrent change to the other settings (by
// another node) is lost.
func disableEndpoint(ctx context.Context, tx pgx.Tx, appID, id, reason string, now time.Time) (*herald.Endpoint, error) {
	ep, err := scanEndpoint(tx.QueryRow(ctx,
		`SELECT `+endpointCols+` FROM endpoints e WHERE e.app_id = $1 AND e.id = $2 AND e.deleted_at IS NULL FOR UPDATE`,
		appID, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
	if _, err := tx.Exec(ctx, `UPDATE endpoints SET enabled = false, settings = $1, updated_at = $2 WHERE id = $3`,
		settings, ep.UpdatedAt, ep.ID); err != nil {
		return nil, fmt.Errorf("endpoint disable: %w", err)
	}
	return ep, nil
}

// trackHealth updates one endpoint's record: after a success, it restarts
// with the failures that followed (none: cleared); otherwise the failures
// add up from the first one's time. A healthy endpoint's successes change
// nothing and write nothing.
const trackHealth = `UPDATE endpoints
	SET failing_since = CASE WHEN $1::boolean THEN (CASE WHEN $2::int > 0 THEN $3::timestamptz END)
			ELSE COALESCE(failing_since, $3::timestamptz) END,
		failed_count = CASE WHEN $1::boolean THEN $2::int ELSE failed_count + $2::int END
	WHERE app_id = $4 AND id = $5 AND deleted_at IS NULL
		AND ($2::int > 0 OR failing_since IS NOT NULL OR failed_count != 0)
	RETURNING enabled, failing_since, failed_count`

// EndpointsTrackHealth implements store.Store. Results are folded per
// endpoint first (store.FoldHealth), so that a batch costs one update per
// endpoint. Endpoints are updated in id order, so that two nodes' batches
// lock them in the same order.
func (db *DB) EndpointsTrackHealth(ctx context.Context, p store.HealthParams) ([]*herald.Endpoint, error) {
	if len(p.Results) == 0 {
		return nil, nil
	}
	tallies := store.FoldHealth(p.Results)
	slices.SortStableFunc(tallies, func(a, b *store.HealthTally) int { return strings.Compare(a.EndpointID, b.EndpointID) })

	now := ts(p.Now)
	var disabled []*herald.Endpoint
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		disabled = nil
		for _, t := range tallies {
			var (
				enabled bool
				since   *time.Time
				count   int
			)
			err := tx.QueryRow(ctx, trackHealth, t.Reset, t.Failures, now, t.AppID, t.EndpointID).Scan(&enabled, &since, &count)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // deleted, never was, or healthy and still so
			}
			if err != nil {
				return fmt.Errorf("track health: %w", err)
			}
			reason := p.DisableReason(enabled, since, count)
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
// and window in one pass. Its arguments: $1 the endpoint, $2 the id bound
// of the week (see herald.IDAt), $3 to $5 the starts of the week, day and hour,
// $6 now. The id bound makes the endpoint's index read the week's rows
// only; created_at decides exactly.
const statsCountsQuery = `SELECT
		count(*) FILTER (WHERE d.status = 'pending' AND d.created_at >= $5),
		count(*) FILTER (WHERE d.status = 'succeeded' AND d.created_at >= $5),
		count(*) FILTER (WHERE d.status = 'failed' AND d.created_at >= $5),
		count(*) FILTER (WHERE d.status = 'pending' AND d.created_at >= $4),
		count(*) FILTER (WHERE d.status = 'succeeded' AND d.created_at >= $4),
		count(*) FILTER (WHERE d.status = 'failed' AND d.created_at >= $4),
		count(*) FILTER (WHERE d.status = 'pending'),
		count(*) FILTER (WHERE d.status = 'succeeded'),
		count(*) FILTER (WHERE d.status = 'failed'),
		count(*) FILTER (WHERE d.status = 'pending' AND d.attempt_count > 0 AND d.created_at >= $5),
		count(*) FILTER (WHERE d.status = 'pending' AND d.attempt_count > 0 AND d.created_at >= $4),
		count(*) FILTER (WHERE d.status = 'pending' AND d.attempt_count > 0),
		count(*) FILTER (WHERE d.status = 'cancelled' AND d.created_at >= $5),
		count(*) FILTER (WHERE d.status = 'cancelled' AND d.created_at >= $4),
		count(*) FILTER (WHERE d.status = 'cancelled')
	FROM deliveries d
	WHERE d.endpoint_id = $1 AND d.id >= $2 AND d.created_at >= $3 AND d.created_at < $6`

// statsAttemptsQuery reads the attempts of the same deliveries that got an
// answer or failed. Its arguments: $1 the endpoint, $2 the week's id
// bound, $3 the week's start, $4 now.
const statsAttemptsQuery = `SELECT a.id, a.created_at, a.response_status, a.latency_us, a.error_kind, a.error
	FROM deliveries d JOIN attempts a ON a.delivery_id = d.id
	WHERE d.endpoint_id = $1 AND d.id >= $2 AND d.created_at >= $3 AND d.created_at < $4
		AND (a.response_status IS NOT NULL OR a.error_kind != '')`

// EndpointStats implements store.Store: everything is about the
// deliveries created in the week before now and their attempts, read
// through the endpoint's delivery index from the week's id bound.
func (db *DB) EndpointStats(ctx context.Context, appID, id string, now time.Time) (*herald.EndpointStats, error) {
	var st *herald.EndpointStats
	err := db.inReadTx(ctx, func(tx pgx.Tx) error {
		var found bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE app_id = $1 AND id = $2)`,
			appID, id).Scan(&found); err != nil {
			return fmt.Errorf("endpoint stats: %w", err)
		}
		if !found {
			return fmt.Errorf("endpoint %q: %w", id, store.ErrNotFound)
		}

		b := store.NewStatsBuilder(now)
		hour, day, week := b.Windows()
		if err := tx.QueryRow(ctx, statsCountsQuery, id, b.WeekIDBound, ts(b.WeekStart),
			ts(b.DayStart), ts(b.HourStart), ts(now)).Scan(
			&hour.Pending, &hour.Succeeded, &hour.Failed,
			&day.Pending, &day.Succeeded, &day.Failed,
			&week.Pending, &week.Succeeded, &week.Failed,
			&hour.Retrying, &day.Retrying, &week.Retrying,
			&hour.Cancelled, &day.Cancelled, &week.Cancelled); err != nil {
			return fmt.Errorf("endpoint stats: counts: %w", err)
		}

		rows, err := tx.Query(ctx, statsAttemptsQuery, id, b.WeekIDBound, ts(b.WeekStart), ts(now))
		if err != nil {
			return fmt.Errorf("endpoint stats: attempts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				aid, kind, msg string
				created        time.Time
				micros         int64
				status         *int32
			)
			if err := rows.Scan(&aid, &created, &status, &micros, &kind, &msg); err != nil {
				return fmt.Errorf("endpoint stats: attempts: %w", err)
			}
			var code *int
			if status != nil {
				c := int(*status)
				code = &c
			}
			b.AddAttempt(aid, created, code, micros, kind, msg)
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
