package svixapi

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Svix's message attempts are Herald's attempts. Herald keeps one
// delivery per event and endpoint (Svix's "message to endpoint" pair),
// holding that pair's numbered attempts; Svix lists the attempts alone.
//
// Attempt lists page Herald's deliveries (newest first) and flatten each
// one's attempts (newest first within it), so they run newest delivery
// first rather than strictly by attempt time. limit counts attempts. The
// iterator is "<delivery id>~<n>": every attempt of the deliveries after
// that one in the list, and its own attempts numbered below n, are still
// to come; n = 0 when all of its attempts were given. Attempts are never
// repeated or skipped across pages; attempts made after the listing
// began, being newer, show on a new listing, as new items of any list do.

// Bounds of one list request, so that a filter matching little reads a
// bounded part of the history: a page then comes back short (even empty)
// with done false and an iterator that resumes where the scan stopped.
const (
	scanPageSize   = 100
	maxScanPages   = 10
	maxLookups     = 500
	defaultListLen = 50
)

func (h *Handler) attemptRoutes() {
	h.handle("GET /api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}", h.listAttemptsByEndpoint)
	h.handle("GET /api/v1/app/{app_id}/attempt/msg/{msg_id}", h.listAttemptsByMsg)
	h.handle("GET /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", h.getAttempt)
	h.handle("POST /api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", h.resend)
	h.handle("GET /api/v1/app/{app_id}/msg/{msg_id}/endpoint", h.listAttemptedDestinations)
	h.handle("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/msg", h.listAttemptedMessages)
	// Deprecated routes Svix's server still answers.
	h.handle("GET /api/v1/app/{app_id}/msg/{msg_id}/attempt", h.listAttemptsByMsg)
	h.handle("GET /api/v1/app/{app_id}/msg/{msg_id}/attempt/destinations", h.listAttemptedDestinations)
	h.handle("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/msg/{msg_id}/attempt", h.listAttemptsByMsg)
	h.unsupported("DELETE /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content", "Expunging an attempt's content",
		"Herald keeps an attempt's request and response until the delivery's retention ends and has no operation that deletes them sooner")
}

