package svixapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// Svix's messages are Herald's events. A message's eventId is the
// event's Idempotency-Key; the idempotency-key header of Svix's clients
// (auto_<uuid> on every POST, the same on each retry) is kept apart from
// it under keyPrefix, so that a message sent without an eventId does not
// show the client's key as one.
const keyPrefix = "svix-key:"

// maxKeyLen is Herald's bound on an Idempotency-Key.
const maxKeyLen = 256

// messageRoutes registers messages and message attempts.
func (h *Handler) messageRoutes() {
	h.handle("POST /api/v1/app/{app_id}/msg", h.createMessage)
	h.handle("GET /api/v1/app/{app_id}/msg", h.listMessages)
	h.handle("GET /api/v1/app/{app_id}/msg/{msg_id}", h.getMessage)
	h.unsupported("DELETE /api/v1/app/{app_id}/msg/{msg_id}/content", "Expunging a message's content",
		"Herald keeps an event's payload until its retention ends and has no operation that deletes it sooner; send it with payloadRetentionHours instead")
	h.unsupported("POST /api/v1/app/{app_id}/msg/bulk-expunge", "Bulk-expunging message contents",
		"Herald has no operation that deletes events' payloads before their retention ends")
	h.unsupported("POST /api/v1/app/{app_id}/msg/expunge-all-contents", "Expunging all message contents",
		"Herald has no operation that deletes an app's payloads before their retention ends")
	h.unsupported("POST /api/v1/app/{app_id}/msg/precheck/active", "Message precheck",
		"Herald does not tell which endpoints an event would reach without sending it (subscriptions, filters and sampling decide when it is sent)")
	h.attemptRoutes()
}

// hEvent is an event as Herald's API answers it.
type hEvent struct {
	ID             string          `json:"id"`
	EventType      string          `json:"event_type"`
	Payload        json.RawMessage `json:"payload"`
	IdempotencyKey string          `json:"idempotency_key"`
	Channels       []string        `json:"channels"`
	Tags           []string        `json:"tags"`
	PayloadExpired bool            `json:"payload_expired"`
	CreatedAt      time.Time       `json:"created_at"`
	// Deliveries is absent on the answer to a repeated Idempotency-Key.
	Deliveries *int `json:"deliveries"`
}

// eventID is the Svix eventId of an event: its Idempotency-Key, unless
// that key came from a client's idempotency-key header.
func (ev hEvent) eventID() *string {
	if ev.IdempotencyKey == "" || strings.HasPrefix(ev.IdempotencyKey, keyPrefix) {
		return nil
	}
	k := ev.IdempotencyKey
	return &k
}

// messageOut is Svix's MessageOut.
type messageOut struct {
	ID        string          `json:"id"`
	EventID   *string         `json:"eventId"`
	EventType string          `json:"eventType"`
	Payload   json.RawMessage `json:"payload"`
	Channels  []string        `json:"channels"`
	Tags      []string        `json:"tags"`
	Timestamp time.Time       `json:"timestamp"`
}

var emptyObject = json.RawMessage(`{}`)

