package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldhq/herald"
)

// Prober is a store that checks itself cheaply: that it answers and that
// it can commit a small write. Guard uses it for readiness and to learn
// that a store which failed is back.
type Prober interface {
	Probe(ctx context.Context) error
}

// GuardOptions configure a Guard.
type GuardOptions struct {
	// Timeout bounds every call (--store-timeout); 0: no bound.
	Timeout time.Duration
	// ProbeTimeout bounds one Probe; default 1 s (at most Timeout).
	ProbeTimeout time.Duration
	// ProbeEvery is how often a store that failed is probed until it
	// is back; default 250 ms.
	ProbeEvery time.Duration
	// Classify turns a driver's error into an *UnavailableError when it
	// is a failure to reach or to write to the store, and returns any
	// other error unchanged. Network failures are recognised anyway.
	Classify func(error) error
	// Prober checks readiness; default: the store itself when it is a
	// Prober, else a one-row read.
	Prober Prober
	// OnUnreachable is called (at most once a second) when a call finds
	// the store unreachable: a driver drops its pooled connections, so
	// that none broken is handed out once the store is back.
	OnUnreachable func()
	Logger        *slog.Logger
}

// Guard wraps a store so that a store that hangs or fails costs callers a
// bounded time and a clear error: every call has a deadline, failures to
// reach or write to the store come back as *UnavailableError, and while
// the store is known to be down (or, for writes, not writable) calls fail
// at once instead of each waiting for the deadline, until a probe finds it
// back. It logs once when the store goes and once when it comes back.
//
// Methods it does not override (WatchDue, which runs until its context
// ends) go to the wrapped store as they are: a method added to Store
// needs its wrapper here to get a deadline.
type Guard struct {
	Store
	o      GuardOptions
	prober Prober

	mu          sync.Mutex
	downErr     *UnavailableError // why unreachable; nil when up
	roErr       *UnavailableError // why not writable; nil when writable
	since       time.Time         // when the current trouble began
	probing     bool
	lastDrop    time.Time
	failedAt    time.Time // when a call last found the store failing
	probeAt     time.Time // when the cached probe result was taken
	probeErr    error
	probeMu     sync.Mutex
	closed      chan struct{}
	closeOnce   sync.Once
	probeActive sync.WaitGroup
}

// NewGuard wraps st.
func NewGuard(st Store, o GuardOptions) *Guard {
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = time.Second
	}
	if o.Timeout > 0 && o.ProbeTimeout > o.Timeout {
		o.ProbeTimeout = o.Timeout
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = 250 * time.Millisecond
	}
	if o.Classify == nil {
		o.Classify = func(err error) error { return err }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Guard{Store: st, o: o, closed: make(chan struct{}), prober: o.Prober}
	if g.prober == nil {
		g.prober, _ = st.(Prober)
	}
	return g
}

// StoreState is what Guard knows of the store now.
type StoreState struct {
	// Up: the store answers.
	Up bool
	// Writable: the last write (or probe) succeeded.
	Writable bool
	// Full: the last write failed for want of space.
	Full bool
}

// State reports the store's state as the last calls and probes found it.
func (g *Guard) State() StoreState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return StoreState{Up: g.downErr == nil, Writable: g.downErr == nil && g.roErr == nil,
		Full: g.roErr != nil && g.roErr.Full}
}

// Ready probes the store (a read and a small write, when the driver can)
// within ProbeTimeout, and reports why it cannot serve: nil when it can.
// Results are reused for 250 ms unless a call failed since, so that
// frequent health checks cost the store little.
func (g *Guard) Ready(ctx context.Context) error {
	g.probeMu.Lock()
	defer g.probeMu.Unlock()
	g.mu.Lock()
	fresh := !g.probeAt.IsZero() && time.Since(g.probeAt) < 250*time.Millisecond && g.failedAt.Before(g.probeAt)
	g.mu.Unlock()
	if fresh {
		return g.probeErr
	}
	err := g.probe(ctx)
	if ctx.Err() != nil {
		// The caller left: the result says nothing of the store.
		return err
	}
	if err == nil {
		g.mu.Lock()
		if g.roErr != nil && g.prober == nil {
			// A read-only check cannot clear a write failure.
			err = g.roErr
		}
		g.mu.Unlock()
	}
	g.mu.Lock()
	g.probeAt, g.probeErr = time.Now(), err
	g.mu.Unlock()
	return err
}

