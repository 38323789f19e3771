package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// inChunk bounds the number of ids bound in one IN list.
const inChunk = 500

// deliveryByID reads app's delivery id, without its attempts, in tx;
// op names the operation in errors other than store.ErrNotFound.
func deliveryByID(ctx context.Context, tx *sql.Tx, appID, id, op string) (*herald.Delivery, error) {
	d, err := scanDelivery(tx.QueryRowContext(ctx,
		`SELECT `+deliveryCols+` FROM deliveries d WHERE d.app_id = ? AND d.id = ?`, appID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("delivery %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return d, nil
}

// DeliveryGet implements store.Store.
func (db *DB) DeliveryGet(ctx context.Context, appID, id string) (*herald.Delivery, error) {
	var d *herald.Delivery
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		if d, err = deliveryByID(ctx, tx, appID, id, "delivery get"); err != nil {
			return err
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
	q, args := deliveryListQuery(p)
	ds := []*herald.Delivery{}
	err := db.inReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
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

// deliveryListQuery builds the query of a DeliveryList.
func deliveryListQuery(p store.DeliveryListParams) (string, []any) {
	// With an event or endpoint filter, the unary + keeps SQLite from
	// walking the app's whole history through the app index: the event's
	// or endpoint's index finds the few rows at once, in id order too.
	q := `SELECT ` + deliveryCols + ` FROM deliveries d WHERE d.app_id = ?`
	if p.EventID != "" || p.EndpointID != "" {
		q = `SELECT ` + deliveryCols + ` FROM deliveries d WHERE +d.app_id = ?`
	}
	args := []any{p.AppID}
	if p.AppID == "" {
		q, args = `SELECT `+deliveryCols+` FROM deliveries d WHERE 1`, nil
	}
	if len(p.EventTypes) > 0 {
		q += ` AND d.event_type IN (` + placeholders(len(p.EventTypes)) + `)`
		for _, et := range p.EventTypes {
			args = append(args, et)
		}
	}
	if p.Channel != "" {
		// The event's channels, a short JSON array, through its key.
		q += ` AND EXISTS (SELECT 1 FROM events ev, json_each(ev.channels) WHERE ev.id = d.event_id AND json_each.value = ?)`
		args = append(args, p.Channel)
	}
	if p.FiltersLastAttempt() {
		// The latest attempt is found through attempts_delivery
		// (delivery_id, number), one probe per delivery read.
		q += ` AND EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id
			AND a.number = (SELECT MAX(m.number) FROM attempts m WHERE m.delivery_id = d.id)`
		if p.LastStatusMin > 0 {
			q += ` AND a.response_status >= ?`
			args = append(args, p.LastStatusMin)
		}
		if p.LastStatusMax > 0 {
			q += ` AND a.response_status <= ?`
			args = append(args, p.LastStatusMax)
		}
		if p.LastErrorKind != "" {
			q += ` AND a.error_kind = ?`
			args = append(args, string(p.LastErrorKind))
		}
		if p.LastMinLatency > 0 {
			q += ` AND a.latency_us >= ?`
			args = append(args, p.LastMinLatency.Microseconds())
		}
		q += `)`
	}
	if p.EventID != "" {
		q += ` AND d.event_id = ?`
		args = append(args, p.EventID)
	}
	if p.EndpointID != "" {
		q += ` AND d.endpoint_id = ?`
		args = append(args, p.EndpointID)
	}
	if p.Status != "" {
		q += ` AND d.status = ?`
		args = append(args, string(p.Status))
	}
	if p.Failure.Valid() {
		not := ""
		if p.Failure == herald.FailureDestination {
			not = "NOT "
		}
		q += ` AND d.status = 'failed' AND d.last_error_kind ` + not + `IN (` + placeholders(len(herald.DefinitionErrorKinds)) + `)`
		for _, k := range herald.DefinitionErrorKinds {
			args = append(args, string(k))
		}
	}
	if !p.Since.IsZero() {
		q += ` AND d.created_at >= ?`
		args = append(args, micro(p.Since))
	}
	if !p.Until.IsZero() {
		q += ` AND d.created_at < ?`
		args = append(args, micro(p.Until))
	}
	if p.Cursor != "" {
		q += ` AND d.id < ?`
		args = append(args, p.Cursor)
	}
	q += ` ORDER BY d.id DESC LIMIT ?`
	return q, append(args, store.ListLimit(p.Limit))
}

// loadAttempts fills the Attempts of every delivery of ds, in order, with
// one query per chunk of deliveries rather than one per delivery.
func loadAttempts(ctx context.Context, tx *sql.Tx, ds []*herald.Delivery) error {
	byID := make(map[string]*herald.Delivery, len(ds))
	for _, d := range ds {
		d.Attempts = []*herald.Attempt{}
		byID[d.ID] = d
	}
	for start := 0; start < len(ds); start += inChunk {
		chunk := ds[start:min(start+inChunk, len(ds))]
		args := make([]any, len(chunk))
		for i, d := range chunk {
			args[i] = d.ID
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+attemptSelect+` FROM attempts
			WHERE delivery_id IN (`+placeholders(len(chunk))+`)
			ORDER BY delivery_id, number, id`, args...)
		if err != nil {
			return fmt.Errorf("load attempts: %w", err)
		}
		for rows.Next() {
			a, err := scanAttempt(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("load attempts: %w", err)
			}
			if d := byID[a.DeliveryID]; d != nil {
				d.Attempts = append(d.Attempts, a)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("load attempts: %w", err)
		}
	}
	return nil
}

// DeliveriesClaim implements store.Store.
//
// It walks due rows in due order and picks them in Go, and stops as soon as
// it has p.Limit: a claim reads about as many rows as it returns, whatever
// the backlog's size. With p.PerEndpoint, once an endpoint reaches its cap
// the next page of rows leaves it out in SQL, so that one endpoint's large
// backlog at the head of the queue is stepped over in the index rather
// than row by row in Go.
func (db *DB) DeliveriesClaim(ctx context.Context, p store.ClaimParams) ([]*store.Job, error) {
	var jobs []*store.Job
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ids, err := pickDue(ctx, tx, p)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if jobs, err = db.loadJobs(ctx, tx, ids); err != nil {
			return err
		}
		for _, j := range jobs {
			j.LeaseUntil = p.LeaseUntil
		}
		if err := db.stmts.claimLease.exec(ctx, tx, ids, p.Owner, micro(p.LeaseUntil)); err != nil {
			return fmt.Errorf("claim: lease: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// pickDue returns the ids of the due deliveries a claim takes, in due
// order, as store.ClaimPicker picks them.
func pickDue(ctx context.Context, tx *sql.Tx, p store.ClaimParams) ([]string, error) {
	var (
		pick  = store.NewClaimPicker(p)
		after bool // whether afterDue and afterID hold the last row read
		// The last row read: the next page starts after it.
		afterDue int64
		afterID  string
	)
	for {
		capped := pick.Capped()
		args := []any{micro(p.Now), pick.Page(), p.EndpointID, afterDue, afterID}
		for _, ep := range capped {
			args = append(args, ep)
		}
		rows, err := tx.QueryContext(ctx, claimQuery(p.EndpointID != "", after, len(capped)), args...)
		if err != nil {
			return nil, fmt.Errorf("claim: select: %w", err)
		}
		for !pick.Full() && rows.Next() {
			var id, ep string
			var due int64
			if err := rows.Scan(&id, &ep, &due); err != nil {
				rows.Close()
				return nil, fmt.Errorf("claim: select: %w", err)
			}
			after, afterDue, afterID = true, due, id
			pick.Offer(id, ep)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("claim: select: %w", err)
		}
		if !pick.NextPage() {
			return pick.IDs(), nil
		}
	}
}

// claimQuery selects due rows (id, endpoint_id, next_attempt_at) in due
// order. Its arguments: ?1 now, ?2 the most rows to return, ?3 the
// endpoint if oneEndpoint, ?4 and ?5 the next_attempt_at and id of the row
// to start after if after, and from ?6 on, skip endpoints to leave out.
//
// Unleased rows come from a due index, read in order without sorting;
// rows whose lease ran out (their node is
// gone) come from the lease index and are merged in. CROSS JOIN makes
// SQLite keep deliveries as the outer loop instead of starting from
// endpoints.
func claimQuery(oneEndpoint, after bool, skip int) string {
	cond := ` AND e.enabled = 1 AND e.deleted_at IS NULL AND e.kind <> 'pull' AND ` + orderedReady
	if after {
		cond += ` AND (d.next_attempt_at, d.id) > (?4, ?5)`
	}
	if skip > 0 {
		ps := make([]string, skip)
		for i := range ps {
			ps[i] = fmt.Sprintf("?%d", 6+i)
		}
		cond += ` AND d.endpoint_id NOT IN (` + strings.Join(ps, ", ") + `)`
	}
	ready, expired := cond, cond
	if oneEndpoint {
		ready += ` AND d.endpoint_id = ?3`
		// The unary + keeps SQLite on the lease index: the endpoint's
		// index would walk its whole history.
		expired += ` AND +d.endpoint_id = ?3`
	}
	return `SELECT d.id, d.endpoint_id, d.next_attempt_at
		FROM deliveries d CROSS JOIN endpoints e ON e.id = d.endpoint_id
		WHERE d.status = 'pending' AND d.lease_owner IS NULL AND d.next_attempt_at <= ?1` + ready + `
		UNION ALL
		SELECT d.id, d.endpoint_id, d.next_attempt_at
		FROM deliveries d CROSS JOIN endpoints e ON e.id = d.endpoint_id
		WHERE d.lease_owner IS NOT NULL AND d.lease_until < ?1
			AND d.status = 'pending' AND d.next_attempt_at <= ?1` + expired + `
		ORDER BY 3, 1
		LIMIT ?2`
}

// orderedReady holds for a delivery d (of endpoint e) that its ordering
// key lets go: it has none, or no earlier delivery of its endpoint and
// key is pending (waiting, in flight or between retries), nor, when the
// endpoint pauses keys on failure, failed and not skipped; and no other
// delivery of the key is in flight (leased, lease running), which keeps a
// key to one request at a time even if a delivery accepted earlier is
// committed after a later one. Ids sort by acceptance. The terms on o
// match deliveries_ordering's, so that the probe reads that partial index
// only. ?1 is now.
const orderedReady = `(d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o
	WHERE o.ordering_key IS NOT NULL AND o.status IN ('pending', 'failed')
		AND o.endpoint_id = d.endpoint_id AND o.ordering_key = d.ordering_key AND o.id <> d.id
		AND (o.id < d.id AND (o.status = 'pending' OR o.skipped = 0 AND json_extract(e.settings, '$.ordering_on_failure') = 'pause')
			OR o.status = 'pending' AND o.lease_owner IS NOT NULL AND o.lease_until >= ?1)))`

// jobSelect reads deliveries with their events and endpoints; scanJob
// scans its rows.
const jobSelect = `SELECT ` + deliveryCols + `, ` + eventCols + `, ` + endpointCols + `
	FROM deliveries d
	CROSS JOIN events ev ON ev.id = d.event_id
	CROSS JOIN endpoints e ON e.id = d.endpoint_id`

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

// loadJobs reads the deliveries ids with their events and endpoints, in the
// order of ids; a delivery whose event or endpoint row is gone is left out.
//
// Deliveries, events and endpoints are read apart, and each distinct event
// and endpoint once: with fan-out, one claim holds the same event for
// hundreds of endpoints, and reading it through a join would copy and
// decode its payload and routing (which lists every endpoint it went to)
// once per delivery, a cost that grows with the square of the fan-out.
// Jobs of one event share one *herald.Event, as EventsEnqueue's do. Events
// are taken from db.events when there, and read ones are put there, since
// the next claims, for the other endpoints, need them again.
func (db *DB) loadJobs(ctx context.Context, tx *sql.Tx, ids []string) ([]*store.Job, error) {
	byID := make(map[string]*herald.Delivery, len(ids))
	var evIDs, epIDs []string
	events := map[string]*herald.Event{}
	endpoints := map[string]*herald.Endpoint{}
	err := db.stmts.jobDeliveries.query(ctx, tx, ids, func(rows *sql.Rows) error {
		d, err := scanDelivery(rows)
		if err != nil {
			return err
		}
		byID[d.ID] = d
		if _, ok := events[d.EventID]; !ok {
			events[d.EventID] = db.events.get(d.EventID)
			if events[d.EventID] == nil {
				evIDs = append(evIDs, d.EventID)
			}
		}
		if _, ok := endpoints[d.EndpointID]; !ok {
			endpoints[d.EndpointID] = nil
			epIDs = append(epIDs, d.EndpointID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim: load: %w", err)
	}
	err = db.stmts.jobEvents.query(ctx, tx, evIDs, func(rows *sql.Rows) error {
		ev, size, err := scanEventSize(rows)
		if err != nil {
			return err
		}
		events[ev.ID] = ev
		db.events.put(ev, size)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim: load events: %w", err)
	}
	err = db.stmts.jobEndpoints.query(ctx, tx, epIDs, func(rows *sql.Rows) error {
		ep, err := scanEndpoint(rows)
		if err != nil {
			return err
		}
		endpoints[ep.ID] = ep
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim: load endpoints: %w", err)
	}
	jobs := make([]*store.Job, 0, len(ids))
	for _, id := range ids {
		d := byID[id]
		if d == nil {
			continue
		}
		ev, ep := events[d.EventID], endpoints[d.EndpointID]
		if ev == nil || ep == nil {
			continue
		}
		jobs = append(jobs, &store.Job{Delivery: d, Event: ev, Endpoint: ep, Leased: true})
	}
	return jobs, nil
}

// DeliveriesRecord implements store.Store.
//
// An attempt whose Number is not above 0 gets its delivery's next number,
// and one whose ID is empty gets a new id, written back to the attempt.
func (db *DB) DeliveriesRecord(ctx context.Context, results []store.AttemptResult) error {
	if len(results) == 0 {
		return nil
	}
	if err := store.CheckAttemptResults(results); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	var lost []string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		lost = lost[:0]
		// One writer at a time: the owners read here are the ones the
		// updates below see.
		owners, err := db.leaseOwners(ctx, tx, results)
		if err != nil {
			return err
		}
		insertAttempt := tx.StmtContext(ctx, db.stmts.insertAttempt)
		recordDelivery := tx.StmtContext(ctx, db.stmts.recordDelivery)
		for _, r := range results {
			if r.Owner != "" {
				owner, ok := owners[r.Attempt.DeliveryID]
				if !ok {
					continue // the delivery is gone with its app
				}
				if owner != r.Owner {
					lost = append(lost, r.Attempt.DeliveryID)
					continue
				}
			}
			row, err := store.PrepareRecord(r)
			if err != nil {
				return fmt.Errorf("record: %w", err)
			}
			a, v := r.Attempt, row.Attempt
			res, err := insertAttempt.ExecContext(ctx, a.ID, a.Number, a.Trigger, micro(row.AttemptAt),
				a.Request.Method, a.Request.URL, orNull(v.RequestHeaders), v.RequestBody,
				orNull(v.Status), orNull(v.ResponseHeaders), v.ResponseBody, v.Truncated,
				v.LatencyUS, string(a.ErrorKind), a.Error,
				a.DeliveryID, orNull(v.PayloadAt), string(r.Status), microPtr(row.NextAttemptAt))
			if err != nil {
				if isUnique(err) {
					err = fmt.Errorf("attempt %q: %w", a.ID, store.ErrConflict)
				}
				return fmt.Errorf("record: insert attempt: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("record: insert attempt: %w", err)
			} else if n == 0 {
				continue // the delivery is gone with its app
			}

			if _, err := recordDelivery.ExecContext(ctx, string(r.Status), nullMicro(row.NextAttemptAt), row.LastError,
				micro(r.Now), a.DeliveryID, string(row.LastErrorKind)); err != nil {
				return fmt.Errorf("record: update delivery: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		return &store.LeaseLostError{DeliveryIDs: lost}
	}
	return nil
}

// leaseOwners reads the lease owner ("" for none) of the deliveries of
// the results that name an Owner; a delivery that is gone is absent.
func (db *DB) leaseOwners(ctx context.Context, tx *sql.Tx, results []store.AttemptResult) (map[string]string, error) {
	var ids []string
	for _, r := range results {
		if r.Owner != "" {
			ids = append(ids, r.Attempt.DeliveryID)
		}
	}
	owners := make(map[string]string, len(ids))
	err := db.stmts.leaseOwners.query(ctx, tx, ids, func(rows *sql.Rows) error {
		var id, owner string
		if err := rows.Scan(&id, &owner); err != nil {
			return err
		}
		owners[id] = owner
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record: lease: %w", err)
	}
	return owners, nil
}

// DeliveriesRelease implements store.Store.
func (db *DB) DeliveriesRelease(ctx context.Context, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.stmts.release.exec(ctx, tx, ids, owner); err != nil {
			return fmt.Errorf("release: %w", err)
		}
		return nil
	})
}

// LeasesExtend implements store.Store.
func (db *DB) LeasesExtend(ctx context.Context, owner string, until time.Time) error {
	_, err := db.w.ExecContext(ctx,
		`UPDATE deliveries SET lease_until = ? WHERE lease_owner = ? AND status = 'pending'`,
		micro(until), owner)
	if err != nil {
		return fmt.Errorf("extend leases: %w", err)
	}
	return nil
}

// LeasesReleaseAll implements store.Store.
func (db *DB) LeasesReleaseAll(ctx context.Context) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL AND lease_owner <> ?`,
			store.PullOwner); err != nil {
			return fmt.Errorf("release all leases: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM nodes`); err != nil {
			return fmt.Errorf("release all leases: forget nodes: %w", err)
		}
		return nil
	})
}

// leaseOwnersQuery lists the distinct owners of leases, one index probe
// per owner (a loose index scan) rather than one row per lease: there are
// a few nodes and up to hundreds of thousands of leases. Pull handouts'
// owner is no node and never dead: their leases end with their visibility.
const leaseOwnersQuery = `WITH RECURSIVE o(v) AS (
		SELECT (SELECT min(lease_owner) FROM deliveries WHERE lease_owner IS NOT NULL)
		UNION ALL
		SELECT (SELECT min(lease_owner) FROM deliveries WHERE lease_owner > o.v) FROM o WHERE o.v IS NOT NULL)
	SELECT v FROM o WHERE v IS NOT NULL AND v <> ?2 AND v NOT IN (SELECT id FROM nodes WHERE seen_at >= ?1)`

// LeasesReleaseDead implements store.Store.
func (db *DB) LeasesReleaseDead(ctx context.Context, now time.Time, within time.Duration) (int, error) {
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, leaseOwnersQuery, micro(now.Add(-max(within, 0))), store.PullOwner)
		if err != nil {
			return err
		}
		var dead []string
		for rows.Next() {
			var o string
			if err := rows.Scan(&o); err != nil {
				rows.Close()
				return err
			}
			dead = append(dead, o)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		for _, o := range dead {
			res, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?`, o)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("release dead leases: %w", err)
	}
	return int(n), nil
}

// nextDueQuery reads the due index in order and stops at the first
// unleased row of a live endpoint.
const nextDueQuery = `SELECT d.next_attempt_at
	FROM deliveries d CROSS JOIN endpoints e ON e.id = d.endpoint_id
	WHERE d.status = 'pending' AND d.next_attempt_at IS NOT NULL AND d.lease_owner IS NULL
		AND e.enabled = 1 AND e.deleted_at IS NULL AND e.kind <> 'pull'
	ORDER BY d.next_attempt_at
	LIMIT 1`

// NextDueAt implements store.Store. A leased delivery does not count, even
// past its lease: the store has no clock of its own to tell.
func (db *DB) NextDueAt(ctx context.Context) (*time.Time, error) {
	var next sql.NullInt64
	err := db.r.QueryRowContext(ctx, nextDueQuery).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("next due: %w", err)
	}
	return fromNullMicro(next), nil
}