// toMessage converts an event; without content (or once the payload
// expired) the payload is {} as in Svix.
func toMessage(ev hEvent, withContent bool) messageOut {
	m := messageOut{ID: ev.ID, EventID: ev.eventID(), EventType: ev.EventType, Payload: ev.Payload,
		Channels: nilIfEmpty(ev.Channels), Tags: nilIfEmpty(ev.Tags), Timestamp: ev.CreatedAt}
	if !withContent || ev.PayloadExpired || !present(m.Payload) {
		m.Payload = emptyObject
	}
	return m
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// applicationIn is Svix's ApplicationIn, as MessageIn carries it inline.
type applicationIn struct {
	Name     *string           `json:"name"`
	UID      *string           `json:"uid"`
	Metadata map[string]string `json:"metadata"`
	// ThrottleRate (2.x) and RateLimit (1.x) cap an app's sending rate;
	// Herald limits endpoints, not apps.
	ThrottleRate *float64 `json:"throttleRate"`
	RateLimit    *float64 `json:"rateLimit"`
}

// messageIn is Svix's MessageIn.
type messageIn struct {
	EventID                *string         `json:"eventId"`
	EventType              *string         `json:"eventType"`
	Payload                json.RawMessage `json:"payload"`
	Channels               []string        `json:"channels"`
	Tags                   []string        `json:"tags"`
	Application            *applicationIn  `json:"application"`
	TransformationsParams  json.RawMessage `json:"transformationsParams"`
	DeliverAt              *string         `json:"deliverAt"`
	PayloadRetentionPeriod *int64          `json:"payloadRetentionPeriod"`
	PayloadRetentionHours  *int64          `json:"payloadRetentionHours"`
}

// hEventCreate is Herald's EventCreate.
type hEventCreate struct {
	EventType             string          `json:"event_type"`
	Payload               json.RawMessage `json:"payload"`
	Channels              []string        `json:"channels,omitempty"`
	Tags                  []string        `json:"tags,omitempty"`
	PayloadRetentionHours *int64          `json:"payload_retention_hours,omitempty"`
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// createMessage sends an event: POST /v1/apps/{app}/events.
func (h *Handler) createMessage(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "with_content"); e != nil {
		return e
	}
	withContent, e := boolQuery(r, "with_content", true)
	if e != nil {
		return e
	}
	var in messageIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if in.EventType == nil || *in.EventType == "" {
		return invalid("body", "eventType", "eventType is required")
	}
	if !present(in.Payload) {
		return invalid("body", "payload", "payload is required")
	}
	if present(in.TransformationsParams) {
		return invalid("body", "transformationsParams", "transformationsParams is not supported: Herald has no transformations; endpoints shape requests with body templates")
	}
	if in.DeliverAt != nil {
		return invalid("body", "deliverAt", "deliverAt is not supported: Herald sends an event at once and cannot schedule it")
	}
	body := hEventCreate{EventType: *in.EventType, Payload: in.Payload, Channels: in.Channels, Tags: in.Tags}
	// Hours win over days when both are given, as the finer of the two.
	switch {
	case in.PayloadRetentionHours != nil:
		if *in.PayloadRetentionHours < 1 || *in.PayloadRetentionHours > 8760 {
			return invalid("body", "payloadRetentionHours", "payloadRetentionHours must be from 1 to 8760")
		}
		body.PayloadRetentionHours = in.PayloadRetentionHours
	case in.PayloadRetentionPeriod != nil:
		if *in.PayloadRetentionPeriod < 1 || *in.PayloadRetentionPeriod > 365 {
			return invalid("body", "payloadRetentionPeriod", "payloadRetentionPeriod must be from 1 to 365 days")
		}
		hours := *in.PayloadRetentionPeriod * 24
		body.PayloadRetentionHours = &hours
	}
	header := http.Header{}
	if in.EventID != nil {
		switch id := *in.EventID; {
		case id == "":
			return invalid("body", "eventId", "eventId must not be empty")
		case len(id) > maxKeyLen:
			return invalid("body", "eventId", fmt.Sprintf("eventId must be at most %d characters", maxKeyLen))
		case strings.HasPrefix(id, keyPrefix):
			return invalid("body", "eventId", "eventId must not start with "+strconv.Quote(keyPrefix))
		}
		header.Set("Idempotency-Key", *in.EventID)
	} else if k := r.Header.Get("Idempotency-Key"); k != "" {
		if len(keyPrefix)+len(k) > maxKeyLen {
			return invalid("header", "idempotency-key", fmt.Sprintf("idempotency-key must be at most %d characters", maxKeyLen-len(keyPrefix)))
		}
		header.Set("Idempotency-Key", keyPrefix+k)
	}
	app := r.PathValue("app_id")
	if in.Application != nil {
		id, e := h.ensureApp(r, app, in.Application)
		if e != nil {
			return e
		}
		app = id
	}
	var ev hEvent
	_, e = h.do(r, call{Method: http.MethodPost, Path: path("/v1/apps/", app, "/events"), Body: body, Header: header,
		Fields: map[string]string{"payload_retention_hours": "payloadRetentionHours"}}, &ev)
	if e != nil {
		if e.Status == http.StatusConflict {
			e.Code = "conflict"
			if in.EventID != nil {
				e.Detail = fmt.Sprintf("a message with eventId %q already exists, with another body", *in.EventID)
			} else {
				e.Detail = "this idempotency-key was first used for a message with another body; a new message needs a new key"
			}
		}
		return e
	}
	if ev.Deliveries == nil && in.EventID != nil {
		// Svix answers a used eventId with 409; a retry with the
		// client's own idempotency-key (no eventId) gets the first
		// answer again instead.
		return &Error{Status: http.StatusConflict, Code: "conflict",
			Detail: fmt.Sprintf("a message with eventId %q already exists: %s", *in.EventID, ev.ID)}
	}
	writeJSON(w, http.StatusAccepted, toMessage(ev, withContent))
	return nil
}

// ensureApp returns the id of the app ref names, creating it from a
// when there is none (POST /v1/apps); a concurrent creation wins the
// race and its app is used.
func (h *Handler) ensureApp(r *http.Request, ref string, a *applicationIn) (string, *Error) {
	if a.ThrottleRate != nil {
		return "", invalid2("application", "throttleRate", "application.throttleRate is not supported: Herald limits the rate of each endpoint, not of an app")
	}
	if a.RateLimit != nil {
		return "", invalid2("application", "rateLimit", "application.rateLimit is not supported: Herald limits the rate of each endpoint, not of an app")
	}
	if a.Name == nil || *a.Name == "" {
		return "", invalid2("application", "name", "application.name is required")
	}
	var got struct {
		ID string `json:"id"`
	}
	_, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", ref)}, &got)
	if e == nil {
		return got.ID, nil
	}
	if e.Status != http.StatusNotFound {
		return "", e
	}
	uid := ref
	if a.UID != nil && *a.UID != "" {
		uid = *a.UID
	}
	body := map[string]any{"name": *a.Name, "uid": uid}
	if len(a.Metadata) > 0 {
		body["metadata"] = a.Metadata
	}
	_, e = h.do(r, call{Method: http.MethodPost, Path: "/v1/apps", Body: body}, &got)
	if e == nil {
		return got.ID, nil
	}
	if e.Status == http.StatusConflict {
		if _, e2 := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", uid)}, &got); e2 == nil {
			return got.ID, nil
		}
		return "", e
	}
	if len(e.Loc) == 2 {
		e.Loc = []string{"body", "application", e.Loc[1]}
	}
	return "", e
}

