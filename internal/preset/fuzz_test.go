package preset_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/internal/preset"
)

// FuzzMarketoAnswer: a receiver's answer is whatever the receiver sends,
// and Marketo's is read beyond its status. Never panics; a verdict is one
// of the four, OK only for "success": true and without a message, any
// other with one; the message grows at most with the answer (each byte of
// it becomes at most the three of U+FFFD), never beyond; presets that do
// not read answers say OK.
func FuzzMarketoAnswer(f *testing.F) {
	f.Add([]byte(`{"requestId":"e42b#14272d07d78","success":true,"result":[{"id":50,"status":"created"}]}`))
	f.Add([]byte(`{"success":true,"result":[{"status":"skipped","reasons":[{"code":"1006","message":"Field 'x' not found"}]}]}`))
	f.Add([]byte(`{"success":false,"errors":[{"code":"601","message":"Access token invalid"}]}`))
	f.Add([]byte(`{"success":false,"errors":[{"code":"606","message":"rate"},{"code":"601","message":"token"}]}`))
	f.Add([]byte(`{"success":false,"errors":[{},{},{}]}`))
	f.Add([]byte(`{"success":false,"errors":[{"code":606,"message":["not text"]}]}`))
	f.Add([]byte(`{"success":false}`))
	f.Add([]byte(`{"success":"false"}`))
	f.Add([]byte(`{"success":false,"success":true}`))
	f.Add([]byte(`{"success":false,"errors":[{"code":"1003","message":"\xff\xfe"}]}`))
	f.Add([]byte(`<html>Bad gateway</html>`))
	f.Add([]byte(``))
	m := preset.Lookup("marketo")
	f.Fuzz(func(t *testing.T, body []byte) {
		v, msg := m.Answer(body)
		switch v {
		case preset.OK:
			var r struct{ Success *bool }
			if msg != "" || json.Unmarshal(body, &r) != nil || r.Success == nil || !*r.Success {
				t.Fatalf("%q: OK with %q", body, msg)
			}
		case preset.TokenRejected, preset.Retry, preset.Final:
			if msg == "" {
				t.Fatalf("%q: verdict %d without a message", body, v)
			}
		default:
			t.Fatalf("%q: verdict %d", body, v)
		}
		if len(msg) > 3*len(body)+100 {
			t.Fatalf("%d-byte answer gave a %d-byte message", len(body), len(msg))
		}
		for _, name := range preset.Names() {
			if p := preset.Lookup(name); !p.ReadsAnswers() {
				if v, msg := p.Answer(body); v != preset.OK || msg != "" {
					t.Fatalf("%s reads answers: %d %q", name, v, msg)
				}
			}
		}
	})
}
