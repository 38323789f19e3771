package template

import (
	"encoding/json"
	"testing"
)

// TestRawPayloadOrder: with the payload's text, objects keep the sender's
// key order; the output stays valid JSON with the usual escapes, and text
// that cannot be sent as is (invalid UTF-8) falls back to sorted keys.
func TestRawPayloadOrder(t *testing.T) {
	cases := []struct {
		name, tmpl, payload, want string
	}{
		{"whole", `"{{payload}}"`, `{"b": 1, "a": {"d": [ {"z":1,"y":2} ], "c": "<&>"}}`,
			`{"b":1,"a":{"d":[{"z":1,"y":2}],"c":"\u003c\u0026\u003e"}}`},
		{"nested", `{"x":"{{payload.a}}","y":"{{a.d.0}}"}`, `{"b": 1, "a": {"d": [ {"z":1,"y":2} ], "c": 1.50}}`,
			`{"x":{"d":[{"z":1,"y":2}],"c":1.50},"y":{"z":1,"y":2}}`},
		{"in text", `"v={{a}}"`, `{"a": {"z": "\u2028", "y": 2}}`, `"v={\"z\":\"\\u2028\",\"y\":2}"`},
		{"repeated key: the last", `"{{a}}"`, `{"a": {"z": 1}, "a": {"y": 2, "x": 1}}`, `{"y":2,"x":1}`},
		{"default passes it on", `"{{a | default: 1}}"`, `{"a": {"z": 1, "y": 2}}`, `{"z":1,"y":2}`},
		{"json and truncate", `"{{a | json | truncate: 13}}"`, `{"a": {"z": 1, "y": 2}}`, `"{\"z\":1,\"y\":2}"`},
		{"invalid UTF-8: repaired, sorted", `"{{a}}"`, "{\"a\": {\"z\": \"\xff\", \"y\": 2}}", `{"y":2,"z":"` + "\ufffd" + `"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm, err := ParseJSON([]byte(c.tmpl), Options{})
			if err != nil {
				t.Fatal(err)
			}
			p, err := DecodePayload([]byte(c.payload))
			if err != nil {
				t.Fatal(err)
			}
			out, err := tm.Render(&Data{Payload: p, RawPayload: []byte(c.payload)})
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != c.want {
				t.Errorf("got  %s\nwant %s", out, c.want)
			}
			if !json.Valid(out) {
				t.Errorf("not valid JSON: %s", out)
			}
		})
	}
}
