package sqlite

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// TestClaimEventFromCache claims one event's deliveries endpoint by
// endpoint, as the engine refills its queues: the later claims take the
// event from the cache, and it must be the event as stored.
func TestClaimEventFromCache(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	app := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: "a", CreatedAt: now, UpdatedAt: now}
	if err := db.AppCreate(ctx, app); err != nil {
		t.Fatal(err)
	}
	var eps []*herald.Endpoint
	for range 3 {
		ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: app.ID, URL: "https://example.com/",
			Enabled: true, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now, UpdatedAt: now}
		if err := db.EndpointCreate(ctx, ep); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), AppID: app.ID, EventType: "a.b",
		Payload: herald.RawJSON(`{"x":1}`), CreatedAt: now}
	if _, err := db.EventsEnqueue(ctx, store.EnqueueParams{Events: []*herald.Event{ev},
		Route: func(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
			ev.Routing = &herald.Routing{Matched: []string{}, Skipped: []herald.Skip{}}
			var ts []store.Target
			for _, ep := range eps {
				ev.Routing.Matched = append(ev.Routing.Matched, ep.ID)
				ts = append(ts, store.Target{Endpoint: ep})
			}
			return ts
		}}); err != nil {
		t.Fatal(err)
	}
	want, err := db.EventGet(ctx, app.ID, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, ep := range eps {
		jobs, err := db.DeliveriesClaim(ctx, store.ClaimParams{Owner: "n", Now: now.Add(time.Second),
			LeaseUntil: now.Add(time.Hour), Limit: 10, EndpointID: ep.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 1 {
			t.Fatalf("claim %d: %d jobs, want 1", i, len(jobs))
		}
		if !reflect.DeepEqual(jobs[0].Event, want) {
			t.Errorf("claim %d: event %+v, want %+v", i, jobs[0].Event, want)
		}
		if i > 0 && db.events.get(ev.ID) == nil {
			t.Errorf("claim %d: event not cached", i)
		}
	}
}

// TestEventCacheBudget checks that the cache forgets its oldest events
// once its byte budget is spent, and refuses an event too large for it.
func TestEventCacheBudget(t *testing.T) {
	const budget = 4 << 20
	c := eventCache{max: budget}
	size := budget / 20
	for i := range 40 {
		c.put(&herald.Event{ID: string(rune('A' + i))}, size)
	}
	if c.bytes > budget {
		t.Errorf("cache holds %d bytes, budget %d", c.bytes, budget)
	}
	if c.get("A") != nil {
		t.Error("oldest event still cached")
	}
	if c.get(string(rune('A'+39))) == nil {
		t.Error("newest event not cached")
	}
	c.put(&herald.Event{ID: "huge", Payload: herald.RawJSON(strings.Repeat("x", 10))}, budget)
	if c.get("huge") != nil {
		t.Error("an event larger than a sixteenth of the budget was cached")
	}
	// A copy comes back: changing it leaves the cached event alone.
	got := c.get(string(rune('A' + 39)))
	got.ID = "changed"
	if c.get(string(rune('A'+39))) == nil || c.get(string(rune('A'+39))).ID == "changed" {
		t.Error("get returned the cached event itself")
	}
}
