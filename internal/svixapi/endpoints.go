package svixapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

func (h *Handler) endpointRoutes() {
	const ep = "/api/v1/app/{app_id}/endpoint/{endpoint_id}"
	h.handle("POST /api/v1/app/{app_id}/endpoint", h.createEndpoint)
	h.handle("GET /api/v1/app/{app_id}/endpoint", h.listEndpoints)
	h.handle("GET "+ep, h.getEndpoint)
	h.handle("PUT "+ep, h.putEndpoint)
	h.handle("PATCH "+ep, h.patchEndpoint)
	h.handle("DELETE "+ep, h.deleteEndpoint)
	h.handle("GET "+ep+"/secret", h.getEndpointSecret)
	h.handle("POST "+ep+"/secret/rotate", h.rotateEndpointSecret)
	h.handle("GET "+ep+"/headers", h.getEndpointHeaders)
	h.handle("PUT "+ep+"/headers", h.putEndpointHeaders)
	h.handle("PATCH "+ep+"/headers", h.patchEndpointHeaders)
	h.handle("POST "+ep+"/recover", h.recoverEndpoint)
	h.handle("POST "+ep+"/replay-missing", h.replayMissing)
	h.handle("POST "+ep+"/send-example", h.sendExample)
	h.handle("GET "+ep+"/stats", h.endpointStats)
	h.unsupported("GET "+ep+"/transformation", "reading an endpoint's transformation",
		"Herald has no JavaScript transformations; it shapes requests with body templates (docs/templates.md)")
	h.unsupported("PATCH "+ep+"/transformation", "changing an endpoint's transformation",
		"Herald has no JavaScript transformations; it shapes requests with body templates (docs/templates.md)")
	h.unsupported("POST "+ep+"/bulk-replay", "bulk replay of an endpoint's messages",
		"use recover (failed deliveries again) or replay-missing (events the endpoint never got)")
}

// endpointFields locates Herald's errors about an endpoint in Svix's
// terms.
var endpointFields = map[string]string{
	"event_types": "filterTypes", "enabled": "disabled", "rate_limit": "rateLimit",
	"secret": "secret", "grace_period": "gracePeriodSeconds",
}

// heraldEndpoint is an endpoint as Herald's API answers it (the fields
// used here).
type heraldEndpoint struct {
	ID           string            `json:"id"`
	AppID        string            `json:"app_id"`
	UID          *string           `json:"uid"`
	URL          string            `json:"url"`
	Description  string            `json:"description"`
	EventTypes   []string          `json:"event_types"`
	Channels     []string          `json:"channels"`
	Enabled      bool              `json:"enabled"`
	Headers      map[string]string `json:"headers"`
	PlainHeaders []string          `json:"plain_headers"`
	RateLimit    float64           `json:"rate_limit"`
	Metadata     map[string]string `json:"metadata"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

// endpointOut is Svix's EndpointOut, with both generations' names of
// the subscriptions (filterTypes, eventTypes) and of the rate limit
// (rateLimit, throttleRate).
type endpointOut struct {
	ID           string            `json:"id"`
	UID          *string           `json:"uid"`
	URL          string            `json:"url"`
	Description  string            `json:"description"`
	Version      int               `json:"version"`
	Disabled     bool              `json:"disabled"`
	FilterTypes  []string          `json:"filterTypes"`
	EventTypes   []string          `json:"eventTypes"`
	Channels     []string          `json:"channels"`
	RateLimit    *float64          `json:"rateLimit"`
	ThrottleRate *float64          `json:"throttleRate"`
	Metadata     map[string]string `json:"metadata"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
}

