package template

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// textCases run in both syntaxes; hash overrides the converted source when
// the automatic conversion would change the meaning, and braceOnly marks
// cases about the braces syntax alone.
var textCases = []struct {
	name      string
	src       string
	hash      string
	braceOnly bool
	want      string
}{
	// Paths.
	{name: "top-level key", src: "{{company}}", want: "ヘラルド株式会社"},
	{name: "surrounding text and spaces", src: "Hi {{ name }}!", want: "Hi Yamada Taro!"},
	{name: "nested", src: "{{lead.company}}", want: "Acme"},
	{name: "deeply nested", src: "{{lead.contact.email}}", want: "a@example.com"},
	{name: "array index", src: "{{items.0.sku}}/{{items.1.qty}}", want: "A-1/1"},
	{name: "array of arrays", src: "{{matrix.1.0}}", want: "3"},
	{name: "index past the end", src: "[{{items.2.sku}}]", want: "[]"},
	{name: "index with leading zero is not an index", src: "[{{items.01.sku}}]", want: "[]"},
	{name: "negative index", src: "[{{items.-1.sku}}]", want: "[]"},
	{name: "key on an array", src: "[{{items.sku}}]", want: "[]"},
	{name: "numeric key on object", src: "{{obj.0}} {{obj.10}}", want: "zero key ten"},
	{name: "numeric top-level key", src: "{{2024}}", want: "year key"},
	{name: "key with a space", src: "{{field name}}|{{ field name }}", want: "spaced|spaced"},
	{name: "unicode keys", src: "{{会社.名前}}", want: "ヘラルド"},
	{name: "ideographic spaces trimmed", src: "{{\u3000会社.名前\u3000}}", want: "ヘラルド"},
	{name: "missing key", src: "[{{lead.phone}}]", want: "[]"},
	{name: "path through a string", src: "[{{company.x}}]", want: "[]"},
	{name: "path through a number", src: "[{{score.x}}]", want: "[]"},

	// Values as text.
	{name: "number", src: "{{score}}", want: "42"},
	{name: "big number keeps digits", src: "{{big}}", want: "12345678901234567890"},
	{name: "decimal keeps digits", src: "{{price}} {{exp}} {{neg}}", want: "1.50 1e3 -0.5"},
	{name: "booleans", src: "{{yes}}/{{no}}", want: "true/false"},
	{name: "null", src: "[{{nothing}}]", want: "[]"},
	{name: "empty string", src: "[{{empty}}]", want: "[]"},
	{name: "object as JSON", src: "{{lead}}", want: `{"company":"Acme","contact":{"email":"a@example.com"},"score":7}`},
	{name: "array as JSON", src: "{{matrix}}", want: `[[1,2],[3,4]]`},

	// Metadata.
	{name: "metadata", src: "{{event.id}} {{event.type}} {{event.timestamp}} {{app.id}} {{app.uid}} {{app.name}} {{endpoint.id}}",
		want: "evt_1 form.submitted 2024-05-01T09:30:00.500Z app_1 acme Acme Inc ep_1"},
	{name: "other event paths are payload paths", src: "{{event.id}}/{{event.name}}/{{payload.event.id}}", want: "evt_1//pe1"},
	{name: "payload prefix reaches a field named event", src: "{{payload.event.type}}", want: "payload event type"},
	{name: "payload prefix", src: "{{payload.company}} {{payload.lead.company}}", want: "ヘラルド株式会社 Acme"},
	{name: "payload field named payload", src: "{{payload.payload.x}}", want: "nested payload"},
	{name: "spaced metadata path is not metadata", src: "[{{event . id}}]", want: "[]"},

	// Titles.
	{name: "title", src: "{{会社名}}", want: "ヘラルド株式会社"},
	{name: "nested title", src: "{{リード会社}} {{ メール }}", want: "Acme a@example.com"},
	{name: "payload path wins over a title", src: "{{name}}", want: "Yamada Taro"},
	{name: "unknown title", src: "[{{未知}}]", want: "[]"},
	{name: "title with filters", src: "{{リード会社 | upper}}", want: "ACME"},
	{name: "title whose field is missing", src: "{{電話 | default:\"-\"}}", want: "-"},

	// Filters.
	{name: "upper", src: "{{name | upper}}", want: "YAMADA TARO"},
	{name: "lower without spaces", src: "{{name|lower}}", want: "yamada taro"},
	{name: "upper of a number", src: "{{score | upper}}", want: "42"},
	{name: "upper of a boolean", src: "{{yes | upper}}", want: "TRUE"},
	{name: "upper of an object", src: "{{lead.contact | upper}}", want: `{"EMAIL":"A@EXAMPLE.COM"}`},
	{name: "upper of null", src: "[{{nothing | upper}}]", want: "[]"},
	{name: "default on missing", src: `{{lead.phone | default:"n/a"}}`, want: "n/a"},
	{name: "default on null", src: `{{nothing | default:"n/a"}}`, want: "n/a"},
	{name: "default on empty", src: `{{empty | default:"n/a"}}`, want: "n/a"},
	{name: "default on a value", src: `{{name | default:"n/a"}}`, want: "Yamada Taro"},
	{name: "default on false keeps false", src: `{{no | default:"n/a"}}`, want: "false"},
	{name: "default number", src: `{{lead.phone | default:0}}`, want: "0"},
	{name: "default escapes", src: `{{x | default:"\"quoted\"\n\u00e9"}}`, want: "\"quoted\"\né"},
	{name: "default then upper", src: `{{name | default:"n/a" | upper}}`, want: "YAMADA TARO"},
	{name: "default then upper on missing", src: `{{lead.phone | default:"n/a" | upper}}`, want: "N/A"},
	{name: "missing stays missing until default", src: `{{lead.phone | upper | truncate:2 | default:"x"}}`, want: "x"},
	{name: "spaces around colon", src: `{{ lead.phone | default : "n/a" }}`, want: "n/a"},
	{name: "default with a closing delimiter inside", src: `{{x | default:"}}"}}`, hash: `#{x | default:"}}"}`, want: "}}"},
	{name: "default with a pipe inside", src: `{{x | default:"a|b"}}`, want: "a|b"},
	{name: "json of a string", src: "{{name | json}}", want: `"Yamada Taro"`},
	{name: "json of an object", src: "{{lead.contact | json}}", want: `{"email":"a@example.com"}`},
	{name: "json of null", src: "{{nothing | json}}", want: "null"},
	{name: "json of a number", src: "{{big | json}}", want: "12345678901234567890"},
	{name: "json escapes html", src: "{{html | json}}", want: `"\u003cb\u003e\u0026\u003c/b\u003e"`},
	{name: "urlencode", src: "q={{query | urlencode}}", want: "q=" + url.QueryEscape("a b&c=d/é")},
	{name: "urlencode unicode", src: "{{company | urlencode}}", want: url.QueryEscape("ヘラルド株式会社")},
	{name: "truncate counts characters", src: "{{company | truncate:3}}", want: "ヘラル"},
	{name: "truncate zero", src: "[{{name | truncate:0}}]", want: "[]"},
	{name: "truncate longer than the text", src: "{{name | truncate:100}}", want: "Yamada Taro"},
	{name: "truncate a number", src: "{{big | truncate:4}}", want: "1234"},
	{name: "json then truncate", src: "{{lead | json | truncate:5}}", want: `{"com`},
	{name: "chain with spaces", src: "{{ name | truncate : 5 | upper }}", want: "YAMAD"},

	// Dates.
	{name: "date tokens", src: `{{created | date:"YYYY-MM-DD HH:mm:ss.SSS Z"}}`, want: "2024-05-01 18:30:05.123 +09:00"},
	{name: "date UTC offset", src: `{{created_utc | date:"YYYY/MM/DD Z"}}`, want: "2024/05/01 +00:00"},
	{name: "date from unix", src: `{{unix | date:"YYYY-MM-DDTHH:mm:ssZ"}}`, want: "2024-05-01T09:30:05+00:00"},
	{name: "date from fractional unix", src: `{{unix_frac | date:"ss.SSS"}}`, want: "05.500"},
	{name: "date from digits", src: `{{unix_str | date:"rfc3339"}}`, want: "2024-05-01T09:30:05Z"},
	{name: "date rfc3339 keeps offset", src: `{{created | date:"rfc3339"}}`, want: "2024-05-01T18:30:05+09:00"},
	{name: "date unix", src: `{{created | date:"unix"}}`, want: "1714555805"},
	{name: "date in Japanese", src: `{{created | date:"YYYY年MM月DD日 HH時mm分"}}`, want: "2024年05月01日 18時30分"},
	{name: "date of the event timestamp", src: `{{event.timestamp | date:"HH:mm:ss.SSS"}}`, want: "09:30:00.500"},
	{name: "date literal letters", src: `{{created | date:"M/D Y"}}`, want: "M/D Y"},
	{name: "date of text that is no time", src: `[{{bad_date | date:"YYYY"}}]`, want: "[]"},
	{name: "date failure then default", src: `{{bad_date | date:"YYYY" | default:"?"}}`, want: "?"},
	{name: "date of null", src: `[{{nothing | date:"YYYY"}}]`, want: "[]"},
	{name: "date of a boolean", src: `[{{yes | date:"YYYY"}}]`, want: "[]"},

	// Literal text.
	{name: "no tags", src: "https://example.com/hook?a=1", want: "https://example.com/hook?a=1"},
	{name: "empty", src: "", want: ""},
	{name: "single braces around a tag", src: "{ {{name}} }", want: "{ Yamada Taro }"},
	{name: "lone braces", src: "a } b }} c {", hash: "a } b }} c {", want: "a } b }} c {"},
	{name: "triple braces", src: "{{{name}}}", braceOnly: true, want: "{Yamada Taro}"},
	{name: "hash before a hash tag", src: "##{name}", hash: "##{name}", braceOnly: true, want: "##{name}"},
	{name: "adjacent tags", src: "{{items.0.sku}}{{items.1.sku}}", want: "A-1B-2"},
}

