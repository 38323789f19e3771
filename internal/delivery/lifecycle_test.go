package delivery_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/verify"
)

type apiErr struct {
	Error struct{ Code, Field, Message string }
}

type eventView struct {
	ID      string
	Routing struct {
		Matched []string
		Skipped []struct {
			EndpointID string `json:"endpoint_id"`
			Reason     string
		}
	}
}

func TestWildcardAndGroupRouting(t *testing.T) {
	t.Parallel()
	wild, group, exact := heraldtest.NewReceiver(t, nil), heraldtest.NewReceiver(t, nil), heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	for _, et := range []map[string]any{
		{"name": "conversation_created", "group": "conversations"},
		{"name": "conversation_updated", "group": "conversations"},
		{"name": "nps.submitted", "group": "nps"},
		{"name": "message_created"},
	} {
		s.MustDo("POST", "/v1/event-types", et, nil, 201)
	}
	var wildEp, groupEp, exactEp struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": wild.URL, "event_types": []string{"conversation_*"}}, &wildEp, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": group.URL, "event_types": []string{"group:nps", "message_created"}}, &groupEp, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": exact.URL, "event_types": []string{"conversation_updated"}}, &exactEp, 201)
	name := map[string]string{wildEp.ID: "wild", groupEp.ID: "group", exactEp.ID: "exact"}
	// Which endpoints each event goes to: its deliveries, all made when
	// it was accepted.
	for _, c := range []struct{ eventType, want string }{
		{"conversation_created", "[wild]"},
		{"conversation_updated", "[exact wild]"},
		{"nps.submitted", "[group]"},
		{"message_created", "[group]"},
	} {
		id := s.MustSend(t, c.eventType, map[string]any{"t": c.eventType})
		var to []string
		for _, d := range settled(t, s, id, strings.Count(c.want, " ")+1) {
			if d.Status != "succeeded" || d.AttemptCount != 1 {
				t.Fatalf("%s to %s: %s after %d attempts", c.eventType, name[d.EndpointID], d.Status, d.AttemptCount)
			}
			to = append(to, name[d.EndpointID])
		}
		if got := fmt.Sprint(sorted(to)); got != c.want {
			t.Errorf("%s delivered to %s, want %s", c.eventType, got, c.want)
		}
	}
	kinds := func(rc *heraldtest.Receiver, n int) []string {
		var out []string
		for _, r := range rc.Wait(t, n, 5*time.Second) {
			var b struct{ Type string }
			_ = json.Unmarshal(r.Body, &b)
			out = append(out, b.Type)
		}
		return out
	}
	if got := fmt.Sprint(sorted(kinds(wild, 2))); got != "[conversation_created conversation_updated]" {
		t.Errorf("wildcard got %s", got)
	}
	if got := fmt.Sprint(sorted(kinds(group, 2))); got != "[message_created nps.submitted]" {
		t.Errorf("group got %s", got)
	}
	if got := fmt.Sprint(kinds(exact, 1)); got != "[conversation_updated]" {
		t.Errorf("exact got %s", got)
	}
	// Every delivery is final: these counts are all there will be.
	if len(wild.Requests()) != 2 || len(group.Requests()) != 2 || len(exact.Requests()) != 1 {
		t.Fatal("extra deliveries")
	}
	var e apiErr
	if got := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": wild.URL, "event_types": []string{"a*b*"}}, &e); got != 422 || e.Error.Field != "event_types" {
		t.Fatalf("bad wildcard: %d %+v", got, e)
	}
	if got := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": wild.URL, "event_types": []string{"group:"}}, &e); got != 422 {
		t.Fatalf("empty group: %d", got)
	}
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestConditionFilters(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL, map[string]any{"filter": `payload.score > 50 && payload.user.plan == "pro"`})
	hostile := heraldtest.NewReceiver(t, nil)
	var hep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": hostile.URL,
		"filter": `payload.items.all(x, payload.items.all(y, payload.items.all(z, true)))`}, &hep, 201)

	items := make([]int, 300)
	match := s.Send(map[string]any{"score": 51, "user": map[string]any{"plan": "pro"}, "items": items})
	low := s.Send(map[string]any{"score": 10.5, "user": map[string]any{"plan": "pro"}, "items": items})
	// The matching event's one delivery is final and the other event has
	// none: the receivers' counts are complete.
	if d := settled(t, s, match, 1)[0]; d.EndpointID != epID || d.Status != "succeeded" {
		t.Fatalf("delivery of the matching event: %+v", d)
	}
	settled(t, s, low, 0)
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("filtered endpoint got %d requests, want 1", n)
	}
	var ev eventView
	s.MustDo("GET", "/v1/apps/acme/events/"+match, nil, &ev, 200)
	if fmt.Sprint(ev.Routing.Matched) != "["+epID+"]" {
		t.Fatalf("routing of the matching event: %+v", ev.Routing)
	}
	// The pathological condition is stopped by its cost limit: no
	// delivery, and the event says why.
	if len(ev.Routing.Skipped) != 1 || ev.Routing.Skipped[0].EndpointID != hep.ID || !strings.HasPrefix(ev.Routing.Skipped[0].Reason, "filter_error") {
		t.Fatalf("hostile filter: %+v", ev.Routing.Skipped)
	}
	s.MustDo("GET", "/v1/apps/acme/events/"+low, nil, &ev, 200)
	if len(ev.Routing.Matched) != 0 || len(ev.Routing.Skipped) != 2 {
		t.Fatalf("routing of the low event: %+v", ev.Routing)
	}
	if len(hostile.Requests()) != 0 {
		t.Fatal("the hostile filter's endpoint got a request")
	}
	// A bad expression is refused when saved, with its position.
	var e apiErr
	got := s.Do("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"filter": `payload.score >`}, &e)
	if got != 422 || e.Error.Field != "filter" || !strings.Contains(e.Error.Message, "column") {
		t.Fatalf("bad filter: %d %+v", got, e)
	}
	got = s.Do("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"filter": `payload.score + 1`}, &e)
	if got != 422 || e.Error.Field != "filter" {
		t.Fatalf("non-boolean filter: %d %+v", got, e)
	}
}

func TestSchemaEnforced(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	schema := map[string]any{"type": "object", "required": []string{"email"}, "properties": map[string]any{
		"email": map[string]any{"type": "string", "format": "email"},
		"lead":  map[string]any{"type": "object", "properties": map[string]any{"age": map[string]any{"type": "integer"}}},
	}}
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "schema": schema, "group": "leads", "deprecated": true}, nil, 201)
	var et map[string]any
	s.MustDo("GET", "/v1/event-types/lead.created", nil, &et, 200)
	if et["group"] != "leads" || et["deprecated"] != true {
		t.Fatalf("event type %v", et)
	}
	var e apiErr
	got := s.Do("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"email": "a@example.com", "lead": map[string]any{"age": "old"}}}, &e)
	if got != 422 || e.Error.Code != "schema_mismatch" || !strings.Contains(e.Error.Message, "/lead/age") {
		t.Fatalf("wrong type at a path: %d %+v", got, e)
	}
	got = s.Do("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{}}, &e)
	if got != 422 || !strings.Contains(e.Error.Message, "email") {
		t.Fatalf("missing required: %d %+v", got, e)
	}
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"email": "a@example.com"}}, nil, 202)
	// An invalid schema, or a sample that breaks its schema, is refused.
	if got := s.Do("POST", "/v1/event-types", map[string]any{"name": "x", "schema": map[string]any{"type": 12}}, &e); got != 422 || e.Error.Field != "schema" {
		t.Fatalf("invalid schema: %d %+v", got, e)
	}
	if got := s.Do("POST", "/v1/event-types", map[string]any{"name": "y", "schema": schema, "sample": map[string]any{"email": 3}}, &e); got != 422 || e.Error.Field != "sample" {
		t.Fatalf("sample against schema: %d %+v", got, e)
	}
}

