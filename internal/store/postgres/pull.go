package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// DeliveriesPull implements store.Store.
//
// As in DeliveriesClaim, due rows are locked with FOR UPDATE SKIP LOCKED:
// two clients pulling at once, on any nodes, never get the same delivery,
// and never wait for each other. The endpoint is checked in the same
// statement, so a handout never follows its deletion or disabling.
func (db *DB) DeliveriesPull(ctx context.Context, p store.PullParams) ([]*store.Job, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = store.DefaultClaimLimit
	}
	var jobs []*store.Job
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH picked AS (
				SELECT d.id FROM deliveries d
				WHERE d.endpoint_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2
					AND (d.lease_owner IS NULL OR d.lease_until < $2)
					AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = $1 AND e.app_id = $3
						AND e.kind = 'pull' AND e.enabled AND e.deleted_at IS NULL)
				ORDER BY d.next_attempt_at, d.id
				LIMIT $4
				FOR UPDATE SKIP LOCKED),
			d AS (
				UPDATE deliveries SET lease_owner = $5, lease_until = $6
				WHERE id IN (SELECT id FROM picked)
				RETURNING *)
			SELECT `+deliveryCols+` FROM d
			ORDER BY d.next_attempt_at, d.id`,
			p.EndpointID, ts(p.Now), p.AppID, limit, store.PullOwner, ts(p.Until))
		if err != nil {
			return fmt.Errorf("pull: lease: %w", err)
		}
		ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*herald.Delivery, error) { return scanDelivery(r) })
		if err != nil {
			return fmt.Errorf("pull: lease: %w", err)
		}
		if jobs, err = loadJobs(ctx, tx, ds); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		for _, j := range jobs {
			j.LeaseUntil = p.Until
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}
