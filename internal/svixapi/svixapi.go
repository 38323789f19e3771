// Package svixapi answers Svix's API (/api/v1/…) so that programs written
// for Svix, with any of its clients, run against Herald by changing the
// server URL. It holds no state and reaches no store: each Svix operation
// is translated into calls of Herald's own API, made in process with the
// caller's credentials, and their answers are translated back. So every
// rule of Herald's API (authentication, tenant scopes, limits, rate
// limits, validation, audit) holds here as it does there, and the two
// can never disagree.
//
// Svix's names are camelCase, its lists are {data, iterator,
// prevIterator, done}, and its errors are {code, detail}, or for invalid
// input (422) {detail: [{loc, msg, type}]}. Operations Herald cannot
// honour answer 501 naming the operation. docs/svix.md is the table of
// what maps to what.
package svixapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
)

// Prefix is the path under which Svix's API is served.
const Prefix = "/api/v1/"

// Options configure the Svix-compatible API.
type Options struct {
	// MaxBodyBytes caps request bodies; larger ones get 413. 0: 1 MiB.
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Handler serves Svix's API over Herald's own.
type Handler struct {
	herald http.Handler
	mux    *http.ServeMux
	o      Options
	log    *slog.Logger
}

// New returns the Svix-compatible API over herald, the handler of
// Herald's own API (/v1/…).
func New(herald http.Handler, o Options) *Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{herald: herald, mux: http.NewServeMux(), o: o, log: o.Logger}
	h.routes()
	h.mux.HandleFunc(Prefix, h.wrap(func(w http.ResponseWriter, r *http.Request) *Error {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "no such route: " + r.Method + " " + r.URL.Path}
	}))
	return h
}

// ServeHTTP serves a Svix API request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// op is one Svix operation: it writes its answer, or returns the error to
// write.
type op func(w http.ResponseWriter, r *http.Request) *Error

// handle registers an operation; pattern is a method and a path of
// net/http's ServeMux, such as "GET /api/v1/app/{app_id}".
func (h *Handler) handle(pattern string, f op) {
	h.mux.HandleFunc(pattern, h.wrap(f))
}

// unsupported registers an operation of Svix's that Herald cannot honour:
// it answers 501 naming it and saying why, never a silent success.
func (h *Handler) unsupported(pattern, operation, why string) {
	h.handle(pattern, func(w http.ResponseWriter, r *http.Request) *Error {
		return &Error{Status: http.StatusNotImplemented, Code: "not_implemented",
			Detail: operation + " is not supported by Herald's Svix-compatible API: " + why}
	})
}

// wrap turns a returned error, or a panic, into Svix's JSON error body.
func (h *Handler) wrap(f op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				h.log.Error("panic in handler", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				writeError(w, &Error{Status: http.StatusInternalServerError, Code: "internal", Detail: "internal error"})
			}
		}()
		if e := f(w, r); e != nil {
			if e.Status >= 500 && e.Status != http.StatusNotImplemented && e.Status != http.StatusServiceUnavailable {
				h.log.Error("svix api request failed", "method", r.Method, "path", r.URL.Path, "error", e.Detail)
			}
			writeError(w, e)
		}
	}
}

// Error is a failed operation, written as Svix writes it.
type Error struct {
	Status int
	// Code and Detail are the body {"code", "detail"} of every error but
	// 422.
	Code, Detail string
	// Loc locates invalid input in a 422 answer (["body", "url"],
	// ["query", "limit"], ["path", "app_id"]); its body is then
	// {"detail": [{"loc", "msg": Detail, "type"}]}.
	Loc []string
	// RetryAfter is sent as the Retry-After header when not empty.
	RetryAfter string
}

func (e *Error) Error() string { return e.Detail }

// invalid is a 422 answer about one input.
func invalid(where, field, msg string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation", Detail: msg, Loc: []string{where, field}}
}

// notFound is Svix's 404.
func notFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Detail: what + " not found"}
}

type validationItem struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