func TestUndeclaredEventTypes(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{AllowUndeclaredEventTypes: true})
	s.Setup(rc.URL, nil)
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "never.declared", "payload": map[string]any{}}, nil, 202)
	rc.Wait(t, 1, 5*time.Second)
	var e apiErr
	if got := s.Do("POST", "/v1/apps/acme/events", map[string]any{"event_type": "herald.endpoint.disabled", "payload": map[string]any{}}, &e); got != 422 {
		t.Fatalf("Herald's own event types must not be sent by clients: %d", got)
	}
}

func TestMaxEndpointsPerEventType(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Forms", "uid": "acme", "max_endpoints_per_event_type": 3}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "form.first_submit"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "form.update_submit"}, nil, 201)
	var ids []string
	for i := range 3 {
		var ep struct{ ID string }
		s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": fmt.Sprintf("https://example.com/%d", i), "event_types": []string{"form.first_submit"}}, &ep, 201)
		ids = append(ids, ep.ID)
	}
	var e apiErr
	got := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/4", "event_types": []string{"form.first_submit"}}, &e)
	if got != 422 || e.Error.Code != "limit_exceeded" || !strings.Contains(e.Error.Message, "form.first_submit") || !strings.Contains(e.Error.Message, "3") {
		t.Fatalf("fourth endpoint: %d %+v", got, e)
	}
	// A wildcard or an all-events endpoint counts too.
	if got := s.Do("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/5", "event_types": []string{"form.*"}}, &e); got != 422 {
		t.Fatalf("wildcard over the limit: %d", got)
	}
	// Another event type still has room; a disabled endpoint does not count.
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/6", "event_types": []string{"form.update_submit"}}, nil, 201)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ids[0], map[string]any{"enabled": false}, nil, 200)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/7", "event_types": []string{"form.first_submit"}}, nil, 201)
	if got := s.Do("PATCH", "/v1/apps/acme/endpoints/"+ids[0], map[string]any{"enabled": true}, &e); got != 422 {
		t.Fatalf("re-enabling past the limit: %d", got)
	}
}

