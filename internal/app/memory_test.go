package app

import (
	"testing"

	"github.com/heraldhq/herald/internal/store/sqlite"
)

// TestPlanMemory: the budget's shares, their caps, and the floor of Go's
// soft limit for budgets too small to hold the process.
func TestPlanMemory(t *testing.T) {
	const MiB = 1 << 20
	for _, tc := range []struct {
		budget, outside int64
		want            memoryPlan
	}{
		{128 * MiB, leastOutsideGo, memoryPlan{engine: 32 * MiB, goLimit: 80 * MiB,
			sqlite: sqlite.Options{WriterCache: 4 * MiB, ReaderCache: 1 * MiB, EventCache: 8 * MiB}}},
		{1024 * MiB, leastOutsideGo, memoryPlan{engine: 256 * MiB, goLimit: 960 * MiB,
			sqlite: sqlite.Options{WriterCache: 16 * MiB, ReaderCache: 2 * MiB, EventCache: 32 * MiB}}},
		// A larger binary leaves Go's heap less of the same budget.
		{128 * MiB, 60 * MiB, memoryPlan{engine: 32 * MiB, goLimit: 60 * MiB,
			sqlite: sqlite.Options{WriterCache: 4 * MiB, ReaderCache: 1 * MiB, EventCache: 8 * MiB}}},
		{1 * MiB, leastOutsideGo, memoryPlan{engine: 1 * MiB, goLimit: 48 * MiB,
			sqlite: sqlite.Options{WriterCache: MiB / 32, ReaderCache: MiB / 128, EventCache: MiB / 16}}},
	} {
		if got := planMemory(tc.budget, tc.outside); got != tc.want {
			t.Errorf("planMemory(%d MiB) = %+v, want %+v", tc.budget/MiB, got, tc.want)
		}
	}
}

// TestOutsideGoMemory: the binary's resident pages are read from /proc and
// counted, never below the least.
func TestOutsideGoMemory(t *testing.T) {
	got := outsideGoMemory()
	if got < leastOutsideGo {
		t.Fatalf("outsideGoMemory() = %d, below %d", got, leastOutsideGo)
	}
	if got > 1<<30 {
		t.Fatalf("outsideGoMemory() = %d MiB: not what a test binary has resident", got>>20)
	}
}
