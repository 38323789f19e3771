package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// DeliveryGet implements store.Store.
func (db *DB) DeliveryGet(ctx context.Context, appID, id string) (*herald.Delivery, error) {
	var d *herald.Delivery
	err := db.inReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = scanDelivery(tx.QueryRow(ctx,
			`SELECT `+deliveryCols+` FROM deliveries d WHERE d.app_id = $1 AND d.id = $2`, appID, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("delivery %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("delivery get: %w", err)
		}
		return loadAttempts(ctx, tx, []*herald.Delivery{d})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DeliveryList implements store.Store.
func (db *DB) DeliveryList(ctx context.Context, p store.DeliveryListParams) ([]*herald.Delivery, error) {
	var args params
	q := `SELECT ` + deliveryCols + ` FROM deliveries d WHERE TRUE`
	if p.AppID != "" {
		q += ` AND d.app_id = ` + args.add(p.AppID)
	}
	if len(p.EventTypes) > 0 {
		q += ` AND d.event_type = ANY(` + args.add(p.EventTypes) + `::text[])`
	}
	if p.Channel != "" {
		// The event's channels, a short JSON array, through its key.
		q += ` AND EXISTS (SELECT 1 FROM events ev WHERE ev.id = d.event_id AND ev.channels::jsonb @> jsonb_build_array(` + args.add(p.Channel) + `::text))`
	}
	if p.FiltersLastAttempt() {
		// The latest attempt is found through attempts_delivery
		// (delivery_id, number), one probe per delivery read.
		q += ` AND EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id
			AND a.number = (SELECT MAX(m.number) FROM attempts m WHERE m.delivery_id = d.id)`
		if p.LastStatusMin > 0 {
			q += ` AND a.response_status >= ` + args.add(p.LastStatusMin)
		}
		if p.LastStatusMax > 0 {
			q += ` AND a.response_status <= ` + args.add(p.LastStatusMax)
		}
		if p.LastErrorKind != "" {
			q += ` AND a.error_kind = ` + args.add(string(p.LastErrorKind))
		}
		if p.LastMinLatency > 0 {
			q += ` AND a.latency_us >= ` + args.add(p.LastMinLatency.Microseconds())
		}
		q += `)`
	}
	if p.EventID != "" {
		q += ` AND d.event_id = ` + args.add(p.EventID)
	}
	if p.EndpointID != "" {
		q += ` AND d.endpoint_id = ` + args.add(p.EndpointID)
	}
	if p.Status != "" {
		q += ` AND d.status = ` + args.add(string(p.Status))
	}
	if p.Failure.Valid() {
		kinds := make([]string, len(herald.DefinitionErrorKinds))
		for i, k := range herald.DefinitionErrorKinds {
			kinds[i] = string(k)
		}
		cmp := ` = ANY(`
		if p.Failure == herald.FailureDestination {
			cmp = ` <> ALL(`
		}
		q += ` AND d.status = 'failed' AND d.last_error_kind` + cmp + args.add(kinds) + `::text[])`
	}
	if !p.Since.IsZero() {
		q += ` AND d.created_at >= ` + args.add(ts(p.Since))
	}
	if !p.Until.IsZero() {
		q += ` AND d.created_at < ` + args.add(ts(p.Until))
	}
	if p.Cursor != "" {
		q += ` AND d.id < ` + args.add(p.Cursor)
	}
	q += ` ORDER BY d.id DESC LIMIT ` + args.add(store.ListLimit(p.Limit))

	ds := []*herald.Delivery{}
	err := db.inReadTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("delivery list: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return fmt.Errorf("delivery list: %w", err)
			}
			ds = append(ds, d)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("delivery list: %w", err)
		}
		rows.Close()
		if p.WithAttempts {
			return loadAttempts(ctx, tx, ds)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// loadAttempts fills the Attempts of every delivery of ds, in order, with
// one query.
func loadAttempts(ctx context.Context, tx pgx.Tx, ds []*herald.Delivery) error {
	byID := make(map[string]*herald.Delivery, len(ds))
	ids := make([]string, len(ds))
	for i, d := range ds {
		d.Attempts = []*herald.Attempt{}
		byID[d.ID] = d
		ids[i] = d.ID
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT `+attemptSelect+` FROM attempts
		WHERE delivery_id = ANY($1::text[])
		ORDER BY delivery_id, number, id`, ids)
	if err != nil {
		return fmt.Errorf("load attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return fmt.Errorf("load attempts: %w", err)
		}
		if d := byID[a.DeliveryID]; d != nil {
			d.Attempts = append(d.Attempts, a)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load attempts: %w", err)
	}
	return nil
}

// DeliveriesClaim implements store.Store.
//
// Due rows are read in due order (ties by id) and locked with FOR UPDATE
// SKIP LOCKED: a row another node's claim is taking is stepped over
// instead of waited for, and a row that node has just leased no longer
// matches when re-checked, so concurrent claims never return the same
// delivery and never queue behind each other. A lease that ran out
// (lease_until before now: its node is gone or stuck) counts as none.
//
// With p.PerEndpoint, rows are read in pages and picked in Go; once an
// endpoint reaches its cap, the next page leaves it out in SQL, so that one
// endpoint's large backlog at the head of the queue is stepped over in the
// index. The picked rows are then leased by one statement, and their
// events and endpoints read once each (see loadJobs).
func (db *DB) DeliveriesClaim(ctx context.Context, p store.ClaimParams) ([]*store.Job, error) {
	var jobs []*store.Job
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		ids, err := pickDue(ctx, tx, p)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err := tx.Query(ctx, `WITH d AS (
				UPDATE deliveries SET lease_owner = $2, lease_until = $3
				WHERE id = ANY($1::text[])
				RETURNING *)
			SELECT `+deliveryCols+` FROM d
			ORDER BY d.next_attempt_at, d.id`,
			ids, p.Owner, ts(p.LeaseUntil))
		if err != nil {
			return fmt.Errorf("claim: lease: %w", err)
		}
		ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*herald.Delivery, error) { return scanDelivery(r) })
		if err != nil {
			return fmt.Errorf("claim: lease: %w", err)
		}
		if jobs, err = loadJobs(ctx, tx, ds); err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		for _, j := range jobs {
			j.LeaseUntil = p.LeaseUntil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// orderedReady holds for a delivery d (of endpoint e) that its ordering
// key lets go: it has none, or no earlier delivery of its endpoint and
// key is pending (waiting, in flight or between retries), nor, when the
// endpoint pauses keys on failure, failed and not skipped; and no other
// delivery of the key is in flight (leased, lease running), which keeps a
// key to one request at a time even when two nodes commit deliveries of
// one key out of id order. ordering_seq is the acceptance order (ids, ULIDs
// made on several nodes, are not). The terms on o imply
// deliveries_ordering's predicate, so that the probe reads that partial
// index only. $1 is now.
const orderedReady = `(d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o
	WHERE o.ordering_key IS NOT NULL AND o.status IN ('pending', 'failed')
		AND o.endpoint_id = d.endpoint_id AND o.ordering_key = d.ordering_key AND o.id <> d.id
		AND (o.ordering_seq < d.ordering_seq AND (o.status = 'pending' OR NOT o.skipped AND e.settings::jsonb->>'ordering_on_failure' = 'pause')
			OR o.status = 'pending' AND o.lease_owner IS NOT NULL AND o.lease_until >= $1)))`

// pickDue locks and returns the ids of the due deliveries a claim takes,
// in due order, as store.ClaimPicker picks them.
func pickDue(ctx context.Context, tx pgx.Tx, p store.ClaimParams) ([]string, error) {
	var (
		pick  = store.NewClaimPicker(p)
		after bool // whether afterDue and afterID hold the last row read
		// The last row read: the next page starts after it.
		afterDue time.Time
		afterID  string
	)
	now := ts(p.Now)
	for {
		capped := pick.Capped()
		var args params
		cond := `d.status = 'pending' AND d.next_attempt_at <= ` + args.add(now) + `
			AND (d.lease_owner IS NULL OR d.lease_until < $1)
			AND e.enabled AND e.deleted_at IS NULL AND e.kind <> 'pull'
			AND ` + orderedReady
		if p.EndpointID != "" {
			cond += ` AND d.endpoint_id = ` + args.add(p.EndpointID)
		}
		if after {
			cond += ` AND (d.next_attempt_at, d.id) > (` + args.add(afterDue) + `, ` + args.add(afterID) + `)`
		}
		if len(capped) > 0 {
			cond += ` AND d.endpoint_id <> ALL(` + args.add(capped) + `::text[])`
		}
		q := `SELECT d.id, d.endpoint_id, d.next_attempt_at
			FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
			WHERE ` + cond + `
			ORDER BY d.next_attempt_at, d.id
			LIMIT ` + args.add(pick.Page()) + `
			FOR UPDATE OF d SKIP LOCKED`
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("claim: select: %w", err)
		}
		for rows.Next() {
			var id, ep string
			var due time.Time
			if err := rows.Scan(&id, &ep, &due); err != nil {
				rows.Close()
				return nil, fmt.Errorf("claim: select: %w", err)
			}
			after, afterDue, afterID = true, due, id
			pick.Offer(id, ep)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("claim: select: %w", err)
		}
		if !pick.NextPage() {
			return pick.IDs(), nil
		}
	}
}

// loadJobs returns ds as leased jobs with their events and endpoints, in
// the order of ds; a delivery whose event or endpoint row is gone is left
// out.
//
// Each distinct event and endpoint is read once: with fan-out, one claim
// holds the same event for hundreds of endpoints, and a join would send
// and decode its payload and routing (which lists every endpoint it went
// to) once per delivery, a cost that grows with the square of the
// fan-out. Jobs of one event share one *herald.Event, as EventsEnqueue's
// do.
func loadJobs(ctx context.Context, tx pgx.Tx, ds []*herald.Delivery) ([]*store.Job, error) {
	events := map[string]*herald.Event{}
	endpoints := map[string]*herald.Endpoint{}
	var evIDs, epIDs []string
	for _, d := range ds {
		if _, ok := events[d.EventID]; !ok {
			events[d.EventID] = nil
			evIDs = append(evIDs, d.EventID)
		}
		if _, ok := endpoints[d.EndpointID]; !ok {
			endpoints[d.EndpointID] = nil
			epIDs = append(epIDs, d.EndpointID)
		}
	}
	var b pgx.Batch
	b.Queue(`SELECT `+eventCols+` FROM events ev WHERE ev.id = ANY($1::text[])`, evIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			ev, err := scanEvent(rows)
			if err != nil {
				return err
			}
			events[ev.ID] = ev
		}
		return rows.Err()
	})
	b.Queue(`SELECT `+endpointCols+` FROM endpoints e WHERE e.id = ANY($1::text[])`, epIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			ep, err := scanEndpoint(rows)
			if err != nil {
				return err
			}
			endpoints[ep.ID] = ep
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	jobs := make([]*store.Job, 0, len(ds))
	for _, d := range ds {
		ev, ep := events[d.EventID], endpoints[d.EndpointID]
		if ev == nil || ep == nil {
			continue
		}
		jobs = append(jobs, &store.Job{Delivery: d, Event: ev, Endpoint: ep, Leased: true})
	}
	return jobs, nil
}

// jobSelect reads deliveries with their events and endpoints; scanJob
// scans its rows.
const jobSelect = `SELECT ` + deliveryCols + `, ` + eventCols + `, ` + endpointCols + `
	FROM deliveries d
	JOIN events ev ON ev.id = d.event_id
	JOIN endpoints e ON e.id = d.endpoint_id`

func scanJob(s scanner) (*store.Job, error) {
	d, dDest, dDone := deliveryDest()
	ev, evDest, evDone := eventDest()
	ep, epDest, epDone := endpointDest()
	if err := s.Scan(append(append(dDest, evDest...), epDest...)...); err != nil {
		return nil, err
	}
	dDone()
	if err := errors.Join(evDone(), epDone()); err != nil {
		return nil, err
	}
	return &store.Job{Delivery: d, Event: ev, Endpoint: ep}, nil
}

// retryOfDeleted is true when the new status (the parameter status) is
// pending and the endpoint of the delivery row (delivery, a table or its
// alias) has been deleted: such a retry fails the delivery instead, as
// EndpointDelete did to the endpoint's other pending deliveries.
func retryOfDeleted(status, delivery string) string {
	return `(` + status + `::text = 'pending' AND EXISTS (SELECT 1 FROM endpoints e
		WHERE e.id = ` + delivery + `.endpoint_id AND e.deleted_at IS NOT NULL))`
}

// Statements of DeliveriesRecord, run once per result.
var (
	// insertAttempt inserts the attempt only if its delivery still
	// exists; its number defaults to the delivery's next one. It keeps
	// its app and the status it gives the delivery (as recordDelivery
	// sets it) for AttemptsFollow, which reads neither through the
	// deliveries; its xid column defaults to the transaction's id.
	insertAttempt = `INSERT INTO attempts (` + attemptCols + `, app_id, delivery_status, next_attempt_at)
		SELECT $1::text, d.id, CASE WHEN $2::int > 0 THEN $2::int ELSE d.attempt_count + 1 END, $3::text, $4::timestamptz,
			$5::text, $6::text, $7::text, $8::bytea, $9::int, $10::text, $11::bytea, $12::boolean,
			$13::bigint, $14::text, $15::text, $17::int, d.app_id,
			CASE WHEN ` + retryOfDeleted("$18", "d") + ` THEN 'failed' ELSE $18::text END,
			CASE WHEN ` + retryOfDeleted("$18", "d") + ` THEN NULL WHEN $18::text = 'pending' THEN $19::timestamptz END
		FROM deliveries d WHERE d.id = $16`
	recordDelivery = `UPDATE deliveries
		SET status = CASE WHEN ` + retryOfDeleted("$1", "deliveries") + ` THEN 'failed' ELSE $1::text END,
			next_attempt_at = CASE WHEN ` + retryOfDeleted("$1", "deliveries") + ` THEN NULL ELSE $2::timestamptz END,
			last_error = CASE WHEN ` + retryOfDeleted("$1", "deliveries") + ` THEN 'endpoint deleted' ELSE $3::text END,
			last_error_kind = CASE WHEN ` + retryOfDeleted("$1", "deliveries") + ` THEN '' ELSE $6::text END,
			attempt_count = attempt_count + 1,
			lease_owner = NULL, lease_until = NULL, updated_at = $4, skipped = false
		WHERE id = $5`
)

// DeliveriesRecord implements store.Store.
//
// The two statements of every result are sent as one pgx.Batch: one round
// trip for the whole call, executed in order, so that a second result for
// the same delivery sees the first. An attempt whose Number is not above 0
// gets its delivery's next number, and one whose ID is empty gets a new
// id, written back to the attempt.
func (db *DB) DeliveriesRecord(ctx context.Context, results []store.AttemptResult) error {
	if len(results) == 0 {
		return nil
	}
	if err := store.CheckAttemptResults(results); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	var lost []string
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var kept map[string]struct{}
		var err error
		kept, lost, err = fence(ctx, tx, results)
		if err != nil {
			return err
		}
		return recordBatch(ctx, tx, results, kept)
	})
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		return &store.LeaseLostError{DeliveryIDs: lost}
	}
	return nil
}

// fence locks the deliveries of results that name their Owner and
// returns which results may be recorded (their lease is still the
// owner's, or they name none), or nil when no result names one, and the
// deliveries whose results are refused. The rows stay locked until the
// transaction ends, so no claim can take them in between; they are
// locked in id order, as every fenced record does, so that two never
// wait for each other. A delivery that is gone is neither: it is skipped
// as a vanished one.
func fence(ctx context.Context, tx pgx.Tx, results []store.AttemptResult) (map[string]struct{}, []string, error) {
	var ids, owners []string
	for _, r := range results {
		if r.Owner != "" {
			ids = append(ids, r.Attempt.DeliveryID)
			owners = append(owners, r.Owner)
		}
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT id, COALESCE(lease_owner, '') FROM deliveries
		WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("record: lease: %w", err)
	}
	held := map[string]string{}
	for rows.Next() {
		var id, owner string
		if err := rows.Scan(&id, &owner); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("record: lease: %w", err)
		}
		held[id] = owner
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("record: lease: %w", err)
	}
	kept := map[string]struct{}{}
	var lost []string
	for i, id := range ids {
		owner, ok := held[id]
		switch {
		case !ok:
		case owner == owners[i]:
			kept[id] = struct{}{}
		default:
			lost = append(lost, id)
		}
	}
	// A result without Owner is always recorded.
	for _, r := range results {
		if r.Owner == "" {
			kept[r.Attempt.DeliveryID] = struct{}{}
		}
	}
	return kept, lost, nil
}

// recordBatch writes the results (those in kept, when kept is not nil)
// in one round trip.
func recordBatch(ctx context.Context, tx pgx.Tx, results []store.AttemptResult, kept map[string]struct{}) error {
	var b pgx.Batch
	for _, r := range results {
		if kept != nil {
			if _, ok := kept[r.Attempt.DeliveryID]; !ok {
				continue
			}
		}
		row, err := store.PrepareRecord(r)
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		a, v := r.Attempt, row.Attempt
		b.Queue(insertAttempt, a.ID, a.Number, a.Trigger, ts(row.AttemptAt),
			a.Request.Method, a.Request.URL, v.RequestHeaders, v.RequestBody,
			int32Ptr(v.Status), v.ResponseHeaders, v.ResponseBody, v.Truncated,
			v.LatencyUS, string(a.ErrorKind), a.Error,
			a.DeliveryID, int32Ptr(v.PayloadAt), string(r.Status), tsPtr(row.NextAttemptAt))
		b.Queue(recordDelivery, string(r.Status), tsPtr(row.NextAttemptAt), row.LastError, ts(r.Now), a.DeliveryID, string(row.LastErrorKind))
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		if isUnique(err) {
			err = fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// DeliveriesRelease implements store.Store.
func (db *DB) DeliveriesRelease(ctx context.Context, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 AND id = ANY($2::text[])`,
			owner, ids)
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		return notifyIf(ctx, tx, tag.RowsAffected() > 0, "release")
	})
}

// notifyIf sends the due notification within tx when cond holds.
func notifyIf(ctx context.Context, tx pgx.Tx, cond bool, what string) error {
	if !cond {
		return nil
	}
	if _, err := tx.Exec(ctx, notifyDue); err != nil {
		return fmt.Errorf("%s: notify: %w", what, err)
	}
	return nil
}

// LeasesExtend implements store.Store.
func (db *DB) LeasesExtend(ctx context.Context, owner string, until time.Time) error {
	_, err := db.pool.Exec(ctx,
		`UPDATE deliveries SET lease_until = $1 WHERE lease_owner = $2 AND status = 'pending'`,
		ts(until), owner)
	if err != nil {
		return fmt.Errorf("extend leases: %w", err)
	}
	return nil
}

// LeasesReleaseAll implements store.Store. With several nodes on one
// database a node must not call it: the other nodes' leases are alive.
func (db *DB) LeasesReleaseAll(ctx context.Context) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL AND lease_owner <> $1`,
			store.PullOwner)
		if err != nil {
			return fmt.Errorf("release all leases: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM nodes`); err != nil {
			return fmt.Errorf("release all leases: forget nodes: %w", err)
		}
		return notifyIf(ctx, tx, tag.RowsAffected() > 0, "release all leases")
	})
}

