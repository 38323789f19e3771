package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one run measured; --json writes it as is.
type Report struct {
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	Machine Machine   `json:"machine"`
	// Server is the binary run as the server (--server-binary, else the bench's
	// own) and ServerVersion what its `version` printed.
	Server        string `json:"server"`
	ServerVersion string `json:"server_version"`
	// Instructions says the servers ran under callgrind (--instructions):
	// the rows carry instruction counts, and their rates are valgrind's.
	Instructions bool       `json:"instructions,omitempty"`
	Ceiling      Ceiling    `json:"ceiling"`
	Relay        Relay      `json:"relay"`
	Scenarios    []Scenario `json:"scenarios"`
}

// Machine describes where the figures come from.
type Machine struct {
	CPUs      int     `json:"cpus"`
	MemoryMiB float64 `json:"memory_mib"`
	OS        string  `json:"os"`
	Arch      string  `json:"arch"`
	Go        string  `json:"go"`
}

// Ceiling is what a plain Go client gets from the same receiver.
type Ceiling struct {
	RequestsPerSec float64 `json:"requests_per_sec"`
	Concurrency    int     `json:"concurrency"`
	Seconds        float64 `json:"seconds"`
	Errors         int64   `json:"errors"`
}

// Relay is what a plain Go relay that stores nothing gets between the same
// clients and receiver: the most any webhook sender could reach here.
type Relay struct {
	RequestsPerSec float64 `json:"requests_per_sec"`
	// Ratio is RequestsPerSec over the ceiling.
	Ratio  float64 `json:"ratio_to_ceiling"`
	Errors int64   `json:"errors"`
}

// Scenario is one scenario's rows: one per case it compares.
type Scenario struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Rows        []Row    `json:"rows"`
	Notes       []string `json:"notes,omitempty"`
	// Skipped says why the scenario did not run.
	Skipped string `json:"skipped,omitempty"`
	// Error says why it stopped short.
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds"`
	// Memory holds stuck-endpoints' figures.
	Memory *Memory `json:"memory,omitempty"`
}

// Memory is what stuck-endpoints measures: the server's peak RSS beside
// its --queue-memory budget and the bound it must keep within, and
// the most the engine held in memory (from /metrics; -1 when the server
// does not expose it).
type Memory struct {
	BudgetMiB          float64 `json:"budget_mib"`
	BoundMiB           float64 `json:"bound_mib"`
	PeakRSSMiB         float64 `json:"peak_rss_mib"`
	WithinBound        bool    `json:"within_bound"`
	PeakHeldDeliveries int64   `json:"peak_held_deliveries"`
	PeakHeldMiB        float64 `json:"peak_held_mib"`
	PendingAtEnd       int64   `json:"pending_at_end"`
}

// Row is one case of a scenario.
type Row struct {
	Case      string `json:"case"`
	Endpoints int    `json:"endpoints"`
	// Events is how many events the API accepted (202).
	Events       int64   `json:"events"`
	EventsPerSec float64 `json:"events_per_sec"`
	// Deliveries counts distinct (event, endpoint) pairs that reached the
	// receivers; DeliveriesExpected is how many should have.
	Deliveries         int64   `json:"deliveries"`
	DeliveriesExpected int64   `json:"deliveries_expected"`
	DeliveriesPerSec   float64 `json:"deliveries_per_sec"`
	// Ratio is DeliveriesPerSec over the ceiling, for the rows that send
	// as fast as they can; null for those at a set rate.
	Ratio      *float64     `json:"ratio_to_ceiling"`
	Latency    *Percentiles `json:"latency_ms"`
	ServerCPU  float64      `json:"server_cpu_seconds"`
	ServerRSS  float64      `json:"server_peak_rss_mib"`
	BenchCPU   float64      `json:"bench_cpu_seconds"`
	Errors     int64        `json:"errors"`
	Duplicates int64        `json:"duplicates"`
	// HeldAtOnce is, for the rows of receivers that answer slowly, the
	// most requests they held at once: how many workers the server gave
	// them.
	HeldAtOnce int64 `json:"held_at_once,omitempty"`
	// ServerInstructions counts the instructions the servers executed in
	// the measured span, under --instructions; InstructionsPerDelivery
	// divides them by the span's deliveries (0 when none arrived, as in
	// backlog's pile-up). Unlike the rates, they hold steady between runs.
	ServerInstructions      int64 `json:"server_instructions,omitempty"`
	InstructionsPerDelivery int64 `json:"instructions_per_delivery,omitempty"`
	// ServerCPUPerEvent is, for steady's rows, the server's CPU time in
	// the measured span divided by the events accepted in it, in
	// milliseconds (from the CPU time before ServerCPU's rounding).
	ServerCPUPerEvent float64 `json:"server_cpu_per_event_ms,omitempty"`
	// BrokerCPU is, for the nats scenario, the CPU seconds the local
	// nats-server processes spent in the row's span.
	BrokerCPU float64 `json:"broker_cpu_seconds,omitempty"`
	// Requests is, for batched's rows, how many requests carried the
	// deliveries; OutOfOrder, for ordered's, how many events of a key
	// arrived after a later one of the same key.
	Requests   int64 `json:"requests,omitempty"`
	OutOfOrder int64 `json:"out_of_order,omitempty"`
}

