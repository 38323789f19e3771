package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

var jsonCases = []struct {
	name string
	src  string
	hash string
	want string
}{
	// Whole-value tags keep the JSON type.
	{name: "number", src: `{"a":"{{score}}"}`, want: `{"a":42}`},
	{name: "big number keeps digits", src: `{"a":"{{big}}"}`, want: `{"a":12345678901234567890}`},
	{name: "decimal keeps digits", src: `{"a":"{{price}}","b":"{{exp}}","c":"{{neg}}"}`, want: `{"a":1.50,"b":1e3,"c":-0.5}`},
	{name: "booleans", src: `{"a":"{{yes}}","b":"{{no}}"}`, want: `{"a":true,"b":false}`},
	{name: "null", src: `{"a":"{{nothing}}"}`, want: `{"a":null}`},
	{name: "missing is null", src: `{"a":"{{lead.phone}}","b":["{{nope}}"]}`, want: `{"a":null,"b":[null]}`},
	{name: "string", src: `{"a":"{{name}}"}`, want: `{"a":"Yamada Taro"}`},
	{name: "object", src: `{"a":"{{lead}}"}`, want: `{"a":{"company":"Acme","contact":{"email":"a@example.com"},"score":7}}`},
	{name: "array", src: `{"a":"{{items}}"}`, want: `{"a":[{"qty":2,"sku":"A-1"},{"qty":1,"sku":"B-2"}]}`},
	{name: "spaces inside the tag", src: `{"a":"{{ score }}"}`, want: `{"a":42}`},
	{name: "top level", src: `"{{lead.contact}}"`, want: `{"email":"a@example.com"}`},
	{name: "metadata", src: `{"id":"{{event.id}}","ts":"{{event.timestamp}}","app":"{{app.name}}"}`,
		want: `{"id":"evt_1","ts":"2024-05-01T09:30:00.500Z","app":"Acme Inc"}`},
	{name: "payload prefix", src: `{"t":"{{payload.event.type}}","p":"{{payload.payload}}"}`,
		want: `{"t":"payload event type","p":{"x":"nested payload"}}`},
	{name: "title", src: `{"c":"{{会社名}}","l":"{{リード会社}}"}`, want: `{"c":"ヘラルド株式会社","l":"Acme"}`},

	// After filters the type is the filter's.
	{name: "upper gives a string", src: `{"a":"{{name | upper}}"}`, want: `{"a":"YAMADA TARO"}`},
	{name: "json gives a string", src: `{"a":"{{score | json}}","b":"{{lead.contact | json}}"}`,
		want: `{"a":"42","b":"{\"email\":\"a@example.com\"}"}`},
	{name: "number default stays a number", src: `{"a":"{{nope | default:0}}","b":"{{nope | default:\"0\"}}"}`,
		want: `{"a":0,"b":"0"}`},
	{name: "default keeps the value's type", src: `{"a":"{{score | default:\"none\"}}"}`, want: `{"a":42}`},
	{name: "date unix gives a number", src: `{"t":"{{created | date:\"unix\"}}"}`, want: `{"t":1714555805}`},
	{name: "truncate gives a string", src: `{"a":"{{big | truncate:3}}"}`, want: `{"a":"123"}`},
	{name: "failed date is null", src: `{"a":"{{bad_date | date:\"YYYY\"}}"}`, want: `{"a":null}`},

	// Text insertion.
	{name: "space before the tag makes text", src: `{"a":" {{score}}"}`, want: `{"a":" 42"}`},
	{name: "text around the tag", src: `{"a":"n={{score}};"}`, want: `{"a":"n=42;"}`},
	{name: "two tags", src: `{"a":"{{score}}{{score}}"}`, want: `{"a":"4242"}`},
	{name: "missing text is empty", src: `{"a":"[{{nope}}]"}`, want: `{"a":"[]"}`},
	{name: "object as text", src: `{"a":"x{{lead.contact}}"}`, want: `{"a":"x{\"email\":\"a@example.com\"}"}`},
	{name: "html in text is escaped", src: `{"a":"<{{html}}>"}`, want: `{"a":"\u003c\u003cb\u003e\u0026\u003c/b\u003e\u003e"}`},
	{name: "message in Japanese", src: `{"text":"{{会社名}} 様から {{event.type}} が届きました"}`,
		want: `{"text":"ヘラルド株式会社 様から form.submitted が届きました"}`},

	// Keys.
	{name: "key tag", src: `{"{{name}}":"x"}`, want: `{"Yamada Taro":"x"}`},
	{name: "key tag of a number is text", src: `{"{{score}}":1}`, want: `{"42":1}`},
	{name: "key tag of an object is text", src: `{"k{{lead.contact}}":1}`, want: `{"k{\"email\":\"a@example.com\"}":1}`},
	{name: "missing key is empty", src: `{"{{nope}}":1}`, want: `{"":1}`},

	// The template's own JSON.
	{name: "compact, literals as written", src: "{\n  \"a\" : [1, 2.50, true, null, {\"b\": \"c\"}, -0, 1E+2] ,\n \"d\": {}, \"e\": []\n}",
		want: `{"a":[1,2.50,true,null,{"b":"c"},-0,1E+2],"d":{},"e":[]}`},
	{name: "key order kept", src: `{"z":1,"a":2,"m":{"y":1,"b":2}}`, hash: `{"z":1,"a":2,"m":{"y":1,"b":2}}`, want: `{"z":1,"a":2,"m":{"y":1,"b":2}}`},
	{name: "duplicate keys kept", src: `{"a":1,"a":"{{score}}"}`, want: `{"a":1,"a":42}`},
	{name: "literal strings re-escaped", src: `{"h":"<b>\u2028\/\u0001"}`, want: `{"h":"\u003cb\u003e\u2028/\u0001"}`},
	{name: "escaped braces form a tag", src: `{"a":"\u007b{name}}"}`, hash: `{"a":"\u0023{name}"}`, want: `{"a":"Yamada Taro"}`},
	{name: "top-level number", src: ` 5 `, want: `5`},
	{name: "top-level text", src: `"x {{name}}"`, want: `"x Yamada Taro"`},
	{name: "nested arrays", src: `[["{{score}}", "{{items.0.sku}}"], [[]]]`, want: `[[42,"A-1"],[[]]]`},
}

