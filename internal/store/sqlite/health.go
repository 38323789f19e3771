package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	at := fromMicro(micro(now))
	ep.Enabled = false
	ep.DisabledReason, ep.DisabledAt = reason, &at
	ep.UpdatedAt = at
	settings, err := endpointSettingsJSON(ep.EndpointSettings)
	if err != nil {
		return nil, fmt.Errorf("endpoint disable: settings: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET enabled = 0, settings = ?, updated_at = ? WHERE id = ?`,
		settings, micro(at), ep.ID); err != nil {
		return nil, fmt.Errorf("endpoint disable: %w", err)
	}
	return ep, nil
}

// healthTally is what one batch says about one endpoint: whether a
// success came (which clears the record) and how many failures came after
// the last success, or in all when none succeeded.
type healthTally struct {
	appID, id string
	reset     bool
	failures  int
}

// EndpointsTrackHealth implements store.Store.
//
// Results are folded per endpoint first, so that a batch costs one update
// per endpoint however many of its deliveries it holds: only the last
// success and the failures after it matter.
func (db *DB) EndpointsTrackHealth(ctx context.Context, p store.HealthParams) ([]*herald.Endpoint, error) {
	if len(p.Results) == 0 {
		return nil, nil
	}
	var tallies []*healthTally
	byID := map[string]*healthTally{}
	for _, r := range p.Results {
		key := r.AppID + "\x00" + r.EndpointID
		t := byID[key]
		if t == nil {
			t = &healthTally{appID: r.AppID, id: r.EndpointID}
			byID[key] = t
			tallies = append(tallies, t)
		}
		if r.Succeeded {
			t.reset, t.failures = true, 0
		} else {
			t.failures++
		}
	}

	now := micro(p.Now)
	failingBefore := micro(p.Now.Add(-p.Window))
	var disabled []*herald.Endpoint
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// After a success, the record restarts with the failures that
		// followed it (none: cleared); otherwise the failures add up
		// from the first one's time. A healthy endpoint's successes
		// change nothing and write nothing: the usual batch then
		// commits without touching the file.
		st, err := tx.PrepareContext(ctx, `UPDATE endpoints
			SET failing_since = CASE WHEN ?1 THEN (CASE WHEN ?2 > 0 THEN ?3 END) ELSE COALESCE(failing_since, ?3) END,
				failed_count = CASE WHEN ?1 THEN ?2 ELSE failed_count + ?2 END
			WHERE app_id = ?4 AND id = ?5 AND deleted_at IS NULL
				AND (?2 > 0 OR failing_since IS NOT NULL OR failed_count != 0)
			RETURNING enabled, failing_since, failed_count`)
		if err != nil {
			return fmt.Errorf("track health: %w", err)
		}
		defer st.Close()
		for _, t := range tallies {
			var (
				enabled bool
				since   sql.NullInt64
				count   int
			)
			err := st.QueryRowContext(ctx, t.reset, t.failures, now, t.appID, t.id).Scan(&enabled, &since, &count)
			if errors.Is(err, sql.ErrNoRows) {
				continue // deleted, never was, or healthy and still so
			}
			if err != nil {
				return fmt.Errorf("track health: %w", err)
			}
			if p.Window <= 0 || !enabled || !since.Valid || since.Int64 > failingBefore || count < p.MinFailures {
				continue
			}
			reason := fmt.Sprintf("every delivery failed since %s (%d failed deliveries)",
				fromMicro(since.Int64).Format(time.RFC3339), count)
			ep, err := disableEndpoint(ctx, tx, t.appID, t.id, reason, p.Now)
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

// Stats windows, back from now.
const (
	statsHour = time.Hour
	statsDay  = 24 * time.Hour
	statsWeek = 7 * 24 * time.Hour
)

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
		COALESCE(SUM(d.status = 'failed'), 0)
	FROM deliveries d
	WHERE d.endpoint_id = ?1 AND d.id >= ?2 AND d.created_at >= ?3 AND d.created_at < ?6`

// statsAttemptsQuery reads the attempts of the same deliveries that got an
// answer or failed. Its arguments: ?1 the endpoint, ?2 the week's id
// bound, ?3 the week's start, ?4 now.
const statsAttemptsQuery = `SELECT a.id, a.created_at, a.response_status, a.latency_us, a.error_kind, a.error
	FROM deliveries d CROSS JOIN attempts a ON a.delivery_id = d.id
	WHERE d.endpoint_id = ?1 AND d.id >= ?2 AND d.created_at >= ?3 AND d.created_at < ?4
		AND (a.response_status IS NOT NULL OR a.error_kind != '')`

// latest tracks the latest of some attempts: by time, then by id.
type latest struct {
	at  *time.Time
	us  int64
	id  string
	err string
}

func (l *latest) offer(us int64, id, err string) {
	if l.at != nil && (us < l.us || us == l.us && id < l.id) {
		return
	}
	t := fromMicro(us)
	*l = latest{at: &t, us: us, id: id, err: err}
}

// EndpointStats implements store.Store.
//
// Everything is about the deliveries created in the week before now and
// their attempts, read through the endpoint's delivery index from the
// week's id bound: the cost follows the week's traffic, not the history.
// So the last success and the last failure are those among the week's
// deliveries' attempts: an endpoint with no delivery for a week reports
// neither.
func (db *DB) EndpointStats(ctx context.Context, appID, id string, now time.Time) (*herald.EndpointStats, error) {
	st := &herald.EndpointStats{}
	weekStart := now.Add(-statsWeek)
	bound := herald.IDAt(herald.PrefixDelivery, weekStart)
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM endpoints WHERE app_id = ? AND id = ?`,
			appID, id).Scan(&n); err != nil {
			return fmt.Errorf("endpoint stats: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("endpoint %q: %w", id, store.ErrNotFound)
		}

		if err := tx.QueryRowContext(ctx, statsCountsQuery, id, bound, micro(weekStart),
			micro(now.Add(-statsDay)), micro(now.Add(-statsHour)), micro(now)).Scan(
			&st.Hour.Pending, &st.Hour.Succeeded, &st.Hour.Failed,
			&st.Day.Pending, &st.Day.Succeeded, &st.Day.Failed,
			&st.Week.Pending, &st.Week.Succeeded, &st.Week.Failed); err != nil {
			return fmt.Errorf("endpoint stats: counts: %w", err)
		}
		for _, w := range []*herald.StatsWindow{&st.Hour, &st.Day, &st.Week} {
			if done := w.Succeeded + w.Failed; done > 0 {
				r := float64(w.Succeeded) / float64(done)
				w.SuccessRate = &r
			}
		}

		rows, err := tx.QueryContext(ctx, statsAttemptsQuery, id, bound, micro(weekStart), micro(now))
		if err != nil {
			return fmt.Errorf("endpoint stats: attempts: %w", err)
		}
		defer rows.Close()
		var (
			latencies     []int64
			success, fail latest
			series        = store.NewSeriesBuilder(now)
		)
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
			series.Add(fromMicro(created), code, micros)
			if status.Valid {
				latencies = append(latencies, micros)
				if status.Int64 >= 200 && status.Int64 <= 299 {
					success.offer(created, aid, "")
				}
			}
			if kind != "" {
				fail.offer(created, aid, msg)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("endpoint stats: attempts: %w", err)
		}
		slices.Sort(latencies)
		st.LatencyP50MS = store.PercentileMS(latencies, 50)
		st.LatencyP99MS = store.PercentileMS(latencies, 99)
		st.LastSuccessAt = success.at
		st.LastFailureAt, st.LastFailureError = fail.at, fail.err
		st.Series = series.Series()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}
