package metrics

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"
)

// Other is the label value of the apps (or endpoints) outside the top N.
const Other = "other"

// Ranking windows: the top N is recomputed every rankEvery from the
// attempts counted over the last rankWindows of them.
const (
	rankEvery   = time.Minute
	rankWindows = 5
	// maxRanked bounds the keys one window counts; past it new keys are
	// counted under other only, so a tenant creating endpoints by the
	// thousand grows no map.
	maxRanked = 100_000
)

// top decides which keys (app or endpoint ids) get their own series: the
// n with the most attempts over a sliding window of the last five
// minutes, recomputed each minute. Until n keys are named, a key seen for
// the first time takes a free place at once, so a small installation
// names all its apps from the start. A key leaving the top n has its
// series removed (dropped is called) and is counted under other from
// then on; a key entering starts a new series, its history staying under
// other. Label cardinality is thus at most n+1 whatever tenants do.
type top struct {
	mu      sync.Mutex
	n       int
	now     func() time.Time
	next    time.Time
	windows []map[string]int64 // windows[0] is the current one
	named   map[string]bool
	dropped func(key string)
}

func newTop(n int, now func() time.Time, dropped func(string)) *top {
	return &top{n: n, now: now, windows: []map[string]int64{{}}, named: map[string]bool{}, dropped: dropped}
}

// observe counts one attempt of key and calls record with the label it
// goes under; record runs under the lock, so that a series removed by a
// new ranking is never written again by an attempt labelled before it.
func (t *top) observe(key string, record func(label string)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	record(t.label(key))
}

// label counts one attempt of key and returns the label it goes under.
func (t *top) label(key string) string {
	now := t.now()
	if t.next.IsZero() {
		t.next = now.Add(rankEvery)
	} else if !now.Before(t.next) {
		// Minutes in which nothing was counted are empty windows.
		missed := int(now.Sub(t.next) / rankEvery)
		for range min(missed, rankWindows) {
			t.shift()
		}
		t.rank()
		t.next = t.next.Add(time.Duration(missed+1) * rankEvery)
	}
	w := t.windows[0]
	if _, ok := w[key]; ok || len(w) < maxRanked {
		w[key]++
	}
	if t.named[key] {
		return key
	}
	if len(t.named) < t.n {
		t.named[key] = true
		return key
	}
	return Other
}

// rank recomputes the named keys from the windows and opens a new one.
func (t *top) rank() {
	sum := map[string]int64{}
	for _, w := range t.windows {
		for k, v := range w {
			sum[k] += v
		}
	}
	keys := slices.Collect(maps.Keys(sum))
	// Most attempts first; among equals the one already named, then by
	// id, so that the choice is stable.
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(sum[b], sum[a]); c != 0 {
			return c
		}
		if t.named[a] != t.named[b] {
			if t.named[a] {
				return -1
			}
			return 1
		}
		return cmp.Compare(a, b)
	})
	keys = keys[:min(len(keys), t.n)]
	named := make(map[string]bool, len(keys))
	for _, k := range keys {
		named[k] = true
	}
	// In order, so that what leaves the ranking leaves alike every time.
	for _, k := range slices.Sorted(maps.Keys(t.named)) {
		if !named[k] {
			t.dropped(k)
		}
	}
	t.named = named
	t.shift()
}

// shift opens a new window, forgetting the oldest past rankWindows.
func (t *top) shift() {
	t.windows = append([]map[string]int64{{}}, t.windows[:min(len(t.windows), rankWindows-1)]...)
}
