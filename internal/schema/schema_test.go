package schema

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// leadSchema is the kind of schema a form-submission event type carries.
const leadSchema = `{
  "title": "リード登録",
  "type": "object",
  "required": ["id", "lead"],
  "properties": {
    "id": {"type": "integer", "title": "ID"},
    "lead": {
      "type": "object",
      "title": "リード",
      "required": ["email", "company"],
      "additionalProperties": false,
      "properties": {
        "email": {"type": "string", "format": "email", "title": "メールアドレス"},
        "company": {"type": "string", "title": "会社名", "minLength": 1},
        "plan": {"enum": ["free", "pro", "enterprise"]},
        "employees": {"type": "integer", "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "address": {"$ref": "#/$defs/address"}
      }
    }
  },
  "$defs": {
    "address": {
      "type": "object",
      "required": ["city"],
      "properties": {"city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{3}-[0-9]{4}$"}}
    }
  }
}`

func mustCompile(t testing.TB, s string) *Schema {
	t.Helper()
	sch, err := Compile([]byte(s))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return sch
}

func TestValidateOK(t *testing.T) {
	sch := mustCompile(t, leadSchema)
	for _, p := range []string{
		`{"id": 1, "lead": {"email": "taro@example.co.jp", "company": "ヘラルド株式会社"}}`,
		`{"id": 1.0, "lead": {"email": "a@b.co", "company": "x", "plan": "pro", "employees": 120}}`,
		`{"id": 123456789012345678901234567890, "lead": {"email": "a@b.co", "company": "x"}}`,
		`{"id": 1, "lead": {"email": "a@b.co", "company": "x", "tags": ["a", "b"], "address": {"city": "Tokyo", "zip": "100-0001"}}}`,
		`{"id": 1, "lead": {"email": "a@b.co", "company": "x"}, "extra_at_root": true}`,
	} {
		if err := sch.Validate([]byte(p)); err != nil {
			t.Errorf("Validate(%s) = %v, want nil", p, err)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	sch := mustCompile(t, leadSchema)
	tests := []struct {
		name    string
		payload string
		path    string
		msg     []string // each contained in Msg
	}{
		{"missing required at root", `{"lead": {"email": "a@b.co", "company": "x"}}`,
			"", []string{"(root): ", "missing property 'id'"}},
		{"missing required nested", `{"id": 1, "lead": {"email": "a@b.co"}}`,
			"/lead", []string{"/lead: ", "missing property 'company'"}},
		{"wrong type nested", `{"id": 1, "lead": {"email": "a@b.co", "company": 42}}`,
			"/lead/company", []string{"/lead/company: ", "got number, want string"}},
		{"wrong type root", `{"id": "1", "lead": {"email": "a@b.co", "company": "x"}}`,
			"/id", []string{"/id: ", "got string, want integer"}},
		{"not an integer", `{"id": 1.5, "lead": {"email": "a@b.co", "company": "x"}}`,
			"/id", []string{"want integer"}},
		{"payload not an object", `[1, 2]`,
			"", []string{"(root): ", "got array, want object"}},
		{"enum", `{"id": 1, "lead": {"email": "a@b.co", "company": "x", "plan": "gold"}}`,
			"/lead/plan", []string{"/lead/plan: ", "'free'", "'enterprise'"}},
		{"format email", `{"id": 1, "lead": {"email": "not-an-email", "company": "x"}}`,
			"/lead/email", []string{"/lead/email: ", "'not-an-email' is not valid email"}},
		{"additionalProperties false", `{"id": 1, "lead": {"email": "a@b.co", "company": "x", "phone": "03"}}`,
			"/lead", []string{"/lead: ", "additional properties 'phone' not allowed"}},
		{"array item type", `{"id": 1, "lead": {"email": "a@b.co", "company": "x", "tags": ["a", 2]}}`,
			"/lead/tags/1", []string{"/lead/tags/1: ", "got number, want string"}},
		{"array too long", `{"id": 1, "lead": {"email": "a@b.co", "company": "x", "tags": ["a", "b", "c", "d"]}}`,
			"/lead/tags", []string{"maxItems: got 4, want 3"}},
		{"through $ref", `{"id": 1, "lead": {"email": "a@b.co", "company": "x", "address": {"city": "Tokyo", "zip": "1000001"}}}`,
			"/lead/address/zip", []string{"/lead/address/zip: ", "does not match pattern"}},
		{"minimum", `{"id": 1, "lead": {"email": "a@b.co", "company": "x", "employees": 0}}`,
			"/lead/employees", []string{"minimum"}},
		{"minLength of Japanese text", `{"id": 1, "lead": {"email": "a@b.co", "company": ""}}`,
			"/lead/company", []string{"minLength: got 0, want 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sch.Validate([]byte(tt.payload))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate = %v (%T), want *Error", err, err)
			}
			if e.Path != tt.path {
				t.Errorf("Path = %q, want %q (%s)", e.Path, tt.path, e.Msg)
			}
			for _, m := range tt.msg {
				if !strings.Contains(e.Msg, m) {
					t.Errorf("Msg = %q, want it to contain %q", e.Msg, m)
				}
			}
			if strings.Contains(e.Msg, "\n") {
				t.Errorf("Msg has more than one line: %q", e.Msg)
			}
			if len(e.Details) == 0 || e.Details[0].Path != e.Path {
				t.Errorf("Details = %q, want the first to be at %q", e.Details, e.Path)
			}
			if !strings.HasPrefix(e.Error(), "schema: ") {
				t.Errorf("Error() = %q", e.Error())
			}
		})
	}
}

