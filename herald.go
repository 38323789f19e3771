// Package herald holds Herald's domain types: apps, event types, endpoints,
// events, deliveries and attempts. It does no I/O; storage, the HTTP API and
// the delivery engine live in internal packages built around these types.
package herald

import (
	"strings"

	"github.com/oklog/ulid/v2"
)

// Version is reported in the User-Agent of every request Herald sends.
var Version = "0.1.0-dev"

// ID prefixes tell what an identifier names at a glance, in logs and in URLs.
const (
	PrefixApp      = "app_"
	PrefixEndpoint = "ep_"
	PrefixEvent    = "evt_"
	PrefixDelivery = "dlv_"
	PrefixAttempt  = "atm_"
)

// NewID returns a new identifier: the prefix and a ULID. ULIDs sort by
// creation time, so the stores page through lists by comparing ids alone.
func NewID(prefix string) string {
	return prefix + strings.ToLower(ulid.Make().String())
}