// probe runs one check and updates the state from it.
func (g *Guard) probe(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, g.o.ProbeTimeout)
	defer cancel()
	var err error
	start := time.Now()
	if g.prober != nil {
		err = g.prober.Probe(pctx)
	} else {
		_, err = g.Store.AppList(pctx, ListParams{Limit: 1})
	}
	if err == nil {
		g.succeeded(g.prober != nil, start)
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	if pctx.Err() != nil {
		err = &UnavailableError{Cause: fmt.Errorf("no answer within %s: %w", g.o.ProbeTimeout, err)}
	}
	return g.failed(g.classify(err), false, start)
}

func (g *Guard) classify(err error) error {
	err = g.o.Classify(err)
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return err
	}
	return ClassifyNetwork(err)
}

// gate fails a call at once while the store is known to be down, or a
// write while the store is known not to write: nothing is sent, so
// nothing may have been committed.
func (g *Guard) gate(write bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.downErr != nil {
		return &UnavailableError{Cause: g.downErr.Cause}
	}
	if write && g.roErr != nil {
		return &UnavailableError{Cause: g.roErr.Cause, Full: g.roErr.Full, NotWritable: true}
	}
	return nil
}

// call runs f with the call's deadline and turns its failure into what
// callers test for.
func call[T any](g *Guard, ctx context.Context, write bool, timeout time.Duration, f func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := g.gate(write); err != nil {
		return zero, err
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	start := time.Now()
	v, err := f(cctx)
	if err == nil {
		g.succeeded(write, start)
		return v, nil
	}
	if ctx.Err() != nil {
		// The caller left or its own deadline passed: not the store's
		// doing, and the caller knows; a write cut short may have
		// been committed all the same.
		if write && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(g.classify(err), ErrUnavailable)) {
			return v, &UnavailableError{Cause: err, MaybeCommitted: true}
		}
		return v, err
	}
	if cctx.Err() != nil {
		err = &UnavailableError{Cause: fmt.Errorf("no answer within %s (--store-timeout): %w", timeout, err), MaybeCommitted: write}
	} else {
		err = g.classify(err)
	}
	return v, g.failed(err, write, start)
}