// Events sent while an endpoint is disabled are not queued for it.
func TestDisabledEndpointGetsNoNewEvents(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL, nil)
	before := s.Send(map[string]any{"n": 1})
	s.WaitDelivery(before, "succeeded", 1, 5*time.Second)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"enabled": false}, nil, 200)
	during := s.Send(map[string]any{"n": 2})
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"enabled": true}, nil, 200)
	after := s.Send(map[string]any{"n": 3})
	s.WaitDelivery(after, "succeeded", 1, 5*time.Second)
	// The event sent while disabled has no delivery, so nothing can ever
	// send it: with the other two final, the count is complete.
	settled(t, s, during, 0)
	if n := len(rc.Requests()); n != 2 {
		t.Fatalf("%d requests, want 2 (the event sent while disabled is not queued)", n)
	}
}

func TestTestSend(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(500)
			_, _ = w.Write([]byte("down"))
		case "/slow":
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		default:
			w.Header().Set("X-Receiver", "yes")
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	})
	t.Cleanup(func() { close(release) })
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "10ms,10ms"})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created", "sample": map[string]any{"name": "Sample Lead"}}, nil, 201)
	mk := func(path string, extra map[string]any) string {
		body := map[string]any{"url": rc.URL + path}
		for k, v := range extra {
			body[k] = v
		}
		var ep struct{ ID string }
		s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
		return ep.ID
	}
	okID, failID, slowID := mk("/ok", nil), mk("/fail", nil), mk("/slow", map[string]any{"timeout_ms": 200})

	type testOut struct {
		Delivery heraldtest.Delivery
		Attempt  struct {
			Trigger   string `json:"trigger"`
			ErrorKind string `json:"error_kind"`
			LatencyMS float64
			Response  *struct {
				StatusCode int `json:"status_code"`
				Headers    map[string]string
				Body       string
			}
		}
	}
	var out testOut
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+okID+"/test", map[string]any{"event_type": "lead.created"}, &out, 200)
	if out.Attempt.Response == nil || out.Attempt.Response.StatusCode != 200 || out.Attempt.Response.Body != `{"ok":true}` ||
		out.Attempt.Response.Headers["X-Receiver"] != "yes" || out.Attempt.Trigger != "test" || out.Delivery.Status != "succeeded" {
		t.Fatalf("test send to /ok: %+v", out)
	}
	// The sample was sent, signed like a delivery.
	req := rc.Requests()[0]
	var sec struct{ Secret string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+okID+"/secret", nil, &sec, 200)
	v, _ := verify.New(sec.Secret)
	if err := v.Verify(req.Header, req.Body); err != nil || !strings.Contains(string(req.Body), "Sample Lead") {
		t.Fatalf("test request %s: %v", req.Body, err)
	}

	s.MustDo("POST", "/v1/apps/acme/endpoints/"+failID+"/test", map[string]any{"event_type": "lead.created", "payload": map[string]any{"x": 1}}, &out, 200)
	if out.Attempt.Response == nil || out.Attempt.Response.StatusCode != 500 || out.Delivery.Status != "failed" || out.Attempt.ErrorKind != "http_status" {
		t.Fatalf("test send to /fail: %+v", out)
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+slowID+"/test", map[string]any{"event_type": "lead.created"}, &out, 200)
	if out.Attempt.ErrorKind != "timeout" || out.Attempt.Response != nil || out.Delivery.Status != "failed" {
		t.Fatalf("test send to /slow: %+v", out)
	}
	// In the history, flagged test, and failed: final, never retried.
	var hist struct {
		Data []struct {
			Test         bool
			Status       string
			AttemptCount int `json:"attempt_count"`
		}
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+failID+"/deliveries", nil, &hist, 200)
	if len(hist.Data) != 1 || !hist.Data[0].Test || hist.Data[0].AttemptCount != 1 || hist.Data[0].Status != "failed" {
		t.Fatalf("history %+v", hist.Data)
	}
	n := 0
	for _, r := range rc.Requests() {
		if r.Path == "/fail" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the failed test send was retried: %d requests", n)
	}
}

