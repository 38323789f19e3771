// Package cache keeps what Herald would otherwise look up or build again
// and again: an event's app and event type for a short time, what is
// derived from one version of a setting, parsed secrets, tokens. Every
// cache is bounded (LRU), because most are keyed by what tenants send.
package cache

import (
	"sync"
	"time"
)

// TTL bounds how long another node's change to an app or event type may go
// unseen. Changes made through this node reset the cache at once.
const TTL = 2 * time.Second

// MaxEntries bounds the entries of a Cache and of a Versions: enough for
// the apps, event types and endpoint versions in use at once on a busy
// node, whatever number of distinct keys tenants send.
const MaxEntries = 10_000

// Cache keeps values for a short time, at most MaxEntries of them, the
// least recently used forgotten first. Callers keep only hits, so
// something just created is found at once; a stale hit must be harmless
// where it is used (the enqueue transaction, for one, checks again that
// the app exists).
type Cache[V any] struct {
	lru *LRU[string, V]
}

// New returns an empty cache keeping values for TTL; now is its clock.
func New[V any](now func() time.Time) *Cache[V] {
	return NewTTL[V](now, TTL)
}

// NewTTL returns an empty cache keeping values for ttl.
func NewTTL[V any](now func() time.Time, ttl time.Duration) *Cache[V] {
	return &Cache[V]{lru: NewLRU(MaxEntries, LRUOptions[string, V]{TTL: ttl, Now: now})}
}

// Get returns a value not older than the cache's TTL.
func (c *Cache[V]) Get(k string) (V, bool) { return c.lru.Get(k) }

// Put keeps a value for the cache's TTL.
func (c *Cache[V]) Put(k string, v V) { c.lru.Put(k, v) }

// Reset forgets everything, after a change made through this node.
func (c *Cache[V]) Reset() { c.lru.Reset() }

// Versions keeps what is derived from one version of a setting (a compiled
// template, a compiled condition) for as long as it is asked for: a key
// names the version, so a change makes a new key and no entry is ever
// stale. It holds at most MaxEntries entries, the least recently used
// forgotten first. The zero value is ready to use.
type Versions[K comparable, V any] struct {
	once sync.Once
	lru  *LRU[K, V]
}

func (c *Versions[K, V]) cache() *LRU[K, V] {
	c.once.Do(func() { c.lru = NewLRU(MaxEntries, LRUOptions[K, V]{}) })
	return c.lru
}

// Get returns the value kept for k.
func (c *Versions[K, V]) Get(k K) (V, bool) { return c.cache().Get(k) }

// Put keeps v for k.
func (c *Versions[K, V]) Put(k K, v V) { c.cache().Put(k, v) }
