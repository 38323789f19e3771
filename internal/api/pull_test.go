package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/verify"
)

// handout is one delivery of a pull's answer.
type handout struct {
	DeliveryID string `json:"delivery_id"`
	Request    struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"request"`
}

type ackOutcome struct {
	DeliveryID    string     `json:"delivery_id"`
	Result        string     `json:"result"`
	Status        string     `json:"status"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	Attempt       *struct {
		Number    int    `json:"attempt"`
		ErrorKind string `json:"error_kind"`
	} `json:"attempt"`
}

// pullStores runs fn on a server of each store: SQLite, and PostgreSQL
// when HERALD_TEST_DATABASE_URL names one.
func pullStores(t *testing.T, fn func(t *testing.T, s *heraldtest.Server)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, heraldtest.Start(t, heraldtest.Options{}))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db := heraldtest.PostgresDatabase(t, "herald_pull_")
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		fn(t, heraldtest.Start(t, heraldtest.Options{Config: func(c *config.Serve) {
			c.DatabaseURL = db
			c.EncryptionKey = "k1:" + base64.StdEncoding.EncodeToString(key)
		}}))
	})
}

// setupPull creates app acme, event type lead.created and a pull
// endpoint of it; it returns the endpoint's id and signing secret.
func setupPull(t *testing.T, s *heraldtest.Server, extra map[string]any) (id, secret string) {
	t.Helper()
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	body := map[string]any{"kind": "pull", "event_types": []string{"lead.created"}}
	for k, v := range extra {
		body[k] = v
	}
	var ep struct{ ID, Kind, URL string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
	if ep.Kind != "pull" || ep.URL != "" {
		t.Fatalf("created endpoint: kind %q, url %q; want pull without url", ep.Kind, ep.URL)
	}
	var sec struct{ Secret string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+ep.ID+"/secret", nil, &sec, 200)
	return ep.ID, sec.Secret
}

func pullOnce(t *testing.T, s *heraldtest.Server, epID, query string) []handout {
	t.Helper()
	var got struct{ Data []handout }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/pull?"+query, nil, &got, 200)
	if got.Data == nil {
		t.Fatalf("pull: no data list")
	}
	return got.Data
}

func ack(t *testing.T, s *heraldtest.Server, epID string, results ...map[string]any) []ackOutcome {
	t.Helper()
	var got struct{ Data []ackOutcome }
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+epID+"/ack", map[string]any{"results": results}, &got, 200)
	if len(got.Data) != len(results) {
		t.Fatalf("ack: %d outcomes for %d results", len(got.Data), len(results))
	}
	return got.Data
}