func TestResendKeepsWebhookID(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(400)
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL, nil)
	ev := s.Send(map[string]any{"x": 1})
	d := s.WaitDelivery(ev, "failed", 1, 5*time.Second)
	var out struct {
		Delivery heraldtest.Delivery
		Attempt  struct{ Trigger string }
	}
	s.MustDo("POST", "/v1/apps/acme/deliveries/"+d.ID+"/resend", nil, &out, 200)
	reqs := rc.Requests()
	if len(reqs) != 2 || reqs[0].Header.Get("webhook-id") != reqs[1].Header.Get("webhook-id") || reqs[1].Header.Get("webhook-id") != d.ID {
		t.Fatalf("resend webhook-ids: %v", reqs)
	}
	if out.Delivery.Status != "succeeded" || out.Delivery.AttemptCount != 2 || out.Attempt.Trigger != "resend" {
		t.Fatalf("after resend: %+v", out)
	}
	// A succeeded delivery can be sent again too.
	s.MustDo("POST", "/v1/apps/acme/deliveries/"+d.ID+"/resend", nil, &out, 200)
	if len(rc.Requests()) != 3 {
		t.Fatal("resend of a succeeded delivery did not send")
	}
	s.MustDo("POST", "/v1/apps/acme/deliveries/dlv_nope/resend", nil, nil, 404)
}

func TestRecoverWithProgress(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	fail.Store(true)
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(400)
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL, nil)
	start := time.Now().UTC().Add(-time.Second)
	const n = 1000
	for i := range n {
		s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"i": i}}, nil, 202)
	}
	rc.Wait(t, n, 30*time.Second)
	// Wait until all are recorded as failed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pg struct{ Data []any }
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/deliveries?status=pending&include_attempts=false&limit=1", nil, &pg, 200)
		if len(pg.Data) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	fail.Store(false)
	var job struct {
		ID, State   string
		Total, Done int
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+epID+"/recover", map[string]any{"since": start.Format(time.RFC3339Nano)}, &job, 202)
	if job.State != "running" {
		t.Fatalf("job %+v", job)
	}
	var seen []int
	deadline = time.Now().Add(30 * time.Second)
	for job.State == "running" && time.Now().Before(deadline) {
		s.MustDo("GET", "/v1/apps/acme/jobs/"+job.ID, nil, &job, 200)
		seen = append(seen, job.Done)
		time.Sleep(5 * time.Millisecond)
	}
	if job.State != "succeeded" || job.Total != n || job.Done != n {
		t.Fatalf("job ended %+v", job)
	}
	t.Logf("progress read while running: %d readings, first %d", len(seen), seen[0])
	rc.Wait(t, 2*n, 30*time.Second)
	var e apiErr
	if got := s.Invalid().Do("POST", "/v1/apps/acme/endpoints/"+epID+"/recover", map[string]any{"since": "yesterday"}, &e); got != 422 || e.Error.Field != "since" {
		t.Fatalf("bad since: %d %+v", got, e)
	}
	s.MustDo("GET", "/v1/apps/acme/jobs/job_nope", nil, nil, 404)
}

