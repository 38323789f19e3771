package template

import (
	"errors"
	"strings"
	"testing"
)

// parseErrorCases are text templates that must not parse. at is the text
// the error must point at (the source from Pos on starts with it).
var parseErrorCases = []struct {
	name      string
	src       string
	braceOnly bool
	at        string
	msg       string
	line, col int // checked when line > 0
}{
	{name: "unclosed", src: "{{name", at: "{{name", msg: `unclosed tag: "{{" has no matching "}}"`, line: 1, col: 1},
	{name: "unclosed after text", src: "ab {{name | upper", at: "{{name", msg: "unclosed tag", line: 1, col: 4},
	{name: "unclosed before another tag", src: "{{a {{b}}", at: "{{a", msg: "unclosed tag"},
	{name: "unclosed after a filter", src: "{{a | upper {{b}}", at: "{{a", msg: "unclosed tag"},
	{name: "unclosed in an argument", src: `{{a | default:`, at: "{{a", msg: "unclosed tag"},
	{name: "unclosed after a pipe", src: `{{a |`, at: "{{a", msg: "unclosed tag"},
	{name: "empty tag", src: "x {{ }}", at: "{{ }}", msg: "empty tag", line: 1, col: 3},
	{name: "empty tag without spaces", src: "{{}}", at: "{{}}", msg: "empty tag"},
	{name: "unknown filter", src: "Hello {{name | uppr}}", at: "uppr", msg: `unknown filter "uppr"`, line: 1, col: 16},
	{name: "filter names are case-sensitive", src: "{{name | Upper}}", at: "Upper", msg: `unknown filter "Upper"`},
	{name: "unknown filter on line 2", src: "x\n{{name | uppr}}", at: "uppr", msg: "unknown filter", line: 2, col: 10},
	{name: "column counts characters", src: "会社 {{名前 | uppr}}", at: "uppr", msg: "unknown filter", line: 1, col: 11},
	{name: "missing filter name", src: "{{name | }}", at: "}}", msg: `missing filter name after "|"`},
	{name: "double pipe", src: "{{name || upper}}", at: "| upper", msg: "missing filter name"},
	{name: "missing path", src: "{{ | upper}}", at: "| upper", msg: `missing path before "|"`},
	{name: "empty segment", src: "{{ a..b }}", at: "a..b", msg: `path "a..b" has an empty segment`},
	{name: "leading dot", src: "{{.a}}", at: ".a", msg: "empty segment"},
	{name: "trailing dot", src: "{{a.}}", at: "a.", msg: "empty segment"},
	{name: "payload dot", src: "{{payload.}}", at: "payload.", msg: "empty segment"},
	{name: "single closing brace", src: "{{a}b}}", braceOnly: true, at: "}b", msg: `unexpected "}" in a tag`},
	{name: "opening brace in a path", src: "{{a{b}}", at: "{b", msg: `unexpected "{" in a tag`},
	{name: "truncate without argument", src: "{{name | truncate}}", at: "truncate", msg: `filter "truncate" needs a whole number`},
	{name: "truncate negative", src: "{{name | truncate:-1}}", at: "-1", msg: `filter "truncate" needs a whole number`},
	{name: "truncate fraction", src: "{{name | truncate:1.5}}", at: "1.5", msg: `filter "truncate" needs a whole number`},
	{name: "truncate string", src: `{{name | truncate:"5"}}`, at: `"5"`, msg: `filter "truncate" needs a whole number`},
	{name: "truncate huge", src: `{{name | truncate:99999999999999999999999}}`, at: "999", msg: `filter "truncate" needs a whole number`},
	{name: "default without argument", src: "{{name | default}}", at: "default", msg: `filter "default" needs an argument`},
	{name: "upper with argument", src: "{{name | upper:1}}", at: "1}}", msg: `filter "upper" takes no argument`},
	{name: "json with argument", src: `{{name | json:"x"}}`, at: `"x"`, msg: `filter "json" takes no argument`},
	{name: "date without format", src: "{{name | date}}", at: "date", msg: `filter "date" needs a format`},
	{name: "date with number", src: "{{name | date:5}}", at: "5", msg: `filter "date" needs a format`},
	{name: "two arguments", src: `{{name | default:"a":"b"}}`, at: `:"b"`, msg: `filter "default" takes a single argument`},
	{name: "two arguments with a space", src: `{{name | default:"a" "b"}}`, at: `"b"`, msg: `unexpected '"' after filter "default"`},
	{name: "unterminated string", src: `{{name | default:"a}}`, at: `"a}}`, msg: "unterminated string argument"},
	{name: "bad escape", src: `{{name | default:"\x"}}`, at: `"\x"`, msg: "invalid string argument: invalid character 'x' in string escape code"},
	{name: "raw newline in a string", src: "{{name | default:\"a\nb\"}}", at: "\"a\n", msg: "invalid string argument"},
	{name: "unquoted argument", src: `{{name | default:n/a}}`, at: "n/a", msg: `an argument must be a "quoted string" or a number`},
	{name: "missing argument", src: `{{name | default:}}`, at: "}}", msg: `missing argument after ":"`},
	{name: "missing argument before pipe", src: `{{name | default: | upper}}`, at: "| upper", msg: `missing argument after ":"`},
	{name: "bad number", src: `{{name | default:01}}`, at: "01", msg: `invalid number argument "01"`},
	{name: "bad number sign", src: `{{name | default:+1}}`, at: "+1", msg: `an argument must be`},
	{name: "junk after a number", src: `{{name | truncate:5x}}`, at: "x}}", msg: `unexpected 'x' after filter "truncate"`},
	{name: "error in the second tag", src: "{{a}} {{b | nope}}", at: "nope", msg: `unknown filter "nope"`},
}

