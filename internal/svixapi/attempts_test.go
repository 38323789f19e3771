package svixapi_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
)

type attempt struct {
	ID                 string    `json:"id"`
	URL                string    `json:"url"`
	Response           string    `json:"response"`
	ResponseStatusCode int       `json:"responseStatusCode"`
	ResponseDurationMs int64     `json:"responseDurationMs"`
	Status             int       `json:"status"`
	StatusText         string    `json:"statusText"`
	TriggerType        int       `json:"triggerType"`
	MsgID              string    `json:"msgId"`
	EndpointID         string    `json:"endpointId"`
	Timestamp          time.Time `json:"timestamp"`
	Msg                *message  `json:"msg"`
}

var attemptKeys = []string{"endpointId", "id", "msgId", "response", "responseDurationMs", "responseStatusCode",
	"status", "statusText", "timestamp", "triggerType", "url"}

// failFirst is a receiver that answers 500 "boom" to the first request
// of each webhook-id, then 200 "ok".
func failFirst(t *testing.T) *heraldtest.Receiver {
	var mu sync.Mutex
	seen := map[string]bool{}
	return heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		again := seen[id]
		seen[id] = true
		mu.Unlock()
		if !again {
			w.WriteHeader(500)
			_, _ = w.Write([]byte("boom"))
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
}

// attemptPages follows a list of attempts through its iterator.
func attemptPages(t *testing.T, s *heraldtest.Server, path string) []attempt {
	t.Helper()
	var out []attempt
	it := ""
	for n := 0; ; n++ {
		if n > 50 {
			t.Fatalf("%s does not end", path)
		}
		p := path
		if it != "" {
			p += "&iterator=" + it
		}
		pg := decode[list[attempt]](t, call(t, s, "GET", p, nil, 200))
		out = append(out, pg.Data...)
		if pg.Done {
			if pg.Iterator != nil {
				t.Fatalf("%s: done with an iterator", p)
			}
			return out
		}
		if pg.Iterator == nil {
			t.Fatalf("%s: not done, no iterator", p)
		}
		it = *pg.Iterator
	}
}

func attemptIDs(as []attempt) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// onStores runs fn on a server over SQLite and, where
// HERALD_TEST_DATABASE_URL is set, over PostgreSQL: the lists page by
// the stores' order of ids.
func onStores(t *testing.T, fn func(t *testing.T, s *heraldtest.Server)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, heraldtest.Start(t, heraldtest.Options{})) })
	t.Run("postgres", func(t *testing.T) {
		db := heraldtest.PostgresDatabase(t, "herald_svix_")
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		fn(t, heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) {
			c.DatabaseURL = db
			c.EncryptionKey = "k1:" + base64.StdEncoding.EncodeToString(key)
		}}))
	})
}

func TestAttempts(t *testing.T) { onStores(t, testAttempts) }

