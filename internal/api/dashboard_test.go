package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// The Grafana dashboard (docs/grafana/herald.json) is valid JSON and every
// metric its queries name is in a real server's /metrics after real
// deliveries, so that a renamed metric cannot leave it blank.
func TestGrafanaDashboardMetricsExist(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/grafana/herald.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Definition string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana/herald.json: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	name := regexp.MustCompile(`\bherald_[a-z0-9_]+`)
	used := map[string]bool{}
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			used[n] = true
		}
	}
	if len(used) < 8 {
		t.Fatalf("the dashboard queries only %d metrics: %v", len(used), used)
	}

	s := heraldtest.Start(t, heraldtest.Options{RetrySchedule: "20ms"})
	rc := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	s.Setup(rc.URL, nil)
	ev := s.Send(map[string]any{"n": 1})
	s.WaitDelivery(ev, "succeeded", 2, 10*time.Second)
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exposed := map[string]bool{}
	for line := range strings.Lines(string(body)) {
		if n := name.FindString(line); n != "" && strings.HasPrefix(line, n) {
			exposed[n] = true
		}
	}
	for n := range used {
		if !exposed[n] {
			t.Errorf("the dashboard queries %s, which /metrics does not expose", n)
		}
	}
}
