package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/cache"
)

// schedules caches parsed retry schedules of apps and endpoints by their
// text, which tenants set: the 1,000 most recently used, since a miss
// only parses again. Each is held to the ceilings.
type schedules struct {
	ceilings herald.TenantCeilings
	once     sync.Once
	m        *cache.LRU[string, []time.Duration]
}

func (s *schedules) parse(v string) []time.Duration {
	s.once.Do(func() { s.m = cache.NewLRU(1000, cache.LRUOptions[string, []time.Duration]{}) })
	if d, ok := s.m.Get(v); ok {
		return d
	}
	d, err := ParseSchedule(v)
	if err != nil {
		// Validated when saved; an unreadable one means no retries
		// rather than a crash.
		d = nil
	}
	// Saved before a ceiling was lowered, a schedule may exceed it.
	d = s.ceilings.Schedule(d)
	s.m.Put(v, d)
	return d
}

// policy returns the retry policy in force for an endpoint of an app.
func (e *Engine) policy(ep *herald.Endpoint, app *herald.App) *RetryPolicy {
	v := ep.RetrySchedule
	if v == "" && app != nil {
		v = app.RetrySchedule
	}
	if v == "" {
		return &e.o.Retry
	}
	p := e.o.Retry
	p.Schedule = e.schedules.parse(v)
	return &p
}

// maxInFlight returns how many requests this node may have in flight to
// an endpoint: its share of the endpoint's cluster-wide cap.
func (e *Engine) maxInFlight(ctx context.Context, ep *herald.Endpoint) int {
	s := herald.EffectiveDelivery(ep, e.app(ctx, ep.AppID), herald.DeliverySettings{MaxInFlight: e.o.MaxInFlightPerEndpoint}, e.o.Ceilings)
	return nodeShare(s.MaxInFlight, e.nodes.Load())
}
