package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// writerStmts are the statements of the hot paths (enqueue and record),
// which run them once per event, delivery or attempt: preparing them once
// saves parsing and planning them thousands of times per batch.
type writerStmts struct {
	idempotent       *sql.Stmt
	appExists        *sql.Stmt
	enabledEndpoints *sql.Stmt
	insertEvent      *sql.Stmt
	insertDelivery   *sql.Stmt
	insertAttempt    *sql.Stmt
	recordDelivery   *sql.Stmt
	addUsage         *sql.Stmt
}

// retryOfDeleted is true in recordDelivery when the new status (?1) is
// pending and the delivery's endpoint has been deleted.
const retryOfDeleted = `(?1 = 'pending' AND EXISTS (SELECT 1 FROM endpoints e
	WHERE e.id = deliveries.endpoint_id AND e.deleted_at IS NOT NULL))`

func (s *writerStmts) prepare(ctx context.Context, w *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.idempotent, `SELECT ` + eventCols + ` FROM events ev
			WHERE ev.app_id = ? AND ev.idempotency_key = ? AND ev.created_at >= ?
			ORDER BY ev.created_at, ev.id LIMIT 1`},
		{&s.appExists, `SELECT COUNT(*) FROM apps WHERE id = ?`},
		{&s.enabledEndpoints, `SELECT ` + endpointCols + ` FROM endpoints e
			WHERE e.app_id = ? AND e.enabled = 1 AND e.deleted_at IS NULL
			ORDER BY e.id`},
		{&s.insertEvent, `INSERT INTO events (id, app_id, event_type, payload, idempotency_key, routing, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&s.insertDelivery, `INSERT INTO deliveries (id, app_id, event_id, endpoint_id, event_type, status,
			attempt_count, next_attempt_at, last_error, lease_owner, lease_until, created_at, updated_at)
			VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, '', ?7, ?8, ?6, ?6)`},
		// The attempt is inserted only if its delivery still exists; its
		// number defaults to the delivery's next one.
		{&s.insertAttempt, `INSERT INTO attempts (id, delivery_id, number, trigger, created_at,
			request_method, request_url, request_headers, request_body,
			response_status, response_headers, response_body, response_truncated,
			latency_us, error_kind, error)
			SELECT ?1, d.id, CASE WHEN ?2 > 0 THEN ?2 ELSE d.attempt_count + 1 END, ?3, ?4,
				?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15
			FROM deliveries d WHERE d.id = ?16`},
		// A retry of a delivery whose endpoint was deleted while the
		// attempt was in flight fails it instead, as EndpointDelete did
		// to the endpoint's other pending deliveries.
		{&s.recordDelivery, `UPDATE deliveries
			SET status = CASE WHEN ` + retryOfDeleted + ` THEN 'failed' ELSE ?1 END,
				next_attempt_at = CASE WHEN ` + retryOfDeleted + ` THEN NULL ELSE ?2 END,
				last_error = CASE WHEN ` + retryOfDeleted + ` THEN 'endpoint deleted' ELSE ?3 END,
				attempt_count = attempt_count + 1,
				lease_owner = NULL, lease_until = NULL, updated_at = ?4
			WHERE id = ?5`},
		{&s.addUsage, `INSERT INTO usage (app_id, month, deliveries) VALUES (?, ?, ?)
			ON CONFLICT (app_id, month) DO UPDATE SET deliveries = deliveries + excluded.deliveries`},
	} {
		st, err := w.PrepareContext(ctx, p.sql)
		if err != nil {
			s.close()
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		*p.stmt = st
	}
	return nil
}

func (s *writerStmts) close() {
	for _, st := range []*sql.Stmt{s.idempotent, s.appExists, s.enabledEndpoints,
		s.insertEvent, s.insertDelivery, s.insertAttempt, s.recordDelivery, s.addUsage} {
		if st != nil {
			st.Close()
		}
	}
	*s = writerStmts{}
}
