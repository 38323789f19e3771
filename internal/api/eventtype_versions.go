package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/schema"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/transform"
)

// versionRE is a version's name: a date (YYYY-MM-DD) or a short token.
var (
	versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	dateRE    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// maxPins bounds the event types one endpoint pins.
const maxPins = 100

// pinAll is the key of event_type_versions that pins every event type.
const pinAll = "*"

type versionInput struct {
	Version   *string         `json:"version"`
	Schema    json.RawMessage `json:"schema"`
	Sample    json.RawMessage `json:"sample"`
	Converter *string         `json:"converter"`
}

// validateVersion checks a new version's name against the type's own.
func validateVersion(et *herald.EventType, v string) *Error {
	if !versionRE.MatchString(v) {
		return errInvalid("version", "version must be a date (YYYY-MM-DD) or a token of letters, digits and . _ - (at most 32, starting with a letter or digit)")
	}
	if _, ok := et.VersionIndex(v); ok {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "version", Message: "event type " + et.Name + " already has version " + v}
	}
	if dateRE.MatchString(v) {
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return errInvalid("version", "version %q is not a valid date", v)
		}
		// Dates sort as strings: a date older than the latest would
		// make the newest version look older than the one it follows.
		if last := et.LatestVersion(); dateRE.MatchString(last) && v <= last {
			return errInvalid("version", "version %s must be later than the latest, %s", v, last)
		}
	}
	return nil
}

// createEventTypeVersion answers POST /v1/event-types/{name}/versions: a
// new latest version, with the converter back to the one before it.
func (s *Server) createEventTypeVersion(w http.ResponseWriter, r *http.Request) *Error {
	et, err := s.st.EventTypeGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return storeError(err, "event type")
	}
	var in versionInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Version == nil {
		return errRequired("version")
	}
	if e := validateVersion(et, *in.Version); e != nil {
		return e
	}
	if len(et.Versions) >= herald.MaxEventTypeVersions {
		return errInvalid("version", "event type %s has %d versions, the most it may have; delete the latest or make a new type", et.Name, len(et.Versions))
	}
	if in.Converter == nil || len(bytes.TrimSpace([]byte(*in.Converter))) == 0 {
		return errRequired("converter")
	}
	if err := transform.CompileConverter(*in.Converter); err != nil {
		return errInvalid("converter", "%s", err.Error())
	}
	v := herald.EventTypeVersion{Version: *in.Version, Converter: *in.Converter, CreatedAt: s.o.Now().UTC()}
	if len(in.Schema) > 0 && string(in.Schema) != "null" {
		t := bytes.TrimSpace(in.Schema)
		if t[0] != '{' && string(t) != "true" && string(t) != "false" {
			return errInvalid("schema", "schema must be a JSON Schema: an object (or true/false)")
		}
		v.Schema = compactJSON(in.Schema)
	}
	if len(in.Sample) > 0 && string(in.Sample) != "null" {
		v.Sample = compactJSON(in.Sample)
	}
	if len(v.Schema) > 0 {
		sc, err := schema.Compile(v.Schema)
		if err != nil {
			return errInvalid("schema", "%s", err.Error())
		}
		if len(v.Sample) > 0 {
			if err := sc.Validate(v.Sample); err != nil {
				return errInvalid("sample", "sample does not match the schema: %s", err.Error())
			}
		}
	}
	was := store.EncodeVersions(et)
	et.Versions = append(et.Versions, v)
	et.Latest = v.Version
	et.UpdatedAt = v.CreatedAt
	err = s.st.EventTypeSetVersions(r.Context(), et, was)
	s.eventTypes.Reset()
	if err != nil {
		return storeError(err, "event type")
	}
	s.audit(r, "", "event_type.version.create", et.Name+"@"+v.Version, in)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// listEventTypeVersions answers GET /v1/event-types/{name}/versions: the
