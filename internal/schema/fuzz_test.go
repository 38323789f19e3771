package schema

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fuzzMaxInput bounds what FuzzSchema compiles and validates: a schema's
// work can grow with its size times the payload's, and the target is the
// parsing and the error reporting, not how long a large pair takes.
const fuzzMaxInput = 4 << 10

// FuzzSchema: event type schemas and the payloads checked against them
// come from API callers. Never panics; Compile's errors speak to the
// schema's author ("schema: ..."); Validate refuses with an *Error whose
// path, message and details are filled in, the same each time.
func FuzzSchema(f *testing.F) {
	// Seeds: the schemas of the tests (a form's lead, drafts, references,
	// formats) and payloads that pass and fail them.
	f.Add(leadSchema, `{"id": 1, "lead": {"email": "taro@example.co.jp", "company": "ヘラルド株式会社"}}`)
	f.Add(leadSchema, `{"id": "1", "lead": {"email": "no", "company": "", "tags": [1, 2, 3, 4], "x": 1}}`)
	f.Add(`{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "properties": {"a": {"type": "integer", "minimum": 0, "exclusiveMinimum": true}}}`, `{"a": 0}`)
	f.Add(`{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "number"}}, "items": {"$ref": "#/definitions/n"}}`, `[1, "2", 3e400]`)
	f.Add(`{"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}`, `1`)
	f.Add(`{"$ref": "https://example.com/schema.json"}`, `{}`)
	f.Add(`{"$ref": "file:///etc/passwd"}`, `{}`)
	f.Add(`{"$schema": "https://example.com/meta"}`, `{}`)
	f.Add(`{"properties": {"a/b~c": {"const": "x"}}, "required": ["a/b~c"]}`, `{"a/b~c": "y"}`)
	f.Add(`{"oneOf": [{"type": "string", "format": "email"}, {"type": "string", "format": "date-time"}]}`, `"2024-05-01T18:30:05+09:00"`)
	f.Add(`{"type": "string", "pattern": "^(a+)+$"}`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"`)
	f.Add(`{"type": "string", "pattern": "(?<name>x"}`, `"x"`)
	f.Add(`{"items": {"$ref": "#"}, "maxItems": 1}`, `[[[[[[[[[[[]]]]]]]]]]]`)
	f.Add(`{"unevaluatedProperties": false, "allOf": [{"properties": {"a": true}}]}`, `{"a": 1, "b": 2}`)
	f.Add(`{"type": "array", "items": {"type": "string"}}`, `[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]`)
	f.Add(`true`, `null`)
	f.Add(`false`, `{}`)
	f.Add(`{"type": "integer"`, `1`)
	f.Add(`{"type": "integer"}`, `1 2`)
	f.Fuzz(func(t *testing.T, src, payload string) {
		if len(src)+len(payload) > fuzzMaxInput {
			return
		}
		s, err := Compile([]byte(src))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "schema: ") {
				t.Fatalf("Compile error %q does not start with \"schema: \"", err)
			}
			return
		}
		err = s.Validate([]byte(payload))
		var se *Error
		switch {
		case err == nil:
		case !json.Valid([]byte(payload)):
			if errors.As(err, &se) || !strings.HasPrefix(err.Error(), "schema: payload is not valid JSON") {
				t.Fatalf("payload that is not JSON: %v", err)
			}
			return
		case !errors.As(err, &se):
			t.Fatalf("Validate error %v (%T) is not an *Error", err, err)
		default:
			if se.Msg == "" || se.Path != "" && !strings.HasPrefix(se.Path, "/") {
				t.Fatalf("Validate error path %q message %q", se.Path, se.Msg)
			}
			if len(se.Details) < 1 || len(se.Details) > maxDetails || se.Details[0].Path != se.Path {
				t.Fatalf("Validate error details %+v for path %q", se.Details, se.Path)
			}
			for _, d := range se.Details {
				if d.Msg == "" {
					t.Fatalf("detail without a message: %+v", se.Details)
				}
			}
		}
		if again := s.Validate([]byte(payload)); !reflect.DeepEqual(again, err) {
			t.Fatalf("Validate gave %v, then %v", err, again)
		}
	})
}