func TestValidateDeepestAndDetails(t *testing.T) {
	sch := mustCompile(t, leadSchema)
	// Missing id at the root, an extra property and a bad tag in the lead:
	// the deepest failure leads, the rest follow in path order.
	err := sch.Validate([]byte(`{"lead": {"email": "a@b.co", "company": 1, "x": 1, "tags": ["a", 2]}}`))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Validate = %v, want *Error", err)
	}
	if e.Path != "/lead/tags/1" {
		t.Errorf("Path = %q, want /lead/tags/1", e.Path)
	}
	want := []Detail{
		{"/lead/tags/1", "got number, want string"},
		{"", "missing property 'id'"},
		{"/lead", "additional properties 'x' not allowed"},
		{"/lead/company", "got number, want string"},
	}
	if fmt.Sprint(e.Details) != fmt.Sprint(want) {
		t.Errorf("Details =\n%q\nwant\n%q", e.Details, want)
	}
}

func TestValidateDetailsCapped(t *testing.T) {
	sch := mustCompile(t, `{"type": "array", "items": {"type": "string"}}`)
	err := sch.Validate([]byte(`[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]`))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Validate = %v, want *Error", err)
	}
	if len(e.Details) != 10 {
		t.Errorf("%d details, want 10", len(e.Details))
	}
	if e.Path != "/0" || e.Details[0].Path != "/0" || e.Details[1].Path != "/1" {
		t.Errorf("Path %q, Details %q", e.Path, e.Details)
	}
}

func TestValidateEscapesPointer(t *testing.T) {
	sch := mustCompile(t, `{"properties": {"a/b": {"properties": {"c~d": {"type": "string"}}}}}`)
	var e *Error
	if err := sch.Validate([]byte(`{"a/b": {"c~d": 1}}`)); !errors.As(err, &e) {
		t.Fatalf("Validate = %v, want *Error", err)
	}
	if e.Path != "/a~1b/c~0d" {
		t.Errorf("Path = %q, want /a~1b/c~0d", e.Path)
	}
}

func TestValidateFalseSchema(t *testing.T) {
	sch := mustCompile(t, `{"properties": {"password": false}}`)
	var e *Error
	if err := sch.Validate([]byte(`{"password": "x"}`)); !errors.As(err, &e) {
		t.Fatalf("Validate = %v, want *Error", err)
	}
	if e.Path != "/password" || e.Msg != "/password: not allowed" {
		t.Errorf("Path %q, Msg %q", e.Path, e.Msg)
	}
}

func TestValidateInvalidJSON(t *testing.T) {
	sch := mustCompile(t, leadSchema)
	for _, p := range []string{``, `{`, `{"id": 1} {}`, `{"id": 01}`} {
		err := sch.Validate([]byte(p))
		var e *Error
		if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "not valid JSON") {
			t.Errorf("Validate(%q) = %v, want a plain not-JSON error", p, err)
		}
	}
}

func TestCompileDrafts(t *testing.T) {
	for _, s := range []string{
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}`,
		`{"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object"}`,
		`{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}`,
		`{"$schema": "http://json-schema.org/draft-06/schema#", "type": "object"}`,
		`{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}`,
		`true`,
		`{}`,
	} {
		if _, err := Compile([]byte(s)); err != nil {
			t.Errorf("Compile(%s): %v", s, err)
		}
	}
}

func TestDefaultDraft2020(t *testing.T) {
	// prefixItems exists only in 2020-12: without $schema it must apply.
	sch := mustCompile(t, `{"type": "array", "prefixItems": [{"type": "integer"}]}`)
	var e *Error
	if err := sch.Validate([]byte(`["x"]`)); !errors.As(err, &e) || e.Path != "/0" {
		t.Errorf("Validate = %v, want a failure at /0", err)
	}
}

func TestFormatAssertedInEveryDraft(t *testing.T) {
	for _, draft := range []string{
		`https://json-schema.org/draft/2020-12/schema`,
		`https://json-schema.org/draft/2019-09/schema`,
		`http://json-schema.org/draft-07/schema#`,
	} {
		sch := mustCompile(t, `{"$schema": "`+draft+`", "properties": {"email": {"format": "email"}}}`)
		if err := sch.Validate([]byte(`{"email": "nope"}`)); err == nil {
			t.Errorf("%s: format email not asserted", draft)
		}
	}
}

