// Package store is the storage contract of Herald: one interface that every
// driver (SQLite by default, PostgreSQL for several nodes) implements and that
// one conformance suite (storetest) checks.
//
// The contract works in batches where the hot path needs it: events are
// enqueued many at a time (group commit), due deliveries are claimed many at
// a time, and attempt results are recorded many at a time. Every call that
// depends on time takes it from its Params, so tests control the clock.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
)

// Sentinel errors. Drivers wrap them; callers test with errors.Is.
var (
	// ErrNotFound: the thing asked for does not exist (or belongs to
	// another app).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name or uid is already taken.
	ErrConflict = errors.New("already exists")
	// ErrLimit: a cap on what one app may hold is reached (see
	// LimitError).
	ErrLimit = errors.New("limit reached")
	// ErrCursor: a cursor given to AttemptsFollow was not made by it.
	ErrCursor = errors.New("invalid cursor")
	// ErrLeaseLost: a result was recorded for a delivery whose lease the
	// recorder no longer holds (see LeaseLostError).
	ErrLeaseLost = errors.New("lease lost")
)

// LeaseLostError is the ErrLeaseLost of DeliveriesRecord: the results of
// the deliveries named were refused, because their lease had been
// released or taken by another node (the recorder was presumed dead),
// while the other results were stored. A node that gets it must not
// retry those results: whoever holds the deliveries now sends them.
type LeaseLostError struct {
	DeliveryIDs []string
}

// Error names how many results were refused.
func (e *LeaseLostError) Error() string {
	return fmt.Sprintf("%v: %d results refused", ErrLeaseLost, len(e.DeliveryIDs))
}

// Unwrap makes errors.Is(err, ErrLeaseLost) hold.
func (e *LeaseLostError) Unwrap() error { return ErrLeaseLost }

// LimitError is the ErrLimit of a cap that frees itself as things
// expire: Until is when the soonest of them does.
type LimitError struct {
	What  string
	Max   int
	Until time.Time
}

// Error names what is capped and the cap.
func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %v: %d alive already, the most allowed", e.What, ErrLimit, e.Max)
}

// Unwrap makes errors.Is(err, ErrLimit) hold.
func (e *LimitError) Unwrap() error { return ErrLimit }

