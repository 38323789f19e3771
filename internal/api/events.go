package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/schema"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
)

// enqueueSlack is how much longer than the store's deadline a request
// waits for its event's commit, so that the store's own verdict usually
// comes first.
const enqueueSlack = 250 * time.Millisecond

type eventInput struct {
	EventType *string         `json:"event_type"`
	Payload   json.RawMessage `json:"payload"`
	// Version is the version of the event type the payload is in;
	// absent: the type's latest.
	Version  *string  `json:"version"`
	Channels []string `json:"channels"`
	Tags     []string `json:"tags"`
	// OrderingKey orders the event's deliveries with the others of the
	// same key, endpoint by endpoint.
	OrderingKey *string `json:"ordering_key"`
	// PayloadRetentionHours removes the payload that many hours after
	// the event is created (the installation's retention, if shorter,
	// removes the whole event first).
	PayloadRetentionHours *int `json:"payload_retention_hours"`
}

// maxPayloadRetentionHours is a year: Svix's bound.
const maxPayloadRetentionHours = 8760

// maxEventTypeFilter bounds the names of one ?event_type= list.
const maxEventTypeFilter = 50

// eventView is an event as the API answers it.
type eventView struct {
	*herald.Event
	// Deliveries counts the deliveries the event created; omitted for
	// a repeated Idempotency-Key, which created none.
	Deliveries *int `json:"deliveries,omitempty"`
}

func (s *Server) createEvent(w http.ResponseWriter, r *http.Request) *Error {
	ctx, span := s.tracer.Start(r.Context(), tracing.SpanIngest, trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	e := s.createEventTraced(ctx, w, r, span)
	if e != nil {
		span.SetStatus(codes.Error, e.Message)
	}
	return e
}

// createEventTraced creates an event within its ingest span, which ctx
// holds: Enqueue remembers it, so that the event's attempts link to it.
func (s *Server) createEventTraced(ctx context.Context, w http.ResponseWriter, r *http.Request, span trace.Span) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	span.SetAttributes(tracing.AttrAppID.String(a.ID))
	if e := s.checkQuota(w, r, a); e != nil {
		return e
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdemKeyLen {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: "Idempotency-Key",
			Message: "Idempotency-Key is longer than " + strconv.Itoa(maxIdemKeyLen) + " characters"}
	}
	var in eventInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.EventType == nil {
		return errRequired("event_type")
	}
	if e := validateEventTypeName("event_type", *in.EventType); e != nil {
		return e
	}
	if len(in.Payload) == 0 || string(in.Payload) == "null" {
		return errRequired("payload")
	}
	sc, version, e := s.checkEventType(r, *in.EventType, in.Version)
	if e != nil {
		return e
	}
	if sc != nil {
		if err := sc.Validate(in.Payload); err != nil {
			var se *schema.Error
			msg, path := err.Error(), ""
			if errors.As(err, &se) {
				path = se.Path
			}
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeSchemaMismatch, Field: "payload" + strings.ReplaceAll(path, "/", "."),
				Message: "payload does not match the schema of " + versionName(*in.EventType, version) + ": " + msg}
		}
	}
	var payload bytes.Buffer
	payload.Grow(len(in.Payload))
	if err := json.Compact(&payload, in.Payload); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON, Field: "payload", Message: "payload is not valid JSON"}
	}
	channels, e := cleanChannels("channels", in.Channels)
	if e != nil {
		return e
	}
	tags, e := cleanTags(in.Tags)
	if e != nil {
		return e
	}
	ev := &herald.Event{AppID: a.ID, EventType: *in.EventType, Version: version, Payload: payload.Bytes(), IdempotencyKey: key}
	if in.OrderingKey != nil {
		if len(*in.OrderingKey) > herald.MaxOrderingKey {
			return errInvalid("ordering_key", "ordering_key is at most %d bytes", herald.MaxOrderingKey)
		}
		if !utf8.ValidString(*in.OrderingKey) {
			return errInvalid("ordering_key", "ordering_key must be valid UTF-8")
		}
		ev.OrderingKey = *in.OrderingKey
	}
	if len(channels) > 0 {
		ev.Channels = channels
	}
	if len(tags) > 0 {
		ev.Tags = tags
	}
	if h := in.PayloadRetentionHours; h != nil {
		if *h < 1 || *h > maxPayloadRetentionHours {
			return errInvalid("payload_retention_hours", "payload_retention_hours must be from 1 to %d", maxPayloadRetentionHours)
		}
		at := s.o.Now().UTC().Add(time.Duration(*h) * time.Hour)
		ev.PayloadExpiresAt = &at
	}
	span.SetAttributes(tracing.AttrEventType.String(ev.EventType))
	if s.o.StoreTimeout > 0 {
		// The commit itself is bounded by the store's deadline; this
		// bounds the wait behind other batches too.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.o.StoreTimeout+enqueueSlack)
		defer cancel()
	}
	res, err := s.eng.Enqueue(ctx, ev)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		if qe, ok := asQuotaError(err); ok {
			return s.quotaExceeded(w, qe)
		}
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("app")
		}
		if errors.Is(err, store.ErrUnavailable) {
			// Only a write that was sent and not confirmed may have
			// been stored; unavailable says which.
			return unavailable(err, "the event may have been stored; retry with the same Idempotency-Key")
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			// The engine had not taken the event: it is not stored.
			return retryLater("the store did not take the event in time; nothing was stored, try again")
		}
		if errors.Is(err, delivery.ErrStopped) {
			return retryLater("the server is shutting down; nothing was stored, try again")
		}
		s.log.Error("enqueue failed", "error", err.Error())
		return retryLater("the event could not be stored; nothing was accepted, try again")
	}
	if res.Duplicate && !sameEvent(res.Event, ev) {
		// Answering 202 with the first event would tell the client its
		// new event was taken when it was not (Stripe answers the same).
		return &Error{Status: http.StatusConflict, Code: CodeIdempotencyMismatch, Field: "Idempotency-Key",
			Message: fmt.Sprintf("Idempotency-Key %q was first used for event %s, with another body; a new event needs a new key", key, res.Event.ID)}
	}
	span.SetAttributes(tracing.AttrEventID.String(res.Event.ID), tracing.AttrDeliveries.Int(res.Deliveries))
	v := eventView{Event: res.Event}
	if res.Duplicate {
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		n := res.Deliveries
		v.Deliveries = &n
	}
	writeJSON(w, http.StatusAccepted, v)
	return nil
}

