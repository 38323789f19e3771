package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/store"
)

// Error is the body of every error answer:
// {"error": {"code": "...", "message": "...", "field": "..."}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the offending input (a JSON field, query parameter or
	// header) when there is one.
	Field string `json:"field,omitempty"`
	// RetryAfter, in seconds, is sent as the Retry-After header when
	// above 0.
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return e.Message }

// Error codes. They are part of the API contract.
const (
	CodeMalformedJSON    = "malformed_json"
	CodeUnknownField     = "unknown_field"
	CodeInvalidType      = "invalid_type"
	CodeRequired         = "required"
	CodeInvalid          = "invalid"
	CodeTooLarge         = "too_large"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeForbidden        = "forbidden"
	CodeConflict         = "conflict"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnavailable      = "unavailable"
	CodeStorageFull      = "storage_full"
	CodeRenderFailed     = "render_failed"
	CodeRenderTooLarge   = "render_too_large"
	CodeTransformFailed  = "transform_failed"
	CodeSchemaMismatch   = "schema_mismatch"
	CodeLimitExceeded    = "limit_exceeded"
	CodeQuotaExceeded    = "quota_exceeded"
	CodeRateLimited      = "rate_limited"
	CodeTooManySessions  = "too_many_sessions"
	CodeTooManyRequests  = "too_many_requests"
	CodePublicURLUnset   = "public_url_unset"
	CodeNotPullEndpoint  = "not_pull_endpoint"
	CodePullEndpoint     = "pull_endpoint"
	CodeEndpointDisabled = "endpoint_disabled"
	CodeInternal         = "internal"
)

// CodeIdempotencyMismatch answers an Idempotency-Key repeated with another
// body than that of the event it first created (409).
const CodeIdempotencyMismatch = "idempotency_mismatch"

func errInvalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func errRequired(field string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeRequired, Field: field, Message: field + " is required"}
}

func errQuery(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func errNotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + " not found"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}

// Seconds a client is asked to wait (Retry-After) before trying again
// when the store cannot be reached, and when its storage is full, which
// takes an operator longer to fix.
const (
	retryUnavailable = 2
	retryFull        = 10
)

// storeError maps a store failure to an answer: not found and conflicts
// are the caller's business, a store that cannot be reached or cannot
// write is 503 with Retry-After, anything else is ours.
func storeError(err error, what string) *Error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(what)
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, store.ErrUnavailable):
		return unavailable(err, "the change may have been stored; read it back before trying again")
	default:
		return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
	}
}

// unavailable answers a store that cannot be reached or cannot write: 503
// storage_full or unavailable, with Retry-After. Its message never quotes
// the store's error, which can name hosts, users and files. maybe is what
// to say when a write was sent but not confirmed.
func unavailable(err error, maybe string) *Error {
	if errors.Is(err, store.ErrFull) {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeStorageFull, RetryAfter: retryFull,
			Message: "the server's storage is full; nothing was stored, try again later"}
	}
	switch {
	case errors.Is(err, store.ErrMaybeCommitted):
		return retryLater("the store did not confirm in time: " + maybe)
	case errors.Is(err, store.ErrNotWritable):
		return retryLater("the store cannot write now; nothing was stored, try again later")
	}
	return retryLater("the store is unavailable; nothing was stored, try again")
}

// retryLater is 503 unavailable with Retry-After: the server cannot take
// the request now, and says so in message.
func retryLater(message string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, RetryAfter: retryUnavailable, Message: message}
}

// decode reads one JSON object into dst, refusing what a careless client
// might send by mistake: unknown fields, wrong types, trailing data, and
// bodies over the size limit.
func decode(w http.ResponseWriter, r *http.Request, limit int64, dst any) *Error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errTrailing
		}
	}
	if err == nil {
		return nil
	}
	var (
		maxErr  *http.MaxBytesError
		synErr  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
	case errors.Is(err, io.EOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON, Message: "request body is empty; a JSON object is expected"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON, Message: "request body is not valid JSON: it ends too early"}
	case errors.As(err, &synErr):
		return &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON,
			Message: fmt.Sprintf("request body is not valid JSON at byte %d: %s", synErr.Offset, synErr.Error())}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidType, Message: "request body must be a JSON object"}
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidType, Field: field,
			Message: fmt.Sprintf("%s must be %s, not %s", field, jsonKind(typeErr.Type.String()), typeErr.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		msg := fmt.Sprintf("unknown field %q", name)
		if known := suggestField(dst, name); known != "" {
			msg += fmt.Sprintf("; did you mean %q?", known)
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeUnknownField, Field: name, Message: msg}
	case errors.Is(err, errTrailing):
		return &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON, Message: "request body has data after the JSON object"}
	default:
		return &Error{Status: http.StatusBadRequest, Code: CodeMalformedJSON, Message: "request body is not valid JSON: " + err.Error()}
	}
}

var errTrailing = errors.New("trailing data")

// jsonKind names a Go type the way a JSON user thinks of it.
func jsonKind(goType string) string {
	switch {
	case goType == "string" || goType == "*string":
		return "a string"
	case goType == "bool" || goType == "*bool":
		return "a boolean"
	case strings.Contains(goType, "int") || strings.Contains(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]") || strings.HasPrefix(goType, "*[]"):
		return "an array"
	case strings.HasPrefix(goType, "map") || strings.HasPrefix(goType, "struct") || strings.HasPrefix(goType, "api."):
		return "an object"
	default:
		return "of another type"
	}
}
