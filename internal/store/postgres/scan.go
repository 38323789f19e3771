package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// ts is a time as stored: truncated to the microsecond, in UTC.
// PostgreSQL would round the nanoseconds; the store truncates, like the
// SQLite driver.
func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// tsPtr is ts of an optional time; nil stays nil (NULL).
func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := ts(*t)
	return &u
}

// utcPtr returns a scanned optional time in UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// nullString stores an empty string as NULL, for columns where empty means
// absent (an app's uid, an event's idempotency key).
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// blob stores an empty document as NULL; RawJSON treats empty as absent.
func blob(b []byte) []byte {
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

// params numbers the parameters of a query built piece by piece.
type params []any

// add appends v and returns its placeholder.
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}

const appCols = `id, uid, name, settings, created_at, updated_at`

func scanApp(s scanner) (*herald.App, error) {
	var (
		a        herald.App
		uid      *string
		settings string
	)
	if err := s.Scan(&a.ID, &uid, &a.Name, &settings, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	if uid != nil {
		a.UID = *uid
	}
	if err := fromJSONDoc(settings, &a.AppSettings); err != nil {
		return nil, fmt.Errorf("app %s: settings: %w", a.ID, err)
	}
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

// jsonDoc is the column value of a settings document.
func jsonDoc(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// fromJSONDoc decodes a settings column into v; '{}' leaves v zero.
func fromJSONDoc(doc string, v any) error {
	if doc == "" || doc == "{}" {
		return nil
	}
	return json.Unmarshal([]byte(doc), v)
}

// endpointSettingsJSON is the column value of an endpoint's settings, with
// the disabled time kept to the microsecond in UTC.
func endpointSettingsJSON(s herald.EndpointSettings) (string, error) {
	s.DisabledAt = tsPtr(s.DisabledAt)
	return jsonDoc(s)
}

const eventTypeCols = `name, description, schema, sample, group_name, deprecated, created_at, updated_at`

func scanEventType(s scanner) (*herald.EventType, error) {
	var (
		et             herald.EventType
		schema, sample []byte
	)
	if err := s.Scan(&et.Name, &et.Description, &schema, &sample, &et.Group, &et.Deprecated, &et.CreatedAt, &et.UpdatedAt); err != nil {
		return nil, err
	}
	if len(schema) > 0 {
		et.Schema = herald.RawJSON(schema)
	}
	if len(sample) > 0 {
		et.Sample = herald.RawJSON(sample)
	}
	et.CreatedAt, et.UpdatedAt = et.CreatedAt.UTC(), et.UpdatedAt.UTC()
	return &et, nil
}

// endpointCols is prefixed so that it can be selected from a join.
const endpointCols = `e.id, e.app_id, e.url, e.description, e.event_types, e.enabled, e.secret, e.timeout_ms, e.shape, e.settings, e.created_at, e.updated_at`

// endpointDest returns the scan destinations of endpointCols and a function
// that finishes the endpoint once they are filled.
func endpointDest() (*herald.Endpoint, []any, func() error) {
	var (
		ep                     herald.Endpoint
		types, shape, settings string
	)
	dest := []any{&ep.ID, &ep.AppID, &ep.URL, &ep.Description, &types, &ep.Enabled, &ep.Secret, &ep.TimeoutMS,
		&shape, &settings, &ep.CreatedAt, &ep.UpdatedAt}
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
		ep.DisabledAt = utcPtr(ep.DisabledAt)
		ep.CreatedAt, ep.UpdatedAt = ep.CreatedAt.UTC(), ep.UpdatedAt.UTC()
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

// shapeJSON is the column value of an endpoint's request shape.
func shapeJSON(s herald.RequestShape) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
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
		ev           herald.Event
		payload      []byte
		key, routing *string
	)
	dest := []any{&ev.ID, &ev.AppID, &ev.EventType, &payload, &key, &routing, &ev.CreatedAt}
	return &ev, dest, func() error {
		if len(payload) > 0 {
			ev.Payload = herald.RawJSON(payload)
		}
		if key != nil {
			ev.IdempotencyKey = *key
		}
		if routing != nil {
			ev.Routing = new(herald.Routing)
			if err := json.Unmarshal([]byte(*routing), ev.Routing); err != nil {
				return fmt.Errorf("event %s: routing: %w", ev.ID, err)
			}
		}
		ev.CreatedAt = ev.CreatedAt.UTC()
		return nil
	}
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
func routingJSON(r *herald.Routing) (*string, error) {
	if r == nil {
		return nil, nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// deliveryCols is prefixed so that it can be selected from a join.
const deliveryCols = `d.id, d.app_id, d.event_id, d.endpoint_id, d.event_type, d.status, d.attempt_count, d.next_attempt_at, d.last_error, d.test, d.created_at, d.updated_at`

func deliveryDest() (*herald.Delivery, []any, func()) {
	var (
		d      herald.Delivery
		status string
	)
	dest := []any{&d.ID, &d.AppID, &d.EventID, &d.EndpointID, &d.EventType, &status, &d.AttemptCount,
		&d.NextAttemptAt, &d.LastError, &d.Test, &d.CreatedAt, &d.UpdatedAt}
	return &d, dest, func() {
		d.Status = herald.DeliveryStatus(status)
		d.NextAttemptAt = utcPtr(d.NextAttemptAt)
		d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
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
		a                 herald.Attempt
		reqHdr, respHdr   *string
		reqBody, respBody []byte
		status            *int32
		truncated         bool
		latency           int64
		kind              string
	)
	if err := s.Scan(&a.ID, &a.DeliveryID, &a.Number, &a.Trigger, &a.CreatedAt,
		&a.Request.Method, &a.Request.URL, &reqHdr, &reqBody,
		&status, &respHdr, &respBody, &truncated,
		&latency, &kind, &a.Error); err != nil {
		return nil, err
	}
	a.CreatedAt = a.CreatedAt.UTC()
	a.ErrorKind = herald.ErrorKind(kind)
	a.LatencyMS = float64(latency) / 1000
	a.Request.Body = string(reqBody)
	if reqHdr != nil {
		if err := json.Unmarshal([]byte(*reqHdr), &a.Request.Headers); err != nil {
			return nil, fmt.Errorf("attempt %s: request_headers: %w", a.ID, err)
		}
	}
	if status != nil {
		a.Response = &herald.AttemptResponse{
			StatusCode:    int(*status),
			Body:          string(respBody),
			BodyTruncated: truncated,
		}
		if respHdr != nil {
			if err := json.Unmarshal([]byte(*respHdr), &a.Response.Headers); err != nil {
				return nil, fmt.Errorf("attempt %s: response_headers: %w", a.ID, err)
			}
		}
	}
	return &a, nil
}

// headersJSON is the column value of a header map: NULL for nil, so that
// nil and empty maps both round-trip.
func headersJSON(h map[string]string) (*string, error) {
	if h == nil {
		return nil, nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// attemptVals are the column values of an attempt that need converting.
type attemptVals struct {
	reqHdr, respHdr *string
	status          *int32
	respBody        []byte
	truncated       bool
}

func attemptValues(a *herald.Attempt) (attemptVals, error) {
	var v attemptVals
	var err error
	if v.reqHdr, err = headersJSON(a.Request.Headers); err != nil {
		return v, fmt.Errorf("attempt %q: request headers: %w", a.ID, err)
	}
	if a.Response != nil {
		st := int32(a.Response.StatusCode)
		v.status = &st
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

// usageMonth is the usage table's month of t: its calendar month in UTC.
func usageMonth(t time.Time) string { return t.UTC().Format("2006-01") }