func testAttempts(t *testing.T, s *heraldtest.Server) {
	rc := failFirst(t)
	ep := s.Setup(rc.URL, nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	var msgs []message
	for i := range 3 {
		m := decode[message](t, call(t, s, "POST", "/api/v1/app/acme/msg",
			map[string]any{"eventType": "lead.created", "payload": map[string]any{"i": i}}, 202))
		msgs = append(msgs, m)
		s.WaitDelivery(m.ID, "succeeded", 2, 10*time.Second)
	}

	// The attempts of one message, newest first.
	raw := call(t, s, "GET", "/api/v1/app/acme/attempt/msg/"+msgs[0].ID, nil, 200)
	pg := decode[list[attempt]](t, raw)
	if len(pg.Data) != 2 || !pg.Done {
		t.Fatalf("attempts of %s: %s", msgs[0].ID, raw)
	}
	var items []map[string]any
	items = decode[struct{ Data []map[string]any }](t, raw).Data
	var got []string
	for k := range items[0] {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, attemptKeys) {
		t.Fatalf("MessageAttemptOut fields %v, want %v", got, attemptKeys)
	}
	ok, failed := pg.Data[0], pg.Data[1]
	if ok.Status != 0 || ok.StatusText != "success" || ok.ResponseStatusCode != 200 || ok.Response != "ok" ||
		ok.TriggerType != 0 || ok.MsgID != msgs[0].ID || ok.EndpointID != ep || ok.URL != rc.URL || !strings.HasPrefix(ok.ID, "atm_") {
		t.Fatalf("successful attempt %+v", ok)
	}
	if failed.Status != 2 || failed.StatusText != "fail" || failed.ResponseStatusCode != 500 || failed.Response != "boom" ||
		failed.Timestamp.After(ok.Timestamp) {
		t.Fatalf("failed attempt %+v", failed)
	}
	// Filters.
	only := func(q string, want ...string) {
		t.Helper()
		if got := attemptIDs(decode[list[attempt]](t, call(t, s, "GET", "/api/v1/app/acme/attempt/msg/"+msgs[0].ID+q, nil, 200)).Data); !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", q, got, want)
		}
	}
	only("?status=2", failed.ID)
	only("?status=0", ok.ID)
	only("?status=1")
	only("?status_code_class=500", failed.ID)
	only("?status_code_class=200&expanded_statuses=true", ok.ID)
	only("?endpoint_id="+ep, ok.ID, failed.ID)
	only("?event_types=lead.lost")
	only("?event_types=lead.lost,lead.created", ok.ID, failed.ID)
	only("?before="+ok.Timestamp.Format(time.RFC3339Nano), failed.ID)
	pg = decode[list[attempt]](t, call(t, s, "GET", "/api/v1/app/acme/attempt/msg/"+msgs[0].ID+"?with_content=false", nil, 200))
	if pg.Data[0].Response != "" || pg.Data[1].Response != "" {
		t.Fatalf("with_content=false: %+v", pg.Data)
	}
	// The deprecated routes answer the same.
	only2 := attemptIDs(decode[list[attempt]](t, call(t, s, "GET", "/api/v1/app/acme/msg/"+msgs[0].ID+"/attempt", nil, 200)).Data)
	only3 := attemptIDs(decode[list[attempt]](t, call(t, s, "GET", "/api/v1/app/acme/endpoint/"+ep+"/msg/"+msgs[0].ID+"/attempt", nil, 200)).Data)
	if !slices.Equal(only2, []string{ok.ID, failed.ID}) || !slices.Equal(only3, only2) {
		t.Fatalf("deprecated routes: %v, %v", only2, only3)
	}

	// One attempt.
	one := decode[attempt](t, call(t, s, "GET", "/api/v1/app/acme/msg/"+msgs[0].ID+"/attempt/"+failed.ID, nil, 200))
	if one != failed {
		t.Fatalf("get attempt: %+v, want %+v", one, failed)
	}
	want404(t, call(t, s, "GET", "/api/v1/app/acme/msg/"+msgs[0].ID+"/attempt/atm_nope", nil, 404))
	want404(t, call(t, s, "GET", "/api/v1/app/acme/msg/"+msgs[1].ID+"/attempt/"+failed.ID, nil, 404))
	want404(t, call(t, s, "GET", "/api/v1/app/acme/msg/evt_nope/attempt/"+failed.ID, nil, 404))

	// The endpoint's attempts: paged one, two and four at a time, each
	// attempt exactly once, newest delivery first.
	all := attemptPages(t, s, "/api/v1/app/acme/attempt/endpoint/"+ep+"?limit=50")
	if len(all) != 6 {
		t.Fatalf("attempts of the endpoint: %d, want 6", len(all))
	}
	for i, a := range all {
		if want := msgs[2-i/2].ID; a.MsgID != want {
			t.Fatalf("attempt %d is of %s, want %s", i, a.MsgID, want)
		}
	}
	for _, limit := range []string{"1", "2", "4"} {
		if got := attemptIDs(attemptPages(t, s, "/api/v1/app/acme/attempt/endpoint/"+ep+"?limit="+limit)); !slices.Equal(got, attemptIDs(all)) {
			t.Fatalf("limit=%s: %v, want %v", limit, got, attemptIDs(all))
		}
	}
	if got := attemptPages(t, s, "/api/v1/app/acme/attempt/endpoint/"+ep+"?limit=1&status=2"); len(got) != 3 {
		t.Fatalf("failed attempts paged one at a time: %d, want 3", len(got))
	}
	pg = decode[list[attempt]](t, call(t, s, "GET", "/api/v1/app/acme/attempt/endpoint/"+ep+"?with_msg=true&limit=1", nil, 200))
	if m := pg.Data[0].Msg; m == nil || m.ID != msgs[2].ID || string(m.Payload) != "{}" || m.EventType != "lead.created" {
		t.Fatalf("with_msg: %+v", pg.Data[0])
	}

	// Errors.
	want422(t, call(t, s, "GET", "/api/v1/app/acme/attempt/endpoint/"+ep+"?status=9", nil, 422), "query", "status")
	want422(t, call(t, s, "GET", "/api/v1/app/acme/attempt/endpoint/"+ep+"?status_code_class=201", nil, 422), "query", "status_code_class")
	want422(t, call(t, s, "GET", "/api/v1/app/acme/attempt/endpoint/"+ep+"?iterator=garbage", nil, 422), "query", "iterator")
	want422(t, call(t, s, "GET", "/api/v1/app/acme/attempt/endpoint/"+ep+"?endpoint_id=x", nil, 422), "query", "endpoint_id")
	want422(t, call(t, s, "GET", "/api/v1/app/acme/attempt/msg/"+msgs[0].ID+"?with_msg=true", nil, 422), "query", "with_msg")
	want404(t, call(t, s, "GET", "/api/v1/app/acme/attempt/endpoint/no-such-endpoint", nil, 404))
	want404(t, call(t, s, "GET", "/api/v1/app/acme/attempt/msg/evt_nope", nil, 404))
	want404(t, call(t, s, "GET", "/api/v1/app/nobody/attempt/endpoint/"+ep, nil, 404))
	other := scopedKey(t, s, "other")
	want404(t, callWith(t, s, "GET", "/api/v1/app/acme/attempt/endpoint/"+ep, nil, 404, other))
	want404(t, callWith(t, s, "GET", "/api/v1/app/acme/attempt/msg/"+msgs[0].ID, nil, 404, other))
	if got := s.Invalid().DoWith("GET", "/api/v1/app/acme/attempt/msg/"+msgs[0].ID, nil, nil, http.Header{}); got != 401 {
		t.Fatalf("without a token: %d", got)
	}
}