// sameEvent reports whether a new event repeats the stored one an
// Idempotency-Key matched: the same type, version, ordering key and payload. Payloads
// are compared as JSON values, so a client that re-encodes its retry with
// other spacing or key order is still answered as a repeat; numbers
// compare by their text (1.0 is not 1), as a receiver would see them.
func sameEvent(stored, ev *herald.Event) bool {
	if stored.EventType != ev.EventType || stored.Version != ev.Version || stored.OrderingKey != ev.OrderingKey {
		return false
	}
	if stored.PayloadExpired {
		// Nothing is left to compare with: a retry is taken as one.
		return true
	}
	if bytes.Equal(stored.Payload, ev.Payload) {
		return true
	}
	a, errA := decodeValue(stored.Payload)
	b, errB := decodeValue(ev.Payload)
	return errA == nil && errB == nil && reflect.DeepEqual(a, b)
}

// decodeValue decodes one JSON value, numbers kept as their text.
func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// checkEventType refuses an event whose type is not in the catalog, unless
// undeclared types are allowed, or whose version (nil: the type's
// latest) the type does not have, and returns the version's compiled
// schema (nil when it has none) and the version. Herald's own event
// types cannot be sent.
func (s *Server) checkEventType(r *http.Request, name string, version *string) (*schema.Schema, string, *Error) {
	if strings.HasPrefix(name, herald.OperationalPrefix) {
		return nil, "", errInvalid("event_type", "event types starting with %q are Herald's own", herald.OperationalPrefix)
	}
	c, ok := s.eventTypes.Get(name)
	if !ok {
		et, err := s.st.EventTypeGet(r.Context(), name)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				if s.o.AllowUndeclaredEventTypes {
					if version != nil && *version != "" {
						return nil, "", errInvalid("version", "event type %q is not in the catalog, so it has no version %q", name, *version)
					}
					return nil, "", nil
				}
				if near := s.closestEventType(r.Context(), name); near != "" {
					return nil, "", errInvalid("event_type", "event type %q is not in the catalog; did you mean %q?", name, near)
				}
				return nil, "", errInvalid("event_type", "event type %q is not in the catalog; create it with POST /v1/event-types first", name)
			}
			return nil, "", storeError(err, "event type")
		}
		c = catalogEntry{latest: et.LatestVersion(), schemas: map[string]*schema.Schema{}}
		compile := func(v string, raw herald.RawJSON) {
			if len(raw) == 0 {
				c.schemas[v] = nil
				return
			}
			sc, err := schema.Compile(raw)
			if err != nil {
				// Checked when saved; a schema that no longer compiles
				// (a library change) must not block every event.
				s.log.Warn("event type schema does not compile", "event_type", name, "version", v, "error", err.Error())
			}
			c.schemas[v] = sc
		}
		compile("", et.Schema)
		for _, v := range et.Versions {
			compile(v.Version, v.Schema)
		}
		s.eventTypes.Put(name, c)
	}
	v := c.latest
	if version != nil {
		v = *version
	}
	sc, ok := c.schemas[v]
	if !ok {
		return nil, "", errInvalid("version", "event type %q has no version %q (its latest is %q)", name, v, c.latest)
	}
	return sc, v, nil
}