func toEndpointOut(ep heraldEndpoint) endpointOut {
	out := endpointOut{ID: ep.ID, UID: ep.UID, URL: ep.URL, Description: ep.Description, Version: 1,
		Disabled: !ep.Enabled, Metadata: ep.Metadata, CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt}
	if len(ep.EventTypes) > 0 {
		out.FilterTypes, out.EventTypes = ep.EventTypes, ep.EventTypes
	}
	if len(ep.Channels) > 0 {
		out.Channels = ep.Channels
	}
	if ep.RateLimit > 0 {
		rl := ep.RateLimit
		out.RateLimit, out.ThrottleRate = &rl, &rl
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	return out
}

// endpointIn is Svix's EndpointIn, EndpointUpdate (EndpointUpsertIn) and
// EndpointPatch, both generations.
type endpointIn struct {
	URL          opt[string]            `json:"url"`
	Description  opt[string]            `json:"description"`
	UID          opt[string]            `json:"uid"`
	Version      opt[int]               `json:"version"`
	Disabled     opt[bool]              `json:"disabled"`
	FilterTypes  opt[[]string]          `json:"filterTypes"`
	EventTypes   opt[[]string]          `json:"eventTypes"`
	Channels     opt[[]string]          `json:"channels"`
	Secret       opt[string]            `json:"secret"`
	RateLimit    opt[float64]           `json:"rateLimit"`
	ThrottleRate opt[float64]           `json:"throttleRate"`
	Metadata     opt[map[string]string] `json:"metadata"`
	Headers      opt[map[string]string] `json:"headers"`
}

// endpointWrite says which operation an endpointIn is for.
type endpointWrite int

const (
	writeCreate endpointWrite = iota
	writeReplace
	writePatch
)

// body checks the input and returns Herald's EndpointInput. cur is the
// endpoint replaced (writeReplace), whose channels and metadata are
// cleared when not given.
func (in *endpointIn) body(kind endpointWrite, cur *heraldEndpoint) (map[string]any, *Error) {
	if kind != writePatch && (!in.URL.value() || in.URL.V == "") {
		return nil, invalid("body", "url", "url is required")
	}
	for _, f := range []struct {
		name string
		null bool
	}{{"url", in.URL.Null}, {"description", in.Description.Null}, {"disabled", in.Disabled.Null}, {"metadata", in.Metadata.Null}} {
		if f.null {
			return nil, invalid("body", f.name, f.name+" cannot be null")
		}
	}
	if in.Version.value() && in.Version.V != 1 {
		return nil, invalid("body", "version", "version must be 1")
	}
	if kind == writeReplace && in.Secret.Set {
		return nil, invalid("body", "secret", "secret cannot be set by an update; rotate it (POST .../secret/rotate)")
	}
	if kind != writeCreate && in.Headers.Set {
		return nil, invalid("body", "headers", "headers are set with PUT or PATCH .../headers")
	}
	b := map[string]any{}
	if in.URL.value() {
		b["url"] = in.URL.V
	}
	if in.Description.value() {
		b["description"] = in.Description.V
	} else if kind == writeReplace {
		b["description"] = ""
	}
	if in.UID.Set {
		if !in.UID.Null || kind != writeCreate {
			b["uid"] = in.UID.V
		}
	}
	if in.Disabled.value() {
		b["enabled"] = !in.Disabled.V
	} else if kind == writeReplace {
		b["enabled"] = true
	}
	types, e := subscriptions(in.FilterTypes, in.EventTypes)
	if e != nil {
		return nil, e
	}
	if types != nil {
		b["event_types"] = *types
	} else if kind == writeReplace {
		b["event_types"] = []string{}
	}
	if in.Channels.Set {
		if in.Channels.V == nil {
			in.Channels.V = []string{}
		}
		if kind != writeCreate || len(in.Channels.V) > 0 {
			b["channels"] = in.Channels.V
		}
	} else if kind == writeReplace && cur != nil && len(cur.Channels) > 0 {
		b["channels"] = []string{}
	}
	if in.Secret.value() {
		secret, e := svixSecret("secret", in.Secret.V)
		if e != nil {
			return nil, e
		}
		b["secret"] = secret
	}
	rate, e := rateLimit(in.RateLimit, in.ThrottleRate)
	if e != nil {
		return nil, e
	}
	if rate != nil {
		b["rate_limit"] = *rate
	} else if kind == writeReplace {
		b["rate_limit"] = 0
	}
	if in.Metadata.value() {
		b["metadata"] = in.Metadata.V
	} else if kind == writeReplace && cur != nil && len(cur.Metadata) > 0 {
		b["metadata"] = map[string]string{}
	}
	if in.Headers.value() && len(in.Headers.V) > 0 {
		b["headers"] = in.Headers.V
		b["plain_headers"] = plainHeaders(in.Headers.V)
	}
	if kind == writeCreate {
		// Svix sends the message's payload as the body itself.
		b["payload_format"] = "raw"
	}
	return b, nil
}

// subscriptions merges 1.x's filterTypes and 2.x's eventTypes: either
// may be given, both only when they agree; null (or []) means every
// event type. nil: neither given.
func subscriptions(filterTypes, eventTypes opt[[]string]) (*[]string, *Error) {
	if !filterTypes.Set && !eventTypes.Set {
		return nil, nil
	}
	if filterTypes.Set && eventTypes.Set && !sameSet(filterTypes.V, eventTypes.V) {
		return nil, invalid("body", "eventTypes", "filterTypes and eventTypes are two names of one setting: give one, or give both equal")
	}
	v := filterTypes.V
	if !filterTypes.Set {
		v = eventTypes.V
	}
	if v == nil {
		v = []string{}
	}
	return &v, nil
}

func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// rateLimit merges 1.x's rateLimit and 2.x's throttleRate (requests per
// second); null means none (0). nil: neither given.
func rateLimit(a, b opt[float64]) (*float64, *Error) {
	if !a.Set && !b.Set {
		return nil, nil
	}
	if a.Set && b.Set && (a.Null != b.Null || a.V != b.V) {
		return nil, invalid("body", "throttleRate", "rateLimit and throttleRate are two names of one setting: give one, or give both equal")
	}
	v := a
	if !a.Set {
		v = b
	}
	out := 0.0
	if v.value() {
		if v.V <= 0 {
			return nil, invalid("body", "rateLimit", "rateLimit must be a positive number of requests per second, or null for none")
		}
		out = v.V
	}
	return &out, nil
}

// svixSecretRE is the form of a secret Svix takes: base64 of the key,
// with or without whsec_ in front.
var svixSecretRE = regexp.MustCompile(`^(whsec_)?[a-zA-Z0-9+/=]{32,100}$`)

// svixSecret checks a secret given in Svix's form and returns it as
// Herald's whsec_ secret (the same key).
func svixSecret(field, s string) (string, *Error) {
	if !svixSecretRE.MatchString(s) {
		return "", invalid("body", field, field+" must be a whsec_ secret: whsec_ and 32 to 100 base64 characters")
	}
	if !strings.HasPrefix(s, "whsec_") {
		s = "whsec_" + s
	}
	return s, nil
}

// plainHeaders lists the header names whose values Herald may show:
// every one but those named like a credential, which Svix calls
// sensitive.
func plainHeaders(hs map[string]string) []string {
	out := []string{}
	for k := range hs {
		if !herald.SecretHeader(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func epPath(r *http.Request, rest ...string) string {
	parts := append([]string{"/v1/apps/", r.PathValue("app_id"), "/endpoints/", r.PathValue("endpoint_id")}, rest...)
	return path(parts...)
}

// createEndpoint answers POST /api/v1/app/{app_id}/endpoint (201).
func (h *Handler) createEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in endpointIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	b, e := in.body(writeCreate, nil)
	if e != nil {
		return e
	}
	var ep heraldEndpoint
	if _, e := h.do(r, call{Method: http.MethodPost, Path: path("/v1/apps/", r.PathValue("app_id"), "/endpoints"), Body: b, Fields: endpointFields}, &ep); e != nil {
		return e
	}
	writeJSON(w, http.StatusCreated, toEndpointOut(ep))
	return nil
}

// listEndpoints answers GET /api/v1/app/{app_id}/endpoint.
func (h *Handler) listEndpoints(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r, "limit", "iterator", "order"); e != nil {
		return e
	}
	q, e := listQuery(r)
	if e != nil {
		return e
	}
	var p heraldPage[heraldEndpoint]
	if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", r.PathValue("app_id"), "/endpoints"), Query: q, Fields: map[string]string{"cursor": "iterator"}}, &p); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, page(p, toEndpointOut))
	return nil
}

// findEndpoint reads the endpoint of the path (found is false with the
// error).
func (h *Handler) findEndpoint(r *http.Request) (heraldEndpoint, bool, *Error) {
	var ep heraldEndpoint
	if _, e := h.do(r, call{Method: http.MethodGet, Path: epPath(r)}, &ep); e != nil {
		return ep, false, e
	}
	return ep, true, nil
}

// getEndpoint answers GET .../endpoint/{endpoint_id} (id or uid).
func (h *Handler) getEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	ep, _, e := h.findEndpoint(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toEndpointOut(ep))
	return nil
}

// putEndpoint answers PUT .../endpoint/{endpoint_id}, an upsert: 200
// replaced (what is not given is reset), or 201 created with the path's
// value as uid. Herald chooses its ids: a path holding an id (ep_…) of
// no endpoint answers 404.
func (h *Handler) putEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in endpointIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	ref := r.PathValue("endpoint_id")
	cur, found, e := h.findEndpoint(r)
	if e != nil && (e.Status != http.StatusNotFound || strings.HasPrefix(ref, "ep_")) {
		return e
	}
	if !found {
		// The app must exist: only the endpoint may be missing.
		if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", r.PathValue("app_id"))}, nil); e != nil {
			return e
		}
	}
	if !found {
		b, e := in.body(writeCreate, nil)
		if e != nil {
			return e
		}
		if !in.UID.value() || in.UID.V == "" {
			b["uid"] = ref
		}
		var ep heraldEndpoint
		if _, e := h.do(r, call{Method: http.MethodPost, Path: path("/v1/apps/", r.PathValue("app_id"), "/endpoints"), Body: b, Fields: endpointFields}, &ep); e != nil {
			return e
		}
		writeJSON(w, http.StatusCreated, toEndpointOut(ep))
		return nil
	}
	b, e := in.body(writeReplace, &cur)
	if e != nil {
		return e
	}
	var ep heraldEndpoint
	if _, e := h.do(r, call{Method: http.MethodPatch, Path: path("/v1/apps/", cur.AppID, "/endpoints/", cur.ID), Body: b, Fields: endpointFields}, &ep); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toEndpointOut(ep))
	return nil
}