// Store is the storage contract. All methods are safe for concurrent use.
type Store interface {
	// AppCreate stores a new app. ErrConflict when its UID is taken.
	AppCreate(ctx context.Context, app *herald.App) error
	// AppGet finds an app by its id or by its uid. ErrNotFound.
	AppGet(ctx context.Context, idOrUID string) (*herald.App, error)
	// AppList lists apps, newest first.
	AppList(ctx context.Context, p ListParams) ([]*herald.App, error)
	// AppUpdate saves name and uid of an existing app (matched by ID) and
	// its UpdatedAt. ErrNotFound, ErrConflict.
	AppUpdate(ctx context.Context, app *herald.App) error
	// Failures groups the deliveries p selects by endpoint and cause
	// (GroupFailures), reading at most p's scan bound of them, newest
	// first.
	Failures(ctx context.Context, p FailuresParams) (*FailuresReport, error)
	// AppHealth summarizes one app: its endpoints failing now, its
	// deliveries created since since that failed or are pending (of the
	// newest HealthMaxScan of them at most), its last event's time. It exists for
	// pages that show many apps at once: every query is bounded.
	AppHealth(ctx context.Context, appID string, since time.Time) (*AppHealth, error)
	// Locate finds what id names: an endpoint, event, delivery or
	// attempt by its id, of appID or of any app when appID is empty; with
	// appID, the latest event whose idempotency key is id when no id
	// matches. Apps are found with AppGet. ErrNotFound.
	Locate(ctx context.Context, appID, id string) (*Located, error)

	// AppDelete removes an app with its endpoints, endpoint templates, events, deliveries,
	// attempts and API keys; its audit entries stay, so the history of a
	// deleted tenant remains readable. ErrNotFound.
	AppDelete(ctx context.Context, appID string) error

	// EventTypeCreate stores a new event type. ErrConflict.
	EventTypeCreate(ctx context.Context, et *herald.EventType) error
	// EventTypeGet finds an event type by exact name. ErrNotFound.
	EventTypeGet(ctx context.Context, name string) (*herald.EventType, error)
	// EventTypeList lists event types by name, ascending; the cursor is
	// the last name seen.
	EventTypeList(ctx context.Context, p ListParams) ([]*herald.EventType, error)
	// EventTypeUpdate saves description, schema, sample and UpdatedAt of
	// the event type named et.Name, not its versions. ErrNotFound.
	EventTypeUpdate(ctx context.Context, et *herald.EventType) error
	// EventTypeSetVersions saves et.Versions and UpdatedAt if the stored
	// versions are still was (EncodeVersions of those read), so that two
	// changes at once cannot lose one: ErrConflict otherwise, ErrNotFound
	// when the type is gone.
	EventTypeSetVersions(ctx context.Context, et *herald.EventType, was string) error
	// EventTypeDelete removes an event type. Events and subscriptions that
	// name it are left as they are. ErrNotFound.
	EventTypeDelete(ctx context.Context, name string) error

	// EndpointCreate stores a new endpoint of an existing app. An empty
	// Kind is stored, and written back, as herald.EndpointPush.
	// ErrConflict when the id is taken, or the UID by another live
	// endpoint of the app (EndpointUpdate too).
	EndpointCreate(ctx context.Context, ep *herald.Endpoint) error
	// EndpointGet finds an endpoint of one app. ErrNotFound, also when it
	// belongs to another app.
	EndpointGet(ctx context.Context, appID, id string) (*herald.Endpoint, error)
	// EndpointList lists an app's endpoints, newest first.
	EndpointList(ctx context.Context, appID string, p ListParams) ([]*herald.Endpoint, error)
	// EndpointUpdate saves every field but Kind (which never changes) of
	// an existing endpoint (matched by AppID and ID). ErrNotFound.
	EndpointUpdate(ctx context.Context, ep *herald.Endpoint) error
	// EndpointDelete removes an endpoint from the app's list. Its pending
	// deliveries become failed with the error "endpoint deleted"; its
	// history stays readable. ErrNotFound.
	EndpointDelete(ctx context.Context, appID, id string, now time.Time) error

	// EndpointTemplateCreate stores a new endpoint template of an
	// existing app. ErrConflict when the id is taken.
	EndpointTemplateCreate(ctx context.Context, t *herald.EndpointTemplate) error
	// EndpointTemplateGet finds a template of one app. ErrNotFound, also
	// when it belongs to another app.
	EndpointTemplateGet(ctx context.Context, appID, id string) (*herald.EndpointTemplate, error)
	// EndpointTemplateList lists an app's templates, newest first.
	EndpointTemplateList(ctx context.Context, appID string, p ListParams) ([]*herald.EndpointTemplate, error)
	// EndpointTemplateUpdate saves every field of an existing template
	// (matched by AppID and ID) but CreatedAt. ErrNotFound.
	EndpointTemplateUpdate(ctx context.Context, t *herald.EndpointTemplate) error
	// EndpointTemplateDelete removes a template. ErrNotFound.
	EndpointTemplateDelete(ctx context.Context, appID, id string) error

	// EventsEnqueue stores many events and their deliveries in one
	// transaction (group commit): it returns only after the commit is
	// durable. For each event it reads the app's enabled endpoints inside
	// the transaction and asks p.Route which receive it. A failure that
	// concerns one event only (its app is gone) is reported in that
	// event's result and does not stop the others; any other failure
	// returns an error and commits nothing.
	//
	// The deliveries count in their app's usage for the month of the
	// event's CreatedAt, checked in the same transaction: an event whose
	// deliveries, added to what the month (and the batch before it)
	// counted, would pass its app's MonthlyDeliveryQuota is not stored,
	// and its result's Err is a *QuotaError. Herald's own events
	// (QuotaExempt) count but are never refused.
	EventsEnqueue(ctx context.Context, p EnqueueParams) ([]EnqueueResult, error)
	// EventGet finds an event of one app. ErrNotFound.
	EventGet(ctx context.Context, appID, id string) (*herald.Event, error)
	// EventList lists an app's events, newest first.
	EventList(ctx context.Context, p EventListParams) ([]*herald.Event, error)
	// EventFind finds an app's events, newest first, whose payload field
	// (or idempotency key) is one of some values, among its newest
	// events that still hold their payload (see EventFindParams).
	EventFind(ctx context.Context, p EventFindParams) ([]*herald.Event, error)

	// DeliveryGet finds a delivery of one app, with all its attempts in
	// order. ErrNotFound.
	DeliveryGet(ctx context.Context, appID, id string) (*herald.Delivery, error)
	// DeliveryList lists deliveries, newest first, each with its attempts
	// when p.WithAttempts is set.
	DeliveryList(ctx context.Context, p DeliveryListParams) ([]*herald.Delivery, error)

	// AttemptsFollow returns the attempts of p.AppID recorded after
	// p.Cursor, in the order they became visible, at most p.Limit (see
	// ListLimit), each with the cursor that resumes after it. A driver
	// may hold an attempt back until every transaction that began before
	// it ended (PostgreSQL does: a long transaction delays followers, it
	// never makes them miss an attempt). An empty
	// Cursor returns no attempt and the cursor of the app's latest
	// attempt, so that a follower starts from now. Attempts committed by
	// any node are returned once and never behind a cursor already
	// returned, so a follower that polls with the last cursor misses
	// none and sees none twice. A cursor not made by the driver:
	// ErrCursor.
	AttemptsFollow(ctx context.Context, p FollowParams) (FollowPage, error)

	// DeliveriesClaim leases due deliveries of enabled endpoints Herald
	// sends to (push and broker kinds) to p.Owner and returns them with
	// their event and endpoint, oldest due first. Pull endpoints'
	// deliveries are DeliveriesPull's. A delivery with an ordering key is
	// taken only when no other delivery of its endpoint and key is in
	// flight (leased, lease running) and none accepted before it is
	// pending, or failed and not skipped on an endpoint whose
	// OrderingOnFailure is OrderingPause: one at a time per key, in
	// acceptance order, on every node.
	DeliveriesClaim(ctx context.Context, p ClaimParams) ([]*Job, error)
	// DeliveriesRecord stores attempt results: for each, it inserts the
	// attempt, sets the delivery's status, attempt count, next attempt
	// time and last error, and clears its lease, all in one transaction.
	// Results for deliveries that no longer exist are skipped. A result
	// with an Owner is stored only while that owner holds the delivery's
	// lease (fencing); the others are stored and a *LeaseLostError names
	// the refused ones.
	DeliveriesRecord(ctx context.Context, results []AttemptResult) error
	// DeliveriesPull hands out due deliveries of one pull endpoint of
	// p.AppID, oldest due first, at most p.Limit: pending, due at p.Now,
	// and not leased or leased until before p.Now (handed out earlier and
	// never acknowledged). Each is leased to PullOwner until p.Until, so
	// that no other call hands it out before then, with its event and
	// endpoint. Nothing when the endpoint is disabled, deleted, not the
	// app's or not a pull endpoint.
	DeliveriesPull(ctx context.Context, p PullParams) ([]*Job, error)
	// DeliveriesRelease clears the leases of the given deliveries held by
	// owner, without recording an attempt, so that they can be claimed
	// again (on shutdown, or when their endpoint is disabled).
	DeliveriesRelease(ctx context.Context, owner string, ids []string) error
	// LeasesExtend moves every lease held by owner on pending deliveries
	// to until, so work queued in memory is not taken over by another node.
	LeasesExtend(ctx context.Context, owner string, until time.Time) error
	// LeasesReleaseAll clears every lease but PullOwner's and forgets
	// every node's heartbeat. A single-node store calls it at start-up: any lease and
	// heartbeat then belongs to a process that is gone.
	LeasesReleaseAll(ctx context.Context) error
	// LeasesReleaseDead clears every lease (but PullOwner's) whose owner
	// has no heartbeat at or after now-within (a node that died, or left
	// without giving its leases back), so that its deliveries go out now
	// rather than when the lease runs out. It returns how many leases it cleared. It
	// never waits for a row another transaction holds: such a lease is
	// left for the next call.
	LeasesReleaseDead(ctx context.Context, now time.Time, within time.Duration) (int, error)
	// NextDueAt returns when the earliest unleased pending delivery of an
	// enabled endpoint Herald sends to (not pull) becomes due, or nil when
	// there is none.
	NextDueAt(ctx context.Context) (*time.Time, error)

	// EndpointDisable turns an enabled endpoint off by Herald's own
	// decision (a 410 answer), recording reason and time. It returns the
	// updated endpoint, or nil when it was already disabled. ErrNotFound.
	EndpointDisable(ctx context.Context, appID, id, reason string, now time.Time) (*herald.Endpoint, error)
	// EndpointsTrackHealth records, per endpoint, whether its deliveries
	// keep failing: a success clears the record, a failure starts it (or
	// counts one more). An enabled endpoint failing since at least
	// p.Window ago with at least p.MinFailures failures is disabled (as
	// by EndpointDisable); those are returned.
	EndpointsTrackHealth(ctx context.Context, p HealthParams) ([]*herald.Endpoint, error)
	// EndpointStats summarises an endpoint's deliveries of the last hour,
	// day and week before now. ErrNotFound when the endpoint (even
	// deleted) is not the app's.
	EndpointStats(ctx context.Context, appID, id string, now time.Time) (*herald.EndpointStats, error)

	// DeliveriesCreate stores deliveries of existing events (a manual
	// send of chosen events): pending, unleased, due at NextAttemptAt.
	// Those not Test count in their app's usage for the month of their
	// CreatedAt; when they would pass the app's quota, none is stored and
	// a *QuotaError is returned.
	DeliveriesCreate(ctx context.Context, ds []*herald.Delivery) error
	// DeliveryJob returns a delivery with its event and its endpoint, to
	// send it again. ErrNotFound, also when its endpoint was deleted.
	DeliveryJob(ctx context.Context, appID, id string) (*Job, error)
	// DeliveriesRequeue makes the given deliveries of the app pending and
	// due at now, clearing leases; it returns how many changed. Those of
	// deleted endpoints are left alone. Each one changed counts in the
	// app's usage for the month of now; when they would pass the app's
	// quota, none changes and a *QuotaError is returned (its Want: how
	// many would have).
	DeliveriesRequeue(ctx context.Context, appID string, ids []string, now time.Time) (int, error)
	// DeliverySkip marks a failed delivery of the app skipped (its status
	// stays failed), so that on an endpoint with ordering_on_failure
	// "pause" the later deliveries of its ordering key go on. It returns
	// the delivery as stored; ErrNotFound when the app has no such
	// delivery, ErrConflict when it is not failed.
	DeliverySkip(ctx context.Context, appID, id string, now time.Time) (*herald.Delivery, error)
	// OrderingBlocked lists the ordering keys of the app's endpoint that a
	// failed, unskipped delivery holds (they wait only when the endpoint
	// pauses keys on failure), by key, at most limit (ListLimit bounds it).
	OrderingBlocked(ctx context.Context, appID, endpointID string, limit int) ([]BlockedKey, error)
	// TestSendRecord stores a test send: its event, its delivery (with
	// Test set and its final status) and its one attempt, in one
	// transaction.
	TestSendRecord(ctx context.Context, ev *herald.Event, d *herald.Delivery, a *herald.Attempt) error

	// BulkJobCreate, BulkJobUpdate and BulkJobGet keep background jobs'
	// progress. Update saves state, total, done, error and UpdatedAt.
	BulkJobCreate(ctx context.Context, j *herald.BulkJob) error
	BulkJobUpdate(ctx context.Context, j *herald.BulkJob) error
	BulkJobGet(ctx context.Context, appID, id string) (*herald.BulkJob, error)

	// UsageGet returns how many deliveries the app used in the calendar
	// month (UTC) that contains at: those its events and manual sends
	// created, those recoveries requeued and the resends, each counted
	// by the call that made it.
	UsageGet(ctx context.Context, appID string, at time.Time) (int64, error)
	// UsageCharge counts n deliveries sent again on request (a resend)
	// in the app's usage for the month of at, in one transaction, unless
	// that would pass the app's quota: then it counts nothing and returns
	// a *QuotaError. ErrNotFound when the app does not exist.
	UsageCharge(ctx context.Context, appID string, n int, at time.Time) error

	// QueueStats counts pending deliveries and reports the earliest due
	// time among those due at now, for metrics.
	QueueStats(ctx context.Context, now time.Time) (QueueStats, error)

	// Retain removes events created before `before`, with their
	// deliveries and attempts, at most Batch events per call so that no
	// lock is held for long; callers repeat until Done. Pending
	// deliveries are removed too: they are older than the retention.
	// Bulk jobs finished and API keys expired before `before` go as well.
	Retain(ctx context.Context, p RetainParams) (RetainResult, error)
	// EventPayloadsExpire removes the payloads of events whose payload
	// expiry is at or before p.Now, at most Batch events per call (the
	// oldest expiry first); callers repeat until Done. Each event keeps
	// its row with no payload and PayloadExpired set; its attempts lose
	// their stored request bodies (which hold or derive from the
	// payload); its deliveries still pending fail with the last error
	// "payload expired".
	EventPayloadsExpire(ctx context.Context, p PayloadExpireParams) (PayloadExpireResult, error)

	// NodeHeartbeat records that node is alive at now and returns how
	// many nodes were alive within the last `within` (at least 1), so
	// that cluster-wide limits can be shared out between nodes.
	NodeHeartbeat(ctx context.Context, node string, now time.Time, within time.Duration) (int, error)
	// NodeLeave forgets node's heartbeat and clears every lease it holds:
	// a node stopping cleanly calls it last, so that the others count it
	// out and take its deliveries at once.
	NodeLeave(ctx context.Context, node string) error
	// NodesLeaveEarlier forgets the heartbeats of the nodes whose name
	// starts with prefix, other than node, and clears their leases; it
	// returns how many leases. A process whose name starts with what is
	// its own alone (its host and the address it listens on) calls it
	// at start: those nodes are its earlier runs, gone.
	NodesLeaveEarlier(ctx context.Context, prefix, node string) (int, error)

	// WatchDue calls fn whenever another node may have made deliveries
	// due (new unleased deliveries, requeues, released leases), until ctx
	// ends. A single-node store returns nil at once.
	WatchDue(ctx context.Context, fn func()) error

	// APIKeyCreate stores a key (its hash, never the key). ErrConflict
	// on a taken id or hash; ErrNotFound when its app, or the key named
	// by its ParentID, does not exist.
	APIKeyCreate(ctx context.Context, k *herald.APIKey) error
	// APIKeyCreateLimited is APIKeyCreate unless k's app already has max
	// keys of k's scope alive at now (not expired): then it stores
	// nothing and returns a *LimitError. Counted and stored in one step,
	// so that concurrent calls, on any node, never pass max together.
	APIKeyCreateLimited(ctx context.Context, k *herald.APIKey, max int, now time.Time) error
	// APIKeyByHash finds a key by the hash of its secret. ErrNotFound,
	// also for a key whose parent is gone.
	APIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error)
	// APIKeyList lists keys, newest first; AppID filters when set.
	APIKeyList(ctx context.Context, appID string, p ListParams) ([]*herald.APIKey, error)
	// APIKeyDelete removes a key and the keys it minted (ParentID),
	// together. ErrNotFound.
	APIKeyDelete(ctx context.Context, id string) error

	// AuditAppend records a change.
	AuditAppend(ctx context.Context, e *herald.AuditEntry) error
	// AuditList lists entries, newest first; AppID filters when set
	// (only that app's entries), else all.
	AuditList(ctx context.Context, appID string, p ListParams) ([]*herald.AuditEntry, error)

	// TokenGet returns the access token kept for a credential (key is a
	// hash of it) and when it expires; ErrNotFound when none. TokenPut
	// keeps one, replacing any. Nodes share tokens through these, so a
	// token server sees one request per credential, not one per node.
	TokenGet(ctx context.Context, key string) (string, time.Time, error)
	TokenPut(ctx context.Context, key, token string, expires time.Time) error

	// Close releases the store's resources.
	Close() error
}

