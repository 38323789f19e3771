package store

import (
	"cmp"
	"slices"
	"time"
)

// UsageMonth is the usage counters' month of t: its calendar month in
// UTC, so that every node and every time zone agree on which month a
// delivery counts in.
func UsageMonth(t time.Time) string { return t.UTC().Format("2006-01") }

// UsageKey is one app's month in the usage counters.
type UsageKey struct{ AppID, Month string }

// UsageCounts accumulates the deliveries one transaction creates, so that
// a driver writes one upsert per app and month instead of one per
// delivery.
type UsageCounts map[UsageKey]int64

// Add counts n deliveries of appID created at at.
func (u UsageCounts) Add(appID string, at time.Time, n int) {
	if n > 0 {
		u[UsageKey{appID, UsageMonth(at)}] += int64(n)
	}
}

// Keys returns the keys by app, then month, so that concurrent
// transactions lock the counters' rows in the same order.
func (u UsageCounts) Keys() []UsageKey {
	keys := make([]UsageKey, 0, len(u))
	for k := range u {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b UsageKey) int {
		return cmp.Or(cmp.Compare(a.AppID, b.AppID), cmp.Compare(a.Month, b.Month))
	})
	return keys
}
