package template

import (
	"maps"
	"strings"
	"testing"
)

const formSchema = `{
  "type": "object",
  "title": "問い合わせフォーム",
  "properties": {
    "company": {"type": "string", "title": "会社名"},
    "lead": {
      "type": "object",
      "title": "リード",
      "properties": {
        "company": {"type": "string", "title": "リード会社"},
        "contact": {"properties": {"email": {"type": "string", "title": " メール "}}}
      }
    },
    "dup1": {"title": "重複"},
    "dup2": {"title": "重複"},
    "notitle": {"type": "string"},
    "numtitle": {"title": 5},
    "emptytitle": {"title": "  "},
    "items": {"type": "array", "title": "明細", "items": {"properties": {"sku": {"title": "SKU"}}}},
    "a.b": {"title": "dotted", "properties": {"c": {"title": "under dotted"}}},
    "": {"title": "empty name"},
    "bad": "not a schema",
    "list": [{"title": "in a list"}],
    "nested_first": {"properties": {"x": {"title": "順序"}}},
    "later": {"title": "順序"},
    "parent": {"properties": {"child": {"title": "親子"}}, "title": "親子"},
    "field name": {"title": "氏名"}
  }
}`

func TestTitlesFromSchema(t *testing.T) {
	cases := []struct {
		name   string
		schema string
		want   map[string]string
	}{
		{name: "form", schema: formSchema, want: map[string]string{
			"会社名":   "company",
			"リード":   "lead",
			"リード会社": "lead.company",
			"メール":   "lead.contact.email",
			"重複":    "dup1",
			"明細":    "items",
			"順序":    "nested_first.x",
			"親子":    "parent",
			"氏名":    "field name",
		}},
		{name: "not an object", schema: `true`, want: map[string]string{}},
		{name: "no properties", schema: `{"type":"string","title":"x"}`, want: map[string]string{}},
		{name: "properties not an object", schema: `{"properties":[{"title":"x"}]}`, want: map[string]string{}},
		{name: "nested properties not an object", schema: `{"properties":{"a":{"title":"t","properties":5}}}`, want: map[string]string{"t": "a"}},
		{name: "last properties key wins", schema: `{"properties":{"a":{"title":"A"}},"properties":{"b":{"title":"B"}}}`, want: map[string]string{"B": "b"}},
		{name: "escaped names", schema: `{"properties":{"\u4f1a\u793e":{"title":"\u4f1a\u793e\u540d"}}}`, want: map[string]string{"会社名": "会社"}},
	}
	for _, tc := range cases {
		got, err := TitlesFromSchema([]byte(tc.schema))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.name, got, tc.want)
		}
	}
}

func TestTitlesFromSchemaErrors(t *testing.T) {
	for _, bad := range []string{``, `{`, `{"properties":}`, `{} {}`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001)} {
		if _, err := TitlesFromSchema([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "template: schema: ") {
			t.Errorf("%.20q: error %v", bad, err)
		}
	}
}

// TestTitlesEndToEnd uses titles from a schema in templates.
func TestTitlesEndToEnd(t *testing.T) {
	titles, err := TitlesFromSchema([]byte(formSchema))
	if err != nil {
		t.Fatal(err)
	}
	d := fixtureData(t)
	for _, syn := range syntaxes {
		o := Options{Syntax: syn, Titles: titles}
		tm, err := ParseText(inSyntax("{{会社名}} / {{リード会社 | upper}} / {{ メール }} / {{明細.0.sku}}", "", syn), o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tm.Render(d)
		if want := "ヘラルド株式会社 / ACME / a@example.com / "; got != want || err != nil {
			t.Errorf("%s: got %q, %v; want %q", syn, got, err, want)
		}
		j, err := ParseJSON([]byte(inSyntax(`{"c":"{{会社名}}","l":"{{リード}}"}`, "", syn)), o)
		if err != nil {
			t.Fatal(err)
		}
		out, err := j.Render(d)
		if want := `{"c":"ヘラルド株式会社","l":{"company":"Acme","contact":{"email":"a@example.com"},"score":7}}`; string(out) != want || err != nil {
			t.Errorf("%s: got %s, %v; want %s", syn, out, err, want)
		}
	}
}

func TestFilterNamesListed(t *testing.T) {
	names := strings.Split(filterNames, ", ")
	if len(names) != len(filterKinds) {
		t.Errorf("filterNames lists %d filters, there are %d", len(names), len(filterKinds))
	}
	for _, n := range names {
		if _, ok := filterKinds[n]; !ok {
			t.Errorf("filterNames lists unknown filter %q", n)
		}
	}
}
