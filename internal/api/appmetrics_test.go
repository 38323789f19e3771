package api_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// scrape reads a real server's /metrics, parsed.
func scrape(t *testing.T, s *heraldtest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics answered %d: %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return mfs
}

// labelValues returns the values of one label over a family's series.
func labelValues(mf *dto.MetricFamily, label string) []string {
	var out []string
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && !slices.Contains(out, l.GetValue()) {
				out = append(out, l.GetValue())
			}
		}
	}
	slices.Sort(out)
	return out
}

// With --metrics-top-apps 2 and five apps delivering, the per-app series
// name two apps and count the other three under app="other" (so do the
// per-endpoint ones, opted in); the counts add up to every attempt, failed
// ones apart, and the latency histogram has the same bound.
func TestPerAppMetricsBounded(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{AllowUndeclaredEventTypes: true, RetrySchedule: "20ms",
		Config: func(c *config.Serve) { c.MetricsTopApps = 2; c.MetricsPerEndpoint = true }})
	failing := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	ok := heraldtest.NewReceiver(t, nil)
	ids := make([]string, 5)
	for i := range ids {
		var a struct{ ID string }
		s.MustDo("POST", "/v1/apps", map[string]any{"name": fmt.Sprint("App ", i), "uid": fmt.Sprint("app", i)}, &a, 201)
		ids[i] = a.ID
		url := ok.URL
		if i == 0 {
			// The first app's endpoint fails: one failed attempt, then
			// its retry fails too and the delivery is failed.
			url = failing.URL
		}
		s.MustDo("POST", fmt.Sprintf("/v1/apps/app%d/endpoints", i), map[string]any{"url": url}, nil, 201)
	}
	// app0 and app1 are seen first (the free places), then the rest.
	send := func(i int) {
		var ev struct{ ID string }
		s.MustDo("POST", fmt.Sprintf("/v1/apps/app%d/events", i), map[string]any{"event_type": "x.y", "payload": map[string]any{}}, &ev, 202)
	}
	send(0)
	failing.Wait(t, 2, 10*time.Second)
	send(1)
	ok.Wait(t, 1, 10*time.Second)
	for i := 2; i < 5; i++ {
		send(i)
	}
	ok.Wait(t, 4, 10*time.Second)

	// The metrics are counted as the attempts are recorded: wait for all
	// six (two of app0, one of each other app).
	var mfs map[string]*dto.MetricFamily
	count := func(mf *dto.MetricFamily, label, value, outcome string) float64 {
		var n float64
		for _, m := range mf.GetMetric() {
			var l, o string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case label:
					l = lp.GetValue()
				case "outcome":
					o = lp.GetValue()
				}
			}
			if l == value && o == outcome {
				n += m.GetCounter().GetValue()
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mfs = scrape(t, s)
		if mf := mfs["herald_app_attempts_total"]; mf != nil && count(mf, "app", ids[0], "failed")+count(mf, "app", ids[1], "succeeded")+count(mf, "app", "other", "succeeded") == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("per-app attempts never added up to 6: %v", mfs["herald_app_attempts_total"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	apps := mfs["herald_app_attempts_total"]
	if got, want := labelValues(apps, "app"), []string{ids[0], ids[1], "other"}; !slices.Equal(got, want) {
		t.Errorf("app labels %v, want %v", got, want)
	}
	for _, c := range []struct {
		app, outcome string
		want         float64
	}{{ids[0], "failed", 2}, {ids[0], "succeeded", 0}, {ids[1], "succeeded", 1}, {"other", "succeeded", 3}} {
		if got := count(apps, "app", c.app, c.outcome); got != c.want {
			t.Errorf("app %s %s: %v attempts, want %v", c.app, c.outcome, got, c.want)
		}
	}
	lat := mfs["herald_app_attempt_duration_seconds"]
	if got := labelValues(lat, "app"); len(got) != 3 || !slices.Contains(got, "other") {
		t.Errorf("latency histogram app labels %v", got)
	}
	var observed uint64
	for _, m := range lat.GetMetric() {
		observed += m.GetHistogram().GetSampleCount()
	}
	if observed != 6 {
		t.Errorf("latency histogram counted %d attempts, want 6", observed)
	}
	eps := mfs["herald_endpoint_attempts_total"]
	if got := labelValues(eps, "endpoint"); len(got) != 3 || !slices.Contains(got, "other") {
		t.Errorf("endpoint labels %v, want two endpoints and other", got)
	}
	if mfs["herald_endpoint_attempt_duration_seconds"] == nil {
		t.Error("no per-endpoint latency histogram")
	}
}

// Per-endpoint series are opt-in.
func TestPerEndpointMetricsOff(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	rc := heraldtest.NewReceiver(t, nil)
	s.Setup(rc.URL, nil)
	s.Send(map[string]any{"n": 1})
	rc.Wait(t, 1, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mfs := scrape(t, s)
		if mfs["herald_app_attempts_total"] != nil {
			if mfs["herald_endpoint_attempts_total"] != nil || mfs["herald_endpoint_attempt_duration_seconds"] != nil {
				t.Fatal("per-endpoint series without --metrics-per-endpoint")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no per-app series after a delivery")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