// versionName names a version of an event type in messages.
func versionName(name, version string) string {
	if version == "" {
		return name
	}
	return name + " version " + version
}

// catalogEntry is what the API keeps of an event type between calls: its
// latest version and each version's compiled schema (nil for none), by
// version, "" for the implicit first.
type catalogEntry struct {
	latest  string
	schemas map[string]*schema.Schema
}

// eventParams are the query parameters of the event list.
var eventParams = []string{"cursor", "limit", "event_type", "since", "until", "channel", "tag", "idempotency_key"}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	p, e := listParams(r)
	if e != nil {
		return e
	}
	since, until, e := timeRange(r)
	if e != nil {
		return e
	}
	q := r.URL.Query()
	lp := store.EventListParams{AppID: a.ID, Since: since, Until: until,
		Channel: q.Get("channel"), Tag: q.Get("tag"), IdempotencyKey: q.Get("idempotency_key")}
	if lp.EventTypes, e = eventTypesParam(r); e != nil {
		return e
	}
	for _, f := range []struct{ name, v string }{{"channel", lp.Channel}, {"tag", lp.Tag}, {"idempotency_key", lp.IdempotencyKey}} {
		if len(f.v) > maxIdemKeyLen {
			return errQuery(f.name, "%s is longer than %d characters", f.name, maxIdemKeyLen)
		}
	}
	pg, err := fetchVisiblePage(p, func(p store.ListParams) ([]*herald.Event, error) {
		lp.ListParams = p
		return s.st.EventList(r.Context(), lp)
	}, func(ev *herald.Event) string { return ev.ID }, visibleTo[*herald.Event](r))
	if err != nil {
		return storeError(err, "event")
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

// listDeliveries answers the delivery lists (of the app, of an event, of
// an endpoint, of every app) with their filters (deliveryParams).
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, lp store.DeliveryListParams) *Error {
	p, e := listParams(r)
	if e != nil {
		return e
	}
	if e := deliveryFilters(r, &lp); e != nil {
		return e
	}
	pg, err := fetchVisiblePage(p, func(p store.ListParams) ([]*herald.Delivery, error) {
		lp.ListParams = p
		return s.st.DeliveryList(r.Context(), lp)
	}, func(d *herald.Delivery) string { return d.ID }, visibleTo[*herald.Delivery](r))
	if err != nil {
		return storeError(err, "delivery")
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

// deliveryParams are the query parameters of every delivery list.
var deliveryParams = []string{"cursor", "limit", "status", "failure", "event_type", "endpoint_id", "status_code",
	"error_kind", "since", "until", "min_latency_ms", "include_attempts", "channel"}

// deliveryFilters reads the filters of a delivery list into lp.
func deliveryFilters(r *http.Request, lp *store.DeliveryListParams) *Error {
	q := r.URL.Query()
	if st := q.Get("status"); st != "" {
		if !herald.DeliveryStatus(st).Valid() {
			return errQuery("status", "status must be pending, succeeded or failed")
		}
		lp.Status = herald.DeliveryStatus(st)
	}
	if v := q.Get("failure"); v != "" {
		if !herald.Failure(v).Valid() {
			return errQuery("failure", "failure must be definition (the endpoint's templates or transformation) or destination")
		}
		lp.Failure = herald.Failure(v)
	}
	var e *Error
	if lp.EventTypes, e = eventTypesParam(r); e != nil {
		return e
	}
	if v := q.Get("endpoint_id"); v != "" {
		if lp.EndpointID != "" && v != lp.EndpointID {
			return errQuery("endpoint_id", "endpoint_id names another endpoint than the path")
		}
		if len(v) > 200 {
			return errQuery("endpoint_id", "endpoint_id is not an endpoint id")
		}
		lp.EndpointID = v
	}
	if v := q.Get("channel"); v != "" {
		if len(v) > herald.MaxChannelLen {
			return errQuery("channel", "channel is at most %d characters", herald.MaxChannelLen)
		}
		lp.Channel = v
	}
	if v := q.Get("status_code"); v != "" {
		lo, hi, ok := statusCodeRange(v)
		if !ok {
			return errQuery("status_code", "status_code must be a status such as 422, or a class such as 5xx")
		}
		lp.LastStatusMin, lp.LastStatusMax = lo, hi
	}
	if v := q.Get("error_kind"); v != "" {
		if !slices.Contains(herald.ErrorKinds, herald.ErrorKind(v)) {
			return errQuery("error_kind", "error_kind must be one of %s", errorKindList())
		}
		lp.LastErrorKind = herald.ErrorKind(v)
	}
	if v := q.Get("min_latency_ms"); v != "" {
		ms, err := strconv.ParseFloat(v, 64)
		if err != nil || ms < 0 || ms > 24*3600*1000 || math.IsNaN(ms) {
			return errQuery("min_latency_ms", "min_latency_ms must be a number of milliseconds from 0 to 86400000")
		}
		lp.LastMinLatency = time.Duration(ms * float64(time.Millisecond))
	}
	if lp.Since, lp.Until, e = timeRange(r); e != nil {
		return e
	}
	lp.WithAttempts = true
	if v := q.Get("include_attempts"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errQuery("include_attempts", "include_attempts must be true or false")
		}
		lp.WithAttempts = b
	}
	return nil
}

// eventTypesParam reads ?event_type= of the event and delivery lists: one
// exact name, or several separated by commas (spaces around them
// trimmed, repeats counted once).
func eventTypesParam(r *http.Request) ([]string, *Error) {
	v := r.URL.Query().Get("event_type")
	if v == "" {
		return nil, nil
	}
	var names []string
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" || len(name) > maxNameLen {
			return nil, errQuery("event_type", "event_type is a comma-separated list of event type names, each 1 to %d characters", maxNameLen)
		}
		if !slices.Contains(names, name) {
			if len(names) == maxEventTypeFilter {
				return nil, errQuery("event_type", "event_type may list at most %d names", maxEventTypeFilter)
			}
			names = append(names, name)
		}
	}
	return names, nil
}