type endpointMessage struct {
	message
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	NextAttempt *time.Time `json:"nextAttempt"`
}

type messageEndpoint struct {
	ID           string     `json:"id"`
	Status       int        `json:"status"`
	StatusText   string     `json:"statusText"`
	NextAttempt  *time.Time `json:"nextAttempt"`
	URL          string     `json:"url"`
	Description  string     `json:"description"`
	UID          *string    `json:"uid"`
	Disabled     bool       `json:"disabled"`
	EventTypes   []string   `json:"eventTypes"`
	FilterTypes  []string   `json:"filterTypes"`
	ThrottleRate *int       `json:"throttleRate"`
	RateLimit    *int       `json:"rateLimit"`
	Version      int        `json:"version"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`
}

func TestResendAndDestinations(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h"})
	rc := failFirst(t)
	ep := s.Setup(rc.URL, map[string]any{"event_types": []string{"lead.created"}, "description": "main", "rate_limit": 2.5, "uid": "main-ep"})
	down := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	var ep2 struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": down.URL}, &ep2, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)

	m := decode[message](t, call(t, s, "POST", "/api/v1/app/acme/msg", map[string]any{"eventType": "lead.created", "payload": map[string]any{"n": 1}}, 202))
	waitAttempted(t, s, m.ID, 2)

	// The destinations: both endpoints, each with its delivery's status
	// (a retry an hour away: pending, with its next attempt).
	raw := call(t, s, "GET", "/api/v1/app/acme/msg/"+m.ID+"/endpoint", nil, 200)
	dests := decode[list[messageEndpoint]](t, raw)
	if len(dests.Data) != 2 || !dests.Done {
		t.Fatalf("destinations: %s", raw)
	}
	var main messageEndpoint
	for _, d := range dests.Data {
		if d.ID == ep {
			main = d
		}
		if d.Status != 1 || d.StatusText != "pending" || d.NextAttempt == nil {
			t.Fatalf("destination %+v, want pending with a next attempt", d)
		}
	}
	if main.URL != rc.URL || main.UID == nil || *main.UID != "main-ep" || main.Description != "main" || main.Disabled || main.Version != 1 ||
		!slices.Equal(main.EventTypes, []string{"lead.created"}) || !slices.Equal(main.FilterTypes, main.EventTypes) ||
		main.ThrottleRate == nil || *main.ThrottleRate != 3 || main.RateLimit == nil || main.CreatedAt.IsZero() {
		t.Fatalf("destination %s: %+v", ep, main)
	}
	// Paged one at a time, the same two.
	first := decode[list[messageEndpoint]](t, call(t, s, "GET", "/api/v1/app/acme/msg/"+m.ID+"/endpoint?limit=1", nil, 200))
	if len(first.Data) != 1 || first.Done || first.Iterator == nil {
		t.Fatalf("first page: %+v", first)
	}
	second := decode[list[messageEndpoint]](t, call(t, s, "GET", "/api/v1/app/acme/msg/"+m.ID+"/endpoint?limit=1&iterator="+*first.Iterator, nil, 200))
	if len(second.Data) != 1 || !second.Done || second.Data[0].ID == first.Data[0].ID {
		t.Fatalf("second page: %+v after %+v", second, first)
	}
	old := decode[list[messageEndpoint]](t, call(t, s, "GET", "/api/v1/app/acme/msg/"+m.ID+"/attempt/destinations", nil, 200))
	if len(old.Data) != 2 {
		t.Fatalf("deprecated destinations: %+v", old)
	}

	// The endpoint's messages.
	raw = call(t, s, "GET", "/api/v1/app/acme/endpoint/"+ep+"/msg", nil, 200)
	wantKeys := append(slices.Clone(messageKeys), "nextAttempt", "status", "statusText")
	slices.Sort(wantKeys)
	item := decode[struct{ Data []json.RawMessage }](t, raw)
	if len(item.Data) != 1 || !slices.Equal(fieldNames(t, item.Data[0]), wantKeys) {
		t.Fatalf("endpoint messages %s, want one with fields %v", raw, wantKeys)
	}
	em := decode[list[endpointMessage]](t, raw).Data[0]
	if em.ID != m.ID || em.Status != 1 || em.StatusText != "pending" || em.NextAttempt == nil || string(em.Payload) != `{"n":1}` {
		t.Fatalf("endpoint message %+v", em)
	}

	// Resend: Svix's 202 {}, a new attempt, manual; the delivery
	// succeeds.
	// The endpoint's uid names it as its id does.
	byUID := decode[list[endpointMessage]](t, call(t, s, "GET", "/api/v1/app/acme/endpoint/main-ep/msg", nil, 200))
	if len(byUID.Data) != 1 || byUID.Data[0].ID != m.ID {
		t.Fatalf("endpoint messages by uid: %+v", byUID)
	}
	raw = call(t, s, "POST", "/api/v1/app/acme/msg/"+m.ID+"/endpoint/main-ep/resend", nil, 202)
	if string(raw) != "{}\n" && string(raw) != "{}" {
		t.Fatalf("resend answered %q", raw)
	}
	rc.Wait(t, 2, 10*time.Second)
	as := decode[list[attempt]](t, call(t, s, "GET", "/api/v1/app/acme/attempt/msg/"+m.ID+"?endpoint_id=main-ep", nil, 200)).Data
	if byEP := decode[list[attempt]](t, call(t, s, "GET", "/api/v1/app/acme/attempt/endpoint/main-ep", nil, 200)).Data; !slices.Equal(attemptIDs(byEP), attemptIDs(as)) {
		t.Fatalf("attempts by endpoint uid %v, by message %v", attemptIDs(byEP), attemptIDs(as))
	}
	if len(as) != 2 || as[0].TriggerType != 1 || as[0].Status != 0 || as[1].TriggerType != 0 || as[1].Status != 2 {
		t.Fatalf("attempts after the resend: %+v", as)
	}
	em = decode[list[endpointMessage]](t, call(t, s, "GET", "/api/v1/app/acme/endpoint/"+ep+"/msg?status=0", nil, 200)).Data[0]
	if em.Status != 0 || em.StatusText != "success" || em.NextAttempt != nil {
		t.Fatalf("after the resend: %+v", em)
	}
	if got := decode[list[endpointMessage]](t, call(t, s, "GET", "/api/v1/app/acme/endpoint/"+ep+"/msg?status=1", nil, 200)); len(got.Data) != 0 || !got.Done {
		t.Fatalf("status=1 after success: %+v", got)
	}
	if got := decode[list[endpointMessage]](t, call(t, s, "GET", "/api/v1/app/acme/endpoint/"+ep+"/msg?with_content=false&event_types=lead.created", nil, 200)); len(got.Data) != 1 || string(got.Data[0].Payload) != "{}" {
		t.Fatalf("with_content=false: %+v", got)
	}

	// Errors.
	var e svixError
	if got := s.Do("POST", "/api/v1/app/acme/msg/evt_nope/endpoint/"+ep+"/resend", nil, &e); got != 404 || e.Code != "not_found" {
		t.Fatalf("resend of no message: %d %+v", got, e)
	}
	want404(t, call(t, s, "POST", "/api/v1/app/acme/msg/"+m.ID+"/endpoint/no-such-endpoint/resend", nil, 404))
	want404(t, callWith(t, s, "POST", "/api/v1/app/acme/msg/"+m.ID+"/endpoint/"+ep+"/resend", nil, 404, scopedKey(t, s, "other")))
	want404(t, call(t, s, "GET", "/api/v1/app/acme/msg/evt_nope/endpoint", nil, 404))
	want404(t, call(t, s, "GET", "/api/v1/app/acme/endpoint/no-such-endpoint/msg", nil, 404))
	want422(t, call(t, s, "GET", "/api/v1/app/acme/endpoint/"+ep+"/msg?status=7", nil, 422), "query", "status")
	want422(t, call(t, s, "GET", "/api/v1/app/acme/msg/"+m.ID+"/endpoint?status=0", nil, 422), "query", "status")
	if got := s.Invalid().DoWith("POST", "/api/v1/app/acme/msg/"+m.ID+"/endpoint/"+ep+"/resend", nil, nil, http.Header{}); got != 401 {
		t.Fatalf("resend without a token: %d", got)
	}
}