// LeasesReleaseDead implements store.Store. The owners of leases are
// found by a loose index scan of deliveries_lease_owner, one probe per
// owner, so a heartbeat's call costs little however many leases there
// are. Pull handouts' owner is no node and never dead. Rows still locked
// (by the dead node's transaction that the server has not ended yet) are
// skipped, not waited for: the caller's heartbeat must not stall, and the
// next one clears them.
func (db *DB) LeasesReleaseDead(ctx context.Context, now time.Time, within time.Duration) (int, error) {
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `WITH RECURSIVE o(v) AS (
				SELECT (SELECT min(lease_owner) FROM deliveries WHERE lease_owner IS NOT NULL)
				UNION ALL
				SELECT (SELECT min(lease_owner) FROM deliveries WHERE lease_owner > o.v) FROM o WHERE o.v IS NOT NULL),
			dead AS (SELECT v FROM o WHERE v IS NOT NULL AND v <> $2
				AND NOT EXISTS (SELECT 1 FROM nodes WHERE nodes.id = o.v AND nodes.seen_at >= $1))
			UPDATE deliveries SET lease_owner = NULL, lease_until = NULL
			WHERE id IN (SELECT id FROM deliveries WHERE lease_owner IN (SELECT v FROM dead)
				FOR UPDATE SKIP LOCKED)`, ts(now.Add(-max(within, 0))), store.PullOwner)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return notifyIf(ctx, tx, n > 0, "release dead leases")
	})
	if err != nil {
		return 0, fmt.Errorf("release dead leases: %w", err)
	}
	return int(n), nil
}

// NextDueAt implements store.Store. A leased delivery does not count, even
// past its lease: the store has no clock of its own to tell.
func (db *DB) NextDueAt(ctx context.Context) (*time.Time, error) {
	var next *time.Time
	err := db.pool.QueryRow(ctx, `SELECT d.next_attempt_at
		FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
		WHERE d.status = 'pending' AND d.next_attempt_at IS NOT NULL AND d.lease_owner IS NULL
			AND e.enabled AND e.deleted_at IS NULL AND e.kind <> 'pull'
		ORDER BY d.next_attempt_at
		LIMIT 1`).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("next due: %w", err)
	}
	return utcPtr(next), nil
}