func TestParseTextErrors(t *testing.T) {
	for _, syn := range syntaxes {
		for _, tc := range parseErrorCases {
			if tc.braceOnly && syn != Braces {
				continue
			}
			src, at := tc.src, tc.at
			if syn == Hash {
				src, at = toHash(src), toHash(at)
			}
			t.Run(syn.String()+"/"+tc.name, func(t *testing.T) {
				_, err := ParseText(src, Options{Syntax: syn})
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("ParseText(%q) error = %v, want a ParseError", src, err)
				}
				if !strings.Contains(pe.Msg, toSyntaxMsg(tc.msg, syn)) {
					t.Errorf("ParseText(%q): message %q, want it to contain %q", src, pe.Msg, toSyntaxMsg(tc.msg, syn))
				}
				if !strings.HasPrefix(src[pe.Pos:], at) {
					t.Errorf("ParseText(%q): error at %d (%q), want at %q", src, pe.Pos, src[pe.Pos:], at)
				}
				if tc.line > 0 && (pe.Line != tc.line || pe.Col != tc.col) {
					t.Errorf("ParseText(%q): line %d column %d, want %d:%d", src, pe.Line, pe.Col, tc.line, tc.col)
				}
				if !strings.HasPrefix(err.Error(), "template: line ") {
					t.Errorf("Error() = %q", err.Error())
				}
			})
		}
	}
}

// toSyntaxMsg adapts an expected message that names the delimiters.
func toSyntaxMsg(msg string, syn Syntax) string {
	if syn == Hash {
		return strings.ReplaceAll(msg, `"{{" has no matching "}}"`, `"#{" has no matching "}"`)
	}
	return msg
}

func TestParseUnknownSyntax(t *testing.T) {
	if _, err := ParseText("x", Options{Syntax: 7}); err == nil || !strings.Contains(err.Error(), "unknown template syntax") {
		t.Errorf("ParseText: %v", err)
	}
	if _, err := ParseJSON([]byte(`{}`), Options{Syntax: -1}); err == nil || !strings.Contains(err.Error(), "unknown template syntax") {
		t.Errorf("ParseJSON: %v", err)
	}
}

