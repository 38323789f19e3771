package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	at := ts(now)
	ep.Enabled = false
	ep.DisabledReason, ep.DisabledAt = reason, &at
	ep.UpdatedAt = at
	settings, err := endpointSettingsJSON(ep.EndpointSettings)
	if err != nil {
		return nil, fmt.Errorf("endpoint disable: settings: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE endpoints SET enabled = false, settings = $1, updated_at = $2 WHERE id = $3`,
		settings, at, ep.ID); err != nil {
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
// endpoint first, so that a batch costs one update per endpoint. Endpoints
// are updated in id order, so that two nodes' batches lock them in the
// same order.
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
	slices.SortStableFunc(tallies, func(a, b *healthTally) int { return compareStrings(a.id, b.id) })

	now := ts(p.Now)
	failingBefore := p.Now.Add(-p.Window)
	var disabled []*herald.Endpoint
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		disabled = nil
		for _, t := range tallies {
			var (
				enabled bool
				since   *time.Time
				count   int
			)
			err := tx.QueryRow(ctx, trackHealth, t.reset, t.failures, now, t.appID, t.id).Scan(&enabled, &since, &count)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // deleted, never was, or healthy and still so
			}
			if err != nil {
				return fmt.Errorf("track health: %w", err)
			}
			if p.Window <= 0 || !enabled || since == nil || since.After(failingBefore) || count < p.MinFailures {
				continue
			}
			reason := fmt.Sprintf("every delivery failed since %s (%d failed deliveries)",
				since.UTC().Format(time.RFC3339), count)
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
		count(*) FILTER (WHERE d.status = 'failed')
	FROM deliveries d
	WHERE d.endpoint_id = $1 AND d.id >= $2 AND d.created_at >= $3 AND d.created_at < $6`

// statsAttemptsQuery reads the attempts of the same deliveries that got an
// answer or failed. Its arguments: $1 the endpoint, $2 the week's id
// bound, $3 the week's start, $4 now.
const statsAttemptsQuery = `SELECT a.id, a.created_at, a.response_status, a.latency_us, a.error_kind, a.error
	FROM deliveries d JOIN attempts a ON a.delivery_id = d.id
	WHERE d.endpoint_id = $1 AND d.id >= $2 AND d.created_at >= $3 AND d.created_at < $4
		AND (a.response_status IS NOT NULL OR a.error_kind != '')`

// latest tracks the latest of some attempts: by time, then by id.
type latest struct {
	at  *time.Time
	id  string
	err string
}

func (l *latest) offer(t time.Time, id, err string) {
	if l.at != nil && (t.Before(*l.at) || t.Equal(*l.at) && id < l.id) {
		return
	}
	t = t.UTC()
	*l = latest{at: &t, id: id, err: err}
}

// EndpointStats implements store.Store: everything is about the
// deliveries created in the week before now and their attempts, read
// through the endpoint's delivery index from the week's id bound.
func (db *DB) EndpointStats(ctx context.Context, appID, id string, now time.Time) (*herald.EndpointStats, error) {
	st := &herald.EndpointStats{}
	weekStart := now.Add(-statsWeek)
	bound := herald.IDAt(herald.PrefixDelivery, weekStart)
	err := db.inReadTx(ctx, func(tx pgx.Tx) error {
		var found bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints WHERE app_id = $1 AND id = $2)`,
			appID, id).Scan(&found); err != nil {
			return fmt.Errorf("endpoint stats: %w", err)
		}
		if !found {
			return fmt.Errorf("endpoint %q: %w", id, store.ErrNotFound)
		}

		if err := tx.QueryRow(ctx, statsCountsQuery, id, bound, ts(weekStart),
			ts(now.Add(-statsDay)), ts(now.Add(-statsHour)), ts(now)).Scan(
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

		rows, err := tx.Query(ctx, statsAttemptsQuery, id, bound, ts(weekStart), ts(now))
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
			series.Add(created, code, micros)
			if status != nil {
				latencies = append(latencies, micros)
				if *status >= 200 && *status <= 299 {
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
