package delivery_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/verify"
)

func secretOf(t *testing.T, s *heraldtest.Server, epID string) string {
	var sec struct{ Secret string }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/secret", nil, &sec, 200)
	return sec.Secret
}

// settled waits until none of the event's deliveries (of app acme) is
// pending: each succeeded or failed, so nothing more can be sent for it
// and what the receivers got is all they will get. An event's deliveries
// are all created before its 202, so their number is checked at once.
func settled(t *testing.T, s *heraldtest.Server, eventID string, want int) []heraldtest.Delivery {
	t.Helper()
	var ds []heraldtest.Delivery
	waitFor(t, func() bool {
		var pg struct{ Data []heraldtest.Delivery }
		s.MustDo("GET", "/v1/apps/acme/events/"+eventID+"/deliveries", nil, &pg, 200)
		if ds = pg.Data; len(ds) != want {
			t.Fatalf("event %s has %d deliveries, want %d", eventID, len(ds), want)
		}
		for _, d := range ds {
			if d.Status == "pending" {
				return false
			}
		}
		return true
	})
	return ds
}

func TestDeliverySucceedsSigned(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL+"/hook", map[string]any{"event_types": []string{"lead.created"}})
	evID := s.Send(map[string]any{"name": "山田 太郎", "email": "taro@example.com"})
	d := s.WaitDelivery(evID, "succeeded", 1, 5*time.Second)

	req := rc.Wait(t, 1, 5*time.Second)[0]
	if req.Method != "POST" || req.Path != "/hook" {
		t.Fatalf("got %s %s", req.Method, req.Path)
	}
	v, err := verify.New(secretOf(t, s, epID))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(req.Header, req.Body); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if got := req.Header.Get("webhook-id"); got != d.ID {
		t.Fatalf("webhook-id %q, want the delivery id %q", got, d.ID)
	}
	if ua := req.Header.Get("User-Agent"); !strings.HasPrefix(ua, "Herald/") {
		t.Fatalf("User-Agent %q", ua)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var body struct {
		Type      string
		Timestamp string
		Data      map[string]string
	}
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != "lead.created" || body.Data["name"] != "山田 太郎" {
		t.Fatalf("body %s", req.Body)
	}
	if _, err := time.Parse(time.RFC3339, body.Timestamp); err != nil {
		t.Fatalf("timestamp %q: %v", body.Timestamp, err)
	}
	// The attempt records what was sent and what came back.
	a := d.Attempts[0]
	if a.Request.Body != string(req.Body) || a.Request.URL != rc.URL+"/hook" || a.Request.Method != "POST" {
		t.Fatalf("recorded request %+v", a.Request)
	}
	if a.Response == nil || a.Response.StatusCode != 200 || a.Response.Body != "ok" || a.ErrorKind != "" {
		t.Fatalf("recorded response %+v kind %q", a.Response, a.ErrorKind)
	}
	// An endpoint not subscribed to the type gets nothing.
	var other struct{ ID string }
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.updated"}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.updated", "payload": map[string]any{}}, &other, 202)
	var ds struct{ Data []any }
	s.MustDo("GET", "/v1/apps/acme/events/"+other.ID+"/deliveries", nil, &ds, 200)
	if len(ds.Data) != 0 {
		t.Fatalf("unsubscribed endpoint got %d deliveries", len(ds.Data))
	}
}