func TestSendChosenEvents(t *testing.T) {
	t.Parallel()
	crm := heraldtest.NewReceiver(t, nil)
	marketo := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(crm.URL, map[string]any{"event_types": []string{"lead.created"}})
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.export"}, nil, 201)
	var ex struct{ ID string }
	// Subscribed to nothing that happens: it gets only what is pushed.
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": marketo.URL, "event_types": []string{"lead.export"}}, &ex, 201)
	var ids []string
	for i := range 5 {
		ids = append(ids, s.Send(map[string]any{"lead": i}))
	}
	crm.Wait(t, 5, 5*time.Second)
	var out struct{ Data []heraldtest.Delivery }
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+ex.ID+"/send", map[string]any{"event_ids": []string{ids[1], ids[3]}}, &out, 202)
	got := marketo.Wait(t, 2, 5*time.Second)
	bodies := string(got[0].Body) + string(got[1].Body)
	if len(out.Data) != 2 || !strings.Contains(bodies, `"lead":1`) || !strings.Contains(bodies, `"lead":3`) {
		t.Fatalf("sent %s", bodies)
	}
	var e apiErr
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	if got := s.Do("POST", "/v1/apps/acme/endpoints/"+ex.ID+"/send", map[string]any{"event_ids": []string{"evt_nope"}}, &e); got != 422 || e.Error.Field != "event_ids" {
		t.Fatalf("unknown event: %d %+v", got, e)
	}
	if got := s.Invalid().Do("POST", "/v1/apps/acme/endpoints/"+ex.ID+"/send", map[string]any{}, &e); got != 422 {
		t.Fatalf("no events: %d", got)
	}
}

