package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// newGuard bounds every call to st by --store-timeout and classifies its
// failures with the driver's rules. driver is the store as the driver
// opened it (st may be a test's wrapping of it): it drops broken
// connections, and probes readiness unless st is wrapped.
func newGuard(cfg *config.Serve, st, driver store.Store, log *slog.Logger) *store.Guard {
	o := store.GuardOptions{Timeout: cfg.StoreTimeout, Classify: sqlite.Classify, Logger: log}
	if cfg.DatabaseURL != "" {
		o.Classify = postgres.Classify
	}
	// A test's wrapping sees the probes too, unless it probes itself.
	if p, ok := st.(store.Prober); ok {
		o.Prober = p
	} else if p, ok := driver.(store.Prober); ok && st == driver {
		o.Prober = p
	}
	if d, ok := driver.(interface{ DropConnections() }); ok {
		o.OnUnreachable = d.DropConnections
	}
	return store.NewGuard(st, o)
}

// storeGauges is what /metrics says of the store and the data dir.
func (a *App) storeGauges() metrics.StoreGauges {
	st := a.guard.State()
	g := metrics.StoreGauges{Up: st.Up, Writable: st.Writable, FreeBytes: -1}
	if a.cfg.DatabaseURL == "" {
		if free, err := sqlite.FreeBytes(a.cfg.DataDir); err == nil {
			g.FreeBytes = int64(free)
		}
	}
	return g
}

// watchDisk logs a warning when the data dir's free space falls below
// --disk-warn-free, and once more when it is back above it, checking every
// period until ctx ends.
func (a *App) watchDisk(ctx context.Context, period time.Duration) {
	limit := a.cfg.DiskWarnFree
	if limit <= 0 {
		return
	}
	low := false
	for {
		if free, err := sqlite.FreeBytes(a.cfg.DataDir); err == nil {
			switch {
			case !low && free < uint64(limit):
				low = true
				a.log.Warn("the data dir is running out of space: when it is full, writes answer 503 storage_full",
					"dir", a.cfg.DataDir, "free", mib(free), "warn_below", limit.String())
			case low && free >= uint64(limit):
				low = false
				a.log.Info("the data dir has space again", "dir", a.cfg.DataDir, "free", mib(free))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(period):
		}
	}
}

// mib writes a byte count in MiB, for logs.
func mib(n uint64) string { return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20)) }

// quietStoreErrors logs the engine's store failures that the store's
// guard has already reported (it logs once when the store goes and once
// when it comes back) at debug level, so that an outage is not one error
// line per retry of every loop.
func quietStoreErrors(log *slog.Logger) *slog.Logger {
	return slog.New(&quietHandler{Handler: log.Handler()})
}

type quietHandler struct{ slog.Handler }

// unavailablePrefixes start the text of every *store.UnavailableError.
var unavailablePrefixes = []string{"store unavailable", "storage full", "store not writable"}

func (h *quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level > slog.LevelDebug {
		quiet := false
		r.Attrs(func(at slog.Attr) bool {
			if at.Key == "error" {
				msg := at.Value.String()
				for _, p := range unavailablePrefixes {
					if strings.HasPrefix(msg, p) {
						quiet = true
					}
				}
				return false
			}
			return true
		})
		if quiet {
			if !h.Handler.Enabled(ctx, slog.LevelDebug) {
				return nil
			}
			q := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
			r.Attrs(func(at slog.Attr) bool { q.AddAttrs(at); return true })
			r = q
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h *quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &quietHandler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h *quietHandler) WithGroup(name string) slog.Handler {
	return &quietHandler{Handler: h.Handler.WithGroup(name)}
}
