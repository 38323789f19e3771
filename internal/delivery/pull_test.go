package delivery

import (
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// TestEnginePullClock runs pulls in a synctest bubble over a real SQLite
// file and the real request builder, so that fake time says exactly
// when each pull answers: an event wakes a waiting pull at once (the
// poll is a second away), a delivery never acknowledged comes back when
// its visibility ends, an acknowledged failure when its retry is due,
// and the retries stop with the schedule. Nothing is ever sent: the
// outbound layer has no sender at all.
func TestEnginePullClock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		t0 := time.Now()
		app := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: "Acme", CreatedAt: t0, UpdatedAt: t0}
		if err := db.AppCreate(ctx, app); err != nil {
			t.Fatal(err)
		}
		ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: app.ID, Kind: herald.EndpointPull,
			EventTypes: []string{}, Enabled: true, Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", CreatedAt: t0, UpdatedAt: t0}
		if err := db.EndpointCreate(ctx, ep); err != nil {
			t.Fatal(err)
		}
		out := outbound.NewHTTP(nil, db, outbound.HTTPOptions{})
		e := New(db, out, Options{Owner: "node-test", Workers: 2, PollInterval: time.Second, HeartbeatInterval: time.Hour,
			LeaseDuration: time.Hour, Retry: RetryPolicy{Schedule: []time.Duration{time.Minute}}})
		e.Start(ctx)
		defer e.Shutdown(ctx)
		synctest.Wait()

		pull := func(wait, visibility time.Duration) ([]Handout, time.Duration) {
			t.Helper()
			start := time.Now()
			got, err := e.Pull(ctx, ep, PullParams{Wait: wait, Visibility: visibility, Limit: 10})
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			return got, time.Since(start)
		}

		// A pull waiting when the event comes answers at that instant.
		type result struct {
			got  []Handout
			took time.Duration
		}
		done := make(chan result, 1)
		go func() {
			got, took := pull(10*time.Minute, 5*time.Minute)
			done <- result{got, took}
		}()
		synctest.Wait()
		if _, err := e.Enqueue(ctx, &herald.Event{AppID: app.ID, EventType: "lead.created", Payload: herald.RawJSON(`{"id":1}`)}); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if len(r.got) != 1 || r.took != 0 {
			t.Fatalf("waiting pull: %d deliveries after %v, want 1 at once", len(r.got), r.took)
		}
		id := r.got[0].DeliveryID

		// Not acknowledged: handed out again once its visibility ends
		// (found by the next poll, within a second).
		got, took := pull(10*time.Minute, 5*time.Minute)
		if len(got) != 1 || got[0].DeliveryID != id || took < 5*time.Minute || took > 5*time.Minute+time.Second {
			t.Fatalf("pull after the visibility: %d deliveries after %v, want %s after 5 min", len(got), took, id)
		}

		// A 503 is retried a minute later, then the schedule is over.
		for n, want := range []herald.DeliveryStatus{herald.StatusPending, herald.StatusFailed} {
			outs, err := e.Ack(ctx, ep, []AckResult{{DeliveryID: id, StatusCode: 503}}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if o := outs[0]; o.Result != AckRecorded || o.Status != want || o.Attempt.Number != n+1 {
				t.Fatalf("ack %d: %+v, want recorded %s", n+1, o, want)
			}
			if want == herald.StatusPending {
				got, took = pull(10*time.Minute, 5*time.Minute)
				if len(got) != 1 || took < time.Minute || took > time.Minute+time.Second {
					t.Fatalf("pull after a 503: %d deliveries after %v, want it again after about a minute", len(got), took)
				}
			}
		}
		got, took = pull(10*time.Minute, 5*time.Minute)
		if len(got) != 0 || took != 10*time.Minute {
			t.Fatalf("pull after the last retry failed: %d deliveries after %v, want none after the whole wait", len(got), took)
		}
		d, err := db.DeliveryGet(ctx, app.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != herald.StatusFailed || d.AttemptCount != 2 {
			t.Errorf("delivery: %s with %d attempts, want failed with 2 (handouts are no attempts)", d.Status, d.AttemptCount)
		}
	})
}
