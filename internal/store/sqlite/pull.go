package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/internal/store"
)

// pullQuery selects one pull endpoint's due rows (id, next_attempt_at) in
// due order: ?1 the endpoint, ?2 now, ?3 the most rows. As in claimQuery,
// unleased rows come from the endpoint's due index, read in order, and
// rows whose lease ran out (a handout never acknowledged) from the lease
// index, merged in; the unary + keeps SQLite on the lease index.
const pullQuery = `SELECT d.id, d.next_attempt_at FROM deliveries d
	WHERE d.endpoint_id = ?1 AND d.status = 'pending' AND d.lease_owner IS NULL AND d.next_attempt_at <= ?2
	UNION ALL
	SELECT d.id, d.next_attempt_at FROM deliveries d
	WHERE d.lease_owner IS NOT NULL AND d.lease_until < ?2
		AND d.status = 'pending' AND +d.endpoint_id = ?1 AND d.next_attempt_at <= ?2
	ORDER BY 2, 1
	LIMIT ?3`

// DeliveriesPull implements store.Store. The endpoint is checked in the
// same write transaction, so a handout never follows the endpoint's
// deletion or disabling.
func (db *DB) DeliveriesPull(ctx context.Context, p store.PullParams) ([]*store.Job, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = store.DefaultClaimLimit
	}
	// Waiting pulls ask again and again, mostly to find nothing: a read
	// answers that without taking the single writer from the others.
	var due int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+pullQuery+`)`, p.EndpointID, micro(p.Now), 1).Scan(&due)
	if err != nil {
		return nil, fmt.Errorf("pull: select: %w", err)
	}
	if due == 0 {
		return nil, nil
	}
	var jobs []*store.Job
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM endpoints
			WHERE id = ? AND app_id = ? AND kind = 'pull' AND enabled = 1 AND deleted_at IS NULL`,
			p.EndpointID, p.AppID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("pull: endpoint: %w", err)
		}
		rows, err := tx.QueryContext(ctx, pullQuery, p.EndpointID, micro(p.Now), limit)
		if err != nil {
			return fmt.Errorf("pull: select: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			var due int64
			if err := rows.Scan(&id, &due); err != nil {
				rows.Close()
				return fmt.Errorf("pull: select: %w", err)
			}
			ids = append(ids, id)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("pull: select: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if jobs, err = db.loadJobs(ctx, tx, ids); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		for _, j := range jobs {
			j.LeaseUntil = p.Until
		}
		if err := db.stmts.claimLease.exec(ctx, tx, ids, store.PullOwner, micro(p.Until)); err != nil {
			return fmt.Errorf("pull: lease: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}
