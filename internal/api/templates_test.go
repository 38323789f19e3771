package api_test

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
)

type templateView struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

type templatedEndpoint struct {
	ID                 string            `json:"id"`
	URL                string            `json:"url"`
	Headers            map[string]string `json:"headers"`
	EndpointTemplateID string            `json:"endpoint_template_id"`
	TemplateOverrides  []string          `json:"template_overrides"`
}

type templateChange struct {
	DryRun    bool         `json:"dry_run"`
	Template  templateView `json:"template"`
	Endpoints []string     `json:"endpoints"`
	Preview   *struct {
		EndpointID string `json:"endpoint_id"`
		Before     struct {
			URL  string `json:"url"`
			Body string `json:"body"`
		} `json:"before"`
		After struct {
			URL  string `json:"url"`
			Body string `json:"body"`
		} `json:"after"`
	} `json:"preview"`
}

// TestEndpointTemplates: SATORI's webhook defined once, attached to two
// forms' endpoints. Endpoints take the template's request, keep the
// fields they set themselves, follow the template's change at the next
// delivery (the request cached for the old version is not reused), and
// a dry run tells which endpoints change, with a request before and
// after. A template in use cannot be deleted. Real receiver.
// Both stores: SQLite, and PostgreSQL where HERALD_TEST_DATABASE_URL is
// set, whose table is read to see the template's token encrypted.
func TestEndpointTemplates(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testEndpointTemplates(t, heraldtest.Options{}, nil)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db := heraldtest.PostgresDatabase(t, "herald_tpl_")
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		cfg := func(c *config.Serve) {
			c.DatabaseURL = db
			c.EncryptionKey = "k1:" + base64.StdEncoding.EncodeToString(key)
		}
		testEndpointTemplates(t, heraldtest.Options{Config: cfg}, func(id string) string {
			conn, err := pgx.Connect(t.Context(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(t.Context())
			var doc string
			if err := conn.QueryRow(t.Context(), `SELECT doc FROM endpoint_templates WHERE id = $1`, id).Scan(&doc); err != nil {
				t.Fatal(err)
			}
			return doc
		})
	})
}