// A filter that matches little reads a bounded part of the history per
// request: pages come back short, even empty, and not done, and the
// iterator still reaches every match once.
func TestAttemptScanIsBounded(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	ep := s.Setup(rc.URL, nil)
	const n = 600
	old := decode[message](t, call(t, s, "POST", "/api/v1/app/acme/msg", map[string]any{"eventType": "lead.created", "payload": map[string]any{"i": 0}, "channels": []string{"old"}}, 202))
	s.WaitDelivery(old.ID, "succeeded", 1, 10*time.Second)
	for i := 1; i < n; i++ {
		call(t, s, "POST", "/api/v1/app/acme/msg", map[string]any{"eventType": "lead.created", "payload": map[string]any{"i": i}}, 202)
	}
	rc.Wait(t, n, 60*time.Second)
	for _, c := range []struct {
		path  string
		found int
	}{
		{"/api/v1/app/acme/attempt/endpoint/" + ep + "?limit=5&channel=old", 1},
		{"/api/v1/app/acme/attempt/endpoint/" + ep + "?limit=5&channel=none", 0},
	} {
		pages, found := 0, 0
		it := ""
		for {
			pages++
			if pages > 10 {
				t.Fatalf("%s does not end", c.path)
			}
			p := c.path
			if it != "" {
				p += "&iterator=" + it
			}
			pg := decode[list[attempt]](t, call(t, s, "GET", p, nil, 200))
			found += len(pg.Data)
			if pg.Done {
				break
			}
			it = *pg.Iterator
		}
		if found != c.found || pages < 2 {
			t.Fatalf("%s: %d found in %d pages, want %d in more than one page", c.path, found, pages, c.found)
		}
	}
	// Attempted messages of one channel, the same way.
	pages, found, it := 0, 0, ""
	for {
		pages++
		p := "/api/v1/app/acme/endpoint/" + ep + "/msg?limit=5&channel=old"
		if it != "" {
			p += "&iterator=" + it
		}
		pg := decode[list[endpointMessage]](t, call(t, s, "GET", p, nil, 200))
		found += len(pg.Data)
		if pg.Done || pages > 10 {
			break
		}
		it = *pg.Iterator
	}
	if found != 1 || pages < 2 || pages > 10 {
		t.Fatalf("attempted messages of channel old: %d in %d pages", found, pages)
	}
}

// waitAttempted polls an event's deliveries until n of them have an
// attempt recorded.
func waitAttempted(t *testing.T, s *heraldtest.Server, eventID string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pg struct{ Data []heraldtest.Delivery }
		s.MustDo("GET", "/v1/apps/acme/events/"+eventID+"/deliveries", nil, &pg, 200)
		got := 0
		for _, d := range pg.Data {
			if d.AttemptCount > 0 {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s: %d deliveries attempted, want %d", eventID, got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