// NodesForgetAfter is how many `within` periods of NodeHeartbeat a
// node's row outlives its last heartbeat: long enough that a node pausing
// briefly keeps its row, short enough that the table holds only recent
// nodes.
const NodesForgetAfter = 10

// QueueStats describes the delivery queue.
type QueueStats struct {
	// Pending counts pending deliveries; Due those due now.
	Pending int64
	Due     int64
	// OldestDue is the earliest next attempt time among due deliveries;
	// zero when none is due.
	OldestDue time.Time
}

// RetainParams is one step of removing old data.
type RetainParams struct {
	Before time.Time
	Batch  int
}

// DefaultRetainBatch applies when RetainParams.Batch is not above 0.
const DefaultRetainBatch = 1000

// BatchSize is how many events one Retain call removes at most.
func (p RetainParams) BatchSize() int {
	if p.Batch <= 0 {
		return DefaultRetainBatch
	}
	return p.Batch
}

// RetainResult counts what one Retain call removed.
type RetainResult struct {
	Events, Deliveries, Attempts int64
	// Done is set when nothing older than Before remains.
	Done bool
}

// PayloadExpireParams is one step of removing expired payloads: those
// due at or before Now, at most Batch events (DefaultRetainBatch when
// not above 0).
type PayloadExpireParams struct {
	Now   time.Time
	Batch int
}

