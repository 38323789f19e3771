package store

import (
	"fmt"
	"time"

	"github.com/heraldhq/herald"
)

// CheckAttemptResults refuses a DeliveriesRecord batch before anything is
// written: every result needs an attempt and a valid status.
func CheckAttemptResults(results []AttemptResult) error {
	for i, r := range results {
		if r.Attempt == nil {
			return fmt.Errorf("result %d: no attempt", i)
		}
		if !r.Status.Valid() {
			return fmt.Errorf("delivery %q: invalid status %q", r.Attempt.DeliveryID, r.Status)
		}
	}
	return nil
}

// RecordRow is what DeliveriesRecord writes for one result besides the
// attempt's plain fields.
type RecordRow struct {
	// AttemptAt is the attempt's time: its CreatedAt, or the result's Now.
	AttemptAt time.Time
	Attempt   AttemptColumns
	// NextAttemptAt is the delivery's next attempt time: NextAttemptAt
	// (or Now) while pending, nil once finished.
	NextAttemptAt *time.Time
	// LastError is the delivery's last error: the attempt's, cleared by a
	// success. LastErrorKind is the attempt's error kind, likewise.
	LastError     string
	LastErrorKind herald.ErrorKind
}

// PrepareRecord returns the row of one checked result. An attempt without
// ID gets a new one, written back, so that the caller knows what was
// stored.
func PrepareRecord(r AttemptResult) (RecordRow, error) {
	a := r.Attempt
	if a.ID == "" {
		a.ID = herald.NewID(herald.PrefixAttempt)
	}
	row := RecordRow{AttemptAt: a.CreatedAt, LastError: a.Error, LastErrorKind: a.ErrorKind}
	if row.AttemptAt.IsZero() {
		row.AttemptAt = r.Now
	}
	var err error
	if row.Attempt, err = EncodeAttempt(a, r.EventPayload); err != nil {
		return row, err
	}
	switch r.Status {
	case herald.StatusPending:
		t := r.Now
		if r.NextAttemptAt != nil {
			t = *r.NextAttemptAt
		}
		row.NextAttemptAt = &t
	case herald.StatusSucceeded:
		row.LastError, row.LastErrorKind = "", ""
	}
	return row, nil
}

// DeliveryTimes returns when a delivery given to DeliveriesCreate or
// TestSendRecord is due and last updated: a nil NextAttemptAt means due at
// CreatedAt, and a zero UpdatedAt means CreatedAt.
func DeliveryTimes(d *herald.Delivery) (next, updated time.Time) {
	next = d.CreatedAt
	if d.NextAttemptAt != nil {
		next = *d.NextAttemptAt
	}
	updated = d.UpdatedAt
	if updated.IsZero() {
		updated = d.CreatedAt
	}
	return next, updated
}

// TestSendRow is what TestSendRecord writes besides the plain fields of
// its event, delivery and attempt.
type TestSendRow struct {
	Routing *string
	// Labels are the event's channels and tags columns.
	Labels  EventLabels
	Attempt AttemptColumns
	// Number is the attempt's number: its own, or the delivery's attempt
	// count (at least 1).
	Number int
	// UpdatedAt is the delivery's (see DeliveryTimes); AttemptAt is the
	// attempt's CreatedAt, or else the delivery's UpdatedAt.
	UpdatedAt, AttemptAt time.Time
}

// PrepareTestSend checks and converts a test send before anything is
// written. An attempt without ID gets one and one without delivery gets
// d's, both written back.
func PrepareTestSend(ev *herald.Event, d *herald.Delivery, a *herald.Attempt) (TestSendRow, error) {
	var row TestSendRow
	if !d.Status.Valid() {
		return row, fmt.Errorf("delivery %q: invalid status %q", d.ID, d.Status)
	}
	var err error
	if row.Routing, err = RoutingJSON(ev.Routing); err != nil {
		return row, fmt.Errorf("event %q: routing: %w", ev.ID, err)
	}
	if row.Labels, err = EncodeEventLabels(ev); err != nil {
		return row, fmt.Errorf("event %q: %w", ev.ID, err)
	}
	if a.ID == "" {
		a.ID = herald.NewID(herald.PrefixAttempt)
	}
	if a.DeliveryID == "" {
		a.DeliveryID = d.ID
	}
	if row.Attempt, err = EncodeAttempt(a, ev.Payload); err != nil {
		return row, err
	}
	row.Number = a.Number
	if row.Number <= 0 {
		row.Number = max(d.AttemptCount, 1)
	}
	_, row.UpdatedAt = DeliveryTimes(d)
	row.AttemptAt = a.CreatedAt
	if row.AttemptAt.IsZero() {
		row.AttemptAt = row.UpdatedAt
	}
	return row, nil
}
