package template

import (
	"slices"
	"testing"
)

// TestOrFilter: or takes another path's value, with its type, when the
// tag's own is missing, null or empty; a value that is there wins.
func TestOrFilter(t *testing.T) {
	j, err := ParseJSON([]byte(`{"last":"{{lastName | or:\"name\"}}","first":"{{firstName | or:\"nick\" | default:\"-\"}}","n":"{{score | or:\"会社名\"}}"}`),
		Options{Titles: map[string]string{"会社名": "company.score"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := j.Paths(), []string{"lastName", "name", "firstName", "nick", "score", "会社名"}; !slices.Equal(got, want) {
		t.Errorf("Paths: %v, want %v", got, want)
	}
	for _, c := range []struct{ payload, want string }{
		{`{"name":"山田 太郎","company":{"score":7}}`, `{"last":"山田 太郎","first":"-","n":7}`},
		{`{"lastName":"山田","firstName":"太郎","name":"x","nick":"y","score":1}`, `{"last":"山田","first":"太郎","n":1}`},
		{`{"lastName":"","name":"x","firstName":null,"nick":"y"}`, `{"last":"x","first":"y","n":null}`},
		{`{}`, `{"last":null,"first":"-","n":null}`},
	} {
		p, err := DecodePayload([]byte(c.payload))
		if err != nil {
			t.Fatal(err)
		}
		out, err := j.Render(&Data{Payload: p})
		if err != nil || string(out) != c.want {
			t.Errorf("%s: got %s, %v; want %s", c.payload, out, err, c.want)
		}
	}
	for _, src := range []string{`"{{a | or}}"`, `"{{a | or:1}}"`, `"{{a | or:\"\"}}"`, `"{{a | or:\"b..c\"}}"`} {
		if _, err := ParseJSON([]byte(src), Options{}); err == nil {
			t.Errorf("%s parsed", src)
		}
	}
}
