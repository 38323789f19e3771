// Package outbound is how a delivery leaves Herald: it turns one claimed
// delivery into bytes on the wire and reports what came back, in terms the
// delivery engine decides on.
//
// The engine knows deliveries, queues, limits and retries; it knows
// nothing of requests, signatures, credentials or vendors. It calls one
// method, Send(ctx, *Delivery) Outcome. HTTP is the first destination
// (request shaping, Standard Webhooks signatures with rotation, endpoint
// authentication with a shared OAuth2 token cache, mutual TLS, per-endpoint
// timeouts, vendor answers); a broker destination is a second type with
// the same method, not a change to the engine.
package outbound

import (
	"errors"
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// Delivery is one attempt to make: a delivery of an event to an endpoint.
type Delivery struct {
	// ID is the delivery's id, sent as the webhook-id: the same on every
	// attempt, so receivers can drop duplicates.
	ID       string
	Event    *herald.Event
	Endpoint *herald.Endpoint
	// App is the endpoint's app (its name and uid feed templates, its
	// settings the defaults); never nil.
	App *herald.App
}

// Outcome is what one attempt did, for the history and for the engine's
// retry decision.
type Outcome struct {
	// Request is what was sent, credentials masked; empty when nothing
	// could be built.
	Request herald.AttemptRequest
	// Response is the answer, nil when none came.
	Response *herald.AttemptResponse
	Latency  time.Duration
	// Kind is empty on success, else why the attempt failed.
	Kind  herald.ErrorKind
	Error string
	// Status is the status the retry decision is made on: the answer's,
	// or what a vendor's answer means (Marketo's 200 with a rate-limit
	// code counts as 503, with a bad field as 400).
	Status int
	// RetryAfter is the wait the destination asked for (an HTTP
	// Retry-After header), nil when it asked none.
	RetryAfter *time.Duration
	// Cancelled is set when the endpoint's transformation cancelled the
	// delivery: nothing was sent, and the delivery ends cancelled.
	Cancelled bool
	// Aborted is set when the attempt was cut short by its context
	// (shutdown, or the caller went away) before an answer came: it
	// must not count as an attempt.
	Aborted bool
}

// Request is a request as it would be sent: previews show it.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// ErrPayloadExpired fails, for good, an attempt of an event whose payload
// was removed at the end of its payload retention.
var ErrPayloadExpired = errors.New(store.LastErrorPayloadExpired)

// PreviewWebhookID stands for the delivery id in previews.
const PreviewWebhookID = "dlv_preview"

// PreviewBatchID stands for the batch id in previews of a batch.
const PreviewBatchID = "bat_preview"
