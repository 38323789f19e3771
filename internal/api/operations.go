package api

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/store"
)

// maxSendEvents caps one manual send of chosen events.
const maxSendEvents = 1000

type testInput struct {
	EventType *string         `json:"event_type"`
	Payload   json.RawMessage `json:"payload"`
}

// testEndpoint sends one request now: POST .../endpoints/{id}/test.
func (s *Server) testEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	if ep.IsPull() {
		return errPullEndpoint("a test send")
	}
	var in testInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.EventType == nil {
		return errRequired("event_type")
	}
	if e := validateEventTypeName("event_type", *in.EventType); e != nil {
		return e
	}
	payload, e := s.payloadOrSample(r, *in.EventType, in.Payload)
	if e != nil {
		return e
	}
	d, err := s.eng.TestSend(r.Context(), ep, &herald.Event{EventType: *in.EventType, Payload: payload})
	if err != nil {
		if e := manualBusy(w, err); e != nil {
			return e
		}
		if errors.Is(err, delivery.ErrAborted) || errors.Is(err, delivery.ErrStopped) {
			return retryLater(err.Error())
		}
		if errors.Is(err, store.ErrUnavailable) {
			return unavailable(err, "the test send was made but may not have been recorded")
		}
		return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "the test send could not be recorded"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"delivery": d, "attempt": d.Attempts[0]})
	return nil
}

// errPullEndpoint refuses a request to a pull endpoint that Herald would
// have to dial.
func errPullEndpoint(what string) *Error {
	return &Error{Status: http.StatusConflict, Code: CodePullEndpoint,
		Message: what + " dials the endpoint, and Herald never dials a pull endpoint; " +
			"POST .../endpoints/{id}/send or .../recover makes deliveries due for its client to pull"}
}

// resendPulled answers a resend of a pull endpoint's delivery: it is due
// again for the endpoint's client, 202 with the delivery (no attempt:
// nothing was sent).
func (s *Server) resendPulled(w http.ResponseWriter, r *http.Request, a *herald.App, j *store.Job) *Error {
	err := s.eng.ResendPulled(r.Context(), j)
	if qe, ok := asQuotaError(err); ok {
		return s.quotaExceeded(w, qe)
	}
	if err != nil {
		return storeError(err, "delivery (or its endpoint)")
	}
	d, err := s.st.DeliveryGet(r.Context(), a.ID, j.Delivery.ID)
	if err != nil {
		return storeError(err, "delivery")
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"delivery": d})
	return nil
}

// manualBusy answers 429 too_many_requests when err says the app has as
// many test sends (or resends) going as it may; nil otherwise. A slot
// frees when a request ends, within the endpoint's timeout: a second is
// a fair first wait.
func manualBusy(w http.ResponseWriter, err error) *Error {
	var be *delivery.BusyError
	if !errors.As(err, &be) {
		return nil
	}
	setRetryAfter(w, time.Second)
	return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Message: be.Error()}
}

// payloadOrSample returns the given payload, compacted, or the event
// type's sample, or {} for a type without one (or not in the catalog):
// a test send checks the endpoint, which any JSON object does.
func (s *Server) payloadOrSample(r *http.Request, eventType string, payload json.RawMessage) (herald.RawJSON, *Error) {
	if len(payload) == 0 || string(payload) == "null" {
		et, err := s.st.EventTypeGet(r.Context(), eventType)
		if errors.Is(err, store.ErrUnavailable) {
			return nil, unavailable(err, "the event type's sample could not be read")
		}
		if err != nil || len(et.Sample) == 0 {
			return herald.RawJSON(`{}`), nil
		}
		return et.Sample, nil
	}
	return compactJSON(payload), nil
}

// deliveryAction reads what an action on one delivery (resend, skip)
// takes: its app, its job, and an empty or absent body.
func (s *Server) deliveryAction(w http.ResponseWriter, r *http.Request) (*herald.App, *store.Job, *Error) {
	a, e := s.app(r)
	if e != nil {
		return nil, nil, e
	}
	var in struct{}
	if r.ContentLength != 0 {
		if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
			return nil, nil, e
		}
	}
	j, err := s.st.DeliveryJob(r.Context(), a.ID, r.PathValue("id"))
	if err != nil {
		return nil, nil, storeError(err, "delivery (or its endpoint)")
	}
	if hiddenFromPortal(r, j) {
		return nil, nil, errNotFound("delivery (or its endpoint)")
	}
	return a, j, nil
}