// A pull endpoint's deliveries are handed out once per visibility window,
// each the signed request a push would have made; acknowledged outcomes
// are recorded as attempts, a failure is retried on the schedule and
// handed out again, and one never acknowledged comes back once its
// visibility ends.
func TestPullEndpoint(t *testing.T) {
	t.Parallel()
	pullStores(t, func(t *testing.T, s *heraldtest.Server) {
		epID, secret := setupPull(t, s, map[string]any{"retry_schedule": "200ms,200ms", "headers": map[string]string{"X-Tenant": "acme"}})

		// A pull waiting when the event comes gets it at once.
		type pulled struct {
			data []handout
			code int
		}
		waiting := make(chan pulled, 1)
		go func() {
			var got struct{ Data []handout }
			code := s.Do("GET", "/v1/apps/acme/endpoints/"+epID+"/pull?wait=20s&visibility=30s", nil, &got)
			waiting <- pulled{got.Data, code}
		}()
		// The event is sent once the pull waits: sent earlier it would
		// be found by the pull's first read, which proves less.
		waitFor(t, func() bool { return s.Engine.PullsOpen(epID) > 0 })
		evID := s.Send(map[string]any{"id": "42", "name": "山田 太郎"})
		var got pulled
		select {
		case got = <-waiting:
		case <-time.After(15 * time.Second):
			t.Fatal("the waiting pull did not answer within 15 s of the event")
		}
		if got.code != 200 || len(got.data) != 1 {
			t.Fatalf("waiting pull: %d, %d deliveries; want 200 and 1", got.code, len(got.data))
		}
		h := got.data[0]
		if h.Request.Method != "POST" || h.Request.URL != "" || h.Request.Headers["X-Tenant"] != "acme" ||
			h.Request.Headers["Webhook-Id"] != h.DeliveryID || h.Request.Headers["Content-Type"] != "application/json" {
			t.Errorf("handed out request: %+v", h.Request)
		}
		var body struct {
			Type string
			Data map[string]string
		}
		if err := json.Unmarshal([]byte(h.Request.Body), &body); err != nil || body.Type != "lead.created" || body.Data["name"] != "山田 太郎" {
			t.Errorf("body %q: %v", h.Request.Body, err)
		}
		v, err := verify.New(secret)
		if err != nil {
			t.Fatal(err)
		}
		hdr := http.Header{}
		for k, val := range h.Request.Headers {
			hdr.Set(k, val)
		}
		if err := v.Verify(hdr, []byte(h.Request.Body)); err != nil {
			t.Errorf("the handed out request's signature: %v", err)
		}

		// Once per visibility window.
		if again := pullOnce(t, s, epID, "wait=0s"); len(again) != 0 {
			t.Errorf("pulled again within the visibility: %+v", again)
		}

		// A 503 is recorded as an attempt and retried on the schedule.
		out := ack(t, s, epID, map[string]any{"delivery_id": h.DeliveryID, "status_code": 503, "body": "busy", "latency_ms": 12.5})
		if o := out[0]; o.Result != "recorded" || o.Status != "pending" || o.NextAttemptAt == nil || o.Attempt == nil || o.Attempt.Number != 1 || o.Attempt.ErrorKind != "http_status" {
			t.Errorf("ack of a 503: %+v", o)
		}
		retried := pullOnce(t, s, epID, "wait=10s&visibility=30s")
		if len(retried) != 1 || retried[0].DeliveryID != h.DeliveryID {
			t.Fatalf("pull after the retry wait: %+v, want the delivery again", retried)
		}
		out = ack(t, s, epID,
			map[string]any{"delivery_id": h.DeliveryID, "status_code": 200, "body": "ok"},
			map[string]any{"delivery_id": h.DeliveryID, "status_code": 200},
			map[string]any{"delivery_id": "dlv_unknown", "status_code": 200})
		if out[0].Result != "recorded" || out[0].Status != "succeeded" || out[1].Result != "not_handed_out" || out[2].Result != "not_found" {
			t.Errorf("ack of a 200, the same again and an unknown id: %+v", out)
		}
		if again := ack(t, s, epID, map[string]any{"delivery_id": h.DeliveryID, "status_code": 200}); again[0].Result != "not_handed_out" {
			t.Errorf("second acknowledgement: %+v", again[0])
		}

		// The history holds both attempts, as for a push endpoint.
		d := s.WaitDelivery(evID, "succeeded", 2, 5*time.Second)
		if d.Attempts[0].Response == nil || d.Attempts[0].Response.StatusCode != 503 || d.Attempts[0].Response.Body != "busy" ||
			d.Attempts[0].LatencyMS != 12.5 || d.Attempts[1].Response.StatusCode != 200 || d.Attempts[1].Request.Body != h.Request.Body {
			t.Errorf("attempts: %+v", d.Attempts)
		}
		var stats struct {
			Hour struct{ Attempts, Succeeded, Failed int } `json:"last_hour"`
		}
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/stats", nil, &stats, 200)
		if stats.Hour.Succeeded != 1 {
			t.Errorf("stats of the last hour: %+v", stats.Hour)
		}

		// A resend makes it due again for the client: nothing is sent.
		var rs struct {
			Delivery heraldtest.Delivery
			Attempt  *json.RawMessage
		}
		s.MustDo("POST", "/v1/apps/acme/deliveries/"+h.DeliveryID+"/resend", nil, &rs, 202)
		if rs.Delivery.Status != "pending" || rs.Delivery.AttemptCount != 2 || rs.Attempt != nil {
			t.Errorf("resend of a pulled delivery: %+v", rs)
		}
		if again := pullOnce(t, s, epID, "wait=10s"); len(again) != 1 || again[0].DeliveryID != h.DeliveryID {
			t.Fatalf("pull after the resend: %+v", again)
		}
		ack(t, s, epID, map[string]any{"delivery_id": h.DeliveryID, "status_code": 200})

		// Never acknowledged, a delivery comes back after its visibility.
		s.Send(map[string]any{"id": "43"})
		first := pullOnce(t, s, epID, "wait=10s&visibility=1s")
		if len(first) != 1 {
			t.Fatalf("pull of the second event: %+v", first)
		}
		start := time.Now()
		back := pullOnce(t, s, epID, "wait=10s&visibility=30s")
		if len(back) != 1 || back[0].DeliveryID != first[0].DeliveryID {
			t.Fatalf("pull after the visibility: %+v, want %s again", back, first[0].DeliveryID)
		}
		if waited := time.Since(start); waited < 500*time.Millisecond {
			t.Errorf("handed out again after %v, before its visibility of 1 s ended", waited)
		}
		// The handouts were no attempts.
		var dl heraldtest.Delivery
		s.MustDo("GET", "/v1/apps/acme/deliveries/"+first[0].DeliveryID, nil, &dl, 200)
		if dl.Status != "pending" || dl.AttemptCount != 0 {
			t.Errorf("delivery handed out twice, never acknowledged: %s with %d attempts", dl.Status, dl.AttemptCount)
		}
	})
}