// Percentiles holds end-to-end latencies (receiver arrival minus the 202), in
// milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

func latencyOf(sorted []time.Duration) *Percentiles {
	if len(sorted) == 0 {
		return nil
	}
	// Nearest rank: the smallest value at or above p of the samples.
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(sorted)))) - 1
		return ms(sorted[max(0, min(i, len(sorted)-1))])
	}
	return &Percentiles{Count: len(sorted), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(sorted[len(sorted)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					kb, _ := strconv.ParseFloat(f[0], 64)
					m.MemoryMiB = math.Round(kb / 1024)
				}
			}
		}
	}
	return m
}

// writeHeader prints the machine, the ceiling and the relay.
func (r *Report) writeHeader(w io.Writer) {
	fmt.Fprintf(w, "herald %s bench on %d CPUs, %.0f MiB, %s/%s, %s\n", r.Version, r.Machine.CPUs, r.Machine.MemoryMiB,
		r.Machine.OS, r.Machine.Arch, r.Machine.Go)
	fmt.Fprintf(w, "ceiling: a plain Go client gets %.0f requests/s from the same receiver (%d clients, %.1f s, %d errors)\n",
		r.Ceiling.RequestsPerSec, r.Ceiling.Concurrency, r.Ceiling.Seconds, r.Ceiling.Errors)
	fmt.Fprintf(w, "relay: a plain Go relay that stores nothing gets %.0f requests/s through to it, ratio %.2f (%d errors)\n",
		r.Relay.RequestsPerSec, r.Relay.Ratio, r.Relay.Errors)
	under := ""
	if r.Instructions {
		under = ", under valgrind --tool=callgrind"
	}
	fmt.Fprintf(w, "server: %s (herald %s)%s\n\n", r.Server, r.ServerVersion, under)
}

// writeScenario prints one scenario's table.
func writeScenario(w io.Writer, s *Scenario) {
	fmt.Fprintf(w, "== %s: %s (%.0f s)\n", s.Name, s.Description, s.Seconds)
	if s.Skipped != "" {
		fmt.Fprintf(w, "skipped: %s\n\n", s.Skipped)
		return
	}
	if len(s.Rows) > 0 {
		// The instruction columns only for a run that counted them.
		instr := slices.ContainsFunc(s.Rows, func(r Row) bool { return r.ServerInstructions > 0 })
		// The CPU per event only for the scenarios that work it out.
		perEvent := slices.ContainsFunc(s.Rows, func(r Row) bool { return r.ServerCPUPerEvent > 0 })
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := "case\tevents\tevents/s\tdeliveries\tdeliveries/s\tratio\tp50 ms\tp95 ms\tp99 ms\tmax ms\tserver cpu s\tserver rss MiB\tbench cpu s\terrors\t"
		if perEvent {
			head += "server cpu/event ms\t"
		}
		if instr {
			head += "server Minstr\tinstr/delivery\t"
		}
		fmt.Fprintln(tw, head)
		for _, r := range s.Rows {
			ratio := "-"
			if r.Ratio != nil {
				ratio = fmt.Sprintf("%.2f", *r.Ratio)
			}
			p50, p95, p99, mx := "-", "-", "-", "-"
			if l := r.Latency; l != nil {
				p50, p95, p99, mx = fmtMS(l.P50), fmtMS(l.P95), fmtMS(l.P99), fmtMS(l.Max)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%d/%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.0f\t%.1f\t%d\t",
				r.Case, r.Events, r.EventsPerSec, r.Deliveries, r.DeliveriesExpected, r.DeliveriesPerSec, ratio,
				p50, p95, p99, mx, r.ServerCPU, r.ServerRSS, r.BenchCPU, r.Errors)
			if perEvent {
				fmt.Fprintf(tw, "%.3f\t", r.ServerCPUPerEvent)
			}
			if instr {
				perDelivery := "-"
				if r.InstructionsPerDelivery > 0 {
					perDelivery = strconv.FormatInt(r.InstructionsPerDelivery, 10)
				}
				fmt.Fprintf(tw, "%.1f\t%s\t", float64(r.ServerInstructions)/1e6, perDelivery)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", s.Error)
	}
	fmt.Fprintln(w)
}

func fmtMS(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// writeJSON writes the report to path, or to stdout for "-".
func (r *Report) writeJSON(path string, stdout io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func ratio(v, ceiling float64) *float64 {
	if ceiling <= 0 {
		return nil
	}
	r := math.Round(v/ceiling*1000) / 1000
	return &r
}

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return math.Round(float64(n)/d.Seconds()*10) / 10
}
