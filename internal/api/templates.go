package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// templateInput is the body of an endpoint template's create or update:
// a field left out keeps the template's value.
type templateInput struct {
	Name           *string            `json:"name"`
	Description    *string            `json:"description"`
	URL            *string            `json:"url"`
	Method         *string            `json:"method"`
	ContentType    *string            `json:"content_type"`
	Headers        *map[string]string `json:"headers"`
	PlainHeaders   *[]string          `json:"plain_headers"`
	BodyTemplate   optionalJSON       `json:"body_template"`
	TemplateStrict *bool              `json:"template_strict"`
	TemplateSyntax *string            `json:"template_syntax"`
	PayloadFormat  *string            `json:"payload_format"`
	FlatEventKey   *string            `json:"flat_event_key"`
	Preset         *string            `json:"preset"`
	PresetOptions  *optionsInput      `json:"preset_options"`
}

// applyTo validates and copies the given fields onto t, checking its
// request shape as an endpoint's would be; the URL may be left for each
// endpoint to set.
func (in *templateInput) applyTo(t *herald.EndpointTemplate, app *herald.App) *Error {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" || len(name) > maxNameLen {
			return errInvalid("name", "name must be 1 to %d characters", maxNameLen)
		}
		t.Name = name
	}
	if t.Name == "" {
		return errRequired("name")
	}
	// The shape goes through an endpoint's checks, so that a template
	// is refused for what an endpoint would be.
	ep := &herald.Endpoint{Kind: herald.EndpointPush, URL: t.URL, Description: t.Description, RequestShape: t.RequestShape}
	ein := endpointInput{URL: in.URL, Description: in.Description, Method: in.Method, ContentType: in.ContentType,
		Headers: in.Headers, PlainHeaders: in.PlainHeaders, BodyTemplate: in.BodyTemplate, TemplateStrict: in.TemplateStrict,
		TemplateSyntax: in.TemplateSyntax, PayloadFormat: in.PayloadFormat, FlatEventKey: in.FlatEventKey,
		Preset: in.Preset, PresetOptions: in.PresetOptions}
	if e := ein.applyTo(ep, app, herald.TenantCeilings{}, nil); e != nil {
		if e.Field != "url" || ep.URL != "" || e.Code != CodeRequired {
			return e
		}
		// The URL is left to the endpoints: the rest is checked with a
		// stand-in.
		probe := *ep
		probe.URL = "https://endpoint.invalid/"
		if _, e := compileEndpoint(&probe, app); e != nil {
			return e
		}
		if e := checkPlainHeaders(ep, ep.Headers); e != nil {
			return e
		}
	}
	t.URL, t.Description, t.RequestShape = ep.URL, ep.Description, ep.RequestShape
	return nil
}

// templateView is a template as the API shows it: header values and
// secret preset options masked, as an endpoint's are.
func viewTemplate(t *herald.EndpointTemplate) herald.EndpointTemplate {
	v := *t
	v.Headers = herald.MaskHeaders(t.Headers, t.PlainHeaders)
	if v.Headers == nil {
		v.Headers = map[string]string{}
	}
	if v.PlainHeaders == nil {
		v.PlainHeaders = []string{}
	}
	v.PresetOptions = map[string]string{}
	for k, val := range t.PresetOptions {
		if herald.SecretOption(k) {
			val = herald.Mask(val)
		}
		v.PresetOptions[k] = val
	}
	return v
}

func (s *Server) template(r *http.Request) (*herald.EndpointTemplate, *herald.App, *Error) {
	a, e := s.app(r)
	if e != nil {
		return nil, nil, e
	}
	t, err := s.st.EndpointTemplateGet(r.Context(), a.ID, r.PathValue("id"))
	if err != nil {
		return nil, nil, storeError(err, "endpoint template")
	}
	return t, a, nil
}

