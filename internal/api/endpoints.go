package api

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/store"
)

// endpointView is an endpoint as the API shows it: credentials in headers
// and preset options masked, and the request it sends with its preset and
// defaults applied.
type endpointView struct {
	*herald.Endpoint
	Effective *shape.Effective `json:"effective,omitempty"`
	// EffectiveDelivery: the retry schedule, timeout and in-flight cap in
	// force, from the endpoint, its app or the installation, held to the
	// operator's ceilings.
	EffectiveDelivery herald.DeliverySettings `json:"effective_delivery"`
	// UID is null when the endpoint has none, as an app's is.
	UID *string `json:"uid"`
	// DestinationSummary is a broker endpoint's destination in one line,
	// credentials masked, in the words of its attempts' request line
	// (outbound.Describe), so that clients need not build it themselves.
	DestinationSummary string `json:"destination_summary,omitempty"`
}

func (s *Server) viewEndpoint(ep *herald.Endpoint, app *herald.App) endpointView {
	v := viewEndpoint(ep)
	v.EffectiveDelivery = herald.EffectiveDelivery(ep, app, s.o.Defaults, s.o.Ceilings)
	if sc := v.EffectiveDelivery.RetrySchedule; sc != s.o.Defaults.RetrySchedule {
		v.EffectiveDelivery.RetrySchedule = heldSchedule(sc, s.o.Ceilings)
	}
	return v
}