// PayloadExpireResult counts what one EventPayloadsExpire call changed.
type PayloadExpireResult struct {
	// Events lost their payload, Attempts their request body,
	// Deliveries (pending ones) failed.
	Events, Deliveries, Attempts int64
	// Done is set when no payload due by Now remains.
	Done bool
}

// LastErrorPayloadExpired is the last error of a delivery failed because
// its event's payload expired before it was sent.
const LastErrorPayloadExpired = "payload expired"

// HealthParams is one batch of delivery outcomes for EndpointsTrackHealth.
type HealthParams struct {
	Results []HealthResult
	// An endpoint failing for Window with at least MinFailures failed
	// deliveries is disabled; Window 0 disables nothing.
	Window      time.Duration
	MinFailures int
	Now         time.Time
}

// HealthResult is the final outcome of one delivery of an endpoint.
type HealthResult struct {
	AppID      string
	EndpointID string
	Succeeded  bool
}

// MaxListLimit caps every list call.
const MaxListLimit = 1000

// ListLimit is how many rows a list call asked for n returns: 50 unless
// asked otherwise, never more than MaxListLimit, the same in every driver.
func ListLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > MaxListLimit:
		return MaxListLimit
	}
	return n
}

// ListParams pages through a list: Cursor is the last id (or name) of the
// previous page, empty for the first; Limit is how many rows to return.
type ListParams struct {
	Cursor string
	Limit  int
}

