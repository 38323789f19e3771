package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// writerStmts are the statements of the hot paths (enqueue and record),
// which run them once per event, delivery or attempt: preparing them once
// saves parsing and planning them thousands of times per batch.
type writerStmts struct {
	idempotent       *sql.Stmt
	appSettings      *sql.Stmt
	usageOf          *sql.Stmt
	enabledEndpoints *sql.Stmt
	insertEvent      *sql.Stmt
	insertAttempt    *sql.Stmt
	recordDelivery   *sql.Stmt
	addUsage         *sql.Stmt
	trackHealth      *sql.Stmt

	// The deliveries of a batch, many rows per statement.
	insertDeliveries multiRow

	// Claims, records and releases, by lists of ids.
	claimLease    inList
	jobDeliveries inList
	jobEvents     inList
	jobEndpoints  inList
	leaseOwners   inList
	release       inList
}

// retryOfDeleted is true when the new status (the parameter status) is
// pending and the endpoint of the delivery row (delivery, a table or its
// alias) has been deleted: such a retry fails the delivery instead.
func retryOfDeleted(status, delivery string) string {
	return `(` + status + ` = 'pending' AND EXISTS (SELECT 1 FROM endpoints e
	WHERE e.id = ` + delivery + `.endpoint_id AND e.deleted_at IS NOT NULL))`
}