func TestRenderJSON(t *testing.T) {
	d := fixtureData(t)
	for _, syn := range syntaxes {
		for _, tc := range jsonCases {
			src := inSyntax(tc.src, tc.hash, syn)
			t.Run(syn.String()+"/"+tc.name, func(t *testing.T) {
				tm, err := ParseJSON([]byte(src), Options{Syntax: syn, Titles: fixtureTitles})
				if err != nil {
					t.Fatalf("ParseJSON(%s): %v", src, err)
				}
				got, err := tm.Render(d)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				if string(got) != tc.want {
					t.Errorf("Render(%s)\n got %s\nwant %s", src, got, tc.want)
				}
				if !json.Valid(got) {
					t.Errorf("output is not valid JSON: %s", got)
				}
			})
		}
	}
}

func TestRenderWholePayload(t *testing.T) {
	d := fixtureData(t)
	tm, err := ParseJSON([]byte(`{"data":"{{payload}}"}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := tm.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Data json.RawMessage }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if a, b := decodeNumbers(t, got.Data), decodeNumbers(t, []byte(fixturePayload)); !reflect.DeepEqual(a, b) {
		t.Errorf("payload changed:\n%s", got.Data)
	}
}

func decodeNumbers(t testing.TB, b []byte) any {
	t.Helper()
	v, err := DecodePayload(b)
	if err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// hostile are values that break naive string building.
var hostile = []string{
	`"`,
	`\`,
	`\"`,
	"line\nbreak\r\n",
	"tab\there",
	controlChars(),
	"nul\x00byte",
	"\u2028\u2029",
	"</script><script>alert(1)</script>",
	"<!-- & -->",
	"😀 👨‍👩‍👧 emoji",
	"invalid \xff\xfe utf-8 \xc3",
	"{{name}}",
	"#{name}",
	`"}}`,
	"\u007f\ufeff\ufffd",
	"",
	"'single' `back`",
}

func controlChars() string {
	var b strings.Builder
	for c := rune(0); c < 0x20; c++ {
		b.WriteRune(c)
	}
	return b.String()
}

// sanitized is what a JSON decoder gives back for s: each invalid UTF-8
// byte becomes U+FFFD.
func sanitized(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

func TestHostileValues(t *testing.T) {
	const src = `{"a":"x{{v}}y","b":"{{v}}","{{v}}":"key","c":["{{v | upper}}"],"d":"{{v | json}}","e":"{{o}}","f":"{{o | json}}"}`
	for _, syn := range syntaxes {
		tm, err := ParseJSON([]byte(inSyntax(src, "", syn)), Options{Syntax: syn})
		if err != nil {
			t.Fatal(err)
		}
		txt, err := ParseText(inSyntax("{{v}}", "", syn), Options{Syntax: syn})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range hostile {
			d := &Data{Payload: map[string]any{"v": v, "o": map[string]any{v: []any{v}}}}
			out, err := tm.Render(d)
			if err != nil {
				t.Fatalf("%q: %v", v, err)
			}
			if !json.Valid(out) {
				t.Fatalf("%q: invalid JSON: %s", v, out)
			}
			if bytes.ContainsAny(out, "<>&\u2028\u2029") || !utf8.Valid(out) {
				t.Errorf("%q: unsafe bytes left in %s", v, out)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want := sanitized(v)
			if got["a"] != "x"+want+"y" || got["b"] != want || got[want] != "key" {
				t.Errorf("%q: round trip failed: %s", v, out)
			}
			if c, _ := got["c"].([]any); len(c) != 1 || c[0] != strings.ToUpper(want) {
				t.Errorf("%q: upper: %v", v, got["c"])
			}
			var inner string
			if err := json.Unmarshal([]byte(got["d"].(string)), &inner); err != nil || inner != want {
				t.Errorf("%q: json filter: %q, %v", v, got["d"], err)
			}
			wantObj := map[string]any{want: []any{want}}
			if !reflect.DeepEqual(got["e"], wantObj) {
				t.Errorf("%q: object: %v", v, got["e"])
			}
			var innerObj any
			if err := json.Unmarshal([]byte(got["f"].(string)), &innerObj); err != nil || !reflect.DeepEqual(innerObj, wantObj) {
				t.Errorf("%q: json of object: %v, %v", v, got["f"], err)
			}

			// Text is inserted as is: escaping is the caller's, per
			// destination.
			if s, err := txt.Render(d); err != nil || s != v {
				t.Errorf("%q: text render = %q, %v", v, s, err)
			}
		}
	}
}

// TestHostileDecodedPayload sends hostile values through a real payload,
// escaped in JSON as a producer would send them.
func TestHostileDecodedPayload(t *testing.T) {
	tm, err := ParseJSON([]byte(`{"a":"<{{v}}>","b":"{{v}}"}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range hostile {
		raw, _ := json.Marshal(map[string]string{"v": v})
		p, err := DecodePayload(raw)
		if err != nil {
			t.Fatal(err)
		}
		out, err := tm.Render(&Data{Payload: p})
		if err != nil || !json.Valid(out) {
			t.Fatalf("%q: %s, %v", v, out, err)
		}
		var got map[string]string
		json.Unmarshal(out, &got)
		if want := sanitized(v); got["a"] != "<"+want+">" || got["b"] != want {
			t.Errorf("%q: got %q", v, got)
		}
	}
}

// TestOddPayloadValues covers Go values a caller may put in a payload
// without DecodePayload: the output must stay valid JSON.
func TestOddPayloadValues(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	odd := []any{
		json.Number("not a number"),
		json.Number(`1"}`),
		json.Number(""),
		3.5,
		int64(-7),
		[]string{"a", "<b>"},
		map[string]int{"z": 1, "a": 2},
		struct{ A string }{"x"},
		make(chan int),
		func() {},
		panicMarshaler{},
		cyclic,
	}
	tm, err := ParseJSON([]byte(`{"a":"{{v}}","b":"t{{v}}","c":"{{v | json}}","d":"{{v | upper}}"}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range odd {
		out, err := tm.Render(&Data{Payload: map[string]any{"v": v}})
		if err != nil || !json.Valid(out) {
			t.Errorf("%T: %s, %v", v, out, err)
		}
	}
}

type panicMarshaler struct{}

func (panicMarshaler) MarshalJSON() ([]byte, error) { panic("boom") }

func TestRenderFields(t *testing.T) {
	d := fixtureData(t)
	src := `{
		"name": "{{name}}",
		"score": "{{score}}",
		"big": "{{big}}",
		"lead": "{{lead.contact}}",
		"n": 1.50,
		"b": true,
		"z": null,
		"o": {"k": "{{name}}", "s": "{{score}}"},
		"arr": [1, "{{score}}"],
		"msg": "Hi {{name}}",
		"{{app.uid}}_id": "{{event.id}}",
		"missing": "{{nope}}",
		"nul": "{{nothing}}",
		"html": "{{html}}",
		"会社名": "{{会社名}}",
		"name": "again"
	}`
	want := []Field{
		{"name", "Yamada Taro"},
		{"score", "42"},
		{"big", "12345678901234567890"},
		{"lead", `{"email":"a@example.com"}`},
		{"n", "1.50"},
		{"b", "true"},
		{"z", "null"},
		{"o", `{"k":"Yamada Taro","s":42}`},
		{"arr", `[1,42]`},
		{"msg", "Hi Yamada Taro"},
		{"acme_id", "evt_1"},
		{"missing", ""},
		{"nul", ""},
		{"html", "<b>&</b>"},
		{"会社名", "ヘラルド株式会社"},
		{"name", "again"},
	}
	for _, syn := range syntaxes {
		tm, err := ParseJSON([]byte(inSyntax(src, "", syn)), Options{Syntax: syn, Titles: fixtureTitles})
		if err != nil {
			t.Fatal(err)
		}
		if !tm.IsObject() {
			t.Fatal("IsObject() = false for an object")
		}
		got, err := tm.RenderFields(d)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: RenderFields:\n got %q\nwant %q", syn, got, want)
		}
	}
}

func TestRenderFieldsNeedsObject(t *testing.T) {
	for _, src := range []string{`[1]`, `"{{x}}"`, `1`, `null`, `"a"`} {
		tm, err := ParseJSON([]byte(src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if tm.IsObject() {
			t.Errorf("%s: IsObject() = true", src)
		}
		if _, err := tm.RenderFields(fixtureData(t)); !errors.Is(err, ErrNotObject) {
			t.Errorf("%s: RenderFields error = %v, want ErrNotObject", src, err)
		}
	}
	tm, _ := ParseJSON([]byte(`{}`), Options{})
	if fs, err := tm.RenderFields(nil); err != nil || len(fs) != 0 || !tm.IsObject() {
		t.Errorf("empty object: %v, %v", fs, err)
	}
}

func TestJSONPaths(t *testing.T) {
	tm, err := ParseJSON([]byte(`{"{{k}}":"{{a}} {{b|upper}}","x":["{{a}}",{"{{c}}":1}],"y":"{{event.id}}"}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"k", "a", "b", "c", "event.id"}
	if got := tm.Paths(); !slices.Equal(got, want) {
		t.Errorf("Paths() = %q, want %q", got, want)
	}
}

func TestStrict(t *testing.T) {
	d := fixtureData(t)
	cases := []struct {
		name, src  string
		json       bool
		wantPath   string // MissingError path; "" for no error
		wantFilter string // FilterError filter
	}{
		{name: "missing path", src: "{{lead.phone}}", wantPath: "lead.phone"},
		{name: "path as written", src: "{{ lead.phone | upper }}", wantPath: "lead.phone"},
		{name: "missing title", src: "{{電話}}", wantPath: "電話"},
		{name: "unknown title", src: "{{未知}}", wantPath: "未知"},
		{name: "default rescues", src: `{{lead.phone | default:""}}`},
		{name: "null is not missing", src: `{{nothing}}`},
		{name: "empty is not missing", src: `{{empty}}`},
		{name: "second tag", src: `{{name}} {{items.5.sku}}`, wantPath: "items.5.sku"},
		{name: "failed date", src: `{{bad_date | date:"YYYY"}}`, wantPath: "bad_date", wantFilter: "date"},
		{name: "failed date rescued", src: `{{bad_date | date:"YYYY" | default:"-"}}`},
		{name: "json whole value", src: `{"a":"{{lead.phone}}"}`, json: true, wantPath: "lead.phone"},
		{name: "json text", src: `{"a":"x{{lead.phone}}"}`, json: true, wantPath: "lead.phone"},
		{name: "json key", src: `{"{{lead.phone}}":1}`, json: true, wantPath: "lead.phone"},
		{name: "json present", src: `{"a":"{{nothing}}","b":"{{name}}"}`, json: true},
	}
	for _, tc := range cases {
		for _, syn := range syntaxes {
			o := Options{Syntax: syn, Strict: true, Titles: fixtureTitles}
			src := inSyntax(tc.src, "", syn)
			var errs []error
			if tc.json {
				tm, err := ParseJSON([]byte(src), o)
				if err != nil {
					t.Fatal(err)
				}
				_, err = tm.Render(d)
				errs = append(errs, err)
				_, err = tm.RenderFields(d)
				errs = append(errs, err)
			} else {
				tm, err := ParseText(src, o)
				if err != nil {
					t.Fatal(err)
				}
				_, err = tm.Render(d)
				errs = append(errs, err)
				_, err = tm.RenderEscaped(d, strings.ToUpper)
				errs = append(errs, err)
			}
			for _, err := range errs {
				var me *MissingError
				var fe *FilterError
				switch {
				case tc.wantPath == "":
					if err != nil {
						t.Errorf("%s/%s: unexpected error %v", syn, tc.name, err)
					}
				case tc.wantFilter != "":
					if !errors.As(err, &fe) || fe.Path != tc.wantPath || fe.Filter != tc.wantFilter {
						t.Errorf("%s/%s: error %v, want FilterError for %q", syn, tc.name, err, tc.wantPath)
					}
				default:
					if !errors.As(err, &me) || me.Path != tc.wantPath {
						t.Errorf("%s/%s: error %v, want MissingError for %q", syn, tc.name, err, tc.wantPath)
					}
				}
			}
		}
	}
}

func TestErrorMessages(t *testing.T) {
	if got, want := (&MissingError{Path: "lead.company"}).Error(), `template: missing value for "lead.company"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got, want := (&MissingError{Path: "会社名"}).Error(), `template: missing value for "会社名"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	fe := &FilterError{Path: "created", Filter: "date", Msg: "not an RFC 3339 time or a Unix timestamp"}
	if got, want := fe.Error(), `template: filter "date" cannot use the value of "created": not an RFC 3339 time or a Unix timestamp`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	_, err := ParseText("Hello {{name | uppr}}", Options{})
	if got, want := err.Error(), `template: line 1, column 16: unknown filter "uppr" (filters: default, or, upper, lower, json, urlencode, truncate, date)`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestStrictZeroTimestamp(t *testing.T) {
	tm, _ := ParseText("{{event.timestamp}}", Options{Strict: true})
	var me *MissingError
	if _, err := tm.Render(&Data{}); !errors.As(err, &me) || me.Path != "event.timestamp" {
		t.Errorf("error = %v", err)
	}
}

func TestDecodePayload(t *testing.T) {
	v, err := DecodePayload([]byte(` {"n": 12345678901234567890, "f": 1.50, "a": [1]} `))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["n"] != json.Number("12345678901234567890") || m["f"] != json.Number("1.50") {
		t.Errorf("numbers not kept: %#v", m)
	}
	for _, empty := range []string{"", "  \n"} {
		if v, err := DecodePayload([]byte(empty)); v != nil || err != nil {
			t.Errorf("%q: %v, %v", empty, v, err)
		}
	}
	for _, bad := range []string{"{", `{"a":1} x`, `{"a":1}{}`, "nul"} {
		if _, err := DecodePayload([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestUnquoteMatchesEncodingJSON holds the template's string decoding to
// encoding/json's, since positions and tags depend on it.
func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		`plain`, `a\"b\\c\/d`, `\b\f\n\r\t`, `\u00e9\u3042`, `\ud83d\ude00`,
		`\ud83d`, `\ud83dx`, `\ude00`, `\ud83d\u0041`, `\ud83d\ud83d\ude00`,
		"\xff\xfe", "a\xc3", "é\xe3\x81", `\u0000`, `\u2028`,
	}
	for _, raw := range cases {
		var want string
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &want); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if got := unquote([]byte(raw)); got != want {
			t.Errorf("unquote(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestRawOffset(t *testing.T) {
	raw := []byte(`\u00e9\n\ud83d\ude00x\ud83dy` + "\xff" + `z`)
	// decoded: é(2) \n(1) 😀(4) x(1) U+FFFD(3) y(1) U+FFFD(3) z(1)
	cases := []struct{ decoded, raw int }{
		{0, 0}, {1, 0}, {2, 6}, {3, 8}, {6, 8}, {7, 20}, {8, 21}, {11, 27}, {12, 28}, {15, 29}, {16, 30},
	}
	for _, tc := range cases {
		if got := rawOffset(raw, tc.decoded); got != tc.raw {
			t.Errorf("rawOffset(%d) = %d, want %d", tc.decoded, got, tc.raw)
		}
	}
}

// TestConcurrentRender renders shared templates from many goroutines, for
// the race detector.
func TestConcurrentRender(t *testing.T) {
	d := fixtureData(t)
	j, err := ParseJSON([]byte(`{"a":"{{lead}}","b":"x {{name | upper}}","c":"{{created | date:\"YYYY\"}}"}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	txt, err := ParseText("{{name}} {{lead | json}}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := j.Render(d)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				out, err := j.Render(d)
				if err != nil || !bytes.Equal(out, want) {
					t.Errorf("concurrent Render: %s, %v", out, err)
					return
				}
				if _, err := j.RenderFields(d); err != nil {
					t.Error(err)
					return
				}
				if _, err := txt.Render(d); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
