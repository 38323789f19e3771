package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

type failureGroup struct {
	AppID          string    `json:"app_id"`
	EndpointID     string    `json:"endpoint_id"`
	Cause          string    `json:"cause"`
	Body           string    `json:"body"`
	Error          string    `json:"error"`
	LastDeliveryID string    `json:"last_delivery_id"`
	StatusCode     *int      `json:"status_code"`
	Failed         int       `json:"failed"`
	Retrying       int       `json:"retrying"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
}

// TestFailures: a receiver answering 500 makes a failure group with the
// status and the body's first bytes, in the app's report and the admin's;
// the app's health counts the failing endpoint; app keys read their own
// app's only and may not ask across apps.
func TestFailures(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	body := "database is down: " + strings.Repeat("z", 200)
	var fixed atomic.Bool
	rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if fixed.Load() {
			return
		}
		w.WriteHeader(500)
		w.Write([]byte(body))
	})
	epID := s.Setup(rc.URL, nil)
	evID := s.Send(map[string]any{"n": 1})
	d := s.WaitDelivery(evID, "failed", 0, 20*time.Second)

	var rep struct {
		Data    []failureGroup
		Scanned int
		Partial bool
	}
	s.MustDo("GET", "/v1/apps/acme/failures", nil, &rep, 200)
	if len(rep.Data) != 1 || rep.Scanned != 1 || rep.Partial {
		t.Fatalf("failures: %+v, want one group", rep)
	}
	g := rep.Data[0]
	if g.EndpointID != epID || g.Cause != "HTTP 500" || g.StatusCode == nil || *g.StatusCode != 500 ||
		g.Failed != 1 || g.Retrying != 0 || g.LastDeliveryID != d.ID || g.Body != body[:120] || g.LastSeen.Before(g.FirstSeen) {
		t.Errorf("group %+v, want ep's HTTP 500 with the body's first 120 characters", g)
	}
	s.MustDo("GET", "/v1/failures?limit=5&since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), nil, &rep, 200)
	if len(rep.Data) != 1 || rep.Data[0].AppID != s.AppID("acme") {
		t.Errorf("admin failures: %+v", rep)
	}
	s.MustDo("GET", "/v1/apps/acme/failures?since="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), nil, &rep, 200)
	if len(rep.Data) != 0 {
		t.Errorf("failures since a later time: %+v, want none", rep)
	}

	var h struct {
		EndpointsFailing int `json:"endpoints_failing"`
		Failed, Pending  int
		LastEventAt      *time.Time `json:"last_event_at"`
	}
	// The endpoint's health record follows the delivery's end.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s.MustDo("GET", "/v1/apps/acme/health", nil, &h, 200); h.EndpointsFailing == 1 {
			break
		}
	}
	if h.EndpointsFailing != 1 || h.Failed != 1 || h.Pending != 0 || h.LastEventAt == nil {
		t.Errorf("health %+v, want one failing endpoint, one failed delivery and the last event's time", h)
	}

	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	key := mkKey(t, s, map[string]any{"name": "k", "scope": "app", "app": "acme"})
	otherKey := mkKey(t, s, map[string]any{"name": "o", "scope": "app", "app": "other"})
	var e apiError
	if got := s.DoWith("GET", "/v1/failures", nil, &e, bearer(key)); got != 403 || e.Error.Code != "forbidden" {
		t.Errorf("GET /v1/failures with an app key: %d %+v, want 403", got, e)
	}
	if got := s.DoWith("GET", "/v1/apps/acme/failures", nil, &rep, bearer(key)); got != 200 || len(rep.Data) != 1 {
		t.Errorf("the app's failures with its key: %d %+v", got, rep)
	}
	var sess struct{ Token string }
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{}, &sess, 201)
	for _, path := range []string{"/v1/apps/acme/failures", "/v1/apps/acme/health"} {
		if got := s.DoWith("GET", path, nil, &e, bearer(sess.Token)); got != 403 {
			t.Errorf("GET %s with a portal session: %d, want 403 (the portal is the customer's endpoints)", path, got)
		}
		if got := s.DoWith("GET", path, nil, &e, bearer(otherKey)); got != 404 {
			t.Errorf("GET %s with another app's key: %d, want 404", path, got)
		}
	}
	for q, field := range map[string]string{
		"since=yesterday": "since",
		"since=" + time.Now().Add(-40*24*time.Hour).UTC().Format(time.RFC3339): "since",
		"limit=0":   "limit",
		"limit=101": "limit",
		"until=x":   "until",
	} {
		if got := s.Invalid().Do("GET", "/v1/apps/acme/failures?"+q, nil, &e); got != 400 || e.Error.Field != field {
			t.Errorf("GET failures?%s: %d %+v, want 400 naming %s", q, got, e, field)
		}
	}
	// Resend the group: a recovery of the endpoint's deliveries whose
	// latest attempt got a 500 (none timed out), once the receiver is
	// fixed.
	fixed.Store(true)
	before := len(rc.Requests())
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	var job struct {
		ID, State   string
		Total, Done int
	}
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+epID+"/recover", map[string]any{"since": since, "error_kind": "timeout"}, &job, 202)
	waitJob(t, s, job.ID, 0)
	s.MustDo("POST", "/v1/apps/acme/endpoints/"+epID+"/recover", map[string]any{"since": since, "status_code": "500"}, &job, 202)
	waitJob(t, s, job.ID, 1)
	rc.Wait(t, before+1, 10*time.Second)
	s.WaitDelivery(evID, "succeeded", 0, 10*time.Second)
	for field, v := range map[string]string{"status_code": "5x", "error_kind": "bogus"} {
		if got := s.Invalid().Do("POST", "/v1/apps/acme/endpoints/"+epID+"/recover", map[string]any{"since": since, field: v}, &e); got != 422 || e.Error.Field != field {
			t.Errorf("recover with %s %q: %d %+v, want 422 naming it", field, v, got, e)
		}
	}
}

// waitJob waits for a recovery job to finish with total deliveries.
func waitJob(t *testing.T, s *heraldtest.Server, id string, total int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var job struct {
			State string
			Total int
		}
		s.MustDo("GET", "/v1/apps/acme/jobs/"+id, nil, &job, 200)
		if job.State != "running" {
			if job.State != "succeeded" || job.Total != total {
				t.Fatalf("job %s: %+v, want succeeded with %d deliveries", id, job, total)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running after 10s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLookup: any id leads to what it names (an attempt to its
// delivery), within the caller's reach; the rest is "nothing found".
func TestLookup(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	epID := s.Setup(rc.URL, nil)
	var ev struct{ ID string }
	s.MustDo("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{}}, &ev, 202)
	if got := s.DoWith("POST", "/v1/apps/acme/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{}},
		&struct{}{}, http.Header{"Idempotency-Key": {"order-42"}, "Authorization": {"Bearer " + heraldtest.Token}}); got != 202 {
		t.Fatalf("event with an idempotency key: %d", got)
	}
	d := s.WaitDelivery(ev.ID, "succeeded", 1, 10*time.Second)
	reqs := rc.Wait(t, 2, 10*time.Second)
	webhookIDs := map[string]bool{}
	for _, r := range reqs {
		webhookIDs[r.Header.Get("Webhook-Id")] = true
	}
	if !webhookIDs[d.ID] {
		t.Fatalf("webhook-id headers %v do not hold the delivery id %s", webhookIDs, d.ID)
	}
	appID := s.AppID("acme")
	type located struct {
		Kind       string `json:"kind"`
		AppID      string `json:"app_id"`
		ID         string `json:"id"`
		DeliveryID string `json:"delivery_id"`
	}
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	key := mkKey(t, s, map[string]any{"name": "k", "scope": "app", "app": "acme"})
	otherKey := mkKey(t, s, map[string]any{"name": "o", "scope": "app", "app": "other"})
	var sess struct{ Token string }
	s.MustDo("POST", "/v1/apps/acme/portal-sessions", map[string]any{}, &sess, 201)
	for _, c := range []struct {
		id   string
		want located
	}{
		{ev.ID, located{"event", appID, ev.ID, ""}},
		{d.ID, located{"delivery", appID, d.ID, ""}},
		{d.Attempts[0].ID, located{"attempt", appID, d.Attempts[0].ID, d.ID}},
		{epID, located{"endpoint", appID, epID, ""}},
		{"acme", located{"app", appID, appID, ""}},
		{appID, located{"app", appID, appID, ""}},
	} {
		for who, h := range map[string]http.Header{"admin": bearer(heraldtest.Token), "app key": bearer(key), "portal": bearer(sess.Token)} {
			var got located
			if code := s.DoWith("GET", "/v1/lookup/"+c.id, nil, &got, h); code != 200 || got != c.want {
				t.Errorf("lookup %s as %s: %d %+v, want %+v", c.id, who, code, got, c.want)
			}
		}
		var e apiError
		if code := s.DoWith("GET", "/v1/lookup/"+c.id, nil, &e, bearer(otherKey)); code != 404 || !strings.Contains(e.Error.Message, "nothing found") {
			t.Errorf("lookup %s with another app's key: %d %+v, want 404 nothing found", c.id, code, e)
		}
	}
	// An idempotency key is an app's: found with its key, or with ?app=.
	var got located
	if code := s.DoWith("GET", "/v1/lookup/order-42", nil, &got, bearer(key)); code != 200 || got.Kind != "event" || got.AppID != appID {
		t.Errorf("idempotency key with the app's key: %d %+v", code, got)
	}
	s.MustDo("GET", "/v1/lookup/order-42?app=acme", nil, &got, 200)
	if got.Kind != "event" || got.ID == ev.ID {
		t.Errorf("idempotency key with ?app=: %+v, want the second event", got)
	}
	var e apiError
	for _, path := range []string{"/v1/lookup/order-42", "/v1/lookup/evt_nope", "/v1/lookup/nothing?app=other"} {
		if code := s.Do("GET", path, nil, &e); code != 404 || !strings.Contains(e.Error.Message, "nothing found") {
			t.Errorf("GET %s: %d %+v, want 404 nothing found", path, code, e)
		}
	}
	if code := s.DoWith("GET", "/v1/lookup/order-42?app=acme", nil, &e, bearer(otherKey)); code != 400 || e.Error.Field != "app" {
		t.Errorf("?app= of another app with an app key: %d %+v, want 400 naming app", code, e)
	}
	if code := s.Invalid().Do("GET", "/v1/lookup/"+strings.Repeat("x", 600), nil, &e); code != 400 || e.Error.Field != "id" {
		t.Errorf("a 600-byte id: %d %+v, want 400 naming id", code, e)
	}
}

// TestFailuresDefinition: an endpoint whose URL cannot be built (a port
// of 65536 filled in from the payload) fails in a group of failure
// definition, and the same endpoint's receiver answering 500 in a group
// of failure destination. On each store.
func TestFailuresDefinition(t *testing.T) {
	pullStores(t, func(t *testing.T, s *heraldtest.Server) {
		rc := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "down", http.StatusInternalServerError)
		})
		u, _ := url.Parse(rc.URL)
		ep := s.Setup("http://"+u.Hostname()+":{{port}}/x", nil)
		rendered := s.WaitDelivery(s.Send(map[string]any{"port": "65536"}), "failed", 1, 10*time.Second)
		answered := s.WaitDelivery(s.Send(map[string]any{"port": u.Port()}), "failed", 0, 20*time.Second)

		var rep struct {
			Data []struct {
				failureGroup
				ErrorKind string `json:"error_kind"`
				Failure   string `json:"failure"`
			}
		}
		s.MustDo("GET", "/v1/apps/acme/failures", nil, &rep, 200)
		byCause := map[string]string{}
		for _, g := range rep.Data {
			if g.EndpointID != ep {
				t.Errorf("group of endpoint %s, want %s", g.EndpointID, ep)
			}
			byCause[g.Cause] = g.Failure
			switch g.Cause {
			case "render":
				if g.Failure != "definition" || g.ErrorKind != "render" || g.LastDeliveryID != rendered.ID || g.Failed != 1 ||
					!strings.Contains(g.Error, "65536") {
					t.Errorf("render group %+v, want failure definition for delivery %s, its error naming 65536", g, rendered.ID)
				}
			case "HTTP 500":
				if g.Failure != "destination" || g.LastDeliveryID != answered.ID || g.Failed != 1 {
					t.Errorf("HTTP 500 group %+v, want failure destination for delivery %s", g, answered.ID)
				}
			}
		}
		if len(rep.Data) != 2 || byCause["render"] != "definition" || byCause["HTTP 500"] != "destination" {
			t.Errorf("failure groups by cause: %v (%d groups), want render definition and HTTP 500 destination", byCause, len(rep.Data))
		}
		// The admin's report across apps says the same.
		s.MustDo("GET", "/v1/failures", nil, &rep, 200)
		for _, g := range rep.Data {
			if want := map[string]string{"render": "definition", "HTTP 500": "destination"}[g.Cause]; g.Failure != want {
				t.Errorf("admin report: group %s has failure %q, want %q", g.Cause, g.Failure, want)
			}
		}
	})
}