func (g *Guard) exec(ctx context.Context, write bool, f func(context.Context) error) error {
	_, err := call(g, ctx, write, g.o.Timeout, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}

// succeeded records that a call begun at start reached the store (and
// wrote, when write). A call begun before the last failure was seen says
// nothing of the store since: it does not count.
func (g *Guard) succeeded(write bool, start time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if start.Before(g.failedAt) {
		return
	}
	if g.downErr != nil {
		g.o.Logger.Info("the store is back", "after", time.Since(g.since).Round(time.Millisecond).String())
		g.downErr = nil
	}
	if write && g.roErr != nil {
		g.o.Logger.Info("the store writes again", "after", time.Since(g.since).Round(time.Millisecond).String())
		g.roErr = nil
	}
}

// failed records a failure and returns the error the caller gets. Errors
// that are not the store's unavailability (not found, conflicts) mean it
// answered.
func (g *Guard) failed(err error, write bool, start time.Time) error {
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		g.mu.Lock()
		if g.downErr != nil && !start.Before(g.failedAt) {
			g.o.Logger.Info("the store is back", "after", time.Since(g.since).Round(time.Millisecond).String())
			g.downErr = nil
		}
		g.mu.Unlock()
		return err
	}
	if !write && ue.MaybeCommitted {
		c := *ue
		c.MaybeCommitted = false
		ue = &c
		err = ue
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.failedAt = now
	switch {
	case ue.Full || ue.NotWritable:
		if g.roErr == nil {
			if g.downErr == nil {
				g.since = now
			}
			msg := "the store cannot write; writes answer 503 until it can (reads go on)"
			if ue.Full {
				msg = "the storage is full; writes answer 503 until space is freed (reads go on)"
			}
			g.o.Logger.Error(msg, "error", ue.Cause)
		} else {
			g.o.Logger.Debug("store write refused", "error", ue.Cause)
		}
		g.roErr = ue
	default:
		if g.downErr == nil {
			g.since = now
			g.o.Logger.Error("the store is unreachable; calls that need it answer 503 until it is back", "error", errString(ue.Cause))
		} else {
			g.o.Logger.Debug("store call failed", "error", errString(ue.Cause))
		}
		g.downErr = ue
		if g.o.OnUnreachable != nil && now.Sub(g.lastDrop) >= time.Second {
			g.lastDrop = now
			go g.o.OnUnreachable()
		}
	}
	g.startProbing()
	return err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// startProbing probes the store until it is up and writable again, so
// that calls refused at the gate resume within ProbeEvery of recovery.
// Called with g.mu held.
func (g *Guard) startProbing() {
	if g.probing {
		return
	}
	select {
	case <-g.closed:
		return
	default:
	}
	g.probing = true
	g.probeActive.Add(1)
	go func() {
		defer g.probeActive.Done()
		t := time.NewTicker(g.o.ProbeEvery)
		defer t.Stop()
		for {
			select {
			case <-g.closed:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-g.closed:
				case <-ctx.Done():
				}
				cancel()
			}()
			_ = g.probe(ctx)
			cancel()
			g.mu.Lock()
			// A prober that cannot write cannot clear a write
			// failure: real writes (which the gate lets through
			// then) do.
			done := g.downErr == nil && (g.roErr == nil || g.prober == nil)
			if done {
				g.probing = false
			}
			g.mu.Unlock()
			if done {
				return
			}
		}
	}()
}

// Stop stops probing, before the wrapped store is closed.
func (g *Guard) Stop() {
	// Under mu, so that no probing starts once Wait may run.
	g.mu.Lock()
	g.closeOnce.Do(func() { close(g.closed) })
	g.mu.Unlock()
	g.probeActive.Wait()
}

// Close stops probing and closes the wrapped store.
func (g *Guard) Close() error {
	g.Stop()
	return g.Store.Close()
}

// The calls, each with its deadline. Reads pass write=false.

func (g *Guard) AppCreate(ctx context.Context, app *herald.App) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.AppCreate(ctx, app) })
}

func (g *Guard) AppGet(ctx context.Context, idOrUID string) (*herald.App, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*herald.App, error) { return g.Store.AppGet(ctx, idOrUID) })
}

func (g *Guard) AppList(ctx context.Context, p ListParams) ([]*herald.App, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) ([]*herald.App, error) { return g.Store.AppList(ctx, p) })
}

func (g *Guard) AppUpdate(ctx context.Context, app *herald.App) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.AppUpdate(ctx, app) })
}

func (g *Guard) AppDelete(ctx context.Context, appID string) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.AppDelete(ctx, appID) })
}

func (g *Guard) EventTypeCreate(ctx context.Context, et *herald.EventType) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.EventTypeCreate(ctx, et) })
}

func (g *Guard) EventTypeGet(ctx context.Context, name string) (*herald.EventType, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*herald.EventType, error) { return g.Store.EventTypeGet(ctx, name) })
}

func (g *Guard) EventTypeList(ctx context.Context, p ListParams) ([]*herald.EventType, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) ([]*herald.EventType, error) { return g.Store.EventTypeList(ctx, p) })
}

func (g *Guard) EventTypeUpdate(ctx context.Context, et *herald.EventType) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.EventTypeUpdate(ctx, et) })
}

func (g *Guard) EventTypeSetVersions(ctx context.Context, et *herald.EventType, was string) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.EventTypeSetVersions(ctx, et, was) })
}

func (g *Guard) EventTypeDelete(ctx context.Context, name string) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.EventTypeDelete(ctx, name) })
}

func (g *Guard) EndpointCreate(ctx context.Context, ep *herald.Endpoint) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.EndpointCreate(ctx, ep) })
}