func TestRetryOn500KeepsWebhookID(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n < 3 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("boom"))
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "50ms,50ms,50ms"})
	epID := s.Setup(rc.URL, nil)
	evID := s.Send(map[string]any{"x": 1})
	d := s.WaitDelivery(evID, "succeeded", 3, 10*time.Second)
	reqs := rc.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	v, _ := verify.New(secretOf(t, s, epID))
	for i, r := range reqs {
		if r.Header.Get("webhook-id") != d.ID {
			t.Fatalf("request %d webhook-id %q, want %q", i, r.Header.Get("webhook-id"), d.ID)
		}
		if err := v.Verify(r.Header, r.Body); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if d.Attempts[0].ErrorKind != "http_status" || d.Attempts[0].Response.StatusCode != 500 || d.Attempts[0].Response.Body != "boom" {
		t.Fatalf("first attempt %+v", d.Attempts[0])
	}
	for i, a := range d.Attempts {
		if a.Number != i+1 {
			t.Fatalf("attempt %d numbered %d", i, a.Number)
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	// The schedule alone would wait a minute: a second attempt within a
	// few seconds can only come from Retry-After.
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1m"})
	s.Setup(rc.URL, nil)
	evID := s.Send(map[string]any{"x": 1})
	d := s.WaitDelivery(evID, "succeeded", 2, 10*time.Second)
	reqs := rc.Requests()
	gap := reqs[1].At.Sub(reqs[0].At)
	if gap < time.Second {
		t.Fatalf("retried after %v, before Retry-After's 1s", gap)
	}
	if d.Attempts[0].Response.StatusCode != 429 {
		t.Fatalf("first attempt %+v", d.Attempts[0])
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		_, _ = w.Write([]byte("ok"))
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "50ms"})
	t.Cleanup(func() { close(release) })
	s.Setup(rc.URL, map[string]any{"timeout_ms": 300})
	evID := s.Send(map[string]any{"x": 1})
	d := s.WaitDelivery(evID, "succeeded", 2, 10*time.Second)
	a := d.Attempts[0]
	if a.ErrorKind != "timeout" || a.Response != nil || a.Error == "" {
		t.Fatalf("first attempt kind %q response %+v error %q", a.ErrorKind, a.Response, a.Error)
	}
}

func TestNoRetryOn400(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"bad"}`))
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "50ms,50ms"})
	s.Setup(rc.URL, nil)
	evID := s.Send(map[string]any{"x": 1})
	// Failed is final: no retry can follow, so the count is complete.
	d := s.WaitDelivery(evID, "failed", 1, 5*time.Second)
	if n := len(rc.Requests()); n != 1 {
		t.Fatalf("400 was retried: %d requests", n)
	}
	if d.NextAttemptAt != nil || d.Attempts[0].Response.Body != `{"error":"bad"}` {
		t.Fatalf("delivery %+v", d)
	}
}

func TestFailedAfterLastAttempt(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "30ms,30ms,30ms"})
	s.Setup(rc.URL, nil)
	evID := s.Send(map[string]any{"x": 1})
	d := s.WaitDelivery(evID, "failed", 4, 10*time.Second)
	if len(d.Attempts) != 4 || d.NextAttemptAt != nil {
		t.Fatalf("delivery %+v", d)
	}
	// Failed is final, so the receiver's count is complete. That no
	// attempt follows however long one waits is shown in fake time by
	// TestEngineRetryClock.
	if n := len(rc.Requests()); n != 4 {
		t.Fatalf("%d requests after the last attempt, want 4", n)
	}
}

func TestConnectErrorIsRecorded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h"})
	s.Setup("http://"+addr+"/hook", nil)
	evID := s.Send(map[string]any{"x": 1})
	d := s.WaitDelivery(evID, "pending", 1, 5*time.Second)
	if d.Attempts[0].ErrorKind != "connect" || d.NextAttemptAt == nil {
		t.Fatalf("delivery %+v", d)
	}
	if until := time.Until(*d.NextAttemptAt); until < 40*time.Minute {
		t.Fatalf("next attempt in %v, want about an hour", until)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Bool
	target := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { followed.Store(true) })
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL, nil)
	evID := s.Send(map[string]any{"x": 1})
	d := s.WaitDelivery(evID, "failed", 1, 5*time.Second)
	if followed.Load() || d.Attempts[0].Response.StatusCode != 302 {
		t.Fatalf("redirect followed=%v attempt %+v", followed.Load(), d.Attempts[0])
	}
}

// A slow endpoint holds at most its own in-flight share of the workers;
// other endpoints' deliveries go out while it hangs.
func TestSlowEndpointDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	slow := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		<-gate
	})
	fast := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{Timeout: time.Minute, Config: func(c *config.Serve) {
		c.Workers = 8
		c.MaxInFlight = 4
	}})
	// Registered last so it runs first: the receivers' Close waits for
	// the handlers this releases.
	t.Cleanup(func() { close(gate) })
	s.Setup(slow.URL, nil)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": fast.URL}, nil, 201)
	for i := range 40 {
		s.Send(map[string]any{"i": i})
	}
	fast.Wait(t, 40, 10*time.Second)
	if n := len(slow.Requests()); n > 4 {
		t.Fatalf("slow endpoint has %d requests in flight, cap is 4", n)
	}
}

// One app's burst does not hold up another app's events.
func TestNoisyAppDoesNotBlockQuietApp(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	noisy := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { <-gate })
	quiet := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{Timeout: time.Minute,
		Config: func(c *config.Serve) {
			c.Workers = 4
			c.MaxInFlight = 2
		},
		Engine: func(o *delivery.Options) { o.QueuePerEndpoint = 10 },
	})
	t.Cleanup(func() { close(gate) })
	s.Setup(noisy.URL, nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Quiet", "uid": "quiet"}, nil, 201)
	s.MustDo("POST", "/v1/apps/quiet/endpoints", map[string]any{"url": quiet.URL}, nil, 201)
	for i := range 200 {
		s.Send(map[string]any{"i": i})
	}
	for i := range 20 {
		s.MustDo("POST", "/v1/apps/quiet/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{"i": i}}, nil, 202)
	}
	quiet.Wait(t, 20, 10*time.Second)
}

// Events are fanned out to every subscribed endpoint, each its own
// delivery with its own webhook-id.
func TestFanOut(t *testing.T) {
	t.Parallel()
	var rcs []*heraldtest.Receiver
	for range 5 {
		rcs = append(rcs, heraldtest.NewReceiver(t, nil))
	}
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rcs[0].URL, nil)
	for _, rc := range rcs[1:] {
		s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL, "event_types": []string{"lead.created"}}, nil, 201)
	}
	// Disabled endpoints get nothing.
	off := heraldtest.NewReceiver(t, nil)
	var offEp struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": off.URL, "enabled": false}, &offEp, 201)
	var evs []string
	for i := range 20 {
		evs = append(evs, s.Send(map[string]any{"i": i}))
	}
	ids := map[string]bool{}
	for _, rc := range rcs {
		for _, r := range rc.Wait(t, 20, 10*time.Second) {
			ids[r.Header.Get("webhook-id")] = true
		}
	}
	if len(ids) != 100 {
		t.Fatalf("%d distinct webhook-ids, want 100", len(ids))
	}
	// Each event has one delivery per enabled endpoint and none for the
	// disabled one, all final: nothing can reach it later.
	for _, ev := range evs {
		for _, d := range settled(t, s, ev, 5) {
			if d.EndpointID == offEp.ID || d.Status != "succeeded" {
				t.Fatalf("event %s: delivery to %s %s", ev, d.EndpointID, d.Status)
			}
		}
	}
	if n := len(off.Requests()); n != 0 {
		t.Fatalf("disabled endpoint got %d requests", n)
	}
}

// Disabling an endpoint pauses its pending deliveries; enabling resumes
// them. Here the API's part: each change reaches the engine. That nothing
// is sent while the endpoint is disabled, however long, is shown in fake
// time by TestEngineDisabledEndpointWaits.
func TestDisableAndEnable(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	fail.Store(true)
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(500)
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "300ms,300ms,300ms,300ms"})
	epID := s.Setup(rc.URL, nil)
	evID := s.Send(map[string]any{"x": 1})
	s.WaitDelivery(evID, "pending", 1, 5*time.Second)
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"enabled": false}, nil, 200)
	fail.Store(false)
	var ep struct{ Enabled bool }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID, nil, &ep, 200)
	if d := s.WaitDelivery(evID, "pending", 0, 5*time.Second); ep.Enabled || d.NextAttemptAt == nil {
		t.Fatalf("after disabling: endpoint enabled %v, delivery %+v", ep.Enabled, d)
	}
	enabled := time.Now()
	s.MustDo("PATCH", "/v1/apps/acme/endpoints/"+epID, map[string]any{"enabled": true}, nil, 200)
	d := s.WaitDelivery(evID, "succeeded", 0, 5*time.Second)
	if last := d.Attempts[len(d.Attempts)-1]; last.CreatedAt.Before(enabled) {
		t.Fatalf("the successful attempt started at %v, before the endpoint was enabled again at %v", last.CreatedAt, enabled)
	}
}

func TestDeletedEndpointFailsPending(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "1h"})
	epID := s.Setup(rc.URL, nil)
	evID := s.Send(map[string]any{"x": 1})
	s.WaitDelivery(evID, "pending", 1, 5*time.Second)
	s.MustDo("DELETE", "/v1/apps/acme/endpoints/"+epID, nil, nil, 204)
	d := s.WaitDelivery(evID, "failed", 1, 5*time.Second)
	// History stays readable, by delivery and by endpoint.
	s.MustDo("GET", "/v1/apps/acme/deliveries/"+d.ID, nil, nil, 200)
	var pg struct{ Data []any }
	s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/deliveries", nil, &pg, 200)
	if len(pg.Data) != 1 {
		t.Fatalf("endpoint history has %d deliveries", len(pg.Data))
	}
}

func TestDeliveryFilters(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if b, _ := io.ReadAll(r.Body); strings.Contains(string(b), `"fail":true`) {
			w.WriteHeader(400)
		}
	})
	s := heraldtest.Start(t, heraldtest.Options{})
	epID := s.Setup(rc.URL, nil)
	for i := range 6 {
		id := s.Send(map[string]any{"fail": i%2 == 0})
		// Every delivery recorded before the counts are read.
		if i%2 == 0 {
			s.WaitDelivery(id, "failed", 1, 5*time.Second)
		} else {
			s.WaitDelivery(id, "succeeded", 1, 5*time.Second)
		}
	}
	for _, c := range []struct {
		q    string
		want int
	}{{"", 6}, {"?status=failed", 3}, {"?status=succeeded", 3}, {"?status=pending", 0}, {"?limit=4", 4}, {"?since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z", 6}, {"?until=2000-01-01T00:00:00Z", 0}} {
		var pg struct{ Data []heraldtest.Delivery }
		s.MustDo("GET", "/v1/apps/acme/endpoints/"+epID+"/deliveries"+c.q, nil, &pg, 200)
		if len(pg.Data) != c.want {
			t.Errorf("%s: %d deliveries, want %d", c.q, len(pg.Data), c.want)
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &delivery.RetryPolicy{Schedule: []time.Duration{time.Second, time.Minute}, MaxRetryAfter: time.Hour}
	h := func(kv ...string) http.Header {
		x := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			x.Set(kv[i], kv[i+1])
		}
		return x
	}
	cases := []struct {
		name   string
		n      int
		kind   string
		status int
		header http.Header
		want   string
		wait   time.Duration
	}{
		{"2xx", 1, "", 204, nil, "succeeded", 0},
		{"500 first", 1, "http_status", 500, nil, "pending", time.Second},
		{"500 second", 2, "http_status", 502, nil, "pending", time.Minute},
		{"500 last", 3, "http_status", 500, nil, "failed", 0},
		{"404", 1, "http_status", 404, nil, "failed", 0},
		{"410", 1, "http_status", 410, nil, "failed", 0},
		{"301", 1, "http_status", 301, nil, "failed", 0},
		{"429", 1, "http_status", 429, nil, "pending", time.Second},
		{"429 retry-after seconds", 1, "http_status", 429, h("Retry-After", "120"), "pending", 2 * time.Minute},
		{"503 retry-after date", 1, "http_status", 503, h("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), "pending", 90 * time.Second},
		{"retry-after capped", 1, "http_status", 429, h("Retry-After", "999999"), "pending", time.Hour},
		{"retry-after garbage", 1, "http_status", 429, h("Retry-After", "soon"), "pending", time.Second},
		{"timeout", 1, "timeout", 0, nil, "pending", time.Second},
		{"connect", 2, "connect", 0, nil, "pending", time.Minute},
		{"dns", 1, "dns", 0, nil, "pending", time.Second},
		{"policy", 1, "policy", 0, nil, "failed", 0},
	}
	for _, c := range cases {
		// The outbound layer reads the header; the policy decides.
		var wait *time.Duration
		if d, ok := outbound.RetryAfter(c.header, now); ok {
			wait = &d
		}
		v := p.Decide(c.n, kindOf(c.kind), c.status, wait, now)
		if string(v.Status) != c.want {
			t.Errorf("%s: %s, want %s", c.name, v.Status, c.want)
			continue
		}
		if c.want == "pending" && v.NextAttemptAt.Sub(now) != c.wait {
			t.Errorf("%s: wait %v, want %v", c.name, v.NextAttemptAt.Sub(now), c.wait)
		}
	}
}

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	got, err := delivery.ParseSchedule(delivery.DefaultRetrySchedule)
	if err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for _, d := range got {
		total += d
	}
	if len(got) < 5 || total < 20*time.Hour || total > 36*time.Hour {
		t.Fatalf("default schedule: %d retries over %v; want at least 5 over about a day", len(got), total)
	}
	for _, bad := range []string{"5", "5s,,1m", "-1s", "1x"} {
		if _, err := delivery.ParseSchedule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got, err := delivery.ParseSchedule(" 1s , 2m "); err != nil || fmt.Sprint(got) != "[1s 2m0s]" {
		t.Fatalf("got %v %v", got, err)
	}
	if got, err := delivery.ParseSchedule("1d,1d12h"); err != nil || fmt.Sprint(got) != "[24h0m0s 36h0m0s]" {
		t.Fatalf("days: got %v %v", got, err)
	}
}

func kindOf(s string) herald.ErrorKind { return herald.ErrorKind(s) }
