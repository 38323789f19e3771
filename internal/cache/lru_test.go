package cache_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/cache"
)

// keys lists the cache's keys, most recently used first.
func keys[V any](c *cache.LRU[string, V]) []string {
	var ks []string
	c.Range(func(k string, _ V) { ks = append(ks, k) })
	return ks
}

func TestLRUForgetsTheLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	var evicted []string
	c := cache.NewLRU(3, cache.LRUOptions[string, int]{OnEvict: func(k string, _ int) { evicted = append(evicted, k) }})
	for i, k := range []string{"a", "b", "c"} {
		c.Put(k, i)
	}
	if v, ok := c.Get("a"); !ok || v != 0 {
		t.Fatalf("a: %d %v", v, ok)
	}
	c.Put("d", 3) // b is now the least recently used
	if _, ok := c.Get("b"); ok {
		t.Fatal("b kept past the bound")
	}
	if got := keys(c); !slices.Equal(got, []string{"d", "a", "c"}) || c.Len() != 3 {
		t.Fatalf("keys %v, len %d", got, c.Len())
	}
	c.Put("a", 10) // replaced: the old value is let go
	if v, _ := c.Get("a"); v != 10 {
		t.Fatalf("a after replace: %d", v)
	}
	c.Reset()
	if c.Len() != 0 || len(keys(c)) != 0 {
		t.Fatalf("after reset: %v", keys(c))
	}
	if want := []string{"b", "a", "a", "d", "c"}; !slices.Equal(evicted, want) {
		t.Fatalf("evicted %v, want b, the replaced a, then the three reset", evicted)
	}
}

func TestLRUCost(t *testing.T) {
	t.Parallel()
	c := cache.NewLRU(100, cache.LRUOptions[string, string]{MaxCost: 10, Cost: func(_ string, v string) int64 { return int64(len(v)) }})
	c.Put("a", "xxxx")
	c.Put("b", "xxxx")
	c.Put("c", "xxxx") // 12 > 10: a goes
	if got := keys(c); !slices.Equal(got, []string{"c", "b"}) {
		t.Fatalf("keys %v", got)
	}
	c.Put("huge", "xxxxxxxxxxx") // alone over the bound: not kept, nothing else lost
	if got := keys(c); !slices.Equal(got, []string{"c", "b"}) {
		t.Fatalf("after an entry over the bound alone: %v", got)
	}
	c.Put("b", "x") // the replaced value's cost is given back
	c.Put("d", "xxxxx")
	if got := keys(c); !slices.Equal(got, []string{"d", "b", "c"}) {
		t.Fatalf("after replacing with a cheaper value: %v", got)
	}
	c.Put("c", "xxxxxxxxxxx") // a replacement over the bound lets the old value go too
	if _, ok := c.Get("c"); ok {
		t.Fatal("c kept with a value over the bound")
	}
}

func TestLRUTTL(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var expired []string
	c := cache.NewLRU(10, cache.LRUOptions[string, int]{TTL: time.Minute, Now: func() time.Time { return now },
		OnEvict: func(k string, _ int) { expired = append(expired, k) }})
	c.Put("a", 1)
	now = now.Add(30 * time.Second)
	c.Put("b", 2)
	now = now.Add(30 * time.Second)
	if _, ok := c.Get("a"); !ok {
		t.Fatal("a gone at exactly its TTL")
	}
	now = now.Add(time.Nanosecond)
	if _, ok := c.Get("a"); ok {
		t.Fatal("a kept past its TTL")
	}
	if _, ok := c.Get("b"); !ok || c.Len() != 1 || !slices.Equal(expired, []string{"a"}) {
		t.Fatalf("b: %v, len %d, expired %v", ok, c.Len(), expired)
	}
}

// TestLRUConcurrent runs Put and Get from many goroutines (under -race in
// CI): the bounds hold throughout.
func TestLRUConcurrent(t *testing.T) {
	t.Parallel()
	var evicted sync.Map
	c := cache.NewLRU(50, cache.LRUOptions[int, int]{MaxCost: 400, Cost: func(_, v int) int64 { return int64(v) },
		OnEvict: func(k, _ int) { evicted.Store(k, true) }})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 5000 {
				k := r.IntN(200)
				if v, ok := c.Get(k); ok && v != k%20 {
					t.Errorf("key %d holds %d", k, v)
					return
				}
				c.Put(k, k%20)
			}
		})
	}
	wg.Wait()
	n, cost := 0, 0
	c.Range(func(_, v int) { n, cost = n+1, cost+v })
	if n != c.Len() || n > 50 || cost > 400 {
		t.Fatalf("%d entries costing %d, over the bounds of 50 and 400", n, cost)
	}
	some := false
	evicted.Range(func(any, any) bool { some = true; return false })
	if !some {
		t.Fatal("nothing was evicted")
	}
}

// TestCacheKeepsTheRecentAtTheBound: past MaxEntries keys, a Cache forgets
// the least recently used one, not everything.
func TestCacheKeepsTheRecentAtTheBound(t *testing.T) {
	t.Parallel()
	c := cache.NewTTL[int](time.Now, time.Hour)
	for i := range cache.MaxEntries + 1 {
		c.Put(fmt.Sprint(i), i)
	}
	if _, ok := c.Get("0"); ok {
		t.Fatal("the oldest key kept past the bound")
	}
	for i := 1; i <= cache.MaxEntries; i++ {
		if v, ok := c.Get(fmt.Sprint(i)); !ok || v != i {
			t.Fatalf("key %d lost at the bound", i)
		}
	}
	var v cache.Versions[int, int]
	for i := range cache.MaxEntries + 1 {
		v.Put(i, i)
	}
	if _, ok := v.Get(0); ok {
		t.Fatal("Versions: the oldest version kept past the bound")
	}
	if _, ok := v.Get(cache.MaxEntries - 1); !ok {
		t.Fatal("Versions: a recent version lost at the bound")
	}
}
