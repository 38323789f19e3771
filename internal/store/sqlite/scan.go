package sqlite

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Times are stored as Unix microseconds, UTC.

func micro(t time.Time) int64 { return t.UnixMicro() }

func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullMicro(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicro(n.Int64)
	return &t
}

// nullString stores an empty string as NULL, for columns where empty means
// absent (an app's uid, an event's idempotency key).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// blob stores an empty document as NULL; RawJSON treats empty as absent.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

const appCols = `id, uid, name, settings, created_at, updated_at`

func scanApp(s scanner) (*herald.App, error) {
	var (
		a          herald.App
		uid        sql.NullString
		settings   string
		created, u int64
	)
	if err := s.Scan(&a.ID, &uid, &a.Name, &settings, &created, &u); err != nil {
		return nil, err
	}
	a.UID = uid.String
	if err := store.FromJSONDoc(settings, &a.AppSettings); err != nil {
		return nil, fmt.Errorf("app %s: settings: %w", a.ID, err)
	}
	a.CreatedAt, a.UpdatedAt = fromMicro(created), fromMicro(u)
	return &a, nil
}

const eventTypeCols = `name, description, schema, sample, group_name, deprecated, created_at, updated_at, versions`

func scanEventType(s scanner) (*herald.EventType, error) {
	var (
		et         herald.EventType
		schema     []byte
		sample     []byte
		created, u int64
		versions   string
	)
	if err := s.Scan(&et.Name, &et.Description, &schema, &sample, &et.Group, &et.Deprecated, &created, &u, &versions); err != nil {
		return nil, err
	}
	if err := store.DecodeVersions(&et, versions); err != nil {
		return nil, err
	}
	if len(schema) > 0 {
		et.Schema = herald.RawJSON(schema)
	}
	if len(sample) > 0 {
		et.Sample = herald.RawJSON(sample)
	}
	et.CreatedAt, et.UpdatedAt = fromMicro(created), fromMicro(u)
	return &et, nil
}

// endpointCols is prefixed so that it can be selected from a join.
const endpointCols = `e.id, e.app_id, e.url, e.description, e.event_types, e.enabled, e.secret, e.timeout_ms, e.shape, e.settings, e.created_at, e.updated_at, e.kind`

// endpointDest returns the scan destinations of endpointCols and a function
// that finishes the endpoint once they are filled.
func endpointDest() (*herald.Endpoint, []any, func() error) {
	var (
		ep         herald.Endpoint
		types      string
		shape      string
		settings   string
		created, u int64
	)
	dest := []any{&ep.ID, &ep.AppID, &ep.URL, &ep.Description, &types, &ep.Enabled, &ep.Secret, &ep.TimeoutMS, &shape, &settings, &created, &u, &ep.Kind}
	return &ep, dest, func() error {
		if err := store.DecodeEndpoint(&ep, store.EndpointDocs{EventTypes: types, Shape: shape, Settings: settings}); err != nil {
			return err
		}
		ep.CreatedAt, ep.UpdatedAt = fromMicro(created), fromMicro(u)
		return nil
	}
}

func scanEndpoint(s scanner) (*herald.Endpoint, error) {
	ep, dest, done := endpointDest()
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	return ep, done()
}

// eventCols is prefixed so that it can be selected from a join.
const eventCols = `ev.id, ev.app_id, ev.event_type, ev.payload, ev.idempotency_key, ev.routing, ev.created_at,
	ev.channels, ev.tags, ev.payload_expires_at, ev.payload_expired, ev.ordering_key, ev.version`

func eventDest() (*herald.Event, []any, func() error) {
	var (
		ev             herald.Event
		payload        []byte
		key            sql.NullString
		routing        sql.NullString
		created        int64
		channels, tags sql.NullString
		expires        sql.NullInt64
		orderingKey    sql.NullString
		version        sql.NullString
	)
	dest := []any{&ev.ID, &ev.AppID, &ev.EventType, &payload, &key, &routing, &created,
		&channels, &tags, &expires, &ev.PayloadExpired, &orderingKey, &version}
	return &ev, dest, func() error {
		if err := store.DecodeEventLabels(&ev, nullPtr(channels), nullPtr(tags)); err != nil {
			return err
		}
		if expires.Valid {
			t := fromMicro(expires.Int64)
			ev.PayloadExpiresAt = &t
		}
		if len(payload) > 0 {
			ev.Payload = herald.RawJSON(payload)
		}
		ev.IdempotencyKey = key.String
		ev.OrderingKey = orderingKey.String
		ev.Version = version.String
		if routing.Valid {
			var err error
			if ev.Routing, err = store.DecodeRouting(routing.String); err != nil {
				return fmt.Errorf("event %s: routing: %w", ev.ID, err)
			}
		}
		ev.CreatedAt = fromMicro(created)
		return nil
	}
}

