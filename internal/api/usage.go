package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// monthBounds returns the start of the calendar month (UTC) holding t and
// the start of the next, when usage resets.
func monthBounds(t time.Time) (start, next time.Time) {
	t = t.UTC()
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// checkQuota refuses a call that would create deliveries (an event, a
// send, a recovery, a resend) once the app has used its monthly delivery
// quota. It is a cheap early refusal: the count is read at most once a
// second per app. The authority is the store, which checks and counts in
// the transaction that writes the deliveries (quotaExceeded answers its
// refusals).
func (s *Server) checkQuota(w http.ResponseWriter, r *http.Request, a *herald.App) *Error {
	if a.MonthlyDeliveryQuota <= 0 {
		return nil
	}
	now := s.o.Now().UTC()
	used, ok := s.usage.Get(a.ID)
	if !ok {
		n, err := s.st.UsageGet(r.Context(), a.ID, now)
		if err != nil {
			return storeError(err, "usage")
		}
		used = n
		s.usage.Put(a.ID, n)
	}
	if used < a.MonthlyDeliveryQuota {
		return nil
	}
	return s.quotaExceeded(w, &store.QuotaError{AppID: a.ID, Month: store.UsageMonth(now), Quota: a.MonthlyDeliveryQuota, Used: used, Want: 1})
}

// quotaExceeded answers a call refused for the app's monthly delivery
// quota: 429, with Retry-After until the month ends.
func (s *Server) quotaExceeded(w http.ResponseWriter, qe *store.QuotaError) *Error {
	now := s.o.Now().UTC()
	_, next := monthBounds(now)
	// The next calls of this app get the early refusal.
	s.usage.Put(qe.AppID, qe.Used)
	w.Header().Set("Retry-After", strconv.Itoa(int(next.Sub(now).Seconds())+1))
	msg := fmt.Sprintf("the app has used its monthly delivery quota of %d deliveries (%d used); it resets at %s",
		qe.Quota, qe.Used, next.Format(time.RFC3339))
	if left := qe.Remaining(); left > 0 {
		msg = fmt.Sprintf("this would use %d deliveries and the app has %d left of its monthly delivery quota of %d (%d used); it resets at %s",
			qe.Want, left, qe.Quota, qe.Used, next.Format(time.RFC3339))
	}
	return &Error{Status: http.StatusTooManyRequests, Code: CodeQuotaExceeded, Message: msg}
}

// asQuotaError returns err's *store.QuotaError, if it is one.
func asQuotaError(err error) (*store.QuotaError, bool) {
	var qe *store.QuotaError
	ok := errors.As(err, &qe)
	return qe, ok
}

// getUsage answers GET /v1/apps/{app}/usage.
func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	now := s.o.Now().UTC()
	n, err := s.st.UsageGet(r.Context(), a.ID, now)
	if err != nil {
		return storeError(err, "usage")
	}
	start, next := monthBounds(now)
	var quota *int64
	if a.MonthlyDeliveryQuota > 0 {
		quota = &a.MonthlyDeliveryQuota
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"month": start.Format("2006-01"), "deliveries": n, "quota": quota, "resets_at": next,
	})
	return nil
}

// readyz answers whether this node can serve: the store answers within
// a second and commits a small write (and its migrations ran, which Open
// does before anything is served). Anyone may ask, so the answer says
// only ready or not and which way the store fails; the store's error,
// which can name hosts, users and files, is logged by the store's guard
// when its state changes.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var err error
	if s.o.Ready != nil {
		err = s.o.Ready(r.Context())
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		_, err = s.st.AppList(ctx, storeListOne)
		cancel()
	}
	if err != nil {
		s.log.Debug("not ready", "error", err.Error())
		why := "unreachable"
		switch {
		case errors.Is(err, store.ErrFull):
			why = "full"
		case errors.Is(err, store.ErrNotWritable):
			why = "not_writable"
		}
		w.Header().Set("Retry-After", strconv.Itoa(retryUnavailable))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "store": why})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
