// Package herald holds Herald's domain types: apps, event types, endpoints,
// events, deliveries and attempts. It does no I/O; storage, the HTTP API and
// the delivery engine live in internal packages built around these types.
package herald

import (
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// ID prefixes tell what an identifier names at a glance, in logs and in URLs.
const (
	PrefixApp      = "app_"
	PrefixEndpoint = "ep_"
	PrefixEvent    = "evt_"
	PrefixDelivery = "dlv_"
	PrefixAttempt  = "atm_"
	// PrefixBatch names a request that carried several deliveries of a
	// batching endpoint: it is that request's webhook-id.
	PrefixBatch = "bat_"
)

// NewID returns a new identifier: the prefix and a ULID. ULIDs sort by
// creation time, so the stores page through lists by comparing ids alone.
func NewID(prefix string) string {
	return prefix + strings.ToLower(ulid.Make().String())
}

// IDAt returns the smallest id with the given prefix that NewID can make
// at t or later: the ULID of t's millisecond with zero randomness. Ids
// sort by creation, so "id >= IDAt(t)" bounds a scan of an id index to
// the rows created since about t, where a created_at condition alone would
// read the whole history.
func IDAt(prefix string, t time.Time) string {
	var id ulid.ULID
	if t.Before(time.UnixMilli(0)) || id.SetTime(ulid.Timestamp(t)) != nil {
		return prefix // before the first or after the last ULID time: no bound
	}
	return prefix + strings.ToLower(id.String())
}