// resendDelivery sends a delivery again now: POST .../deliveries/{id}/resend.
// It counts toward the app's monthly delivery quota.
func (s *Server) resendDelivery(w http.ResponseWriter, r *http.Request) *Error {
	a, j, e := s.deliveryAction(w, r)
	if e != nil {
		return e
	}
	if j.Event.PayloadGone(s.o.Now()) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict,
			Message: "the event's payload expired (payload_retention_hours) and was removed: there is nothing left to resend"}
	}
	if !j.Delivery.Test {
		if e := s.checkQuota(w, r, a); e != nil {
			return e
		}
	}
	if j.Endpoint.IsPull() {
		return s.resendPulled(w, r, a, j)
	}
	at, err := s.eng.Resend(r.Context(), j)
	if qe, ok := asQuotaError(err); ok {
		return s.quotaExceeded(w, qe)
	}
	if e := manualBusy(w, err); e != nil {
		return e
	}
	if errors.Is(err, store.ErrUnavailable) {
		return unavailable(err, "the resend was made but may not have been recorded")
	}
	if err != nil {
		return retryLater(err.Error())
	}
	d, err := s.st.DeliveryGet(r.Context(), a.ID, j.Delivery.ID)
	if err != nil {
		return storeError(err, "delivery")
	}
	writeJSON(w, http.StatusOK, map[string]any{"delivery": d, "attempt": at})
	return nil
}

type recoverInput struct {
	Since      *string `json:"since"`
	Until      *string `json:"until"`
	Status     *string `json:"status"`
	StatusCode *string `json:"status_code"`
	ErrorKind  *string `json:"error_kind"`
}