// EventListParams filters and pages an app's events.
type EventListParams struct {
	AppID     string
	EventType string    // exact name; empty for all
	Since     time.Time // created at or after; zero for no bound
	Until     time.Time // created before; zero for no bound
	// EventTypes keeps events of any of these exact names (with
	// EventType, of both: one of these and that one); empty for all.
	EventTypes []string
	// Channel and Tag keep events carrying that channel or tag;
	// IdempotencyKey those created with that key. Empty for all.
	Channel        string
	Tag            string
	IdempotencyKey string
	ListParams
}

// EventFindParams picks an app's events by the product's own keys: a
// payload field or the idempotency key.
type EventFindParams struct {
	AppID string
	// Path is the payload field, one object key per level (["lead",
	// "id"] for lead.id); nil matches the idempotency key instead.
	Path []string
	// Values are compared as text: a string field by its value, a number
	// by its JSON text; fields of other types never match.
	Values []string
	// Scan bounds the search to the app's Scan newest events (created at
	// or after Since when Since is set), so that a search costs the same
	// whatever the app's history.
	Scan  int
	Since time.Time
	// Now leaves out events whose payload is removed or due for removal.
	Now time.Time
	// Limit is the most events returned.
	Limit int
}

// DeliveryListParams filters and pages deliveries of one app (of every app
// when AppID is empty: the operator's search), optionally of one event or
// one endpoint.
type DeliveryListParams struct {
	AppID      string
	EventID    string
	EndpointID string
	// EventTypes are exact names, any of which matches; empty for all.
	EventTypes []string
	// Channel keeps the deliveries of events carrying that channel.
	Channel string
	Status  herald.DeliveryStatus // empty for all
	// Failure keeps the failed deliveries whose fault lies there (by
	// their last error kind); empty for all.
	Failure herald.Failure
	Since   time.Time // created at or after; zero for no bound
	Until   time.Time // created before; zero for no bound
	// The Last* filters look at the delivery's latest attempt, the one
	// that tells why it stands where it does; a delivery not attempted
	// yet matches none of them. LastStatusMin and LastStatusMax bound
	// the response status (inclusive; 0 for no bound), and a bound
	// leaves out attempts that got no response.
	LastStatusMin, LastStatusMax int
	LastErrorKind                herald.ErrorKind // empty for any
	LastMinLatency               time.Duration    // 0 for no bound
	WithAttempts                 bool
	ListParams
}

