package api_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// Every URL an endpoint will dial is checked when it is saved, on create
// and on PATCH, and a refusal names the field the host came from: the
// url (even with tags in its path), auth.token_url (PATCH did not check
// it), the URLs a preset builds (a Marketo munchkin_id such as
// "127.0.0.1:18080/#" pointed the preset at any address, and base_url was
// not checked). The message says the kind of address only; the operator's
// log has the address.
func TestDestinationsCheckedWhenSaved(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) { c.AllowPrivateDestinations = false }})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	base := "/v1/apps/acme/endpoints"
	var ep, mk struct{ ID string }
	s.MustDo("POST", base, map[string]any{"url": "https://example.com/hook"}, &ep, 201)
	marketo := func(o map[string]string) map[string]any {
		opts := map[string]string{"munchkin_id": "123-ABC-456", "client_id": "cid", "client_secret": "cs"}
		for k, v := range o {
			opts[k] = v
		}
		return map[string]any{"preset": "marketo", "preset_options": opts}
	}
	s.MustDo("POST", base, marketo(nil), &mk, 201)
	oauth := func(tokenURL string) map[string]any {
		return map[string]any{"auth": map[string]any{"type": "oauth2_client_credentials", "token_url": tokenURL, "client_id": "c", "client_secret": "s"}}
	}

	for _, c := range []struct {
		name, method, path string
		body               map[string]any
		field, want        string
	}{
		{"url", "PATCH", base + "/" + ep.ID, map[string]any{"url": "http://10.0.0.7/hook"}, "url", "private network address"},
		{"url with tags", "PATCH", base + "/" + ep.ID, map[string]any{"url": "http://10.0.0.7/{{lead.id}}"}, "url", "private network address"},
		{"token url", "POST", base, map[string]any{"url": "https://example.com/h", "auth": oauth("http://169.254.169.254/token")["auth"]}, "auth.token_url", "link-local"},
		{"token url on patch", "PATCH", base + "/" + ep.ID, oauth("http://169.254.169.254/token"), "auth.token_url", "link-local"},
		{"munchkin id pointing elsewhere", "POST", base, marketo(map[string]string{"munchkin_id": "127.0.0.1:18080/#"}), "preset_options.munchkin_id", "123-ABC-456"},
		{"munchkin id syntax", "PATCH", base + "/" + mk.ID, marketo(map[string]string{"munchkin_id": "acme"}), "preset_options.munchkin_id", "123-ABC-456"},
		{"base url", "POST", base, marketo(map[string]string{"base_url": "http://127.0.0.1:18080"}), "preset_options.base_url", "loopback"},
		{"base url on patch", "PATCH", base + "/" + mk.ID, marketo(map[string]string{"base_url": "http://[::1]:18080/"}), "preset_options.base_url", "loopback"},
		{"preset's token url", "POST", base, func() map[string]any {
			b := marketo(map[string]string{"base_url": "http://10.1.1.1"})
			b["url"] = "https://example.com/leads" // the leads go elsewhere, the token request does not
			return b
		}(), "preset_options.base_url", "private network address"},
		{"base url syntax", "POST", base, marketo(map[string]string{"base_url": "https://mk.example.com/#"}), "preset_options.base_url", "without ? or #"},
	} {
		var e apiError
		got := s.Do(c.method, c.path, c.body, &e)
		if got != 422 || e.Error.Code != "invalid" || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%s: %d %+v, want 422 on %s saying %q", c.name, got, e.Error, c.field, c.want)
		}
		for _, addr := range []string{"10.0.0.7", "169.254", "127.0.0.1", "::1"} {
			if strings.Contains(e.Error.Message, addr) {
				t.Errorf("%s: the message gives the address away: %q", c.name, e.Error.Message)
			}
		}
	}
	// Nothing refused was saved.
	var saved struct {
		URL       string
		Auth      any
		Effective struct{ URL string }
	}
	s.MustDo("GET", base+"/"+ep.ID, nil, &saved, 200)
	if saved.URL != "https://example.com/hook" || saved.Auth != nil {
		t.Fatalf("a refused change was saved: %+v", saved)
	}
	s.MustDo("GET", base+"/"+mk.ID, nil, &saved, 200)
	if saved.Effective.URL != "https://123-ABC-456.mktorest.com/rest/v1/leads.json" {
		t.Fatalf("marketo endpoint after refused changes: %+v", saved)
	}
	if !s.Logged("destination refused when saved", "endpoint_id="+ep.ID, "10.0.0.7", "field=url") ||
		!s.Logged("destination refused when saved", "endpoint_id="+mk.ID, "::1", "field=preset_options.base_url") {
		t.Fatalf("the operator's log lacks the refused addresses:\n%s", s.Log())
	}
}