// recoverEndpoint requeues an endpoint's deliveries in a background job:
// POST .../endpoints/{id}/recover. Each delivery requeued counts toward
// the app's monthly delivery quota; an app out of quota is refused at
// once, and a job that runs out of it stops (see delivery.Engine.Recover).
func (s *Server) recoverEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	ep, a, e := s.endpointOfApp(r)
	if e != nil {
		return e
	}
	var in recoverInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Since == nil {
		return errRequired("since")
	}
	since, err := time.Parse(time.RFC3339Nano, *in.Since)
	if err != nil {
		return errInvalid("since", "since must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	now := s.o.Now().UTC()
	p := delivery.RecoverParams{AppID: ep.AppID, EndpointID: ep.ID, Since: since, Status: herald.StatusFailed}
	if in.Until != nil {
		until, err := time.Parse(time.RFC3339Nano, *in.Until)
		if err != nil {
			return errInvalid("until", "until must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		if !until.After(since) {
			return errInvalid("until", "until must be after since")
		}
		p.Until = until
	}
	if in.Status != nil {
		st := herald.DeliveryStatus(*in.Status)
		if st != herald.StatusFailed && st != herald.StatusSucceeded {
			return errInvalid("status", "status must be failed (the default) or succeeded")
		}
		p.Status = st
	}
	if in.StatusCode != nil {
		lo, hi, ok := statusCodeRange(*in.StatusCode)
		if !ok {
			return errInvalid("status_code", "status_code must be a status such as 422, or a class such as 5xx")
		}
		p.LastStatusMin, p.LastStatusMax = lo, hi
	}
	if in.ErrorKind != nil {
		if !slices.Contains(herald.ErrorKinds, herald.ErrorKind(*in.ErrorKind)) {
			return errInvalid("error_kind", "error_kind must be one of %s", errorKindList())
		}
		p.LastErrorKind = herald.ErrorKind(*in.ErrorKind)
	}
	if e := s.checkQuota(w, r, a); e != nil {
		return e
	}
	job := &herald.BulkJob{ID: herald.NewID("job_"), AppID: ep.AppID, Kind: "recover", State: herald.JobRunning, CreatedAt: now, UpdatedAt: now}
	if err := s.st.BulkJobCreate(r.Context(), job); err != nil {
		return storeError(err, "job")
	}
	view := *job
	s.eng.Recover(r.Context(), job, p)
	writeJSON(w, http.StatusAccepted, view)
	return nil
}

// sendEvents pushes chosen past events to one endpoint now:
// POST .../endpoints/{id}/send. The events are named by Herald's ids
// (event_ids) or by the product's own keys (where: a payload field or
// the idempotency key). The deliveries count toward the app's monthly
// delivery quota: all are created, or none. A dry run answers what
// would be sent and sends nothing.
func (s *Server) sendEvents(w http.ResponseWriter, r *http.Request) *Error {
	ep, a, e := s.endpointOfApp(r)
	if e != nil {
		return e
	}
	var in sendInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	var evs []*herald.Event
	if in.Where != nil {
		if in.EventIDs != nil {
			return errInvalid("where", "give event_ids or where, not both")
		}
		p, e := in.findParams(ep.AppID, s.o.Now().UTC())
		if e != nil {
			return e
		}
		// The search ends by its own deadline, before --store-timeout's:
		// a costly search is the caller's to narrow, not a sign that the
		// store is down (which the store's guard would conclude).
		ctx, cancel := r.Context(), context.CancelFunc(func() {})
		if t := s.o.StoreTimeout; t > 0 {
			ctx, cancel = context.WithTimeout(ctx, t*3/4)
		}
		found, err := s.st.EventFind(ctx, p)
		cancel()
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Context().Err() == nil {
			return errInvalid("where", "the search took too long; narrow it with since, or look for fewer values")
		}
		if err != nil {
			return storeError(err, "event")
		}
		for _, ev := range found {
			if !hiddenFromPortal(r, ev) {
				evs = append(evs, ev)
			}
		}
	} else {
		if in.Limit != nil || in.Since != nil {
			field := "limit"
			if in.Since != nil {
				field = "since"
			}
			return errInvalid(field, "%s goes with where; event_ids lists the very events to send", field)
		}
		if len(in.EventIDs) == 0 {
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeRequired, Field: "event_ids",
				Message: "event_ids is required (or where, to pick events by a payload field or idempotency key)"}
		}
		if len(in.EventIDs) > maxSendEvents {
			return errInvalid("event_ids", "event_ids may list at most %d events at once", maxSendEvents)
		}
		seen := map[string]bool{}
		for _, id := range in.EventIDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			ev, err := s.st.EventGet(r.Context(), ep.AppID, id)
			if errors.Is(err, store.ErrNotFound) || err == nil && hiddenFromPortal(r, ev) {
				return errInvalid("event_ids", "event %s is not an event of this app", id)
			}
			if err != nil {
				return storeError(err, "event")
			}
			evs = append(evs, ev)
		}
	}
	if in.DryRun {
		ids := make([]string, len(evs))
		for i, ev := range evs {
			ids[i] = ev.ID
		}
		writeJSON(w, http.StatusOK, map[string]any{"dry_run": true, "count": len(ids), "event_ids": ids})
		return nil
	}
	if len(evs) == 0 {
		writeJSON(w, http.StatusAccepted, map[string]any{"data": []*herald.Delivery{}})
		return nil
	}
	if e := s.checkQuota(w, r, a); e != nil {
		return e
	}
	ds, err := s.eng.SendEvents(r.Context(), ep, evs)
	if qe, ok := asQuotaError(err); ok {
		return s.quotaExceeded(w, qe)
	}
	if err != nil {
		return storeError(err, "delivery")
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"data": ds})
	return nil
}

