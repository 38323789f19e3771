package main

import (
	"strconv"
	"testing"
)

// TestMemoryBudgetLimitsProcess: `herald serve` splits --queue-memory
// between the engine (a quarter) and Go's soft memory limit (what is left
// after the binary and SQLite's caches), and leaves the limit to
// GOMEMLIMIT when the operator set it.
func TestMemoryBudgetLimitsProcess(t *testing.T) {
	gauge := func(p *proc, name string) float64 {
		t.Helper()
		v, err := strconv.ParseFloat(metric(t, p, name), 64)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, p.log())
		}
		return v
	}
	h := startHerald(t, t.TempDir(), "--queue-memory", "256MiB")
	// 256 MiB less what lies outside Go (at least 40 MiB: the binary's
	// resident pages, measured at start, and 14 MiB), an 8 MiB writer
	// cache and four 2 MiB reader caches.
	if got := gauge(h, "go_gc_gomemlimit_bytes"); got > float64(200<<20) || got < float64(140<<20) {
		t.Errorf("Go memory limit %.0f MiB, want 140 to 200 MiB", got/(1<<20))
	}
	if got, want := gauge(h, "herald_memory_budget_bytes"), float64(64<<20); got != want {
		t.Errorf("engine budget %.0f, want %.0f", got, want)
	}

	// A small budget keeps a limit the idle process fits in.
	small := startHerald(t, t.TempDir(), "--queue-memory", "4MiB")
	if got, want := gauge(small, "go_gc_gomemlimit_bytes"), float64(48<<20); got != want {
		t.Errorf("4MiB budget: Go memory limit %.0f, want %.0f", got, want)
	}
	if got, want := gauge(small, "herald_memory_budget_bytes"), float64(1<<20); got != want {
		t.Errorf("4MiB budget: engine budget %.0f, want %.0f", got, want)
	}

	t.Setenv("GOMEMLIMIT", "300MiB")
	op := startHerald(t, t.TempDir())
	if got, want := gauge(op, "go_gc_gomemlimit_bytes"), float64(300<<20); got != want {
		t.Errorf("with GOMEMLIMIT=300MiB: Go memory limit %.0f, want %.0f", got, want)
	}
	if got, want := gauge(op, "herald_memory_budget_bytes"), float64(32<<20); got != want {
		t.Errorf("default budget: engine budget %.0f, want %.0f", got, want)
	}
}