func writeError(w http.ResponseWriter, e *Error) {
	if e.RetryAfter != "" {
		w.Header().Set("Retry-After", e.RetryAfter)
	}
	if e.Status == http.StatusUnprocessableEntity {
		loc := e.Loc
		if loc == nil {
			loc = []string{"body"}
		}
		writeJSON(w, e.Status, map[string][]validationItem{"detail": {{Loc: loc, Msg: e.Detail, Type: "value_error"}}})
		return
	}
	writeJSON(w, e.Status, map[string]string{"code": e.Code, "detail": e.Detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads a Svix request body into v. Fields Svix does not define
// are refused (422 naming them) rather than dropped.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) *Error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
				Detail: fmt.Sprintf("the request body is larger than %d bytes", h.o.MaxBodyBytes)}
		}
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "the request body could not be read"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return invalid("body", "", "the body holds more than one JSON value")
	}
	return nil
}

// jsonError locates a decoding failure.
func jsonError(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return invalid("body", typeErr.Field, fmt.Sprintf("%s must be of type %s", typeErr.Field, typeErr.Type))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "the body is not valid JSON: " + err.Error()}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return invalid("body", f, "unknown field "+strconv.Quote(f))
	}
	return invalid("body", "", err.Error())
}

// call is one request of Herald's API made on behalf of a Svix request.
type call struct {
	Method string
	// Path is Herald's path; segments taken from the caller are escaped
	// with url.PathEscape (see path).
	Path  string
	Query url.Values
	// Body, when not nil, is sent as JSON.
	Body any
	// Header adds headers (Idempotency-Key) to the caller's
	// Authorization.
	Header http.Header
	// Fields maps Herald's field names to Svix's where the camelCase of
	// the name is not Svix's (event_types → filterTypes), to locate
	// invalid input in Svix's terms.
	Fields map[string]string
}

// path joins a Herald path from literal parts and caller-given segments:
// path("/v1/apps/", appID, "/endpoints/", epID) escapes the odd ones.
func path(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			p = url.PathEscape(p)
		}
		b.WriteString(p)
	}
	return b.String()
}

// heraldError is the body of Herald's error answers.
type heraldError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// do makes c as the caller of r and decodes a successful answer into out
// (when not nil). It returns the answer's status, or the error to give
// the Svix caller, translated from Herald's.
func (h *Handler) do(r *http.Request, c call, out any) (int, *Error) {
	var body io.Reader = http.NoBody
	if c.Body != nil {
		// Without HTML escaping, so that a payload's strings reach Herald
		// (and receivers) as the caller wrote them.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(c.Body); err != nil {
			return 0, &Error{Status: http.StatusInternalServerError, Code: "internal", Detail: "internal error"}
		}
		body = &b
	}
	u := c.Path
	if len(c.Query) > 0 {
		u += "?" + c.Query.Encode()
	}
	req, err := http.NewRequestWithContext(r.Context(), c.Method, u, body)
	if err != nil {
		return 0, &Error{Status: http.StatusInternalServerError, Code: "internal", Detail: "internal error"}
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	if c.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := &recorder{header: http.Header{}}
	h.herald.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 400 {
		e := h.translate(rec, c.Fields)
		if len(e.Loc) > 0 && c.Body != nil && e.Loc[0] == "query" {
			// Herald's 400 about a field of a body (unknown_field).
			e.Loc[0] = "body"
		}
		return rec.status, e
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			h.log.Error("svix api: Herald's answer could not be read", "path", c.Path, "error", err)
			return 0, &Error{Status: http.StatusInternalServerError, Code: "internal", Detail: "internal error"}
		}
	}
	return rec.status, nil
}

