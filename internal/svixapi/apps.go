package svixapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// appRoutes registers applications, event types, endpoints,
// authentication and the rest that is not messages or attempts.
func (h *Handler) appRoutes() {
	h.handle("POST /api/v1/app", h.createApp)
	h.handle("GET /api/v1/app", h.listApps)
	h.handle("GET /api/v1/app/{app_id}", h.getApp)
	h.handle("PUT /api/v1/app/{app_id}", h.putApp)
	h.handle("PATCH /api/v1/app/{app_id}", h.patchApp)
	h.handle("DELETE /api/v1/app/{app_id}", h.deleteApp)
	h.eventTypeRoutes()
	h.endpointRoutes()
	h.authRoutes()
	h.taskRoutes()
	h.unsupportedRoutes()
}

// opt is a body field that tells absent, null and a value apart (Svix's
// PATCH bodies clear a field with null).
type opt[T any] struct {
	Set  bool // the field was in the body
	Null bool // ... as null
	V    T
}

// UnmarshalJSON reads the field; encoding/json calls it for null too.
func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// value reports whether o holds a value (set and not null).
func (o opt[T]) value() bool { return o.Set && !o.Null }

// heraldApp is an app as Herald's API answers it (the fields used here).
type heraldApp struct {
	ID        string            `json:"id"`
	UID       *string           `json:"uid"`
	Name      string            `json:"name"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// appOut is Svix's ApplicationOut (1.x and 2.x).
type appOut struct {
	ID           string            `json:"id"`
	UID          *string           `json:"uid"`
	Name         string            `json:"name"`
	Metadata     map[string]string `json:"metadata"`
	RateLimit    *int              `json:"rateLimit"`
	ThrottleRate *int              `json:"throttleRate"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
}

func toAppOut(a heraldApp) appOut {
	md := a.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return appOut{ID: a.ID, UID: a.UID, Name: a.Name, Metadata: md, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// appIn is Svix's ApplicationIn and ApplicationPatch.
type appIn struct {
	Name         opt[string]            `json:"name"`
	UID          opt[string]            `json:"uid"`
	Metadata     opt[map[string]string] `json:"metadata"`
	RateLimit    opt[json.Number]       `json:"rateLimit"`
	ThrottleRate opt[json.Number]       `json:"throttleRate"`
}

// check refuses what Herald cannot honour: an app-wide rate limit
// (Herald limits each endpoint), and a missing name where one is needed.
func (in *appIn) check(needName bool) *Error {
	for _, f := range []struct {
		name string
		v    opt[json.Number]
	}{{"throttleRate", in.ThrottleRate}, {"rateLimit", in.RateLimit}} {
		if f.v.value() {
			return invalid("body", f.name, f.name+" is not supported: Herald has no app-wide rate limit; set rateLimit (throttleRate) on each endpoint instead")
		}
	}
	if needName && (!in.Name.value() || in.Name.V == "") {
		return invalid("body", "name", "name is required")
	}
	if in.Name.Set && in.Name.Null {
		return invalid("body", "name", "name cannot be null")
	}
	if in.Metadata.Set && in.Metadata.Null {
		return invalid("body", "metadata", "metadata cannot be null; give {} to clear it")
	}
	return nil
}

// body is Herald's AppInput for the fields given; uid null (or empty)
// clears the uid.
func (in *appIn) body() map[string]any {
	b := map[string]any{}
	if in.Name.value() {
		b["name"] = in.Name.V
	}
	if in.UID.Set {
		b["uid"] = in.UID.V
	}
	if in.Metadata.value() {
		b["metadata"] = in.Metadata.V
	}
	return b
}

// createApp answers POST /api/v1/app (201); with get_if_exists=true an
// app that already has the uid answers 200 as it is.
func (h *Handler) createApp(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "get_if_exists"); e != nil {
		return e
	}
	getIfExists := false
	switch r.URL.Query().Get("get_if_exists") {
	case "", "false":
	case "true":
		getIfExists = true
	default:
		return invalid("query", "get_if_exists", "get_if_exists must be true or false")
	}
	var in appIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if e := in.check(true); e != nil {
		return e
	}
	if getIfExists && in.UID.value() && in.UID.V != "" {
		if a, found, e := h.findApp(r, in.UID.V); e != nil {
			return e
		} else if found {
			writeJSON(w, http.StatusOK, toAppOut(a))
			return nil
		}
	}
	var a heraldApp
	_, e := h.do(r, call{Method: http.MethodPost, Path: "/v1/apps", Body: in.body()}, &a)
	if e != nil && e.Status == http.StatusConflict && getIfExists && in.UID.value() {
		// Created meanwhile by another request with the same uid.
		if got, found, e2 := h.findApp(r, in.UID.V); e2 == nil && found {
			writeJSON(w, http.StatusOK, toAppOut(got))
			return nil
		}
	}
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusCreated, toAppOut(a))
	return nil
}

