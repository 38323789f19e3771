package api

import (
	"net/http"

	"github.com/heraldhq/herald"

	"github.com/heraldhq/herald/internal/store"
)

// skipDelivery marks a failed delivery skipped: on an endpoint with
// ordering_on_failure "pause", the later deliveries of its ordering key
// go on. Its status stays failed; 409 when it is not failed.
func (s *Server) skipDelivery(w http.ResponseWriter, r *http.Request) *Error {
	a, j, e := s.deliveryAction(w, r)
	if e != nil {
		return e
	}
	d, err := s.eng.Skip(r.Context(), a.ID, j.Delivery.ID)
	if err != nil {
		return storeError(err, "delivery")
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// endpointOrdering lists the endpoint's ordering keys held by a failed
// delivery, with that delivery: on an endpoint that pauses keys on
// failure, they wait until it is resent or skipped. On an endpoint that
// unblocks keys on failure, none waits: the list is empty.
func (s *Server) endpointOrdering(w http.ResponseWriter, r *http.Request) *Error {
	ep, a, e := s.endpointOfApp(r)
	if e != nil {
		return e
	}
	keys := []store.BlockedKey{}
	if ep.OrderingOnFailure == herald.OrderingPause {
		var err error
		if keys, err = s.st.OrderingBlocked(r.Context(), a.ID, ep.ID, store.MaxListLimit); err != nil {
			return storeError(err, "endpoint")
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ordering_on_failure": orderingOnFailure(ep.OrderingOnFailure),
		"data":                keys,
	})
	return nil
}

// orderingOnFailure names an endpoint's setting, its default spelt out.
func orderingOnFailure(v string) string {
	if v == "" {
		return herald.OrderingUnblock
	}
	return v
}
