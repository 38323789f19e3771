// Package delivery is Herald's delivery engine: it turns accepted events into
// deliveries (fan-out, in group-committed batches), schedules them fairly
// across apps and endpoints, sends them with a bounded pool of workers,
// records every attempt in batches, and retries with backoff.
//
// How work flows:
//
//	Enqueue ─▶ committer ─(one transaction per batch)─▶ store
//	               │ leased deliveries, handed over in memory
//	               ▼
//	claimer ──▶ dispatcher ─▶ workers ─▶ outbound ─▶ receiver
//	 (retries,   (a fair share   │
//	 overflow,   per app, its    ▼
//	 restarts)   endpoints in  recorder ─(one transaction per batch)─▶ store
//	             turn)
//
// The store is the source of truth: a delivery is written (leased to this
// node) before the 202 is answered, and only then kept in memory. Memory
// holds a bounded number of deliveries per endpoint and in total; the rest
// wait in the store, unleased, until the claimer brings them in. A crash
// loses nothing: leases are released at the next start (or expire) and the
// deliveries are sent again with the same webhook-id.
//
// How a delivery leaves (requests, signatures, credentials, vendors) is
// the outbound layer's business: the engine hands it a delivery and
// decides on the outcome it reports.
package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/cache"
	"github.com/heraldhq/herald/internal/clock"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
)

// Store is what the engine needs of storage.
type Store interface {
	EventsEnqueue(ctx context.Context, p store.EnqueueParams) ([]store.EnqueueResult, error)
	DeliveriesClaim(ctx context.Context, p store.ClaimParams) ([]*store.Job, error)
	DeliveriesRecord(ctx context.Context, results []store.AttemptResult) error
	DeliveriesRelease(ctx context.Context, owner string, ids []string) error
	// DeliveriesPull and DeliveryJob serve pull endpoints.
	DeliveriesPull(ctx context.Context, p store.PullParams) ([]*store.Job, error)
	DeliveryJob(ctx context.Context, appID, id string) (*store.Job, error)
	LeasesExtend(ctx context.Context, owner string, until time.Time) error
	NextDueAt(ctx context.Context) (*time.Time, error)
	// AppGet feeds the app's settings and template fields; EventTypeGet
	// the event type's group, for routing.
	AppGet(ctx context.Context, idOrUID string) (*herald.App, error)
	EventTypeGet(ctx context.Context, name string) (*herald.EventType, error)

	// For manual sends, recoveries and endpoint health.
	TestSendRecord(ctx context.Context, ev *herald.Event, d *herald.Delivery, a *herald.Attempt) error
	DeliveriesCreate(ctx context.Context, ds []*herald.Delivery) error
	DeliveryList(ctx context.Context, p store.DeliveryListParams) ([]*herald.Delivery, error)
	DeliveriesRequeue(ctx context.Context, appID string, ids []string, now time.Time) (int, error)
	DeliverySkip(ctx context.Context, appID, id string, now time.Time) (*herald.Delivery, error)
	UsageCharge(ctx context.Context, appID string, n int, at time.Time) error
	BulkJobUpdate(ctx context.Context, j *herald.BulkJob) error
	EndpointGet(ctx context.Context, appID, id string) (*herald.Endpoint, error)
	EndpointUpdate(ctx context.Context, ep *herald.Endpoint) error
	EndpointDisable(ctx context.Context, appID, id, reason string, now time.Time) (*herald.Endpoint, error)
	EndpointsTrackHealth(ctx context.Context, p store.HealthParams) ([]*herald.Endpoint, error)

	// For several nodes on one store.
	NodeHeartbeat(ctx context.Context, node string, now time.Time, within time.Duration) (int, error)
	LeasesReleaseDead(ctx context.Context, now time.Time, within time.Duration) (int, error)
	NodeLeave(ctx context.Context, node string) error
	WatchDue(ctx context.Context, fn func()) error
}

// Outbound makes one attempt of a delivery and says what came of it;
// *outbound.HTTP is the real one. Pull endpoints need it to implement
// Handouts too.
type Outbound interface {
	Send(ctx context.Context, d *outbound.Delivery) outbound.Outcome
}

// BatchOutbound is an Outbound that also sends a batching endpoint's
// deliveries in one request. With an Outbound that is not one, batching
// endpoints' deliveries fail with error kind policy.
type BatchOutbound interface {
	Outbound
	SendBatch(ctx context.Context, ds []*outbound.Delivery) outbound.BatchOutcome
}

// ErrStopped is returned by Enqueue once the engine is shutting down.
var ErrStopped = errors.New("delivery engine is shutting down")

