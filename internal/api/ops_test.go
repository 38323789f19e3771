package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

func TestMonthlyQuota(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{})
	s.Setup(rc.URL, nil)
	// Two endpoints: each event makes two deliveries.
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL + "/2"}, nil, 201)
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"monthly_delivery_quota": 4}, nil, 200)
	s.Send(map[string]any{"n": 1})
	s.Send(map[string]any{"n": 2})
	var usage struct {
		Month      string
		Deliveries int64
		Quota      *int64
		ResetsAt   time.Time `json:"resets_at"`
	}
	s.MustDo("GET", "/v1/apps/acme/usage", nil, &usage, 200)
	if usage.Deliveries != 4 || usage.Quota == nil || *usage.Quota != 4 || usage.Month != time.Now().UTC().Format("2006-01") || usage.ResetsAt.Day() != 1 {
		t.Fatalf("usage %+v", usage)
	}
	time.Sleep(1100 * time.Millisecond) // past the one-second usage cache
	req, _ := http.NewRequest("POST", s.URL+"/v1/apps/acme/events", strings.NewReader(`{"event_type":"lead.created","payload":{"n":3}}`))
	req.Header.Set("Authorization", "Bearer "+heraldtest.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "quota_exceeded") ||
		!strings.Contains(string(body), "4 deliveries") || !strings.Contains(string(body), "resets at") {
		t.Fatalf("over quota: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	// Raising the quota lets events through again.
	s.MustDo("PATCH", "/v1/apps/acme", map[string]any{"monthly_delivery_quota": 100}, nil, 200)
	s.Send(map[string]any{"n": 4})
	var e apiError
	if got := s.Do("PATCH", "/v1/apps/acme", map[string]any{"monthly_delivery_quota": -1}, &e); got != 422 || e.Error.Field != "monthly_delivery_quota" {
		t.Fatalf("negative quota: %d %+v", got, e)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	rc := heraldtest.NewReceiver(t, nil)
	s := heraldtest.Start(t, heraldtest.Options{MetricsToken: "m-token"})
	s.Setup(rc.URL, nil)
	s.Send(map[string]any{"n": 1})
	rc.Wait(t, 1, 5*time.Second)
	get := func(auth string) (int, string) {
		req, _ := http.NewRequest("GET", s.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(""); code != 401 {
		t.Fatalf("metrics without token: %d", code)
	}
	if code, _ := get("Bearer " + heraldtest.Token); code != 401 {
		t.Fatalf("metrics with the admin token instead of the metrics token: %d", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := get("Bearer m-token")
		if code != 200 {
			t.Fatalf("metrics: %d", code)
		}
		ok := strings.Contains(body, `herald_events_accepted_total{node="`+s.Node+`"} 1`) &&
			strings.Contains(body, `herald_attempts_total{node="`+s.Node+`",outcome="succeeded"} 1`) &&
			strings.Contains(body, "herald_attempt_duration_seconds_bucket") &&
			strings.Contains(body, "herald_queue_pending 0") &&
			strings.Contains(body, "herald_queue_oldest_due_age_seconds") &&
			strings.Contains(body, "herald_requests_in_flight")
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics missing or wrong:\n%s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
