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
	rep, b := runBench(t,
		"--scenario", "throughput,latency", "--scenario", "fanout,noisy-neighbour",
		"--events", "200", "--fanout-events", "20", "--endpoints", "10",
		"--rate", "100", "--duration", "1s", "--concurrency", "8")
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
			if r.ServerCPUPerEvent != 0 {
				t.Errorf("%s/%s: server CPU per event %v, which only steady works out", sc.Name, r.Case, r.ServerCPUPerEvent)
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
	if !strings.Contains(b, "== fanout") {
		t.Errorf("no table for fanout in the output:\n%s", b)
	}
}

// TestHostileTenant runs hostile-tenant small: app B's deliveries all
// arrive, alone and beside app A, and A's receivers, which never answer
// within the run, hold at most A's share of the server's workers: half
// of 256 (--max-app-share 0.5), since B sends too. It checks no speed.
func TestHostileTenant(t *testing.T) {
	rep, out := runBench(t, "--scenario", "hostile-tenant", "--rate", "100", "--duration", "1s", "--concurrency", "8")
	if len(rep.Scenarios) != 1 || len(rep.Scenarios[0].Rows) != 3 {
		t.Fatalf("want one scenario of three rows:\n%s", out)
	}
	sc := rep.Scenarios[0]
	if sc.Error != "" {
		t.Fatalf("error: %s\n%s", sc.Error, out)
	}
	for _, r := range sc.Rows[:2] {
		if r.Events == 0 || r.Deliveries != r.Events || r.Errors != 0 || r.Latency == nil || r.Latency.Count != int(r.Deliveries) {
			t.Errorf("%s: %d events, %d deliveries, %d errors, latency %+v", r.Case, r.Events, r.Deliveries, r.Errors, r.Latency)
		}
	}
	if a := sc.Rows[2]; a.Events != 50 || a.Deliveries == 0 || a.HeldAtOnce != 128 {
		t.Errorf("%s: %d events, %d requests received, %d held at once; want 50 events and 128 held (half the workers)\n%s",
			a.Case, a.Events, a.Deliveries, a.HeldAtOnce, out)
	}
	if !strings.Contains(out, "p99 beside A is") {
		t.Errorf("no ratio of B's p99 in the notes:\n%s", out)
	}
}

