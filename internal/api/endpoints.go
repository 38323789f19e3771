package api

import (
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/internal/store"
)

type endpointInput struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	EventTypes  *[]string `json:"event_types"`
	Enabled     *bool     `json:"enabled"`
	Secret      *string   `json:"secret"`
	TimeoutMS   *int      `json:"timeout_ms"`
}

// applyTo validates and copies the given fields onto ep.
func (in *endpointInput) applyTo(ep *herald.Endpoint) *Error {
	if in.URL != nil {
		if err := ValidateURL(*in.URL); err != nil {
			return errInvalid("url", "%s", err.Error())
		}
		ep.URL = *in.URL
	}
	if in.Description != nil {
		if e := validateDescription(*in.Description); e != nil {
			return e
		}
		ep.Description = *in.Description
	}
	if in.EventTypes != nil {
		types := *in.EventTypes
		if len(types) > maxEventTypes {
			return errInvalid("event_types", "event_types may list at most %d names", maxEventTypes)
		}
		seen := make(map[string]bool, len(types))
		out := make([]string, 0, len(types))
		for _, t := range types {
			if e := validateEventTypeName("event_types", t); e != nil {
				return e
			}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		ep.EventTypes = out
	}
	if in.Enabled != nil {
		ep.Enabled = *in.Enabled
	}
	if in.Secret != nil {
		if _, err := signing.ParseSecret(*in.Secret); err != nil {
			return errInvalid("secret", "%s", err.Error())
		}
		ep.Secret = *in.Secret
	}
	if in.TimeoutMS != nil {
		if *in.TimeoutMS < 1 || *in.TimeoutMS > maxTimeoutMS {
			return errInvalid("timeout_ms", "timeout_ms must be from 1 to %d", maxTimeoutMS)
		}
		ep.TimeoutMS = *in.TimeoutMS
	}
	return nil
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	var in endpointInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.URL == nil {
		return errRequired("url")
	}
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: a.ID, Enabled: true, EventTypes: []string{}}
	if e := in.applyTo(ep); e != nil {
		return e
	}
	if ep.Secret == "" {
		secret, err := signing.GenerateSecret()
		if err != nil {
			return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "could not generate a secret"}
		}
		ep.Secret = secret
	}
	ep.CreatedAt = s.o.Now().UTC()
	ep.UpdatedAt = ep.CreatedAt
	if err := s.st.EndpointCreate(r.Context(), ep); err != nil {
		return storeError(err, "app")
	}
	writeJSON(w, http.StatusCreated, ep)
	return nil
}

func (s *Server) endpoint(r *http.Request) (*herald.Endpoint, *Error) {
	a, e := s.app(r)
	if e != nil {
		return nil, e
	}
	ep, err := s.st.EndpointGet(r.Context(), a.ID, r.PathValue("id"))
	if err != nil {
		return nil, storeError(err, "endpoint")
	}
	return ep, nil
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, ep)
	return nil
}

func (s *Server) getEndpointSecret(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": ep.Secret})
	return nil
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	p, e := listParams(r)
	if e != nil {
		return e
	}
	pg, err := fetchPage(p, func(p store.ListParams) ([]*herald.Endpoint, error) { return s.st.EndpointList(r.Context(), a.ID, p) },
		func(ep *herald.Endpoint) string { return ep.ID })
	if err != nil {
		return storeError(err, "endpoint")
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	var in endpointInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if e := in.applyTo(ep); e != nil {
		return e
	}
	ep.UpdatedAt = s.o.Now().UTC()
	if err := s.st.EndpointUpdate(r.Context(), ep); err != nil {
		return storeError(err, "endpoint")
	}
	s.eng.EndpointChanged(ep)
	writeJSON(w, http.StatusOK, ep)
	return nil
}

func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	now := s.o.Now().UTC()
	if err := s.st.EndpointDelete(r.Context(), ep.AppID, ep.ID, now); err != nil {
		return storeError(err, "endpoint")
	}
	// Deliveries queued in memory are dropped like those of a disabled
	// endpoint; the store has already marked them failed.
	gone := *ep
	gone.Enabled = false
	gone.UpdatedAt = now
	s.eng.EndpointChanged(&gone)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
