package sqlite

import (
	"sync"

	"github.com/heraldhq/herald"
)

// DefaultEventCache bounds the memory of the event cache, counted as the
// stored size of the events' payloads and routings, unless Options say
// otherwise.
const DefaultEventCache = 32 << 20

// eventCache keeps recently stored or read events, decoded, for claims.
//
// Events never change once stored, and with fan-out each is claimed once
// per endpoint, in separate claims when deliveries wait in the store:
// reading and decoding it every time (its routing lists every endpoint it
// went to) made a claim's cost grow with the fan-out. Entries leave in the
// order they came once the byte budget is spent; an event deleted by
// retention or with its app is never asked for again, since its
// deliveries go in the same transaction. The one change an event sees,
// the removal of its payload (EventPayloadsExpire), drops it from here.
type eventCache struct {
	max   int // bytes; 0 until Open sets it
	mu    sync.Mutex
	byID  map[string]*cachedEvent
	order []string // ids, oldest first, from head
	head  int
	bytes int
}

type cachedEvent struct {
	ev   *herald.Event
	size int
}

// get returns a copy of the cached event, or nil. The copy shares the
// payload and routing, which nobody modifies.
func (c *eventCache) get(id string) *herald.Event {
	c.mu.Lock()
	e := c.byID[id]
	c.mu.Unlock()
	if e == nil {
		return nil
	}
	ev := *e.ev
	return &ev
}

// put caches a copy of ev; size is its stored size in bytes.
func (c *eventCache) put(ev *herald.Event, size int) {
	size += 256 // the fixed fields and the entry itself
	if size > c.max/16 {
		return // one huge event would push out many useful ones
	}
	cp := *ev
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[string]*cachedEvent{}
	}
	if _, ok := c.byID[ev.ID]; ok {
		return
	}
	for c.bytes+size > c.max && c.head < len(c.order) {
		old := c.order[c.head]
		c.order[c.head] = ""
		c.head++
		if e := c.byID[old]; e != nil {
			c.bytes -= e.size
			delete(c.byID, old)
		}
	}
	if c.head > len(c.order)/2 && c.head > 1024 {
		// Drop the dead prefix so the slice does not grow for ever.
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
	c.byID[ev.ID] = &cachedEvent{ev: &cp, size: size}
	c.order = append(c.order, ev.ID)
	c.bytes += size
}

// drop forgets the events ids (their payloads were removed). Their
// entries stay in order until they come to its head.
func (c *eventCache) drop(ids []string) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if e := c.byID[id]; e != nil {
			c.bytes -= e.size
			delete(c.byID, id)
		}
	}
}
