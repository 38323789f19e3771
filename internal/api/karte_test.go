package api_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestKarteDefinitionWhole: KARTE's own example action definition, pasted
// whole (only its url pointed at the receiver), makes an endpoint: the
// preview is what the receiver gets, and campaignId, which Herald does not
// use, is kept and shown in the endpoint's metadata.
func TestKarteDefinitionWhole(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	def := `{
    "format": "karte",
    "url": "` + rc.URL + `/api",
    "hookData": {
        "user_id": "#{user_id}",
        "viewed_path": "#{viewed_path}"
    },
    "method": "POST",
    "headers": {"Content-Type": "application/json; charset=UTF-8"},
    "campaignId": "#{campaign_id}"
}`
	var ep struct {
		ID       string
		Metadata map[string]string
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", json.RawMessage(def), &ep, 201)
	if ep.Metadata["karte.campaignId"] != "#{campaign_id}" {
		t.Fatalf("created endpoint's metadata %v", ep.Metadata)
	}
	var got struct{ Metadata map[string]string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID, nil, &got, 200)
	if got.Metadata["karte.campaignId"] != "#{campaign_id}" {
		t.Fatalf("GET metadata %v", got.Metadata)
	}
	payload := json.RawMessage(`{"user_id":"u_1","viewed_path":"/pricing","campaign_id":"cmp_1"}`)
	var p struct {
		Body    string
		Headers map[string]string
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ep.ID+"/preview", map[string]any{"event_type": "lead.created", "payload": payload}, &p, 200)
	s.Send(payload)
	r := rc.Wait(t, 1, 10*time.Second)[0]
	if string(r.Body) != p.Body || p.Body != `{"user_id":"u_1","viewed_path":"/pricing"}` {
		t.Fatalf("preview %s, receiver got %s", p.Body, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || p.Headers["Content-Type"] != ct || r.Method != "POST" || r.Path != "/api" {
		t.Fatalf("receiver got %s %s with Content-Type %q; preview headers %v", r.Method, r.Path, ct, p.Headers)
	}
}

// TestKarteDefinitionUnknownFields: a definition with fields Herald does
// not know (KARTE adds its own over time) is accepted, never refused: each
// is kept in metadata as karte.<field> and shown with the endpoint, while
// endpoint fields beside the definition apply as they would on their own.
func TestKarteDefinitionUnknownFields(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	def := `{
    "format": "karte",
    "url": "` + rc.URL + `/api",
    "hookData": {"user_id": "#{user_id}"},
    "method": "POST",
    "campaignId": "#{campaign_id}",
    "functionName": "notify-crm",
    "retry": {"count": 3},
    "timeoutSec": 10,
    "stage": "test",
    "test_filter": "payload.user_id in [\"u_1\"]",
    "metadata": {"team": "growth"}
}`
	var ep struct {
		ID       string
		Stage    string
		Metadata map[string]string
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints", json.RawMessage(def), &ep, 201)
	want := map[string]string{
		"karte.campaignId":   "#{campaign_id}",
		"karte.functionName": "notify-crm",
		"karte.retry":        `{"count":3}`,
		"karte.timeoutSec":   "10",
		"team":               "growth",
	}
	var got struct {
		Stage    string
		Metadata map[string]string
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID, nil, &got, 200)
	if !reflect.DeepEqual(got.Metadata, want) || got.Stage != "test" {
		t.Fatalf("endpoint stage %q metadata %v, want test and %v", got.Stage, got.Metadata, want)
	}
	// A wrong type for a field Herald reads is still refused, naming it.
	var e struct{ Error struct{ Field string } }
	if got := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", json.RawMessage(`{"format": "karte", "method": 5, "x": 1}`), &e); got != 400 || e.Error.Field != "method" {
		t.Fatalf("wrong type: %d naming %q, want 400 naming method", got, e.Error.Field)
	}
	if got := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", json.RawMessage(`{"format": "karte", "hookData": {}, "body_template": {}}`), &e); got != 422 || e.Error.Field != "hookData" {
		t.Fatalf("hookData with body_template: %d naming %q, want 422 naming hookData", got, e.Error.Field)
	}
	s.Send(json.RawMessage(`{"user_id":"u_1"}`))
	if r := rc.Wait(t, 1, 10*time.Second)[0]; string(r.Body) != `{"user_id":"u_1"}` {
		t.Fatalf("receiver got %s", r.Body)
	}
}
