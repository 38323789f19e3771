package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
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

// limit applies the list defaults: 50 rows unless asked otherwise, never
// more than store.MaxListLimit.
func limit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > store.MaxListLimit:
		return store.MaxListLimit
	}
	return n
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
	if err := fromJSONDoc(settings, &a.AppSettings); err != nil {
		return nil, fmt.Errorf("app %s: settings: %w", a.ID, err)
	}
	a.CreatedAt, a.UpdatedAt = fromMicro(created), fromMicro(u)
	return &a, nil
}

// jsonDoc is the column value of a settings document.
func jsonDoc(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// fromJSONDoc decodes a settings column into v; rows written before the
// column existed hold the default '{}', which leaves v zero.
func fromJSONDoc(doc string, v any) error {
	if doc == "" || doc == "{}" {
		return nil
	}
	return json.Unmarshal([]byte(doc), v)
}

// endpointSettingsJSON is the column value of an endpoint's settings. The
// disabled time is kept to the microsecond in UTC, the precision of every
// other time of the store.
func endpointSettingsJSON(s herald.EndpointSettings) (string, error) {
	if s.DisabledAt != nil {
		t := fromMicro(micro(*s.DisabledAt))
		s.DisabledAt = &t
	}
	return jsonDoc(s)
}

const eventTypeCols = `name, description, schema, sample, group_name, deprecated, created_at, updated_at`

func scanEventType(s scanner) (*herald.EventType, error) {
	var (
		et         herald.EventType
		schema     []byte
		sample     []byte
		created, u int64
	)
	if err := s.Scan(&et.Name, &et.Description, &schema, &sample, &et.Group, &et.Deprecated, &created, &u); err != nil {
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
const endpointCols = `e.id, e.app_id, e.url, e.description, e.event_types, e.enabled, e.secret, e.timeout_ms, e.shape, e.settings, e.created_at, e.updated_at`

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
	dest := []any{&ep.ID, &ep.AppID, &ep.URL, &ep.Description, &types, &ep.Enabled, &ep.Secret, &ep.TimeoutMS, &shape, &settings, &created, &u}
	return &ep, dest, func() error {
		ep.EventTypes = []string{}
		if types != "" {
			if err := json.Unmarshal([]byte(types), &ep.EventTypes); err != nil {
				return fmt.Errorf("endpoint %s: event_types: %w", ep.ID, err)
			}
			if ep.EventTypes == nil {
				ep.EventTypes = []string{}
			}
		}
		if shape != "" && shape != "{}" {
			if err := json.Unmarshal([]byte(shape), &ep.RequestShape); err != nil {
				return fmt.Errorf("endpoint %s: shape: %w", ep.ID, err)
			}
		}
		if err := fromJSONDoc(settings, &ep.EndpointSettings); err != nil {
			return fmt.Errorf("endpoint %s: settings: %w", ep.ID, err)
		}
		ep.CreatedAt, ep.UpdatedAt = fromMicro(created), fromMicro(u)
		return nil
	}
}

// shapeJSON is the column value of an endpoint's request shape.
func shapeJSON(s herald.RequestShape) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

func scanEndpoint(s scanner) (*herald.Endpoint, error) {
	ep, dest, done := endpointDest()
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	return ep, done()
}

// eventTypesJSON is the column value of an endpoint's subscriptions; nil
// and empty both mean every event type and are stored as [].
func eventTypesJSON(types []string) (string, error) {
	if len(types) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(types)
	return string(b), err
}

// eventCols is prefixed so that it can be selected from a join.
const eventCols = `ev.id, ev.app_id, ev.event_type, ev.payload, ev.idempotency_key, ev.routing, ev.created_at`

func eventDest() (*herald.Event, []any, func() error) {
	var (
		ev      herald.Event
		payload []byte
		key     sql.NullString
		routing sql.NullString
		created int64
	)
	dest := []any{&ev.ID, &ev.AppID, &ev.EventType, &payload, &key, &routing, &created}
	return &ev, dest, func() error {
		if len(payload) > 0 {
			ev.Payload = herald.RawJSON(payload)
		}
		ev.IdempotencyKey = key.String
		if routing.Valid {
			ev.Routing = new(herald.Routing)
			if err := json.Unmarshal([]byte(routing.String), ev.Routing); err != nil {
				return fmt.Errorf("event %s: routing: %w", ev.ID, err)
			}
		}
		ev.CreatedAt = fromMicro(created)
		return nil
	}
}

// scanEventSize is scanEvent that also returns the stored size of the
// event's payload and routing, for the event cache.
func scanEventSize(s scanner) (*herald.Event, int, error) {
	ev, dest, done := eventDest()
	if err := s.Scan(dest...); err != nil {
		return nil, 0, err
	}
	routing := dest[5].(*sql.NullString)
	size := len(ev.ID) + len(ev.AppID) + len(ev.EventType) + len(*dest[3].(*[]byte)) + len(routing.String) + len(dest[4].(*sql.NullString).String)
	return ev, size, done()
}

func scanEvent(s scanner) (*herald.Event, error) {
	ev, dest, done := eventDest()
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	return ev, done()
}

// routingJSON is the column value of an event's routing: NULL when the
// event has none, so that nil reads back as nil.
func routingJSON(r *herald.Routing) (any, error) {
	if r == nil {
		return nil, nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// deliveryCols is prefixed so that it can be selected from a join.
const deliveryCols = `d.id, d.app_id, d.event_id, d.endpoint_id, d.event_type, d.status, d.attempt_count, d.next_attempt_at, d.last_error, d.test, d.created_at, d.updated_at`

func deliveryDest() (*herald.Delivery, []any, func()) {
	var (
		d          herald.Delivery
		next       sql.NullInt64
		created, u int64
	)
	dest := []any{&d.ID, &d.AppID, &d.EventID, &d.EndpointID, &d.EventType, &d.Status, &d.AttemptCount, &next, &d.LastError, &d.Test, &created, &u}
	return &d, dest, func() {
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
	latency_us, error_kind, error`

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
	)
	if err := s.Scan(&a.ID, &a.DeliveryID, &a.Number, &a.Trigger, &created,
		&a.Request.Method, &a.Request.URL, &reqHdr, &reqBody,
		&status, &respHdr, &respBody, &truncated,
		&latency, &a.ErrorKind, &a.Error); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMicro(created)
	a.LatencyMS = float64(latency) / 1000
	a.Request.Body = string(reqBody)
	if reqHdr.Valid {
		if err := json.Unmarshal([]byte(reqHdr.String), &a.Request.Headers); err != nil {
			return nil, fmt.Errorf("attempt %s: request_headers: %w", a.ID, err)
		}
	}
	if status.Valid {
		a.Response = &herald.AttemptResponse{
			StatusCode:    int(status.Int64),
			Body:          string(respBody),
			BodyTruncated: truncated,
		}
		if respHdr.Valid {
			if err := json.Unmarshal([]byte(respHdr.String), &a.Response.Headers); err != nil {
				return nil, fmt.Errorf("attempt %s: response_headers: %w", a.ID, err)
			}
		}
	}
	return &a, nil
}

// headersJSON is the column value of a header map: NULL for nil, so that
// nil and empty maps both round-trip.
func headersJSON(h map[string]string) (any, error) {
	if h == nil {
		return nil, nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// attemptVals are the column values of an attempt that need converting:
// header maps as JSON, and the response's fields as NULL when no response
// came back.
type attemptVals struct {
	reqHdr, status, respHdr any
	respBody                []byte
	truncated               bool
}

func attemptValues(a *herald.Attempt) (attemptVals, error) {
	var v attemptVals
	var err error
	if v.reqHdr, err = headersJSON(a.Request.Headers); err != nil {
		return v, fmt.Errorf("attempt %q: request headers: %w", a.ID, err)
	}
	if a.Response != nil {
		v.status = a.Response.StatusCode
		if v.respHdr, err = headersJSON(a.Response.Headers); err != nil {
			return v, fmt.Errorf("attempt %q: response headers: %w", a.ID, err)
		}
		v.respBody = []byte(a.Response.Body)
		v.truncated = a.Response.BodyTruncated
	}
	return v, nil
}

// latencyMicros stores a latency in milliseconds as whole microseconds.
func latencyMicros(ms float64) int64 {
	return int64(math.Round(ms * 1000))
}