// invalid2 is a 422 answer about a field of a nested object of the body.
func invalid2(object, field, msg string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation", Detail: msg, Loc: []string{"body", object, field}}
}

// getMessage answers GET /api/v1/app/{app_id}/msg/{msg_id}.
func (h *Handler) getMessage(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "with_content"); e != nil {
		return e
	}
	withContent, e := boolQuery(r, "with_content", true)
	if e != nil {
		return e
	}
	ev, e := h.findMessage(r, r.PathValue("app_id"), r.PathValue("msg_id"))
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toMessage(ev, withContent))
	return nil
}

// findMessage finds the event a Svix msg_id names: Herald's event id,
// the eventId it was sent with (its Idempotency-Key), or the webhook-id a
// receiver got (Herald's delivery id: one per endpoint, where Svix's is
// the message's).
func (h *Handler) findMessage(r *http.Request, app, msgID string) (hEvent, *Error) {
	var ev hEvent
	_, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", app, "/events/", msgID)}, &ev)
	if e == nil {
		return ev, nil
	}
	if e.Status != http.StatusNotFound || strings.HasPrefix(e.Detail, "app ") {
		return ev, e
	}
	if strings.HasPrefix(msgID, herald.PrefixDelivery) {
		var d struct {
			EventID string `json:"event_id"`
		}
		if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", app, "/deliveries/", msgID)}, &d); e == nil && d.EventID != "" {
			if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", app, "/events/", d.EventID)}, &ev); e == nil {
				return ev, nil
			}
		}
	}
	if msgID == "" || len(msgID) > maxKeyLen || strings.HasPrefix(msgID, keyPrefix) {
		return ev, notFound("message")
	}
	var pg heraldPage[hEvent]
	if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", app, "/events"),
		Query: url.Values{"idempotency_key": {msgID}, "limit": {"1"}}}, &pg); e != nil {
		return ev, e
	}
	// The key is compared again: a Herald that did not filter must not
	// answer with another event.
	for _, got := range pg.Data {
		if got.IdempotencyKey == msgID {
			return got, nil
		}
	}
	return ev, notFound("message")
}