// statusCodeRange reads a status code ("422") or class ("5xx") as the
// codes it covers.
func statusCodeRange(v string) (lo, hi int, ok bool) {
	if len(v) == 3 && (v[1:] == "xx" || v[1:] == "XX") && v[0] >= '1' && v[0] <= '5' {
		c := int(v[0]-'0') * 100
		return c, c + 99, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 100 || n > 599 {
		return 0, 0, false
	}
	return n, n, true
}

// listAppDeliveries answers GET /v1/apps/{app}/deliveries: every delivery
// of the app, filtered.
func (s *Server) listAppDeliveries(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	if v := r.URL.Query().Get("endpoint_id"); v != "" {
		if e := s.checkPortalEndpointID(r, a.ID, v); e != nil {
			return e
		}
	}
	return s.listDeliveries(w, r, store.DeliveryListParams{AppID: a.ID})
}

// listAllDeliveries answers GET /v1/deliveries: the operator's search
// across every app (admin credentials only).
func (s *Server) listAllDeliveries(w http.ResponseWriter, r *http.Request) *Error {
	return s.listDeliveries(w, r, store.DeliveryListParams{})
}

func (s *Server) listEventDeliveries(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	ev, err := s.st.EventGet(r.Context(), a.ID, r.PathValue("id"))
	if err != nil {
		return storeError(err, "event")
	}
	if hiddenFromPortal(r, ev) {
		return errNotFound("event")
	}
	return s.listDeliveries(w, r, store.DeliveryListParams{AppID: a.ID, EventID: ev.ID})
}

func (s *Server) listEndpointDeliveries(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	// A deleted endpoint's history stays readable, so the endpoint itself
	// is not looked up: an unknown id simply has no deliveries.
	if e := s.checkPortalEndpoint(r, a.ID); e != nil {
		return e
	}
	return s.listDeliveries(w, r, store.DeliveryListParams{AppID: a.ID, EndpointID: r.PathValue("id")})
}

// errorKindList names the error kinds an attempt records, for messages.
func errorKindList() string {
	kinds := make([]string, len(herald.ErrorKinds))
	for i, k := range herald.ErrorKinds {
		kinds[i] = string(k)
	}
	return strings.Join(kinds, ", ")
}
