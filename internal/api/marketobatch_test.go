package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// marketoBatches stands in for a Marketo instance with batched answers:
// its first leads call waits for hold to close, every call's leads are
// kept, and a lead whose email starts with "bad" is skipped.
type marketoBatches struct {
	hold    chan struct{}
	arrived chan struct{}
	mu      sync.Mutex
	calls   [][]map[string]any
	auth    []string
}

func (m *marketoBatches) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/identity/oauth/token":
		fmt.Fprint(w, `{"access_token":"mkto-token","token_type":"bearer","expires_in":3599,"scope":"api"}`)
	case "/rest/v1/leads.json":
		var call struct {
			Action string           `json:"action"`
			Input  []map[string]any `json:"input"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &call); err != nil || call.Action != "createOrUpdate" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		m.mu.Lock()
		m.calls = append(m.calls, call.Input)
		m.auth = append(m.auth, r.Header.Get("Authorization"))
		first := len(m.calls) == 1
		m.mu.Unlock()
		if first {
			m.arrived <- struct{}{}
			<-m.hold
		}
		var results []string
		for i, lead := range call.Input {
			if email, _ := lead["email"].(string); strings.HasPrefix(email, "bad") {
				results = append(results, fmt.Sprintf(`{"seq":%d,"status":"skipped","reasons":[{"code":"1006","message":"Field 'phone' not found"}]}`, i))
				continue
			}
			results = append(results, fmt.Sprintf(`{"seq":%d,"id":%d,"status":"created"}`, i, 100+i))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"requestId":"r#1","success":true,"result":[%s]}`, strings.Join(results, ","))
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// TestMarketoBatch: a Marketo endpoint sends the leads due together in
// one createOrUpdate (here 5, due while the endpoint's one request in
// flight was held), with its OAuth2 token; Marketo's result per lead
// decides each delivery: the skipped lead fails with Marketo's reason,
// the others succeed. Its own batch is held to 300 leads.
func TestMarketoBatch(t *testing.T) {
	t.Parallel()
	mk := &marketoBatches{hold: make(chan struct{}), arrived: make(chan struct{}, 1)}
	srv := httptest.NewServer(mk)
	t.Cleanup(srv.Close)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "immdio", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.export"}, nil, 201)
	opts := map[string]string{"munchkin_id": "123-ABC-456", "client_id": "cid", "client_secret": "cs", "base_url": srv.URL}
	var ep struct {
		ID        string `json:"id"`
		Batch     any    `json:"batch"`
		Effective struct {
			Batch *struct {
				MaxEvents int `json:"max_events"`
				MaxWaitMS int `json:"max_wait_ms"`
			} `json:"batch"`
		} `json:"effective"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"preset": "marketo", "preset_options": opts,
		"event_types": []string{"lead.export"}, "max_in_flight": 1}, &ep, 201)
	if ep.Batch != nil || ep.Effective.Batch == nil || ep.Effective.Batch.MaxEvents != 300 || ep.Effective.Batch.MaxWaitMS != 0 {
		t.Fatalf("batch %v, effective %+v: want none of its own, the preset's 300 in force", ep.Batch, ep.Effective.Batch)
	}
	send := func(email string) string {
		return s.MustSend(t, "lead.export", map[string]any{"email": email, "name": "N " + email})
	}
	first := send("first@example.com")
	select {
	case <-mk.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("Marketo got no call within 10s")
	}
	emails := []string{"a@example.com", "b@example.com", "bad@example.com", "c@example.com", "d@example.com"}
	var events []string
	for _, e := range emails {
		events = append(events, send(e))
	}
	for _, ev := range events {
		s.WaitDelivery(ev, "pending", 0, 10*time.Second)
	}
	close(mk.hold)
	s.WaitDelivery(first, "succeeded", 1, 10*time.Second)
	ds := map[string]heraldtest.Delivery{}
	for i, ev := range events {
		want := "succeeded"
		if strings.HasPrefix(emails[i], "bad") {
			want = "failed"
		}
		ds[emails[i]] = s.WaitDelivery(ev, want, 1, 10*time.Second)
	}
	mk.mu.Lock()
	calls, auth := mk.calls, mk.auth
	mk.mu.Unlock()
	if len(calls) != 2 || len(calls[1]) != 5 {
		t.Fatalf("calls of %d leads, want the first lead then the 5 together", len(calls))
	}
	for i, lead := range calls[1] {
		if lead["email"] != emails[i] || lead["lastName"] != "N "+emails[i] {
			t.Fatalf("input %d is %v, want lead %s mapped", i, lead, emails[i])
		}
	}
	if auth[1] != "Bearer mkto-token" {
		t.Fatalf("batch sent with Authorization %q", auth[1])
	}
	bad := ds["bad@example.com"].Attempts[0]
	if bad.Error != "Marketo skipped the lead: 1006 Field 'phone' not found" || bad.BatchID == "" || bad.Response == nil || bad.Response.StatusCode != 200 {
		t.Fatalf("skipped lead's attempt %+v, want failed with Marketo's reason", bad)
	}
	for _, e := range []string{"a@example.com", "d@example.com"} {
		a := ds[e].Attempts[0]
		if a.BatchID != bad.BatchID || !strings.HasPrefix(a.Request.Body, `{"email":"`+e+`"`) {
			t.Fatalf("lead %s attempt %+v, want its own lead in the same batch", e, a)
		}
	}

	// The preview shows the batch a lead would go in.
	var pv struct {
		Batch *struct{ Body string } `json:"batch"`
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/preview", map[string]any{"payload": map[string]any{"email": "p@example.com"}}, &pv, 200)
	if pv.Batch == nil || !strings.HasPrefix(pv.Batch.Body, `{"action":"createOrUpdate","lookupField":"email","input":[{"email":"p@example.com",`) {
		t.Fatalf("preview shows batch %+v", pv.Batch)
	}

	var e apiError
	if code := s.Invalid().Do("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"batch": map[string]any{"max_events": 301}}, &e); code != 422 || e.Error.Field != "batch.max_events" {
		t.Fatalf("batch of 301 on Marketo: %d %+v, want 422 naming batch.max_events", code, e)
	}
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"batch": map[string]any{"max_events": 300, "max_wait_ms": 500}}, nil, 200)
}
