package svixapi_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
)

type endpointOut struct {
	ID           string            `json:"id"`
	UID          *string           `json:"uid"`
	URL          string            `json:"url"`
	Description  string            `json:"description"`
	Version      int               `json:"version"`
	Disabled     bool              `json:"disabled"`
	FilterTypes  []string          `json:"filterTypes"`
	EventTypes   []string          `json:"eventTypes"`
	Channels     []string          `json:"channels"`
	RateLimit    *float64          `json:"rateLimit"`
	ThrottleRate *float64          `json:"throttleRate"`
	Metadata     map[string]string `json:"metadata"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
}

const svixSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// svixSetup makes app acme and event types lead.created and other.type
// through the Svix API.
func svixSetup(t *testing.T, s *heraldtest.Server) {
	t.Helper()
	s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	for _, n := range []string{"lead.created", "other.type"} {
		s.MustDo("POST", "/api/v1/event-type", map[string]any{"name": n, "description": n}, nil, 201)
	}
}

func TestEndpoints(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	svixSetup(t, s)
	base := "/api/v1/app/acme/endpoint"

	var raw json.RawMessage
	s.MustDo("POST", base, map[string]any{"url": "https://example.com/hook", "description": "main", "uid": "main",
		"version": 1, "filterTypes": []string{"lead.created"}, "channels": []string{"eu"}, "rateLimit": 5,
		"metadata": map[string]string{"team": "x"}, "secret": svixSecret,
		"headers": map[string]string{"X-Tenant": "acme", "Authorization": "Bearer s3cret"}}, &raw, 201)
	if got := keys(t, raw); got != "channels,createdAt,description,disabled,eventTypes,filterTypes,id,metadata,rateLimit,throttleRate,uid,updatedAt,url,version" {
		t.Fatalf("EndpointOut fields: %s", got)
	}
	var ep endpointOut
	_ = json.Unmarshal(raw, &ep)
	if !strings.HasPrefix(ep.ID, "ep_") || ep.UID == nil || *ep.UID != "main" || ep.URL != "https://example.com/hook" ||
		ep.Version != 1 || ep.Disabled || len(ep.FilterTypes) != 1 || len(ep.EventTypes) != 1 || ep.EventTypes[0] != "lead.created" ||
		len(ep.Channels) != 1 || ep.RateLimit == nil || *ep.RateLimit != 5 || *ep.ThrottleRate != 5 || ep.Metadata["team"] != "x" {
		t.Fatalf("created: %s", raw)
	}
	// Herald's own view: raw payloads, enabled, the secret given.
	var native struct {
		PayloadFormat string `json:"payload_format"`
		Enabled       bool
		EventTypes    []string `json:"event_types"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID, nil, &native, 200)
	if native.PayloadFormat != "raw" || !native.Enabled || native.EventTypes[0] != "lead.created" {
		t.Fatalf("Herald's endpoint: %+v", native)
	}
	var sec struct{ Key string }
	s.MustDo("GET", base+"/main/secret", nil, &sec, 200)
	if sec.Key != svixSecret {
		t.Fatalf("secret: %+v", sec)
	}

	// 2.x names: eventTypes and throttleRate; disabled.
	var ep2 endpointOut
	s.MustDo("POST", base, map[string]any{"url": "https://example.com/two", "eventTypes": []string{"other.type"}, "throttleRate": 2, "disabled": true}, &ep2, 201)
	if ep2.FilterTypes[0] != "other.type" || *ep2.RateLimit != 2 || !ep2.Disabled || ep2.UID != nil || ep2.Channels != nil || len(ep2.Metadata) != 0 {
		t.Fatalf("2.x create: %+v", ep2)
	}
	s.MustDo("POST", base, map[string]any{"url": "https://example.com/three", "filterTypes": []string{"a"}, "eventTypes": []string{"a"}}, nil, 422)
	// Located refusals.
	wantInvalid(t, s, "POST", base, map[string]any{"url": "https://example.com/x", "filterTypes": []string{"lead.created"}, "eventTypes": []string{"other.type"}}, "body", "eventTypes")
	wantInvalid(t, s, "POST", base, map[string]any{"url": "https://example.com/x", "version": 2}, "body", "version")
	wantInvalid(t, s, "POST", base, map[string]any{"url": "https://example.com/x", "rateLimit": 1, "throttleRate": 2}, "body", "throttleRate")
	wantInvalid(t, s, "POST", base, map[string]any{"description": "no url"}, "body", "url")
	wantInvalid(t, s, "POST", base, map[string]any{"url": "ftp://example.com/x"}, "body", "url")
	wantInvalid(t, s, "POST", base, map[string]any{"url": "https://example.com/x", "secret": "nope"}, "body", "secret")
	wantInvalid(t, s, "POST", base, map[string]any{"url": "https://example.com/x", "filterTypes": []string{"bad name"}}, "body", "filterTypes")
	wantInvalid(t, s, "POST", base, map[string]any{"url": "https://example.com/x", "sslVerify": false}, "body", "sslVerify")
	wantInvalid(t, s, "PUT", base+"/main", map[string]any{"url": "https://example.com/x", "secret": svixSecret}, "body", "secret")
	wantInvalid(t, s, "PATCH", base+"/main", map[string]any{"version": 3}, "body", "version")

	// By id and by uid.
	for _, ref := range []string{ep.ID, "main"} {
		var got endpointOut
		s.MustDo("GET", base+"/"+ref, nil, &got, 200)
		if got.ID != ep.ID {
			t.Fatalf("GET %s: %+v", ref, got)
		}
	}

	// PATCH: the fields given.
	var p endpointOut
	s.MustDo("PATCH", base+"/main", map[string]any{"description": "patched", "disabled": true, "filterTypes": nil}, &p, 200)
	if p.Description != "patched" || !p.Disabled || p.FilterTypes != nil || p.EventTypes != nil || *p.RateLimit != 5 || p.Metadata["team"] != "x" {
		t.Fatalf("PATCH: %+v", p)
	}
	// PUT replaces (the rest reset) or creates under the path's uid.
	p = endpointOut{}
	s.MustDo("PUT", base+"/main", map[string]any{"url": "https://example.com/put"}, &raw, 200)
	_ = json.Unmarshal(raw, &p)
	if p.URL != "https://example.com/put" || p.Description != "" || p.Disabled || p.RateLimit != nil || len(p.Metadata) != 0 ||
		p.Channels != nil || p.UID == nil || *p.UID != "main" {
		t.Fatalf("PUT replaced: %s", raw)
	}
	p = endpointOut{}
	s.MustDo("PUT", base+"/created-by-put", map[string]any{"url": "https://example.com/new", "filterTypes": []string{"lead.created"}}, &p, 201)
	if p.UID == nil || *p.UID != "created-by-put" || p.FilterTypes[0] != "lead.created" {
		t.Fatalf("PUT created: %+v", p)
	}
	wantNotFound(t, s, "PUT", base+"/ep_nosuch", map[string]any{"url": "https://example.com/x"})
	wantNotFound(t, s, "PUT", "/api/v1/app/nosuch/endpoint/x", map[string]any{"url": "https://example.com/x"})

	// Headers: non-credential names are shown, credentials sensitive.
	var hs struct {
		Headers   map[string]string `json:"headers"`
		Sensitive []string          `json:"sensitive"`
	}
	hs.Headers, hs.Sensitive = nil, nil
	s.MustDo("GET", base+"/main/headers", nil, &hs, 200)
	if hs.Headers["X-Tenant"] != "acme" || len(hs.Headers) != 1 || len(hs.Sensitive) != 1 || hs.Sensitive[0] != "Authorization" {
		t.Fatalf("headers: %+v", hs)
	}
	if got := s.Do("PATCH", base+"/main/headers", map[string]any{"headers": map[string]any{"X-New": "1", "X-Tenant": nil}}, nil); got != 204 {
		t.Fatalf("PATCH headers: %d", got)
	}
	hs.Headers, hs.Sensitive = nil, nil
	s.MustDo("GET", base+"/main/headers", nil, &hs, 200)
	if hs.Headers["X-New"] != "1" || len(hs.Headers) != 1 || len(hs.Sensitive) != 1 {
		t.Fatalf("headers patched: %+v", hs)
	}
	if got := s.Do("PATCH", base+"/main/headers", map[string]any{"headers": map[string]any{}, "deleteHeaders": []string{"authorization"}}, nil); got != 204 {
		t.Fatalf("PATCH deleteHeaders: %d", got)
	}
	hs.Headers, hs.Sensitive = nil, nil
	s.MustDo("GET", base+"/main/headers", nil, &hs, 200)
	if len(hs.Sensitive) != 0 || len(hs.Headers) != 1 {
		t.Fatalf("headers after delete: %+v", hs)
	}
	if got := s.Do("PUT", base+"/main/headers", map[string]any{"headers": map[string]string{"X-Only": "y", "X-Api-Key": "k"}}, nil); got != 204 {
		t.Fatalf("PUT headers: %d", got)
	}
	hs.Headers, hs.Sensitive = nil, nil
	s.MustDo("GET", base+"/main/headers", nil, &hs, 200)
	if len(hs.Headers) != 1 || hs.Headers["X-Only"] != "y" || len(hs.Sensitive) != 1 || hs.Sensitive[0] != "X-Api-Key" {
		t.Fatalf("headers replaced: %+v", hs)
	}
	wantInvalid(t, s, "PUT", base+"/main/headers", map[string]any{}, "body", "headers")

	// Rotation: a given key becomes the secret; 204.
	const next = "whsec_Y2hhbmdlZGNoYW5nZWRjaGFuZ2VkY2hhbmdlZA=="
	if got := s.Do("POST", base+"/main/secret/rotate", map[string]any{"key": next, "gracePeriodSeconds": 60}, nil); got != 204 {
		t.Fatalf("rotate: %d", got)
	}
	s.MustDo("GET", base+"/main/secret", nil, &sec, 200)
	if sec.Key != next {
		t.Fatalf("rotated secret: %+v", sec)
	}
	if got := s.Do("POST", base+"/main/secret/rotate", map[string]any{}, nil); got != 204 {
		t.Fatalf("rotate generated: %d", got)
	}
	wantInvalid(t, s, "POST", base+"/main/secret/rotate", map[string]any{"key": "bad"}, "body", "key")

	// Pages until done.
	for i := range 3 {
		s.MustDo("POST", base, map[string]any{"url": "https://example.com/p" + string(rune('0'+i))}, nil, 201)
	}
	seen := map[string]bool{}
	iter := ""
	for n := 0; ; n++ {
		var pg struct {
			Data     []endpointOut `json:"data"`
			Iterator *string       `json:"iterator"`
			Done     bool          `json:"done"`
		}
		u := base + "?limit=2"
		if iter != "" {
			u += "&iterator=" + iter
		}
		s.MustDo("GET", u, nil, &pg, 200)
		for _, e := range pg.Data {
			seen[e.ID] = true
		}
		if pg.Done {
			break
		}
		if pg.Iterator == nil || n > 10 {
			t.Fatal("not done and no iterator")
		}
		iter = *pg.Iterator
	}
	if len(seen) != 6 {
		t.Fatalf("listed %d endpoints, want 6", len(seen))
	}

	// Errors: 404, 401, another app's key.
	wantNotFound(t, s, "GET", base+"/nosuch", nil)
	wantNotFound(t, s, "GET", "/api/v1/app/nosuch/endpoint", nil)
	var e svixError
	if got := s.DoWith("GET", base, nil, &e, nil); got != http.StatusUnauthorized {
		t.Fatalf("no token: %d", got)
	}
	s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	key := appKey(t, s, "other")
	if got := s.DoWith("GET", base+"/main", nil, &e, key); got != http.StatusNotFound {
		t.Fatalf("another app's key: %d", got)
	}
	if got := s.DoWith("POST", "/api/v1/app/other/endpoint", map[string]any{"url": "https://example.com/o"}, nil, key); got != 201 {
		t.Fatalf("own app's key: %d", got)
	}

	if got := s.Do("DELETE", base+"/main", nil, nil); got != 204 {
		t.Fatalf("DELETE: %d", got)
	}
	wantNotFound(t, s, "GET", base+"/main", nil)

	for _, r := range []struct{ method, path string }{
		{"GET", base + "/" + ep2.ID + "/transformation"},
		{"PATCH", base + "/" + ep2.ID + "/transformation"},
		{"POST", base + "/" + ep2.ID + "/bulk-replay"},
	} {
		if got := s.Do(r.method, r.path, map[string]any{}, &e); got != 501 || e.Code != "not_implemented" || e.Detail == "" {
			t.Fatalf("%s %s: %d %+v", r.method, r.path, got, e)
		}
	}
}