// translate turns Herald's error answer into Svix's.
func (h *Handler) translate(rec *recorder, fields map[string]string) *Error {
	var he heraldError
	_ = json.Unmarshal(rec.body.Bytes(), &he)
	e := &Error{Status: rec.status, Code: he.Error.Code, Detail: he.Error.Message, RetryAfter: rec.header.Get("Retry-After")}
	if e.Detail == "" {
		e.Detail = http.StatusText(rec.status)
	}
	switch e.Code {
	case "":
		e.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(rec.status), " ", "_"))
	case "unauthorized":
		e.Code = "authentication_failed"
	}
	if he.Error.Field != "" {
		where := "body"
		if rec.status == http.StatusBadRequest {
			where = "query"
		}
		name, ok := fields[he.Error.Field]
		if !ok {
			name = camel(he.Error.Field)
		}
		e.Detail = strings.ReplaceAll(e.Detail, he.Error.Field, name)
		if rec.status == http.StatusUnprocessableEntity || rec.status == http.StatusBadRequest {
			e.Status = http.StatusUnprocessableEntity
			e.Loc = []string{where, name}
		}
	}
	return e
}

// camel turns Herald's snake_case names into Svix's camelCase; a dotted
// path (headers.X) keeps its later parts as they are.
func camel(s string) string {
	head, rest, dotted := strings.Cut(s, ".")
	parts := strings.Split(head, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	out := strings.Join(parts, "")
	if dotted {
		out += "." + rest
	}
	return out
}

// recorder keeps Herald's answer to an in-process call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.body.Write(b)
}

// listResponse is the envelope of every Svix list.
type listResponse[T any] struct {
	Data     []T     `json:"data"`
	Iterator *string `json:"iterator"`
	// PrevIterator is always null: Herald's lists page forwards only
	// (docs/svix.md).
	PrevIterator *string `json:"prevIterator"`
	Done         bool    `json:"done"`
}

// heraldPage is the envelope of Herald's lists.
type heraldPage[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// page turns a Herald page into a Svix list of its items converted by f.
func page[H, S any](p heraldPage[H], f func(H) S) listResponse[S] {
	out := listResponse[S]{Data: make([]S, 0, len(p.Data)), Iterator: p.NextCursor, Done: p.NextCursor == nil}
	for _, v := range p.Data {
		out.Data = append(out.Data, f(v))
	}
	return out
}

// listQuery reads Svix's paging parameters (limit, iterator, order) into
// Herald's (limit, cursor). Herald's lists run newest first only: order
// "ascending" answers 501 rather than the wrong order.
func listQuery(r *http.Request) (url.Values, *Error) {
	q := r.URL.Query()
	out := url.Values{}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 250 {
			return nil, invalid("query", "limit", "limit must be a whole number from 1 to 250")
		}
		out.Set("limit", v)
	}
	if v := q.Get("iterator"); v != "" {
		out.Set("cursor", v)
	}
	switch q.Get("order") {
	case "", "descending":
	case "ascending":
		return nil, &Error{Status: http.StatusNotImplemented, Code: "not_implemented",
			Detail: "order=ascending is not supported by Herald's Svix-compatible API: its lists run newest first"}
	default:
		return nil, invalid("query", "order", "order must be ascending or descending")
	}
	return out, nil
}

// known refuses query parameters an operation does not take (422 naming
// the first), so that a filter is never silently ignored.
func known(r *http.Request, names ...string) *Error {
	for k := range r.URL.Query() {
		ok := false
		for _, n := range names {
			if k == n {
				ok = true
				break
			}
		}
		if !ok {
			return invalid("query", k, "unknown query parameter "+strconv.Quote(k))
		}
	}
	return nil
}

// health answers GET /api/v1/health, which needs no token, as Svix's
// does: 204 when Herald's API and store answer.
func (h *Handler) health(w http.ResponseWriter, r *http.Request) *Error {
	rec := &recorder{header: http.Header{}}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "/readyz", http.NoBody)
	if err != nil {
		return &Error{Status: http.StatusInternalServerError, Code: "internal", Detail: "internal error"}
	}
	h.herald.ServeHTTP(rec, req)
	if rec.status != 0 && rec.status != http.StatusOK {
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Detail: "Herald's store does not answer", RetryAfter: "2"}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// routes registers every operation. Each family of Svix's API has its
// file: apps.go, eventtypes.go, endpoints.go, auth.go, messages.go,
// attempts.go.
func (h *Handler) routes() {
	h.handle("GET /api/v1/health", h.health)
	h.appRoutes()
	h.messageRoutes()
}
