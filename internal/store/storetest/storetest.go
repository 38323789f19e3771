// Package storetest is the conformance suite of store.Store: every driver
// runs it from its own tests, so that all of them behave alike.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := mydriver.Open(...)
//			...
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite knows only the interface: anything specific to one database
// (pragmas, migrations, SQL) is tested in the driver's own package. Beyond
// the doc comments of store.Store, it expects what every driver must do
// alike: times kept to the microsecond, payloads, schemas and samples
// returned byte for byte (signatures are computed over the payload), ids
// that sort by creation (herald.NewID) ordering the lists and bounding
// time windows (see newIDAt), and empty subscription lists returned as empty,
// not nil.
package storetest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/oklog/ulid/v2"
)

// testCase is one subtest of the suite.
type testCase struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Run runs the conformance suite. newStore must return a new, empty store
// and register its cleanup with t.Cleanup; each subtest gets its own, so the
// subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	var cases []testCase
	cases = append(cases, appCases...)
	cases = append(cases, eventTypeCases...)
	cases = append(cases, endpointCases...)
	cases = append(cases, eventCases...)
	cases = append(cases, deliveryCases...)
	cases = append(cases, settingsCases...)
	cases = append(cases, healthCases...)
	cases = append(cases, manualCases...)
	cases = append(cases, opsCases...)
	cases = append(cases, tokenCases...)
	cases = append(cases, accessCases...)
	cases = append(cases, quotaCases...)
	cases = append(cases, keyParentCases...)
	cases = append(cases, livenessCases...)
	cases = append(cases, pullCases...)
	cases = append(cases, followCases...)
	cases = append(cases, failureCases...)
	cases = append(cases, templateCases...)
	cases = append(cases, orderingCases...)
	cases = append(cases, versionCases...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newStore(t))
		})
	}
}

// t0 is the suite's clock origin. It has nanoseconds so that the stores'
// truncation to microseconds is exercised.
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// us is t as stores return it: microsecond precision, UTC.
func us(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func usPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := us(*t)
	return &u
}

// --- fixtures ---------------------------------------------------------------