func TestCompileJapaneseTitles(t *testing.T) {
	sch := mustCompile(t, `{
	  "title": "問い合わせ",
	  "description": "フォームから送信された内容",
	  "type": "object",
	  "properties": {
	    "会社名": {"type": "string", "title": "会社名"},
	    "担当者": {"type": "string", "title": "ご担当者名", "examples": ["山田 太郎"]}
	  },
	  "required": ["会社名"]
	}`)
	if err := sch.Validate([]byte(`{"会社名": "ヘラルド株式会社", "担当者": "山田 太郎"}`)); err != nil {
		t.Errorf("Validate: %v", err)
	}
	var e *Error
	if err := sch.Validate([]byte(`{"会社名": 1}`)); !errors.As(err, &e) || e.Path != "/会社名" {
		t.Errorf("Validate = %v, want a failure at /会社名", err)
	}
}

func TestCompileRefusesExternal(t *testing.T) {
	for _, s := range []string{
		`{"$ref": "https://example.com/s.json"}`,
		`{"properties": {"a": {"$ref": "https://example.com/s.json#/$defs/a"}}}`,
		`{"$id": "https://example.com/root.json", "$ref": "other.json"}`,
		`{"$ref": "other.json"}`,
		`{"$ref": "file:///etc/hostname"}`,
		`{"$ref": "/etc/hostname"}`,
		`{"$schema": "https://example.com/meta-schema", "type": "object"}`,
	} {
		_, err := Compile([]byte(s))
		if err == nil {
			t.Errorf("Compile(%s) succeeded, want an error", s)
			continue
		}
		// errExternal comes only from refuseLoader: the library asked it and
		// nothing else for the document, so nothing was dialled or read.
		if !errors.Is(err, errExternal) {
			t.Errorf("Compile(%s) = %v, want the external-schema refusal", s, err)
		}
		if !strings.HasPrefix(err.Error(), "schema: ") || strings.Contains(err.Error(), "herald:") {
			t.Errorf("Compile(%s) = %q", s, err)
		}
	}
	_, err := Compile([]byte(`{"$ref": "https://example.com/s.json"}`))
	if !strings.Contains(err.Error(), `"https://example.com/s.json"`) {
		t.Errorf("error %q does not name the URL", err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, schema, msg string
	}{
		{"not JSON", `{"type": "object"`, "not valid JSON"},
		{"trailing data", `{} {}`, "not valid JSON"},
		{"empty", ``, "not valid JSON"},
		{"unknown type", `{"type": "strnig"}`, "/type: value must be one of"},
		{"negative minLength", `{"properties": {"a": {"minLength": -1}}}`, "/properties/a/minLength"},
		{"not a schema", `"object"`, "not a valid JSON Schema"},
		{"bad regex", `{"pattern": "(?=x)"}`, "not valid regex"},
		{"missing local ref", `{"$ref": "#/$defs/missing"}`, `"#/$defs/missing"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]byte(tt.schema))
			if err == nil {
				t.Fatal("Compile succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "schema: ") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q, want it to contain %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "herald:") {
				t.Errorf("error %q is not one clean line", err)
			}
		})
	}
}

func TestConcurrentValidate(t *testing.T) {
	sch := mustCompile(t, leadSchema)
	good := []byte(`{"id": 1, "lead": {"email": "a@b.co", "company": "x", "tags": ["a"]}}`)
	bad := []byte(`{"id": 1, "lead": {"email": "bad", "company": "x"}}`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if err := sch.Validate(good); err != nil {
					t.Errorf("good: %v", err)
					return
				}
				var e *Error
				if err := sch.Validate(bad); !errors.As(err, &e) || e.Path != "/lead/email" {
					t.Errorf("bad: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkValidate(b *testing.B) {
	sch := mustCompile(b, leadSchema)
	payload := []byte(`{"id": 1, "lead": {"email": "taro.yamada@example.co.jp", "company": "ヘラルド株式会社",
		"plan": "pro", "employees": 120, "tags": ["webhook", "slack"], "address": {"city": "東京都千代田区", "zip": "100-0001"}}}`)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := sch.Validate(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateInvalid(b *testing.B) {
	sch := mustCompile(b, leadSchema)
	payload := []byte(`{"lead": {"email": "not-an-email", "company": 1, "x": 1, "tags": ["a", 2]}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := sch.Validate(payload); err == nil {
			b.Fatal("valid")
		}
	}
}
