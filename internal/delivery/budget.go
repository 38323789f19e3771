package delivery

import "sync"

// budget counts the deliveries held in memory (queued or in flight), per
// endpoint and in all, and remembers which endpoints have deliveries left
// waiting in the store because their share of memory was full. It keeps
// the engine's memory bounded under any backlog while each endpoint keeps
// a queue of its own, so one app's burst cannot fill the room of others.
type budget struct {
	mu       sync.Mutex
	perCap   int
	totalCap int
	total    int
	count    map[string]int
	// spilled maps an endpoint to a generation number bumped on every
	// spill; a claim that found the store empty for that endpoint clears
	// the mark only if no spill happened meanwhile.
	spilled map[string]uint64
	gen     uint64
}

func newBudget(perCap, totalCap int) *budget {
	return &budget{perCap: perCap, totalCap: totalCap, count: map[string]int{}, spilled: map[string]uint64{}}
}

// tryReserve takes room for one delivery of endpoint ep, or marks the
// endpoint as spilled when there is none.
func (b *budget) tryReserve(ep string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.count[ep] < b.perCap && b.total < b.totalCap {
		b.count[ep]++
		b.total++
		return true
	}
	b.gen++
	b.spilled[ep] = b.gen
	return false
}

// force takes room for a delivery already leased (claimed), even past the
// caps: the claimer sizes its claims so the excess stays small.
func (b *budget) force(ep string) {
	b.mu.Lock()
	b.count[ep]++
	b.total++
	b.mu.Unlock()
}

func (b *budget) release(ep string) {
	b.mu.Lock()
	if n := b.count[ep] - 1; n > 0 {
		b.count[ep] = n
	} else {
		delete(b.count, ep)
	}
	b.total--
	b.mu.Unlock()
}

// room returns how many more deliveries endpoint ep may hold, and how many
// more all endpoints together may.
func (b *budget) room(ep string) (perEndpoint, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.perCap - b.count[ep], b.totalCap - b.total
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
