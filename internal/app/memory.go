package app

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// OwnsProcess is set by the herald command before it serves: Serve may
// then set what holds for the whole process (Go's soft memory limit),
// which tests running Serve in-process must not have changed under them.
var OwnsProcess bool

// memoryPlan splits a node's memory budget (--queue-memory) between what
// takes memory in proportion to the load, so that the process as a whole
// stays within the budget: with payloads of any size, and endpoints that
// never answer, the engine holds at most its share and the rest waits in
// the database.
type memoryPlan struct {
	// engine bounds the deliveries held by the engine, queued or in
	// flight, with their payloads and request bodies.
	engine int64
	// sqlite sizes the page caches (which large payloads fill with their
	// overflow pages) and the event cache of the embedded store.
	sqlite sqlite.Options
	// goLimit is Go's soft memory limit: the budget less what lies
	// outside Go's heap (the binary's code and SQLite's caches). The
	// garbage collector works harder as the heap nears it, instead of
	// letting it grow to twice what is live.
	goLimit int64
}

const (
	// leastOutsideGo is the least the process takes outside Go's heap
	// besides SQLite's page caches: the binary's code and data, the C
	// library, SQLite's own allocations (measured: about 35 MiB in all
	// for a binary of 50 MB; outsideGoMemory measures it).
	leastOutsideGo = 40 << 20
	// outsideBinary is the part of it that is not the binary's own pages.
	outsideBinary = 14 << 20
	// minGoLimit keeps the soft limit above what an idle node keeps live
	// (about 15 MiB) with room for the API's request bodies: below it
	// the collector would run without end. A budget under about 128 MiB
	// bounds the queues more tightly, not the process below this.
	minGoLimit = 48 << 20
	// readers is the number of SQLite reader connections planned for
	// (the store opens max(4, GOMAXPROCS)).
	readers = 4
)

// planMemory splits budget: a quarter for the engine (at least
// config.MinQueueMemory), a sixteenth for decoded events, a thirty-second
// for the writer's page cache and a hundred-and-twenty-eighth for each
// reader's (each capped at the size past which it measured no faster), and
// Go's heap within what is left of the budget.
func planMemory(budget, outsideGo int64) memoryPlan {
	p := memoryPlan{
		engine: min(budget, max(budget/4, config.MinQueueMemory)),
		sqlite: sqlite.Options{
			WriterCache: min(budget/32, sqlite.DefaultWriterCache),
			ReaderCache: min(budget/128, 2<<20),
			EventCache:  min(budget/16, sqlite.DefaultEventCache),
		},
	}
	p.goLimit = max(budget-outsideGo-p.sqlite.WriterCache-readers*p.sqlite.ReaderCache, minGoLimit)
	return p
}

// limitGoMemory sets Go's soft memory limit to the plan's, unless the
// operator set GOMEMLIMIT, which then stands.
func limitGoMemory(p memoryPlan, log *slog.Logger) {
	if !OwnsProcess {
		return
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		log.Info("memory: GOMEMLIMIT is set; Go's soft memory limit is left to it", "engine_bytes", p.engine)
		return
	}
	debug.SetMemoryLimit(p.goLimit)
	log.Info("memory budget", "engine_bytes", p.engine, "go_limit_bytes", p.goLimit,
		"sqlite_writer_cache_bytes", p.sqlite.WriterCache, "event_cache_bytes", p.sqlite.EventCache)
}

// outsideGoMemory is what the process takes outside Go's heap: the pages
// of the binary it has touched by now (its code and data grow with every
// client library linked in: the broker destinations' took it from about
// 26 to 46 MiB), and outsideBinary for the rest. Where /proc cannot be
// read, leastOutsideGo.
func outsideGoMemory() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return leastOutsideGo
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return max(kb<<10+outsideBinary, leastOutsideGo)
				}
			}
		}
	}
	return leastOutsideGo
}
