package delivery

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// deadAfterBeats is how many heartbeat intervals a node may stay silent
// before the others hold it dead and take its deliveries: one missed beat
// is a hiccup, three are a node gone (2 s beats: dead after 6 s, its
// deliveries sent within the next beat's interval).
const deadAfterBeats = 3

// liveness is what the heartbeat loop learns about this node's standing
// with the others, and what the workers check before sending.
//
// Another node releases this node's leases once its last heartbeat is
// deadAfter old (by the other node's clock). So this node claims and
// sends nothing once its last heartbeat is deadAfter less half an
// interval old (the margin for clocks that differ), and when a heartbeat
// comes back after such a gap, what it held in memory from before may be
// another node's now: it is given back, not sent. What slips through (a
// send already under way) is refused when recorded (store.ErrLeaseLost).
type liveness struct {
	// safeUntil (unix ns): until when no other node can have presumed
	// this one dead.
	safeUntil atomic.Int64
	// fencedBefore (unix ns): leases taken before it may have been
	// released by another node.
	fencedBefore atomic.Int64
	// extendedUntil (unix ns): every lease taken before the last
	// successful LeasesExtend lasts at least until then.
	extendedUntil atomic.Int64
	// finished counts attempts that ended; inFlight those under way. The
	// lease extension goes on only while attempts end (or none is under
	// way), so that a node alive but stuck lets its leases run out.
	finished atomic.Int64
	inFlight atomic.Int64

	mu sync.Mutex
	// unreleased are deliveries whose release failed: given back after
	// the next heartbeat, else their leases would be extended forever.
	unreleased []string

	// Only the heartbeat loop uses these.
	// last is the time of the last successful heartbeat; streak the
	// first of the unbroken run it ends (no gap that could have made this
	// node presumed dead).
	last, streak time.Time
	// failing is set while heartbeats fail, so that it is logged once.
	failing bool
	// lastExtendFinished is finished as the last extension saw it.
	lastExtendFinished int64
}

// deadAfter is how old a node's last heartbeat is when it is dead.
func (e *Engine) deadAfter() time.Duration { return deadAfterBeats * e.o.HeartbeatInterval }

// heartbeatLoop tells the store this node lives, learns how many do (so
// that each takes its share of cluster-wide limits), and releases the
// leases of nodes that stopped beating, so that their deliveries go out
// now rather than when the leases run out.
func (e *Engine) heartbeatLoop(ctx context.Context) {
	defer e.loops.Done()
	t := e.clock.NewTicker(e.o.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C():
		case <-ctx.Done():
			return
		}
		e.beat(ctx)
	}
}

// beat makes one heartbeat and acts on what it learns. It gives the
// store a threshold's time at most: a later heartbeat would find this
// node presumed dead anyway, and the loop must go on beating.
func (e *Engine) beat(ctx context.Context) {
	lv := &e.live
	within := e.deadAfter()
	loopCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	now := e.clock.Now()
	n, err := e.st.NodeHeartbeat(ctx, e.o.Owner, now, within)
	back := e.clock.Now()
	if err != nil {
		if ctx.Err() == nil && !lv.failing {
			lv.failing = true
			e.log.Warn("heartbeat failed; sending stops if it keeps failing, until it succeeds again", errAttr(err))
		}
		return
	}
	if lv.failing {
		lv.failing = false
		e.log.Info("heartbeat succeeded again")
	}
	// Half an interval for clocks that differ between nodes: one missed
	// beat stays a hiccup, two in a row stop sending.
	margin := e.o.HeartbeatInterval / 2
	if lv.streak.IsZero() {
		lv.streak = now
	} else if back.Sub(lv.last) > within-margin {
		// Silent long enough that another node may have taken over:
		// what memory holds from before is given back, not sent.
		lv.fencedBefore.Store(back.UnixNano())
		lv.streak = now
		e.log.Warn("heartbeats were missed long enough for other nodes to take over; deliveries held from before are given back",
			"last_heartbeat", lv.last, "gap", back.Sub(lv.last).Round(time.Millisecond))
		defer e.wakeClaimer()
	}
	lv.last = now
	lv.safeUntil.Store(now.Add(within - margin).UnixNano())

	if int64(n) != e.nodes.Load() {
		e.nodes.Store(int64(n))
		e.o.Metrics.Nodes(n)
		e.log.Info("nodes sharing the work", "nodes", n)
		// Recompute every queue's share.
		select {
		case e.ctlCh <- nil:
		case <-loopCtx.Done():
			return
		}
	}
	e.retryReleases(ctx)
	// Only a node in touch with the store for a whole threshold judges
	// the others: after an outage every node needs that long to beat
	// again, and none must be taken for dead meanwhile.
	if now.Sub(lv.streak) < within {
		return
	}
	k, err := e.st.LeasesReleaseDead(ctx, now, within)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("releasing dead nodes' leases failed", errAttr(err))
		}
		return
	}
	if k > 0 {
		e.o.Metrics.LeasesTakenOver(k)
		e.log.Info("took over the deliveries of nodes that stopped heartbeating", "deliveries", k, "dead_after", within)
		e.wakeClaimer()
	}
}