func (s *writerStmts) prepare(ctx context.Context, w *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.idempotent, `SELECT ` + eventCols + ` FROM events ev
			WHERE ev.app_id = ? AND ev.idempotency_key = ? AND ev.created_at >= ?
			ORDER BY ev.created_at, ev.id LIMIT 1`},
		{&s.appSettings, `SELECT settings FROM apps WHERE id = ?`},
		{&s.usageOf, `SELECT deliveries FROM usage WHERE app_id = ? AND month = ?`},
		{&s.enabledEndpoints, `SELECT ` + endpointCols + ` FROM endpoints e
			WHERE e.app_id = ? AND e.enabled = 1 AND e.deleted_at IS NULL
			ORDER BY e.id`},
		{&s.insertEvent, `INSERT INTO events (id, app_id, event_type, payload, idempotency_key, routing, created_at,
				channels, tags, payload_expires_at, ordering_key, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		// The attempt is inserted only if its delivery still exists; its
		// number defaults to the delivery's next one. It keeps its app and
		// the status it gives the delivery (as recordDelivery sets it) for
		// AttemptsFollow, which reads neither through the deliveries.
		{&s.insertAttempt, `INSERT INTO attempts (id, delivery_id, number, trigger, created_at,
			request_method, request_url, request_headers, request_body,
			response_status, response_headers, response_body, response_truncated,
			latency_us, error_kind, error, body_payload_at, app_id, delivery_status, next_attempt_at)
			SELECT ?1, d.id, CASE WHEN ?2 > 0 THEN ?2 ELSE d.attempt_count + 1 END, ?3, ?4,
				?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?17, d.app_id,
				CASE WHEN ` + retryOfDeleted("?18", "d") + ` THEN 'failed' ELSE ?18 END,
				CASE WHEN ` + retryOfDeleted("?18", "d") + ` THEN NULL WHEN ?18 = 'pending' THEN ?19 END
			FROM deliveries d WHERE d.id = ?16`},
		// A retry of a delivery whose endpoint was deleted while the
		// attempt was in flight fails it instead, as EndpointDelete did
		// to the endpoint's other pending deliveries.
		{&s.recordDelivery, `UPDATE deliveries
			SET status = CASE WHEN ` + retryOfDeleted("?1", "deliveries") + ` THEN 'failed' ELSE ?1 END,
				next_attempt_at = CASE WHEN ` + retryOfDeleted("?1", "deliveries") + ` THEN NULL ELSE ?2 END,
				last_error = CASE WHEN ` + retryOfDeleted("?1", "deliveries") + ` THEN 'endpoint deleted' ELSE ?3 END,
				last_error_kind = CASE WHEN ` + retryOfDeleted("?1", "deliveries") + ` THEN '' ELSE ?6 END,
				attempt_count = attempt_count + 1,
				lease_owner = NULL, lease_until = NULL, updated_at = ?4, skipped = 0
			WHERE id = ?5`},
		{&s.addUsage, `INSERT INTO usage (app_id, month, deliveries) VALUES (?, ?, ?)
			ON CONFLICT (app_id, month) DO UPDATE SET deliveries = deliveries + excluded.deliveries`},
		// After a success, the record restarts with the failures that
		// followed it (none: cleared); otherwise the failures add up
		// from the first one's time. A healthy endpoint's successes
		// change nothing and write nothing: the usual batch then
		// commits without touching the file.
		{&s.trackHealth, `UPDATE endpoints
			SET failing_since = CASE WHEN ?1 THEN (CASE WHEN ?2 > 0 THEN ?3 END) ELSE COALESCE(failing_since, ?3) END,
				failed_count = CASE WHEN ?1 THEN ?2 ELSE failed_count + ?2 END
			WHERE app_id = ?4 AND id = ?5 AND deleted_at IS NULL
				AND (?2 > 0 OR failing_since IS NOT NULL OR failed_count != 0)
			RETURNING enabled, failing_since, failed_count`},
	} {
		st, err := w.PrepareContext(ctx, p.sql)
		if err != nil {
			s.close()
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		*p.stmt = st
	}
	if err := s.insertDeliveries.prepare(ctx, w, deliveryArgs, insertDeliveriesSQL); err != nil {
		s.close()
		return err
	}
	for _, l := range []struct {
		list  *inList
		query string
	}{
		{&s.claimLease, `UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id IN (%s)`},
		{&s.jobDeliveries, `SELECT ` + deliveryCols + ` FROM deliveries d WHERE d.id IN (%s)`},
		{&s.jobEvents, `SELECT ` + eventCols + ` FROM events ev WHERE ev.id IN (%s)`},
		{&s.jobEndpoints, `SELECT ` + endpointCols + ` FROM endpoints e WHERE e.id IN (%s)`},
		{&s.leaseOwners, `SELECT id, COALESCE(lease_owner, '') FROM deliveries WHERE id IN (%s)`},
		{&s.release, `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND id IN (%s)`},
	} {
		if err := l.list.prepare(ctx, w, l.query); err != nil {
			s.close()
			return err
		}
	}
	return nil
}

// deliveryArgs is the number of arguments of one row of
// insertDeliveriesSQL: id, app, event, endpoint, event type, lease owner,
// lease end, the creation time three times (it is also the first due
// time and the update time) and the ordering key.
const deliveryArgs = 11

// insertDeliveriesSQL inserts n new deliveries, deliveryArgs arguments
// each.
func insertDeliveriesSQL(n int) string {
	return `INSERT INTO deliveries (id, app_id, event_id, endpoint_id, event_type, lease_owner, lease_until,
		created_at, next_attempt_at, updated_at, ordering_key, status, attempt_count, last_error) VALUES ` +
		rowsSQL(n, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, '')`)
}