func newApp(uid string) *herald.App {
	return &herald.App{
		ID:        herald.NewID(herald.PrefixApp),
		UID:       uid,
		Name:      "App " + uid,
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func mkApp(t *testing.T, s store.Store, uid string) *herald.App {
	t.Helper()
	a := newApp(uid)
	if err := s.AppCreate(t.Context(), a); err != nil {
		t.Fatalf("AppCreate: %v", err)
	}
	return a
}

func newEndpoint(appID string, types ...string) *herald.Endpoint {
	id := herald.NewID(herald.PrefixEndpoint)
	if types == nil {
		types = []string{}
	}
	return &herald.Endpoint{
		ID:          id,
		AppID:       appID,
		Kind:        herald.EndpointPush,
		URL:         "https://example.com/hooks/" + id,
		Description: "endpoint " + id,
		EventTypes:  types,
		Enabled:     true,
		Secret:      "whsec_" + id,
		TimeoutMS:   1500,
		CreatedAt:   t0,
		UpdatedAt:   t0,
	}
}

func mkEndpoint(t *testing.T, s store.Store, appID string, types ...string) *herald.Endpoint {
	t.Helper()
	ep := newEndpoint(appID, types...)
	if err := s.EndpointCreate(t.Context(), ep); err != nil {
		t.Fatalf("EndpointCreate: %v", err)
	}
	return ep
}

// newIDAt returns a new id with prefix as herald.NewID would have made it
// at t. Drivers may bound time windows by ids (they sort by creation), so
// a row created at a chosen time needs an id of that time.
func newIDAt(prefix string, t time.Time) string {
	return prefix + strings.ToLower(ulid.MustNew(ulid.Timestamp(t), rand.Reader).String())
}

// routeNone stores events without any delivery.
func routeNone(*herald.Event, []*herald.Endpoint) []store.Target { return nil }

func newEvent(appID, eventType string, createdAt time.Time) *herald.Event {
	id := herald.NewID(herald.PrefixEvent)
	return &herald.Event{
		ID:        id,
		AppID:     appID,
		EventType: eventType,
		Payload:   herald.RawJSON(fmt.Sprintf(`{"id":%q,"n":1}`, id)),
		CreatedAt: createdAt,
	}
}

// enqueue stores events with p (Events replaced) and fails on any error,
// including a per-event one.
func enqueue(t *testing.T, s store.Store, p store.EnqueueParams, evs ...*herald.Event) []store.EnqueueResult {
	t.Helper()
	p.Events = evs
	res, err := s.EventsEnqueue(t.Context(), p)
	if err != nil {
		t.Fatalf("EventsEnqueue: %v", err)
	}
	if len(res) != len(evs) {
		t.Fatalf("EventsEnqueue: %d results for %d events", len(res), len(evs))
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("EventsEnqueue: event %d: %v", i, r.Err)
		}
	}
	return res
}

// routeAll routes to every subscribed endpoint without lease.
func routeAll(ev *herald.Event, eps []*herald.Endpoint) []store.Target {
	var ts []store.Target
	for _, ep := range eps {
		if ep.Subscribes(ev.EventType, "") {
			ts = append(ts, store.Target{Endpoint: ep})
		}
	}
	return ts
}

// mkDeliveries enqueues one event of type "test.event" per time, fanned
// out to the app's subscribed endpoints, and returns the deliveries'
// ids in creation order.
func mkDeliveries(t *testing.T, s store.Store, appID string, times ...time.Time) []string {
	t.Helper()
	var evs []*herald.Event
	for _, tm := range times {
		evs = append(evs, newEvent(appID, "test.event", tm))
	}
	var ids []string
	for _, r := range enqueue(t, s, store.EnqueueParams{Route: routeAll}, evs...) {
		for _, j := range r.Jobs {
			ids = append(ids, j.Delivery.ID)
		}
	}
	return ids
}

func claim(t *testing.T, s store.Store, p store.ClaimParams) []*store.Job {
	t.Helper()
	if p.Owner == "" {
		p.Owner = "node-1"
	}
	if p.LeaseUntil.IsZero() {
		p.LeaseUntil = p.Now.Add(time.Minute)
	}
	jobs, err := s.DeliveriesClaim(t.Context(), p)
	if err != nil {
		t.Fatalf("DeliveriesClaim: %v", err)
	}
	for _, j := range jobs {
		if j.Delivery == nil || j.Event == nil || j.Endpoint == nil {
			t.Fatalf("DeliveriesClaim: incomplete job %+v", j)
		}
		if !j.Leased || !j.LeaseUntil.Equal(p.LeaseUntil) {
			t.Errorf("DeliveriesClaim: job %s leased %v until %v, want until %v", j.Delivery.ID, j.Leased, j.LeaseUntil, p.LeaseUntil)
		}
	}
	return jobs
}

func jobIDs(jobs []*store.Job) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.Delivery.ID
	}
	return ids
}

func getDelivery(t *testing.T, s store.Store, appID, id string) *herald.Delivery {
	t.Helper()
	d, err := s.DeliveryGet(t.Context(), appID, id)
	if err != nil {
		t.Fatalf("DeliveryGet(%s): %v", id, err)
	}
	return d
}

// attempt returns a plausible attempt of a delivery that got a response.
func attempt(deliveryID string, number int, createdAt time.Time, status int) *herald.Attempt {
	a := &herald.Attempt{
		ID:         herald.NewID(herald.PrefixAttempt),
		DeliveryID: deliveryID,
		Number:     number,
		CreatedAt:  createdAt,
		Trigger:    herald.TriggerScheduled,
		Request: herald.AttemptRequest{
			Method:  "POST",
			URL:     "https://example.com/hooks",
			Headers: map[string]string{"Content-Type": "application/json", "Webhook-Id": deliveryID},
			Body:    `{"n":1}`,
		},
		Response: &herald.AttemptResponse{
			StatusCode:       status,
			Headers:          map[string]string{"Content-Length": "2"},
			HeadersTruncated: number%3 == 0,
			Body:             "ok",
			BodyTruncated:    number%2 == 0,
		},
		LatencyMS: 12.345 * float64(number),
	}
	if status < 200 || status > 299 {
		a.ErrorKind = herald.ErrorKindHTTPStatus
		a.Error = fmt.Sprintf("HTTP %d", status)
	}
	return a
}