// findApp reads an app by id or uid; found is false on 404.
func (h *Handler) findApp(r *http.Request, ref string) (heraldApp, bool, *Error) {
	var a heraldApp
	status, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", ref)}, &a)
	if e != nil {
		if status == http.StatusNotFound {
			return a, false, nil
		}
		return a, false, e
	}
	return a, true, nil
}

// listApps answers GET /api/v1/app from Herald's list of apps.
func (h *Handler) listApps(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "limit", "iterator", "order", "exclude_apps_with_no_endpoints",
		"exclude_apps_with_disabled_endpoints", "exclude_apps_with_svix_play_endpoints"); e != nil {
		return e
	}
	for _, f := range []string{"exclude_apps_with_no_endpoints", "exclude_apps_with_disabled_endpoints", "exclude_apps_with_svix_play_endpoints"} {
		switch r.URL.Query().Get(f) {
		case "", "false":
		case "true":
			return invalid("query", f, f+"=true is not supported: Herald's list of apps has no such filter")
		default:
			return invalid("query", f, f+" must be true or false")
		}
	}
	q, e := listQuery(r)
	if e != nil {
		return e
	}
	var p heraldPage[heraldApp]
	if _, e := h.do(r, call{Method: http.MethodGet, Path: "/v1/apps", Query: q, Fields: map[string]string{"cursor": "iterator"}}, &p); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, page(p, toAppOut))
	return nil
}

// getApp answers GET /api/v1/app/{app_id} (id or uid).
func (h *Handler) getApp(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var a heraldApp
	if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", r.PathValue("app_id"))}, &a); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toAppOut(a))
	return nil
}

// putApp answers PUT /api/v1/app/{app_id}, an upsert: 200 with the app
// updated, or 201 with an app created under the path's value as uid.
// Herald chooses its ids: a path holding an id (app_…) of no app
// answers 404.
func (h *Handler) putApp(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	ref := r.PathValue("app_id")
	var in appIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if e := in.check(true); e != nil {
		return e
	}
	cur, found, e := h.findApp(r, ref)
	if e != nil {
		return e
	}
	if !found {
		if strings.HasPrefix(ref, "app_") {
			return notFound("application " + ref + " (Herald chooses app ids: create it with a uid instead)")
		}
		b := in.body()
		if !in.UID.value() || in.UID.V == "" {
			b["uid"] = ref
		}
		var a heraldApp
		if _, e := h.do(r, call{Method: http.MethodPost, Path: "/v1/apps", Body: b}, &a); e != nil {
			return e
		}
		writeJSON(w, http.StatusCreated, toAppOut(a))
		return nil
	}
	// A PUT replaces: metadata not given is cleared.
	b := in.body()
	if !in.Metadata.value() && len(cur.Metadata) > 0 {
		b["metadata"] = map[string]string{}
	}
	var a heraldApp
	if _, e := h.do(r, call{Method: http.MethodPatch, Path: path("/v1/apps/", cur.ID), Body: b}, &a); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toAppOut(a))
	return nil
}

// patchApp answers PATCH /api/v1/app/{app_id}: the fields given.
func (h *Handler) patchApp(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in appIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if e := in.check(false); e != nil {
		return e
	}
	var a heraldApp
	if _, e := h.do(r, call{Method: http.MethodPatch, Path: path("/v1/apps/", r.PathValue("app_id")), Body: in.body()}, &a); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toAppOut(a))
	return nil
}

// deleteApp answers DELETE /api/v1/app/{app_id} (204): Herald deletes
// the app with its endpoints, events and history.
func (h *Handler) deleteApp(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	if _, e := h.do(r, call{Method: http.MethodDelete, Path: path("/v1/apps/", r.PathValue("app_id"))}, nil); e != nil {
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
