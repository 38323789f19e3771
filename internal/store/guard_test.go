package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
)

// fakeStore answers AppGet and EventsEnqueue as its mode says: "ok",
// "hang" (until the context ends), "refused" (a network error), "full",
// "notfound". Its Probe follows the same mode.
type fakeStore struct {
	Store
	mu    sync.Mutex
	mode  string
	calls int
}

func (f *fakeStore) set(mode string) {
	f.mu.Lock()
	f.mode = mode
	f.mu.Unlock()
}

func (f *fakeStore) answer(ctx context.Context) error {
	f.mu.Lock()
	mode := f.mode
	f.calls++
	f.mu.Unlock()
	switch mode {
	case "hang":
		<-ctx.Done()
		return fmt.Errorf("query: %w", ctx.Err())
	case "refused":
		return fmt.Errorf("dial tcp 10.1.2.3:5432 user=secret: %w", syscall.ECONNREFUSED)
	case "full":
		return &UnavailableError{Cause: errors.New("database or disk is full"), Full: true}
	case "notfound":
		return ErrNotFound
	}
	return nil
}

func (f *fakeStore) AppGet(ctx context.Context, id string) (*herald.App, error) {
	if err := f.answer(ctx); err != nil {
		return nil, err
	}
	return &herald.App{ID: id}, nil
}

func (f *fakeStore) EventsEnqueue(ctx context.Context, p EnqueueParams) ([]EnqueueResult, error) {
	return nil, f.answer(ctx)
}

func (f *fakeStore) Probe(ctx context.Context) error { return f.answer(ctx) }

func (f *fakeStore) Close() error { return nil }

func newTestGuard(f *fakeStore, logs *bytes.Buffer) *Guard {
	return NewGuard(f, GuardOptions{Timeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
}

// A hung store: the first call fails at the deadline as unavailable (a
// write: may have been committed); the calls after it fail at once while
// the store stays hung; when it answers again, calls succeed within a
// probe period; the log says once that it went and once that it is back.
func TestGuardHungStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		f := &fakeStore{mode: "hang"}
		g := newTestGuard(f, &logs)
		defer g.Close()
		ctx := context.Background()

		start := time.Now()
		_, err := g.EventsEnqueue(ctx, EnqueueParams{})
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrMaybeCommitted) || time.Since(start) != 5*time.Second {
			t.Fatalf("hung write: %v after %s; want unavailable, maybe committed, at the 5 s deadline", err, time.Since(start))
		}
		start = time.Now()
		for range 10 {
			_, err := g.AppGet(ctx, "a")
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrMaybeCommitted) {
				t.Fatalf("read while down: %v", err)
			}
		}
		if time.Since(start) != 0 {
			t.Fatalf("calls while known down took %s; want at once", time.Since(start))
		}
		if st := g.State(); st.Up || st.Writable {
			t.Fatalf("state while hung: %+v", st)
		}
		if err := g.Ready(ctx); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Ready while hung: %v", err)
		}

		f.set("ok")
		back := time.Now()
		for {
			if _, err := g.AppGet(ctx, "a"); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if d := time.Since(back); d > time.Second+250*time.Millisecond {
			t.Fatalf("calls resumed %s after the store was back", d)
		}
		if err := g.Ready(ctx); err != nil {
			t.Fatalf("Ready once back: %v", err)
		}
		if st := g.State(); !st.Up || !st.Writable {
			t.Fatalf("state once back: %+v", st)
		}
		out := logs.String()
		if strings.Count(out, "unreachable") != 1 || strings.Count(out, "the store is back") != 1 || strings.Count(out, "level=") != 2 {
			t.Fatalf("log: want one line when the store went and one when it came back:\n%s", out)
		}
	})
}

// A refused connection is unavailable at once, not at the deadline, and a
// read's failure never says it may have committed.
func TestGuardRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		f := &fakeStore{mode: "refused"}
		g := newTestGuard(f, &logs)
		defer g.Close()
		start := time.Now()
		_, err := g.AppGet(context.Background(), "a")
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrMaybeCommitted) || time.Since(start) != 0 {
			t.Fatalf("refused: %v after %s", err, time.Since(start))
		}
	})
}

// A full disk: writes fail (at once after the first) with ErrFull, reads
// go on; space back, the probe clears it.
func TestGuardFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		f := &fakeStore{mode: "full"}
		g := newTestGuard(f, &logs)
		defer g.Close()
		ctx := context.Background()
		if _, err := g.EventsEnqueue(ctx, EnqueueParams{}); !errors.Is(err, ErrFull) || !errors.Is(err, ErrNotWritable) {
			t.Fatalf("write on a full disk: %v", err)
		}
		f.set("ok")
		// The gate holds writes back until a probe passes; reads go.
		if _, err := g.AppGet(ctx, "a"); err != nil {
			t.Fatalf("read on a full disk: %v", err)
		}
		if st := g.State(); !st.Up || st.Writable || !st.Full {
			t.Fatalf("state on a full disk: %+v", st)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if _, err := g.EventsEnqueue(ctx, EnqueueParams{}); err != nil {
			t.Fatalf("write once space is back: %v", err)
		}
		if st := g.State(); !st.Writable {
			t.Fatalf("state once space is back: %+v", st)
		}
	})
}

// Errors that are answers (not found) are not the store's failure: they
// pass as they are, and the store counts as up.
func TestGuardAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		f := &fakeStore{mode: "notfound"}
		g := newTestGuard(f, &logs)
		defer g.Close()
		if _, err := g.AppGet(context.Background(), "a"); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("not found: %v", err)
		}
		if !g.State().Up || logs.Len() != 0 {
			t.Fatalf("state %+v, log %q", g.State(), logs.String())
		}
	})
}

// A caller that leaves is not the store's failure: its error passes as
// it is for a read, and the store stays up.
func TestGuardCallerLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		f := &fakeStore{mode: "hang"}
		g := newTestGuard(f, &logs)
		defer g.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := g.AppGet(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("read whose caller left: %v", err)
		}
		if !g.State().Up {
			t.Fatal("the store counted down for a caller's own deadline")
		}
	})
}

func TestClassifyNetwork(t *testing.T) {
	for _, err := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, context.DeadlineExceeded, fmt.Errorf("read: %w", syscall.EPIPE)} {
		if !errors.Is(ClassifyNetwork(err), ErrUnavailable) {
			t.Errorf("%v: not unavailable", err)
		}
	}
	for _, err := range []error{ErrNotFound, ErrConflict, errors.New("syntax error")} {
		if errors.Is(ClassifyNetwork(err), ErrUnavailable) {
			t.Errorf("%v: unavailable", err)
		}
	}
	full := &UnavailableError{Cause: errors.New("x"), Full: true}
	if !errors.Is(full, ErrNotWritable) || !errors.Is(full, ErrUnavailable) || errors.Is(full, ErrMaybeCommitted) {
		t.Errorf("a full store's error: %v", full)
	}
}