// implicit first version ("") then the others, oldest first, each with
// the count of endpoints pinned to it.
func (s *Server) listEventTypeVersions(w http.ResponseWriter, r *http.Request) *Error {
	et, err := s.st.EventTypeGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return storeError(err, "event type")
	}
	if err := s.countPins(r, et); err != nil {
		return storeError(err, "endpoint")
	}
	first := s.firstVersion(et)
	n := et.PinnedEndpoints[""]
	first.Endpoints = &n
	vs := append([]herald.EventTypeVersion{first}, et.Versions...)
	writeJSON(w, http.StatusOK, map[string]any{"data": vs, "latest_version": et.LatestVersion()})
	return nil
}

// firstVersion is the implicit version "" of a type: its own schema and
// sample.
func (s *Server) firstVersion(et *herald.EventType) herald.EventTypeVersion {
	return herald.EventTypeVersion{Version: "", Schema: et.Schema, Sample: et.Sample, CreatedAt: et.CreatedAt}
}

// countPins fills in how many endpoints are pinned to each version of et:
// of the caller's app for an app-scoped caller, of every app for an
// admin. A store error is returned, not skipped: counts of part of the
// endpoints would look like the whole.
func (s *Server) countPins(r *http.Request, et *herald.EventType) error {
	counts := map[string]int{}
	err := s.walkPins(r, et, "", "", func(ep *herald.Endpoint, v string) bool {
		counts[v]++
		return true
	})
	if err != nil {
		return err
	}
	et.PinnedEndpoints = counts
	for i := range et.Versions {
		n := counts[et.Versions[i].Version]
		et.Versions[i].Endpoints = &n
	}
	return nil
}

func (s *Server) getEventTypeVersion(w http.ResponseWriter, r *http.Request) *Error {
	et, err := s.st.EventTypeGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return storeError(err, "event type")
	}
	i, ok := et.VersionIndex(r.PathValue("version"))
	if !ok || i < 0 {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "event type " + et.Name + " has no version " + r.PathValue("version")}
	}
	if err := s.countPins(r, et); err != nil {
		return storeError(err, "endpoint")
	}
	writeJSON(w, http.StatusOK, et.Versions[i])
	return nil
}

// deleteEventTypeVersion removes the latest version: one in the middle
// would break the chain of converters, and one endpoints are pinned to
// would leave them on a version that no longer exists.
func (s *Server) deleteEventTypeVersion(w http.ResponseWriter, r *http.Request) *Error {
	et, err := s.st.EventTypeGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return storeError(err, "event type")
	}
	v := r.PathValue("version")
	i, ok := et.VersionIndex(v)
	if !ok || i < 0 {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "event type " + et.Name + " has no version " + v}
	}
	if i != len(et.Versions)-1 {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "version",
			Message: "only the latest version (" + et.LatestVersion() + ") may be deleted: the converters of later versions lead through " + v}
	}
	was := store.EncodeVersions(et)
	et.Versions = slices.Delete(et.Versions, i, i+1)
	et.Latest = et.LatestVersion()
	et.UpdatedAt = s.o.Now().UTC()
	err = s.st.EventTypeSetVersions(r.Context(), et, was)
	s.eventTypes.Reset()
	if err != nil {
		return storeError(err, "event type")
	}
	s.audit(r, "", "event_type.version.delete", et.Name+"@"+v, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkPins refuses an endpoint pinned to a version its event type does
// not have.
func (s *Server) checkPins(r *http.Request, ep *herald.Endpoint) *Error {
	for name, v := range ep.EventTypeVersions {
		field := "event_type_versions." + name
		if name == pinAll {
			if v != "" && !versionRE.MatchString(v) {
				return errInvalid(field, "version %q is not a version name", v)
			}
			continue
		}
		if e := validateEventTypeName(field, name); e != nil {
			return e
		}
		et, err := s.st.EventTypeGet(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			return errInvalid(field, "event type %q is not in the catalog", name)
		}
		if err != nil {
			return storeError(err, "event type")
		}
		if _, ok := et.VersionIndex(v); !ok {
			return errInvalid(field, "event type %q has no version %q (its latest is %q)", name, v, et.LatestVersion())
		}
	}
	return nil
}