// rowsSQL repeats row n times, comma-separated.
//
// Multi-row statements use anonymous ? parameters only: the driver looks
// each parameter's name up while binding, and with numbered ones (?NNN)
// that lookup walks a list of all of them, which makes binding a
// statement of thousands of parameters quadratic.
func rowsSQL(n int, row string) string {
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// multiRowSizes are the row counts a multiRow statement is prepared for,
// largest first. Any count is covered by at most three statements of each
// size; the largest keeps a statement's arguments (at most 16 per row)
// far below SQLite's limit of 32,766.
var multiRowSizes = []int{256, 64, 16, 4, 1}

// multiRow is one statement prepared for several numbers of rows, so that
// a batch writes its rows with a few statements instead of one per row:
// per statement, database/sql and the driver cost more than SQLite's own
// work on one row.
type multiRow struct {
	perRow int
	stmts  sized
}

// sized is one statement prepared for each count of multiRowSizes, by
// its index there.
type sized []*sql.Stmt

// prepare prepares query(n) for each count n.
func (s *sized) prepare(ctx context.Context, w *sql.DB, query func(n int) string) error {
	for _, n := range multiRowSizes {
		st, err := w.PrepareContext(ctx, query(n))
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		*s = append(*s, st)
	}
	return nil
}

func (s *sized) close() {
	for _, st := range *s {
		st.Close()
	}
	*s = nil
}

func (m *multiRow) prepare(ctx context.Context, w *sql.DB, perRow int, query func(n int) string) error {
	m.perRow = perRow
	return m.stmts.prepare(ctx, w, query)
}

// exec runs the statement in tx on args, m.perRow of them per row, in as
// few statements as multiRowSizes allow, and returns the rows affected.
func (m *multiRow) exec(ctx context.Context, tx *sql.Tx, args []any) (int64, error) {
	rows := len(args) / m.perRow
	var affected int64
	for i, n := range multiRowSizes {
		if rows < n {
			continue
		}
		st := tx.StmtContext(ctx, m.stmts[i])
		for ; rows >= n; rows -= n {
			res, err := st.ExecContext(ctx, args[:n*m.perRow]...)
			if err != nil {
				return affected, err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return affected, err
			}
			affected += k
			args = args[n*m.perRow:]
		}
	}
	return affected, nil
}

func (m *multiRow) close() { m.stmts.close() }

func (s *writerStmts) close() {
	for _, st := range []*sql.Stmt{s.idempotent, s.appSettings, s.usageOf, s.enabledEndpoints,
		s.insertEvent, s.insertAttempt, s.recordDelivery, s.addUsage, s.trackHealth} {
		if st != nil {
			st.Close()
		}
	}
	s.insertDeliveries.close()
	for _, l := range []*inList{&s.claimLease, &s.jobDeliveries, &s.jobEvents, &s.jobEndpoints, &s.leaseOwners, &s.release} {
		l.close()
	}
	*s = writerStmts{}
}

// inList is a statement whose IN list (the %s of its query) takes ids,
// prepared for each number of ids in multiRowSizes: a list of any length
// runs as a few of them. Prepared on the fly, such a statement was parsed
// and planned for every batch, a tenth of a delivery's CPU at low rates.
type inList struct {
	stmts sized
}

func (l *inList) prepare(ctx context.Context, w *sql.DB, query string) error {
	return l.stmts.prepare(ctx, w, func(n int) string { return fmt.Sprintf(query, placeholders(n)) })
}

// each runs f with the statement (in tx) and the arguments, head then
// ids, of every piece of ids.
func (l *inList) each(ctx context.Context, tx *sql.Tx, ids []string, head []any, f func(*sql.Stmt, []any) error) error {
	args := make([]any, 0, len(head)+min(len(ids), multiRowSizes[0]))
	for i, n := range multiRowSizes {
		if len(ids) < n {
			continue
		}
		st := tx.StmtContext(ctx, l.stmts[i])
		for ; len(ids) >= n; ids = ids[n:] {
			args = append(args[:0], head...)
			for _, id := range ids[:n] {
				args = append(args, id)
			}
			if err := f(st, args); err != nil {
				return err
			}
		}
	}
	return nil
}

// query runs the query for ids and calls scan on each row.
func (l *inList) query(ctx context.Context, tx *sql.Tx, ids []string, scan func(*sql.Rows) error) error {
	return l.each(ctx, tx, ids, nil, func(st *sql.Stmt, args []any) error {
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// exec runs the statement for ids, with head as the arguments before them.
func (l *inList) exec(ctx context.Context, tx *sql.Tx, ids []string, head ...any) error {
	return l.each(ctx, tx, ids, head, func(st *sql.Stmt, args []any) error {
		_, err := st.ExecContext(ctx, args...)
		return err
	})
}

func (l *inList) close() { l.stmts.close() }
