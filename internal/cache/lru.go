package cache

import (
	"sync"
	"time"
)

// LRU keeps at most a fixed number of entries, and with a cost function at
// most a total cost (bytes, say), forgetting the least recently used entry
// first; with a TTL entries also expire. Every cache whose keys or values
// come from tenants' input (settings, secrets, tokens) is one, so that no
// tenant can make Herald hold more than its bounds however many distinct
// inputs it sends. It is safe for concurrent use.
type LRU[K comparable, V any] struct {
	mu   sync.Mutex
	m    map[K]*node[K, V]
	root node[K, V] // root.next is the most recently used, root.prev the least
	max  int
	cost int64
	o    LRUOptions[K, V]
}

// LRUOptions adjust an LRU; the zero value bounds the number of entries only.
type LRUOptions[K comparable, V any] struct {
	// TTL, when above 0, forgets an entry this long after it was put.
	TTL time.Duration
	// Now is the clock of the TTL; nil: time.Now.
	Now func() time.Time
	// MaxCost, when above 0, bounds the sum of Cost over the entries.
	MaxCost int64
	// Cost weighs an entry against MaxCost, typically its size in bytes.
	Cost func(K, V) int64
	// OnEvict is called with each value the cache lets go of (to make
	// room, past its TTL, replaced by Put, or by Reset), outside the
	// cache's lock: to release what the value holds.
	OnEvict func(K, V)
}

type node[K comparable, V any] struct {
	k          K
	v          V
	cost       int64
	expires    time.Time
	prev, next *node[K, V]
}

// NewLRU returns an empty cache of at most maxEntries entries (at least 1).
func NewLRU[K comparable, V any](maxEntries int, o LRUOptions[K, V]) *LRU[K, V] {
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &LRU[K, V]{m: map[K]*node[K, V]{}, max: max(maxEntries, 1), o: o}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// Get returns the value kept for k and marks it the most recently used.
func (c *LRU[K, V]) Get(k K) (v V, ok bool) {
	var gone *node[K, V]
	c.mu.Lock()
	n, ok := c.m[k]
	switch {
	case !ok:
	case c.o.TTL > 0 && c.o.Now().After(n.expires):
		c.remove(n)
		gone, ok = n, false
	default:
		c.unlink(n)
		c.pushFront(n)
		v = n.v
	}
	c.mu.Unlock()
	if gone != nil {
		c.evicted(gone)
	}
	return v, ok
}

// Put keeps v for k as the most recently used entry, then forgets the
// least recently used entries while the cache is over its bounds. A value
// costing more than MaxCost on its own is not kept (nor given to OnEvict:
// the caller still holds it), and the one it replaces is let go.
func (c *LRU[K, V]) Put(k K, v V) {
	n := &node[K, V]{k: k, v: v}
	if c.o.Cost != nil {
		n.cost = c.o.Cost(k, v)
	}
	var gone []*node[K, V]
	c.mu.Lock()
	if old, ok := c.m[k]; ok {
		c.remove(old)
		gone = append(gone, old)
	}
	if c.o.MaxCost <= 0 || n.cost <= c.o.MaxCost {
		if c.o.TTL > 0 {
			n.expires = c.o.Now().Add(c.o.TTL)
		}
		c.m[k] = n
		c.pushFront(n)
		c.cost += n.cost
		for len(c.m) > c.max || c.o.MaxCost > 0 && c.cost > c.o.MaxCost {
			last := c.root.prev
			c.remove(last)
			gone = append(gone, last)
		}
	}
	c.mu.Unlock()
	for _, g := range gone {
		c.evicted(g)
	}
}

// Reset forgets everything.
func (c *LRU[K, V]) Reset() {
	c.mu.Lock()
	var gone []*node[K, V]
	if c.o.OnEvict != nil {
		for n := c.root.next; n != &c.root; n = n.next {
			gone = append(gone, n)
		}
	}
	clear(c.m)
	c.root.next, c.root.prev = &c.root, &c.root
	c.cost = 0
	c.mu.Unlock()
	for _, g := range gone {
		c.evicted(g)
	}
}

// Len is the number of entries kept, expired ones included until they are
// asked for or pushed out.
func (c *LRU[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Range calls f for each entry, most recently used first, under the
// cache's lock: f must not use the cache.
func (c *LRU[K, V]) Range(f func(K, V)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := c.root.next; n != &c.root; n = n.next {
		f(n.k, n.v)
	}
}

func (c *LRU[K, V]) evicted(n *node[K, V]) {
	if c.o.OnEvict != nil {
		c.o.OnEvict(n.k, n.v)
	}
}

// remove takes n out of the map, the list and the cost.
func (c *LRU[K, V]) remove(n *node[K, V]) {
	delete(c.m, n.k)
	c.unlink(n)
	c.cost -= n.cost
}

func (c *LRU[K, V]) unlink(n *node[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

func (c *LRU[K, V]) pushFront(n *node[K, V]) {
	n.prev, n.next = &c.root, c.root.next
	c.root.next.prev = n
	c.root.next = n
}