// TestSteady runs steady at two small rates: a row per rate, each with
// its events all delivered and the server's CPU per event worked out, in
// the table and in the JSON. It checks no speed.
func TestSteady(t *testing.T) {
	rep, out, raw := runBenchRaw(t, "--scenario", "steady", "--steady-rates", "20,50", "--duration", "2s", "--concurrency", "8")
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Name != "steady" || len(rep.Scenarios[0].Rows) != 2 {
		t.Fatalf("want one steady scenario of two rows:\n%s", out)
	}
	sc := rep.Scenarios[0]
	if sc.Error != "" {
		t.Fatalf("error: %s\n%s", sc.Error, out)
	}
	for i, want := range []string{"20 events/s", "50 events/s"} {
		r := sc.Rows[i]
		if r.Case != want {
			t.Errorf("row %d is %q, want %q", i, r.Case, want)
		}
		if r.Events == 0 || r.Deliveries != r.Events || r.Errors != 0 || r.Latency == nil {
			t.Errorf("%s: %d events, %d deliveries, %d errors, latency %+v", r.Case, r.Events, r.Deliveries, r.Errors, r.Latency)
		}
		if r.ServerCPUPerEvent <= 0 {
			t.Errorf("%s: server CPU per event %v ms, want more than 0", r.Case, r.ServerCPUPerEvent)
		}
	}
	// The field is in the JSON itself, on every row.
	var loose struct {
		Scenarios []struct {
			Rows []map[string]any `json:"rows"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal(raw, &loose); err != nil {
		t.Fatal(err)
	}
	for _, row := range loose.Scenarios[0].Rows {
		if v, ok := row["server_cpu_per_event_ms"].(float64); !ok || v <= 0 {
			t.Errorf("row %v: server_cpu_per_event_ms is %v, want a number above 0", row["case"], row["server_cpu_per_event_ms"])
		}
	}
	if !strings.Contains(out, "server cpu/event ms") {
		t.Errorf("no server cpu/event column in the table:\n%s", out)
	}
}

// TestStuckEndpointsDefaultBudget: with the server's default budget, the
// process stays within it while its endpoints hang and 500 KB payloads
// keep coming.
func TestStuckEndpointsDefaultBudget(t *testing.T) {
	rep, out := runBench(t, "--scenario", "stuck-endpoints", "--duration", "4s", "--concurrency", "8")
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Error != "" {
		t.Fatalf("want one scenario without error:\n%s", out)
	}
	m := rep.Scenarios[0].Memory
	if m == nil || m.BudgetMiB != 128 || m.BoundMiB != 128 || !m.WithinBound || m.PeakRSSMiB <= 0 || m.PeakHeldMiB > 32 {
		t.Fatalf("stuck-endpoints memory figures %+v\n%s", m, out)
	}
}

// TestMemoryScenarios runs stuck-endpoints and hanging-endpoints small:
// the server's peak RSS is within its bound (--queue-memory, at least
// 128 MiB), the engine's own count stays within the budget, and the
// healthy endpoint gets every delivery while 20 others of its app hang,
// which hold at most what they took before they were seen to hang. It
// checks no latency.
func TestMemoryScenarios(t *testing.T) {
	rep, out := runBench(t, "--scenario", "stuck-endpoints,hanging-endpoints", "--rate", "100", "--duration", "3s",
		"--concurrency", "8", "--queue-memory", "8MiB")
	if len(rep.Scenarios) != 2 {
		t.Fatalf("want two scenarios:\n%s", out)
	}
	stuck, hanging := rep.Scenarios[0], rep.Scenarios[1]
	if stuck.Error != "" || hanging.Error != "" {
		t.Fatalf("errors: %q, %q\n%s", stuck.Error, hanging.Error, out)
	}
	m := stuck.Memory
	// The engine holds a quarter of the budget.
	if m == nil || m.BudgetMiB != 8 || m.BoundMiB != 128 || !m.WithinBound || m.PeakRSSMiB <= 0 || m.PeakHeldDeliveries <= 0 || m.PeakHeldMiB > 2 {
		t.Fatalf("stuck-endpoints memory figures %+v\n%s", m, out)
	}
	if r := stuck.Rows[0]; r.Events == 0 || r.Deliveries == 0 || r.Errors != 0 {
		t.Errorf("stuck-endpoints: %d events, %d requests received, %d errors", r.Events, r.Deliveries, r.Errors)
	}
	if len(hanging.Rows) != 3 {
		t.Fatalf("hanging-endpoints: want three rows:\n%s", out)
	}
	for _, r := range hanging.Rows[:2] {
		if r.Events == 0 || r.Deliveries != r.Events || r.Errors != 0 || r.Latency == nil {
			t.Errorf("%s: %d events, %d deliveries, %d errors", r.Case, r.Events, r.Deliveries, r.Errors)
		}
	}
	if h := hanging.Rows[2]; h.HeldAtOnce == 0 || h.HeldAtOnce >= 256 {
		t.Errorf("the hanging endpoints held %d requests at once; want some, and never every worker\n%s", h.HeldAtOnce, out)
	}
	if !strings.Contains(out, "p99 within 2×") {
		t.Errorf("no p99 ratio in the notes:\n%s", out)
	}
}

// TestInstructions runs throughput under callgrind and checks that it
// reports the server's instructions per delivery. Valgrind must be
// installed: CI installs it, and a missing one fails the test rather than
// hiding it.
func TestInstructions(t *testing.T) {
	for _, tool := range []string{"valgrind", "callgrind_control"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: --instructions needs valgrind (Debian package valgrind; .ci/run installs it)", tool)
		}
	}
	rep, out := runBench(t, "--quick", "--instructions", "--scenario", "throughput", "--events", "200", "--concurrency", "8")
	if !rep.Instructions {
		t.Errorf("the report does not say it counted instructions")
	}
	if len(rep.Scenarios) != 1 || len(rep.Scenarios[0].Rows) != 1 {
		t.Fatalf("want one throughput row:\n%s", out)
	}
	sc := rep.Scenarios[0]
	r := sc.Rows[0]
	if sc.Error != "" || r.Errors != 0 || r.Deliveries != 200 {
		t.Errorf("error %q, %d errors, %d deliveries of 200", sc.Error, r.Errors, r.Deliveries)
	}
	if r.ServerInstructions <= 0 || r.InstructionsPerDelivery <= 0 {
		t.Errorf("no instruction count: %d in all, %d per delivery", r.ServerInstructions, r.InstructionsPerDelivery)
	}
	// Zeroed after the set-up and read after the last delivery, the count
	// is the deliveries' work: far less than a whole server's start-up
	// plus the load, far more than nothing.
	if r.InstructionsPerDelivery < 10_000 || r.InstructionsPerDelivery > 1_000_000_000 {
		t.Errorf("%d instructions per delivery is not plausible", r.InstructionsPerDelivery)
	}
	if !strings.Contains(out, "instr/delivery") || !strings.Contains(out, "under callgrind") {
		t.Errorf("the table has no instruction columns or no note on valgrind's rates:\n%s", out)
	}
}

// TestServerFlag runs the bench against a second build, told apart by its
// version, as when comparing an old build with a new one.
func TestServerFlag(t *testing.T) {
	other := filepath.Join(t.TempDir(), "herald-other")
	b, err := exec.Command("go", "build", "-ldflags", "-X github.com/heraldhq/herald.Version=bench-other",
		"-o", other, "../../cmd/herald").CombinedOutput()
	if err != nil {
		t.Fatalf("build the second herald: %v\n%s", err, b)
	}
	rep, out := runBench(t, "--quick", "--scenario", "throughput", "--events", "100", "--concurrency", "8", "--server-binary", other)
	if rep.Server != other || rep.ServerVersion != "bench-other" {
		t.Errorf("server %q version %q, want %q bench-other", rep.Server, rep.ServerVersion, other)
	}
	if !strings.Contains(out, "(herald bench-other)") {
		t.Errorf("the output does not name the server build:\n%s", out)
	}
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Error != "" || len(rep.Scenarios[0].Rows) != 1 ||
		rep.Scenarios[0].Rows[0].Deliveries != 100 {
		t.Errorf("throughput against the second build did not deliver 100 events:\n%s", out)
	}
}

// runBench runs herald bench with args and --json, and returns the report
// and the output.
func runBench(t *testing.T, args ...string) (bench.Report, string) {
	t.Helper()
	rep, out, _ := runBenchRaw(t, args...)
	return rep, out
}

// runBenchRaw is runBench that also returns the JSON as written.
func runBenchRaw(t *testing.T, args ...string) (bench.Report, string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bench.json")
	cmd := exec.Command(binary, append(append([]string{"bench"}, args...), "--json", path)...)
	cmd.Env = withoutBenchEnv()
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("herald bench %v: %v\n%s", args, err, b)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, raw)
	}
	return rep, string(b), raw
}

// TestBadInput checks that nonsense is refused with a message, not a
// panic or a run.
func TestBadInput(t *testing.T) {
	notHerald := filepath.Join(t.TempDir(), "not-herald")
	if err := os.WriteFile(notHerald, []byte("#!/bin/sh\necho usage: not-herald\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{args: []string{"--scenario", "nope"}, want: `unknown scenario "nope"`},
		{args: []string{"--events=-5"}, want: "--events must be at least 1"},
		{args: []string{"--duration=-1s"}, want: "--duration must be at least"},
		{args: []string{"--steady-rates", "100,0"}, want: "--steady-rates: each rate must be at least 1"},
		{args: []string{"--scenario", "postgres"}, want: "needs --database-url"},
		{args: []string{"--scenario", "nats", "--nats-url", "http://127.0.0.1:4222"}, want: "--nats-url must be a nats://"},
		{args: []string{"--server-binary", "/nonexistent/herald"}, want: "--server-binary /nonexistent/herald: not an executable file"},
		{args: []string{"--quick", "--server-binary", notHerald}, want: "its serve does not take --addr"},
		{args: []string{"--instructions"}, env: []string{"PATH=/nonexistent"}, want: "install valgrind (Debian package valgrind)"},
	} {
		cmd := exec.Command(binary, append([]string{"bench"}, tc.args...)...)
		cmd.Env = append(withoutBenchEnv(), tc.env...)
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

// TestOrdered runs ordered small: both rows have every event delivered,
// with a ratio to the ceiling, and no event of a key arrived before the
// one before it. It checks no speed.
func TestOrdered(t *testing.T) {
	rep, out := runBench(t, "--quick", "--scenario", "ordered", "--events", "300", "--concurrency", "8")
	if len(rep.Scenarios) != 1 || len(rep.Scenarios[0].Rows) != 2 {
		t.Fatalf("want one scenario of two rows:\n%s", out)
	}
	sc := rep.Scenarios[0]
	if sc.Error != "" {
		t.Fatalf("error: %s\n%s", sc.Error, out)
	}
	for _, r := range sc.Rows {
		if r.Events != 300 || r.Deliveries != r.Events || r.Errors != 0 || r.OutOfOrder != 0 || r.Ratio == nil {
			t.Errorf("%s: %d events, %d deliveries, %d errors, %d out of order, ratio %v\n%s", r.Case, r.Events, r.Deliveries, r.Errors, r.OutOfOrder, r.Ratio, out)
		}
	}
	if !strings.Contains(sc.Rows[1].Case, "30 keys") || !strings.Contains(out, "out of order: 0") {
		t.Errorf("no ordered row of 30 keys or no order note:\n%s", out)
	}
}

// TestBatched runs batched small: every event is delivered both ways,
// one request per event unbatched and far fewer batched. It checks no
// speed.
func TestBatched(t *testing.T) {
	rep, out := runBench(t, "--quick", "--scenario", "batched", "--events", "300", "--concurrency", "8")
	if len(rep.Scenarios) != 1 || len(rep.Scenarios[0].Rows) != 2 {
		t.Fatalf("want one scenario of two rows:\n%s", out)
	}
	sc := rep.Scenarios[0]
	if sc.Error != "" {
		t.Fatalf("error: %s\n%s", sc.Error, out)
	}
	for _, r := range sc.Rows {
		if r.Events != 300 || r.Deliveries != r.Events || r.Errors != 0 || r.Ratio == nil {
			t.Errorf("%s: %d events, %d deliveries, %d errors, ratio %v\n%s", r.Case, r.Events, r.Deliveries, r.Errors, r.Ratio, out)
		}
	}
	if u := sc.Rows[0]; u.Requests != u.Events {
		t.Errorf("unbatched: %d requests for %d events", u.Requests, u.Events)
	}
	// 300 events of at most 100 per batch: at least 3 requests; far fewer
	// than one per event.
	if b := sc.Rows[1]; b.Requests < 3 || b.Requests > b.Events/4 {
		t.Errorf("batched: %d requests for %d events\n%s", b.Requests, b.Events, out)
	}
	if !strings.Contains(out, "requests/s") {
		t.Errorf("no requests/s in the notes:\n%s", out)
	}
}