func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	var in templateInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	n, err := s.st.EndpointTemplateList(r.Context(), a.ID, store.ListParams{Limit: herald.MaxEndpointTemplates})
	if err != nil {
		return storeError(err, "endpoint template")
	}
	if len(n) >= herald.MaxEndpointTemplates {
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeLimitExceeded,
			Message: fmt.Sprintf("the app already has %d endpoint templates, the most it may have", len(n))}
	}
	t := &herald.EndpointTemplate{ID: herald.NewID(herald.PrefixEndpointTemplate), AppID: a.ID}
	if e := in.applyTo(t, a); e != nil {
		return e
	}
	t.CreatedAt = s.o.Now().UTC()
	t.UpdatedAt = t.CreatedAt
	if err := s.st.EndpointTemplateCreate(r.Context(), t); err != nil {
		return storeError(err, "endpoint template")
	}
	s.audit(r, a.ID, "endpoint_template.create", t.ID, nil)
	writeJSON(w, http.StatusCreated, viewTemplate(t))
	return nil
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) *Error {
	t, _, e := s.template(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, viewTemplate(t))
	return nil
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	p, e := listParams(r)
	if e != nil {
		return e
	}
	pg, err := fetchPage(p, func(p store.ListParams) ([]*herald.EndpointTemplate, error) {
		return s.st.EndpointTemplateList(r.Context(), a.ID, p)
	}, func(t *herald.EndpointTemplate) string { return t.ID })
	if err != nil {
		return storeError(err, "endpoint template")
	}
	out := page[herald.EndpointTemplate]{Data: make([]herald.EndpointTemplate, len(pg.Data)), NextCursor: pg.NextCursor}
	for i, t := range pg.Data {
		out.Data[i] = viewTemplate(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// templateUsers returns the app's endpoints that reference template id.
func (s *Server) templateUsers(r *http.Request, appID, id string) ([]*herald.Endpoint, *Error) {
	var eps []*herald.Endpoint
	if err := s.eachEndpoint(r, appID, func(ep *herald.Endpoint) {
		if ep.EndpointTemplateID == id {
			eps = append(eps, ep)
		}
	}); err != nil {
		return nil, storeError(err, "endpoint")
	}
	return eps, nil
}

// templateChange is what a template's change does: the endpoints whose
// request changes, and one of them's request before and after.
type templateChange struct {
	DryRun    bool                    `json:"dry_run"`
	Template  herald.EndpointTemplate `json:"template"`
	Endpoints []string                `json:"endpoints"`
	Preview   *changePreview          `json:"preview"`
}

type changePreview struct {
	EndpointID string       `json:"endpoint_id"`
	EventType  string       `json:"event_type"`
	Before     *previewView `json:"before"`
	After      *previewView `json:"after"`
}

func (s *Server) updateTemplate(w http.ResponseWriter, r *http.Request) *Error {
	switch v := r.URL.Query().Get("dry_run"); v {
	case "", "false":
		return s.changeTemplate(w, r, false)
	case "true":
		return s.changeTemplate(w, r, true)
	default:
		return errQuery("dry_run", "dry_run must be true or false")
	}
}

func (s *Server) previewTemplateChange(w http.ResponseWriter, r *http.Request) *Error {
	return s.changeTemplate(w, r, true)
}

// changeTemplate applies a template's change to it and to every endpoint
// that references it (each keeping the fields it overrides), checking
// each endpoint as its own change would be; dryRun only reports.
func (s *Server) changeTemplate(w http.ResponseWriter, r *http.Request, dryRun bool) *Error {
	t, a, e := s.template(r)
	if e != nil {
		return e
	}
	var in templateInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Headers != nil {
		in.Headers = ptr(keepMasked(*in.Headers, t.Headers, func(name string) bool { return !herald.PlainHeader(name, t.PlainHeaders) }))
	}
	if in.PresetOptions != nil {
		in.PresetOptions = ptr(optionsInput(keepMasked(*in.PresetOptions, t.PresetOptions, herald.SecretOption)))
	}
	next := *t
	if e := in.applyTo(&next, a); e != nil {
		return e
	}
	users, e := s.templateUsers(r, a.ID, t.ID)
	if e != nil {
		return e
	}
	out := templateChange{DryRun: dryRun, Endpoints: []string{}}
	var changed []*herald.Endpoint
	for _, ep := range users {
		after := *ep
		herald.ApplyTemplate(&after, &next)
		if reflect.DeepEqual(after.RequestShape, ep.RequestShape) && after.URL == ep.URL {
			continue
		}
		if e := checkPull(&after); e != nil {
			e.Message = fmt.Sprintf("endpoint %s: %s", ep.ID, e.Message)
			return e
		}
		if _, e := compileEndpoint(&after, a); e != nil {
			e.Message = fmt.Sprintf("endpoint %s would not be valid with this change: %s", ep.ID, e.Message)
			return e
		}
		if e := s.checkDestinations(&after, a); e != nil {
			e.Message = fmt.Sprintf("endpoint %s: %s", ep.ID, e.Message)
			return e
		}
		out.Endpoints = append(out.Endpoints, ep.ID)
		changed = append(changed, &after)
		if out.Preview == nil {
			out.Preview = s.changePreview(r, a, ep, &after)
		}
	}
	if dryRun {
		out.Template = viewTemplate(&next)
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	now := s.o.Now().UTC()
	next.UpdatedAt = now
	if err := s.st.EndpointTemplateUpdate(r.Context(), &next); err != nil {
		return storeError(err, "endpoint template")
	}
	// Each endpoint's new version invalidates what delivery cached of
	// its request (keyed on UpdatedAt).
	for _, ep := range changed {
		ep.UpdatedAt = now
		if err := s.st.EndpointUpdate(r.Context(), ep); err != nil {
			return storeError(err, "endpoint")
		}
		s.eng.EndpointChanged(ep)
	}
	s.audit(r, a.ID, "endpoint_template.update", t.ID, map[string]any{"endpoints": out.Endpoints})
	writeJSON(w, http.StatusOK, viewTemplate(&next))
	return nil
}

// changePreview renders one endpoint's request before and after a
// template's change, for its first exact event type with the type's
// sample; nil when it has none or a side cannot be rendered.
func (s *Server) changePreview(r *http.Request, a *herald.App, before, after *herald.Endpoint) *changePreview {
	et := ""
	for _, t := range before.EventTypes {
		if !strings.HasPrefix(t, "group:") && !strings.HasSuffix(t, "*") {
			et = t
			break
		}
	}
	if et == "" {
		return nil
	}
	p := &changePreview{EndpointID: before.ID, EventType: et}
	// The changed endpoint has the saved one's id and version, by which
	// delivery caches a compiled request: without an id it is compiled
	// afresh, as an unsaved endpoint's preview is.
	fresh := *after
	fresh.ID = ""
	for _, side := range []struct {
		ep  *herald.Endpoint
		out **previewView
	}{{before, &p.Before}, {&fresh, &p.After}} {
		v, e := s.renderPreview(r, a, side.ep, et)
		if e != nil {
			return nil
		}
		*side.out = v
	}
	return p
}

func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request) *Error {
	t, a, e := s.template(r)
	if e != nil {
		return e
	}
	users, e := s.templateUsers(r, a.ID, t.ID)
	if e != nil {
		return e
	}
	if len(users) > 0 {
		ids := make([]string, len(users))
		for i, ep := range users {
			ids[i] = ep.ID
		}
		slices.Sort(ids)
		return &Error{Status: http.StatusConflict, Code: CodeConflict,
			Message: fmt.Sprintf("endpoint template %s is in use by %d endpoints: %s; detach them first (PATCH each with \"endpoint_template_id\": null)", t.ID, len(ids), strings.Join(ids, ", "))}
	}
	if err := s.st.EndpointTemplateDelete(r.Context(), a.ID, t.ID); err != nil {
		return storeError(err, "endpoint template")
	}
	s.audit(r, a.ID, "endpoint_template.delete", t.ID, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func ptr[T any](v T) *T { return &v }

// resolveTemplate reads the template an endpoint input names (or, when it
// names none, the one the endpoint already references) for applyTo.
func (s *Server) resolveTemplate(r *http.Request, a *herald.App, ep *herald.Endpoint, in *endpointInput) *Error {
	id := ep.EndpointTemplateID
	if in.EndpointTemplateID.set {
		id = ""
		if in.EndpointTemplateID.raw != nil {
			if err := json.Unmarshal(in.EndpointTemplateID.raw, &id); err != nil {
				return errInvalid("endpoint_template_id", "endpoint_template_id must be a string (or null to detach the template)")
			}
		}
		in.templateID = &id
	}
	if id == "" {
		return nil
	}
	t, err := s.st.EndpointTemplateGet(r.Context(), a.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalid("endpoint_template_id", "endpoint template %q is not one of the app's", id)
	}
	if err != nil {
		return storeError(err, "endpoint template")
	}
	in.template = t
	return nil
}
