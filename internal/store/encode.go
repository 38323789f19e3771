package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// The column values that are the same in every driver: documents kept as
// JSON text and the conversions around them. Drivers adapt only the Go
// type their SQL driver wants for NULL (a nil any, a nil *string), so that
// a row written by one driver reads back the same through the other.

// StoredTime is t as every driver keeps it: truncated to the microsecond,
// in UTC. PostgreSQL would round the nanoseconds, so the store truncates
// first, in both drivers alike.
func StoredTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// JSONDoc is the column value of a settings document.
func JSONDoc(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// FromJSONDoc decodes a settings column into v. Rows written before the
// column existed hold its default '{}', which leaves v zero.
func FromJSONDoc(doc string, v any) error {
	if doc == "" || doc == "{}" {
		return nil
	}
	return json.Unmarshal([]byte(doc), v)
}

// EndpointSettingsJSON is the column value of an endpoint's settings. The
// disabled time is kept to the microsecond in UTC, the precision of every
// other time of the store.
func EndpointSettingsJSON(s herald.EndpointSettings) (string, error) {
	if s.DisabledAt != nil {
		t := StoredTime(*s.DisabledAt)
		s.DisabledAt = &t
	}
	return JSONDoc(s)
}

// EndpointDocs are the JSON columns of an endpoint's row: its
// subscriptions, its request shape and its settings.
type EndpointDocs struct {
	EventTypes, Shape, Settings string
}

// EndpointKind is the kind column of ep: an endpoint made without one
// is a push endpoint, as every endpoint was before pull endpoints.
func EndpointKind(ep *herald.Endpoint) string {
	if ep.Kind == "" {
		return herald.EndpointPush
	}
	return ep.Kind
}

// EncodeEndpoint returns ep's JSON columns. Nil and empty subscriptions
// both mean every event type and are stored as [].
func EncodeEndpoint(ep *herald.Endpoint) (EndpointDocs, error) {
	var d EndpointDocs
	if len(ep.EventTypes) == 0 {
		d.EventTypes = "[]"
	} else {
		b, err := json.Marshal(ep.EventTypes)
		if err != nil {
			return d, err
		}
		d.EventTypes = string(b)
	}
	b, err := json.Marshal(ep.RequestShape)
	if err != nil {
		return d, err
	}
	d.Shape = string(b)
	if d.Settings, err = EndpointSettingsJSON(ep.EndpointSettings); err != nil {
		return d, fmt.Errorf("settings: %w", err)
	}
	return d, nil
}

// DecodeEndpoint fills ep (its ID already scanned) from its JSON columns.
// Subscriptions come back as an empty list, never nil, and the disabled
// time in UTC, like every time the store returns.
func DecodeEndpoint(ep *herald.Endpoint, d EndpointDocs) error {
	ep.EventTypes = []string{}
	if d.EventTypes != "" {
		if err := json.Unmarshal([]byte(d.EventTypes), &ep.EventTypes); err != nil {
			return fmt.Errorf("endpoint %s: event_types: %w", ep.ID, err)
		}
		if ep.EventTypes == nil {
			ep.EventTypes = []string{}
		}
	}
	if d.Shape != "" && d.Shape != "{}" {
		if err := json.Unmarshal([]byte(d.Shape), &ep.RequestShape); err != nil {
			return fmt.Errorf("endpoint %s: shape: %w", ep.ID, err)
		}
	}
	if err := FromJSONDoc(d.Settings, &ep.EndpointSettings); err != nil {
		return fmt.Errorf("endpoint %s: settings: %w", ep.ID, err)
	}
	if ep.DisabledAt != nil {
		t := ep.DisabledAt.UTC()
		ep.DisabledAt = &t
	}
	return nil
}

// RoutingJSON is the column value of an event's routing: nil (NULL) when
// the event has none, so that nil reads back as nil.
func RoutingJSON(r *herald.Routing) (*string, error) {
	if r == nil {
		return nil, nil
	}
	return jsonText(r)
}

// DecodeRouting decodes a routing column that is not NULL.
func DecodeRouting(doc string) (*herald.Routing, error) {
	r := new(herald.Routing)
	if err := json.Unmarshal([]byte(doc), r); err != nil {
		return nil, err
	}
	return r, nil
}

// HeadersJSON is the column value of a header map: nil (NULL) for a nil
// map, so that nil and empty maps both round-trip.
func HeadersJSON(h map[string]string) (*string, error) {
	if h == nil {
		return nil, nil
	}
	return jsonText(h)
}

func jsonText(v any) (*string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// headersTruncatedKey marks, among an attempt's stored response headers,
// that the receiver sent more than was kept. No header can have this name
// (a space is not allowed in one), so the flag needs no column, and no
// migration, of its own.
const headersTruncatedKey = " truncated"

// batchIDKey keeps an attempt's batch id among its request headers, for
// the same reason: no header can have this name, so the id needs no
// column of its own in either store.
const batchIDKey = " batch_id"

// AttemptColumns are the column values of an attempt that need
// converting: header maps as JSON, bodies as bytes, the latency in whole
// microseconds, and the response's fields nil (NULL) when no response came
// back.
type AttemptColumns struct {
	RequestHeaders *string
	// RequestBody is the body sent, or, when PayloadAt is set, the body
	// with the event's payload cut out at PayloadAt (see SplitBody).
	RequestBody []byte
	// PayloadAt is where the event's payload stood in the body, nil when
	// the body is stored whole.
	PayloadAt *int
	// Payload is the event's payload, read with the attempt when
	// PayloadAt is set, to put the body back together.
	Payload         []byte
	Status          *int
	ResponseHeaders *string
	ResponseBody    []byte
	Truncated       bool
	LatencyUS       int64
}

// EncodeAttempt returns a's converted column values. payload is the
// payload of the attempt's event when at hand (nil otherwise): a body
// that holds it is stored without it.
func EncodeAttempt(a *herald.Attempt, payload []byte) (AttemptColumns, error) {
	c := AttemptColumns{LatencyUS: LatencyMicros(a.LatencyMS)}
	c.RequestBody, c.PayloadAt = SplitBody(a.Request.Body, payload)
	var err error
	reqHeaders := a.Request.Headers
	if a.BatchID != "" {
		reqHeaders = maps.Clone(reqHeaders)
		if reqHeaders == nil {
			reqHeaders = map[string]string{}
		}
		reqHeaders[batchIDKey] = a.BatchID
	}
	if c.RequestHeaders, err = HeadersJSON(reqHeaders); err != nil {
		return c, fmt.Errorf("attempt %q: request headers: %w", a.ID, err)
	}
	if a.Response != nil {
		status := a.Response.StatusCode
		c.Status = &status
		h := a.Response.Headers
		if a.Response.HeadersTruncated {
			h = maps.Clone(h)
			if h == nil {
				h = map[string]string{}
			}
			h[headersTruncatedKey] = "true"
		}
		if c.ResponseHeaders, err = HeadersJSON(h); err != nil {
			return c, fmt.Errorf("attempt %q: response headers: %w", a.ID, err)
		}
		c.ResponseBody = []byte(a.Response.Body)
		c.Truncated = a.Response.BodyTruncated
	}
	return c, nil
}

// DecodeAttempt fills a (its ID already scanned) from its converted
// column values.
func DecodeAttempt(a *herald.Attempt, c AttemptColumns) error {
	a.LatencyMS = float64(c.LatencyUS) / 1000
	body, err := JoinBody(c.RequestBody, c.PayloadAt, c.Payload)
	if err != nil {
		return fmt.Errorf("attempt %s: %w", a.ID, err)
	}
	a.Request.Body = body
	if c.RequestHeaders != nil {
		if err := json.Unmarshal([]byte(*c.RequestHeaders), &a.Request.Headers); err != nil {
			return fmt.Errorf("attempt %s: request_headers: %w", a.ID, err)
		}
		if id, ok := a.Request.Headers[batchIDKey]; ok {
			a.BatchID = id
			delete(a.Request.Headers, batchIDKey)
		}
	}
	if c.Status != nil {
		a.Response = &herald.AttemptResponse{
			StatusCode:    *c.Status,
			Body:          string(c.ResponseBody),
			BodyTruncated: c.Truncated,
		}
		if c.ResponseHeaders != nil {
			if err := json.Unmarshal([]byte(*c.ResponseHeaders), &a.Response.Headers); err != nil {
				return fmt.Errorf("attempt %s: response_headers: %w", a.ID, err)
			}
			if _, ok := a.Response.Headers[headersTruncatedKey]; ok {
				delete(a.Response.Headers, headersTruncatedKey)
				a.Response.HeadersTruncated = true
			}
		}
	}
	return nil
}

// LatencyMicros is a latency in milliseconds as the whole microseconds
// stored.
func LatencyMicros(ms float64) int64 {
	return int64(math.Round(ms * 1000))
}

// minSplit is the shortest payload worth cutting out of a body: below it,
// the read that puts the body back together costs more than the bytes
// saved.
const minSplit = 64

// SplitBody returns what to store of a request body sent for an event
// with the given payload. Most bodies hold the payload byte for byte (the
// standard envelope wraps it, the raw format is it), and a fan-out sends
// it to every endpoint: those are stored without it, as the rest of the
// body and the offset where the payload stood, and put back together on
// read from the event, which outlives none of its attempts. A body that
// does not hold it is stored whole, with a nil offset.
func SplitBody(body string, payload []byte) ([]byte, *int) {
	if len(payload) >= minSplit && len(body) >= len(payload) {
		if at := strings.Index(body, string(payload)); at >= 0 {
			rest := make([]byte, 0, len(body)-len(payload))
			rest = append(append(rest, body[:at]...), body[at+len(payload):]...)
			return rest, &at
		}
	}
	return []byte(body), nil
}

// JoinBody puts back together a body stored by SplitBody.
func JoinBody(rest []byte, at *int, payload []byte) (string, error) {
	if at == nil {
		return string(rest), nil
	}
	if payload == nil {
		return "", errors.New("request body: the event that holds its payload is gone")
	}
	if *at < 0 || *at > len(rest) {
		return "", fmt.Errorf("request body: payload offset %d outside the %d bytes stored", *at, len(rest))
	}
	var b strings.Builder
	b.Grow(len(rest) + len(payload))
	b.Write(rest[:*at])
	b.Write(payload)
	b.Write(rest[*at:])
	return b.String(), nil
}

// NamesJSON is the column value of an event's channels or tags: nil
// (NULL) when there are none, else a JSON array.
func NamesJSON(names []string) (*string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	return jsonText(names)
}

// DecodeNames decodes a channels or tags column that is not NULL.
func DecodeNames(doc string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(doc), &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// EventLabels are an event's channels and tags as columns.
type EventLabels struct {
	Channels, Tags *string
}

// EncodeEventLabels returns ev's channels and tags columns.
func EncodeEventLabels(ev *herald.Event) (EventLabels, error) {
	var l EventLabels
	var err error
	if l.Channels, err = NamesJSON(ev.Channels); err != nil {
		return l, fmt.Errorf("channels: %w", err)
	}
	if l.Tags, err = NamesJSON(ev.Tags); err != nil {
		return l, fmt.Errorf("tags: %w", err)
	}
	return l, nil
}

// DecodeEventLabels fills ev's channels and tags from their columns (nil
// for NULL).
func DecodeEventLabels(ev *herald.Event, channels, tags *string) error {
	var err error
	if channels != nil {
		if ev.Channels, err = DecodeNames(*channels); err != nil {
			return fmt.Errorf("event %s: channels: %w", ev.ID, err)
		}
	}
	if tags != nil {
		if ev.Tags, err = DecodeNames(*tags); err != nil {
			return fmt.Errorf("event %s: tags: %w", ev.ID, err)
		}
	}
	return nil
}

// TemplateDoc is what the stores keep of an endpoint template beside its
// id, app, name and times, as one JSON document: new settings need no
// migration.
type TemplateDoc struct {
	Description string `json:"description"`
	URL         string `json:"url"`
	herald.RequestShape
}

// EncodeVersions is the JSON list of an event type's versions as stored,
// without the counts the API fills in.
func EncodeVersions(et *herald.EventType) string {
	if len(et.Versions) == 0 {
		return "[]"
	}
	vs := make([]herald.EventTypeVersion, len(et.Versions))
	for i, v := range et.Versions {
		v.Endpoints = nil
		vs[i] = v
	}
	b, err := json.Marshal(vs)
	if err != nil {
		// Strings, raw JSON already checked and times: cannot fail.
		panic(err)
	}
	return string(b)
}

// DecodeVersions fills an event type's versions from their stored list,
// with its latest version.
func DecodeVersions(et *herald.EventType, doc string) error {
	et.Versions = nil
	if doc != "" && doc != "[]" {
		if err := json.Unmarshal([]byte(doc), &et.Versions); err != nil {
			return fmt.Errorf("event type %s: versions: %w", et.Name, err)
		}
		if len(et.Versions) == 0 {
			et.Versions = nil
		}
	}
	et.Latest = et.LatestVersion()
	return nil
}