// heldSchedule is a tenant's retry schedule as the engine uses it: as
// saved, unless it was saved before a ceiling was lowered.
func heldSchedule(schedule string, c herald.TenantCeilings) string {
	waits, err := delivery.ParseSchedule(schedule)
	if err != nil {
		return schedule
	}
	held := c.Schedule(waits)
	if slices.Equal(held, waits) {
		return schedule
	}
	parts := make([]string, len(held))
	for i, d := range held {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

func viewEndpoint(ep *herald.Endpoint) endpointView {
	v := *ep
	v.PreviousSecret = ""
	if v.TLSClientKey != "" {
		v.TLSClientKey = "********"
	}
	if ep.Auth != nil {
		a := *ep.Auth
		for _, p := range []*string{&a.Password, &a.Token, &a.ClientSecret} {
			if *p != "" {
				*p = "********"
			}
		}
		v.Auth = &a
	}
	v.Headers = herald.MaskHeaders(ep.Headers, ep.PlainHeaders)
	v.Destination = ep.Destination.Masked()
	if v.PlainHeaders == nil {
		v.PlainHeaders = []string{}
	}
	v.PresetOptions = map[string]string{}
	for k, val := range ep.PresetOptions {
		if herald.SecretOption(k) {
			val = herald.Mask(val)
		}
		v.PresetOptions[k] = val
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	if v.Channels == nil {
		v.Channels = []string{}
	}
	if v.Stage == "" {
		v.Stage = herald.StageLive
	}
	out := endpointView{Endpoint: &v, DestinationSummary: destinationSummary(ep.Kind, v.Destination)}
	if ep.UID != "" {
		uid := ep.UID
		out.UID = &uid
	}
	if c, err := shape.Compile(ep, shape.Options{}); err == nil {
		eff := c.Effective
		eff.Headers = herald.MaskHeaders(eff.Headers, ep.PlainHeaders)
		out.Effective = &eff
	}
	return out
}

// destinationSummary is a broker endpoint's destination d, already
// masked, in one line; empty for other kinds.
func destinationSummary(kind string, d *herald.Destination) string {
	if !herald.IsBrokerKind(kind) {
		return ""
	}
	return outbound.Describe(kind, d)
}

func (s *Server) endpoint(r *http.Request) (*herald.Endpoint, *Error) {
	ep, _, e := s.endpointOfApp(r)
	return ep, e
}

// endpointOfApp resolves {app} and {id}.
func (s *Server) endpointOfApp(r *http.Request) (*herald.Endpoint, *herald.App, *Error) {
	a, e := s.app(r)
	if e != nil {
		return nil, nil, e
	}
	ep, err := s.st.EndpointGet(r.Context(), a.ID, r.PathValue("id"))
	if err != nil {
		return nil, nil, storeError(err, "endpoint")
	}
	if hiddenFromPortal(r, ep) {
		return nil, nil, errNotFound("endpoint")
	}
	return ep, a, nil
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	in, e := readEndpointInput(w, r, s.o.MaxBodyBytes)
	if e != nil {
		return e
	}
	if in.Secret != nil {
		if e := secretsRefused(r, "set a signing secret"); e != nil {
			return e
		}
	}
	enabled := !s.o.NewEndpointsDisabled
	if a.NewEndpointsEnabled != nil {
		enabled = *a.NewEndpointsEnabled
	}
	// An explicit "enabled" in the input still wins (applyTo).
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: a.ID, Enabled: enabled, EventTypes: []string{}}
	if e := s.resolveTemplate(r, a, ep, &in); e != nil {
		return e
	}
	if e := in.applyTo(ep, a, s.o.Ceilings, s.brokerKind); e != nil {
		return e
	}
	if e := s.checkSubscribed(r, ep.EventTypes, nil); e != nil {
		return e
	}
	if e := s.checkPins(r, ep); e != nil {
		return e
	}
	all := s.appEndpoints(r, a.ID)
	if e := s.checkUIDFree(ep, all); e != nil {
		return e
	}
	if e := s.checkLimit(r, a, ep, all); e != nil {
		return e
	}
	if e := s.checkDestinations(ep, a); e != nil {
		return e
	}
	if max := s.o.MaxEndpointsPerApp; max > 0 {
		eps, err := all.get()
		if err != nil {
			return storeError(err, "endpoint")
		}
		if n := len(eps); n >= max {
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeLimitExceeded,
				Message: fmt.Sprintf("the app already has %d endpoints, the most this installation allows (--max-endpoints-per-app)", n)}
		}
	}
	if ep.Secret == "" {
		secret, err := newSecret(scheme(ep))
		if err != nil {
			return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "could not generate a secret"}
		}
		ep.Secret = secret
	}
	ep.CreatedAt = s.o.Now().UTC()
	ep.UpdatedAt = ep.CreatedAt
	// With its final version, so that what the trial compiles is cached
	// for the deliveries to come.
	if e := s.checkRenderSize(r, ep, a); e != nil {
		return e
	}
	if err := s.st.EndpointCreate(r.Context(), ep); err != nil {
		return uidTaken(storeError(err, "app"), ep)
	}
	s.keysChanged()
	s.auditEndpoint(r, ep, "endpoint.create", in)
	s.announceEndpoint(r, delivery.EventEndpointCreated, ep, &in)
	writeJSON(w, http.StatusCreated, s.viewEndpoint(ep, a))
	return nil
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	ep, a, e := s.endpointOfApp(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.viewEndpoint(ep, a))
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
	pg, err := fetchVisiblePage(p, func(p store.ListParams) ([]*herald.Endpoint, error) { return s.st.EndpointList(r.Context(), a.ID, p) },
		func(ep *herald.Endpoint) string { return ep.ID }, visibleTo[*herald.Endpoint](r))
	if err != nil {
		return storeError(err, "endpoint")
	}
	out := page[endpointView]{Data: make([]endpointView, len(pg.Data)), NextCursor: pg.NextCursor}
	for i, ep := range pg.Data {
		out.Data[i] = s.viewEndpoint(ep, a)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	ep, a, e := s.endpointOfApp(r)
	if e != nil {
		return e
	}
	var in endpointInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	// A new secret, or a new scheme (which makes one), is a rotation.
	if in.Secret != nil || in.SignatureScheme != nil && *in.SignatureScheme != scheme(ep) {
		if e := secretsRefused(r, "rotate signing secrets (secret, signature_scheme)"); e != nil {
			return e
		}
	}
	if ep.Operational && (in.URL != nil || in.EventTypes != nil || in.Preset != nil) {
		return errInvalid("url", "this is the app's operational endpoint: change the app's operational_webhook_url instead")
	}
	// An endpoint Herald disabled keeps its disabled_reason when it is
	// enabled again, until it succeeds (herald.endpoint.recovered).
	was := *ep
	if e := s.resolveTemplate(r, a, ep, &in); e != nil {
		return e
	}
	if e := in.applyTo(ep, a, s.o.Ceilings, s.brokerKind); e != nil {
		return e
	}
	if ep.Secret == "" {
		// A new signature scheme without a secret of its kind.
		secret, err := newSecret(scheme(ep))
		if err != nil {
			return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "could not generate a secret"}
		}
		ep.Secret = secret
	}
	if e := s.checkSubscribed(r, ep.EventTypes, was.EventTypes); e != nil {
		return e
	}
	if e := s.checkPins(r, ep); e != nil {
		return e
	}
	if e := s.checkDestinations(ep, a); e != nil {
		return e
	}
	all := s.appEndpoints(r, a.ID)
	if ep.UID != was.UID {
		if e := s.checkUIDFree(ep, all); e != nil {
			return e
		}
	}
	if e := s.checkLimit(r, a, ep, all); e != nil {
		return e
	}
	ep.UpdatedAt = s.o.Now().UTC()
	// Only a change that can change the request is checked: disabling
	// an endpoint must not be refused over its samples.
	if rendersDifferently(&was, ep) {
		if e := s.checkRenderSize(r, ep, a); e != nil {
			return e
		}
	}
	if err := s.st.EndpointUpdate(r.Context(), ep); err != nil {
		return uidTaken(storeError(err, "endpoint"), ep)
	}
	s.eng.EndpointChanged(ep)
	if s.o.EndpointGone != nil && !reflect.DeepEqual(was.Destination, ep.Destination) {
		s.o.EndpointGone(ep.ID)
	}
	s.keysChanged()
	s.auditEndpoint(r, ep, "endpoint.update", in)
	s.announceEndpoint(r, delivery.EventEndpointUpdated, ep, &in)
	writeJSON(w, http.StatusOK, s.viewEndpoint(ep, a))
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
	if s.o.EndpointGone != nil {
		s.o.EndpointGone(ep.ID)
	}
	s.keysChanged()
	s.audit(r, ep.AppID, "endpoint.delete", ep.ID, nil)
	s.announceEndpoint(r, delivery.EventEndpointDeleted, ep, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkUIDFree answers 409 when another live endpoint of the app has
// ep's uid. Two requests racing for one uid can both pass it: the store's
// unique index then refuses the second (uidTaken).
func (s *Server) checkUIDFree(ep *herald.Endpoint, all *appEndpoints) *Error {
	if ep.UID == "" {
		return nil
	}
	eps, err := all.get()
	if err != nil {
		return storeError(err, "endpoint")
	}
	for _, other := range eps {
		if other.ID != ep.ID && other.UID == ep.UID {
			return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "uid",
				Message: fmt.Sprintf("another endpoint of the app (%s) has uid %s", other.ID, ep.UID)}
		}
	}
	return nil
}

// uidTaken names the uid in a conflict the store found: another request
// took it since checkUIDFree looked.
func uidTaken(e *Error, ep *herald.Endpoint) *Error {
	if e.Code == CodeConflict && ep.UID != "" {
		e.Field, e.Message = "uid", "another endpoint of the app has uid "+ep.UID
	}
	return e
}

// resolveEndpointUID lets every route with an endpoint {id} take the
// endpoint's uid instead: a value that is not a Herald endpoint id (uids
// never start with its prefix) is looked up among the app's live
// endpoints, and {id} becomes the id found. One that matches nothing is
// left for the route to answer 404.
func (s *Server) resolveEndpointUID(r *http.Request) *Error {
	ref := r.PathValue("id")
	if ref == "" || strings.HasPrefix(ref, herald.PrefixEndpoint) {
		return nil
	}
	a, e := s.app(r)
	if e != nil {
		return e
	}
	found := ""
	err := s.eachEndpoint(r, a.ID, func(ep *herald.Endpoint) {
		if found == "" && ep.UID == ref {
			found = ep.ID
		}
	})
	if err != nil {
		return storeError(err, "endpoint")
	}
	if found != "" {
		r.SetPathValue("id", found)
	}
	return nil
}