// listMessages answers GET /api/v1/app/{app_id}/msg: GET
// /v1/apps/{app}/events.
func (h *Handler) listMessages(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "limit", "iterator", "channel", "before", "after", "with_content", "tag", "event_types"); e != nil {
		return e
	}
	q, e := listQuery(r)
	if e != nil {
		return e
	}
	withContent, e := boolQuery(r, "with_content", true)
	if e != nil {
		return e
	}
	types, e := listParam(r, "event_types")
	if e != nil {
		return e
	}
	if len(types) > 0 {
		q.Set("event_type", strings.Join(types, ","))
	}
	for _, k := range []string{"channel", "tag"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	if e := timeWindow(r, q); e != nil {
		return e
	}
	var pg heraldPage[hEvent]
	if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", r.PathValue("app_id"), "/events"), Query: q,
		Fields: listFields}, &pg); e != nil {
		return e
	}
	// Herald filtered; each event is checked again, so that a filter is
	// never silently dropped on the way.
	f := attemptFilter{types: types, channel: q.Get("channel"), tag: q.Get("tag")}
	kept := pg.Data[:0]
	for _, ev := range pg.Data {
		if f.keepEvent(ev) {
			kept = append(kept, ev)
		}
	}
	pg.Data = kept
	writeJSON(w, http.StatusOK, page(pg, func(ev hEvent) messageOut { return toMessage(ev, withContent) }))
	return nil
}

// listFields names Herald's list parameters in Svix's terms.
var listFields = map[string]string{"event_type": "event_types", "since": "after", "until": "before", "cursor": "iterator"}

// boolQuery reads a true/false query parameter.
func boolQuery(r *http.Request, name string, def bool) (bool, *Error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, invalid("query", name, name+" must be true or false")
	}
	return b, nil
}

// maxListItems bounds the names a list parameter (event_types) takes.
const maxListItems = 100

// listParam reads a list parameter given comma-separated (Svix's
// JavaScript client) or repeated (its other clients).
func listParam(r *http.Request, name string) ([]string, *Error) {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	if len(out) > maxListItems {
		return nil, invalid("query", name, fmt.Sprintf("%s takes at most %d names", name, maxListItems))
	}
	return out, nil
}

// timeQuery reads an ISO 8601 time parameter.
func timeQuery(r *http.Request, name string) (time.Time, *Error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, invalid("query", name, name+" must be an ISO 8601 time such as 2026-01-02T15:04:05Z")
	}
	return t, nil
}

// timeWindow turns Svix's before and after (both exclusive) into
// Herald's until (exclusive) and since (inclusive, to the microsecond
// Herald stores).
func timeWindow(r *http.Request, q url.Values) *Error {
	before, e := timeQuery(r, "before")
	if e != nil {
		return e
	}
	after, e := timeQuery(r, "after")
	if e != nil {
		return e
	}
	if !before.IsZero() {
		q.Set("until", before.UTC().Format(time.RFC3339Nano))
	}
	if !after.IsZero() {
		q.Set("since", after.Truncate(time.Microsecond).Add(time.Microsecond).UTC().Format(time.RFC3339Nano))
	}
	return nil
}
