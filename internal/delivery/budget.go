package delivery

import (
	"sync"

	"github.com/heraldhq/herald"
)

// budget counts the deliveries held in memory (queued or in flight), per
// endpoint and in all, and the bytes they hold, and remembers which
// endpoints have deliveries left waiting in the store because their share
// of memory was full. It keeps the engine's memory bounded under any
// backlog, whatever the payloads weigh, while each endpoint keeps a queue
// of its own, so one app's burst cannot fill the room of others.
type budget struct {
	mu       sync.Mutex
	perCap   int
	totalCap int
	total    int
	count    map[string]int
	// memCap bounds mem, the bytes held (0: no bound). The jobs of one
	// event share its payload, so a payload is counted once however many
	// deliveries hold it: payloads maps its first byte to its count.
	memCap   int64
	mem      int64
	payloads map[*byte]*heldPayload
	// rendered counts the payload bytes of the requests in flight, each
	// rendered into a request body of about its size; renderCap is the
	// part of memCap kept for them (0: no bound), the rest holds
	// deliveries.
	rendered  int64
	renderCap int64
	// slowCap, when set for an endpoint, lowers its count cap: a slow
	// endpoint keeps few deliveries in memory, the rest wait in the store.
	slowCap map[string]int
	// spilled maps an endpoint to a generation number bumped on every
	// spill; a claim that found the store empty for that endpoint clears
	// the mark only if no spill happened meanwhile.
	spilled map[string]uint64
	gen     uint64
}

type heldPayload struct {
	size int64
	refs int
}

// renderShare: half the memory budget is kept for the request bodies of
// the requests in flight, which are what makes progress; queued
// deliveries beyond the other half wait in the store, from which they are
// cheap to claim again.
const renderShare = 2

// jobOverhead is what a delivery held in memory costs besides its
// event's payload: its structs, ids and queue slot, and a share of its
// endpoint's settings.
const jobOverhead = 1024

// payloadSize is what an event's payload, routing and labels hold in
// memory.
func payloadSize(ev *herald.Event) int64 {
	if ev == nil {
		return 0
	}
	n := int64(len(ev.Payload)) + int64(len(ev.IdempotencyKey)) + 256
	for _, c := range ev.Channels {
		n += int64(len(c)) + 16
	}
	for _, c := range ev.Tags {
		n += int64(len(c)) + 16
	}
	if r := ev.Routing; r != nil {
		n += int64(len(r.Matched))*40 + int64(len(r.Skipped))*80
		for _, s := range r.Skipped {
			n += int64(len(s.Reason))
		}
	}
	return n
}

func payloadKey(ev *herald.Event) *byte {
	if ev == nil || len(ev.Payload) == 0 {
		return nil
	}
	return &ev.Payload[0]
}

// newBudget bounds deliveries held per endpoint and in all, and the bytes
// they hold (memCap 0: no bound).
func newBudget(perCap, totalCap int, memCap int64) *budget {
	return &budget{perCap: perCap, totalCap: totalCap, memCap: memCap, renderCap: memCap / renderShare, count: map[string]int{}, spilled: map[string]uint64{},
		payloads: map[*byte]*heldPayload{}, slowCap: map[string]int{}}
}

// cost returns the bytes one more delivery of ev adds: the overhead, and
// its payload unless another held delivery already holds it.
func (b *budget) cost(ev *herald.Event) int64 {
	k := payloadKey(ev)
	if k == nil || b.payloads[k] != nil {
		return jobOverhead
	}
	return jobOverhead + payloadSize(ev)
}

// fits reports whether one more delivery of ev to ep is within the caps.
// A delivery always fits when nothing is held, so that one larger than
// the whole memory budget still goes out, alone.
func (b *budget) fits(ep string, ev *herald.Event) bool {
	if b.count[ep] >= b.capOf(ep) || b.total >= b.totalCap {
		return false
	}
	return b.memCap <= 0 || b.total == 0 || b.mem+b.cost(ev) <= b.memCap-b.renderCap
}

