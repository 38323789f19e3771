package heraldtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/heraldhq/herald/internal/api"
)

// Every request a test makes through a Server (Do, DoWith, MustDo,
// Client) and every answer it gets is checked against the API's OpenAPI
// document, so that the API's tests are also the contract's: a field a
// handler sends and the document does not declare, a status it does not
// list, a request the document calls invalid, each fails the test that
// saw it, naming the operation and the field.

// Contract is the API's OpenAPI document, loaded and checked once per
// test binary, with a router that finds a request's operation.
type Contract struct {
	// Doc is the document as served.
	Doc    *openapi3.T
	router routers.Router
}

var loadContract = sync.OnceValues(func() (*Contract, error) {
	raw, err := api.OpenAPI()
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi document is not valid: %w", err)
	}
	// Requests are checked with a copy of their own, changed for the
	// validator: Doc stays as served.
	checked, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	anyValueAllowsNull(checked)
	// The document's one server is "/", the server it is served by;
	// without it the router matches requests to any host, as the test
	// servers'.
	checked.Servers = nil
	// The API reference (/docs/api) is a page: its body is text.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	router, err := gorillamux.NewRouter(checked)
	if err != nil {
		return nil, fmt.Errorf("openapi router: %w", err)
	}
	return &Contract{Doc: doc, router: router}, nil
})

// anyValueAllowsNull spells out the document's "any JSON value" schemas
// ({}, which clients are generated from as any/unknown) as the list of
// every JSON type, in the copy the tests validate with: kin-openapi
// checks some schemas with its OpenAPI 3.0 validator, which refuses null
// where no type admits it, even in a schema that constrains nothing.
func anyValueAllowsNull(doc *openapi3.T) {
	every := openapi3.Types{"object", "array", "string", "number", "boolean", "null"}
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || seen[r.Value] {
			return
		}
		v := r.Value
		seen[v] = true
		if v.Type == nil && v.Not == nil && len(v.OneOf)+len(v.AnyOf)+len(v.AllOf)+len(v.Enum) == 0 && v.Const == nil && len(v.Properties) == 0 {
			v.Type = &every
		}
		for _, p := range v.Properties {
			walk(p)
		}
		walk(v.Items)
		walk(v.AdditionalProperties.Schema)
		walk(v.Not)
		for _, refs := range []openapi3.SchemaRefs{v.OneOf, v.AnyOf, v.AllOf} {
			for _, x := range refs {
				walk(x)
			}
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value != nil {
					walk(p.Value.Schema)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			for _, r := range op.Responses.Map() {
				if r.Value != nil {
					for _, mt := range r.Value.Content {
						walk(mt.Schema)
					}
				}
			}
		}
	}
}

// LoadContract returns the API's OpenAPI document, or fails the test.
func LoadContract(t testing.TB) *Contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// filterOptions: 3.1 schemas (type arrays, const) need the JSON Schema
// 2020-12 validator; a status the operation does not list is a failure;
// every error is reported, not just the first.
func filterOptions() *openapi3filter.Options {
	o := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc:    bearerPresent,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.EnableJSONSchema2020(),
		},
	}
	// The reason alone: the default message quotes the whole schema.
	o.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string { return err.Reason })
	return o
}

// bearerPresent checks what the document can say of a token: that there
// is one. Whether it is valid is the server's to answer.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no Authorization: Bearer <token> header")
	}
	return nil
}

// transport checks every request against the contract before sending it
// and every answer after. Requests marked invalid are sent as they are;
// their answers are still checked.
type transport struct {
	t       testing.TB
	invalid bool
	base    http.RoundTripper
}

