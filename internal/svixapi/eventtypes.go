package svixapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"
)

func (h *Handler) eventTypeRoutes() {
	h.handle("POST /api/v1/event-type", h.createEventType)
	h.handle("GET /api/v1/event-type", h.listEventTypes)
	h.handle("GET /api/v1/event-type/{event_type_name}", h.getEventType)
	h.handle("PUT /api/v1/event-type/{event_type_name}", h.putEventType)
	h.handle("PATCH /api/v1/event-type/{event_type_name}", h.patchEventType)
	h.handle("DELETE /api/v1/event-type/{event_type_name}", h.deleteEventType)
	h.unsupported("POST /api/v1/event-type/import/openapi", "importing event types from an OpenAPI document",
		"Herald's import (POST /v1/event-types/import) takes a list of event types, not an OpenAPI document")
}

// eventTypeFields locates Herald's errors about an event type in Svix's
// terms: Herald's one schema is Svix's schemas["1"], its sample the
// schema's first example.
var eventTypeFields = map[string]string{"schema": "schemas", "sample": "schemas", "group": "groupName"}

// heraldEventType is an event type as Herald's API answers it.
type heraldEventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Sample      json.RawMessage `json:"sample"`
	Group       string          `json:"group"`
	Deprecated  bool            `json:"deprecated"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// eventTypeOut is Svix's EventTypeOut. Schemas is left out of lists
// asked for with_content=false.
type eventTypeOut struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Archived     bool            `json:"archived"`
	Deprecated   bool            `json:"deprecated"`
	Schemas      json.RawMessage `json:"schemas,omitempty"`
	GroupName    *string         `json:"groupName"`
	FeatureFlags []string        `json:"featureFlags"`
	FeatureFlag  *string         `json:"featureFlag"`
	CreatedAt    time.Time       `json:"createdAt"`
	UpdatedAt    time.Time       `json:"updatedAt"`
}

func toEventTypeOut(et heraldEventType, withContent bool) eventTypeOut {
	out := eventTypeOut{Name: et.Name, Description: et.Description, Deprecated: et.Deprecated,
		CreatedAt: et.CreatedAt, UpdatedAt: et.UpdatedAt}
	if et.Group != "" {
		g := et.Group
		out.GroupName = &g
	}
	if withContent {
		out.Schemas = json.RawMessage("null")
		if s := bytes.TrimSpace(et.Schema); len(s) > 0 && string(s) != "null" {
			b, _ := json.Marshal(map[string]json.RawMessage{"1": s})
			out.Schemas = b
		}
	}
	return out
}

// eventTypeIn is Svix's EventTypeIn, EventTypeUpdate (EventTypeUpsertIn)
// and EventTypePatch.
type eventTypeIn struct {
	Name         opt[string]                     `json:"name"`
	Description  opt[string]                     `json:"description"`
	Archived     opt[bool]                       `json:"archived"`
	Deprecated   opt[bool]                       `json:"deprecated"`
	Schemas      opt[map[string]json.RawMessage] `json:"schemas"`
	GroupName    opt[string]                     `json:"groupName"`
	FeatureFlag  opt[string]                     `json:"featureFlag"`
	FeatureFlags opt[[]string]                   `json:"featureFlags"`
}

// body checks the input and returns Herald's EventTypeInput. replace
// (PUT) clears what is not given, as Svix's update does.
func (in *eventTypeIn) body(replace bool) (map[string]any, *Error) {
	if in.Archived.value() && in.Archived.V {
		return nil, invalid("body", "archived", "archived is not supported: Herald has no archived event types; delete the event type, or mark it deprecated")
	}
	if in.Description.Set && in.Description.Null {
		return nil, invalid("body", "description", "description cannot be null")
	}
	if in.Deprecated.Set && in.Deprecated.Null {
		return nil, invalid("body", "deprecated", "deprecated cannot be null")
	}
	b := map[string]any{}
	if in.Description.value() {
		b["description"] = in.Description.V
	} else if replace {
		b["description"] = ""
	}
	if in.Deprecated.value() {
		b["deprecated"] = in.Deprecated.V
	} else if replace {
		b["deprecated"] = false
	}
	if in.GroupName.Set {
		b["group"] = in.GroupName.V
	} else if replace {
		b["group"] = ""
	}
	if in.Schemas.Set || replace {
		schema, sample, e := fromSchemas(in.Schemas.V)
		if e != nil {
			return nil, e
		}
		b["schema"], b["sample"] = schema, sample
	}
	return b, nil
}

// fromSchemas reads Svix's schemas ({"1": JSON Schema}) into Herald's
// schema, and its sample from the schema's first example. Herald keeps
// one schema per event type: any other version is refused.
func fromSchemas(s map[string]json.RawMessage) (schema, sample json.RawMessage, e *Error) {
	for k := range s {
		if k != "1" {
			return nil, nil, invalid("body", "schemas", `schemas may hold version "1" only: Herald keeps one schema per event type`)
		}
	}
	schema = s["1"]
	if len(schema) == 0 || string(bytes.TrimSpace(schema)) == "null" {
		return nil, nil, nil
	}
	var withExamples struct {
		Examples []json.RawMessage `json:"examples"`
	}
	if json.Unmarshal(schema, &withExamples) == nil && len(withExamples.Examples) > 0 {
		sample = withExamples.Examples[0]
	}
	return schema, sample, nil
}

// createEventType answers POST /api/v1/event-type (201).
func (h *Handler) createEventType(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in eventTypeIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if !in.Name.value() || in.Name.V == "" {
		return invalid("body", "name", "name is required")
	}
	if !in.Description.value() {
		return invalid("body", "description", "description is required")
	}
	b, e := in.body(false)
	if e != nil {
		return e
	}
	b["name"] = in.Name.V
	var et heraldEventType
	if _, e := h.do(r, call{Method: http.MethodPost, Path: "/v1/event-types", Body: b, Fields: eventTypeFields}, &et); e != nil {
		return e
	}
	writeJSON(w, http.StatusCreated, toEventTypeOut(et, true))
	return nil
}

// listEventTypes answers GET /api/v1/event-type, by name as Herald
// lists them. Herald archives nothing, so include_archived changes
// nothing.
func (h *Handler) listEventTypes(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "limit", "iterator", "order", "include_archived", "with_content"); e != nil {
		return e
	}
	withContent := false
	for _, f := range []string{"include_archived", "with_content"} {
		switch v := r.URL.Query().Get(f); v {
		case "", "false":
		case "true":
			withContent = withContent || f == "with_content"
		default:
			return invalid("query", f, f+" must be true or false")
		}
	}
	q, e := listQuery(r)
	if e != nil {
		return e
	}
	var p heraldPage[heraldEventType]
	if _, e := h.do(r, call{Method: http.MethodGet, Path: "/v1/event-types", Query: q, Fields: map[string]string{"cursor": "iterator"}}, &p); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, page(p, func(et heraldEventType) eventTypeOut { return toEventTypeOut(et, withContent) }))
	return nil
}

// getEventType answers GET /api/v1/event-type/{event_type_name}.
func (h *Handler) getEventType(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var et heraldEventType
	if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/event-types/", r.PathValue("event_type_name"))}, &et); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toEventTypeOut(et, true))
	return nil
}

// putEventType answers PUT /api/v1/event-type/{event_type_name}, an
// upsert: 201 created, or 200 replaced (what is not given is cleared).
func (h *Handler) putEventType(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	name := r.PathValue("event_type_name")
	var in eventTypeIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if in.Name.Set {
		return invalid("body", "name", "name is taken from the path; it cannot be given in the body")
	}
	if !in.Description.value() {
		return invalid("body", "description", "description is required")
	}
	b, e := in.body(true)
	if e != nil {
		return e
	}
	var et heraldEventType
	status, e := h.do(r, call{Method: http.MethodPatch, Path: path("/v1/event-types/", name), Body: b, Fields: eventTypeFields}, &et)
	if e != nil && status == http.StatusNotFound {
		b["name"] = name
		if _, e := h.do(r, call{Method: http.MethodPost, Path: "/v1/event-types", Body: b, Fields: eventTypeFields}, &et); e != nil {
			return e
		}
		writeJSON(w, http.StatusCreated, toEventTypeOut(et, true))
		return nil
	}
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toEventTypeOut(et, true))
	return nil
}

// patchEventType answers PATCH /api/v1/event-type/{event_type_name}.
func (h *Handler) patchEventType(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in eventTypeIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if in.Name.Set {
		return invalid("body", "name", "an event type's name cannot change")
	}
	b, e := in.body(false)
	if e != nil {
		return e
	}
	var et heraldEventType
	if _, e := h.do(r, call{Method: http.MethodPatch, Path: path("/v1/event-types/", r.PathValue("event_type_name")), Body: b, Fields: eventTypeFields}, &et); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toEventTypeOut(et, true))
	return nil
}

// deleteEventType answers DELETE /api/v1/event-type/{event_type_name}
// (204). Herald deletes for good, which is Svix's expunge=true; without
// it Svix would archive, which Herald has no notion of, so a plain
// delete deletes too (docs/svix.md).
func (h *Handler) deleteEventType(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "expunge"); e != nil {
		return e
	}
	switch r.URL.Query().Get("expunge") {
	case "", "true", "false":
	default:
		return invalid("query", "expunge", "expunge must be true or false")
	}
	if _, e := h.do(r, call{Method: http.MethodDelete, Path: path("/v1/event-types/", r.PathValue("event_type_name"))}, nil); e != nil {
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
