package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
)

// FollowParams choose what FollowAttempts shows.
type FollowParams struct {
	// Endpoint keeps one endpoint's attempts (ep_…); empty for all.
	Endpoint string
	// Status keeps attempts that left their delivery in this status;
	// empty for all.
	Status DeliveryStatus
	// Cursor resumes after a StreamedAttempt's Cursor; empty starts from
	// now.
	Cursor string
	// OnConnect, when set, is called each time the stream is open
	// (again): attempts recorded from then on are shown.
	OnConnect func()
}

// StreamedAttempt is one attempt of the stream, with the cursor that
// resumes after it.
type StreamedAttempt struct {
	Cursor string
	AttemptEvent
}

// defaultReconnect is the wait before reconnecting when the server did
// not say (its `retry:` field).
const defaultReconnect = 2 * time.Second

// FollowAttempts follows the app's attempts as they are recorded (GET
// /v1/apps/{app}/attempts/stream, Server-Sent Events), until ctx ends or
// the loop stops. When the connection drops it reconnects with the last
// cursor, so nothing is missed or seen twice; a failure to reconnect is
// yielded as an error and tried again, so that the caller may report it
// or stop. An error answer of the server (*APIError: a bad filter, an
// unknown app, too many streams) is yielded last.
func (h *Herald) FollowAttempts(ctx context.Context, app string, p FollowParams) iter.Seq2[StreamedAttempt, error] {
	return func(yield func(StreamedAttempt, error) bool) {
		cursor, pause := p.Cursor, defaultReconnect
		for ctx.Err() == nil {
			params := &StreamAttemptsParams{}
			if p.Endpoint != "" {
				params.Endpoint = &p.Endpoint
			}
			if p.Status != "" {
				params.Status = &p.Status
			}
			if cursor != "" {
				params.LastEventID = &cursor
			}
			res, err := h.ClientInterface.StreamAttempts(ctx, app, params)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				var apiErr *APIError
				if errors.As(err, &apiErr) {
					yield(StreamedAttempt{}, err)
					return
				}
				if !yield(StreamedAttempt{}, fmt.Errorf("herald client: attempt stream: %w", err)) {
					return
				}
			} else {
				if p.OnConnect != nil {
					p.OnConnect()
				}
				stopped := false
				cursor, pause, stopped = readStream(res.Body, cursor, pause, yield)
				_ = res.Body.Close()
				if stopped {
					return
				}
			}
			if wait(ctx, pause) != nil {
				return
			}
		}
	}
}

// readStream yields the attempt events of one connection and returns the
// last cursor seen, the reconnection delay asked for, and whether the
// caller stopped.
func readStream(body io.Reader, cursor string, pause time.Duration, yield func(StreamedAttempt, error) bool) (string, time.Duration, bool) {
	rd := bufio.NewReader(body)
	var id, event, data string
	hasID := false
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return cursor, pause, false // dropped, or ended: reconnect
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			// As EventSource: a block's id becomes the resume point even
			// when it carries no data.
			if hasID {
				cursor = id
			}
			if event == "attempt" && data != "" {
				var a StreamedAttempt
				if err := json.Unmarshal([]byte(data), &a.AttemptEvent); err == nil {
					a.Cursor = cursor
					if !yield(a, nil) {
						return cursor, pause, true
					}
				}
			}
			id, event, data, hasID = "", "", "", false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment: the heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id, hasID = value, true
		case "event":
			event = value
		case "data":
			if data != "" {
				data += "\n"
			}
			data += value
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 {
				pause = time.Duration(ms) * time.Millisecond
			}
		}
	}
}
