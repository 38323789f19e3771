package bench_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/bench"
)

// binary is the herald command, built once: the bench starts its server
// as a child process of its own executable, so it must run as `herald`.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-bench-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "herald")
	out, err := exec.Command("go", "build", "-o", binary, "../../cmd/herald").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build herald: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestScenariosRun runs four scenarios with tiny sizes and checks that
// the figures are complete and consistent. It never checks speeds: the
// machine running the tests is not the one the targets are for.
func TestScenariosRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	cmd := exec.Command(binary, "bench",
		"--scenario", "throughput,latency", "--scenario", "fanout,noisy-neighbour",
		"--events", "200", "--fanout-events", "20", "--endpoints", "10",
		"--rate", "100", "--duration", "1s", "--concurrency", "8", "--json", out)
	cmd.Env = withoutBenchEnv()
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("herald bench: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, raw)
	}
	if rep.Ceiling.RequestsPerSec <= 0 {
		t.Errorf("no ceiling: %+v", rep.Ceiling)
	}
	if rep.Relay.RequestsPerSec <= 0 || rep.Relay.Ratio <= 0 || rep.Relay.Errors != 0 {
		t.Errorf("no relay figure: %+v", rep.Relay)
	}
	want := []string{"throughput", "latency", "fanout", "noisy-neighbour"}
	if len(rep.Scenarios) != len(want) {
		t.Fatalf("got %d scenarios, want %v:\n%s", len(rep.Scenarios), want, b)
	}
	for i, sc := range rep.Scenarios {
		if sc.Name != want[i] {
			t.Errorf("scenario %d is %q, want %q", i, sc.Name, want[i])
		}
		if sc.Error != "" || sc.Skipped != "" {
			t.Errorf("%s: error %q, skipped %q", sc.Name, sc.Error, sc.Skipped)
		}
		if len(sc.Rows) == 0 {
			t.Errorf("%s: no rows", sc.Name)
		}
		for _, r := range sc.Rows {
			if r.Events == 0 || r.Deliveries != r.Events*int64(r.Endpoints) || r.DeliveriesExpected != r.Deliveries {
				t.Errorf("%s/%s: %d events × %d endpoints, %d deliveries (expected %d)", sc.Name, r.Case, r.Events, r.Endpoints, r.Deliveries, r.DeliveriesExpected)
			}
			if r.Errors != 0 {
				t.Errorf("%s/%s: %d errors", sc.Name, r.Case, r.Errors)
			}
			if r.Latency == nil || r.Latency.Count != int(r.Deliveries) {
				t.Errorf("%s/%s: latency %+v for %d deliveries", sc.Name, r.Case, r.Latency, r.Deliveries)
			}
		}
	}
	for _, name := range []string{"throughput", "fanout"} {
		for _, sc := range rep.Scenarios {
			if sc.Name == name && (len(sc.Rows) == 0 || sc.Rows[0].Ratio == nil) {
				t.Errorf("%s: no ratio to the ceiling", name)
			}
		}
	}
	if !strings.Contains(string(b), "== fanout") {
		t.Errorf("no table for fanout in the output:\n%s", b)
	}
}

// TestBadInput checks that nonsense is refused with a message, not a
// panic or a run.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "nope"}, `unknown scenario "nope"`},
		{[]string{"--events=-5"}, "--events must be at least 1"},
		{[]string{"--duration=-1s"}, "--duration must be at least"},
		{[]string{"--scenario", "postgres"}, "needs --database-url"},
	} {
		cmd := exec.Command(binary, append([]string{"bench"}, tc.args...)...)
		cmd.Env = withoutBenchEnv()
		b, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%v: no error:\n%s", tc.args, b)
			continue
		}
		if !strings.Contains(string(b), tc.want) || strings.Contains(string(b), "panic") {
			t.Errorf("%v: output does not say %q:\n%s", tc.args, tc.want, b)
		}
	}
}

// withoutBenchEnv keeps a caller's HERALD_BENCH_* settings out of the
// tests.
func withoutBenchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_BENCH_") {
			env = append(env, kv)
		}
	}
	return env
}