// tryRender takes room for the request body of a delivery about to be
// sent; one always fits when none is being sent.
func (b *budget) tryRender(ev *herald.Event) bool {
	n := payloadSize(ev)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.renderCap > 0 && b.rendered > 0 && b.rendered+n > b.renderCap {
		return false
	}
	b.rendered += n
	return true
}

// rendered gives back what tryRender took.
func (b *budget) doneRender(ev *herald.Event) {
	b.mu.Lock()
	b.rendered -= payloadSize(ev)
	b.mu.Unlock()
}

func (b *budget) capOf(ep string) int {
	if c, ok := b.slowCap[ep]; ok {
		return min(c, b.perCap)
	}
	return b.perCap
}

func (b *budget) take(ep string, ev *herald.Event) {
	b.count[ep]++
	b.total++
	b.mem += b.cost(ev)
	if k := payloadKey(ev); k != nil {
		p := b.payloads[k]
		if p == nil {
			p = &heldPayload{size: payloadSize(ev)}
			b.payloads[k] = p
		}
		p.refs++
	}
}

// tryReserve takes room for one delivery of ev to endpoint ep, or marks
// the endpoint as spilled when there is none.
func (b *budget) tryReserve(ep string, ev *herald.Event) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fits(ep, ev) {
		b.take(ep, ev)
		return true
	}
	b.gen++
	b.spilled[ep] = b.gen
	return false
}

// force takes room for a delivery already leased (claimed), even past the
// caps: the claimer sizes its claims so the excess stays small.
func (b *budget) force(ep string, ev *herald.Event) {
	b.mu.Lock()
	b.take(ep, ev)
	b.mu.Unlock()
}

// release gives back the room of one delivery of ev to ep.
func (b *budget) release(ep string, ev *herald.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := b.count[ep] - 1; n > 0 {
		b.count[ep] = n
	} else {
		delete(b.count, ep)
	}
	b.total--
	b.mem -= jobOverhead
	if k := payloadKey(ev); k != nil {
		if p := b.payloads[k]; p != nil {
			if p.refs--; p.refs == 0 {
				b.mem -= p.size
				delete(b.payloads, k)
			}
		}
	}
}

// room returns how many more deliveries endpoint ep may hold, and how many
// more all endpoints together may.
func (b *budget) room(ep string) (perEndpoint, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.capOf(ep) - b.count[ep], b.totalCap - b.total
}

// memRoom returns the bytes still free, and the mean held per delivery
// (jobOverhead when none is held); with no memory bound, a large room.
func (b *budget) memRoom() (free, mean int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	mean = jobOverhead
	if b.total > 0 {
		mean = max(mean, b.mem/int64(b.total))
	}
	if b.memCap <= 0 {
		return 1 << 62, mean
	}
	return b.memCap - b.renderCap - b.mem, mean
}

// held returns the deliveries held and the bytes they and the request
// bodies being sent hold.
func (b *budget) held() (count int, mem int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total, b.mem + b.rendered
}

// slowCapped reports whether ep is a slow endpoint under its lower cap.
func (b *budget) slowCapped(ep string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.slowCap[ep]
	return ok
}

// setSlowCap lowers the count cap of a slow endpoint; n < 0 lifts it.
func (b *budget) setSlowCap(ep string, n int) {
	b.mu.Lock()
	if n < 0 {
		delete(b.slowCap, ep)
	} else {
		b.slowCap[ep] = n
	}
	b.mu.Unlock()
}

func (b *budget) markSpilled(ep string) {
	b.mu.Lock()
	b.gen++
	b.spilled[ep] = b.gen
	b.mu.Unlock()
}

// spillGen returns the endpoint's spill generation, 0 when not spilled.
func (b *budget) spillGen(ep string) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spilled[ep]
}

// clearSpilled forgets the spill mark if it is still generation g.
func (b *budget) clearSpilled(ep string, g uint64) {
	b.mu.Lock()
	if b.spilled[ep] == g {
		delete(b.spilled, ep)
	}
	b.mu.Unlock()
}
