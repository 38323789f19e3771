package preset_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/preset"
)

// The credentials among the presets' options are exactly those the
// domain's naming rule seals and masks: a renamed option must not slip
// out of encryption at rest.
func TestSecretOptions(t *testing.T) {
	want := map[string][]string{
		"chatwork": {"api_token"},
		"marketo":  {"client_secret"},
		"segment":  {"write_key"},
	}
	for _, name := range preset.Names() {
		var got []string
		for _, o := range preset.Lookup(name).Options {
			if herald.SecretOption(o.Name) {
				got = append(got, o.Name)
			}
		}
		if !slices.Equal(got, want[name]) {
			t.Errorf("%s: secret options %v, want %v", name, got, want[name])
		}
	}
}

func TestLookup(t *testing.T) {
	if preset.Lookup("") != preset.Lookup("custom") || preset.Lookup("custom") == nil {
		t.Fatal(`"" is not the custom preset`)
	}
	if preset.Lookup("myspace") != nil {
		t.Fatal("unknown preset found")
	}
	if got := preset.Names(); !slices.Equal(got, []string{"chatwork", "custom", "discord", "marketo", "segment", "slack", "teams"}) {
		t.Fatalf("names %v", got)
	}
}

func TestCheck(t *testing.T) {
	cw, mk := preset.Lookup("chatwork"), preset.Lookup("marketo")
	mkOpts := func(o map[string]string) map[string]string {
		out := map[string]string{"munchkin_id": "123-ABC-456", "client_id": "c", "client_secret": "s"}
		for k, v := range o {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		p      *preset.Preset
		opts   map[string]string
		option string // "" when accepted
	}{
		{cw, map[string]string{"room_id": "42", "api_token": "t"}, ""},
		{cw, map[string]string{"room_id": "{{room}}", "api_token": "t", "message": "hi"}, ""},
		{cw, map[string]string{"room_id": "42"}, "api_token"},
		{cw, map[string]string{"room_id": " ", "api_token": "t"}, "room_id"},
		{cw, map[string]string{"room_id": "42/../1", "api_token": "t"}, "room_id"},
		{cw, map[string]string{"room_id": "42", "api_token": "t", "colour": "red"}, "colour"},
		{mk, mkOpts(nil), ""},
		{mk, mkOpts(map[string]string{"munchkin_id": "123-abc-456", "base_url": "https://mk.example.com/"}), ""},
		// The id becomes a host: anything but an id's form is refused.
		{mk, mkOpts(map[string]string{"munchkin_id": "127.0.0.1:18080/#"}), "munchkin_id"},
		{mk, mkOpts(map[string]string{"munchkin_id": "evil.example/x?"}), "munchkin_id"},
		{mk, mkOpts(map[string]string{"munchkin_id": "123-ABC-4567"}), "munchkin_id"},
		{mk, mkOpts(map[string]string{"munchkin_id": "{{id}}"}), "munchkin_id"},
		{mk, mkOpts(map[string]string{"base_url": "ftp://mk.example.com"}), "base_url"},
		{mk, mkOpts(map[string]string{"base_url": "https://mk.example.com/?x="}), "base_url"},
		{preset.Lookup("custom"), map[string]string{"x": "1"}, "x"},
		{preset.Lookup("slack"), nil, ""},
	} {
		err := c.p.Check(c.opts)
		var oe *preset.OptionError
		switch {
		case c.option == "" && err != nil:
			t.Errorf("%s %v: %v", c.p.Name, c.opts, err)
		case c.option != "" && (!errors.As(err, &oe) || oe.Option != c.option):
			t.Errorf("%s %v: %v, want an error naming %s", c.p.Name, c.opts, err, c.option)
		}
	}
}

func TestMarketoAnswer(t *testing.T) {
	m := preset.Lookup("marketo")
	if !m.ReadsAnswers() || preset.Lookup("slack").ReadsAnswers() {
		t.Fatal("only Marketo reads its answers")
	}
	for _, c := range []struct {
		body string
		want preset.Verdict
	}{
		{`{"success":true,"result":[{"id":1,"status":"created"}]}`, preset.OK},
		{`{"success":true,"result":[{"status":"skipped","reasons":[{"code":"1006","message":"Field 'x' not found"}]}]}`, preset.Final},
		{`{"success":false,"errors":[{"code":"601","message":"Access token invalid"}]}`, preset.TokenRejected},
		{`{"success":false,"errors":[{"code":"602","message":"Access token expired"}]}`, preset.TokenRejected},
		{`{"success":false,"errors":[{"code":"606","message":"Max rate limit exceeded"}]}`, preset.Retry},
		{`{"success":false,"errors":[{"code":"615","message":"Concurrent access limit"}]}`, preset.Retry},
		// A token error wins over a rate error in the same answer: a
		// fresh token is tried first.
		{`{"success":false,"errors":[{"code":"606","message":"rate"},{"code":"601","message":"token"}]}`, preset.TokenRejected},
		{`{"success":false,"errors":[{"code":"1003","message":"Invalid action"}]}`, preset.Final},
		{`{"success":false}`, preset.Final},
		{`<html>Bad gateway</html>`, preset.Final},
	} {
		got, msg := m.Answer([]byte(c.body))
		if got != c.want {
			t.Errorf("%s: verdict %d, want %d (%s)", c.body, got, c.want, msg)
		}
		if got != preset.OK && msg == "" {
			t.Errorf("%s: no message", c.body)
		}
	}
	if v, _ := preset.Lookup("slack").Answer([]byte("ok")); v != preset.OK {
		t.Fatal("slack's answer is read")
	}
}

func TestMarketoAuth(t *testing.T) {
	a := preset.Lookup("marketo").Auth(map[string]string{"munchkin_id": "123-ABC-456", "client_id": "cid", "client_secret": "cs"})
	if a == nil || a.Type != "oauth2_client_credentials" || a.TokenURL != "https://123-ABC-456.mktorest.com/identity/oauth/token" || a.ClientID != "cid" || a.ClientSecret != "cs" {
		t.Fatalf("auth %+v", a)
	}
	if a := preset.Lookup("marketo").Auth(map[string]string{"base_url": "https://mk.example.com/"}); a.TokenURL != "https://mk.example.com/identity/oauth/token" {
		t.Fatalf("base_url: %s", a.TokenURL)
	}
	// A refused destination is blamed on the option its host came from.
	for o, want := range map[string]string{"munchkin_id": "munchkin_id", "base_url": "base_url"} {
		if got := preset.Lookup("marketo").Request(map[string]string{o: "x"}).URLFrom; got != want {
			t.Errorf("URL built from %s says it comes from %q", o, got)
		}
	}
	if got := preset.Lookup("chatwork").Request(map[string]string{"room_id": "1"}).URLFrom; got != "" {
		t.Errorf("chatwork's URL is Chatwork's, not from %q", got)
	}
	if preset.Lookup("chatwork").Auth(map[string]string{"api_token": "x"}) != nil {
		t.Fatal("chatwork has no auth of its own")
	}
}

// A Marketo endpoint batches by default unless its request is its own (a
// body template, a transformation, whose payload is the whole body of a
// lead alone); its own batch is in force whatever it has.
func TestBatching(t *testing.T) {
	opts := map[string]string{"munchkin_id": "123-ABC-456", "client_id": "c", "client_secret": "s"}
	marketo := func(change func(*herald.Endpoint)) *herald.Endpoint {
		ep := &herald.Endpoint{}
		ep.Preset, ep.PresetOptions = "marketo", opts
		change(ep)
		return ep
	}
	for _, c := range []struct {
		name string
		ep   *herald.Endpoint
		want int
	}{
		{"preset", marketo(func(*herald.Endpoint) {}), preset.MarketoMaxLeads},
		{"body template", marketo(func(ep *herald.Endpoint) { ep.BodyTemplate = herald.RawJSON(`{"a":1}`) }), 0},
		{"transformation", marketo(func(ep *herald.Endpoint) { ep.Transformation = "function handler(w) { return w }" }), 0},
		{"transformation, own batch", marketo(func(ep *herald.Endpoint) {
			ep.Transformation = "function handler(w) { return w }"
			ep.Batch = &herald.BatchSettings{MaxEvents: 10}
		}), 10},
		{"no preset", &herald.Endpoint{URL: "https://example.com"}, 0},
	} {
		got := 0
		if b := preset.Batching(c.ep); b != nil {
			got = b.MaxEvents
		}
		if got != c.want {
			t.Errorf("%s: batches %d, want %d", c.name, got, c.want)
		}
	}
}