func (c *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	contract, err := loadContract()
	if err != nil {
		c.t.Error(err)
		return c.base.RoundTrip(req)
	}
	// The body is read once and given to the check and to the request
	// sent, a copy: a RoundTripper leaves its caller's request alone.
	var body []byte
	if req.Body != nil {
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	call := req.Method + " " + req.URL.RequestURI()
	route, params, routeErr := contract.router.FindRoute(req)
	var in *openapi3filter.RequestValidationInput
	if routeErr == nil {
		in = &openapi3filter.RequestValidationInput{Request: req.Clone(req.Context()), PathParams: params, Route: route, Options: filterOptions()}
		if req.Body != nil {
			in.Request.Body = io.NopCloser(bytes.NewReader(body))
		}
		if !c.invalid {
			if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
				c.t.Errorf("%s (operation %s): the request does not match the OpenAPI document (mark a deliberately invalid request with Server.Invalid):\n%s",
					call, route.Operation.OperationID, describe(err))
			}
		}
	} else if !c.invalid && documented(req.URL.Path) {
		c.t.Errorf("%s: no operation of the OpenAPI document serves this request (%v); mark a deliberately wrong one with Server.Invalid", call, routeErr)
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if in != nil && resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A stream does not end: its status and headers are checked
		// here, its events by the test that reads them.
		opts := *filterOptions()
		opts.ExcludeResponseBody = true
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: &opts}
		if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
			c.t.Errorf("%s (operation %s): answer %d does not match the OpenAPI document:\n%s", call, route.Operation.OperationID, resp.StatusCode, describe(err))
		}
		return resp, nil
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return resp, nil
	}
	if in == nil {
		// No operation to hold the answer to (an unknown route, a
		// method the path does not take): an error of the API still
		// has the one shape every error has.
		if documented(req.URL.Path) && resp.StatusCode >= 400 {
			if err := checkError(contract, raw); err != nil {
				c.t.Errorf("%s: answer %d is not an Error of the OpenAPI document: %v\n%s", call, resp.StatusCode, err, raw)
			}
		}
		return resp, nil
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(raw)), Options: filterOptions(),
	}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		c.t.Errorf("%s (operation %s): answer %d does not match the OpenAPI document:\n%s\nbody: %s",
			call, route.Operation.OperationID, resp.StatusCode, describe(err), clip(raw))
	}
	return resp, nil
}

// documented tells the paths the document covers from the console's
// pages and /metrics.
func documented(path string) bool {
	return strings.HasPrefix(path, "/v1/") || path == "/v1" || strings.HasPrefix(path, "/.well-known/herald/") ||
		path == "/healthz" || path == "/readyz" || path == "/openapi.json" || path == "/docs/api"
}

// checkError validates an error body against the document's Error schema.
func checkError(c *Contract, raw []byte) error {
	ref := c.Doc.Components.Schemas["Error"]
	if ref == nil || ref.Value == nil {
		return errors.New("the document has no Error schema")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

// describe lists each failure of a validation on a line of its own, with
// the field it is about when the validator names one.
func describe(err error) string {
	var b strings.Builder
	for _, e := range leaves(err) {
		line := e.Error()
		var se *openapi3.SchemaError
		if errors.As(e, &se) {
			if p := se.JSONPointer(); len(p) > 0 {
				line = "field " + strings.Join(p, ".") + ": " + se.Reason
			}
		}
		b.WriteString("  - " + line + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// leaves flattens the validator's nested lists of errors.
func leaves(err error) []error {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		var out []error
		for _, e := range me {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// Invalid returns the server as a caller that breaks the contract on
// purpose sees it, for tests of the API's 4xx answers: requests made
// through it (Do, DoWith, MustDo, Client) are sent unchecked; their
// answers are still checked against the document.
func (s *Server) Invalid() *Server {
	c := *s
	c.invalid = true
	return &c
}

// Client returns an HTTP client that checks each request it sends to the
// API against the OpenAPI document (unless the server came from Invalid)
// and each answer it gets, failing the test on a mismatch. Tests that
// build their own requests use it instead of http.DefaultClient.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: &transport{t: s.t, invalid: s.invalid, base: http.DefaultTransport}}
}

// CheckedClient is Client for a Herald a test started otherwise (a
// process of the built binary): requests and answers are checked against
// the OpenAPI document, failures reported to t.
func CheckedClient(t testing.TB) *http.Client {
	return &http.Client{Transport: &transport{t: t, base: http.DefaultTransport}}
}
