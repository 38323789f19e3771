package tracing

import (
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// Links remembers the ingest span of recent events, so that each attempt
// of their deliveries made by this node (at once, after a wait for
// memory, or as a retry) links to it. It holds at most its capacity;
// the oldest are forgotten first, and a node that did not ingest the
// event (or restarted since) has no link to give. A nil *Links remembers
// nothing.
type Links struct {
	mu    sync.Mutex
	ctx   map[string]trace.SpanContext
	order []string
	next  int
}

// DefaultLinks is how many events' ingest spans a node remembers: about
// a hundred bytes each.
const DefaultLinks = 100_000

// NewLinks returns a Links holding at most capacity events.
func NewLinks(capacity int) *Links {
	return &Links{ctx: make(map[string]trace.SpanContext), order: make([]string, capacity)}
}

// Put remembers the ingest span of an event.
func (l *Links) Put(eventID string, sc trace.SpanContext) {
	if l == nil || !sc.IsValid() || len(l.order) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.ctx[eventID]; ok {
		return
	}
	if old := l.order[l.next]; old != "" {
		delete(l.ctx, old)
	}
	l.order[l.next] = eventID
	l.next = (l.next + 1) % len(l.order)
	l.ctx[eventID] = sc
}

// Get returns the ingest span of an event, if this node remembers it.
func (l *Links) Get(eventID string) (trace.SpanContext, bool) {
	if l == nil {
		return trace.SpanContext{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	sc, ok := l.ctx[eventID]
	return sc, ok
}
