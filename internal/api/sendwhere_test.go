package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestSendWhere, on both stores: a manual push picks past events by the
// product's own keys (a payload field, compared as text, or idempotency
// keys), a dry run counts them without sending, limit and since bound
// it, and bad input is refused naming the field.
func TestSendWhere(t *testing.T) { pullStores(t, sendWhere) }

func sendWhere(t *testing.T, s *heraldtest.Server) {
	live := heraldtest.NewReceiver(t, nil)
	s.Setup(live.URL+"/live", nil)
	keyed := func(payload any, key string) string {
		t.Helper()
		var ev struct{ ID string }
		h := http.Header{"Authorization": {"Bearer " + heraldtest.Token}}
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
		if got := s.DoWith("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": payload}, &ev, h); got != 202 {
			t.Fatalf("event: %d", got)
		}
		return ev.ID
	}
	e41 := keyed(map[string]any{"id": "41", "name": "Ada"}, "lead-41")
	e42 := keyed(map[string]any{"id": 42, "name": "Bob"}, "lead-42")
	e43 := keyed(map[string]any{"id": "43", "lead": map[string]any{"source": "form-7"}}, "")
	e42b := keyed(map[string]any{"id": "42", "name": "Bob again"}, "")
	live.Wait(t, 4, 10*time.Second)

	// A second endpoint, made after the events: it has none of them
	// until they are pushed to it.
	export := heraldtest.NewReceiver(t, nil)
	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": export.URL + "/export"}, &ep, 201)
	send := "/v1/apps/acme/endpoints/" + ep.ID + "/send"

	type dry struct {
		DryRun   bool     `json:"dry_run"`
		Count    int      `json:"count"`
		EventIDs []string `json:"event_ids"`
	}
	dryRun := func(body map[string]any) []string {
		t.Helper()
		body["dry_run"] = true
		var d dry
		s.MustDo("POST", send, body, &d, 200)
		if !d.DryRun || d.Count != len(d.EventIDs) {
			t.Errorf("dry run answer %+v", d)
		}
		return d.EventIDs
	}
	// The number 42 and the string "42" both match "42" and 42; newest first.
	if got, want := dryRun(map[string]any{"where": map[string]any{"field": "id", "in": []any{"42", 43}}}), []string{e42b, e43, e42}; !slices.Equal(got, want) {
		t.Errorf("id in 42, 43: %v, want %v", got, want)
	}
	if got, want := dryRun(map[string]any{"where": map[string]any{"field": "id", "in": []any{42}}, "limit": 1}), []string{e42b}; !slices.Equal(got, want) {
		t.Errorf("limit 1: %v, want %v", got, want)
	}
	if got, want := dryRun(map[string]any{"where": map[string]any{"field": "lead.source", "in": []any{"form-7"}}}), []string{e43}; !slices.Equal(got, want) {
		t.Errorf("dotted path: %v, want %v", got, want)
	}
	if got := dryRun(map[string]any{"where": map[string]any{"field": "id", "in": []any{"41"}},
		"since": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}); len(got) != 0 {
		t.Errorf("since an hour ahead: %v", got)
	}
	if got := dryRun(map[string]any{"where": map[string]any{"field": "id", "in": []any{"99"}}}); got == nil || len(got) != 0 {
		t.Errorf("no match: %v, want []", got)
	}
	// A dry run sent nothing: the endpoint has no delivery yet.
	var dl struct{ Data []json.RawMessage }
	s.MustDo("GET", "/v1/apps/acme/deliveries?endpoint_id="+ep.ID, nil, &dl, 200)
	if len(dl.Data) != 0 {
		t.Fatalf("dry runs made %d deliveries", len(dl.Data))
	}

	// By idempotency key, then by lead id: the receiver gets just those.
	var sent struct {
		Data []struct {
			EventID string `json:"event_id"`
		} `json:"data"`
	}
	s.MustDo("POST", send, map[string]any{"where": map[string]any{"idempotency_key": map[string]any{"in": []string{"lead-41", "nope"}}}}, &sent, 202)
	if len(sent.Data) != 1 || sent.Data[0].EventID != e41 {
		t.Fatalf("by idempotency key: %+v, want event %s", sent.Data, e41)
	}
	if r := export.Wait(t, 1, 10*time.Second); !strings.Contains(string(r[0].Body), `"Ada"`) {
		t.Errorf("pushed by idempotency key: %s", r[0].Body)
	}
	s.MustDo("POST", send, map[string]any{"where": map[string]any{"field": "id", "in": []any{"43"}}}, &sent, 202)
	if len(sent.Data) != 1 || sent.Data[0].EventID != e43 {
		t.Fatalf("by lead id: %+v, want event %s", sent.Data, e43)
	}
	if r := export.Wait(t, 2, 10*time.Second); !strings.Contains(string(r[1].Body), `"form-7"`) {
		t.Errorf("pushed by lead id: %s", r[1].Body)
	}
	// Nothing matches: nothing is sent.
	s.MustDo("POST", send, map[string]any{"where": map[string]any{"field": "id", "in": []any{"99"}}}, &sent, 202)
	if len(sent.Data) != 0 {
		t.Errorf("no match sent %+v", sent.Data)
	}

	many := make([]any, 1001)
	for i := range many {
		many[i] = "x"
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{}, "event_ids"},
		{map[string]any{"where": map[string]any{}}, "where.field"},
		{map[string]any{"where": map[string]any{"field": "id"}}, "where.in"},
		{map[string]any{"where": map[string]any{"field": "id", "in": []any{}}}, "where.in"},
		{map[string]any{"where": map[string]any{"field": "id", "in": many}}, "where.in"},
		{map[string]any{"where": map[string]any{"field": "id", "in": []any{true}}}, "where.in"},
		{map[string]any{"where": map[string]any{"field": "id", "in": []any{map[string]any{"a": 1}}}}, "where.in"},
		{map[string]any{"where": map[string]any{"field": "a..b", "in": []any{"1"}}}, "where.field"},
		{map[string]any{"where": map[string]any{"field": `a"b`, "in": []any{"1"}}}, "where.field"},
		{map[string]any{"where": map[string]any{"field": strings.Repeat("a.", 11) + "a", "in": []any{"1"}}}, "where.field"},
		{map[string]any{"where": map[string]any{"idempotency_key": map[string]any{"in": []any{}}}}, "where.idempotency_key.in"},
		{map[string]any{"where": map[string]any{"field": "id", "in": []any{"1"}, "idempotency_key": map[string]any{"in": []any{"k"}}}}, "where"},
		{map[string]any{"where": map[string]any{"field": "id", "in": []any{"1"}}, "event_ids": []string{e41}}, "where"},
		{map[string]any{"where": map[string]any{"field": "id", "in": []any{"1"}}, "limit": 0}, "limit"},
		{map[string]any{"where": map[string]any{"field": "id", "in": []any{"1"}}, "limit": 1001}, "limit"},
		{map[string]any{"where": map[string]any{"field": "id", "in": []any{"1"}}, "since": "yesterday"}, "since"},
		{map[string]any{"event_ids": []string{e41}, "limit": 5}, "limit"},
	} {
		var e struct{ Error struct{ Code, Field string } }
		if got := s.Invalid().Do("POST", send, c.body, &e); got != 422 || e.Error.Field != c.field {
			t.Errorf("%v: %d %+v, want 422 naming %s", c.body, got, e, c.field)
		}
	}
}