// mayClaim reports whether what the node claims now could be sent: not
// once its last heartbeat is so old that another node may have taken over.
func (e *Engine) mayClaim() bool {
	return e.clock.Now().UnixNano() < e.live.safeUntil.Load()
}

// mayStillSend reports whether the lease on a delivery held in memory is
// surely still this node's: no other node can have presumed it dead, it
// was not taken before a gap in the heartbeats, and it has not run out.
func (e *Engine) mayStillSend(j *store.Job) bool {
	if !j.Leased {
		return true
	}
	lv := &e.live
	now := e.clock.Now().UnixNano()
	if now >= lv.safeUntil.Load() {
		return false
	}
	if j.LeaseUntil.Add(-e.o.LeaseDuration).UnixNano() < lv.fencedBefore.Load() {
		return false
	}
	return now < max(j.LeaseUntil.UnixNano(), lv.extendedUntil.Load())
}

// fenced drops results the store refused because this node lost their
// leases: another node holds those deliveries and sends them.
func (e *Engine) fenced(items []recordItem, batch []store.AttemptResult, err error) ([]recordItem, []store.AttemptResult, bool) {
	var lost *store.LeaseLostError
	if !errors.As(err, &lost) {
		return items, batch, false
	}
	e.o.Metrics.Fenced(len(lost.DeliveryIDs))
	e.log.Warn("attempts not recorded: their leases were taken over by another node, which sends them",
		"count", len(lost.DeliveryIDs), "delivery_ids", lost.DeliveryIDs[:min(len(lost.DeliveryIDs), 10)])
	gone := make(map[string]bool, len(lost.DeliveryIDs))
	for _, id := range lost.DeliveryIDs {
		gone[id] = true
	}
	items = slices.DeleteFunc(items, func(it recordItem) bool { return gone[it.res.Attempt.DeliveryID] })
	batch = slices.DeleteFunc(batch, func(r store.AttemptResult) bool { return gone[r.Attempt.DeliveryID] })
	return items, batch, true
}

// rememberUnreleased keeps deliveries whose release failed.
func (e *Engine) rememberUnreleased(ids []string) {
	e.live.mu.Lock()
	e.live.unreleased = append(e.live.unreleased, ids...)
	e.live.mu.Unlock()
}

// retryReleases gives back deliveries whose release failed earlier.
func (e *Engine) retryReleases(ctx context.Context) {
	lv := &e.live
	lv.mu.Lock()
	ids := lv.unreleased
	lv.unreleased = nil
	lv.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := e.st.DeliveriesRelease(ctx, e.o.Owner, ids); err != nil {
		e.rememberUnreleased(ids)
		return
	}
	e.wakeClaimer()
}

// shouldExtend reports whether the node made progress since the last
// extension: an attempt ended, or none is under way. A node whose
// attempts all hang longer than any timeout is stuck; its leases then
// run out and other nodes take its deliveries (the lease is the backstop
// for a node that still beats but does not work).
func (e *Engine) shouldExtend() bool {
	lv := &e.live
	f := lv.finished.Load()
	progressed := f != lv.lastExtendFinished || lv.inFlight.Load() == 0
	lv.lastExtendFinished = f
	return progressed
}

// leave forgets this node in the store and gives back every lease it
// still holds, so that the others count it out and take its deliveries
// at once.
func (e *Engine) leave(ctx context.Context) {
	if err := e.st.NodeLeave(ctx, e.o.Owner); err != nil {
		e.log.Warn("leaving failed; other nodes take over once the heartbeat is old", errAttr(err))
	}
}
