package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// maxImport caps the event types of one import.
const maxImport = 1000

type importInput struct {
	EventTypes []json.RawMessage `json:"event_types"`
	DryRun     bool              `json:"dry_run"`
}

// importEventTypes answers POST /v1/event-types/import: a product loads
// its whole catalog in one call. Existing names are updated, new ones
// created, nothing is deleted; dry_run says what would change without
// changing it. Every entry is checked before anything is written, so a
// bad entry changes nothing.
func (s *Server) importEventTypes(w http.ResponseWriter, r *http.Request) *Error {
	var in importInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if len(in.EventTypes) == 0 {
		return errRequired("event_types")
	}
	if len(in.EventTypes) > maxImport {
		return errInvalid("event_types", "an import takes at most %d event types", maxImport)
	}
	type plan struct {
		et     *herald.EventType
		create bool
	}
	var plans []plan
	seen := map[string]bool{}
	now := s.o.Now().UTC()
	for i, raw := range in.EventTypes {
		var ein eventTypeInput
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ein); err != nil {
			return errInvalid(fmt.Sprintf("event_types.%d", i), "event_types[%d] is not an event type: %v", i, err)
		}
		if ein.Name == nil {
			return errRequired(fmt.Sprintf("event_types.%d.name", i))
		}
		if e := validateEventTypeName(fmt.Sprintf("event_types.%d.name", i), *ein.Name); e != nil {
			return e
		}
		if seen[*ein.Name] {
			return errInvalid(fmt.Sprintf("event_types.%d.name", i), "event type %s is listed twice", *ein.Name)
		}
		seen[*ein.Name] = true
		old, err := s.st.EventTypeGet(r.Context(), *ein.Name)
		create := errors.Is(err, store.ErrNotFound)
		if err != nil && !create {
			return storeError(err, "event type")
		}
		et := &herald.EventType{Name: *ein.Name, CreatedAt: now}
		if !create {
			c := *old
			et = &c
		}
		if e := ein.applyTo(et); e != nil {
			e.Field = fmt.Sprintf("event_types.%d.%s", i, e.Field)
			e.Message = *ein.Name + ": " + e.Message
			return e
		}
		if !create && sameEventType(old, et) {
			plans = append(plans, plan{et: nil})
			continue
		}
		et.UpdatedAt = now
		plans = append(plans, plan{et: et, create: create})
	}
	out := map[string]any{"created": []string{}, "updated": []string{}, "unchanged": []string{}, "dry_run": in.DryRun}
	for i, p := range plans {
		switch {
		case p.et == nil:
			out["unchanged"] = append(out["unchanged"].([]string), nameOf(in.EventTypes[i]))
		case p.create:
			out["created"] = append(out["created"].([]string), p.et.Name)
		default:
			out["updated"] = append(out["updated"].([]string), p.et.Name)
		}
	}
	if !in.DryRun {
		for _, p := range plans {
			switch {
			case p.et == nil:
			case p.create:
				if err := s.st.EventTypeCreate(r.Context(), p.et); err != nil {
					return storeError(err, "event type")
				}
			default:
				if err := s.st.EventTypeUpdate(r.Context(), p.et); err != nil {
					return storeError(err, "event type")
				}
			}
		}
		s.eventTypes.Reset()
		s.audit(r, "", "event_type.import", "", map[string]any{"created": out["created"], "updated": out["updated"]})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func nameOf(raw json.RawMessage) string {
	var v struct{ Name string }
	_ = json.Unmarshal(raw, &v)
	return v.Name
}

// sameEventType reports whether an update would change nothing.
func sameEventType(a, b *herald.EventType) bool {
	return a.Description == b.Description && a.Group == b.Group && a.Deprecated == b.Deprecated &&
		bytes.Equal(a.Schema, b.Schema) && bytes.Equal(a.Sample, b.Sample)
}
