package postgres

import (
	"fmt"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// ts is a time as stored (see store.StoredTime).
func ts(t time.Time) time.Time { return store.StoredTime(t) }

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
	if err := store.FromJSONDoc(settings, &a.AppSettings); err != nil {
		return nil, fmt.Errorf("app %s: settings: %w", a.ID, err)
	}
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

const eventTypeCols = `name, description, schema, sample, group_name, deprecated, created_at, updated_at, versions`

func scanEventType(s scanner) (*herald.EventType, error) {
	var (
		et             herald.EventType
		schema, sample []byte
		versions       string
	)
	if err := s.Scan(&et.Name, &et.Description, &schema, &sample, &et.Group, &et.Deprecated, &et.CreatedAt, &et.UpdatedAt, &versions); err != nil {
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
	et.CreatedAt, et.UpdatedAt = et.CreatedAt.UTC(), et.UpdatedAt.UTC()
	return &et, nil
}

// endpointCols is prefixed so that it can be selected from a join.
const endpointCols = `e.id, e.app_id, e.url, e.description, e.event_types, e.enabled, e.secret, e.timeout_ms, e.shape, e.settings, e.created_at, e.updated_at, e.kind`

// endpointDest returns the scan destinations of endpointCols and a function
// that finishes the endpoint once they are filled.
func endpointDest() (*herald.Endpoint, []any, func() error) {
	var (
		ep                     herald.Endpoint
		types, shape, settings string
	)
	dest := []any{&ep.ID, &ep.AppID, &ep.URL, &ep.Description, &types, &ep.Enabled, &ep.Secret, &ep.TimeoutMS,
		&shape, &settings, &ep.CreatedAt, &ep.UpdatedAt, &ep.Kind}
	return &ep, dest, func() error {
		if err := store.DecodeEndpoint(&ep, store.EndpointDocs{EventTypes: types, Shape: shape, Settings: settings}); err != nil {
			return err
		}
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

// eventCols is prefixed so that it can be selected from a join.
const eventCols = `ev.id, ev.app_id, ev.event_type, ev.payload, ev.idempotency_key, ev.routing, ev.created_at,
	ev.channels, ev.tags, ev.payload_expires_at, ev.payload_expired, ev.ordering_key, ev.version`

func eventDest() (*herald.Event, []any, func() error) {
	var (
		ev             herald.Event
		payload        []byte
		key, routing   *string
		channels, tags *string
		expires        *time.Time
		orderingKey    *string
		version        *string
	)
	dest := []any{&ev.ID, &ev.AppID, &ev.EventType, &payload, &key, &routing, &ev.CreatedAt,
		&channels, &tags, &expires, &ev.PayloadExpired, &orderingKey, &version}
	return &ev, dest, func() error {
		if err := store.DecodeEventLabels(&ev, channels, tags); err != nil {
			return err
		}
		if expires != nil {
			t := expires.UTC()
			ev.PayloadExpiresAt = &t
		}
		if len(payload) > 0 {
			ev.Payload = herald.RawJSON(payload)
		}
		if key != nil {
			ev.IdempotencyKey = *key
		}
		if orderingKey != nil {
			ev.OrderingKey = *orderingKey
		}
		if version != nil {
			ev.Version = *version
		}
		if routing != nil {
			var err error
			if ev.Routing, err = store.DecodeRouting(*routing); err != nil {
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

// deliveryCols is prefixed so that it can be selected from a join.
const deliveryCols = `d.id, d.app_id, d.event_id, d.endpoint_id, d.event_type, d.status, d.attempt_count, d.next_attempt_at, d.last_error, d.test, d.created_at, d.updated_at, d.ordering_key, d.skipped, d.last_error_kind`

func deliveryDest() (*herald.Delivery, []any, func()) {
	var (
		d        herald.Delivery
		status   string
		key      *string
		lastKind string
	)
	dest := []any{&d.ID, &d.AppID, &d.EventID, &d.EndpointID, &d.EventType, &status, &d.AttemptCount,
		&d.NextAttemptAt, &d.LastError, &d.Test, &d.CreatedAt, &d.UpdatedAt, &key, &d.Skipped, &lastKind}
	return &d, dest, func() {
		if key != nil {
			d.OrderingKey = *key
		}
		d.Status = herald.DeliveryStatus(status)
		d.LastErrorKind = herald.ErrorKind(lastKind)
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
	latency_us, error_kind, error, body_payload_at`

// attemptSelect reads an attempt's columns and, when its request body was
// stored without the event's payload, that payload (see store.SplitBody).
const attemptSelect = attemptCols + `, CASE WHEN body_payload_at IS NULL THEN NULL ELSE
	(SELECT e.payload FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = attempts.delivery_id) END`

func scanAttempt(s scanner) (*herald.Attempt, error) {
	var (
		a                 herald.Attempt
		reqHdr, respHdr   *string
		reqBody, respBody []byte
		status            *int32
		truncated         bool
		latency           int64
		kind              string
		payloadAt         *int32
		payload           []byte
	)
	if err := s.Scan(&a.ID, &a.DeliveryID, &a.Number, &a.Trigger, &a.CreatedAt,
		&a.Request.Method, &a.Request.URL, &reqHdr, &reqBody,
		&status, &respHdr, &respBody, &truncated,
		&latency, &kind, &a.Error, &payloadAt, &payload); err != nil {
		return nil, err
	}
	a.CreatedAt = a.CreatedAt.UTC()
	a.ErrorKind = herald.ErrorKind(kind)
	c := store.AttemptColumns{RequestHeaders: reqHdr, RequestBody: reqBody, ResponseHeaders: respHdr,
		ResponseBody: respBody, Truncated: truncated, LatencyUS: latency, Payload: payload}
	if status != nil {
		code := int(*status)
		c.Status = &code
	}
	if payloadAt != nil {
		at := int(*payloadAt)
		c.PayloadAt = &at
	}
	if err := store.DecodeAttempt(&a, c); err != nil {
		return nil, err
	}
	return &a, nil
}

// int32Ptr is the column value of an optional int4 column (a status
// code, a payload offset): the column's Go type, nil for NULL.
func int32Ptr(p *int) *int32 {
	if p == nil {
		return nil
	}
	v := int32(*p)
	return &v
}