// hDelivery is a delivery as Herald's API answers it.
type hDelivery struct {
	ID            string     `json:"id"`
	EventID       string     `json:"event_id"`
	EndpointID    string     `json:"endpoint_id"`
	EventType     string     `json:"event_type"`
	Status        string     `json:"status"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
	Attempts      []hAttempt `json:"attempts"`
}

// hAttempt is an attempt as Herald's API answers it.
type hAttempt struct {
	ID        string    `json:"id"`
	Number    int       `json:"attempt"`
	CreatedAt time.Time `json:"created_at"`
	Trigger   string    `json:"trigger"`
	Request   struct {
		URL string `json:"url"`
	} `json:"request"`
	Response *struct {
		StatusCode int    `json:"status_code"`
		Body       string `json:"body"`
	} `json:"response"`
	LatencyMS float64 `json:"latency_ms"`
	ErrorKind string  `json:"error_kind"`
	Error     string  `json:"error"`
}

func (a hAttempt) statusCode() int {
	if a.Response == nil {
		return 0
	}
	return a.Response.StatusCode
}

// status is Svix's MessageStatus of a made attempt: 0 success, 2 fail.
// Svix's 1 (pending) and 3 (sending) are for attempts not yet made,
// which Herald's lists, like Svix's, do not show.
func (a hAttempt) status() int {
	if a.ErrorKind == "" {
		return 0
	}
	return 2
}

// statusTexts is Svix's MessageStatusText by MessageStatus.
var statusTexts = []string{"success", "pending", "fail", "sending", "canceled"}

// deliveryStatus is Svix's MessageStatus of a message to one endpoint:
// succeeded 0, pending 1 (Herald does not tell a delivery in flight, 3,
// from one waiting), failed 2, cancelled (by a transformation) 4.
func deliveryStatus(s string) int {
	switch s {
	case "succeeded":
		return 0
	case "failed":
		return 2
	case "cancelled":
		return 4
	}
	return 1
}

var heraldStatus = map[int]string{0: "succeeded", 1: "pending", 2: "failed", 4: "cancelled"}

// attemptOut is Svix's MessageAttemptOut.
type attemptOut struct {
	ID                 string      `json:"id"`
	URL                string      `json:"url"`
	Response           string      `json:"response"`
	ResponseStatusCode int         `json:"responseStatusCode"`
	ResponseDurationMs int64       `json:"responseDurationMs"`
	Status             int         `json:"status"`
	StatusText         string      `json:"statusText"`
	TriggerType        int         `json:"triggerType"`
	MsgID              string      `json:"msgId"`
	EndpointID         string      `json:"endpointId"`
	Timestamp          time.Time   `json:"timestamp"`
	Msg                *messageOut `json:"msg,omitempty"`
}

// toAttempt converts an attempt. Without content its response is
// empty; when no response came, it holds why (Herald's error).
// triggerType is 1 (manual) for resends; Herald's test sends are events
// of their own, scheduled (0) as Svix's example messages are.
func toAttempt(d *hDelivery, a hAttempt, withContent bool) attemptOut {
	out := attemptOut{ID: a.ID, URL: a.Request.URL, ResponseStatusCode: a.statusCode(),
		ResponseDurationMs: int64(math.Round(a.LatencyMS)), Status: a.status(),
		MsgID: d.EventID, EndpointID: d.EndpointID, Timestamp: a.CreatedAt}
	out.StatusText = statusTexts[out.Status]
	if a.Trigger == "resend" {
		out.TriggerType = 1
	}
	if withContent {
		if a.Response != nil {
			out.Response = a.Response.Body
		} else {
			out.Response = a.Error
		}
	}
	return out
}

// attemptFilter holds the filters of Svix's attempt lists.
type attemptFilter struct {
	status, codeClass *int
	after, before     time.Time
	types             []string
	endpointID        string
	channel, tag      string
}

// parseAttemptFilter reads the filters of an attempt list; q gets
// Herald's since and until to bound the deliveries read.
func parseAttemptFilter(r *http.Request, q url.Values) (attemptFilter, *Error) {
	var f attemptFilter
	var e *Error
	if f.status, e = enumQuery(r, "status", 0, 1, 2, 3, 4); e != nil {
		return f, e
	}
	if f.codeClass, e = enumQuery(r, "status_code_class", 0, 100, 200, 300, 400, 500); e != nil {
		return f, e
	}
	if f.before, e = timeQuery(r, "before"); e != nil {
		return f, e
	}
	if f.after, e = timeQuery(r, "after"); e != nil {
		return f, e
	}
	if e := timeWindow(r, q); e != nil {
		return f, e
	}
	if f.types, e = listParam(r, "event_types"); e != nil {
		return f, e
	}
	f.channel, f.tag = r.URL.Query().Get("channel"), r.URL.Query().Get("tag")
	if _, e := boolQuery(r, "expanded_statuses", true); e != nil {
		return f, e
	}
	return f, nil
}

func (f attemptFilter) keepAttempt(a hAttempt) bool {
	if f.status != nil && *f.status != a.status() {
		return false
	}
	if f.codeClass != nil && *f.codeClass != a.statusCode()/100*100 {
		return false
	}
	if !f.after.IsZero() && !a.CreatedAt.After(f.after) {
		return false
	}
	if !f.before.IsZero() && !a.CreatedAt.Before(f.before) {
		return false
	}
	return true
}

// keepEvent applies the filters on the message.
func (f attemptFilter) keepEvent(ev hEvent) bool {
	if len(f.types) > 0 && !slices.Contains(f.types, ev.EventType) {
		return false
	}
	if f.channel != "" && !slices.Contains(ev.Channels, f.channel) {
		return false
	}
	return f.tag == "" || slices.Contains(ev.Tags, f.tag)
}

// enumQuery reads an integer query parameter taking one of values.
func enumQuery(r *http.Request, name string, values ...int) (*int, *Error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || !slices.Contains(values, n) {
		s := make([]string, len(values))
		for i, x := range values {
			s[i] = strconv.Itoa(x)
		}
		return nil, invalid("query", name, name+" must be one of "+strings.Join(s, ", "))
	}
	return &n, nil
}

// lister holds what one list request looked up, and bounds it.
type lister struct {
	h       *Handler
	r       *http.Request
	app     string
	events  map[string]*hEvent
	eps     map[string]*hEndpoint
	lookups int
}

func (h *Handler) lister(r *http.Request) *lister {
	return &lister{h: h, r: r, app: r.PathValue("app_id"), events: map[string]*hEvent{}, eps: map[string]*hEndpoint{}}
}

// exhausted reports whether the request made as many lookups as it may.
func (l *lister) exhausted() bool { return l.lookups >= maxLookups }

// event returns an event by id, nil when it is gone.
func (l *lister) event(id string) (*hEvent, *Error) {
	if ev, ok := l.events[id]; ok {
		return ev, nil
	}
	l.lookups++
	var ev hEvent
	_, e := l.h.do(l.r, call{Method: http.MethodGet, Path: path("/v1/apps/", l.app, "/events/", id)}, &ev)
	if e != nil {
		if e.Status != http.StatusNotFound {
			return nil, e
		}
		l.events[id] = nil
		return nil, nil
	}
	l.events[id] = &ev
	return &ev, nil
}

// endpoint returns an endpoint by id, nil when it was deleted.
func (l *lister) endpoint(id string) (*hEndpoint, *Error) {
	if ep, ok := l.eps[id]; ok {
		return ep, nil
	}
	l.lookups++
	var ep hEndpoint
	_, e := l.h.do(l.r, call{Method: http.MethodGet, Path: path("/v1/apps/", l.app, "/endpoints/", id)}, &ep)
	if e != nil {
		if e.Status != http.StatusNotFound {
			return nil, e
		}
		l.eps[id] = nil
		return nil, nil
	}
	l.eps[id] = &ep
	return &ep, nil
}

// pageParams reads Svix's limit and iterator.
func pageParams(r *http.Request) (limit int, iterator string, e *Error) {
	q, e := listQuery(r)
	if e != nil {
		return 0, "", e
	}
	limit = defaultListLen
	if v := q.Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	return limit, q.Get("cursor"), nil
}

// deliveries reads one page of a Herald delivery list.
func (l *lister) deliveries(listPath string, q url.Values, cursor string, limit int) (heraldPage[hDelivery], *Error) {
	var pg heraldPage[hDelivery]
	qq := url.Values{}
	for k, v := range q {
		qq[k] = v
	}
	qq.Set("limit", strconv.Itoa(limit))
	if cursor != "" {
		qq.Set("cursor", cursor)
	}
	l.lookups++
	_, e := l.h.do(l.r, call{Method: http.MethodGet, Path: listPath, Query: qq, Fields: listFields}, &pg)
	return pg, e
}

// found is one attempt with its delivery.
type found struct {
	d *hDelivery
	a hAttempt
}

// parseAttemptIterator reads "<delivery id>~<n>".
func parseAttemptIterator(it string) (string, int, *Error) {
	if it == "" {
		return "", 0, nil
	}
	d, ns, ok := strings.Cut(it, "~")
	n, err := strconv.Atoi(ns)
	if !ok || d == "" || err != nil || n < 0 {
		return "", 0, invalid("query", "iterator", "iterator is not one this API returned")
	}
	return d, n, nil
}

// scanAttempts lists attempts of the deliveries of listPath (Herald's
// delivery list with q), limit at a time from the iterator it, keeping
// the deliveries keepD accepts and the attempts keepA accepts. It
// returns the attempts and the next iterator, nil when done.
func (l *lister) scanAttempts(listPath string, q url.Values, limit int, it string,
	keepD func(*hDelivery) (bool, *Error), keepA func(hAttempt) bool) ([]found, *string, *Error) {
	lastD, lastN, e := parseAttemptIterator(it)
	if e != nil {
		return nil, nil, e
	}
	var out []found
	more := func() *string { s := lastD + "~" + strconv.Itoa(lastN); return &s }
	// take walks one delivery's attempts, newest first, below number
	// below (0: all); it reports whether the page is full with more to
	// come.
	take := func(d *hDelivery, below int) (bool, *Error) {
		if ok, e := keepD(d); e != nil || !ok {
			lastD, lastN = d.ID, 0
			return false, e
		}
		for i := len(d.Attempts) - 1; i >= 0; i-- {
			a := d.Attempts[i]
			if below > 0 && a.Number >= below {
				continue
			}
			if keepA(a) {
				if len(out) == limit {
					return true, nil
				}
				out = append(out, found{d, a})
			}
			lastD, lastN = d.ID, a.Number
		}
		lastD, lastN = d.ID, 0
		return false, nil
	}
	if lastD != "" && lastN > 1 {
		var d hDelivery
		l.lookups++
		_, e := l.h.do(l.r, call{Method: http.MethodGet, Path: path("/v1/apps/", l.app, "/deliveries/", lastD)}, &d)
		switch {
		case e == nil:
			if full, e := take(&d, lastN); e != nil || full {
				return out, more(), e
			}
		case e.Status != http.StatusNotFound:
			return nil, nil, e
		}
	}
	cursor := lastD
	for range maxScanPages {
		pg, e := l.deliveries(listPath, q, cursor, scanPageSize)
		if e != nil {
			return nil, nil, e
		}
		for i := range pg.Data {
			if full, e := take(&pg.Data[i], 0); e != nil || full {
				return out, more(), e
			}
			if l.exhausted() {
				return out, more(), nil
			}
		}
		if pg.NextCursor == nil {
			return out, nil, nil
		}
		cursor = *pg.NextCursor
	}
	return out, more(), nil
}

// scanDeliveries lists deliveries of listPath, limit at a time from
// the iterator (Herald's cursor: the last delivery given), keeping those
// keep accepts. It returns them and the next iterator, nil when done.
func (l *lister) scanDeliveries(listPath string, q url.Values, limit int, cursor string,
	keep func(*hDelivery) (bool, *Error)) ([]*hDelivery, *string, *Error) {
	var out []*hDelivery
	last := cursor
	for range maxScanPages {
		pg, e := l.deliveries(listPath, q, cursor, scanPageSize)
		if e != nil {
			return nil, nil, e
		}
		for i := range pg.Data {
			d := &pg.Data[i]
			ok, e := keep(d)
			if e != nil {
				return nil, nil, e
			}
			if ok {
				if len(out) == limit {
					return out, &last, nil
				}
				out = append(out, d)
			}
			last = d.ID
			if l.exhausted() {
				return out, &last, nil
			}
		}
		if pg.NextCursor == nil {
			return out, nil, nil
		}
		cursor = *pg.NextCursor
	}
	return out, &last, nil
}

func listOf[T any](data []T, next *string) listResponse[T] {
	if data == nil {
		data = []T{}
	}
	return listResponse[T]{Data: data, Iterator: next, Done: next == nil}
}

// resolveEndpoint returns Herald's id of the endpoint ref names (its id
// or uid). A deleted endpoint's id still names its history.
func (l *lister) resolveEndpoint(ref string) (string, *Error) {
	var ep hEndpoint
	_, e := l.h.do(l.r, call{Method: http.MethodGet, Path: path("/v1/apps/", l.app, "/endpoints/", ref)}, &ep)
	if e == nil {
		return ep.ID, nil
	}
	if e.Status == http.StatusNotFound && strings.HasPrefix(ref, "ep_") && !strings.HasPrefix(e.Detail, "app ") {
		return ref, nil
	}
	return "", e
}

// attemptQuery is what both attempt lists read from their query: the
// page, with_content, and the filters (q: those Herald's delivery list
// applies itself).
type attemptQuery struct {
	limit       int
	iterator    string
	withContent bool
	q           url.Values
	f           attemptFilter
}

func readAttemptQuery(r *http.Request) (attemptQuery, *Error) {
	aq := attemptQuery{q: url.Values{}}
	var e *Error
	if aq.limit, aq.iterator, e = pageParams(r); e != nil {
		return aq, e
	}
	if aq.withContent, e = boolQuery(r, "with_content", true); e != nil {
		return aq, e
	}
	aq.f, e = parseAttemptFilter(r, aq.q)
	return aq, e
}

// listAttemptsByEndpoint answers GET
// /api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}: the attempts of
// GET /v1/apps/{app}/endpoints/{id}/deliveries.
func (h *Handler) listAttemptsByEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "limit", "iterator", "status", "status_code_class", "channel", "tag", "before", "after",
		"with_content", "with_msg", "expanded_statuses", "event_types"); e != nil {
		return e
	}
	aq, e := readAttemptQuery(r)
	if e != nil {
		return e
	}
	limit, it, withContent, q, f := aq.limit, aq.iterator, aq.withContent, aq.q, aq.f
	withMsg, e := boolQuery(r, "with_msg", false)
	if e != nil {
		return e
	}
	l := h.lister(r)
	ep, e := l.resolveEndpoint(r.PathValue("endpoint_id"))
	if e != nil {
		return e
	}
	needEvent := f.channel != "" || f.tag != ""
	keepD := func(d *hDelivery) (bool, *Error) {
		if len(f.types) > 0 && !slices.Contains(f.types, d.EventType) {
			return false, nil
		}
		if !needEvent {
			return true, nil
		}
		ev, e := l.event(d.EventID)
		return ev != nil && f.keepEvent(*ev), e
	}
	got, next, e := l.scanAttempts(path("/v1/apps/", l.app, "/endpoints/", ep, "/deliveries"), q, limit, it, keepD, f.keepAttempt)
	if e != nil {
		return e
	}
	out := make([]attemptOut, 0, len(got))
	for _, g := range got {
		a := toAttempt(g.d, g.a, withContent)
		if withMsg {
			ev, e := l.event(g.d.EventID)
			if e != nil {
				return e
			}
			if ev != nil {
				m := toMessage(*ev, false)
				a.Msg = &m
			}
		}
		out = append(out, a)
	}
	writeJSON(w, http.StatusOK, listOf(out, next))
	return nil
}

// listAttemptsByMsg answers GET /api/v1/app/{app_id}/attempt/msg/{msg_id}
// (and the deprecated /msg/{msg_id}/attempt and
// /endpoint/{endpoint_id}/msg/{msg_id}/attempt): the attempts of GET
// /v1/apps/{app}/events/{id}/deliveries.
func (h *Handler) listAttemptsByMsg(w http.ResponseWriter, r *http.Request) *Error {
	params := []string{"limit", "iterator", "status", "status_code_class", "channel", "tag", "before", "after",
		"with_content", "expanded_statuses", "event_types"}
	pathEndpoint := r.PathValue("endpoint_id")
	if pathEndpoint == "" {
		params = append(params, "endpoint_id")
	}
	if e := known(r, params...); e != nil {
		return e
	}
	aq, e := readAttemptQuery(r)
	if e != nil {
		return e
	}
	limit, it, withContent, q, f := aq.limit, aq.iterator, aq.withContent, aq.q, aq.f
	l := h.lister(r)
	ev, e := h.findMessage(r, l.app, r.PathValue("msg_id"))
	if e != nil {
		return e
	}
	if ref := pathEndpoint + r.URL.Query().Get("endpoint_id"); ref != "" {
		if f.endpointID, e = l.resolveEndpoint(ref); e != nil {
			return e
		}
	}
	if !f.keepEvent(ev) {
		writeJSON(w, http.StatusOK, listOf([]attemptOut(nil), nil))
		return nil
	}
	keepD := func(d *hDelivery) (bool, *Error) {
		return f.endpointID == "" || d.EndpointID == f.endpointID, nil
	}
	got, next, e := l.scanAttempts(path("/v1/apps/", l.app, "/events/", ev.ID, "/deliveries"), q, limit, it, keepD, f.keepAttempt)
	if e != nil {
		return e
	}
	out := make([]attemptOut, 0, len(got))
	for _, g := range got {
		out = append(out, toAttempt(g.d, g.a, withContent))
	}
	writeJSON(w, http.StatusOK, listOf(out, next))
	return nil
}

// eventDelivery finds the delivery of an event that keep accepts,
// reading the event's deliveries (include_attempts as given).
func (l *lister) eventDelivery(eventID string, withAttempts bool, keep func(*hDelivery) bool) (*hDelivery, *Error) {
	q := url.Values{"include_attempts": {strconv.FormatBool(withAttempts)}}
	cursor := ""
	for range maxScanPages {
		pg, e := l.deliveries(path("/v1/apps/", l.app, "/events/", eventID, "/deliveries"), q, cursor, 250)
		if e != nil {
			return nil, e
		}
		for i := range pg.Data {
			if keep(&pg.Data[i]) {
				return &pg.Data[i], nil
			}
		}
		if pg.NextCursor == nil {
			break
		}
		cursor = *pg.NextCursor
	}
	return nil, nil
}

// getAttempt answers GET
// /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}: the attempt
// among the event's deliveries.
func (h *Handler) getAttempt(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "expanded_statuses"); e != nil {
		return e
	}
	if _, e := boolQuery(r, "expanded_statuses", true); e != nil {
		return e
	}
	l := h.lister(r)
	ev, e := h.findMessage(r, l.app, r.PathValue("msg_id"))
	if e != nil {
		return e
	}
	id := r.PathValue("attempt_id")
	var hit hAttempt
	d, e := l.eventDelivery(ev.ID, true, func(d *hDelivery) bool {
		for _, a := range d.Attempts {
			if a.ID == id {
				hit = a
				return true
			}
		}
		return false
	})
	if e != nil {
		return e
	}
	if d == nil {
		return notFound("message attempt")
	}
	writeJSON(w, http.StatusOK, toAttempt(d, hit, true))
	return nil
}

// resend answers POST
// /api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend: POST
// /v1/apps/{app}/deliveries/{id}/resend of the event's delivery to the
// endpoint. Herald makes the attempt before answering; Svix's answer,
// 202 with an empty object, is kept.
func (h *Handler) resend(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	l := h.lister(r)
	ev, e := h.findMessage(r, l.app, r.PathValue("msg_id"))
	if e != nil {
		return e
	}
	ep, e := l.resolveEndpoint(r.PathValue("endpoint_id"))
	if e != nil {
		return e
	}
	d, e := l.eventDelivery(ev.ID, false, func(d *hDelivery) bool { return d.EndpointID == ep })
	if e != nil {
		return e
	}
	if d == nil {
		return &Error{Status: http.StatusNotFound, Code: "not_found",
			Detail: fmt.Sprintf("message %s was not sent to endpoint %s", ev.ID, ep)}
	}
	if _, e := h.do(r, call{Method: http.MethodPost, Path: path("/v1/apps/", l.app, "/deliveries/", d.ID, "/resend")}, nil); e != nil {
		return e
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
	return nil
}

// hEndpoint is an endpoint as Herald's API answers it.
type hEndpoint struct {
	ID          string    `json:"id"`
	UID         *string   `json:"uid"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	EventTypes  []string  `json:"event_types"`
	Channels    []string  `json:"channels"`
	Enabled     bool      `json:"enabled"`
	RateLimit   float64   `json:"rate_limit"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// messageEndpointOut is Svix's MessageEndpointOut, with the names of
// both generations (filterTypes and rateLimit of 1.x, eventTypes and
// throttleRate of 2.x).
type messageEndpointOut struct {
	ID           string     `json:"id"`
	Status       int        `json:"status"`
	StatusText   string     `json:"statusText"`
	NextAttempt  *time.Time `json:"nextAttempt"`
	URL          string     `json:"url"`
	Description  string     `json:"description"`
	UID          *string    `json:"uid"`
	Disabled     bool       `json:"disabled"`
	EventTypes   []string   `json:"eventTypes"`
	FilterTypes  []string   `json:"filterTypes"`
	Channels     []string   `json:"channels"`
	ThrottleRate *int       `json:"throttleRate"`
	RateLimit    *int       `json:"rateLimit"`
	Version      int        `json:"version"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`
}

// listAttemptedDestinations answers GET
// /api/v1/app/{app_id}/msg/{msg_id}/endpoint: one item per delivery of
// the event, the endpoint's fields and the delivery's status. Deliveries
// to deleted endpoints are left out.
func (h *Handler) listAttemptedDestinations(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "limit", "iterator"); e != nil {
		return e
	}
	limit, it, e := pageParams(r)
	if e != nil {
		return e
	}
	l := h.lister(r)
	ev, e := h.findMessage(r, l.app, r.PathValue("msg_id"))
	if e != nil {
		return e
	}
	q := url.Values{"include_attempts": {"false"}}
	got, next, e := l.scanDeliveries(path("/v1/apps/", l.app, "/events/", ev.ID, "/deliveries"), q, limit, it,
		func(d *hDelivery) (bool, *Error) {
			ep, e := l.endpoint(d.EndpointID)
			return ep != nil, e
		})
	if e != nil {
		return e
	}
	out := make([]messageEndpointOut, 0, len(got))
	for _, d := range got {
		ep := l.eps[d.EndpointID]
		st := deliveryStatus(d.Status)
		m := messageEndpointOut{ID: ep.ID, Status: st, StatusText: statusTexts[st], NextAttempt: d.NextAttemptAt,
			URL: ep.URL, Description: ep.Description, UID: ep.UID, Disabled: !ep.Enabled,
			EventTypes: nilIfEmpty(ep.EventTypes), FilterTypes: nilIfEmpty(ep.EventTypes), Channels: nilIfEmpty(ep.Channels),
			Version: 1, CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt}
		if ep.RateLimit > 0 {
			n := int(math.Ceil(ep.RateLimit))
			m.ThrottleRate, m.RateLimit = &n, &n
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, listOf(out, next))
	return nil
}

// endpointMessageOut is Svix's EndpointMessageOut.
type endpointMessageOut struct {
	messageOut
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	NextAttempt *time.Time `json:"nextAttempt"`
}

// listAttemptedMessages answers GET
// /api/v1/app/{app_id}/endpoint/{endpoint_id}/msg: one item per delivery
// of the endpoint (GET /v1/apps/{app}/endpoints/{id}/deliveries), the
// event's fields and the delivery's status.
func (h *Handler) listAttemptedMessages(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "limit", "iterator", "channel", "tag", "status", "before", "after", "with_content",
		"expanded_statuses", "event_types"); e != nil {
		return e
	}
	limit, it, e := pageParams(r)
	if e != nil {
		return e
	}
	withContent, e := boolQuery(r, "with_content", true)
	if e != nil {
		return e
	}
	q := url.Values{"include_attempts": {"false"}}
	f, e := parseAttemptFilter(r, q)
	if e != nil {
		return e
	}
	if f.status != nil {
		s, ok := heraldStatus[*f.status]
		if !ok {
			// Herald does not tell a delivery in flight (3) from
			// one waiting: none match.
			writeJSON(w, http.StatusOK, listOf([]endpointMessageOut(nil), nil))
			return nil
		}
		q.Set("status", s)
	}
	l := h.lister(r)
	ep, e := l.resolveEndpoint(r.PathValue("endpoint_id"))
	if e != nil {
		return e
	}
	got, next, e := l.scanDeliveries(path("/v1/apps/", l.app, "/endpoints/", ep, "/deliveries"), q, limit, it,
		func(d *hDelivery) (bool, *Error) {
			if len(f.types) > 0 && !slices.Contains(f.types, d.EventType) {
				return false, nil
			}
			ev, e := l.event(d.EventID)
			return ev != nil && f.keepEvent(*ev), e
		})
	if e != nil {
		return e
	}
	out := make([]endpointMessageOut, 0, len(got))
	for _, d := range got {
		st := deliveryStatus(d.Status)
		out = append(out, endpointMessageOut{messageOut: toMessage(*l.events[d.EventID], withContent),
			Status: st, StatusText: statusTexts[st], NextAttempt: d.NextAttemptAt})
	}
	writeJSON(w, http.StatusOK, listOf(out, next))
	return nil
}