// FiltersLastAttempt reports whether p filters on the latest attempt.
func (p DeliveryListParams) FiltersLastAttempt() bool {
	return p.LastStatusMin > 0 || p.LastStatusMax > 0 || p.LastErrorKind != "" || p.LastMinLatency > 0
}

// EnqueueParams is one group commit of events.
type EnqueueParams struct {
	// Events to store. The caller sets ID, AppID, EventType, Payload,
	// IdempotencyKey and CreatedAt.
	Events []*herald.Event
	// Route picks, from the app's enabled endpoints read inside the
	// transaction, those that receive ev, and says for each whether the
	// new delivery is leased to LeaseOwner at once (the caller will send
	// it from memory) or left for a later claim. It may set ev.Routing,
	// which is stored with the event: Route is called before the event
	// is written.
	Route func(ev *herald.Event, endpoints []*herald.Endpoint) []Target
	// LeaseOwner and LeaseUntil are written on deliveries whose Target
	// asks for a lease.
	LeaseOwner string
	LeaseUntil time.Time
	// IdempotencySince: an event of the same app with the same
	// idempotency key created at or after this time is a duplicate.
	IdempotencySince time.Time
	// NewDeliveryID makes delivery ids; nil means herald.NewID.
	NewDeliveryID func() string
	// LeasedOnly: the results' Jobs hold the leased deliveries only
	// (Deliveries counts them all), so that a fan-out to thousands of
	// endpoints is not held in memory by a caller that sends only what
	// it leased.
	LeasedOnly bool
}

