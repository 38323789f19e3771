package api_test

import (
	"encoding/json"
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