func (g *Guard) EndpointGet(ctx context.Context, appID, id string) (*herald.Endpoint, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*herald.Endpoint, error) { return g.Store.EndpointGet(ctx, appID, id) })
}

func (g *Guard) EndpointList(ctx context.Context, appID string, p ListParams) ([]*herald.Endpoint, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) ([]*herald.Endpoint, error) {
		return g.Store.EndpointList(ctx, appID, p)
	})
}

func (g *Guard) EndpointUpdate(ctx context.Context, ep *herald.Endpoint) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.EndpointUpdate(ctx, ep) })
}

func (g *Guard) EndpointDelete(ctx context.Context, appID, id string, now time.Time) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.EndpointDelete(ctx, appID, id, now) })
}

func (g *Guard) EventsEnqueue(ctx context.Context, p EnqueueParams) ([]EnqueueResult, error) {
	return call(g, ctx, true, g.o.Timeout, func(ctx context.Context) ([]EnqueueResult, error) { return g.Store.EventsEnqueue(ctx, p) })
}

func (g *Guard) EventGet(ctx context.Context, appID, id string) (*herald.Event, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*herald.Event, error) { return g.Store.EventGet(ctx, appID, id) })
}

func (g *Guard) EventList(ctx context.Context, p EventListParams) ([]*herald.Event, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) ([]*herald.Event, error) { return g.Store.EventList(ctx, p) })
}

func (g *Guard) EventFind(ctx context.Context, p EventFindParams) ([]*herald.Event, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) ([]*herald.Event, error) { return g.Store.EventFind(ctx, p) })
}

// DeliverySkip implements Store.
func (g *Guard) DeliverySkip(ctx context.Context, appID, id string, now time.Time) (*herald.Delivery, error) {
	return call(g, ctx, true, g.o.Timeout, func(ctx context.Context) (*herald.Delivery, error) { return g.Store.DeliverySkip(ctx, appID, id, now) })
}

// OrderingBlocked implements Store.
func (g *Guard) OrderingBlocked(ctx context.Context, appID, endpointID string, limit int) ([]BlockedKey, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) ([]BlockedKey, error) {
		return g.Store.OrderingBlocked(ctx, appID, endpointID, limit)
	})
}

func (g *Guard) DeliveryGet(ctx context.Context, appID, id string) (*herald.Delivery, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*herald.Delivery, error) { return g.Store.DeliveryGet(ctx, appID, id) })
}

func (g *Guard) DeliveryList(ctx context.Context, p DeliveryListParams) ([]*herald.Delivery, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) ([]*herald.Delivery, error) { return g.Store.DeliveryList(ctx, p) })
}

func (g *Guard) AttemptsFollow(ctx context.Context, p FollowParams) (FollowPage, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (FollowPage, error) { return g.Store.AttemptsFollow(ctx, p) })
}

func (g *Guard) DeliveriesClaim(ctx context.Context, p ClaimParams) ([]*Job, error) {
	return call(g, ctx, true, g.o.Timeout, func(ctx context.Context) ([]*Job, error) { return g.Store.DeliveriesClaim(ctx, p) })
}

func (g *Guard) DeliveriesPull(ctx context.Context, p PullParams) ([]*Job, error) {
	return call(g, ctx, true, g.o.Timeout, func(ctx context.Context) ([]*Job, error) { return g.Store.DeliveriesPull(ctx, p) })
}

func (g *Guard) DeliveriesRecord(ctx context.Context, results []AttemptResult) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.DeliveriesRecord(ctx, results) })
}

func (g *Guard) DeliveriesRelease(ctx context.Context, owner string, ids []string) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.DeliveriesRelease(ctx, owner, ids) })
}

func (g *Guard) LeasesExtend(ctx context.Context, owner string, until time.Time) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.LeasesExtend(ctx, owner, until) })
}

func (g *Guard) LeasesReleaseAll(ctx context.Context) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.LeasesReleaseAll(ctx) })
}

