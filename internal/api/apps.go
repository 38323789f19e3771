package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/internal/store"
)

// appView is an app as the API shows it: uid is null when not set.
type appView struct {
	ID   string  `json:"id"`
	UID  *string `json:"uid"`
	Name string  `json:"name"`
	herald.AppSettings
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func viewApp(a *herald.App) appView {
	v := appView{ID: a.ID, Name: a.Name, AppSettings: a.AppSettings, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	if a.UID != "" {
		uid := a.UID
		v.UID = &uid
	}
	return v
}

type appInput struct {
	Name                     *string `json:"name"`
	UID                      *string `json:"uid"`
	MaxEndpointsPerEventType *int    `json:"max_endpoints_per_event_type"`
	MaxPerChannel            *int    `json:"max_endpoints_per_event_type_per_channel"`
	OperationalWebhookURL    *string `json:"operational_webhook_url"`
	// OperationalEventTypes: nil leaves them, [] takes every type.
	OperationalEventTypes *[]string `json:"operational_event_types"`
	RetrySchedule         *string   `json:"retry_schedule"`
	SuccessStatuses       *[]any    `json:"success_statuses"`
	TimeoutMS             *int      `json:"timeout_ms"`
	MaxInFlight           *int      `json:"max_in_flight"`
	MonthlyDeliveryQuota  *int64    `json:"monthly_delivery_quota"`
	PayloadFormat         *string   `json:"payload_format"`
	TemplateSyntax        *string   `json:"template_syntax"`
	// Metadata replaces the app's labels as a whole when given.
	Metadata       *map[string]string `json:"metadata"`
	WebhookHeaders *string            `json:"webhook_headers"`
	// PropagateTraceContext sends traceparent to the app's endpoints.
	PropagateTraceContext *bool `json:"propagate_trace_context"`
	// NewEndpointsEnabled: null returns to the installation's default.
	NewEndpointsEnabled optionalJSON `json:"new_endpoints_enabled"`
}

// applySettings validates and copies the app's settings, its delivery
// overrides within the ceilings c.
func (in *appInput) applySettings(a *herald.App, c herald.TenantCeilings) *Error {
	if in.MaxEndpointsPerEventType != nil {
		if *in.MaxEndpointsPerEventType < 0 {
			return errInvalid("max_endpoints_per_event_type", "max_endpoints_per_event_type must be 0 (no limit) or more")
		}
		a.MaxEndpointsPerEventType = *in.MaxEndpointsPerEventType
	}
	if in.MaxPerChannel != nil {
		if *in.MaxPerChannel < 0 {
			return errInvalid("max_endpoints_per_event_type_per_channel", "max_endpoints_per_event_type_per_channel must be 0 (no limit) or more")
		}
		a.MaxEndpointsPerEventTypePerChannel = *in.MaxPerChannel
	}
	if in.OperationalWebhookURL != nil {
		if *in.OperationalWebhookURL != "" {
			if err := herald.ValidateURL(*in.OperationalWebhookURL); err != nil {
				return errInvalid("operational_webhook_url", "operational_webhook_url: %s", err.Error())
			}
		}
		a.OperationalWebhookURL = *in.OperationalWebhookURL
	}
	if in.OperationalEventTypes != nil {
		types := []string{}
		for _, t := range *in.OperationalEventTypes {
			if !slices.Contains(delivery.OperationalEventTypes, t) {
				return errInvalid("operational_event_types", "operational_event_types: %q is not one of Herald's own event types (%s)",
					t, strings.Join(delivery.OperationalEventTypes, ", "))
			}
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
		a.OperationalEventTypes = types
	}
	if in.PayloadFormat != nil {
		switch *in.PayloadFormat {
		case "", "standard", "raw", "flat":
			a.PayloadFormat = *in.PayloadFormat
		default:
			return errInvalid("payload_format", "payload_format must be standard, raw or flat (or empty for the installation's)")
		}
	}
	if in.TemplateSyntax != nil {
		switch *in.TemplateSyntax {
		case "", "braces", "hash":
			a.TemplateSyntax = *in.TemplateSyntax
		default:
			return errInvalid("template_syntax", "template_syntax must be braces ({{path}}) or hash (#{path})")
		}
	}
	if in.Metadata != nil {
		if e := validateMetadata(*in.Metadata); e != nil {
			return e
		}
		a.Metadata = *in.Metadata
	}
	if in.WebhookHeaders != nil {
		if e := validateWebhookHeaders(*in.WebhookHeaders); e != nil {
			return e
		}
		a.WebhookHeaders = *in.WebhookHeaders
	}
	if in.PropagateTraceContext != nil {
		a.PropagateTraceContext = *in.PropagateTraceContext
	}
	if in.MonthlyDeliveryQuota != nil {
		if *in.MonthlyDeliveryQuota < 0 {
			return errInvalid("monthly_delivery_quota", "monthly_delivery_quota must be 0 (no quota) or more")
		}
		a.MonthlyDeliveryQuota = *in.MonthlyDeliveryQuota
	}
	if in.NewEndpointsEnabled.set {
		a.NewEndpointsEnabled = nil
		if in.NewEndpointsEnabled.raw != nil {
			var b bool
			if err := json.Unmarshal(in.NewEndpointsEnabled.raw, &b); err != nil {
				return errInvalid("new_endpoints_enabled", "new_endpoints_enabled must be true, false or null")
			}
			a.NewEndpointsEnabled = &b
		}
	}
	if in.SuccessStatuses != nil {
		list, e := parseSuccessStatuses(*in.SuccessStatuses)
		if e != nil {
			return e
		}
		a.SuccessStatuses = list
	}
	return applyDelivery(c, &a.RetrySchedule, &a.TimeoutMS, &a.MaxInFlight, in.RetrySchedule, in.TimeoutMS, in.MaxInFlight)
}

// parseSuccessStatuses validates a success_statuses list (of an app or an
// endpoint); [] clears it, so that the level above applies again.
func parseSuccessStatuses(in []any) ([]string, *Error) {
	if len(in) > herald.MaxSuccessStatuses {
		return nil, errInvalid("success_statuses", "success_statuses has %d items; at most %d", len(in), herald.MaxSuccessStatuses)
	}
	var out []string
	for i, v := range in {
		s, ok := herald.ParseSuccessStatus(v)
		if !ok {
			return nil, errInvalid("success_statuses", "success_statuses[%d] must be a status code (100 to 599) or a class \"1xx\" to \"5xx\"", i)
		}
		out = append(out, s)
	}
	return out, nil
}

// applyDelivery validates and copies delivery overrides (of an app or an
// endpoint) within the operator's ceilings c; "" and 0 clear one, so that
// the level above applies again. Only the values given are checked: one
// saved before a ceiling was lowered does not block other changes (it is
// held to the ceiling where it is used).
func applyDelivery(c herald.TenantCeilings, schedule *string, timeoutMS, maxInFlight *int, inSchedule *string, inTimeout, inMax *int) *Error {
	if inSchedule != nil && strings.TrimSpace(*inSchedule) != "" {
		waits, err := delivery.ParseSchedule(*inSchedule)
		if err == nil {
			err = delivery.CheckSchedule(waits, c)
		}
		if err != nil {
			return errInvalid("retry_schedule", "retry_schedule: %s", err.Error())
		}
	}
	if inSchedule != nil {
		*schedule = strings.TrimSpace(*inSchedule)
	}
	if inTimeout != nil {
		limit, why := maxTimeoutMS, ""
		if c.TimeoutMS > 0 {
			limit = c.TimeoutMS
			why = fmt.Sprintf(" (%s, the most this installation allows: --max-tenant-timeout)", time.Duration(limit)*time.Millisecond)
		}
		if *inTimeout < 0 || *inTimeout > limit {
			return errInvalid("timeout_ms", "timeout_ms must be from 1 to %d%s, or 0 to inherit it", limit, why)
		}
		*timeoutMS = *inTimeout
	}
	if inMax != nil {
		limit, why := maxInFlightLimit, ""
		if c.MaxInFlight > 0 {
			limit, why = c.MaxInFlight, " (the most this installation allows: --max-tenant-in-flight)"
		}
		if *inMax < 0 || *inMax > limit {
			return errInvalid("max_in_flight", "max_in_flight must be from 1 to %d%s, or 0 to inherit it", limit, why)
		}
		*maxInFlight = *inMax
	}
	return nil
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) *Error {
	if e := requireAdmin(r, "creating an app"); e != nil {
		return e
	}
	var in appInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Name == nil {
		return errRequired("name")
	}
	if e := validateName("name", *in.Name); e != nil {
		return e
	}
	a := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: *in.Name}
	if e := in.applySettings(a, s.o.Ceilings); e != nil {
		return e
	}
	if e := s.checkDestination("operational_webhook_url", a.OperationalWebhookURL); e != nil {
		return e
	}
	if in.UID != nil {
		if e := validateUID(*in.UID); e != nil {
			return e
		}
		a.UID = *in.UID
	}
	a.CreatedAt = s.o.Now().UTC()
	a.UpdatedAt = a.CreatedAt
	if err := s.st.AppCreate(r.Context(), a); err != nil {
		e := storeError(err, "app")
		if e.Code == CodeConflict {
			e.Field, e.Message = "uid", "an app with uid "+a.UID+" already exists"
		}
		return e
	}
	if e := s.syncOperationalEndpoint(r, a); e != nil {
		return e
	}
	s.audit(r, a.ID, "app.create", a.ID, in)
	writeJSON(w, http.StatusCreated, viewApp(a))
	return nil
}

// app resolves the {app} path segment: Herald's id or the product's uid.
// Every route under /v1/apps/{app} resolves the app here, which is where
// tenants are kept apart: an app-scoped key asking for another app gets
// the same 404 as for an app that does not exist.
func (s *Server) app(r *http.Request) (*herald.App, *Error) {
	ref := r.PathValue("app")
	a, ok := s.apps.Get(ref)
	if !ok {
		got, err := s.st.AppGet(r.Context(), ref)
		if err != nil {
			return nil, storeError(err, "app")
		}
		a = *got
		s.apps.Put(ref, a)
	}
	if p := principalOf(r); p.appID != "" && p.appID != a.ID {
		return nil, errNotFound("app")
	}
	return &a, nil
}

// requireAdmin refuses app-scoped keys.
func requireAdmin(r *http.Request, what string) *Error {
	if !principalOf(r).admin {
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: what + " needs the admin token or an admin-scoped API key"}
	}
	return nil
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, viewApp(a))
	return nil
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) *Error {
	p, e := listParams(r)
	if e != nil {
		return e
	}
	if id := principalOf(r).appID; id != "" {
		// An app-scoped key sees its own app only.
		a, err := s.st.AppGet(r.Context(), id)
		if err != nil {
			return storeError(err, "app")
		}
		writeJSON(w, http.StatusOK, page[appView]{Data: []appView{viewApp(a)}})
		return nil
	}
	pg, err := fetchPage(p, func(p store.ListParams) ([]*herald.App, error) { return s.st.AppList(r.Context(), p) },
		func(a *herald.App) string { return a.ID })
	if err != nil {
		return storeError(err, "app")
	}
	out := page[appView]{Data: make([]appView, len(pg.Data)), NextCursor: pg.NextCursor}
	for i, a := range pg.Data {
		out.Data[i] = viewApp(a)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	var in appInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if e := operatorOwned(r, a, &in); e != nil {
		return e
	}
	if in.Name != nil {
		if e := validateName("name", *in.Name); e != nil {
			return e
		}
		a.Name = *in.Name
	}
	if in.UID != nil {
		if e := validateUID(*in.UID); e != nil {
			return e
		}
		a.UID = *in.UID
	}
	if e := in.applySettings(a, s.o.Ceilings); e != nil {
		return e
	}
	if e := s.checkDestination("operational_webhook_url", a.OperationalWebhookURL); e != nil {
		return e
	}
	a.UpdatedAt = s.o.Now().UTC()
	err := s.st.AppUpdate(r.Context(), a)
	// After the change, so that no lookup in between caches the old app.
	s.apps.Reset()
	s.eng.AppChanged()
	s.keysChanged()
	if err != nil {
		e := storeError(err, "app")
		if e.Code == CodeConflict {
			e.Field, e.Message = "uid", "an app with uid "+a.UID+" already exists"
		}
		return e
	}
	if e := s.syncOperationalEndpoint(r, a); e != nil {
		return e
	}
	s.audit(r, a.ID, "app.update", a.ID, in)
	writeJSON(w, http.StatusOK, viewApp(a))
	return nil
}

// operatorOwned refuses a change, by anyone but an admin, of the app
// settings that are the operator's: the product's handle for the customer
// (uid) and the limits the customer lives under. An app-scoped key is the
// customer's own, so it must not lift them. A value sent unchanged passes,
// so that a client may send back the app it read.
func operatorOwned(r *http.Request, a *herald.App, in *appInput) *Error {
	if principalOf(r).admin {
		return nil
	}
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{"uid", in.UID != nil && *in.UID != a.UID},
		{"monthly_delivery_quota", in.MonthlyDeliveryQuota != nil && *in.MonthlyDeliveryQuota != a.MonthlyDeliveryQuota},
		{"max_endpoints_per_event_type", in.MaxEndpointsPerEventType != nil && *in.MaxEndpointsPerEventType != a.MaxEndpointsPerEventType},
		{"max_endpoints_per_event_type_per_channel", in.MaxPerChannel != nil && *in.MaxPerChannel != a.MaxEndpointsPerEventTypePerChannel},
	} {
		if f.changed {
			return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: f.name,
				Message: f.name + " is set by the operator: changing it needs the admin token or an admin-scoped API key"}
		}
	}
	return nil
}

