package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/schema"
	"github.com/heraldhq/herald/internal/store"
)

// optionalJSON tells "absent" from "null" in a PATCH body: absent leaves a
// value alone, null clears it.
type optionalJSON struct {
	set bool
	raw json.RawMessage
}

// MarshalJSON writes the value as given (null when cleared), for the
// audit log.
func (o optionalJSON) MarshalJSON() ([]byte, error) {
	if o.raw == nil {
		return []byte("null"), nil
	}
	return o.raw, nil
}

func (o *optionalJSON) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.raw = nil
		return nil
	}
	o.raw = append(o.raw[:0], b...)
	return nil
}

type eventTypeInput struct {
	Name        *string      `json:"name"`
	Description *string      `json:"description"`
	Schema      optionalJSON `json:"schema"`
	Sample      optionalJSON `json:"sample"`
	Group       *string      `json:"group"`
	Deprecated  *bool        `json:"deprecated"`
}

// applyTo validates and copies the given fields.
func (in *eventTypeInput) applyTo(et *herald.EventType) *Error {
	if in.Description != nil {
		if e := validateDescription(*in.Description); e != nil {
			return e
		}
		et.Description = *in.Description
	}
	if in.Schema.set {
		if in.Schema.raw != nil {
			t := bytes.TrimSpace(in.Schema.raw)
			if len(t) == 0 || (t[0] != '{' && string(t) != "true" && string(t) != "false") {
				return errInvalid("schema", "schema must be a JSON Schema: an object (or true/false)")
			}
		}
		et.Schema = compactJSON(in.Schema.raw)
	}
	if in.Sample.set {
		et.Sample = compactJSON(in.Sample.raw)
	}
	if in.Group != nil {
		if *in.Group != "" && !groupRE.MatchString(*in.Group) {
			return errInvalid("group", "group may hold only letters, digits and _ . - and must start with a letter or digit")
		}
		et.Group = *in.Group
	}
	if in.Deprecated != nil {
		et.Deprecated = *in.Deprecated
	}
	if len(et.Schema) > 0 {
		sc, err := schema.Compile(et.Schema)
		if err != nil {
			return errInvalid("schema", "%s", err.Error())
		}
		// A sample that breaks its own schema would make every test
		// send and preview misleading.
		if len(et.Sample) > 0 {
			if err := sc.Validate(et.Sample); err != nil {
				return errInvalid("sample", "sample does not match the schema: %s", err.Error())
			}
		}
	}
	return nil
}

func compactJSON(raw json.RawMessage) herald.RawJSON {
	if raw == nil {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		// Already checked by the decoder; keep it as given.
		return herald.RawJSON(raw)
	}
	return herald.RawJSON(b.Bytes())
}

func (s *Server) createEventType(w http.ResponseWriter, r *http.Request) *Error {
	var in eventTypeInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Name == nil {
		return errRequired("name")
	}
	if e := validateEventTypeName("name", *in.Name); e != nil {
		return e
	}
	if *in.Name == "import" {
		return errInvalid("name", "import is reserved (POST /v1/event-types/import loads a catalog)")
	}
	et := &herald.EventType{Name: *in.Name}
	if e := in.applyTo(et); e != nil {
		return e
	}
	et.CreatedAt = s.o.Now().UTC()
	et.UpdatedAt = et.CreatedAt
	if err := s.st.EventTypeCreate(r.Context(), et); err != nil {
		e := storeError(err, "event type")
		if e.Code == CodeConflict {
			e.Field, e.Message = "name", "event type "+et.Name+" already exists"
		}
		return e
	}
	s.audit(r, "", "event_type.create", et.Name, in)
	writeJSON(w, http.StatusCreated, et)
	return nil
}

func (s *Server) getEventType(w http.ResponseWriter, r *http.Request) *Error {
	et, err := s.st.EventTypeGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return storeError(err, "event type")
	}
	if err := s.countPins(r, et); err != nil {
		return storeError(err, "endpoint")
	}
	writeJSON(w, http.StatusOK, et)
	return nil
}

func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request) *Error {
	p, e := listParams(r)
	if e != nil {
		return e
	}
	pg, err := fetchPage(p, func(p store.ListParams) ([]*herald.EventType, error) { return s.st.EventTypeList(r.Context(), p) },
		func(et *herald.EventType) string { return et.Name })
	if err != nil {
		return storeError(err, "event type")
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *Server) updateEventType(w http.ResponseWriter, r *http.Request) *Error {
	et, err := s.st.EventTypeGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return storeError(err, "event type")
	}
	var in eventTypeInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Name != nil && *in.Name != et.Name {
		return errInvalid("name", "an event type cannot be renamed; create a new one instead")
	}
	if e := in.applyTo(et); e != nil {
		return e
	}
	et.UpdatedAt = s.o.Now().UTC()
	err = s.st.EventTypeUpdate(r.Context(), et)
	s.eventTypes.Reset()
	if err != nil {
		return storeError(err, "event type")
	}
	s.audit(r, "", "event_type.update", et.Name, in)
	writeJSON(w, http.StatusOK, et)
	return nil
}

func (s *Server) deleteEventType(w http.ResponseWriter, r *http.Request) *Error {
	err := s.st.EventTypeDelete(r.Context(), r.PathValue("name"))
	s.eventTypes.Reset()
	if err != nil {
		return storeError(err, "event type")
	}
	s.audit(r, "", "event_type.delete", r.PathValue("name"), nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
