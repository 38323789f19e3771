package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// EventsEnqueue implements store.Store: the whole batch is one write
// transaction, so one fsync makes a thousand events durable. The usage of
// each app is counted, and checked against its quota, in the same
// transaction, so that it never drifts from the deliveries actually stored
// and no burst passes the quota.
func (db *DB) EventsEnqueue(ctx context.Context, p store.EnqueueParams) ([]store.EnqueueResult, error) {
	results := make([]store.EnqueueResult, len(p.Events))
	if len(p.Events) == 0 {
		return results, nil
	}
	route, newID := p.RouteFunc(), p.DeliveryIDFunc()

	err := db.inTx(ctx, func(tx *sql.Tx) error {
		idempotent := tx.StmtContext(ctx, db.stmts.idempotent)
		enabledEndpoints := tx.StmtContext(ctx, db.stmts.enabledEndpoints)
		insertEvent := tx.StmtContext(ctx, db.stmts.insertEvent)

		// Many events of one app in one batch is the common case: look
		// the app and its endpoints up once.
		apps := map[string]bool{}
		endpoints := map[string][]*herald.Endpoint{}
		// Each app's quota, and the deliveries created per app and month,
		// written once at the end.
		quotas := db.quotas(ctx, tx)
		// The deliveries' rows, deliveryArgs values each, written at the
		// end with multi-row statements.
		var dArgs []any

		since := micro(p.IdempotencySince)
		for i, in := range p.Events {
			res := &results[i]

			// The lookup runs inside the transaction, so it also sees
			// the events stored earlier in this batch.
			if in.IdempotencyKey != "" {
				prev, err := scanEvent(idempotent.QueryRowContext(ctx, in.AppID, in.IdempotencyKey, since))
				switch {
				case err == nil:
					res.Event, res.Duplicate = prev, true
					continue
				case !errors.Is(err, sql.ErrNoRows):
					return fmt.Errorf("enqueue: idempotency lookup: %w", err)
				}
			}

			exists, ok := apps[in.AppID]
			if !ok {
				var err error
				if exists, err = db.appQuota(ctx, tx, quotas, in.AppID); err != nil {
					return fmt.Errorf("enqueue: %w", err)
				}
				apps[in.AppID] = exists
			}
			if !exists {
				res.Err = fmt.Errorf("app %q: %w", in.AppID, store.ErrNotFound)
				continue
			}

			eps, ok := endpoints[in.AppID]
			if !ok {
				rows, err := enabledEndpoints.QueryContext(ctx, in.AppID)
				if err != nil {
					return fmt.Errorf("enqueue: load endpoints: %w", err)
				}
				if eps, err = collectEndpoints(rows); err != nil {
					return fmt.Errorf("enqueue: load endpoints: %w", err)
				}
				endpoints[in.AppID] = eps
			}

			// The stored event, as it reads back: microsecond UTC time.
			ev := *in
			ev.CreatedAt = fromMicro(micro(in.CreatedAt))
			created := micro(ev.CreatedAt)

			targets, routing, refused, err := store.RouteEvent(route, quotas, &ev, eps)
			if err != nil {
				return fmt.Errorf("enqueue: event %q: %w", ev.ID, err)
			}
			if refused != nil {
				res.Err = refused
				continue
			}
			labels, err := store.EncodeEventLabels(&ev)
			if err != nil {
				return fmt.Errorf("enqueue: event %q: %w", ev.ID, err)
			}
			if ev.PayloadExpiresAt != nil {
				t := fromMicro(micro(*ev.PayloadExpiresAt))
				ev.PayloadExpiresAt = &t
			}
			if _, err := insertEvent.ExecContext(ctx, ev.ID, ev.AppID, ev.EventType, blob(ev.Payload),
				nullString(ev.IdempotencyKey), orNull(routing), created,
				orNull(labels.Channels), orNull(labels.Tags), microPtr(ev.PayloadExpiresAt), nullString(ev.OrderingKey), nullString(ev.Version)); err != nil {
				if isUnique(err) {
					err = fmt.Errorf("event %q: %w", ev.ID, store.ErrConflict)
				}
				return fmt.Errorf("enqueue: insert event: %w", err)
			}
			res.Event = &ev

			if !p.LeasedOnly {
				res.Jobs = make([]*store.Job, 0, len(targets))
			}
			for _, t := range targets {
				j, err := p.NewJob(&ev, t, newID)
				if err != nil {
					return fmt.Errorf("enqueue: %w", err)
				}
				var owner, until any
				if j.Leased {
					owner, until = p.LeaseOwner, micro(p.LeaseUntil)
				}
				d := j.Delivery
				dArgs = append(dArgs, d.ID, d.AppID, d.EventID, d.EndpointID, d.EventType, owner, until, created, created, created, nullString(d.OrderingKey))
				res.Deliveries++
				if p.Keeps(j) {
					res.Jobs = append(res.Jobs, j)
				}
			}
			// A batch of fan-outs writes its deliveries as it goes:
			// their arguments would otherwise all be held at once.
			if len(dArgs) >= flushDeliveryRows*deliveryArgs {
				if _, err := db.stmts.insertDeliveries.exec(ctx, tx, dArgs); err != nil {
					return fmt.Errorf("enqueue: insert deliveries: %w", err)
				}
				clear(dArgs)
				dArgs = dArgs[:0]
			}
		}
		if _, err := db.stmts.insertDeliveries.exec(ctx, tx, dArgs); err != nil {
			return fmt.Errorf("enqueue: insert deliveries: %w", err)
		}
		return writeUsage(ctx, tx, db.stmts.addUsage, quotas.Counts)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// EventGet implements store.Store.
func (db *DB) EventGet(ctx context.Context, appID, id string) (*herald.Event, error) {
	ev, err := scanEvent(db.r.QueryRowContext(ctx,
		`SELECT `+eventCols+` FROM events ev WHERE ev.app_id = ? AND ev.id = ?`, appID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("event %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("event get: %w", err)
	}
	return ev, nil
}

// EventList implements store.Store.
func (db *DB) EventList(ctx context.Context, p store.EventListParams) ([]*herald.Event, error) {
	q := `SELECT ` + eventCols + ` FROM events ev WHERE ev.app_id = ?`
	args := []any{p.AppID}
	if p.EventType != "" {
		q += ` AND ev.event_type = ?`
		args = append(args, p.EventType)
	}
	if len(p.EventTypes) > 0 {
		q += ` AND ev.event_type IN (` + placeholders(len(p.EventTypes)) + `)`
		for _, t := range p.EventTypes {
			args = append(args, t)
		}
	}
	if p.IdempotencyKey != "" {
		q += ` AND ev.idempotency_key = ?`
		args = append(args, p.IdempotencyKey)
	}
	// Channels and tags are short JSON arrays: no index, the app's
	// events are walked newest first until the page is full.
	if p.Channel != "" {
		q += ` AND EXISTS (SELECT 1 FROM json_each(ev.channels) WHERE json_each.value = ?)`
		args = append(args, p.Channel)
	}
	if p.Tag != "" {
		q += ` AND EXISTS (SELECT 1 FROM json_each(ev.tags) WHERE json_each.value = ?)`
		args = append(args, p.Tag)
	}
	if !p.Since.IsZero() {
		q += ` AND ev.created_at >= ?`
		args = append(args, micro(p.Since))
	}
	if !p.Until.IsZero() {
		q += ` AND ev.created_at < ?`
		args = append(args, micro(p.Until))
	}
	if p.Cursor != "" {
		q += ` AND ev.id < ?`
		args = append(args, p.Cursor)
	}
	q += ` ORDER BY ev.id DESC LIMIT ?`
	args = append(args, store.ListLimit(p.Limit))

	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("event list: %w", err)
	}
	return collectEvents(rows, "event list")
}

// jsonPath is SQLite's JSON path of an object key per level, each key
// quoted ("$.\"lead\".\"id\""); the caller refuses keys holding a quote.
func jsonPath(keys []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, k := range keys {
		b.WriteString(`."`)
		b.WriteString(k)
		b.WriteString(`"`)
	}
	return b.String()
}

// EventFind implements store.Store. The app's newest events are taken
// from events_app first (at most p.Scan), then their payloads read: the
// payload is stored as bytes, cast to text for SQLite's JSON functions.
func (db *DB) EventFind(ctx context.Context, p store.EventFindParams) ([]*herald.Event, error) {
	values, err := json.Marshal(p.Values)
	if err != nil {
		return nil, fmt.Errorf("event find: %w", err)
	}
	scan := `SELECT * FROM events WHERE app_id = ?`
	args := []any{p.AppID}
	if !p.Since.IsZero() {
		scan += ` AND created_at >= ?`
		args = append(args, micro(p.Since))
	}
	scan += ` ORDER BY id DESC LIMIT ?`
	args = append(args, p.Scan)
	q := `SELECT ` + eventCols + ` FROM (` + scan + `) ev
	WHERE ev.payload IS NOT NULL AND ev.payload_expired = 0
	AND (ev.payload_expires_at IS NULL OR ev.payload_expires_at > ?)`
	args = append(args, micro(p.Now))
	if p.Path == nil {
		q += ` AND ev.idempotency_key IN (SELECT value FROM json_each(?))`
		args = append(args, string(values))
	} else {
		path := jsonPath(p.Path)
		q += ` AND json_type(CAST(ev.payload AS TEXT), ?) IN ('text', 'integer', 'real')
	AND CAST(json_extract(CAST(ev.payload AS TEXT), ?) AS TEXT) IN (SELECT value FROM json_each(?))`
		args = append(args, path, path, string(values))
	}
	q += ` ORDER BY ev.id DESC LIMIT ?`
	args = append(args, p.Limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("event find: %w", err)
	}
	return collectEvents(rows, "event find")
}

// flushDeliveryRows is how many delivery rows EventsEnqueue gathers before
// writing them: a few of the largest multi-row statements.
const flushDeliveryRows = 1024

// collectEvents reads the events of rows, closing them; op names the
// operation in errors.
func collectEvents(rows *sql.Rows, op string) ([]*herald.Event, error) {
	defer rows.Close()
	evs := []*herald.Event{}
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return evs, nil
}
