package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Defaults of the attempt stream. A stream costs a goroutine and a store
// read per poll for as long as it stays open, so what one app may hold is
// bounded: a few streams at once, each for at most an hour (its client
// reconnects with Last-Event-ID and loses nothing), each poll a page.
// The heartbeat keeps proxies from closing a quiet stream; a client that
// stops reading is dropped once a write waits longer than the write
// timeout.
const (
	defaultMaxStreamsPerApp = 10
	defaultStreamHeartbeat  = 15 * time.Second
	defaultStreamPoll       = time.Second
	defaultStreamMaxAge     = time.Hour
	streamPageSize          = 100
	streamWriteTimeout      = 30 * time.Second
	// streamRetryMS is the reconnection delay the stream asks of
	// EventSource clients.
	streamRetryMS = 2000
)

// AttemptEvent is the data of one event of the attempt stream: one
// attempt as it was recorded, without request and response bodies.
type AttemptEvent struct {
	AttemptID      string                `json:"attempt_id"`
	DeliveryID     string                `json:"delivery_id"`
	EventID        string                `json:"event_id"`
	EventType      string                `json:"event_type"`
	EndpointID     string                `json:"endpoint_id"`
	Attempt        int                   `json:"attempt"`
	Trigger        string                `json:"trigger"`
	StatusCode     *int                  `json:"status_code"`
	ErrorKind      herald.ErrorKind      `json:"error_kind"`
	Error          string                `json:"error"`
	LatencyMS      float64               `json:"latency_ms"`
	DeliveryStatus herald.DeliveryStatus `json:"delivery_status"`
	NextAttemptAt  *time.Time            `json:"next_attempt_at"`
	CreatedAt      time.Time             `json:"created_at"`
}

func attemptEvent(f *store.FollowedAttempt) AttemptEvent {
	a := f.Attempt
	ev := AttemptEvent{AttemptID: a.ID, DeliveryID: a.DeliveryID, EventID: f.EventID, EventType: f.EventType,
		EndpointID: f.EndpointID, Attempt: a.Number, Trigger: a.Trigger, ErrorKind: a.ErrorKind, Error: a.Error,
		LatencyMS: a.LatencyMS, DeliveryStatus: f.DeliveryStatus, NextAttemptAt: f.NextAttemptAt, CreatedAt: a.CreatedAt}
	if a.Response != nil {
		code := a.Response.StatusCode
		ev.StatusCode = &code
	}
	return ev
}

// streams counts the open streams of each app.
type streams struct {
	mu   sync.Mutex
	open map[string]int
}

// acquire takes one of the app's max streams; false when all are taken.
func (c *streams) acquire(appID string, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[appID] >= max {
		return false
	}
	if c.open == nil {
		c.open = map[string]int{}
	}
	c.open[appID]++
	return true
}

func (c *streams) release(appID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[appID]--; c.open[appID] <= 0 {
		delete(c.open, appID)
	}
}

// streamAttempts answers GET /v1/apps/{app}/attempts/stream: the app's
// attempts as they are recorded, as Server-Sent Events. It follows the
// store, not this node's engine, so that it shows what every node sends;
// the event id is the store's cursor, so a client reconnecting with
// Last-Event-ID (or ?cursor=) resumes after the last event it got,
// missing none and seeing none twice.
func (s *Server) streamAttempts(w http.ResponseWriter, r *http.Request) *Error {
	q := r.URL.Query()
	status := herald.DeliveryStatus(q.Get("status"))
	if status != "" && !status.Valid() {
		return errQuery("status", "status must be pending, succeeded or failed")
	}
	a, e := s.app(r)
	if e != nil {
		return e
	}
	endpointID := q.Get("endpoint")
	if endpointID != "" {
		if _, err := s.st.EndpointGet(r.Context(), a.ID, endpointID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errQuery("endpoint", "the app has no endpoint %q", endpointID)
			}
			return storeError(err, "endpoint")
		}
	}
	cursor, field := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if cursor == "" {
		cursor, field = q.Get("cursor"), "cursor"
	}
	if !s.streams.acquire(a.ID, s.o.MaxStreamsPerApp) {
		setRetryAfter(w, 5*time.Second)
		return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests,
			Message: fmt.Sprintf("this app has %d attempt streams open, the most allowed; close one or retry later", s.o.MaxStreamsPerApp)}
	}
	defer s.streams.release(a.ID)

	// The first page is read before the answer starts, so that a bad
	// cursor still gets its 400.
	page, err := s.st.AttemptsFollow(r.Context(), store.FollowParams{AppID: a.ID, Cursor: cursor, Limit: streamPageSize})
	if errors.Is(err, store.ErrCursor) {
		return errQuery(field, "%s is not a cursor of this stream; start without one", field)
	}
	if err != nil {
		return storeError(err, "attempts")
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.o.StreamMaxAge)
	defer cancel()
	stop := context.AfterFunc(s.drainCtx, cancel)
	defer stop()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// Proxies that buffer answers (nginx) would hold the events back.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "retry: %d\n: attempts of app %s\n\n", streamRetryMS, a.ID)
	heartbeat := time.NewTicker(s.o.StreamHeartbeat)
	defer heartbeat.Stop()
	poll := time.NewTimer(0)
	defer poll.Stop()
	sent := cursor
	var recorded <-chan struct{}
	for {
		if s.o.AttemptsRecorded != nil {
			recorded = s.o.AttemptsRecorded()
		}
		for _, f := range page.Attempts {
			if (endpointID != "" && f.EndpointID != endpointID) || (status != "" && f.DeliveryStatus != status) {
				continue
			}
			data, err := json.Marshal(attemptEvent(f))
			if err != nil {
				return nil // the answer has started: nothing better to do
			}
			fmt.Fprintf(&buf, "id: %s\nevent: attempt\ndata: %s\n\n", f.Cursor, data)
			sent = f.Cursor
		}
		if page.Cursor != sent && page.Cursor != "" {
			// Attempts the filters left out still move the client's
			// resume point: an id with no data sets it, dispatching
			// nothing, so a reconnect does not read them again.
			fmt.Fprintf(&buf, "id: %s\n\n", page.Cursor)
			sent = page.Cursor
		}
		if buf.Len() > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if _, err := w.Write(buf.Bytes()); err != nil {
				return nil
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
			buf.Reset()
		}
		cursor = page.Cursor
		if len(page.Attempts) < streamPageSize {
			poll.Reset(s.o.StreamPoll)
		} else {
			poll.Reset(0) // more are waiting
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-heartbeat.C:
				buf.WriteString(": heartbeat\n\n")
				_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
				if _, err := w.Write(buf.Bytes()); err != nil {
					return nil
				}
				if err := rc.Flush(); err != nil {
					return nil
				}
				buf.Reset()
			case <-poll.C:
				break wait
			case <-recorded:
				break wait
			}
		}
		page, err = s.st.AttemptsFollow(ctx, store.FollowParams{AppID: a.ID, Cursor: cursor, Limit: streamPageSize})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("attempt stream: follow failed", "app_id", a.ID, "error", err)
			}
			return nil // the client reconnects with its last id
		}
	}
}