func (g *Guard) LeasesReleaseDead(ctx context.Context, now time.Time, within time.Duration) (int, error) {
	return call(g, ctx, true, g.o.Timeout, func(ctx context.Context) (int, error) { return g.Store.LeasesReleaseDead(ctx, now, within) })
}

func (g *Guard) NodeLeave(ctx context.Context, node string) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.NodeLeave(ctx, node) })
}

func (g *Guard) NodesLeaveEarlier(ctx context.Context, prefix, node string) (int, error) {
	return call(g, ctx, true, g.o.Timeout, func(ctx context.Context) (int, error) { return g.Store.NodesLeaveEarlier(ctx, prefix, node) })
}

func (g *Guard) NextDueAt(ctx context.Context) (*time.Time, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*time.Time, error) { return g.Store.NextDueAt(ctx) })
}

func (g *Guard) EndpointDisable(ctx context.Context, appID, id, reason string, now time.Time) (*herald.Endpoint, error) {
	return call(g, ctx, true, g.o.Timeout, func(ctx context.Context) (*herald.Endpoint, error) {
		return g.Store.EndpointDisable(ctx, appID, id, reason, now)
	})
}

func (g *Guard) EndpointsTrackHealth(ctx context.Context, p HealthParams) ([]*herald.Endpoint, error) {
	return call(g, ctx, true, g.o.Timeout, func(ctx context.Context) ([]*herald.Endpoint, error) { return g.Store.EndpointsTrackHealth(ctx, p) })
}

func (g *Guard) EndpointStats(ctx context.Context, appID, id string, now time.Time) (*herald.EndpointStats, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*herald.EndpointStats, error) {
		return g.Store.EndpointStats(ctx, appID, id, now)
	})
}

func (g *Guard) DeliveriesCreate(ctx context.Context, ds []*herald.Delivery) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.DeliveriesCreate(ctx, ds) })
}

func (g *Guard) DeliveryJob(ctx context.Context, appID, id string) (*Job, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*Job, error) { return g.Store.DeliveryJob(ctx, appID, id) })
}

func (g *Guard) DeliveriesRequeue(ctx context.Context, appID string, ids []string, now time.Time) (int, error) {
	return call(g, ctx, true, g.o.Timeout, func(ctx context.Context) (int, error) { return g.Store.DeliveriesRequeue(ctx, appID, ids, now) })
}

func (g *Guard) TestSendRecord(ctx context.Context, ev *herald.Event, d *herald.Delivery, a *herald.Attempt) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.TestSendRecord(ctx, ev, d, a) })
}

func (g *Guard) BulkJobCreate(ctx context.Context, j *herald.BulkJob) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.BulkJobCreate(ctx, j) })
}

func (g *Guard) BulkJobUpdate(ctx context.Context, j *herald.BulkJob) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.BulkJobUpdate(ctx, j) })
}

func (g *Guard) BulkJobGet(ctx context.Context, appID, id string) (*herald.BulkJob, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*herald.BulkJob, error) { return g.Store.BulkJobGet(ctx, appID, id) })
}

func (g *Guard) UsageGet(ctx context.Context, appID string, at time.Time) (int64, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (int64, error) { return g.Store.UsageGet(ctx, appID, at) })
}

func (g *Guard) UsageCharge(ctx context.Context, appID string, n int, at time.Time) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.UsageCharge(ctx, appID, n, at) })
}

func (g *Guard) QueueStats(ctx context.Context, now time.Time) (QueueStats, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (QueueStats, error) { return g.Store.QueueStats(ctx, now) })
}

// EventPayloadsExpire runs a batch under Retain's longer deadline: it is
// the same kind of background clean-up, and nothing waits on it.
func (g *Guard) EventPayloadsExpire(ctx context.Context, p PayloadExpireParams) (PayloadExpireResult, error) {
	timeout := g.o.Timeout
	if timeout > 0 {
		timeout = max(timeout, time.Minute)
	}
	return call(g, ctx, true, timeout, func(ctx context.Context) (PayloadExpireResult, error) { return g.Store.EventPayloadsExpire(ctx, p) })
}

