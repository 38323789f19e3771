package store

import (
	"fmt"
	"time"

	"github.com/heraldhq/herald"
)

// HealthTally is what one EndpointsTrackHealth batch says about one
// endpoint: whether a success came (which clears its record) and how many
// failures came after the last success, or in all when none succeeded.
type HealthTally struct {
	AppID, EndpointID string
	Reset             bool
	Failures          int
}

// FoldHealth folds a batch's results per endpoint, in the order endpoints
// first appear, so that a driver updates each endpoint's record once
// however many of its deliveries the batch holds: only the last success
// and the failures after it matter.
func FoldHealth(results []HealthResult) []*HealthTally {
	var tallies []*HealthTally
	byID := map[string]*HealthTally{}
	for _, r := range results {
		key := r.AppID + "\x00" + r.EndpointID
		t := byID[key]
		if t == nil {
			t = &HealthTally{AppID: r.AppID, EndpointID: r.EndpointID}
			byID[key] = t
			tallies = append(tallies, t)
		}
		if r.Succeeded {
			t.Reset, t.Failures = true, 0
		} else {
			t.Failures++
		}
	}
	return tallies
}

// DisableReason tells whether an endpoint whose health record, once
// updated, reads failing since failingSince (nil when not failing) with
// failed failures must be disabled under p, and why: the reason recorded
// on the endpoint, empty when it stays as it is. Drivers share it so that
// the rule and its wording are the same everywhere.
func (p HealthParams) DisableReason(enabled bool, failingSince *time.Time, failed int) string {
	if p.Window <= 0 || !enabled || failingSince == nil || failingSince.After(p.Now.Add(-p.Window)) || failed < p.MinFailures {
		return ""
	}
	return fmt.Sprintf("every delivery failed since %s (%d failed deliveries)",
		failingSince.UTC().Format(time.RFC3339), failed)
}

// MarkDisabled turns ep off by Herald's own decision at now, as
// EndpointDisable stores it, and returns the settings document to write
// with it: the reason and time live in the settings.
func MarkDisabled(ep *herald.Endpoint, reason string, now time.Time) (settings string, err error) {
	at := StoredTime(now)
	ep.Enabled = false
	ep.DisabledReason, ep.DisabledAt = reason, &at
	ep.UpdatedAt = at
	return EndpointSettingsJSON(ep.EndpointSettings)
}
