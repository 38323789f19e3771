package api

import (
	"sync"
	"time"
)

// cacheTTL bounds how long another node's change to an app or event type
// may go unseen here. Changes made through this node are seen at once.
const cacheTTL = 2 * time.Second

// ttlCache keeps lookups that every event would otherwise repeat (its app,
// its event type) for a short time. Only hits are kept, so something just
// created is found at once; and a stale hit is harmless where it matters,
// because the enqueue transaction checks again that the app exists.
type ttlCache[V any] struct {
	mu  sync.Mutex
	m   map[string]ttlEntry[V]
	now func() time.Time
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[V any](now func() time.Time) *ttlCache[V] {
	return &ttlCache[V]{m: map[string]ttlEntry[V]{}, now: now}
}

func (c *ttlCache[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || c.now().After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= 10_000 {
		// Bounded: start over rather than track recency.
		clear(c.m)
	}
	c.m[k] = ttlEntry[V]{v: v, expires: c.now().Add(cacheTTL)}
}

// reset forgets everything, after a change made through this node.
func (c *ttlCache[V]) reset() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