// TestEndpointDeliveries sends through endpoints made with the Svix
// API: raw payloads, replay-missing, recover, send-example and stats,
// with each store (PostgreSQL when HERALD_TEST_DATABASE_URL is set).
func TestEndpointDeliveries(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { endpointDeliveries(t, heraldtest.Start(t, heraldtest.Options{})) })
	t.Run("postgres", func(t *testing.T) {
		db := heraldtest.PostgresDatabase(t, "herald_svix_")
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		endpointDeliveries(t, heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) {
			c.DatabaseURL = db
			c.EncryptionKey = "k1:" + base64.StdEncoding.EncodeToString(key)
		}}))
	})
}

func endpointDeliveries(t *testing.T, s *heraldtest.Server) {
	svixSetup(t, s)
	base := "/api/v1/app/acme/endpoint"
	first := heraldtest.NewReceiver(t, nil)
	var ep endpointOut
	s.MustDo("POST", base, map[string]any{"url": first.URL, "uid": "first"}, &ep, 201)

	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	s.MustSend(t, "lead.created", map[string]any{"n": 1})
	s.MustSend(t, "lead.created", map[string]any{"n": 2})
	s.MustSend(t, "other.type", map[string]any{"n": 3})
	reqs := first.Wait(t, 3, 10*time.Second)
	if string(reqs[0].Body) != `{"n":1}` && string(reqs[0].Body) != `{"n":2}` && string(reqs[0].Body) != `{"n":3}` {
		t.Fatalf("body is not the raw payload: %s", reqs[0].Body)
	}

	// A later endpoint gets the events it subscribes to and never got.
	second := heraldtest.NewReceiver(t, nil)
	var ep2 endpointOut
	s.MustDo("POST", base, map[string]any{"url": second.URL, "filterTypes": []string{"lead.created"}}, &ep2, 201)
	var out struct {
		ID        string    `json:"id"`
		Status    string    `json:"status"`
		Task      string    `json:"task"`
		UpdatedAt time.Time `json:"updatedAt"`
	}
	s.MustDo("POST", base+"/"+ep2.ID+"/replay-missing", map[string]any{"since": since}, &out, 202)
	if out.Status != "finished" || out.Task != "endpoint.replay" || !strings.HasPrefix(out.ID, "qtask_") {
		t.Fatalf("replay: %+v", out)
	}
	got := second.Wait(t, 2, 10*time.Second)
	bodies := string(got[0].Body) + string(got[1].Body)
	if !strings.Contains(bodies, `{"n":1}`) || !strings.Contains(bodies, `{"n":2}`) {
		t.Fatalf("replayed: %s", bodies)
	}
	var task struct {
		ID     string         `json:"id"`
		Status string         `json:"status"`
		Task   string         `json:"task"`
		Data   map[string]any `json:"data"`
	}
	s.MustDo("GET", "/api/v1/background-task/"+out.ID, nil, &task, 200)
	if task.Status != "finished" || task.Task != "endpoint.replay" || task.Data["sent"] != float64(2) {
		t.Fatalf("replay task: %+v", task)
	}
	// Again: nothing is missing any more.
	s.MustDo("POST", base+"/"+ep2.ID+"/replay-missing", map[string]any{"since": since}, &out, 202)
	s.MustDo("GET", "/api/v1/background-task/"+out.ID, nil, &task, 200)
	if task.Data["sent"] != float64(0) {
		t.Fatalf("second replay: %+v", task)
	}
	wantInvalid(t, s, "POST", base+"/"+ep2.ID+"/replay-missing", map[string]any{}, "body", "since")
	wantInvalid(t, s, "POST", base+"/"+ep2.ID+"/replay-missing", map[string]any{"since": "yesterday"}, "body", "since")

	// Recover: a failed delivery goes again once the receiver is back.
	var failing atomic.Bool
	failing.Store(true)
	flaky := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(500)
		}
	})
	var ep3 endpointOut
	s.MustDo("POST", base, map[string]any{"url": flaky.URL, "uid": "flaky", "filterTypes": []string{"other.type"}}, &ep3, 201)
	since = time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	evID := s.MustSend(t, "other.type", map[string]any{"n": 4})
	var failed struct{ Data []heraldtest.Delivery }
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep3.ID+"/deliveries?status=failed", nil, &failed, 200)
		if len(failed.Data) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(failed.Data) != 1 || failed.Data[0].EventID != evID {
		t.Fatalf("no failed delivery: %+v", failed)
	}
	failing.Store(false)
	n := len(flaky.Requests())
	s.MustDo("POST", base+"/flaky/recover", map[string]any{"since": since}, &out, 202)
	if out.Task != "endpoint.recover" || !strings.HasPrefix(out.ID, "qtask_") || (out.Status != "running" && out.Status != "finished") {
		t.Fatalf("recover: %+v", out)
	}
	flaky.Wait(t, n+1, 10*time.Second)
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.MustDo("GET", "/api/v1/background-task/"+out.ID, nil, &task, 200)
		if task.Status == "finished" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if task.Status != "finished" || task.Task != "endpoint.recover" || task.Data["total"] != float64(1) {
		t.Fatalf("recover task: %+v", task)
	}
	wantNotFound(t, s, "GET", "/api/v1/background-task/qtask_nosuch", nil)
	wantNotFound(t, s, "GET", "/api/v1/background-task/nosuch", nil)
	s.MustDo("POST", "/api/v1/app", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	var e svixError
	if got := s.DoWith("GET", "/api/v1/background-task/"+out.ID, nil, &e, appKey(t, s, "other")); got != 404 {
		t.Fatalf("another app's key reading a task: %d %+v", got, e)
	}

	// send-example: the schema's examples, by index.
	schema := map[string]any{"type": "object", "examples": []any{map[string]any{"ex": 0}, map[string]any{"ex": 1}}}
	s.MustDo("PATCH", "/api/v1/event-type/lead.created", map[string]any{"schemas": map[string]any{"1": schema}}, nil, 200)
	var msg json.RawMessage
	n = len(second.Requests())
	s.MustDo("POST", base+"/"+ep2.ID+"/send-example", map[string]any{"eventType": "lead.created", "exampleIndex": 1}, &msg, 202)
	if k := keys(t, msg); k != "channels,eventId,eventType,id,payload,tags,timestamp" {
		t.Fatalf("MessageOut fields: %s", k)
	}
	got = second.Wait(t, n+1, 10*time.Second)
	if string(got[n].Body) != `{"ex":1}` {
		t.Fatalf("example sent: %s", got[n].Body)
	}
	wantInvalid(t, s, "POST", base+"/"+ep2.ID+"/send-example", map[string]any{"eventType": "lead.created", "exampleIndex": 5}, "body", "exampleIndex")
	wantInvalid(t, s, "POST", base+"/"+ep2.ID+"/send-example", map[string]any{"eventType": "other.type"}, "body", "exampleIndex")
	wantInvalid(t, s, "POST", base+"/"+ep2.ID+"/send-example", map[string]any{"eventType": "no.such"}, "body", "eventType")
	wantInvalid(t, s, "POST", base+"/"+ep2.ID+"/send-example", map[string]any{}, "body", "eventType")

	// replay-missing honours the endpoint's channels.
	since = time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"c": "eu"}, "channels": []string{"eu"}}, nil, 202)
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"c": "none"}}, nil, 202)
	eu := heraldtest.NewReceiver(t, nil)
	var ep4 endpointOut
	s.MustDo("POST", base, map[string]any{"url": eu.URL, "channels": []string{"eu"}}, &ep4, 201)
	s.MustDo("POST", base+"/"+ep4.ID+"/replay-missing", map[string]any{"since": since}, &out, 202)
	s.MustDo("GET", "/api/v1/background-task/"+out.ID, nil, &task, 200)
	if task.Data["sent"] != float64(1) {
		t.Fatalf("replay by channel: %+v", task)
	}
	if got := eu.Wait(t, 1, 10*time.Second); string(got[0].Body) != `{"c":"eu"}` {
		t.Fatalf("replayed by channel: %s", got[0].Body)
	}
	first.Wait(t, 6, 10*time.Second)

	// Headers set and patched reach the receiver, the sensitive value
	// kept through a PATCH that did not name it.
	s.MustDo("PUT", base+"/"+ep4.ID+"/headers", map[string]any{"headers": map[string]string{"Authorization": "Bearer s3cret", "X-A": "1"}}, nil, 204)
	s.MustDo("PATCH", base+"/"+ep4.ID+"/headers", map[string]any{"headers": map[string]any{"X-B": "2", "X-A": nil}}, nil, 204)
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"c": "eu2"}, "channels": []string{"eu"}}, nil, 202)
	got = eu.Wait(t, 2, 10*time.Second)
	if h := got[1].Header; h.Get("Authorization") != "Bearer s3cret" || h.Get("X-B") != "2" || h.Get("X-A") != "" {
		t.Fatalf("headers sent: %v", h)
	}
	first.Wait(t, 7, 10*time.Second)

	// Stats count the last 7 days: first got all seven events.
	var st map[string]int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s.MustDo("GET", base+"/first/stats", nil, &st, 200)
		if st["success"] == 7 || time.Now().After(deadline) {
			break
		}
	}
	if st["success"] != 7 || st["fail"] != 0 || st["sending"] != 0 || st["canceled"] != 0 || len(st) != 5 {
		t.Fatalf("stats: %+v", st)
	}
	wantInvalid(t, s, "GET", base+"/first/stats?since=2026-01-01T00:00:00Z", nil, "query", "since")
}