// Target is one endpoint chosen by EnqueueParams.Route.
type Target struct {
	Endpoint *herald.Endpoint
	Lease    bool
}

// EnqueueResult tells what became of one event of an EnqueueParams, in the
// same order.
type EnqueueResult struct {
	// Event is the stored event: for a duplicate, the earlier one.
	Event *herald.Event
	// Duplicate is set when the idempotency key matched an earlier event;
	// nothing new was stored.
	Duplicate bool
	// Jobs are the deliveries created, with their endpoint, aligned with
	// what Route returned (only the leased ones with LeasedOnly). Each
	// Job's Leased tells whether it was leased.
	Jobs []*Job
	// Deliveries is the number of deliveries created.
	Deliveries int
	// Err is a failure of this event alone: ErrNotFound when its app does
	// not exist.
	Err error
}

// Job is a delivery with what sending it needs.
type Job struct {
	Delivery *herald.Delivery
	Event    *herald.Event
	Endpoint *herald.Endpoint
	// Leased is set when the delivery is leased to the caller, until
	// LeaseUntil (as the call that returned the job wrote it).
	Leased     bool
	LeaseUntil time.Time
}

// ClaimParams asks for due deliveries.
type ClaimParams struct {
	Owner      string
	LeaseUntil time.Time
	Now        time.Time
	// Limit caps the number of deliveries returned.
	Limit int
	// PerEndpoint caps how many of one endpoint are returned, so that one
	// endpoint's backlog cannot fill a claim; 0 means no cap.
	PerEndpoint int
	// EndpointID restricts the claim to one endpoint when set.
	EndpointID string
}

