package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// marketoStandIn answers as a Marketo instance does: tokens from its
// identity endpoint, success from its leads endpoint; it keeps the leads.
type marketoStandIn struct {
	mu    sync.Mutex
	leads []map[string]any
	got   chan struct{}
}

func (m *marketoStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/identity/oauth/token":
		fmt.Fprint(w, `{"access_token":"mkto-token","token_type":"bearer","expires_in":3599,"scope":"api"}`)
	case "/rest/v1/leads.json":
		var call struct {
			Input []map[string]any `json:"input"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &call); err != nil || len(call.Input) != 1 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		m.mu.Lock()
		m.leads = append(m.leads, call.Input[0])
		m.mu.Unlock()
		m.got <- struct{}{}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"requestId":"a#1","success":true,"result":[{"id":1,"status":"created"}]}`)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// TestMarketoNameField: immdio's single name field reaches Marketo as
// lastName (or firstName, or nowhere, as name_field says); a lead's own
// firstName and lastName win.
func TestMarketoNameField(t *testing.T) {
	t.Parallel()
	mk := &marketoStandIn{got: make(chan struct{}, 16)}
	srv := httptest.NewServer(mk)
	t.Cleanup(srv.Close)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "immdio", "uid": "acme"}, nil, 201)
	// The endpoints subscribe to another type: a lead reaches each only
	// when pushed to it, one endpoint at a time.
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.other"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.export"}, nil, 201)
	endpoint := func(nameField string) string {
		t.Helper()
		opts := map[string]string{"munchkin_id": "123-ABC-456", "client_id": "cid", "client_secret": "cs", "base_url": srv.URL}
		if nameField != "" {
			opts["name_field"] = nameField
		}
		var ep struct{ ID string }
		s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"preset": "marketo", "preset_options": opts, "event_types": []string{"lead.other"}}, &ep, 201)
		return ep.ID
	}
	lead := func(ep string, payload map[string]any) map[string]any {
		t.Helper()
		var ev struct{ ID string }
		s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.export", "payload": payload}, &ev, 202)
		s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep+"/send", map[string]any{"event_ids": []string{ev.ID}}, nil, 202)
		select {
		case <-mk.got:
		case <-time.After(10 * time.Second):
			t.Fatal("Marketo got no lead within 10s")
		}
		mk.mu.Lock()
		defer mk.mu.Unlock()
		return mk.leads[len(mk.leads)-1]
	}
	single := map[string]any{"email": "taro@example.com", "name": "山田 太郎"}
	split := map[string]any{"email": "hanako@example.com", "name": "x", "lastName": "佐藤", "firstName": "花子"}

	for _, c := range []struct {
		nameField   string
		payload     map[string]any
		first, last any
	}{
		{"", single, nil, "山田 太郎"},
		{"lastName", single, nil, "山田 太郎"},
		{"firstName", single, "山田 太郎", nil},
		{"none", single, nil, nil},
		{"", split, "花子", "佐藤"},
		{"firstName", split, "花子", "佐藤"},
	} {
		ep := endpoint(c.nameField)
		got := lead(ep, c.payload)
		if got["firstName"] != c.first || got["lastName"] != c.last {
			t.Errorf("name_field %q, payload %v: firstName %v, lastName %v; want %v, %v", c.nameField, c.payload, got["firstName"], got["lastName"], c.first, c.last)
		}
	}

	for _, opts := range []map[string]string{
		{"name_field": "fullName"},
		{"name_field": "lastName", "input": `{"email":"{{email}}"}`},
	} {
		o := map[string]string{"munchkin_id": "123-ABC-456", "client_id": "cid", "client_secret": "cs", "base_url": srv.URL}
		for k, v := range opts {
			o[k] = v
		}
		var e struct{ Error struct{ Field string } }
		if got := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", map[string]any{"preset": "marketo", "preset_options": o}, &e); got != 422 || e.Error.Field != "preset_options.name_field" {
			t.Errorf("%v: %d %+v, want 422 naming preset_options.name_field", opts, got, e)
		}
	}
}