// waitFor polls cond until it holds, for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Another app's key gets 404 for a pull endpoint, read-only keys and
// portal sessions cannot pull, and the parameters and acknowledgements
// are bounded with 422 naming the field.
func TestPullEndpointAccessAndBounds(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	epID, _ := setupPull(t, s, nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Globex", "uid": "globex"}, nil, 201)
	globex := mkKey(t, s, map[string]any{"name": "g", "scope": "app", "app": "globex"})
	acme := mkKey(t, s, map[string]any{"name": "a", "scope": "app", "app": "acme"})
	ro := mkKey(t, s, map[string]any{"name": "ro", "scope": "app", "app": "acme", "read_only": true})
	s.Send(map[string]any{"id": "1"})

	for _, path := range []string{"/v1/apps/globex/endpoints/" + epID, "/v1/apps/acme/endpoints/" + epID} {
		if got := s.DoWith("GET", path+"/pull?wait=0s", nil, nil, bearer(globex)); got != 404 {
			t.Errorf("another app's key pulling %s: %d", path, got)
		}
		ackBody := map[string]any{"results": []map[string]any{{"delivery_id": "dlv_x", "status_code": 200}}}
		if got := s.DoWith("POST", path+"/ack", ackBody, nil, bearer(globex)); got != 404 {
			t.Errorf("another app's key acknowledging on %s: %d", path, got)
		}
	}
	var e apiError
	if got := s.DoWith("GET", "/v1/apps/acme/endpoints/"+epID+"/pull?wait=0s", nil, &e, bearer(ro)); got != 403 {
		t.Errorf("read-only key pulling: %d, want 403", got)
	}
	var session struct{ Token string }
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{}, &session, 201)
	if got := s.DoWith("GET", "/v1/apps/acme/endpoints/"+epID+"/pull?wait=0s", nil, nil, bearer(session.Token)); got != 403 {
		t.Errorf("portal session pulling: %d, want 403", got)
	}
	var got struct{ Data []handout }
	if code := s.DoWith("GET", "/v1/apps/acme/endpoints/"+epID+"/pull?wait=0s", nil, &got, bearer(acme)); code != 200 || len(got.Data) != 1 {
		t.Errorf("the app's own key pulling: %d, %d deliveries", code, len(got.Data))
	}

	for _, c := range []struct{ query, field string }{
		{"wait=61s", "wait"}, {"wait=-1s", "wait"}, {"wait=soon", "wait"},
		{"visibility=0s", "visibility"}, {"visibility=13h", "visibility"},
		{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=x", "limit"},
	} {
		if code := s.Invalid().Do("GET", "/v1/apps/acme/endpoints/"+epID+"/pull?"+c.query, nil, &e); code != 422 || e.Error.Field != c.field {
			t.Errorf("pull?%s: %d %+v, want 422 on %s", c.query, code, e, c.field)
		}
	}
	many := make([]map[string]any, 101)
	for i := range many {
		many[i] = map[string]any{"delivery_id": fmt.Sprintf("dlv_%d", i), "status_code": 200}
	}
	for _, c := range []struct {
		name  string
		body  any
		field string
	}{
		{"101 results", map[string]any{"results": many}, "results"},
		{"no results", map[string]any{"results": []any{}}, "results"},
		{"no delivery id", map[string]any{"results": []map[string]any{{"status_code": 200}}}, "results[0].delivery_id"},
		{"a status out of range", map[string]any{"results": []map[string]any{{"delivery_id": "d", "status_code": 999}}}, "results[0].status_code"},
		{"neither status nor error", map[string]any{"results": []map[string]any{{"delivery_id": "d"}}}, "results[0].status_code"},
		{"a long error", map[string]any{"results": []map[string]any{{"delivery_id": "d", "error": strings.Repeat("x", 2000)}}}, "results[0].error"},
	} {
		if code := s.Invalid().Do("POST", "/v1/apps/acme/endpoints/"+epID+"/ack", c.body, &e); code != 422 || e.Error.Field != c.field {
			t.Errorf("ack with %s: %d %+v, want 422 on %s", c.name, code, e, c.field)
		}
	}
	big := map[string]any{"results": []map[string]any{{"delivery_id": "d", "status_code": 200, "body": strings.Repeat("x", 2<<20)}}}
	if code := s.Do("POST", "/v1/apps/acme/endpoints/"+epID+"/ack", big, nil); code != 413 {
		t.Errorf("ack over the body limit: %d, want 413", code)
	}

	// A pull endpoint has no URL and is never dialled; its kind stays.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"kind": "pull", "url": "https://example.com/x"}, "url"},
		{map[string]any{"kind": "pull", "preset": "slack", "preset_options": map[string]string{"webhook_url": "https://hooks.slack.com/services/x"}}, "preset"},
		{map[string]any{"kind": "pull", "auth": map[string]string{"type": "bearer", "token": "t"}}, "auth"},
		{map[string]any{"kind": "poll"}, "kind"},
		{map[string]any{}, "url"},
	} {
		if code := s.Invalid().Do("POST", "/v1/apps/acme/endpoints", c.body, &e); code != 422 || e.Error.Field != c.field {
			t.Errorf("create %v: %d %+v, want 422 on %s", c.body, code, e, c.field)
		}
	}
	if code := s.Do("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"kind": "push"}, &e); code != 422 || e.Error.Field != "kind" {
		t.Errorf("changing the kind: %d %+v", code, e)
	}
	var push struct{ ID, Kind string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": "https://example.com/hook"}, &push, 201)
	if push.Kind != "push" {
		t.Errorf("endpoint created without kind: %q, want push", push.Kind)
	}
	if code := s.Do("GET", "/v1/apps/acme/endpoints/"+push.ID+"/pull?wait=0s", nil, &e); code != 409 || e.Error.Code != "not_pull_endpoint" {
		t.Errorf("pulling a push endpoint: %d %+v", code, e)
	}
	if code := s.Do("POST", "/v1/apps/acme/endpoints/"+epID+"/test", map[string]any{"event_type": "lead.created", "payload": map[string]any{}}, &e); code != 409 || e.Error.Code != "pull_endpoint" {
		t.Errorf("test send to a pull endpoint: %d %+v", code, e)
	}
}

// A node holds at most MaxPullsPerEndpoint pulls of one endpoint open;
// one more is refused with 429 at once, not queued.
func TestPullEndpointConcurrentPullsBounded(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	epID, _ := setupPull(t, s, nil)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/v1/apps/acme/endpoints/"+epID+"/pull?wait=60s", nil)
			req.Header.Set("Authorization", "Bearer "+heraldtest.Token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	waitFor(t, func() bool { return s.Engine.PullsOpen(epID) == 4 })
	var e apiError
	if code := s.Do("GET", "/v1/apps/acme/endpoints/"+epID+"/pull?wait=0s", nil, &e); code != 429 || e.Error.Code != "too_many_requests" {
		t.Errorf("a fifth pull: %d %+v, want 429", code, e)
	}
	cancel()
	waitFor(t, func() bool { return s.Engine.PullsOpen(epID) == 0 })
	if code := s.Do("GET", "/v1/apps/acme/endpoints/"+epID+"/pull?wait=0s", nil, nil); code != 200 {
		t.Errorf("a pull once the others ended: %d", code)
	}
}

// A delivery handed out and never acknowledged is not lost in a restart:
// it is not handed out again before its visibility ends, and is after.
func TestPullEndpointSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	inDir := heraldtest.Options{Config: func(c *config.Serve) { c.DataDir = dir }}
	s := heraldtest.Start(t, inDir)
	epID, _ := setupPull(t, s, nil)
	s.Send(map[string]any{"id": "1"})
	first := pullOnce(t, s, epID, "wait=5s&visibility=5s")
	if len(first) != 1 {
		t.Fatalf("pull: %+v", first)
	}
	s.Stop()

	s = heraldtest.Start(t, inDir)
	if now := pullOnce(t, s, epID, "wait=0s"); len(now) != 0 {
		t.Errorf("pull right after the restart, within the visibility: %+v", now)
	}
	back := pullOnce(t, s, epID, "wait=20s")
	if len(back) != 1 || back[0].DeliveryID != first[0].DeliveryID || !bytes.Equal([]byte(back[0].Request.Body), []byte(first[0].Request.Body)) {
		t.Fatalf("pull after the visibility: %+v, want %s again", back, first[0].DeliveryID)
	}
	out := ack(t, s, epID, map[string]any{"delivery_id": back[0].DeliveryID, "status_code": 204})
	if out[0].Result != "recorded" || out[0].Status != "succeeded" {
		t.Errorf("ack after the restart: %+v", out[0])
	}
}

// Outcomes of pulled deliveries follow the endpoint's rules as a push's
// do: a request that cannot be built fails without being handed out, a
// 410 disables the endpoint, and retries stop with the schedule.
func TestPullEndpointOutcomes(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	strict, _ := setupPull(t, s, map[string]any{"body_template": map[string]any{"x": "{{missing}}"}, "template_strict": true})
	mk := func(extra map[string]any) string {
		body := map[string]any{"kind": "pull", "event_types": []string{"lead.created"}}
		for k, v := range extra {
			body[k] = v
		}
		var ep struct{ ID string }
		s.MustDo("POST", "/v1/apps/acme/endpoints", body, &ep, 201)
		return ep.ID
	}
	gone := mk(nil)
	once := mk(map[string]any{"retry_schedule": "100ms"})
	s.Send(map[string]any{"id": "1"})
	only := func(epID string) heraldtest.Delivery {
		t.Helper()
		var pg struct{ Data []heraldtest.Delivery }
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/deliveries", nil, &pg, 200)
		if len(pg.Data) != 1 {
			t.Fatalf("endpoint %s: %d deliveries, want 1", epID, len(pg.Data))
		}
		return pg.Data[0]
	}

	if got := pullOnce(t, s, strict, "wait=0s"); len(got) != 0 {
		t.Errorf("a request that cannot be built was handed out: %+v", got)
	}
	if d := only(strict); d.Status != "failed" || len(d.Attempts) != 1 || d.Attempts[0].ErrorKind != "render" {
		t.Errorf("delivery whose request cannot be built: %+v", d)
	}

	g := pullOnce(t, s, gone, "wait=5s")
	if len(g) != 1 {
		t.Fatalf("pull: %+v", g)
	}
	if out := ack(t, s, gone, map[string]any{"delivery_id": g[0].DeliveryID, "status_code": 410}); out[0].Result != "recorded" || out[0].Status != "failed" {
		t.Errorf("ack of a 410: %+v", out[0])
	}
	var ep struct {
		Enabled        bool
		DisabledReason string `json:"disabled_reason"`
	}
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+gone, nil, &ep, 200)
	if ep.Enabled || !strings.Contains(ep.DisabledReason, "410") {
		t.Errorf("endpoint after a 410: %+v", ep)
	}
	var e apiError
	if code := s.Do("GET", "/v1/apps/acme/endpoints/"+gone+"/pull?wait=0s", nil, &e); code != 409 || e.Error.Code != "endpoint_disabled" {
		t.Errorf("pull of a disabled endpoint: %d %+v", code, e)
	}
	if out := ack(t, s, gone, map[string]any{"delivery_id": g[0].DeliveryID, "status_code": 200}); out[0].Result != "not_handed_out" {
		t.Errorf("ack on the disabled endpoint: %+v", out[0])
	}

	for n := 1; n <= 2; n++ {
		got := pullOnce(t, s, once, "wait=10s")
		if len(got) != 1 {
			t.Fatalf("pull %d: %+v", n, got)
		}
		out := ack(t, s, once, map[string]any{"delivery_id": got[0].DeliveryID, "error": "connection refused"})
		want := map[int]string{1: "pending", 2: "failed"}[n]
		if out[0].Result != "recorded" || out[0].Status != want || out[0].Attempt.ErrorKind != "network" {
			t.Errorf("ack %d of no answer: %+v, want %s", n, out[0], want)
		}
	}
	if d := only(once); d.Status != "failed" || d.AttemptCount != 2 || d.Attempts[1].Error != "connection refused" {
		t.Errorf("delivery after its retries: %+v", d)
	}
	if got := pullOnce(t, s, once, "wait=0s"); len(got) != 0 {
		t.Errorf("a failed delivery was handed out: %+v", got)
	}
}

// A shutdown ends the pulls waiting: each answers what it has (nothing),
// rather than holding the shutdown until its wait is over or being cut
// off when the shutdown gives up on it.
func TestPullEndpointShutdown(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	epID, _ := setupPull(t, s, nil)
	type pulled struct {
		code int
		data []handout
		err  error
	}
	done := make(chan pulled, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.URL+"/v1/apps/acme/endpoints/"+epID+"/pull?wait=60s", nil)
		req.Header.Set("Authorization", "Bearer "+heraldtest.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- pulled{err: err}
			return
		}
		defer resp.Body.Close()
		var got struct{ Data []handout }
		err = json.NewDecoder(resp.Body).Decode(&got)
		done <- pulled{resp.StatusCode, got.Data, err}
	}()
	waitFor(t, func() bool { return s.Engine.PullsOpen(epID) == 1 })
	start := time.Now()
	s.Stop()
	got := <-done
	if got.err != nil || got.code != 200 || got.data == nil || len(got.data) != 0 {
		t.Errorf("the waiting pull at shutdown: %+v, want 200 with no deliveries", got)
	}
	// heraldtest gives requests 5 s at shutdown: a pull it had to cut
	// off would have held it that long.
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("shutdown took %v with a pull waiting", took)
	}
}
