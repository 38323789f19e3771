package template

import (
	"strings"
	"testing"
	"time"
)

// fixturePayload is a form submission as a Japanese form builder sends it,
// with the awkward cases the tests need.
const fixturePayload = `{
  "company": "ヘラルド株式会社",
  "name": "Yamada Taro",
  "empty": "",
  "nothing": null,
  "yes": true,
  "no": false,
  "score": 42,
  "big": 12345678901234567890,
  "price": 1.50,
  "exp": 1e3,
  "neg": -0.5,
  "lead": {"company": "Acme", "score": 7, "contact": {"email": "a@example.com"}},
  "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
  "matrix": [[1, 2], [3, 4]],
  "2024": "year key",
  "obj": {"0": "zero key", "10": "ten"},
  "field name": "spaced",
  "会社": {"名前": "ヘラルド"},
  "event": {"type": "payload event type", "id": "pe1"},
  "payload": {"x": "nested payload"},
  "created": "2024-05-01T18:30:05.123+09:00",
  "created_utc": "2024-05-01T09:30:05Z",
  "unix": 1714555805,
  "unix_frac": 1714555805.5,
  "unix_str": "1714555805",
  "bad_date": "yesterday",
  "html": "<b>&</b>",
  "query": "a b&c=d/é"
}`

var fixtureTitles = map[string]string{
	"会社名":   "company",
	"リード会社": "lead.company",
	"メール":   "lead.contact.email",
	// A title equal to a payload path: the payload wins.
	"name": "lead.company",
	// A title whose path is missing.
	"電話": "lead.phone",
}

func fixtureData(t testing.TB) *Data {
	t.Helper()
	p, err := DecodePayload([]byte(fixturePayload))
	if err != nil {
		t.Fatal(err)
	}
	return &Data{
		Payload:  p,
		Event:    EventInfo{ID: "evt_1", Type: "form.submitted", Timestamp: time.Date(2024, 5, 1, 18, 30, 0, 5e8, time.FixedZone("JST", 9*3600))},
		App:      AppInfo{ID: "app_1", UID: "acme", Name: "Acme Inc"},
		Endpoint: EndpointInfo{ID: "ep_1"},
	}
}

// toHash rewrites a braces template to the hash syntax, for tests that
// check both syntaxes behave the same. It is only meant for sources where
// "{{" and "}}" appear as tag delimiters only.
func toHash(src string) string {
	return strings.ReplaceAll(strings.ReplaceAll(src, "{{", "#{"), "}}", "}")
}

var syntaxes = []Syntax{Braces, Hash}

// inSyntax returns the source of a test case for the syntax: the hash
// override if the case has one, else the braces source converted.
func inSyntax(src, hash string, syn Syntax) string {
	if syn == Braces {
		return src
	}
	if hash != "" {
		return hash
	}
	return toHash(src)
}