// patchEndpoint answers PATCH .../endpoint/{endpoint_id}: the fields
// given.
func (h *Handler) patchEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in endpointIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	b, e := in.body(writePatch, nil)
	if e != nil {
		return e
	}
	var ep heraldEndpoint
	if _, e := h.do(r, call{Method: http.MethodPatch, Path: epPath(r), Body: b, Fields: endpointFields}, &ep); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, toEndpointOut(ep))
	return nil
}

// deleteEndpoint answers DELETE .../endpoint/{endpoint_id} (204).
func (h *Handler) deleteEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	if _, e := h.do(r, call{Method: http.MethodDelete, Path: epPath(r)}, nil); e != nil {
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getEndpointSecret answers GET .../secret: {key}.
func (h *Handler) getEndpointSecret(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var s struct {
		Secret string `json:"secret"`
	}
	if _, e := h.do(r, call{Method: http.MethodGet, Path: epPath(r, "/secret")}, &s); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, map[string]string{"key": s.Secret})
	return nil
}

// rotateEndpointSecret answers POST .../secret/rotate (204) with
// Herald's rotation: the old secret keeps signing for the grace period
// (Herald's default 24 h; gracePeriodSeconds up to 30 days).
func (h *Handler) rotateEndpointSecret(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in struct {
		Key                opt[string] `json:"key"`
		GracePeriodSeconds opt[int64]  `json:"gracePeriodSeconds"`
	}
	if r.ContentLength != 0 {
		if e := h.decode(w, r, &in); e != nil {
			return e
		}
	}
	b := map[string]any{}
	if in.Key.value() {
		secret, e := svixSecret("key", in.Key.V)
		if e != nil {
			return e
		}
		b["secret"] = secret
	}
	if in.GracePeriodSeconds.value() {
		if in.GracePeriodSeconds.V < 0 || in.GracePeriodSeconds.V > 720*3600 {
			return invalid("body", "gracePeriodSeconds", "gracePeriodSeconds must be from 0 to 2592000 (30 days)")
		}
		b["grace_period"] = (time.Duration(in.GracePeriodSeconds.V) * time.Second).String()
	}
	fields := map[string]string{"secret": "key", "grace_period": "gracePeriodSeconds"}
	if _, e := h.do(r, call{Method: http.MethodPost, Path: epPath(r, "/secret/rotate"), Body: b, Fields: fields}, nil); e != nil {
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// headersOut is Svix's EndpointHeadersOut: the values of the headers
// Herald shows (plain_headers), and the names of those it masks.
type headersOut struct {
	Headers   map[string]string `json:"headers"`
	Sensitive []string          `json:"sensitive"`
}

// getEndpointHeaders answers GET .../headers.
func (h *Handler) getEndpointHeaders(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	ep, _, e := h.findEndpoint(r)
	if e != nil {
		return e
	}
	out := headersOut{Headers: map[string]string{}, Sensitive: []string{}}
	for k, v := range ep.Headers {
		if slices.ContainsFunc(ep.PlainHeaders, func(p string) bool { return strings.EqualFold(p, k) }) {
			out.Headers[k] = v
		} else {
			out.Sensitive = append(out.Sensitive, k)
		}
	}
	slices.Sort(out.Sensitive)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// putEndpointHeaders answers PUT .../headers (204): the endpoint's
// custom headers become those given.
func (h *Handler) putEndpointHeaders(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in struct {
		Headers opt[map[string]string] `json:"headers"`
	}
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if !in.Headers.value() {
		return invalid("body", "headers", "headers is required")
	}
	hs := in.Headers.V
	if hs == nil {
		hs = map[string]string{}
	}
	return h.setHeaders(w, r, hs)
}

func (h *Handler) setHeaders(w http.ResponseWriter, r *http.Request, hs map[string]string) *Error {
	b := map[string]any{"headers": hs, "plain_headers": plainHeaders(hs)}
	if _, e := h.do(r, call{Method: http.MethodPatch, Path: epPath(r), Body: b}, nil); e != nil {
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchEndpointHeaders answers PATCH .../headers (204): the headers
// given are set, those named in deleteHeaders (or given as null) are
// removed, the others stay.
func (h *Handler) patchEndpointHeaders(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in struct {
		Headers       opt[map[string]*string] `json:"headers"`
		DeleteHeaders opt[[]string]           `json:"deleteHeaders"`
	}
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if !in.Headers.value() {
		return invalid("body", "headers", "headers is required")
	}
	ep, _, e := h.findEndpoint(r)
	if e != nil {
		return e
	}
	// Herald shows masked values (and takes them back as "unchanged"):
	// the headers left alone keep their stored values.
	hs := map[string]string{}
	for k, v := range ep.Headers {
		hs[k] = v
	}
	drop := func(name string) {
		for k := range hs {
			if strings.EqualFold(k, name) {
				delete(hs, k)
			}
		}
	}
	for _, name := range in.DeleteHeaders.V {
		drop(name)
	}
	for k, v := range in.Headers.V {
		drop(k)
		if v != nil {
			hs[k] = *v
		}
	}
	// Names Herald shows stay shown; new ones follow plainHeaders.
	plain := []string{}
	for k := range hs {
		wasPlain := slices.ContainsFunc(ep.PlainHeaders, func(p string) bool { return strings.EqualFold(p, k) })
		_, given := in.Headers.V[k]
		if (given || wasPlain) && !herald.SecretHeader(k) {
			plain = append(plain, k)
		}
	}
	slices.Sort(plain)
	b := map[string]any{"headers": hs, "plain_headers": plain}
	if _, e := h.do(r, call{Method: http.MethodPatch, Path: epPath(r), Body: b}, nil); e != nil {
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// windowIn is Svix's RecoverIn and ReplayIn.
type windowIn struct {
	Since opt[string] `json:"since"`
	Until opt[string] `json:"until"`
}

func (in *windowIn) check() *Error {
	if !in.Since.value() || in.Since.V == "" {
		return invalid("body", "since", "since is required")
	}
	if _, err := time.Parse(time.RFC3339Nano, in.Since.V); err != nil {
		return invalid("body", "since", "since must be an ISO 8601 time such as 2026-01-02T15:04:05Z")
	}
	if in.Until.value() {
		if _, err := time.Parse(time.RFC3339Nano, in.Until.V); err != nil {
			return invalid("body", "until", "until must be an ISO 8601 time such as 2026-01-02T15:04:05Z")
		}
	}
	return nil
}

// recoverEndpoint answers POST .../recover (202) with Herald's
// recovery of the endpoint's failed deliveries in the window, a
// background job followed with GET /api/v1/background-task/{task_id}.
func (h *Handler) recoverEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in windowIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if e := in.check(); e != nil {
		return e
	}
	b := map[string]any{"since": in.Since.V}
	if in.Until.value() {
		b["until"] = in.Until.V
	}
	var j heraldJob
	if _, e := h.do(r, call{Method: http.MethodPost, Path: epPath(r, "/recover"), Body: b}, &j); e != nil {
		return e
	}
	t := toTask(j)
	writeJSON(w, http.StatusAccepted, taskRef{ID: t.ID, Status: t.Status, Task: t.Task, UpdatedAt: t.UpdatedAt})
	return nil
}

// Bounds of replay-missing, which reads the window's events and the
// endpoint's deliveries through Herald's lists.
const (
	maxReplayEvents     = 10000
	maxReplayDeliveries = 50000
	sendBatch           = 1000
)

// heraldEvent is an event as Herald's lists answer it (the fields used
// here).
type heraldEvent struct {
	ID        string          `json:"id"`
	EventType string          `json:"event_type"`
	Payload   json.RawMessage `json:"payload"`
	Channels  []string        `json:"channels"`
	CreatedAt time.Time       `json:"created_at"`
}

// replayMissing answers POST .../replay-missing (202): the app's events
// of the window that the endpoint subscribes to (event types and
// channels) and never got a delivery of are sent to it now with
// Herald's manual send. It is done when the answer comes: its task is
// finished, and its id carries how many were sent.
func (h *Handler) replayMissing(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in windowIn
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if e := in.check(); e != nil {
		return e
	}
	ep, _, e := h.findEndpoint(r)
	if e != nil {
		return e
	}
	appPath := path("/v1/apps/", ep.AppID)
	// The window's events, at most maxReplayEvents.
	q := queryOf(map[string]string{"since": in.Since.V, "limit": "250"})
	if in.Until.value() {
		q.Set("until", in.Until.V)
	}
	var events []heraldEvent
	for {
		var p heraldPage[heraldEvent]
		if _, e := h.do(r, call{Method: http.MethodGet, Path: appPath + "/events", Query: q}, &p); e != nil {
			return e
		}
		events = append(events, p.Data...)
		if len(events) > maxReplayEvents {
			return invalid("body", "since", "the window holds more than 10000 events: replay a smaller one (since/until)")
		}
		if p.NextCursor == nil {
			break
		}
		q.Set("cursor", *p.NextCursor)
	}
	// The events the endpoint already has a delivery of: its deliveries
	// made since the window began (a later manual send included).
	had := map[string]bool{}
	dq := queryOf(map[string]string{"since": in.Since.V, "limit": "250", "include_attempts": "false"})
	for n := 0; ; {
		var p heraldPage[struct {
			EventID string `json:"event_id"`
		}]
		if _, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/apps/", ep.AppID, "/endpoints/", ep.ID, "/deliveries"), Query: dq}, &p); e != nil {
			return e
		}
		for _, d := range p.Data {
			had[d.EventID] = true
		}
		n += len(p.Data)
		if n > maxReplayDeliveries {
			return invalid("body", "since", "the endpoint has more than 50000 deliveries since then: replay a smaller window")
		}
		if p.NextCursor == nil {
			break
		}
		dq.Set("cursor", *p.NextCursor)
	}
	groups := map[string]string{}
	var missing []string
	for i := len(events) - 1; i >= 0; i-- { // oldest first
		ev := events[i]
		if had[ev.ID] || strings.HasPrefix(ev.EventType, herald.OperationalPrefix) {
			continue
		}
		ok, e := h.subscribes(r, ep, ev, groups)
		if e != nil {
			return e
		}
		if ok {
			missing = append(missing, ev.ID)
		}
	}
	for start := 0; start < len(missing); start += sendBatch {
		batch := missing[start:min(start+sendBatch, len(missing))]
		if _, e := h.do(r, call{Method: http.MethodPost, Path: path("/v1/apps/", ep.AppID, "/endpoints/", ep.ID, "/send"),
			Body: map[string]any{"event_ids": batch}}, nil); e != nil {
			return e
		}
	}
	now := time.Now().UTC()
	writeJSON(w, http.StatusAccepted, taskRef{ID: replayTaskID(ep.AppID, len(missing), now), Status: "finished", Task: "endpoint.replay", UpdatedAt: now})
	return nil
}

// subscribes says whether the endpoint takes the event: its event types
// (names, wildcards, groups) and its channels. groups caches event
// types' groups.
func (h *Handler) subscribes(r *http.Request, ep heraldEndpoint, ev heraldEvent, groups map[string]string) (bool, *Error) {
	if len(ep.Channels) > 0 && !slices.ContainsFunc(ev.Channels, func(c string) bool { return slices.Contains(ep.Channels, c) }) {
		return false, nil
	}
	if len(ep.EventTypes) == 0 {
		return true, nil
	}
	group, ok := groups[ev.EventType]
	if !ok && slices.ContainsFunc(ep.EventTypes, func(s string) bool { return strings.HasPrefix(s, "group:") }) {
		var et heraldEventType
		status, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/event-types/", ev.EventType)}, &et)
		if e != nil && status != http.StatusNotFound {
			return false, e
		}
		group = et.Group
		groups[ev.EventType] = group
	}
	for _, s := range ep.EventTypes {
		if herald.SubscriptionMatches(s, ev.EventType, group) {
			return true, nil
		}
	}
	return false, nil
}

// sendExample answers POST .../send-example (202) with Herald's test
// send of the event type's example: the schema's examples[exampleIndex],
// else (index 0) the catalog's sample. The answer is the message sent.
func (h *Handler) sendExample(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in struct {
		EventType    opt[string] `json:"eventType"`
		ExampleIndex opt[int]    `json:"exampleIndex"`
	}
	if e := h.decode(w, r, &in); e != nil {
		return e
	}
	if !in.EventType.value() || in.EventType.V == "" {
		return invalid("body", "eventType", "eventType is required")
	}
	idx := 0
	if in.ExampleIndex.value() {
		idx = in.ExampleIndex.V
	}
	if idx < 0 {
		return invalid("body", "exampleIndex", "exampleIndex must be 0 or more")
	}
	// The endpoint first: a caller who cannot see it learns nothing more.
	if _, _, e := h.findEndpoint(r); e != nil {
		return e
	}
	var et heraldEventType
	status, e := h.do(r, call{Method: http.MethodGet, Path: path("/v1/event-types/", in.EventType.V)}, &et)
	if e != nil {
		if status == http.StatusNotFound {
			return invalid("body", "eventType", "no event type "+in.EventType.V)
		}
		return e
	}
	var withExamples struct {
		Examples []json.RawMessage `json:"examples"`
	}
	_ = json.Unmarshal(et.Schema, &withExamples)
	var payload json.RawMessage
	switch {
	case idx < len(withExamples.Examples):
		payload = withExamples.Examples[idx]
	case idx == 0 && len(et.Sample) > 0 && string(et.Sample) != "null":
		payload = et.Sample
	default:
		return invalid("body", "exampleIndex", "the event type has no example at this index (its schema's examples, or Herald's sample)")
	}
	var res struct {
		Delivery struct {
			ID        string    `json:"id"`
			EventID   string    `json:"event_id"`
			EventType string    `json:"event_type"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"delivery"`
	}
	if _, e := h.do(r, call{Method: http.MethodPost, Path: epPath(r, "/test"),
		Body: map[string]any{"event_type": in.EventType.V, "payload": payload}, Fields: map[string]string{"event_type": "eventType", "payload": "exampleIndex"}}, &res); e != nil {
		return e
	}
	id := res.Delivery.EventID
	if id == "" {
		id = res.Delivery.ID
	}
	writeJSON(w, http.StatusAccepted, map[string]any{
		"id": id, "eventType": res.Delivery.EventType, "payload": payload, "timestamp": res.Delivery.CreatedAt,
		"channels": nil, "tags": nil, "eventId": nil,
	})
	return nil
}

// endpointStats answers GET .../stats from Herald's statistics of the
// last 7 days. Herald's windows are fixed: since and until are refused
// rather than ignored.
func (h *Handler) endpointStats(w http.ResponseWriter, r *http.Request) *Error {
	for _, f := range []string{"since", "until"} {
		if r.URL.Query().Has(f) {
			return invalid("query", f, f+" is not supported: Herald's endpoint statistics cover fixed windows (these counts: the last 7 days)")
		}
	}
	if e := known(r); e != nil {
		return e
	}
	var st struct {
		LastWeek struct {
			Pending   int `json:"pending"`
			Succeeded int `json:"succeeded"`
			Failed    int `json:"failed"`
		} `json:"last_week"`
	}
	if _, e := h.do(r, call{Method: http.MethodGet, Path: epPath(r, "/stats")}, &st); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, map[string]int{
		"success": st.LastWeek.Succeeded, "pending": st.LastWeek.Pending, "sending": 0,
		"fail": st.LastWeek.Failed, "canceled": 0,
	})
	return nil
}