// PullOwner owns the leases of deliveries handed out to pull clients.
// No node is named so (node names have no colon), so these leases are
// never a dead node's: they end only with their visibility, or when an
// acknowledgement recorded with Owner PullOwner clears them.
const PullOwner = "herald:pull"

// PullParams asks DeliveriesPull for one pull endpoint's due deliveries.
type PullParams struct {
	AppID      string
	EndpointID string
	Now        time.Time
	// Until is when the handout's visibility ends: unacknowledged by
	// then, a delivery may be handed out again.
	Until time.Time
	// Limit caps the deliveries returned; not above 0 means
	// DefaultClaimLimit.
	Limit int
}

// AttemptResult is the outcome of one attempt, to be recorded.
type AttemptResult struct {
	Attempt *herald.Attempt
	// Status is the delivery's new status.
	Status herald.DeliveryStatus
	// NextAttemptAt is when to try again, for a pending delivery.
	NextAttemptAt *time.Time
	// Now is the time of the update.
	Now time.Time
	// Owner, when set, is the node that leased the delivery and made the
	// attempt: the result is refused if the lease is no longer its own.
	Owner string
	// EventPayload, when set, must be the payload of the delivery's
	// event: a request body that holds it is stored without it (see
	// SplitBody).
	EventPayload []byte
}

// FollowParams asks AttemptsFollow for an app's attempts after Cursor.
type FollowParams struct {
	AppID string
	// Cursor is a cursor AttemptsFollow returned (opaque, driver-made);
	// empty to start from the latest attempt.
	Cursor string
	Limit  int
}

// FollowPage is one answer of AttemptsFollow.
type FollowPage struct {
	// Attempts in the order they became visible.
	Attempts []*FollowedAttempt
	// Cursor resumes after the last attempt returned, or is the cursor
	// asked for when none came (the latest one for an empty Cursor).
	Cursor string
}

// FollowedAttempt is one attempt as a follower sees it: without the
// request and response bodies, with what identifies its delivery.
type FollowedAttempt struct {
	// Cursor resumes after this attempt.
	Cursor     string
	Attempt    *herald.Attempt
	EventID    string
	EventType  string
	EndpointID string
	// DeliveryStatus is the delivery's status that the attempt's record
	// set (pending while retries remain).
	DeliveryStatus herald.DeliveryStatus
	// NextAttemptAt is when the delivery was to be tried again, as the
	// attempt's record set it; nil when it left the delivery finished.
	NextAttemptAt *time.Time
}

// BlockedKey is an ordering key held by a failed delivery.
type BlockedKey struct {
	OrderingKey string `json:"ordering_key"`
	// DeliveryID is the earliest failed, unskipped delivery of the key:
	// resending or skipping it lets the key go on.
	DeliveryID string `json:"delivery_id"`
	// Waiting counts the pending deliveries of the key after it.
	Waiting int `json:"waiting"`
}
