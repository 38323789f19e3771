package store

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Bounds of a failures report: a report examines at most FailuresMaxRead
// deliveries (the newest of the window), groups at most FailuresMaxScan
// failing ones and answers at most FailuresMaxGroups groups, so that its
// cost does not grow with an app's traffic or with how badly things fail.
const (
	FailuresMaxScan   = 5000
	FailuresMaxGroups = 100
	// FailuresMaxRead bounds the deliveries of the window a report
	// examines, failing or not: the newest of them.
	FailuresMaxRead = 100000
	// FailureSampleChars is how much of a response body (or error) a
	// group shows: enough to tell one cause from another.
	FailureSampleChars = 120
	// HealthMaxScan is how many of the window's newest deliveries
	// AppHealth reads at most: its counts are of those.
	HealthMaxScan = 50000
)

// FailuresParams selects the deliveries a failures report groups: those
// of AppID (every app when empty) created at or after Since whose latest
// attempt failed, final (failed) or not (pending, retrying).
type FailuresParams struct {
	AppID string
	Since time.Time
	// MaxGroups bounds the groups answered (FailuresMaxGroups when 0 or
	// more); MaxScan the failing deliveries grouped (FailuresMaxScan
	// likewise); MaxRead the deliveries examined (FailuresMaxRead).
	MaxGroups, MaxScan, MaxRead int
}

// FailureGroup is the deliveries of one endpoint that fail for one cause:
// the latest attempt's status code ("HTTP 500") or, when no response
// came, its error kind ("timeout", "connect"). Failure says whether the
// cause lies in the endpoint's definition (its templates or
// transformation: fixing the endpoint is what helps) or at its
// destination.
type FailureGroup struct {
	AppID      string `json:"app_id"`
	EndpointID string `json:"endpoint_id"`
	// EndpointURL is empty, and EndpointEnabled false, when the endpoint
	// was deleted: its failures stay, but it cannot be acted on.
	EndpointURL     string `json:"endpoint_url"`
	EndpointEnabled bool   `json:"endpoint_enabled"`
	Cause           string `json:"cause"`
	// StatusCode is the response status, nil when no response came.
	StatusCode *int             `json:"status_code"`
	ErrorKind  herald.ErrorKind `json:"error_kind"`
	Failure    herald.Failure   `json:"failure"`
	// Body is the first FailureSampleChars characters of the response
	// body of the group's latest attempt; Error its error, as short.
	Body  string `json:"body"`
	Error string `json:"error"`
	// Failed counts deliveries given up on, Retrying those still pending.
	Failed   int `json:"failed"`
	Retrying int `json:"retrying"`
	// FirstSeen and LastSeen are the oldest and newest of the latest
	// attempts of the group's deliveries.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// LastDeliveryID is the delivery of the latest attempt: one to open.
	LastDeliveryID string `json:"last_delivery_id"`
}

// FailuresReport is the answer of Failures. Partial says the scan stopped
// at its bound: older failures of the window were not read.
type FailuresReport struct {
	Groups  []*FailureGroup `json:"data"`
	Scanned int             `json:"scanned"`
	Partial bool            `json:"partial"`
	Since   time.Time       `json:"since"`
}

// FailureRow is one delivery a driver read for a failures report, with
// its latest attempt. Body and Error may be longer than a sample: the
// grouping cuts them.
type FailureRow struct {
	AppID, DeliveryID, EndpointID string
	EndpointURL                   string
	EndpointEnabled               bool
	Status                        herald.DeliveryStatus
	AttemptAt                     time.Time
	StatusCode                    *int
	ErrorKind                     herald.ErrorKind
	Error                         string
	Body                          []byte
}

// MaxReadOrDefault is p's bound of deliveries examined.
func (p FailuresParams) MaxReadOrDefault() int {
	if p.MaxRead <= 0 || p.MaxRead > FailuresMaxRead {
		return FailuresMaxRead
	}
	return p.MaxRead
}

// Limits returns the scan and group bounds of p.
func (p FailuresParams) Limits() (scan, groups int) {
	scan, groups = p.MaxScan, p.MaxGroups
	if scan <= 0 || scan > FailuresMaxScan {
		scan = FailuresMaxScan
	}
	if groups <= 0 || groups > FailuresMaxGroups {
		groups = FailuresMaxGroups
	}
	return scan, groups
}