func testEndpointTemplates(t *testing.T, o heraldtest.Options, stored func(id string) string) {
	s := heraldtest.Start(t, o)
	rc := heraldtest.NewReceiver(t, nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "SATORI", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "form.submitted", "sample": map[string]any{"name": "Taro"}}, nil, 201)

	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": rc.URL}, "name"},
		{map[string]any{"name": "x", "method": "FETCH"}, "method"},
		{map[string]any{"name": "x", "url": "ftp://example.com/"}, "url"},
		{map[string]any{"name": "x", "plain_headers": []string{"X-Nope"}}, "plain_headers"},
	} {
		var e apiError
		if code := s.Do("POST", "/v1/apps/acme/endpoint-templates", c.body, &e); code != 422 || e.Error.Field != c.field {
			t.Errorf("template %v: %d %+v, want 422 naming %s", c.body, code, e, c.field)
		}
	}
	var tpl templateView
	s.MustDo("POST", "/v1/apps/acme/endpoint-templates", map[string]any{
		"name": "chatwork", "url": rc.URL + "/rooms/1", "headers": map[string]string{"X-ChatWorkToken": "token-1"},
		"content_type": "application/x-www-form-urlencoded", "body_template": map[string]any{"body": "{{payload.name}}"},
	}, &tpl, 201)
	if tpl.Headers["X-ChatWorkToken"] == "token-1" || !strings.Contains(tpl.Headers["X-ChatWorkToken"], "*") {
		t.Fatalf("template header shown in clear: %+v", tpl)
	}
	if stored != nil {
		if doc := stored(tpl.ID); strings.Contains(doc, "token-1") || !strings.Contains(doc, "X-ChatWorkToken") {
			t.Fatalf("the template's header value is not encrypted at rest: %s", doc)
		}
	}
	var got templateView
	s.MustDo("GET", "/v1/apps/acme/endpoint-templates/"+tpl.ID, nil, &got, 200)
	var list struct{ Data []templateView }
	s.MustDo("GET", "/v1/apps/acme/endpoint-templates", nil, &list, 200)
	if got.Name != "chatwork" || len(list.Data) != 1 || list.Data[0].ID != tpl.ID {
		t.Fatalf("get %+v, list %+v", got, list)
	}

	mk := func(body map[string]any) templatedEndpoint {
		t.Helper()
		body["endpoint_template_id"] = tpl.ID
		body["event_types"] = []string{"form.submitted"}
		var ep templatedEndpoint
		s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
		return ep
	}
	form1 := mk(map[string]any{"channels": []string{"form_1"}})
	form2 := mk(map[string]any{"channels": []string{"form_2"}, "headers": map[string]string{"X-Form": "2"}})
	own := mk(map[string]any{"channels": []string{"form_3"}, "url": rc.URL + "/own"})
	if form1.URL != rc.URL+"/rooms/1" || form1.EndpointTemplateID != tpl.ID || len(form1.TemplateOverrides) != 0 {
		t.Fatalf("form 1's endpoint: %+v", form1)
	}
	if !slices.Equal(form2.TemplateOverrides, []string{"headers/X-Form"}) || !slices.Equal(own.TemplateOverrides, []string{"url"}) {
		t.Fatalf("overrides: %v %v", form2.TemplateOverrides, own.TemplateOverrides)
	}
	var bad apiError
	if code := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"endpoint_template_id": "eptpl_nope"}, &bad); code != 422 || bad.Error.Field != "endpoint_template_id" {
		t.Fatalf("unknown template: %d %+v", code, bad)
	}

	send := func(form string, n int) heraldtest.Request {
		t.Helper()
		before := len(rc.Requests())
		s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "form.submitted", "channels": []string{form}, "payload": map[string]any{"name": form}}, nil, 202)
		reqs := rc.Wait(t, before+1, 10*time.Second)
		if n != before+1 {
			t.Fatalf("request count %d, want %d", before+1, n)
		}
		return reqs[before]
	}
	r := send("form_1", 1)
	if r.Path != "/rooms/1" || r.Header.Get("X-ChatWorkToken") != "token-1" || string(r.Body) != "body=form_1" {
		t.Fatalf("form 1 got %s %v %s", r.Path, r.Header, r.Body)
	}
	r = send("form_3", 2)
	if r.Path != "/own" || r.Header.Get("X-ChatWorkToken") != "token-1" {
		t.Fatalf("form 3 got %s %v", r.Path, r.Header)
	}

	// A dry run changes nothing and says who would change.
	change := map[string]any{"url": rc.URL + "/rooms/2", "headers": map[string]string{"X-ChatWorkToken": "token-2"}}
	var dry templateChange
	s.MustDo("PATCH", "/v1/apps/acme/endpoint-templates/"+tpl.ID+"?dry_run=true", change, &dry, 200)
	ids := []string{form1.ID, form2.ID, own.ID}
	slices.Sort(ids)
	slices.Sort(dry.Endpoints)
	if !dry.DryRun || !slices.Equal(dry.Endpoints, ids) || dry.Template.URL != rc.URL+"/rooms/2" || dry.Preview == nil ||
		!strings.HasSuffix(dry.Preview.Before.URL, "/rooms/1") && !strings.HasSuffix(dry.Preview.Before.URL, "/own") ||
		dry.Preview.Before.Body == "" {
		t.Fatalf("dry run: %+v %+v", dry, dry.Preview)
	}
	if dry.Preview.EndpointID != own.ID && !strings.HasSuffix(dry.Preview.After.URL, "/rooms/2") {
		t.Fatalf("dry run preview after: %+v", dry.Preview)
	}
	var alias templateChange
	s.MustDo("POST", "/v1/apps/acme/endpoint-templates/"+tpl.ID+"/preview-change", map[string]any{"url": rc.URL + "/rooms/9"}, &alias, 200)
	slices.Sort(alias.Endpoints)
	ids2 := []string{form1.ID, form2.ID}
	slices.Sort(ids2)
	if !slices.Equal(alias.Endpoints, ids2) {
		t.Fatalf("a URL change leaves the endpoint with its own URL alone: %v", alias.Endpoints)
	}
	s.MustDo("GET", "/v1/apps/acme/endpoint-templates/"+tpl.ID, nil, &got, 200)
	if got.URL != rc.URL+"/rooms/1" {
		t.Fatalf("the dry run changed the template: %+v", got)
	}

	// The change reaches the next deliveries of every endpoint, each
	// keeping its own fields.
	s.MustDo("PATCH", "/v1/apps/acme/endpoint-templates/"+tpl.ID, change, &got, 200)
	r = send("form_1", 3)
	if r.Path != "/rooms/2" || r.Header.Get("X-ChatWorkToken") != "token-2" {
		t.Fatalf("form 1 after the change got %s %v", r.Path, r.Header)
	}
	r = send("form_2", 4)
	if r.Path != "/rooms/2" || r.Header.Get("X-ChatWorkToken") != "token-2" || r.Header.Get("X-Form") != "2" {
		t.Fatalf("form 2 after the change got %s %v", r.Path, r.Header)
	}
	r = send("form_3", 5)
	if r.Path != "/own" || r.Header.Get("X-ChatWorkToken") != "token-2" {
		t.Fatalf("form 3 after the change got %s %v", r.Path, r.Header)
	}
	// Sending back the endpoint as read (masked values included) does not
	// pin the template's values as its own.
	var ep templatedEndpoint
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+form1.ID, nil, &ep, 200)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+form1.ID, map[string]any{"url": ep.URL, "headers": ep.Headers}, &ep, 200)
	if len(ep.TemplateOverrides) != 0 {
		t.Fatalf("overrides after sending back what was read: %v", ep.TemplateOverrides)
	}

	// In use: 409 naming the endpoints; once detached (keeping the values
	// in force), deleted.
	var conflict apiError
	if code := s.Do("DELETE", "/v1/apps/acme/endpoint-templates/"+tpl.ID, nil, &conflict); code != 409 ||
		!strings.Contains(conflict.Error.Message, form1.ID) || !strings.Contains(conflict.Error.Message, own.ID) {
		t.Fatalf("deleting a template in use: %d %+v", code, conflict)
	}
	for _, id := range ids {
		ep = templatedEndpoint{}
		s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+id, map[string]any{"endpoint_template_id": nil}, &ep, 200)
		if ep.EndpointTemplateID != "" || ep.URL == "" {
			t.Fatalf("detached endpoint: %+v", ep)
		}
	}
	s.MustDo("DELETE", "/v1/apps/acme/endpoint-templates/"+tpl.ID, nil, nil, 204)
	r = send("form_2", 6)
	if r.Path != "/rooms/2" || r.Header.Get("X-Form") != "2" {
		t.Fatalf("form 2 after detaching got %s %v", r.Path, r.Header)
	}
}