func TestRenderText(t *testing.T) {
	d := fixtureData(t)
	for _, syn := range syntaxes {
		for _, tc := range textCases {
			if tc.braceOnly && syn != Braces {
				continue
			}
			src := inSyntax(tc.src, tc.hash, syn)
			t.Run(syn.String()+"/"+tc.name, func(t *testing.T) {
				tm, err := ParseText(src, Options{Syntax: syn, Titles: fixtureTitles})
				if err != nil {
					t.Fatalf("ParseText(%q): %v", src, err)
				}
				got, err := tm.Render(d)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				if got != tc.want {
					t.Errorf("Render(%q)\n got %q\nwant %q", src, got, tc.want)
				}
			})
		}
	}
}

// TestSyntaxEquivalence renders every text case in both syntaxes and
// requires the same output.
func TestSyntaxEquivalence(t *testing.T) {
	d := fixtureData(t)
	for _, tc := range textCases {
		if tc.braceOnly {
			continue
		}
		var outs []string
		for _, syn := range syntaxes {
			tm, err := ParseText(inSyntax(tc.src, tc.hash, syn), Options{Syntax: syn, Titles: fixtureTitles})
			if err != nil {
				t.Fatalf("%s/%s: %v", syn, tc.name, err)
			}
			out, err := tm.Render(d)
			if err != nil {
				t.Fatalf("%s/%s: %v", syn, tc.name, err)
			}
			outs = append(outs, out)
		}
		if outs[0] != outs[1] {
			t.Errorf("%s: braces %q, hash %q", tc.name, outs[0], outs[1])
		}
	}
}