// syncOperationalEndpoint keeps the app's operational endpoint in step
// with its operational_webhook_url: Herald's own events about the app
// (herald.endpoint.disabled, ...) go through it, stored, signed and
// retried like any delivery.
func (s *Server) syncOperationalEndpoint(r *http.Request, a *herald.App) *Error {
	var op *herald.Endpoint
	err := s.eachEndpoint(r, a.ID, func(ep *herald.Endpoint) {
		if ep.Operational {
			op = ep
		}
	})
	if err != nil {
		return storeError(err, "endpoint")
	}
	now := s.o.Now().UTC()
	switch {
	case a.OperationalWebhookURL == "" && op != nil:
		if err := s.st.EndpointDelete(r.Context(), a.ID, op.ID, now); err != nil {
			return storeError(err, "endpoint")
		}
	case a.OperationalWebhookURL != "" && op == nil:
		secret, err := signing.GenerateSecret()
		if err != nil {
			return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "could not generate a secret"}
		}
		op = &herald.Endpoint{
			ID: herald.NewID(herald.PrefixEndpoint), AppID: a.ID, URL: a.OperationalWebhookURL,
			Description: "operational webhook: Herald's events about this app's endpoints",
			EventTypes:  operationalTypes(a), Enabled: true, Secret: secret, CreatedAt: now, UpdatedAt: now,
		}
		op.Operational = true
		if err := s.st.EndpointCreate(r.Context(), op); err != nil {
			return storeError(err, "app")
		}
	case a.OperationalWebhookURL != "" && (op.URL != a.OperationalWebhookURL || !slices.Equal(op.EventTypes, operationalTypes(a))):
		op.URL, op.EventTypes, op.UpdatedAt = a.OperationalWebhookURL, operationalTypes(a), now
		if err := s.st.EndpointUpdate(r.Context(), op); err != nil {
			return storeError(err, "endpoint")
		}
		s.eng.EndpointChanged(op)
	}
	return nil
}

// operationalTypes is what the app's operational endpoint subscribes to:
// the types it picked, or every type ([]).
func operationalTypes(a *herald.App) []string {
	if len(a.OperationalEventTypes) == 0 {
		return []string{}
	}
	return slices.Clone(a.OperationalEventTypes)
}

// eachEndpoint calls fn for every endpoint of the app.
func (s *Server) eachEndpoint(r *http.Request, appID string, fn func(*herald.Endpoint)) error {
	p := store.ListParams{Limit: store.MaxListLimit}
	for {
		eps, err := s.st.EndpointList(r.Context(), appID, p)
		if err != nil {
			return err
		}
		for _, ep := range eps {
			fn(ep)
		}
		if len(eps) < p.Limit {
			return nil
		}
		p.Cursor = eps[len(eps)-1].ID
	}
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	if e := requireAdmin(r, "deleting an app"); e != nil {
		return e
	}
	err := s.st.AppDelete(r.Context(), a.ID)
	s.apps.Reset()
	s.keysChanged()
	if err != nil {
		return storeError(err, "app")
	}
	s.audit(r, a.ID, "app.delete", a.ID, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