// Retain removes a batch under a longer deadline than other calls: a
// batch of a large database may take longer, and nothing waits on it.
func (g *Guard) Retain(ctx context.Context, p RetainParams) (RetainResult, error) {
	timeout := g.o.Timeout
	if timeout > 0 {
		timeout = max(timeout, time.Minute)
	}
	return call(g, ctx, true, timeout, func(ctx context.Context) (RetainResult, error) { return g.Store.Retain(ctx, p) })
}

func (g *Guard) NodeHeartbeat(ctx context.Context, node string, now time.Time, within time.Duration) (int, error) {
	return call(g, ctx, true, g.o.Timeout, func(ctx context.Context) (int, error) { return g.Store.NodeHeartbeat(ctx, node, now, within) })
}

func (g *Guard) APIKeyCreate(ctx context.Context, k *herald.APIKey) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.APIKeyCreate(ctx, k) })
}

func (g *Guard) APIKeyCreateLimited(ctx context.Context, k *herald.APIKey, max int, now time.Time) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.APIKeyCreateLimited(ctx, k, max, now) })
}

func (g *Guard) APIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*herald.APIKey, error) { return g.Store.APIKeyByHash(ctx, hash) })
}

func (g *Guard) APIKeyList(ctx context.Context, appID string, p ListParams) ([]*herald.APIKey, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) ([]*herald.APIKey, error) { return g.Store.APIKeyList(ctx, appID, p) })
}

func (g *Guard) APIKeyDelete(ctx context.Context, id string) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.APIKeyDelete(ctx, id) })
}

func (g *Guard) AuditAppend(ctx context.Context, e *herald.AuditEntry) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.AuditAppend(ctx, e) })
}

func (g *Guard) AuditList(ctx context.Context, appID string, p ListParams) ([]*herald.AuditEntry, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) ([]*herald.AuditEntry, error) { return g.Store.AuditList(ctx, appID, p) })
}

func (g *Guard) TokenGet(ctx context.Context, key string) (string, time.Time, error) {
	type tok struct {
		t   string
		exp time.Time
	}
	v, err := call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (tok, error) {
		t, exp, err := g.Store.TokenGet(ctx, key)
		return tok{t, exp}, err
	})
	return v.t, v.exp, err
}

func (g *Guard) TokenPut(ctx context.Context, key, token string, expires time.Time) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.TokenPut(ctx, key, token, expires) })
}

func (g *Guard) Failures(ctx context.Context, p FailuresParams) (*FailuresReport, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*FailuresReport, error) { return g.Store.Failures(ctx, p) })
}

func (g *Guard) AppHealth(ctx context.Context, appID string, since time.Time) (*AppHealth, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*AppHealth, error) { return g.Store.AppHealth(ctx, appID, since) })
}

func (g *Guard) Locate(ctx context.Context, appID, id string) (*Located, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*Located, error) { return g.Store.Locate(ctx, appID, id) })
}

func (g *Guard) EndpointTemplateCreate(ctx context.Context, t *herald.EndpointTemplate) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.EndpointTemplateCreate(ctx, t) })
}

func (g *Guard) EndpointTemplateGet(ctx context.Context, appID, id string) (*herald.EndpointTemplate, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) (*herald.EndpointTemplate, error) {
		return g.Store.EndpointTemplateGet(ctx, appID, id)
	})
}

func (g *Guard) EndpointTemplateList(ctx context.Context, appID string, p ListParams) ([]*herald.EndpointTemplate, error) {
	return call(g, ctx, false, g.o.Timeout, func(ctx context.Context) ([]*herald.EndpointTemplate, error) {
		return g.Store.EndpointTemplateList(ctx, appID, p)
	})
}

func (g *Guard) EndpointTemplateUpdate(ctx context.Context, t *herald.EndpointTemplate) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.EndpointTemplateUpdate(ctx, t) })
}

func (g *Guard) EndpointTemplateDelete(ctx context.Context, appID, id string) error {
	return g.exec(ctx, true, func(ctx context.Context) error { return g.Store.EndpointTemplateDelete(ctx, appID, id) })
}