func TestOtherSyntaxIsLiteral(t *testing.T) {
	d := fixtureData(t)
	cases := []struct {
		syn       Syntax
		src, want string
	}{
		{Braces, "#{name} {{name}}", "#{name} Yamada Taro"},
		{Hash, "#{name} {{name}}", "Yamada Taro {{name}}"},
		{Hash, "{{name", "{{name"},
		{Braces, "#{name", "#{name"},
		{Hash, "{#{name}}", "{Yamada Taro}"},
	}
	for _, tc := range cases {
		tm, err := ParseText(tc.src, Options{Syntax: tc.syn})
		if err != nil {
			t.Fatalf("%s %q: %v", tc.syn, tc.src, err)
		}
		got, err := tm.Render(d)
		if err != nil || got != tc.want {
			t.Errorf("%s %q: got %q, %v; want %q", tc.syn, tc.src, got, err, tc.want)
		}
	}
}

func TestRenderEscaped(t *testing.T) {
	d := fixtureData(t)
	tm, err := ParseText("https://example.com/{{company}}/{{query}}?x={{missing}}&s={{score}}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tm.RenderEscaped(d, url.PathEscape)
	if err != nil {
		t.Fatal(err)
	}
	want := "https://example.com/" + url.PathEscape("ヘラルド株式会社") + "/" + url.PathEscape("a b&c=d/é") + "?x=&s=42"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	var calls []string
	tm.RenderEscaped(d, func(s string) string { calls = append(calls, s); return s })
	if !slices.Equal(calls, []string{"ヘラルド株式会社", "a b&c=d/é", "", "42"}) {
		t.Errorf("escape called with %q; want only the inserted values", calls)
	}
}

func TestTextPaths(t *testing.T) {
	tm, err := ParseText("{{ b }}{{a|upper}}{{b}}{{event.id}}{{会社名}}{{payload.x}}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"b", "a", "event.id", "会社名", "payload.x"}
	if got := tm.Paths(); !slices.Equal(got, want) {
		t.Errorf("Paths() = %q, want %q", got, want)
	}
	tm.Paths()[0] = "changed"
	if tm.Paths()[0] != "b" {
		t.Error("Paths returned the template's own slice")
	}
	if tm, _ := ParseText("no tags", Options{}); len(tm.Paths()) != 0 {
		t.Errorf("Paths() of a template without tags = %q", tm.Paths())
	}
}

func TestRenderNilData(t *testing.T) {
	tm, err := ParseText("[{{a}}{{event.timestamp}}{{app.name}}]", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tm.Render(nil); err != nil || got != "[]" {
		t.Errorf("Render(nil) = %q, %v", got, err)
	}
	j, err := ParseJSON([]byte(`{"a":"{{a}}","b":"x{{b}}"}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := j.Render(nil); err != nil || string(got) != `{"a":null,"b":"x"}` {
		t.Errorf("Render(nil) = %s, %v", got, err)
	}
}

func TestDateEdgeCases(t *testing.T) {
	cases := []struct {
		in   any
		f    string
		want string
	}{
		{"2024-02-29T23:59:59.999999999-05:30", "YYYY-MM-DD HH:mm:ss.SSS Z", "2024-02-29 23:59:59.999 -05:30"},
		{"0001-01-01T00:00:00Z", "YYYY", "0001"},
		{json.Number("-1.5"), "rfc3339", "1969-12-31T23:59:58Z"},
		{json.Number("-1.5"), "SSS", "500"},
		{json.Number("1.7145558e9"), "rfc3339", "2024-05-01T09:30:00Z"},
		{json.Number("1e300"), "YYYY", ""},
		{json.Number("99999999999999999999"), "YYYY", ""},
		{json.Number("253402300800"), "YYYY", ""},
		{json.Number("0"), "YYYY-MM-DD Z", "1970-01-01 +00:00"},
		{json.Number("1714555805.123456"), "SSS", "123"},
		{"", "YYYY", ""},
		{"   ", "YYYY", ""},
		{json.Number("1714555805"), "", ""},
	}
	for _, tc := range cases {
		tm, err := ParseText(`{{t | date:"`+tc.f+`"}}`, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := tm.Render(&Data{Payload: map[string]any{"t": tc.in}})
		if err != nil || got != tc.want {
			t.Errorf("%v | date:%q = %q, %v; want %q", tc.in, tc.f, got, err, tc.want)
		}
	}
}

func TestTruncateInvalidUTF8(t *testing.T) {
	tm, err := ParseText("{{t | truncate:2}}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tm.Render(&Data{Payload: map[string]any{"t": "\xffé\xfe"}})
	if got != "\xffé" {
		t.Errorf("got %q", got)
	}
}

func TestZeroTimestampIsMissing(t *testing.T) {
	tm, err := ParseText(`{{event.timestamp | default:"none"}}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tm.Render(&Data{Event: EventInfo{Timestamp: time.Time{}}}); got != "none" {
		t.Errorf("got %q", got)
	}
}

func TestLongTemplate(t *testing.T) {
	d := fixtureData(t)
	src := strings.Repeat("{{name}}-", 1000)
	tm, err := ParseText(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tm.Render(d)
	if err != nil || got != strings.Repeat("Yamada Taro-", 1000) {
		t.Errorf("long render wrong (%d bytes), %v", len(got), err)
	}
}