var jsonParseErrorCases = []struct {
	name      string
	src       string
	at        string
	msg       string
	line, col int
}{
	{name: "tag error in a value", src: `{"a":"{{name | uppr}}"}`, at: "uppr", msg: `unknown filter "uppr"`, line: 1, col: 16},
	{name: "tag error in a key", src: `{"{{x":1}`, at: `{{x"`, msg: "unclosed tag"},
	{name: "tag error in an array", src: `[1, "ok {{a}}", "{{ }}"]`, at: `{{ }}`, msg: "empty tag"},
	{name: "through escapes", src: `{"a":"\u00e9\n\"\ud83d\ude00{{name | uppr}}"}`, at: "uppr", msg: "unknown filter"},
	{name: "through an escaped brace", src: `{"a":"\u007b{name | uppr}}"}`, at: "uppr", msg: "unknown filter"},
	{name: "unclosed escaped brace", src: `{"a":"x\u007b{name"}`, at: `\u007b{name`, msg: "unclosed tag"},
	{name: "through invalid UTF-8", src: "{\"a\":\"\xff\xfe{{name | uppr}}\"}", at: "uppr", msg: "unknown filter"},
	{name: "line and column in the document", src: "{\n  \"text\": \"会社 {{名前 | uppr}}\"\n}", at: "uppr", msg: "unknown filter", line: 2, col: 22},
	{name: "invalid JSON", src: `{"a":}`, at: "}", msg: "invalid JSON: invalid character '}'", line: 1, col: 6},
	{name: "invalid JSON on line 2", src: "{\"a\":1,\n}", at: "}", msg: "invalid JSON", line: 2, col: 1},
	{name: "empty source", src: ``, at: "", msg: "invalid JSON: unexpected end of JSON input"},
	{name: "trailing data", src: `{"a":1} x`, at: "x", msg: "invalid JSON: invalid character 'x' after top-level value"},
	{name: "bad escape", src: `{"a":"\x"}`, at: `x"}`, msg: "invalid JSON"},
	{name: "truncated", src: `{"a":"{{b}}"`, at: "", msg: "invalid JSON: unexpected end of JSON input"},
	{name: "raw control character", src: "{\"a\":\"\x01\"}", at: "\x01", msg: "invalid JSON"},
}

func TestParseJSONErrors(t *testing.T) {
	for _, tc := range jsonParseErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJSON([]byte(tc.src), Options{})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseJSON(%s) error = %v, want a ParseError", tc.src, err)
			}
			if !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("message %q, want it to contain %q", pe.Msg, tc.msg)
			}
			if tc.at == "" {
				if pe.Pos < len(tc.src)-1 {
					t.Errorf("error at %d, want the end (%d)", pe.Pos, len(tc.src))
				}
			} else if !strings.HasPrefix(tc.src[pe.Pos:], tc.at) {
				t.Errorf("error at %d (%q), want at %q", pe.Pos, tc.src[pe.Pos:], tc.at)
			}
			if tc.line > 0 && (pe.Line != tc.line || pe.Col != tc.col) {
				t.Errorf("line %d column %d, want %d:%d", pe.Line, pe.Col, tc.line, tc.col)
			}
		})
	}
}

// TestParseJSONErrorsHash checks that positions inside JSON strings are
// right in the hash syntax too.
func TestParseJSONErrorsHash(t *testing.T) {
	src := `{"a":"\u00e9 #{name | uppr}", "b": "#{"}`
	_, err := ParseJSON([]byte(src), Options{Syntax: Hash})
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.HasPrefix(src[pe.Pos:], "uppr") {
		t.Fatalf("error %v", err)
	}
	src = `{"a":"#{name}", "b": "x #{"}`
	_, err = ParseJSON([]byte(src), Options{Syntax: Hash})
	if !errors.As(err, &pe) || !strings.HasPrefix(src[pe.Pos:], `#{"}`) || !strings.Contains(pe.Msg, "unclosed") {
		t.Fatalf("error %v", err)
	}
}

// TestDocumentedErrors keeps the error examples of the package
// documentation true.
func TestDocumentedErrors(t *testing.T) {
	text := []struct{ src, want string }{
		{"Hello {{name | uppr}}", `template: line 1, column 16: unknown filter "uppr" (filters: default, or, upper, lower, json, urlencode, truncate, date)`},
		{"{{name | truncate:-1}}", `template: line 1, column 19: filter "truncate" needs a whole number of characters, e.g. truncate:100`},
	}
	for _, tc := range text {
		if _, err := ParseText(tc.src, Options{}); err == nil || err.Error() != tc.want {
			t.Errorf("ParseText(%q) = %v\nwant %s", tc.src, err, tc.want)
		}
	}
	body := []struct{ src, want string }{
		{`{"text": "{{name"}`, `template: line 1, column 11: unclosed tag: "{{" has no matching "}}"`},
		{"{\"a\": 1,\n}", `template: line 2, column 1: invalid JSON: invalid character '}' looking for beginning of object key string`},
	}
	for _, tc := range body {
		if _, err := ParseJSON([]byte(tc.src), Options{}); err == nil || err.Error() != tc.want {
			t.Errorf("ParseJSON(%q) = %v\nwant %s", tc.src, err, tc.want)
		}
	}
}
