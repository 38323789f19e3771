// Package cache keeps lookups that every event would otherwise repeat (its
// app, its event type) for a short time.
package cache

import (
	"sync"
	"time"
)

// TTL bounds how long another node's change to an app or event type may go
// unseen. Changes made through this node reset the cache at once.
const TTL = 2 * time.Second

// TTL keeps values for a short time. Callers keep only hits, so something
// just created is found at once; a stale hit must be harmless where it is
// used (the enqueue transaction, for one, checks again that the app
// exists).
type Cache[V any] struct {
	mu  sync.Mutex
	m   map[string]entry[V]
	now func() time.Time
	ttl time.Duration
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns an empty cache; now is its clock.
func New[V any](now func() time.Time) *Cache[V] {
	return NewTTL[V](now, TTL)
}

// NewTTL returns an empty cache keeping values for ttl.
func NewTTL[V any](now func() time.Time, ttl time.Duration) *Cache[V] {
	return &Cache[V]{m: map[string]entry[V]{}, now: now, ttl: ttl}
}

// Get returns a value not older than TTL.
func (c *Cache[V]) Get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || c.now().After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put keeps a value for TTL.
func (c *Cache[V]) Put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= 10_000 {
		// Bounded: start over rather than track recency.
		clear(c.m)
	}
	c.m[k] = entry[V]{v: v, expires: c.now().Add(c.ttl)}
}

// Reset forgets everything, after a change made through this node.
func (c *Cache[V]) Reset() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// Versions keeps what is derived from one version of a setting (a compiled
// template, a compiled condition) for as long as it is asked for: a key
// names the version, so a change makes a new key and no entry is ever
// stale. It holds at most 10,000 entries and starts over when full, which
// bounds memory without tracking recency.
type Versions[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

// Get returns the value kept for k.
func (c *Versions[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

// Put keeps v for k.
func (c *Versions[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= 10_000 {
		c.m = map[K]V{}
	}
	c.m[k] = v
}