// TestTemplateChangePreviewAfter: the preview of a template's change
// renders the endpoint's request after the change, not the request cached
// for the endpoint as it is (both have its id and version).
func TestTemplateChangePreviewAfter(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "sample": map[string]any{"name": "Ada"}}, nil, 201)
	var tpl templateView
	s.MustDo("POST", "/v1/apps/acme/endpoint-templates", map[string]any{"name": "hook", "url": "https://hooks.example.com/v1",
		"body_template": map[string]any{"text": "Lead {{name}}"}}, &tpl, 201)
	var ep templatedEndpoint
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"endpoint_template_id": tpl.ID, "event_types": []string{"lead.created"}}, &ep, 201)
	for _, change := range []map[string]any{
		{"url": "https://hooks.example.com/v2"},
		{"body_template": map[string]any{"text": "New lead {{name}}"}},
	} {
		var dry templateChange
		s.MustDo("POST", "/v1/apps/acme/endpoint-templates/"+tpl.ID+"/preview-change", change, &dry, 200)
		if dry.Preview == nil || dry.Preview.EndpointID != ep.ID {
			t.Fatalf("%v: preview %+v", change, dry)
		}
		b, a := dry.Preview.Before, dry.Preview.After
		if b.URL != "https://hooks.example.com/v1" || !strings.Contains(b.Body, `"Lead Ada"`) {
			t.Errorf("%v: before %+v", change, b)
		}
		wantURL, wantBody := "https://hooks.example.com/v1", `"New lead Ada"`
		if change["url"] != nil {
			wantURL, wantBody = "https://hooks.example.com/v2", `"Lead Ada"`
		}
		if a.URL != wantURL || !strings.Contains(a.Body, wantBody) {
			t.Errorf("%v: after %+v, want %s with %s", change, a, wantURL, wantBody)
		}
	}
}