// scanEventSize is scanEvent that also returns the stored size of the
// event's payload, routing, channels and tags, for the event cache.
func scanEventSize(s scanner) (*herald.Event, int, error) {
	ev, dest, done := eventDest()
	if err := s.Scan(dest...); err != nil {
		return nil, 0, err
	}
	routing := dest[5].(*sql.NullString)
	size := len(ev.ID) + len(ev.AppID) + len(ev.EventType) + len(*dest[3].(*[]byte)) + len(routing.String) + len(dest[4].(*sql.NullString).String) +
		len(dest[7].(*sql.NullString).String) + len(dest[8].(*sql.NullString).String)
	return ev, size, done()
}

func scanEvent(s scanner) (*herald.Event, error) {
	ev, dest, done := eventDest()
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	return ev, done()
}

// deliveryCols is prefixed so that it can be selected from a join.
const deliveryCols = `d.id, d.app_id, d.event_id, d.endpoint_id, d.event_type, d.status, d.attempt_count, d.next_attempt_at, d.last_error, d.test, d.created_at, d.updated_at, d.ordering_key, d.skipped, d.last_error_kind`

func deliveryDest() (*herald.Delivery, []any, func()) {
	var (
		d          herald.Delivery
		next       sql.NullInt64
		created, u int64
		key        sql.NullString
	)
	dest := []any{&d.ID, &d.AppID, &d.EventID, &d.EndpointID, &d.EventType, &d.Status, &d.AttemptCount, &next, &d.LastError, &d.Test, &created, &u, &key, &d.Skipped, &d.LastErrorKind}
	return &d, dest, func() {
		d.OrderingKey = key.String
		d.NextAttemptAt = fromNullMicro(next)
		d.CreatedAt, d.UpdatedAt = fromMicro(created), fromMicro(u)
	}
}

func scanDelivery(s scanner) (*herald.Delivery, error) {
	d, dest, done := deliveryDest()
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	done()
	return d, nil
}

const attemptCols = `id, delivery_id, number, trigger, created_at,
	request_method, request_url, request_headers, request_body,
	response_status, response_headers, response_body, response_truncated,
	latency_us, error_kind, error, body_payload_at`

// attemptSelect reads an attempt's columns and, when its request body was
// stored without the event's payload, that payload (see store.SplitBody).
const attemptSelect = attemptCols + `, CASE WHEN body_payload_at IS NULL THEN NULL ELSE
	(SELECT e.payload FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = attempts.delivery_id) END`

func scanAttempt(s scanner) (*herald.Attempt, error) {
	var (
		a         herald.Attempt
		created   int64
		reqHdr    sql.NullString
		reqBody   []byte
		status    sql.NullInt64
		respHdr   sql.NullString
		respBody  []byte
		truncated bool
		latency   int64
		payloadAt sql.NullInt64
		payload   []byte
	)
	if err := s.Scan(&a.ID, &a.DeliveryID, &a.Number, &a.Trigger, &created,
		&a.Request.Method, &a.Request.URL, &reqHdr, &reqBody,
		&status, &respHdr, &respBody, &truncated,
		&latency, &a.ErrorKind, &a.Error, &payloadAt, &payload); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMicro(created)
	c := store.AttemptColumns{RequestBody: reqBody, ResponseBody: respBody, Truncated: truncated, LatencyUS: latency, Payload: payload}
	if payloadAt.Valid {
		at := int(payloadAt.Int64)
		c.PayloadAt = &at
	}
	if reqHdr.Valid {
		c.RequestHeaders = &reqHdr.String
	}
	if status.Valid {
		code := int(status.Int64)
		c.Status = &code
	}
	if respHdr.Valid {
		c.ResponseHeaders = &respHdr.String
	}
	if err := store.DecodeAttempt(&a, c); err != nil {
		return nil, err
	}
	return &a, nil
}

// orNull is the column value of an optional value: NULL for nil. The
// store's encodings return pointers; database/sql wants a nil any.
func orNull[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// microPtr is the column value of an optional time: NULL for nil.
func microPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micro(*t)
}

// nullPtr is a nullable text column as a *string (nil for NULL).
func nullPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}