// GroupFailures folds the rows a driver read into groups, newest last
// seen first; readCut says the driver stopped examining the window at
// p's MaxRead. Drivers share it so that causes are named, and samples
// cut, the same way everywhere.
func GroupFailures(p FailuresParams, rows []FailureRow, readCut bool) *FailuresReport {
	scan, maxGroups := p.Limits()
	rep := &FailuresReport{Groups: []*FailureGroup{}, Scanned: len(rows), Since: p.Since.UTC(), Partial: readCut}
	if len(rows) > scan {
		rows, rep.Scanned, rep.Partial = rows[:scan], scan, true
	}
	byKey := map[string]*FailureGroup{}
	for _, r := range rows {
		cause := FailureCause(r.StatusCode, r.ErrorKind)
		key := r.AppID + "\x00" + r.EndpointID + "\x00" + cause
		g := byKey[key]
		if g == nil {
			g = &FailureGroup{AppID: r.AppID, EndpointID: r.EndpointID, EndpointURL: r.EndpointURL,
				EndpointEnabled: r.EndpointEnabled, Cause: cause, Failure: herald.FailureDestination,
				FirstSeen: r.AttemptAt, LastSeen: r.AttemptAt}
			byKey[key] = g
			rep.Groups = append(rep.Groups, g)
		}
		if r.Status == herald.StatusFailed {
			g.Failed++
		} else {
			g.Retrying++
		}
		if r.AttemptAt.Before(g.FirstSeen) {
			g.FirstSeen = r.AttemptAt
		}
		if g.LastDeliveryID == "" || r.AttemptAt.After(g.LastSeen) {
			g.LastSeen, g.LastDeliveryID = r.AttemptAt, r.DeliveryID
			g.StatusCode, g.ErrorKind = r.StatusCode, r.ErrorKind
			if r.ErrorKind.OfDefinition() {
				g.Failure = herald.FailureDefinition
			} else {
				g.Failure = herald.FailureDestination
			}
			g.Body, g.Error = Sample(string(r.Body)), Sample(r.Error)
		}
	}
	sort.SliceStable(rep.Groups, func(i, j int) bool { return rep.Groups[i].LastSeen.After(rep.Groups[j].LastSeen) })
	if len(rep.Groups) > maxGroups {
		rep.Groups, rep.Partial = rep.Groups[:maxGroups], true
	}
	return rep
}

// FailureCause names why an attempt failed: "HTTP 500" when a response
// came, else its error kind, "error" when it has none.
func FailureCause(status *int, kind herald.ErrorKind) string {
	switch {
	case status != nil && *status > 0:
		return fmt.Sprintf("HTTP %d", *status)
	case kind != "":
		return string(kind)
	}
	return "error"
}

// Sample is the first FailureSampleChars characters of s, valid UTF-8,
// with control characters (newlines too) as spaces: a one-line glimpse
// of what the receiver said, safe to show anywhere.
func Sample(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == FailureSampleChars {
			break
		}
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// AppHealth is an app's state at a glance, as the console's apps page
// shows it. The counts are of the window's newest HealthMaxScan
// deliveries at most; Capped says the window held more.
type AppHealth struct {
	AppID            string     `json:"app_id"`
	EndpointsFailing int        `json:"endpoints_failing"`
	Failed           int        `json:"failed"`
	Pending          int        `json:"pending"`
	Capped           bool       `json:"capped"`
	Since            time.Time  `json:"since"`
	LastEventAt      *time.Time `json:"last_event_at"`
}

// Thing kinds Locate answers.
const (
	KindApp      = "app"
	KindEndpoint = "endpoint"
	KindEvent    = "event"
	KindDelivery = "delivery"
	KindAttempt  = "attempt"
)

// Located is what an id names: its kind, its app and its own id; for an
// attempt, its delivery too.
type Located struct {
	Kind       string `json:"kind"`
	AppID      string `json:"app_id"`
	ID         string `json:"id"`
	DeliveryID string `json:"delivery_id,omitempty"`
}
