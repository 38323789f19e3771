package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/shape"
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
		{schema: "Delivery", v: herald.Delivery{}},
		{schema: "Attempt", v: herald.Attempt{}},
		{schema: "Job", v: herald.BulkJob{}},
		{schema: "EndpointStats", v: herald.EndpointStats{}},
		{schema: "StatsWindow", v: herald.StatsWindow{}},
		{schema: "APIKey", v: herald.APIKey{}},
		{schema: "AuditEntry", v: herald.AuditEntry{}},
		{schema: "PortalSession", v: portalSession{}},
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

// TestOpenAPIErrorCodes: the ErrorCode enum is the set of Code constants
// of errors.go, both ways.
func TestOpenAPIErrorCodes(t *testing.T) {
	raw, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				ErrorCode struct {
					Enum []string `json:"enum"`
				}
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			v := sp.(*ast.ValueSpec)
			for i, n := range v.Names {
				if strings.HasPrefix(n.Name, "Code") && i < len(v.Values) {
					if lit, ok := v.Values[i].(*ast.BasicLit); ok {
						codes = append(codes, strings.Trim(lit.Value, `"`))
					}
				}
			}
		}
	}
	documented := slices.Clone(doc.Components.Schemas.ErrorCode.Enum)
	slices.Sort(codes)
	slices.Sort(documented)
	if len(codes) == 0 || !slices.Equal(codes, documented) {
		t.Errorf("codes of errors.go not in the ErrorCode enum: %v; codes of the enum errors.go lacks: %v", diff(codes, documented), diff(documented, codes))
	}
}