// Options configure an Engine. Zero values mean the documented defaults.
type Options struct {
	// Owner names this node on the leases it takes; default a random id.
	Owner string
	// Workers is the number of concurrent requests the node makes in all;
	// default 256.
	Workers int
	// MaxInFlightPerEndpoint bounds concurrent requests to one endpoint,
	// so a slow endpoint occupies at most this many workers; default 32.
	MaxInFlightPerEndpoint int
	// InitialWindow is how many requests an endpoint not yet heard from,
	// or whose requests time out, may have in flight; each success while
	// it uses its whole window adds one, up to its cap (slow start).
	// Default 2.
	InitialWindow int
	// MaxAppShare is the fraction of Workers one app may hold while
	// another app has had work within the last 10 minutes, so that a
	// second app finds free workers even when the first one's requests
	// last the whole timeout; default 0.5, 1 for no cap. An app alone
	// may use every worker.
	MaxAppShare float64
	// QueuePerEndpoint and QueueTotal bound how many deliveries are kept
	// in memory (queued or in flight), per endpoint and in all; beyond
	// them deliveries wait in the store. Defaults 2,000 and 100,000.
	QueuePerEndpoint int
	QueueTotal       int
	// QueueMemory bounds the bytes those deliveries hold (payloads
	// counted once per event, plus a fixed overhead each) and the
	// request bodies being sent (half of it), whatever the payloads
	// weigh; beyond it deliveries wait in the store. Default 128 MiB
	// (herald serve passes a quarter of --queue-memory).
	QueueMemory int64
	// Retry decides retries; Schedule nil means no retries.
	Retry RetryPolicy
	// Ceilings hold the in-flight caps and retry schedules that apps and
	// endpoints set to the operator's bounds, whenever they were saved;
	// zero fields bound nothing. Retry's own schedule is the operator's.
	Ceilings herald.TenantCeilings
	// LeaseDuration is how long a claimed delivery stays reserved for
	// this node; leases are renewed while the node makes progress.
	// Default 5 min. A node that dies loses its leases sooner, when its
	// heartbeats stop (see HeartbeatInterval): the lease is the backstop
	// for a node that still beats but is stuck.
	LeaseDuration time.Duration
	// PollInterval is the backstop for finding due work that nothing
	// announced (another node's releases, clock drift); default 1 s.
	PollInterval time.Duration
	// MaxBatch caps events per group commit; default 1,000.
	MaxBatch int
	// IdempotencyWindow is how long an Idempotency-Key is remembered;
	// default 24 h.
	IdempotencyWindow time.Duration
	// AutoDisableAfter disables an endpoint whose every delivery has
	// failed for this long (with at least AutoDisableMinFailures failed
	// deliveries); 0 turns it off.
	AutoDisableAfter       time.Duration
	AutoDisableMinFailures int
	Logger                 *slog.Logger
	// LogDeliveries logs every attempt at info, successes too and
	// unlimited (--log-deliveries); otherwise failed attempts are logged,
	// a few lines a second per endpoint at most.
	LogDeliveries bool
	// Metrics, when set, counts events, attempts and requests in flight.
	Metrics *metrics.Metrics
	// Tracing, when set, gets a span per attempt, linked to its event's
	// ingest span when this node remembers it; nil: no spans.
	Tracing *tracing.Provider
	// NoDelivery makes an API-only node: it stores events and their
	// deliveries, unleased, and sends nothing; worker nodes send them.
	NoDelivery bool
	// HeartbeatInterval is how often the node tells the store it lives;
	// the live node count shares cluster-wide limits, and a node silent
	// for 3 intervals is dead: another node releases its leases and
	// sends its deliveries. Default 2 s.
	HeartbeatInterval time.Duration
	// Clock gives every timestamp, timer and ticker of the engine; nil
	// means the system clock.
	Clock clock.Clock
}

func (o *Options) setDefaults() {
	if o.Owner == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		o.Owner = "node-" + hex.EncodeToString(b[:])
	}
	if o.Workers <= 0 {
		o.Workers = 256
	}
	if o.MaxInFlightPerEndpoint <= 0 {
		o.MaxInFlightPerEndpoint = 32
	}
	if o.InitialWindow <= 0 {
		o.InitialWindow = initialWindow
	}
	if o.MaxAppShare <= 0 {
		o.MaxAppShare = 0.5
	}
	o.MaxAppShare = min(o.MaxAppShare, 1)
	if o.QueuePerEndpoint <= 0 {
		o.QueuePerEndpoint = 2000
	}
	if o.QueueTotal <= 0 {
		o.QueueTotal = 100_000
	}
	if o.QueueMemory <= 0 {
		o.QueueMemory = 128 << 20
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 5 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 2 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if o.IdempotencyWindow <= 0 {
		o.IdempotencyWindow = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real
	}
}