func record(t *testing.T, s store.Store, rs ...store.AttemptResult) {
	t.Helper()
	if err := s.DeliveriesRecord(t.Context(), rs); err != nil {
		t.Fatalf("DeliveriesRecord: %v", err)
	}
}

// --- assertions -------------------------------------------------------------

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func noErr(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// equal compares got and want after bringing both to the precision stores
// keep (see norm), and reports the difference as JSON.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	g, w := norm(got), norm(want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got: %s\nwant: %s", what, dump(g), dump(w))
	}
}

func equalIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got: %v\nwant: %v", what, got, want)
	}
}

func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// norm returns a copy of v with times truncated to microseconds in UTC,
// latencies rounded to microseconds, empty documents as nil and nil
// subscription lists as empty ones. Slices of the known types are
// normalised element by element.
func norm(v any) any {
	switch x := v.(type) {
	case *herald.App:
		if x == nil {
			return x
		}
		c := *x
		c.CreatedAt, c.UpdatedAt = us(c.CreatedAt), us(c.UpdatedAt)
		return &c
	case []*herald.App:
		return normSlice(x)
	case *herald.EventType:
		if x == nil {
			return x
		}
		c := *x
		c.Schema, c.Sample = normJSON(c.Schema), normJSON(c.Sample)
		c.CreatedAt, c.UpdatedAt = us(c.CreatedAt), us(c.UpdatedAt)
		return &c
	case []*herald.EventType:
		return normSlice(x)
	case *herald.Endpoint:
		if x == nil {
			return x
		}
		c := *x
		if c.EventTypes == nil {
			c.EventTypes = []string{}
		}
		c.DisabledAt = usPtr(c.DisabledAt)
		c.CreatedAt, c.UpdatedAt = us(c.CreatedAt), us(c.UpdatedAt)
		return &c
	case []*herald.Endpoint:
		return normSlice(x)
	case *herald.BulkJob:
		if x == nil {
			return x
		}
		c := *x
		c.CreatedAt, c.UpdatedAt = us(c.CreatedAt), us(c.UpdatedAt)
		return &c
	case *herald.EndpointStats:
		if x == nil {
			return x
		}
		c := *x
		c.LastSuccessAt, c.LastFailureAt = usPtr(c.LastSuccessAt), usPtr(c.LastFailureAt)
		return &c
	case *herald.Event:
		if x == nil {
			return x
		}
		c := *x
		c.Payload = normJSON(c.Payload)
		c.CreatedAt = us(c.CreatedAt)
		c.PayloadExpiresAt = usPtr(c.PayloadExpiresAt)
		if len(c.Channels) == 0 {
			c.Channels = nil
		}
		if len(c.Tags) == 0 {
			c.Tags = nil
		}
		return &c
	case []*herald.Event:
		return normSlice(x)
	case *herald.Delivery:
		if x == nil {
			return x
		}
		c := *x
		c.NextAttemptAt = usPtr(c.NextAttemptAt)
		c.CreatedAt, c.UpdatedAt = us(c.CreatedAt), us(c.UpdatedAt)
		if c.Attempts != nil {
			c.Attempts = normSlice(c.Attempts)
		}
		return &c
	case []*herald.Delivery:
		return normSlice(x)
	case *herald.Attempt:
		if x == nil {
			return x
		}
		c := *x
		c.CreatedAt = us(c.CreatedAt)
		c.LatencyMS = math.Round(c.LatencyMS*1000) / 1000
		return &c
	case []*herald.Attempt:
		return normSlice(x)
	case *herald.APIKey:
		if x == nil {
			return x
		}
		c := *x
		c.ExpiresAt = usPtr(c.ExpiresAt)
		c.CreatedAt = us(c.CreatedAt)
		return &c
	case []*herald.APIKey:
		return normSlice(x)
	case *herald.AuditEntry:
		if x == nil {
			return x
		}
		c := *x
		c.At = us(c.At)
		c.Changes = normJSON(c.Changes)
		return &c
	case []*herald.AuditEntry:
		return normSlice(x)
	}
	return v
}

func normSlice[T any](xs []T) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = norm(x).(T)
	}
	return out
}

func normJSON(r herald.RawJSON) herald.RawJSON {
	if len(r) == 0 {
		return nil
	}
	return r
}
