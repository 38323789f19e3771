package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestPortalRoles, on both stores: a portal session is a viewer (reads only), a
// developer (endpoints, tests, previews, resends and recovery, but no
// signing secret) or an admin (everything a session can do), as the
// product mints it; the answer, whoami and the audit log say which.
func TestPortalRoles(t *testing.T) { pullStores(t, portalRoles) }

func portalRoles(t *testing.T, s *heraldtest.Server) {
	rc := heraldtest.NewReceiver(t, nil)
	epID := s.Setup(rc.URL+"/hooks", nil)
	evID := s.Send(map[string]any{"n": 1})
	d := s.WaitDelivery(evID, "succeeded", 1, 5*time.Second)

	mint := func(body map[string]any) portalAnswer {
		t.Helper()
		var p struct {
			portalAnswer
			Role string `json:"role"`
		}
		s.MustDo("POST", "/v1/apps/acme/portal-sessions", body, &p, 201)
		if want := body["role"]; want != nil && p.Role != want {
			t.Errorf("session minted with role %v answers role %q", want, p.Role)
		}
		return p.portalAnswer
	}
	sessions := map[string]portalAnswer{
		"viewer":    mint(map[string]any{"role": "viewer"}),
		"developer": mint(map[string]any{"role": "developer"}),
		"admin":     mint(map[string]any{"role": "admin"}),
	}
	if !sessions["viewer"].ReadOnly || sessions["developer"].ReadOnly || sessions["admin"].ReadOnly {
		t.Errorf("read_only of viewer, developer, admin: %v %v %v, want true false false",
			sessions["viewer"].ReadOnly, sessions["developer"].ReadOnly, sessions["admin"].ReadOnly)
	}
	for role, p := range sessions {
		var who struct {
			Role     string `json:"role"`
			ReadOnly bool   `json:"read_only"`
		}
		if got := s.DoWith("GET", "/v1/whoami", nil, &who, bearer(p.Token)); got != 200 || who.Role != role {
			t.Errorf("whoami of a %s session: %d %+v", role, got, who)
		}
	}
	// The key list shows each session's stored role (absent for other keys).
	var keys struct {
		Data []struct {
			ID    string `json:"id"`
			Scope string `json:"scope"`
			Role  string `json:"role"`
		} `json:"data"`
	}
	s.MustDo("GET", "/v1/api-keys?limit=100", nil, &keys, 200)
	listed := map[string]string{}
	for _, k := range keys.Data {
		listed[k.ID] = k.Role
		if k.Scope != "portal" && k.Role != "" {
			t.Errorf("key %s of scope %s lists role %q", k.ID, k.Scope, k.Role)
		}
	}
	for role, p := range sessions {
		if listed[p.ID] != role {
			t.Errorf("the %s session lists role %q", role, listed[p.ID])
		}
	}
	// Without role, read_only decides as before: admin, or viewer.
	var def, ro struct {
		Role string `json:"role"`
	}
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{}, &def, 201)
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{"read_only": true}, &ro, 201)
	if def.Role != "admin" || ro.Role != "viewer" {
		t.Errorf("role without role: %q, with read_only: %q; want admin, viewer", def.Role, ro.Role)
	}

	type op struct {
		name, method, path string
		body               any
	}
	ep := "/v1/apps/acme/endpoints/" + epID
	ops := []op{
		{"list endpoints", "GET", "/v1/apps/acme/endpoints", nil},
		{"read an endpoint", "GET", ep, nil},
		{"preview", "POST", ep + "/preview", map[string]any{"event_type": "lead.created"}},
		{"create an endpoint", "POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/new"}},
		{"update an endpoint", "PATCH", ep, map[string]any{"description": "changed"}},
		{"test send", "POST", ep + "/test", map[string]any{"event_type": "lead.created"}},
		{"resend", "POST", "/v1/apps/acme/deliveries/" + d.ID + "/resend", nil},
		{"recover", "POST", ep + "/recover", map[string]any{"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}},
		{"read the secret", "GET", ep + "/secret", nil},
		{"rotate the secret", "POST", ep + "/secret/rotate", nil},
		{"reveal secret headers", "POST", ep + "/preview", map[string]any{"event_type": "lead.created", "reveal_secrets": true}},
		{"set a secret", "PATCH", ep, map[string]any{"secret": "whsec_" + strings.Repeat("A", 32)}},
		{"change the signature scheme", "PATCH", ep, map[string]any{"signature_scheme": "v1a"}},
	}
	allowed := map[string]map[string]bool{
		"viewer": {"list endpoints": true, "read an endpoint": true, "preview": true},
		"developer": {"list endpoints": true, "read an endpoint": true, "preview": true, "create an endpoint": true,
			"update an endpoint": true, "test send": true, "resend": true, "recover": true, "read the secret": true},
	}
	for _, role := range []string{"viewer", "developer", "admin"} {
		tok := bearer(sessions[role].Token)
		for _, o := range ops {
			var e apiError
			got := s.DoWith(o.method, o.path, o.body, &e, tok)
			ok := role == "admin" || allowed[role][o.name]
			switch {
			case ok && got/100 != 2:
				t.Errorf("%s may %s: got %d %+v", role, o.name, got, e)
			case !ok && got != 403:
				t.Errorf("%s may not %s: got %d, want 403", role, o.name, got)
			case !ok && role == "developer" && !strings.Contains(e.Error.Message, "role developer"):
				t.Errorf("developer refused to %s: %q does not name the role", o.name, e.Error.Message)
			}
		}
	}

	// A session mints no session, not even a narrower one: none is ever
	// wider than what the product handed out.
	for role, p := range sessions {
		if got := s.DoWith("POST", "/v1/apps/acme/portal-sessions", map[string]any{"role": "viewer"}, nil, bearer(p.Token)); got != 403 {
			t.Errorf("a %s session mints a session: %d, want 403", role, got)
		}
	}

	// The viewer's preview carries no signature a receiver accepts:
	// whoever cannot read the secret gets nothing signed with it. The
	// developer, who reads it, gets the signature.
	signature := func(role string) string {
		var pv struct {
			Headers map[string]string
			Error   any
		}
		if got := s.DoWith("POST", ep+"/preview", map[string]any{"event_type": "lead.created"}, &pv, bearer(sessions[role].Token)); got != 200 {
			t.Errorf("%s preview: %d %+v", role, got, pv)
		}
		h := http.Header{}
		for k, v := range pv.Headers {
			h.Set(k, v)
		}
		return h.Get("Webhook-Signature")
	}
	if view, dev, adm := signature("viewer"), signature("developer"), signature("admin"); !strings.Contains(view, "not shown") || strings.Contains(dev, "not shown") || strings.Contains(adm, "not shown") {
		t.Errorf("preview signature of viewer %q, developer %q, admin %q: want only the viewer's left out", view, dev, adm)
	}

	// The audit log records each session's role.
	var log struct {
		Data []struct {
			Action  string          `json:"action"`
			Target  string          `json:"target"`
			Changes json.RawMessage `json:"changes"`
		}
	}
	s.MustDo("GET", "/v1/apps/acme/audit-log?limit=100", nil, &log, 200)
	roles := map[string]string{}
	for _, e := range log.Data {
		if e.Action == "portal_session.create" {
			var c struct{ Role string }
			_ = json.Unmarshal(e.Changes, &c)
			roles[e.Target] = c.Role
		}
	}
	for role, p := range sessions {
		if roles[p.ID] != role {
			t.Errorf("audit of the %s session %s: role %q", role, p.ID, roles[p.ID])
		}
	}

	// Bad or contradicting input names role.
	for _, body := range []map[string]any{
		{"role": "owner"},
		{"role": "developer", "read_only": true},
		{"role": "viewer", "read_only": false},
		{"role": 3},
	} {
		var e apiError
		if got := s.Invalid().Do("POST", "/v1/apps/acme/portal-sessions", body, &e); got != 422 && got != 400 || e.Error.Field != "role" {
			t.Errorf("%v: %d %+v, want 422 naming role", body, got, e)
		}
	}
	// role and a read_only that agrees are fine.
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{"role": "viewer", "read_only": true}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{"role": "admin", "read_only": false}, nil, 201)
}