// Engine delivers events. Create it with New, start it with Start, and stop
// it with Shutdown.
type Engine struct {
	st    Store
	out   Outbound
	o     Options
	log   *slog.Logger
	clock clock.Clock
	// attempts logs attempts as they end.
	attempts *attemptLog
	// tracer makes attempt spans (a no-op without Options.Tracing);
	// links holds recent events' ingest spans, nil without it.
	tracer trace.Tracer
	links  *tracing.Links
	// failing tells endpoints beginning to fail, for
	// herald.endpoint.failing.
	failing failingTracker

	// recorded is closed when this node next records attempts (see
	// Recorded).
	recordedMu sync.Mutex
	recorded   chan struct{}

	budget    *budget
	health    cleanHealth
	router    *router
	schedules schedules
	// apps caches the apps of deliveries: their settings and template
	// fields are needed for every attempt.
	apps *cache.Cache[herald.App]
	// nodes is how many nodes share the store (from heartbeats).
	nodes nodesAlive
	// live is this node's standing with the others (from heartbeats).
	live liveness

	ingestCh   chan *ingestReq
	stopIngest chan struct{}
	ingestDone chan struct{}

	jobsCh   chan handoff
	doneCh   chan doneMsg
	ctlCh    chan *herald.Endpoint
	manualCh chan manualMsg
	workCh   chan task
	recordCh chan recordItem
	// slots counts the test sends and resends each app has going.
	slots manualSlots
	// pulls counts the pulls held open and wakes them.
	pulls pulls

	claimWake   chan struct{}
	claimFor    chan string
	retryAtCh   chan time.Time
	stopClaim   chan struct{}
	claimDone   chan struct{}
	stopExtend  chan struct{}
	extendDone  chan struct{}
	stopDisp    chan struct{}
	dispDone    chan struct{}
	recordDone  chan struct{}
	workersDone sync.WaitGroup
	// jobs counts background jobs (recoveries) still running.
	jobs sync.WaitGroup

	// cancelSend aborts requests still in flight when the shutdown
	// deadline passes.
	cancelSend context.CancelFunc
	// stopLoops ends the heartbeat and watch loops at shutdown.
	stopLoops context.CancelFunc
	loops     sync.WaitGroup

	startOnce sync.Once
	// started is set once Start ran: manual sends need the workers.
	started  atomic.Bool
	stopOnce sync.Once
	stopped  chan struct{}
}

// New builds an engine over a store and an outbound layer.
func New(st Store, out Outbound, o Options) *Engine {
	o.setDefaults()
	e := &Engine{
		st:         st,
		out:        out,
		o:          o,
		log:        o.Logger,
		attempts:   newAttemptLog(o.Logger, o.LogDeliveries),
		tracer:     o.Tracing.Tracer(),
		clock:      o.Clock,
		budget:     newBudget(o.QueuePerEndpoint, o.QueueTotal, o.QueueMemory),
		apps:       cache.New[herald.App](o.Clock.Now),
		ingestCh:   make(chan *ingestReq, 4*o.MaxBatch),
		stopIngest: make(chan struct{}),
		ingestDone: make(chan struct{}),
		jobsCh:     make(chan handoff, 64),
		doneCh:     make(chan doneMsg, o.Workers),
		ctlCh:      make(chan *herald.Endpoint, 64),
		// Unbuffered: a manual send is handed over only to a running
		// dispatcher, which then answers it, never left in a buffer.
		manualCh:   make(chan manualMsg),
		workCh:     make(chan task, o.Workers),
		recordCh:   make(chan recordItem, 4*o.Workers),
		claimWake:  make(chan struct{}, 1),
		claimFor:   make(chan string, 1024),
		retryAtCh:  make(chan time.Time, 1024),
		stopClaim:  make(chan struct{}),
		claimDone:  make(chan struct{}),
		stopExtend: make(chan struct{}),
		extendDone: make(chan struct{}),
		stopDisp:   make(chan struct{}),
		dispDone:   make(chan struct{}),
		recordDone: make(chan struct{}),
		cancelSend: func() {},
		stopLoops:  func() {},
		stopped:    make(chan struct{}),
	}
	e.schedules.ceilings = o.Ceilings
	e.router = newRouter(st, o.Clock.Now)
	o.Metrics.Held(o.QueueMemory, e.budget.held)
	e.nodes.Store(1)
	if o.Tracing != nil {
		e.links = tracing.NewLinks(tracing.DefaultLinks)
	}
	return e
}

// Owner is the name this node writes on its leases.
func (e *Engine) Owner() string { return e.o.Owner }