// endpointStats answers GET .../endpoints/{id}/stats.
func (s *Server) endpointStats(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	if e := s.checkPortalEndpoint(r, a.ID); e != nil {
		return e
	}
	st, err := s.st.EndpointStats(r.Context(), a.ID, r.PathValue("id"), s.o.Now().UTC())
	if err != nil {
		return storeError(err, "endpoint")
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// maxBulkResend bounds one bulk resend: a larger filtered list is
// refused, naming its count, so one click cannot requeue an app's whole
// history.
const maxBulkResend = 10_000

// bulkResendInput holds the filters of a delivery list, as the list
// takes them in its query, plus the event of an event's list.
type bulkResendInput struct {
	Status       *string  `json:"status"`
	Failure      *string  `json:"failure"`
	EventType    *string  `json:"event_type"`
	EndpointID   *string  `json:"endpoint_id"`
	EventID      *string  `json:"event_id"`
	StatusCode   *string  `json:"status_code"`
	ErrorKind    *string  `json:"error_kind"`
	Since        *string  `json:"since"`
	Until        *string  `json:"until"`
	MinLatencyMS *float64 `json:"min_latency_ms"`
	Channel      *string  `json:"channel"`
}

// query renders the filters as a delivery list's query, so that the
// resend reads them with the very code the list does.
func (in *bulkResendInput) query() url.Values {
	q := url.Values{}
	for name, v := range map[string]*string{"status": in.Status, "failure": in.Failure, "event_type": in.EventType, "endpoint_id": in.EndpointID,
		"status_code": in.StatusCode, "error_kind": in.ErrorKind, "since": in.Since, "until": in.Until, "channel": in.Channel} {
		if v != nil && *v != "" {
			q.Set(name, *v)
		}
	}
	if in.MinLatencyMS != nil {
		q.Set("min_latency_ms", strconv.FormatFloat(*in.MinLatencyMS, 'f', -1, 64))
	}
	return q
}

// resendDeliveries resends, in a background job, every delivery of the
// app that a filtered list shows: POST /v1/apps/{app}/deliveries/resend.
// The deliveries are chosen when the call is made (at most
// maxBulkResend), and each counts toward the app's monthly delivery
// quota as a resend does.
func (s *Server) resendDeliveries(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	var in bulkResendInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	lp := store.DeliveryListParams{AppID: a.ID}
	if in.EventID != nil && *in.EventID != "" {
		ev, err := s.st.EventGet(r.Context(), a.ID, *in.EventID)
		if errors.Is(err, store.ErrNotFound) || err == nil && hiddenFromPortal(r, ev) {
			return errInvalid("event_id", "event %s is not an event of this app", *in.EventID)
		}
		if err != nil {
			return storeError(err, "event")
		}
		lp.EventID = ev.ID
	}
	fr := r.Clone(r.Context())
	fr.URL.RawQuery = in.query().Encode()
	if e := deliveryFilters(fr, &lp); e != nil {
		e.Status = http.StatusUnprocessableEntity
		return e
	}
	lp.WithAttempts = false
	if lp.EndpointID != "" {
		if e := s.checkPortalEndpointID(r, a.ID, lp.EndpointID); e != nil {
			return e
		}
	}
	var ids []string
	eps := map[string]bool{}
	n := 0
	lp.Limit = store.MaxListLimit
	for {
		page, err := s.st.DeliveryList(r.Context(), lp)
		if err != nil {
			return storeError(err, "delivery")
		}
		for _, d := range page {
			if hiddenFromPortal(r, d) {
				continue
			}
			n++
			if len(ids) < maxBulkResend {
				ids = append(ids, d.ID)
				eps[d.EndpointID] = true
			}
		}
		if len(page) < lp.Limit {
			break
		}
		lp.Cursor = page[len(page)-1].ID
	}
	if n > maxBulkResend {
		return errInvalid("filter", "this filter shows %d deliveries; one resend takes at most %d: narrow the filter (a shorter time range, a status, an endpoint)", n, maxBulkResend)
	}
	if n > 0 {
		if e := s.checkQuota(w, r, a); e != nil {
			return e
		}
	}
	now := s.o.Now().UTC()
	job := &herald.BulkJob{ID: herald.NewID("job_"), AppID: a.ID, Kind: "resend", State: herald.JobRunning, Total: n, CreatedAt: now, UpdatedAt: now}
	if err := s.st.BulkJobCreate(r.Context(), job); err != nil {
		return storeError(err, "job")
	}
	view := *job
	s.eng.ResendAll(r.Context(), job, a.ID, ids, slices.Collect(maps.Keys(eps)))
	writeJSON(w, http.StatusAccepted, view)
	return nil
}
