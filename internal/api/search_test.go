package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestDeliverySearch: the app-wide and the cross-app delivery lists find
// deliveries by their latest attempt's status code, error kind and
// latency, by event type, endpoint and status, against real receivers.
func TestDeliverySearch(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	status := func(code int) *heraldtest.Receiver {
		return heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) })
	}
	ok, e500, e422 := status(200), status(500), status(422)
	slow := heraldtest.NewReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
		}
	})
	okID := s.Setup(ok.URL, nil)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.updated"}, nil, 201)
	ids := map[string]string{"ok": okID}
	for name, rc := range map[string]*heraldtest.Receiver{"e500": e500, "e422": e422, "slow": slow} {
		var ep struct{ ID string }
		s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL}, &ep, 201)
		ids[name] = ep.ID
	}
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Other", "uid": "other"}, nil, 201)
	s.MustDo("POST", "/v1/apps/other/endpoints", map[string]any{"url": e500.URL}, nil, 201)
	s.MustSend(t, "lead.created", map[string]any{"n": 1})
	s.MustSend(t, "lead.updated", map[string]any{"n": 2})
	s.MustDo("POST", "/v1/apps/other/events", map[string]any{"event_type": "lead.created", "payload": map[string]any{}}, nil, 202)

	type page struct {
		Data []heraldtest.Delivery
	}
	list := func(path string, q url.Values) []heraldtest.Delivery {
		t.Helper()
		q.Set("limit", "250")
		var pg page
		s.MustDo("GET", path+"?"+q.Encode(), nil, &pg, 200)
		return pg.Data
	}
	// Wait for every delivery to end: the failing ones retry three times.
	deadline := time.Now().Add(20 * time.Second)
	for len(list("/v1/deliveries", url.Values{"status": {"pending"}})) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries still pending after 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The server said why, at info, once per failed attempt (a few per
	// endpoint at most), and warned that private destinations are on.
	if !s.Logged("attempt failed", "endpoint_id="+ids["e500"], "status_code=500", "error_kind=http_status") ||
		!s.Logged("attempt failed", "endpoint_id="+ids["e422"], "status_code=422") {
		t.Errorf("no log line per failed attempt:\n%s", s.Log())
	}
	if s.Logged("attempt", "endpoint_id="+ids["ok"]) {
		t.Errorf("successful attempts logged without --log-deliveries")
	}
	if !s.Logged("level=WARN", "--allow-private-destinations is on") {
		t.Errorf("no warning that private destinations are allowed")
	}
	endpoints := func(ds []heraldtest.Delivery) []string {
		var names []string
		for _, d := range ds {
			for name, id := range ids {
				if d.EndpointID == id {
					names = append(names, name)
				}
			}
		}
		slices.Sort(names)
		return names
	}
	app := "/v1/apps/acme/deliveries"
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{"e422", "e422", "e500", "e500", "ok", "ok", "slow", "slow"}},
		{"status_code=5xx", []string{"e500", "e500"}},
		{"status_code=422", []string{"e422", "e422"}},
		{"status_code=2XX", []string{"ok", "ok", "slow", "slow"}},
		{"error_kind=http_status", []string{"e422", "e422", "e500", "e500"}},
		{"error_kind=timeout", nil},
		{"min_latency_ms=250", []string{"slow", "slow"}},
		{"status=failed", []string{"e422", "e422", "e500", "e500"}},
		{"event_type=lead.updated", []string{"e422", "e500", "ok", "slow"}},
		{"event_type=lead.updated,lead.created&endpoint_id=" + ids["e500"], []string{"e500", "e500"}},
		{"event_type=lead.updated&status_code=5xx&include_attempts=false", []string{"e500"}},
	} {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		ds := list(app, q)
		if got := endpoints(ds); !slices.Equal(got, c.want) {
			t.Errorf("GET %s?%s: deliveries to %v, want %v", app, c.query, got, c.want)
		}
		for _, d := range ds {
			if (d.Attempts == nil) != strings.Contains(c.query, "include_attempts=false") {
				t.Errorf("GET %s?%s: attempts %v", app, c.query, d.Attempts)
			}
		}
	}
	// The latest attempt decides: a 500 answered once, then 200, is not 5xx.
	if ds := list("/v1/apps/acme/endpoints/"+ids["e500"]+"/deliveries", url.Values{"status_code": {"5xx"}}); len(ds) != 2 || ds[0].AttemptCount != 4 {
		t.Errorf("endpoint list by status_code: %+v, want the endpoint's two deliveries after 4 attempts", ds)
	}

	// Across apps: the admin sees both apps' 5xx; an app key may not ask.
	if ds := list("/v1/deliveries", url.Values{"status_code": {"5xx"}}); len(ds) != 3 {
		t.Errorf("GET /v1/deliveries?status_code=5xx: %d deliveries, want 3 (two apps)", len(ds))
	}
	key := mkKey(t, s, map[string]any{"name": "k", "scope": "app", "app": "acme"})
	var e apiError
	if got := s.DoWith("GET", "/v1/deliveries", nil, &e, bearer(key)); got != 403 || e.Error.Code != "forbidden" {
		t.Errorf("GET /v1/deliveries with an app key: %d %+v, want 403 forbidden", got, e)
	}
	var pg page
	if got := s.DoWith("GET", app+"?status_code=5xx", nil, &pg, bearer(key)); got != 200 || len(pg.Data) != 2 {
		t.Errorf("GET %s with the app's key: %d, %d deliveries, want 200 with 2", app, got, len(pg.Data))
	}

	// Bad filters are refused, naming the parameter.
	for q, field := range map[string]string{
		"status_code=6xx":                         "status_code",
		"status_code=5x":                          "status_code",
		"status_code=99":                          "status_code",
		"error_kind=bogus":                        "error_kind",
		"min_latency_ms=-1":                       "min_latency_ms",
		"min_latency_ms=NaN":                      "min_latency_ms",
		"event_type=a,,b":                         "event_type",
		"statuscode=500":                          "statuscode",
		"endpoint_id=" + strings.Repeat("x", 201): "endpoint_id",
	} {
		var e apiError
		if got := s.Invalid().Do("GET", app+"?"+q, nil, &e); got != 400 || e.Error.Field != field {
			t.Errorf("GET %s?%s: %d %+v, want 400 naming %s", app, q, got, e, field)
		}
	}
}

// TestUnknownQueryParameters: every route that takes query parameters
// refuses one it does not take, naming it, rather than answer as if it
// had not been asked.
func TestUnknownQueryParameters(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	doc := heraldtest.LoadContract(t).Doc
	n := 0
	for _, rt := range s.API.Routes() {
		if rt.Method != "GET" || rt.Open {
			continue
		}
		op := doc.Paths.Find(rt.Pattern).GetOperation("GET")
		takesQuery := false
		for _, p := range op.Parameters {
			takesQuery = takesQuery || p.Value.In == "query"
		}
		if !takesQuery {
			continue
		}
		n++
		path := strings.NewReplacer("{app}", "a", "{id}", "nope", "{name}", "nope").Replace(rt.Pattern)
		var e apiError
		if got := s.Invalid().Do("GET", path+"?bogus=1", nil, &e); got != 400 || e.Error.Field != "bogus" {
			t.Errorf("GET %s?bogus=1: %d %+v, want 400 naming bogus", rt.Pattern, got, e)
		}
	}
	if n < 10 {
		t.Errorf("only %d routes take query parameters; the walk seems broken", n)
	}
}
