// Package schema checks event payloads against the JSON Schema of their
// event type, so that Herald refuses (with HTTP 422) an event its customers'
// endpoints would not understand, and says which field is wrong.
//
// Schemas may use any draft from draft-04 to 2020-12; a schema without
// $schema is read as 2020-12. The "format" keyword is asserted: a value
// that is not an email fails "format": "email". References resolve only
// within the schema itself ("#/$defs/address"): Herald never fetches a
// schema over the network or from disk, so a $ref to any other URL is
// refused when the schema is compiled.
package schema

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// maxDetails bounds Error.Details so that a payload failing everywhere
// still gives an error response of reasonable size.
const maxDetails = 10

// resourceURL is the base URL of every compiled schema. Its scheme is
// Herald's own so that a relative $ref resolves to a URL nobody serves,
// which the loader then refuses.
const resourceURL = "herald:///schema.json"

var printer = message.NewPrinter(language.English)

// Schema is a compiled JSON Schema. It is safe for concurrent use; compile
// once per event type and validate every event with it.
type Schema struct {
	s *jsonschema.Schema
}

// Error is a payload's mismatch with its schema, shaped for an API error
// response: Path and Msg say what to fix first, Details list the rest.
type Error struct {
	// Path is where the first thing to fix is, as a JSON Pointer
	// ("/lead/email"; "" for the whole payload). It is the deepest
	// failing location, the most specific one.
	Path string
	// Msg is one line naming Path and what is wrong there.
	Msg string
	// Details are up to 10 failures: Path's first, then others by path.
	Details []Detail
}

// Detail is one failure in an Error.
type Detail struct {
	Path string // JSON Pointer of the failing value
	Msg  string // what is wrong, without the path
}

func (e *Error) Error() string { return "schema: " + e.Msg }

// refuseLoader stands in for the library's loader, which would read files
// (and, if configured, URLs): schemas come from API callers, so loading
// anything they name would let them probe the server's disk or network.
type refuseLoader struct{}

func (refuseLoader) Load(string) (any, error) {
	return nil, errExternal
}

var errExternal = errors.New("external schemas are not loaded")

// Compile parses and checks a schema. Its errors are meant for the API
// caller who supplied the schema and start with "schema: ".
func Compile(schema []byte) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("schema: not valid JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(resourceURL, doc); err != nil {
		return nil, fmt.Errorf("schema: %v", err)
	}
	s, err := c.Compile(resourceURL)
	if err != nil {
		return nil, compileError(err)
	}
	return &Schema{s: s}, nil
}

// compileError rewrites the library's errors for the most common mistakes
// into one line that says what to change.
func compileError(err error) error {
	var load *jsonschema.LoadURLError
	if errors.As(err, &load) && errors.Is(load.Err, errExternal) {
		return fmt.Errorf("schema: cannot use %q: %w "+
			"(a $ref must point inside this schema, such as \"#/$defs/NAME\"; "+
			"$schema must name a standard draft)", local(load.URL), errExternal)
	}
	var meta *jsonschema.SchemaValidationError
	var verr *jsonschema.ValidationError
	if errors.As(err, &meta) && errors.As(meta.Err, &verr) {
		leaves := leafErrors(verr)
		if len(leaves) > 0 {
			return fmt.Errorf("schema: not a valid JSON Schema: %s", leaves[0].line())
		}
	}
	return fmt.Errorf("schema: %s", local(strings.ReplaceAll(err.Error(), "\n", " ")))
}

// local removes the base URL Herald gives every schema from the URLs in s,
// leaving the references as the schema's author wrote them.
func local(s string) string {
	s = strings.ReplaceAll(s, resourceURL, "")
	return strings.ReplaceAll(s, "herald://", "")
}

// Validate checks payload, a JSON document, against the schema. A mismatch
// is an *Error; any other error means payload is not JSON at all.
func (s *Schema) Validate(payload []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("schema: payload is not valid JSON: %v", err)
	}
	err = s.s.Validate(v)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("schema: %v", err)
	}
	leaves := leafErrors(verr)
	if len(leaves) == 0 { // not expected: every failure has a cause
		return &Error{Msg: "(root): " + verr.Error()}
	}
	first, rest := leaves[0], leaves[1:]
	sort.SliceStable(rest, func(i, j int) bool { return rest[i].Path < rest[j].Path })
	details := append([]Detail{first}, rest[:min(len(rest), maxDetails-1)]...)
	return &Error{Path: first.Path, Msg: first.line(), Details: details}
}

// line is a Detail as one line of text: the path, or "(root)", and the
// message.
func (d Detail) line() string {
	p := d.Path
	if p == "" {
		p = "(root)"
	}
	return p + ": " + d.Msg
}

// leafErrors flattens a validation error to its leaves, the failures that
// say what is wrong rather than which combination failed, with duplicates
// removed, the deepest first, then by path, then by where in the schema
// they failed (so the alternatives of an anyOf come in the order written),
// so that the order never depends on the library's iteration over a
// schema's maps ("properties", "dependentRequired"): the same payload gets
// the same error every time.
func leafErrors(root *jsonschema.ValidationError) []Detail {
	type leaf struct {
		Detail
		depth int
		where string // the failing keyword's schema location
	}
	var leaves []leaf
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		d := Detail{Path: pointer(e.InstanceLocation), Msg: kindMessage(e.ErrorKind)}
		leaves = append(leaves, leaf{d, len(e.InstanceLocation), e.SchemaURL})
	}
	walk(root)
	sort.Slice(leaves, func(i, j int) bool {
		a, b := leaves[i], leaves[j]
		if a.depth != b.depth {
			return a.depth > b.depth
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.where != b.where {
			return a.where < b.where
		}
		return a.Msg < b.Msg
	})
	// Duplicates are removed once sorted, so that which copy stays does
	// not depend on the library's order either.
	out := make([]Detail, 0, len(leaves))
	seen := map[Detail]bool{}
	for _, l := range leaves {
		if !seen[l.Detail] {
			seen[l.Detail] = true
			out = append(out, l.Detail)
		}
	}
	return out
}

// kindMessage says what is wrong, in the library's words except where they
// describe the schema rather than the value.
func kindMessage(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.FalseSchema:
		return "not allowed"
	case *kind.AdditionalProperties:
		// The library lists them in map order; sorted, the message is
		// the same each time.
		sorted := *k
		sorted.Properties = slices.Sorted(slices.Values(k.Properties))
		return sorted.LocalizedString(printer)
	}
	return k.LocalizedString(printer)
}

// pointerEscaper escapes a JSON Pointer token (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		pointerEscaper.WriteString(&b, t)
	}
	return b.String()
}