func TestAutoDisable(t *testing.T) {
	t.Parallel()
	var opsEvents []map[string]any
	ops := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {})
	var gone atomic.Bool
	dead := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	goneRc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if !gone.Load() {
			w.WriteHeader(http.StatusGone)
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) {
		c.AutoDisableAfter = 300 * time.Millisecond
		c.AutoDisableMinFailures = 3
	}})
	deadID := s.Setup(dead.URL, nil)
	// Of Herald's own events, this app takes only these two.
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"operational_webhook_url": ops.URL + "/ops",
		"operational_event_types": []string{"herald.endpoint.disabled", "herald.endpoint.recovered"}}, nil, 200)
	var goneEp struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": goneRc.URL, "event_types": []string{"lead.created"}}, &goneEp, 201)

	// 410 disables at once.
	s.Send(map[string]any{"n": 0})
	waitFor(t, func() bool {
		var ep map[string]any
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+goneEp.ID, nil, &ep, 200)
		return ep["enabled"] == false && strings.Contains(fmt.Sprint(ep["disabled_reason"]), "410")
	})
	// The failing one: failed deliveries over more than the window. Each
	// fails after its retries (three waits of 100 ms, each ±20 % jitter),
	// so the first and the last failure are 4 × 150 ms apart, give or
	// take 120 ms: always more than the 300 ms window.
	for i := 1; i <= 5; i++ {
		s.Send(map[string]any{"n": i})
		time.Sleep(150 * time.Millisecond)
	}
	var ep map[string]any
	waitFor(t, func() bool {
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+deadID, nil, &ep, 200)
		return ep["enabled"] == false
	})
	if reason := fmt.Sprint(ep["disabled_reason"]); !strings.Contains(reason, "failed") || ep["disabled_at"] == nil {
		t.Fatalf("disabled endpoint %v", ep)
	}
	// Both announced to the operational webhook, signed.
	reqs := ops.Wait(t, 2, 5*time.Second)
	var opsEP struct{ Data []struct{ ID, URL string } }
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &opsEP, 200)
	var opsSecret string
	for _, e := range opsEP.Data {
		if e.URL == ops.URL+"/ops" {
			var sec struct{ Secret string }
			s.MustDo("GET", "/v1/apps/acme/endpoints/"+e.ID+"/secret", nil, &sec, 200)
			opsSecret = sec.Secret
		}
	}
	v, err := verify.New(opsSecret)
	if err != nil {
		t.Fatal(err)
	}
	disabled := map[string]bool{}
	for _, r := range reqs {
		if err := v.Verify(r.Header, r.Body); err != nil {
			t.Fatalf("operational event not signed: %v", err)
		}
		var body struct {
			Type string
			Data map[string]any
		}
		_ = json.Unmarshal(r.Body, &body)
		opsEvents = append(opsEvents, body.Data)
		if body.Type == "herald.endpoint.disabled" {
			disabled[fmt.Sprint(body.Data["endpoint_id"])] = true
		}
	}
	if !disabled[deadID] || !disabled[goneEp.ID] {
		t.Fatalf("operational events %v", opsEvents)
	}
	// Re-enabled and succeeding: recovered.
	gone.Store(true)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+goneEp.ID, map[string]any{"enabled": true}, nil, 200)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+deadID, map[string]any{"enabled": false}, nil, 200)
	s.Send(map[string]any{"n": 9})
	reqs = ops.Wait(t, 3, 5*time.Second)
	var last struct {
		Type string
		Data map[string]any
	}
	_ = json.Unmarshal(reqs[2].Body, &last)
	if last.Type != "herald.endpoint.recovered" || last.Data["endpoint_id"] != goneEp.ID {
		t.Fatalf("recovered event %s", reqs[2].Body)
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+goneEp.ID, nil, &ep, 200)
	if ep["disabled_reason"] != "" {
		t.Fatalf("reason kept after recovery: %v", ep["disabled_reason"])
	}
}