// Start runs the engine's goroutines. Deliveries already due in the store
// are claimed at once. ctx gives its values to the engine's own store
// calls and requests; its cancellation does not stop the engine: Shutdown
// does, in the order that loses nothing.
func (e *Engine) Start(ctx context.Context) {
	e.startOnce.Do(func() {
		ctx = context.WithoutCancel(ctx)
		var sendCtx, loopsCtx context.Context
		sendCtx, e.cancelSend = context.WithCancel(ctx)
		loopsCtx, e.stopLoops = context.WithCancel(ctx)
		e.started.Store(true)
		if !e.o.NoDelivery {
			// Beat before taking any lease: a lease of a node without
			// a heartbeat is a dead node's to the others.
			e.beat(ctx)
		}
		go e.commitLoop(ctx)
		// The dispatcher and the workers run on an API-only node too: it
		// hands them no deliveries, but test sends and resends go
		// through them, within the same limits as everywhere.
		go e.dispatchLoop(ctx)
		for range e.o.Workers {
			e.workersDone.Add(1)
			go e.workerLoop(ctx, sendCtx)
		}
		if e.o.NoDelivery {
			// Nothing else runs: mark it so for Shutdown.
			close(e.claimDone)
			close(e.extendDone)
			close(e.recordDone)
			return
		}
		go e.recordLoop(ctx)
		go e.claimLoop(ctx)
		go e.extendLoop(ctx)
		e.loops.Add(2)
		go e.heartbeatLoop(loopsCtx)
		go e.watchLoop(loopsCtx)
		e.wakeClaimer()
	})
}

// Shutdown stops taking events, lets requests in flight finish until ctx is
// done (then aborts them), records every finished attempt, and releases
// the leases of deliveries not yet sent so that they go out after a
// restart or from another node; last, the node leaves (its heartbeat
// goes), so that the others count it out at once. Call it after the API
// stopped calling Enqueue.
func (e *Engine) Shutdown(ctx context.Context) error {
	var err error
	e.stopOnce.Do(func() {
		close(e.stopped)
		e.startOnce.Do(func() {
			// Never started: nothing runs, nothing to wait for.
			close(e.ingestDone)
			close(e.claimDone)
			close(e.extendDone)
			close(e.dispDone)
			close(e.recordDone)
		})
		e.stopLoops()
		e.loops.Wait()
		close(e.stopIngest)
		<-e.ingestDone
		close(e.stopClaim)
		<-e.claimDone
		close(e.stopExtend)
		<-e.extendDone
		close(e.stopDisp)
		select {
		case <-e.dispDone:
		case <-ctx.Done():
			e.cancelSend()
			<-e.dispDone
			err = ctx.Err()
		}
		e.workersDone.Wait()
		if !e.o.NoDelivery {
			close(e.recordCh)
		}
		<-e.recordDone
		e.jobs.Wait()
		if e.started.Load() && !e.o.NoDelivery && ctx.Err() == nil {
			e.leave(ctx)
		}
		e.cancelSend()
	})
	return err
}

// EndpointChanged tells the engine that an endpoint was updated, disabled
// or deleted, so that queued deliveries use its new settings, or are put
// back in the store when it no longer takes deliveries.
func (e *Engine) EndpointChanged(ep *herald.Endpoint) {
	select {
	case e.ctlCh <- ep:
	case <-e.stopped:
	}
	if ep.Enabled {
		// Deliveries paused while it was disabled are due again.
		e.budget.markSpilled(ep.ID)
		e.wakeClaimer()
	}
}

// watchLoop wakes the claimer when another node makes work due.
func (e *Engine) watchLoop(ctx context.Context) {
	defer e.loops.Done()
	for {
		err := e.st.WatchDue(ctx, func() {
			e.wakeClaimer()
			e.pulls.notifyAll()
		})
		if ctx.Err() != nil || err == nil {
			// Shutting down, or a single-node store: nothing to watch.
			return
		}
		e.log.Warn("watching for due deliveries failed; polling meanwhile", errAttr(err))
		if !clock.Sleep(e.clock, time.Second, ctx.Done()) {
			return
		}
	}
}

func (e *Engine) isStopping() bool {
	select {
	case <-e.stopped:
		return true
	default:
		return false
	}
}

// AppChanged forgets the apps read so far: their settings (retry
// schedule, operational webhook, ...) apply to the next attempts at once
// on this node, and within the cache's lifetime on the others.
func (e *Engine) AppChanged() { e.apps.Reset() }

// app returns an app for its settings and template fields. A missing app
// gives an empty one: templates then see empty app fields, and the app
// being gone, its deliveries are about to vanish with it anyway.
func (e *Engine) app(ctx context.Context, id string) *herald.App {
	if a, ok := e.apps.Get(id); ok {
		return &a
	}
	a, err := e.st.AppGet(ctx, id)
	if err != nil {
		return &herald.App{ID: id}
	}
	e.apps.Put(id, *a)
	return a
}

func errAttr(err error) slog.Attr { return slog.String("error", err.Error()) }

func (e *Engine) wakeClaimer() {
	select {
	case e.claimWake <- struct{}{}:
	default:
	}
}
