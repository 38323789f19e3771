package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/preset"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/store"
)

// TestOpenAPISchemasMatchTypes: the fields of each Go type the handlers
// encode or decode are the properties of its schema, both ways. The
// contract tests see the fields a test's request or answer holds; this
// sees the ones no test happens to meet (a field set only on a rare
// path), so that none is sent or taken undocumented.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	raw, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		schema string
		v      any
		// hidden are fields of the type that the API never shows.
		hidden []string
		// derived are properties the type's MarshalJSON adds to its
		// fields.
		derived []string
	}{
		// Answers.
		{schema: "App", v: appView{}},
		{schema: "EventType", v: herald.EventType{}},
		{schema: "Endpoint", v: endpointView{Endpoint: &herald.Endpoint{}}, hidden: []string{"previous_secret"}},
		{schema: "EndpointAuth", v: herald.EndpointAuth{}},
		{schema: "EffectiveRequest", v: shape.Effective{}},
		{schema: "DeliverySettings", v: herald.DeliverySettings{}},
		{schema: "Preview", v: previewView{}},
		{schema: "Event", v: herald.Event{}},
		{schema: "EventCreated", v: eventView{Event: &herald.Event{}}},
		{schema: "Routing", v: herald.Routing{}},
		{schema: "Delivery", v: herald.Delivery{}, derived: []string{"failure"}},
		{schema: "Attempt", v: herald.Attempt{}},
		{schema: "Job", v: herald.BulkJob{}},
		{schema: "EndpointStats", v: herald.EndpointStats{}},
		{schema: "StatsWindow", v: herald.StatsWindow{}},
		{schema: "APIKey", v: herald.APIKey{}},
		{schema: "AuditEntry", v: herald.AuditEntry{}},
		{schema: "PortalSession", v: portalSession{}},
		{schema: "AttemptRequest", v: herald.AttemptRequest{}},
		{schema: "FailureGroup", v: store.FailureGroup{}},
		{schema: "PinnedEndpoint", v: pinnedEndpoint{}},
		{schema: "Handouts", v: struct {
			Data []delivery.Handout `json:"data"`
		}{}},
		{schema: "AckOutcomes", v: struct {
			Data []delivery.AckOutcome `json:"data"`
		}{}},
		{schema: "JWKS", v: struct {
			Keys []jwk `json:"keys"`
		}{}},
		{schema: "Error", v: struct {
			Error *Error `json:"error"`
		}{}},
		// Requests.
		{schema: "AppInput", v: appInput{}},
		{schema: "EventTypeInput", v: eventTypeInput{}},
		{schema: "EventTypeImport", v: importInput{}},
		{schema: "EndpointInput", v: endpointInput{}},
		{schema: "KarteEndpointInput", v: karteInput{}},
		{schema: "PreviewNew", v: previewInput{}},
		{schema: "EventCreate", v: eventInput{}},
		{schema: "TestSend", v: testInput{}},
		{schema: "Recover", v: recoverInput{}},
		{schema: "APIKeyCreate", v: keyInput{}},
		{schema: "PortalSessionCreate", v: portalInput{}},
		{schema: "Ack", v: ackInput{}},
		{schema: "SendEvents", v: sendInput{}},
		{schema: "SendWhere", v: sendWhere{}},
	} {
		s, ok := doc.Components.Schemas[c.schema]
		if !ok {
			t.Errorf("no schema %s", c.schema)
			continue
		}
		var documented []string
		for name := range s.Properties {
			documented = append(documented, name)
		}
		fields := slices.DeleteFunc(jsonFields(reflect.TypeOf(c.v)), func(f string) bool { return slices.Contains(c.hidden, f) })
		fields = append(fields, c.derived...)
		if undocumented, unsent := diff(fields, documented), diff(documented, fields); len(undocumented)+len(unsent) > 0 {
			t.Errorf("schema %s: fields of %T not in the schema: %v; properties of the schema %T lacks: %v", c.schema, c.v, undocumented, c.v, unsent)
		}
	}
}

// diff lists what of a is not in b.
func diff(a, b []string) []string {
	return slices.DeleteFunc(slices.Clone(a), func(x string) bool { return slices.Contains(b, x) })
}

// jsonFields lists the names encoding/json gives a type's fields,
// embedded structs' fields inline.
func jsonFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-":
		case f.Anonymous && tag == "":
			out = append(out, jsonFields(f.Type)...)
		case !f.IsExported():
		case tag != "":
			out = append(out, tag)
		default:
			out = append(out, f.Name)
		}
	}
	return out
}

// TestOpenAPIEnums: each enum of the document is the set of values the
// code knows, both ways: error codes, delivery statuses, error kinds,
// triggers, job states, presets, methods.
func TestOpenAPIEnums(t *testing.T) {
	raw, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// enum reads the enum at a path of the document, "" left out: the
	// document lists it where a field may be left empty.
	enum := func(path ...string) []string {
		var n any = doc
		for _, k := range path {
			m, _ := n.(map[string]any)
			n = m[k]
		}
		var out []string
		vals, _ := n.([]any)
		for _, v := range vals {
			if s, _ := v.(string); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	schema := func(name string, path ...string) []string {
		return enum(append([]string{"components", "schemas", name}, path...)...)
	}
	for _, c := range []struct {
		what       string
		documented []string
		known      []string
	}{
		{"error codes (Code… in errors.go)", schema("ErrorCode", "enum"), constants(t, "errors.go", "Code")},
		{"delivery statuses (Status… in delivery.go)", schema("DeliveryStatus", "enum"), constants(t, "../../delivery.go", "Status")},
		{"error kinds (ErrorKind… in delivery.go)", schema("ErrorKind", "enum"), constants(t, "../../delivery.go", "ErrorKind")},
		{"attempt triggers (Trigger… in delivery.go)", schema("Attempt", "properties", "trigger", "enum"), constants(t, "../../delivery.go", "Trigger")},
		{"job states (Job… in job.go)", schema("Job", "properties", "state", "enum"), constants(t, "../../job.go", "Job")},
		{"presets (preset.Names)", schema("Preset", "enum"), preset.Names()},
		{"methods (shape.Methods)", schema("Endpoint", "properties", "method", "enum"), shape.Methods},
		{"endpoint kinds (Endpoint… in endpoint.go, the input alias http, herald.BrokerKinds)", schema("EndpointKind", "enum"),
			append(append(constants(t, "../../endpoint.go", "Endpoint"), "http"), herald.BrokerKinds...)},
		{"ack results (Ack… in delivery/pull.go)", schema("AckOutcome", "properties", "result", "enum"), constants(t, "../delivery/pull.go", "Ack")},
	} {
		if len(c.known) == 0 {
			t.Errorf("%s: none found", c.what)
			continue
		}
		if extra, missing := diff(c.documented, c.known), diff(c.known, c.documented); len(extra)+len(missing) > 0 {
			t.Errorf("%s: the document lists %v that the code does not know, and lacks %v", c.what, extra, missing)
		}
	}
}

// constants lists the string values of the constants of a Go file
// whose names start with prefix ("" values left out).
func constants(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			v := sp.(*ast.ValueSpec)
			for i, n := range v.Names {
				if !strings.HasPrefix(n.Name, prefix) || i >= len(v.Values) {
					continue
				}
				if lit, ok := v.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && s != "" {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}