func TestLayeredSettingsAndStats(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n%4 == 0 {
			w.WriteHeader(400)
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h"})
	epID := s.Setup(rc.URL, nil)
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"retry_schedule": "1m,2m", "timeout_ms": 3000}, nil, 200)
	var ep struct {
		Eff struct {
			RetrySchedule string `json:"retry_schedule"`
			TimeoutMS     int    `json:"timeout_ms"`
			MaxInFlight   int    `json:"max_in_flight"`
		} `json:"effective_delivery"`
	}
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"max_in_flight": 2}, &ep, 200)
	if ep.Eff.RetrySchedule != "1m,2m" || ep.Eff.TimeoutMS != 3000 || ep.Eff.MaxInFlight != 2 {
		t.Fatalf("effective %+v", ep.Eff)
	}
	var e apiErr
	if got := s.Do("PATCH", "/v1/apps/acme", map[string]any{"retry_schedule": "soon"}, &e); got != 422 || e.Error.Field != "retry_schedule" {
		t.Fatalf("bad schedule: %d %+v", got, e)
	}
	if got := s.Do("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"max_in_flight": -1}, &e); got != 422 || e.Error.Field != "max_in_flight" {
		t.Fatalf("bad max_in_flight: %d %+v", got, e)
	}
	// 0 clears the endpoint's own value: the app's or installation's
	// applies again.
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"max_in_flight": 0, "timeout_ms": 0}, &ep, 200)
	if ep.Eff.MaxInFlight == 2 || ep.Eff.MaxInFlight < 1 || ep.Eff.TimeoutMS != 3000 {
		t.Fatalf("effective after clearing: %+v", ep.Eff)
	}
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"max_in_flight": 2}, &ep, 200)
	for i := range 8 {
		s.Send(map[string]any{"i": i})
	}
	rc.Wait(t, 8, 5*time.Second)
	// Stats count recorded attempts: wait until all eight are (a 400 is
	// final here, so none stays pending).
	waitFor(t, func() bool {
		var pend struct{ Data []any }
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/deliveries?status=pending&include_attempts=false", nil, &pend, 200)
		return len(pend.Data) == 0
	})
	var st struct {
		Hour struct {
			Succeeded, Failed int
			SuccessRate       *float64 `json:"success_rate"`
		} `json:"last_hour"`
		P50              *float64 `json:"latency_p50_ms"`
		LastSuccessAt    *string  `json:"last_success_at"`
		LastFailureError string   `json:"last_failure_error"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/stats", nil, &st, 200)
	if st.Hour.Succeeded != 6 || st.Hour.Failed != 2 || st.Hour.SuccessRate == nil || *st.Hour.SuccessRate != 0.75 ||
		st.P50 == nil || st.LastSuccessAt == nil || !strings.Contains(st.LastFailureError, "400") {
		t.Fatalf("stats %+v", st)
	}
	// The app's schedule is the one applied: a failed attempt is retried
	// in a minute (±20 % jitter, as in production), not in the
	// installation's hour.
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"url": "http://127.0.0.1:1/"}, nil, 200)
	d := s.WaitDelivery(s.Send(map[string]any{"x": 1}), "pending", 1, 5*time.Second)
	if wait := time.Until(*d.NextAttemptAt); wait < 40*time.Second || wait > 72*time.Second {
		t.Fatalf("next attempt in %v, want about a minute", wait)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSampling(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL, map[string]any{"sample_rate": 30})
	const n = 1000
	var last string
	for i := range n {
		last = s.Send(map[string]any{"i": i})
	}
	// The sampled deliveries were made when the events were accepted;
	// once none is pending, each went out exactly once.
	waitFor(t, func() bool {
		var pend struct{ Data []any }
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/deliveries?status=pending&include_attempts=false&limit=1", nil, &pend, 200)
		return len(pend.Data) == 0
	})
	made := 0
	for cursor := ""; ; {
		var pg struct {
			Data []struct{ Status string }
			Next *string `json:"next_cursor"`
		}
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/deliveries?include_attempts=false&limit=250&cursor="+cursor, nil, &pg, 200)
		for _, d := range pg.Data {
			if d.Status != "succeeded" {
				t.Fatalf("a sampled delivery %s", d.Status)
			}
		}
		made += len(pg.Data)
		if pg.Next == nil {
			break
		}
		cursor = *pg.Next
	}
	got := len(rc.Requests())
	if got != made || got < 240 || got > 360 {
		t.Fatalf("30%% of %d events: %d deliveries, %d requests", n, made, got)
	}
	var ev eventView
	s.MustDo("GET", "/v1/apps/acme/events/"+last, nil, &ev, 200)
	if len(ev.Routing.Matched)+len(ev.Routing.Skipped) != 1 || (len(ev.Routing.Skipped) == 1 && ev.Routing.Skipped[0].Reason != "sampled_out") {
		t.Fatalf("routing %+v", ev.Routing)
	}
	// A resend sends the sampled delivery again: the choice was made once,
	// when the event was routed.
	var ds struct{ Data []heraldtest.Delivery }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/deliveries?limit=1", nil, &ds, 200)
	s.MustDo("POST", "/v1/apps/acme/deliveries/"+ds.Data[0].ID+"/resend", nil, nil, 200)
	if n := len(rc.Requests()); n != got+1 {
		t.Fatalf("resend: %d requests, want %d", n, got+1)
	}
	var e apiErr
	if code := s.Do("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"sample_rate": 101}, &e); code != 422 || e.Error.Field != "sample_rate" {
		t.Fatalf("rate 101: %d %+v", code, e)
	}
}

// TestOperationalEvents: the operational webhook hears, signed, that an
// endpoint began failing (once, however many attempts fail) and recovered,
// that a delivery used up its retries (with what the receiver last said),
// and that endpoints were created, changed and deleted; an app that picks
// some types gets only those, and an unknown type is refused.
func TestOperationalEvents(t *testing.T) {
	t.Parallel()
	ops := heraldtest.NewReceiver(t, nil)
	var down atomic.Bool
	down.Store(true)
	flaky := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "database is locked", http.StatusServiceUnavailable)
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "50ms"})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	var e struct{ Error struct{ Field string } }
	if got := s.Invalid().Do("PATCH", "/v1/apps/acme", map[string]any{"operational_event_types": []string{"herald.nope"}}, &e); got != 422 || e.Error.Field != "operational_event_types" {
		t.Fatalf("unknown operational event type: %d %+v, want 422 naming the field", got, e)
	}
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"operational_webhook_url": ops.URL}, nil, 200)
	var opsSecret string
	var eps struct{ Data []struct{ ID, URL string } }
	s.MustDo("GET", "/v1/apps/acme/endpoints", nil, &eps, 200)
	for _, ep := range eps.Data {
		var sec struct{ Secret string }
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID+"/secret", nil, &sec, 200)
		opsSecret = sec.Secret
	}
	v, err := verify.New(opsSecret)
	if err != nil {
		t.Fatal(err)
	}
	type opsEvent struct {
		Type string
		Data map[string]any
	}
	// next waits for an operational event of the given type not taken
	// yet, in whatever order they arrive (each is a delivery of its own),
	// and checks every one's signature.
	taken := map[int]bool{}
	next := func(typ string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for n := 1; time.Now().Before(deadline); n++ {
			reqs := ops.Wait(t, min(n, len(ops.Requests())+1), time.Until(deadline))
			for i, r := range reqs {
				if taken[i] {
					continue
				}
				if err := v.Verify(r.Header, r.Body); err != nil {
					t.Fatalf("operational event not signed: %v", err)
				}
				var ev opsEvent
				if err := json.Unmarshal(r.Body, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Type == typ {
					taken[i] = true
					return ev.Data
				}
			}
			n = len(reqs)
		}
		t.Fatalf("no %s within 10s", typ)
		return nil
	}

	var ep struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": flaky.URL, "description": "CRM"}, &ep, 201)
	if d := next("herald.endpoint.created"); d["endpoint_id"] != ep.ID || d["url"] != flaky.URL || d["description"] != "CRM" {
		t.Errorf("endpoint.created: %v", d)
	}
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+ep.ID, map[string]any{"description": "CRM (new)", "event_types": []string{"lead.created"}}, nil, 200)
	if d := next("herald.endpoint.updated"); d["endpoint_id"] != ep.ID || fmt.Sprint(d["changed"]) != "[description event_types]" {
		t.Errorf("endpoint.updated: %v", d)
	}

	// Three events fail (each tried twice): one failing, three exhausted.
	for i := range 3 {
		s.Send(map[string]any{"n": i})
	}
	if d := next("herald.endpoint.failing"); d["endpoint_id"] != ep.ID || d["status_code"] != float64(503) || d["failing_since"] == nil {
		t.Errorf("endpoint.failing: %v", d)
	}
	for range 3 {
		d := next("herald.delivery.exhausted")
		if d["endpoint_id"] != ep.ID || d["event_type"] != "lead.created" || d["attempts"] != float64(2) ||
			d["last_status_code"] != float64(503) || !strings.Contains(fmt.Sprint(d["last_response_body"]), "database is locked") || d["event_id"] == "" {
			t.Errorf("delivery.exhausted: %v", d)
		}
	}
	down.Store(false)
	s.Send(map[string]any{"n": 9})
	if d := next("herald.endpoint.recovered"); d["endpoint_id"] != ep.ID || d["was_failing_since"] == nil {
		t.Errorf("endpoint.recovered: %v", d)
	}
	s.MustDo("DELETE", "/v1/apps/acme/endpoints/"+ep.ID, nil, nil, 204)
	if d := next("herald.endpoint.deleted"); d["endpoint_id"] != ep.ID {
		t.Errorf("endpoint.deleted: %v", d)
	}
	// The failing run was announced once, however many attempts failed.
	var failing int
	for _, r := range ops.Requests() {
		if strings.Contains(string(r.Body), `"type":"herald.endpoint.failing"`) {
			failing++
		}
	}
	if failing != 1 {
		t.Errorf("%d endpoint.failing, want 1", failing)
	}
}
