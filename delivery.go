package herald

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses. A delivery is pending until an attempt succeeds or the
// retry schedule is exhausted.
const (
	StatusPending   DeliveryStatus = "pending"
	StatusSucceeded DeliveryStatus = "succeeded"
	StatusFailed    DeliveryStatus = "failed"
	// StatusCancelled is a delivery the endpoint's transformation
	// dropped: nothing was sent, and nothing will be.
	StatusCancelled DeliveryStatus = "cancelled"
)

// Valid reports whether s is a known status.
func (s DeliveryStatus) Valid() bool {
	switch s {
	case StatusPending, StatusSucceeded, StatusFailed, StatusCancelled:
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
	// LastErrorKind is the error kind of the attempt LastError comes
	// from, so that a list tells a broken definition from a failing
	// destination without reading attempts; empty when LastError is not
	// an attempt's ("endpoint deleted", "payload expired") or is empty.
	LastErrorKind ErrorKind `json:"last_error_kind,omitempty"`
	// Test is set on deliveries made by a test send; they are never
	// retried.
	Test bool `json:"test"`
	// OrderingKey is the key the delivery was ordered by (the event's,
	// else the endpoint's ordering_key_template rendered at enqueue);
	// empty: not ordered.
	OrderingKey string `json:"ordering_key,omitempty"`
	// Skipped is set on a failed delivery that was skipped so that the
	// later deliveries of its ordering key go on (ordering_on_failure
	// "pause"); its status stays failed.
	Skipped   bool       `json:"skipped,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Attempts  []*Attempt `json:"attempts"`
}

// Failure says where the fault of a failed delivery lies: in the endpoint's
// definition (its templates or transformation made a request that cannot
// be sent; the destination was not contacted, and only fixing the endpoint
// helps) or on the way to and at the destination. The delivery's status
// stays failed either way.
type Failure string

// Failures of failed deliveries.
const (
	FailureDefinition  Failure = "definition"
	FailureDestination Failure = "destination"
)

// Valid reports whether f is a known failure.
func (f Failure) Valid() bool { return f == FailureDefinition || f == FailureDestination }

// OfDefinition reports whether an attempt that failed with k failed because
// of the endpoint's definition rather than its destination.
func (k ErrorKind) OfDefinition() bool { return k == ErrorKindRender || k == ErrorKindTransform }

// DefinitionErrorKinds are the error kinds of a FailureDefinition.
var DefinitionErrorKinds = []ErrorKind{ErrorKindRender, ErrorKindTransform}

// Failure is where a failed delivery's fault lies (by its LastErrorKind);
// empty unless the delivery failed.
func (d *Delivery) Failure() Failure {
	switch {
	case d.Status != StatusFailed:
		return ""
	case d.LastErrorKind.OfDefinition():
		return FailureDefinition
	}
	return FailureDestination
}

// MarshalJSON writes the delivery with its failure, which is derived, not
// stored.
func (d Delivery) MarshalJSON() ([]byte, error) {
	type fields Delivery
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// The caller's encoder escapes HTML, or not, as it was asked to.
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		fields
		Failure Failure `json:"failure,omitempty"`
	}{fields(d), d.Failure()})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
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
	ErrorKindAuth       ErrorKind = "auth"        // the destination refused Herald's credentials, or no access token could be had
	ErrorKindRender     ErrorKind = "render"      // the templates made an unsendable request (bad URL, missing value)
	ErrorKindRejected   ErrorKind = "rejected"    // a broker refused the message (a negative acknowledgement)
	ErrorKindTransform  ErrorKind = "transform"   // the endpoint's transformation threw, returned something unsendable or hit a limit
)

// ErrorKinds lists every kind an attempt that did not succeed records.
var ErrorKinds = []ErrorKind{ErrorKindHTTPStatus, ErrorKindDNS, ErrorKindConnect, ErrorKindTLS,
	ErrorKindTimeout, ErrorKindNetwork, ErrorKindPolicy, ErrorKindAuth, ErrorKindRender, ErrorKindRejected, ErrorKindTransform}

// MaxSuccessStatuses bounds an endpoint's or app's success_statuses.
const MaxSuccessStatuses = 20

// ParseSuccessStatus reads one success_statuses item: a status code (100
// to 599, as a number or a numeric string) or a class "1xx" to "5xx". It
// returns the item as stored ("200", "2xx").
func ParseSuccessStatus(v any) (string, bool) {
	switch x := v.(type) {
	case float64:
		if x != float64(int(x)) || x < 100 || x > 599 {
			return "", false
		}
		return strconv.Itoa(int(x)), true
	case string:
		if len(x) == 3 && x[0] >= '1' && x[0] <= '5' && strings.EqualFold(x[1:], "xx") {
			return x[:1] + "xx", true
		}
		n, err := strconv.Atoi(x)
		if err != nil || n < 100 || n > 599 || strconv.Itoa(n) != x {
			return "", false
		}
		return x, true
	}
	return "", false
}

// StatusSucceeds reports whether a receiver's status counts as success
// under list (items as ParseSuccessStatus returns them); an empty list
// means every 2xx, as before success_statuses existed.
func StatusSucceeds(list []string, status int) bool {
	if len(list) == 0 {
		return status >= 200 && status < 300
	}
	code := strconv.Itoa(status)
	for _, s := range list {
		if s == code || (strings.HasSuffix(s, "xx") && len(code) == 3 && code[0] == s[0]) {
			return true
		}
	}
	return false
}

// EffectiveSuccessStatuses is the list that judges an endpoint's answers:
// its own, else its app's (app may be nil), else empty (every 2xx).
func EffectiveSuccessStatuses(ep *Endpoint, app *App) []string {
	if len(ep.SuccessStatuses) > 0 {
		return ep.SuccessStatuses
	}
	if app != nil {
		return app.SuccessStatuses
	}
	return nil
}

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
	// BatchID is the id (PrefixBatch) of the request that carried this
	// delivery with others of a batching endpoint; empty when the
	// delivery went alone. The receiver's answer to that request is this
	// attempt's.
	BatchID string `json:"batch_id,omitempty"`
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
