package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/heraldhq/herald"
)

// ErrQuotaExceeded: the write would take an app past its monthly delivery
// quota, so it was not made. The error is a *QuotaError.
var ErrQuotaExceeded = errors.New("monthly delivery quota exceeded")

// QuotaError is a write refused for an app's monthly delivery quota
// (herald.AppSettings.MonthlyDeliveryQuota).
type QuotaError struct {
	AppID string
	// Month is the usage month the write would have counted in
	// (UsageMonth).
	Month string
	Quota int64
	// Used is what the month had counted before the write; Want what the
	// write would have added.
	Used, Want int64
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("app %s: %d more deliveries would pass its monthly delivery quota of %d for %s (%d used)",
		e.AppID, e.Want, e.Quota, e.Month, e.Used)
}

// Unwrap makes errors.Is(err, ErrQuotaExceeded) hold.
func (e *QuotaError) Unwrap() error { return ErrQuotaExceeded }

// Remaining is how many more deliveries the quota allows in the month.
func (e *QuotaError) Remaining() int64 { return max(0, e.Quota-e.Used) }

// QuotaExempt reports whether deliveries of an event type are counted but
// never refused for the quota: Herald's own events to an app's
// operational webhook (an endpoint disabled, ...), which the app did not
// send and most needs once it is out of quota.
func QuotaExempt(eventType string) bool {
	return strings.HasPrefix(eventType, herald.OperationalPrefix)
}

// Quotas checks, inside one transaction, the deliveries it creates against
// their apps' monthly quotas, and counts them. The driver tells it each
// app's quota (SetQuota, read in the transaction) and gives it a way to
// read a month's usage as the transaction sees it, under a lock that
// every writer counting usage for an app with a quota takes, so that two
// transactions never both spend the same remainder. Take then admits or
// refuses each write; Counts holds what was admitted (of every app, with
// a quota or not), for the driver to add to the usage table before the
// commit.
type Quotas struct {
	Counts UsageCounts
	quota  map[string]int64
	used   map[UsageKey]int64
	load   func(UsageKey) (int64, error)
}

// NewQuotas returns an empty ledger; load reads one app's usage of one
// month in the transaction (0 when there is no row).
func NewQuotas(load func(UsageKey) (int64, error)) *Quotas {
	return &Quotas{Counts: UsageCounts{}, quota: map[string]int64{}, used: map[UsageKey]int64{}, load: load}
}

// SetQuota records an app's monthly delivery quota; 0 (or never set)
// means none.
func (q *Quotas) SetQuota(appID string, quota int64) {
	if quota > 0 {
		q.quota[appID] = quota
	}
}

// Limited reports whether the app has a quota.
func (q *Quotas) Limited(appID string) bool { return q.quota[appID] > 0 }

// Take counts n deliveries of the app in month k.Month, unless that would
// take it past its quota: then it counts nothing and returns a
// *QuotaError. A write either fits whole or is refused whole, so the
// usage never passes the quota.
func (q *Quotas) Take(k UsageKey, n int64) error {
	if n <= 0 {
		return nil
	}
	if quota := q.quota[k.AppID]; quota > 0 {
		used, ok := q.used[k]
		if !ok {
			var err error
			if used, err = q.load(k); err != nil {
				return fmt.Errorf("usage of app %s in %s: %w", k.AppID, k.Month, err)
			}
			q.used[k] = used
		}
		if used+q.Counts[k]+n > quota {
			return &QuotaError{AppID: k.AppID, Month: k.Month, Quota: quota, Used: used + q.Counts[k], Want: n}
		}
	}
	q.Counts[k] += n
	return nil
}

// TakeEvent is Take for the n deliveries of an event, counted in the
// month it was created; those of Herald's own events are counted without
// a check (QuotaExempt). A refusal concerns that event alone: it is
// returned apart from a failure (err), which ends the transaction.
func (q *Quotas) TakeEvent(ev *herald.Event, n int) (refused *QuotaError, err error) {
	k := UsageKey{AppID: ev.AppID, Month: UsageMonth(ev.CreatedAt)}
	if QuotaExempt(ev.EventType) {
		q.Count(k, int64(n))
		return nil, nil
	}
	err = q.Take(k, int64(n))
	if errors.As(err, &refused) {
		return refused, nil
	}
	return nil, err
}

// Count counts n deliveries of the app in month k.Month without checking
// its quota (Herald's own events, see QuotaExempt).
func (q *Quotas) Count(k UsageKey, n int64) {
	if n > 0 {
		q.Counts[k] += n
	}
}
