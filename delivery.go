package herald

import "time"

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses. A delivery is pending until an attempt succeeds or the
// retry schedule is exhausted.
const (
	StatusPending   DeliveryStatus = "pending"
	StatusSucceeded DeliveryStatus = "succeeded"
	StatusFailed    DeliveryStatus = "failed"
)

// Valid reports whether s is a known status.
func (s DeliveryStatus) Valid() bool {
	switch s {
	case StatusPending, StatusSucceeded, StatusFailed:
		return true
	}
	return false
}

// Delivery is one (event, endpoint) pair: the unit that is sent, retried and
// recorded. Its ID is the webhook-id of every request made for it, so
// receivers can drop duplicates.
type Delivery struct {
	ID            string         `json:"id"`
	AppID         string         `json:"app_id"`
	EventID       string         `json:"event_id"`
	EndpointID    string         `json:"endpoint_id"`
	EventType     string         `json:"event_type"`
	Status        DeliveryStatus `json:"status"`
	AttemptCount  int            `json:"attempt_count"`
	NextAttemptAt *time.Time     `json:"next_attempt_at"`
	LastError     string         `json:"last_error,omitempty"`
	// Test is set on deliveries made by a test send; they are never
	// retried.
	Test      bool       `json:"test"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Attempts  []*Attempt `json:"attempts"`
}

// ErrorKind separates why an attempt did not succeed: the receiver's answer,
// a failure on the way there, or Herald's own refusal.
type ErrorKind string

// Error kinds recorded on attempts.
const (
	ErrorKindNone       ErrorKind = ""
	ErrorKindHTTPStatus ErrorKind = "http_status" // the receiver answered, but not 2xx
	ErrorKindDNS        ErrorKind = "dns"         // the host name did not resolve
	ErrorKindConnect    ErrorKind = "connect"     // no connection could be made
	ErrorKindTLS        ErrorKind = "tls"         // the TLS handshake or certificate check failed
	ErrorKindTimeout    ErrorKind = "timeout"     // no complete answer within the timeout
	ErrorKindNetwork    ErrorKind = "network"     // the connection broke after it was made
	ErrorKindPolicy     ErrorKind = "policy"      // Herald refused to send (e.g. blocked address)
	ErrorKindAuth       ErrorKind = "auth"        // Herald could not get the endpoint's access token
)

// ErrorKinds lists every kind an attempt that did not succeed records.
var ErrorKinds = []ErrorKind{ErrorKindHTTPStatus, ErrorKindDNS, ErrorKindConnect, ErrorKindTLS,
	ErrorKindTimeout, ErrorKindNetwork, ErrorKindPolicy, ErrorKindAuth}

// Attempt records one request Herald made for a delivery and what came back.
type Attempt struct {
	ID         string    `json:"id"`
	DeliveryID string    `json:"delivery_id"`
	Number     int       `json:"attempt"`
	CreatedAt  time.Time `json:"created_at"`
	// Trigger tells why the attempt was made: "scheduled" for the normal
	// flow of first try and retries.
	Trigger   string           `json:"trigger"`
	Request   AttemptRequest   `json:"request"`
	Response  *AttemptResponse `json:"response"`
	LatencyMS float64          `json:"latency_ms"`
	ErrorKind ErrorKind        `json:"error_kind"`
	Error     string           `json:"error"`
}

// AttemptRequest is the request as it was sent.
type AttemptRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// AttemptResponse is what the receiver answered; headers and body are
// capped.
type AttemptResponse struct {
	StatusCode int               `json:"status_code"`
	Headers    map[string]string `json:"headers"`
	// HeadersTruncated says that the receiver sent more headers than are
	// kept (see outbound's limits): some left out, or a value cut short.
	HeadersTruncated bool   `json:"headers_truncated"`
	Body             string `json:"body"`
	BodyTruncated    bool   `json:"body_truncated"`
}

// Attempt triggers.
const (
	TriggerScheduled = "scheduled" // the first try and its retries
	TriggerTest      = "test"      // a test send
	TriggerResend    = "resend"    // sent again on request
)
