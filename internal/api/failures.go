package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/store"
)

const (
	// failuresWindow is the default window of a failures report and the
	// window of an app's health: what is failing now, not last month.
	failuresWindow = 24 * time.Hour
	// maxFailuresWindow bounds ?since= of a failures report.
	maxFailuresWindow = 31 * 24 * time.Hour
	// maxLookupID bounds what the lookup route reads: the longest of
	// Herald's ids, uids and idempotency keys fits well under it.
	maxLookupID = 512
)

var failureParams = []string{"since", "limit"}

// listAppFailures answers GET /v1/apps/{app}/failures.
func (s *Server) listAppFailures(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	return s.failures(w, r, a.ID)
}

// listAllFailures answers GET /v1/failures (admin): every app's.
func (s *Server) listAllFailures(w http.ResponseWriter, r *http.Request) *Error {
	return s.failures(w, r, "")
}

// failures answers a failures report of appID (every app when empty):
// the failing deliveries of ?since= (default the last 24 hours) grouped by
// endpoint and cause, at most ?limit= groups.
func (s *Server) failures(w http.ResponseWriter, r *http.Request, appID string) *Error {
	now := s.o.Now().UTC()
	p := store.FailuresParams{AppID: appID, Since: now.Add(-failuresWindow), MaxGroups: 50}
	q := r.URL.Query()
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return errQuery("since", "since must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		if t.Before(now.Add(-maxFailuresWindow)) {
			return errQuery("since", "since may be at most 31 days ago: a failures report is about what fails now")
		}
		p.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.FailuresMaxGroups {
			return errQuery("limit", "limit must be a whole number of groups from 1 to %d", store.FailuresMaxGroups)
		}
		p.MaxGroups = n
	}
	rep, err := s.st.Failures(r.Context(), p)
	if err != nil {
		return storeError(err, "failures")
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// appHealth answers GET /v1/apps/{app}/health: the app at a glance, over
// the last 24 hours.
func (s *Server) appHealth(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	h, err := s.st.AppHealth(r.Context(), a.ID, s.o.Now().UTC().Add(-failuresWindow))
	if err != nil {
		return storeError(err, "app health")
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// lookup answers GET /v1/lookup/{id}: what any id names, so that a
// search box can go straight to its page. An admin finds things of every
// app; an app key or portal session of its own app only, and 404 for the
// rest, as if they did not exist. Idempotency keys belong to an app:
// they are found within the caller's app, or the one ?app= names.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *Error {
	id := r.PathValue("id")
	if id == "" || len(id) > maxLookupID || !utf8.ValidString(id) {
		return errQuery("id", "id must be 1 to %d bytes of text", maxLookupID)
	}
	p := principalOf(r)
	scope := p.appID
	if ref := r.URL.Query().Get("app"); ref != "" {
		a, err := s.st.AppGet(r.Context(), ref)
		if errors.Is(err, store.ErrNotFound) || err == nil && scope != "" && a.ID != scope {
			return errQuery("app", "app %q not found", ref)
		}
		if err != nil {
			return storeError(err, "app")
		}
		scope = a.ID
	}
	notFound := &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "nothing found for " + strconv.Quote(id)}
	if a, err := s.st.AppGet(r.Context(), id); err == nil {
		if p.appID == "" || a.ID == p.appID {
			writeJSON(w, http.StatusOK, store.Located{Kind: store.KindApp, AppID: a.ID, ID: a.ID})
			return nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return storeError(err, "app")
	}
	l, err := s.st.Locate(r.Context(), scope, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && p.appID != "" && l.AppID != p.appID {
		return notFound
	}
	if err != nil {
		return storeError(err, "id")
	}
	if p.portal {
		var v any
		switch l.Kind {
		case store.KindEndpoint:
			v, err = s.st.EndpointGet(r.Context(), l.AppID, l.ID)
		case store.KindEvent:
			v, err = s.st.EventGet(r.Context(), l.AppID, l.ID)
		case store.KindDelivery:
			v, err = s.st.DeliveryGet(r.Context(), l.AppID, l.ID)
		case store.KindAttempt:
			v, err = s.st.DeliveryGet(r.Context(), l.AppID, l.DeliveryID)
		}
		if err != nil {
			return storeError(err, "id")
		}
		if hiddenFromPortal(r, v) {
			return notFound
		}
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}
