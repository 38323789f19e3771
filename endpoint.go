package herald

import (
	"hash/fnv"
	"strings"
	"time"
)

// Endpoint is a URL an app's customer subscribed to some event types.
type Endpoint struct {
	ID    string `json:"id"`
	AppID string `json:"app_id"`
	// Kind is EndpointPush (Herald sends to URL) or EndpointPull (a
	// client collects the deliveries over the API; URL is empty). It is
	// set at creation and never changes.
	Kind        string `json:"kind"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// EventTypes lists the subscribed event type names; empty means every
	// event of the app.
	EventTypes []string `json:"event_types"`
	Enabled    bool     `json:"enabled"`
	// Secret is the whsec_ signing secret. It is never part of the
	// endpoint's JSON: the API serves it from a route of its own.
	Secret string `json:"-"`
	// TimeoutMS overrides the installation's request timeout when above 0.
	TimeoutMS int `json:"timeout_ms"`
	// RequestShape says what the request looks like; its fields appear
	// inline in the endpoint's JSON.
	RequestShape
	// EndpointSettings: routing condition, delivery overrides and the
	// endpoint's disabled state; inline in its JSON too.
	EndpointSettings
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Endpoint kinds (Endpoint.Kind).
const (
	// EndpointPush endpoints receive each delivery as a request Herald
	// makes to their URL.
	EndpointPush = "push"
	// EndpointPull endpoints are never dialled: a client behind a
	// firewall long-polls the API for their due deliveries, each the
	// signed request Herald would have sent, and acknowledges each with
	// the answer its receiver gave.
	EndpointPull = "pull"
)

// IsPull reports whether Herald leaves the endpoint's deliveries for a
// client to pull instead of sending them.
func (e *Endpoint) IsPull() bool { return e.Kind == EndpointPull }

// RequestShape holds what a customer chose about the outgoing request.
// Empty fields take the preset's value, or Herald's default. The stores
// keep it as one JSON document, so that new settings need no migration.
type RequestShape struct {
	// Method is GET, POST, PUT, PATCH or DELETE; default POST.
	Method string `json:"method"`
	// ContentType is application/json (default),
	// application/x-www-form-urlencoded or text/plain.
	ContentType string `json:"content_type"`
	// Headers are added to the request; values may hold template tags.
	Headers map[string]string `json:"headers"`
	// PlainHeaders names the custom headers (Headers, or the preset's)
	// whose values may be shown in clear; every other custom value is
	// masked wherever the endpoint or its requests are shown, since
	// customers put credentials in headers of any name.
	PlainHeaders []string `json:"plain_headers"`
	// BodyTemplate is a JSON document with template tags; empty means the
	// default body {"type", "timestamp", "data"}.
	BodyTemplate RawJSON `json:"body_template"`
	// PayloadFormat shapes the body when there is no body template:
	// "standard" ({"type", "timestamp", "data"}), "raw" (the payload as
	// is) or "flat" (the payload's fields with the event name merged in
	// under FlatEventKey, default "event"). Empty: the app's or the
	// installation's default.
	PayloadFormat string `json:"payload_format"`
	FlatEventKey  string `json:"flat_event_key,omitempty"`
	// TemplateSyntax is "braces" ({{path}}) or "hash" (#{path}, KARTE's);
	// empty: the app's, else braces.
	TemplateSyntax string `json:"template_syntax"`
	// TemplateStrict fails a delivery whose template names a missing
	// value, instead of rendering it empty.
	TemplateStrict bool `json:"template_strict"`
	// Preset fills method, content type, headers, body and sometimes URL
	// for a known destination (slack, chatwork, ...); "custom" or empty
	// for none.
	Preset string `json:"preset"`
	// PresetOptions are what the preset needs (a room id, a token, a
	// message template).
	PresetOptions map[string]string `json:"preset_options"`
	// Transformation is JavaScript defining handler(webhook), which may
	// reshape each request (method, url, headers, payload as the JSON
	// body) before it is signed, or cancel it; empty for none.
	Transformation string `json:"transformation,omitempty"`
	// EventTypeVersions pins the version of event types the endpoint
	// receives, by type name ("*" for every type): a newer event is
	// converted down to it. Absent types get events as sent.
	EventTypeVersions map[string]string `json:"event_type_versions,omitempty"`
}

// Content types an endpoint may send (RequestShape.ContentType).
const (
	ContentJSON  = "application/json"
	ContentForm  = "application/x-www-form-urlencoded"
	ContentPlain = "text/plain"
)

// What a delivery that failed for good does to the later deliveries of
// its ordering key.
const (
	// OrderingUnblock lets the next delivery of the key go.
	OrderingUnblock = "unblock"
	// OrderingPause holds the key until the failed delivery is resent or
	// skipped.
	OrderingPause = "pause"
)

// EndpointSettings are an endpoint's routing and delivery settings and its
// disabled state. The stores keep them as one JSON document.
type EndpointSettings struct {
	// Filter is a condition (a CEL expression) an event must meet.
	Filter string `json:"filter"`
	// Stage is StageTest or StageLive (empty: live). An endpoint in
	// stage test receives, of the events it would receive live, only
	// those that meet TestFilter: a first audience before everyone.
	Stage string `json:"stage"`
	// TestFilter is the condition (same language as Filter) of the
	// events a test-stage endpoint receives.
	TestFilter string `json:"test_filter"`
	// RetrySchedule, MaxInFlight override the app's and installation's
	// delivery settings (TimeoutMS is on the endpoint itself).
	RetrySchedule string `json:"retry_schedule"`
	MaxInFlight   int    `json:"max_in_flight"`
	// SuccessStatuses are the answers that count as received ("200",
	// "2xx"); empty: the app's, else every 2xx.
	SuccessStatuses []string `json:"success_statuses,omitempty"`
	// SampleRate sends only this share (0 to 100 %) of matching events;
	// nil means 100. The choice is a hash of the event and endpoint ids,
	// so retries, resends and restarts never change it.
	SampleRate *float64 `json:"sample_rate,omitempty"`
	// RateLimit caps requests per second to the endpoint, over the whole
	// cluster; 0 means none.
	RateLimit float64 `json:"rate_limit"`
	// OrderingKeyTemplate derives the ordering key of a delivery whose
	// event has none (a text template such as {{payload.order.id}});
	// empty: only events with a key are ordered.
	OrderingKeyTemplate string `json:"ordering_key_template,omitempty"`
	// OrderingOnFailure is OrderingUnblock (empty: the default) or
	// OrderingPause.
	OrderingOnFailure string `json:"ordering_on_failure,omitempty"`
	// Batch, when set, sends up to Batch.MaxEvents due deliveries of a
	// push endpoint in one request; nil: one request per delivery.
	Batch *BatchSettings `json:"batch,omitempty"`
	// DisabledReason and DisabledAt say why and when Herald disabled the
	// endpoint by itself (a 410 answer, failures for too long).
	DisabledReason string     `json:"disabled_reason"`
	DisabledAt     *time.Time `json:"disabled_at"`
	// SignatureScheme is "v1" (HMAC-SHA256 with a whsec_ secret, the
	// default) or "v1a" (Ed25519: Secret is a whsk_ key and receivers
	// verify with its public key).
	SignatureScheme string `json:"signature_scheme"`
	// PreviousSecret still signs, beside Secret, until
	// PreviousSecretExpiresAt: after a rotation each request carries both
	// signatures, so receivers switch secrets without downtime. It is
	// never shown by the API.
	PreviousSecret          string     `json:"previous_secret,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	// TLSCABundle (PEM certificates) replaces the system's roots when
	// verifying the receiver, for receivers behind a private CA.
	TLSCABundle string `json:"tls_ca_bundle"`
	// TLSClientCert and TLSClientKey (PEM) are presented to receivers
	// that demand a client certificate (mutual TLS). The key is a secret:
	// encrypted at rest, never shown.
	TLSClientCert string `json:"tls_client_cert"`
	TLSClientKey  string `json:"tls_client_key,omitempty"`
	// Auth authenticates Herald to the receiver; nil for none. Its
	// credentials are secrets: encrypted at rest, masked when shown.
	Auth *EndpointAuth `json:"auth,omitempty"`
	// Operational marks the endpoint Herald keeps for the app's
	// operational webhook: it receives only Herald's own events.
	Operational bool `json:"operational"`
	// UID is the customer's own id of the endpoint, unique among the
	// app's live endpoints; API paths accept it in place of ID. It never
	// starts with PrefixEndpoint, so the two cannot be confused.
	UID string `json:"uid,omitempty"`
	// Metadata is the customer's own labels (bounded like an app's).
	Metadata map[string]string `json:"metadata"`
	// Channels, when not empty, restrict the endpoint to events that
	// carry at least one of them (ListensTo); empty means every channel.
	Channels []string `json:"channels"`
	// WebhookHeaders overrides the app's signature header set
	// (WebhookHeadersStandard or WebhookHeadersSvix); empty: the app's.
	WebhookHeaders string `json:"webhook_headers"`
	// Destination says where a broker endpoint (IsBroker) publishes; nil
	// on push and pull endpoints. Its credentials are secrets.
	Destination *Destination `json:"destination,omitempty"`
	// EndpointTemplateID names the app's EndpointTemplate the endpoint
	// takes its URL and request shape from; empty for none. The
	// endpoint's fields always hold the values in force (ApplyTemplate),
	// so that delivery needs no lookup and its caches, keyed on
	// UpdatedAt, see a template's change as the endpoint's.
	EndpointTemplateID string `json:"endpoint_template_id,omitempty"`
	// TemplateOverrides names the template fields the endpoint set
	// itself (TemplateFields, "headers/<name>", "preset_options/<name>").
	TemplateOverrides []string `json:"template_overrides,omitempty"`
}

// BatchSettings group a push endpoint's due deliveries into one request
// whose body is a JSON array, one element per delivery, or the endpoint's
// BodyTemplate around that array.
type BatchSettings struct {
	// MaxEvents is the most deliveries in one request (2 to
	// MaxBatchEvents).
	MaxEvents int `json:"max_events"`
	// MaxWaitMS is how long the oldest waiting delivery may wait for
	// others to join it (0 to MaxBatchWaitMS): 0 sends what is waiting
	// at once.
	MaxWaitMS int `json:"max_wait_ms"`
	// MaxBytes caps the payload bytes of one request; 0: the rendered
	// request size cap alone.
	MaxBytes int `json:"max_bytes,omitempty"`
	// BodyTemplate, when set, is the JSON body of the whole request, in
	// the endpoint's template syntax, rendered once per batch with
	// {{batch.events}} (the array of elements), {{batch.id}} and
	// {{batch.size}}: receivers that take a wrapper object get it
	// without a converter. Empty: the array alone.
	BodyTemplate RawJSON `json:"body_template,omitempty"`
	// Element is BatchElementStandard (empty means it) or
	// BatchElementBody.
	Element string `json:"element,omitempty"`
}

// Batch elements (BatchSettings.Element).
const (
	// BatchElementStandard is {"id", "type", "timestamp", "data"}, data
	// being what the endpoint's shaping makes of the event.
	BatchElementStandard = "standard"
	// BatchElementBody is the JSON body the endpoint would send for the
	// event alone, for receivers taking a list of their own records.
	BatchElementBody = "body"
)

// Bounds of BatchSettings.
const (
	MaxBatchEvents = 1000
	MaxBatchWaitMS = 60_000
)

// Endpoint stages (EndpointSettings.Stage).
const (
	StageTest = "test"
	StageLive = "live"
)

// InTest reports whether the endpoint is in stage test: TestFilter
// narrows what it receives.
func (e *Endpoint) InTest() bool { return e.Stage == StageTest }

// Channel bounds: of an endpoint's channels and of an event's.
const (
	MaxChannels   = 10
	MaxChannelLen = 128
)

// ListensTo reports whether an event carrying channels reaches the
// endpoint, by Svix's rule: an endpoint without channels hears every
// event, one with channels only events that carry one of them (so never
// an event without channels).
func (e *Endpoint) ListensTo(channels []string) bool {
	if len(e.Channels) == 0 {
		return true
	}
	for _, c := range channels {
		for _, mine := range e.Channels {
			if c == mine {
				return true
			}
		}
	}
	return false
}

// OperationalPrefix starts the names of Herald's own event types. Only
// operational endpoints receive them.
const OperationalPrefix = "herald."

// Subscribes reports whether the endpoint receives events of the given
// type and group. Subscriptions are exact names, prefix wildcards ending
// in * ("conversation.*", "conversation_*") and group references
// ("group:nps"); empty means every event. Matching is case-sensitive.
func (e *Endpoint) Subscribes(eventType, group string) bool {
	if e.Operational != strings.HasPrefix(eventType, OperationalPrefix) {
		return false
	}
	if len(e.EventTypes) == 0 {
		return true
	}
	for _, t := range e.EventTypes {
		if SubscriptionMatches(t, eventType, group) {
			return true
		}
	}
	return false
}

// SubscriptionMatches reports whether one subscription entry matches.
func SubscriptionMatches(sub, eventType, group string) bool {
	switch {
	case strings.HasPrefix(sub, "group:"):
		return group != "" && sub[len("group:"):] == group
	case strings.HasSuffix(sub, "*"):
		return strings.HasPrefix(eventType, sub[:len(sub)-1])
	default:
		return sub == eventType
	}
}

// DeliverySettings are the settings that decide how an endpoint's
// deliveries are sent. The installation sets defaults, an app may override
// them, and an endpoint may override its app.
type DeliverySettings struct {
	RetrySchedule string `json:"retry_schedule"`
	TimeoutMS     int    `json:"timeout_ms"`
	MaxInFlight   int    `json:"max_in_flight"`
}

// TenantCeilings are the operator's bounds on the delivery settings an
// app or endpoint sets for itself. The API refuses a value above them, and
// whatever uses a setting applies them again, so that a value saved before
// a ceiling was lowered never escapes it. The installation's own settings
// are the operator's and are not bounded by them. A zero field bounds
// nothing.
type TenantCeilings struct {
	// MaxInFlight caps max_in_flight; TimeoutMS caps timeout_ms.
	MaxInFlight int
	TimeoutMS   int
	// MaxRetries caps the entries of a retry schedule; MinRetryDelay is
	// the least wait of one.
	MaxRetries    int
	MinRetryDelay time.Duration
	// MaxBatchBytes caps batch.max_bytes: the rendered request size cap
	// (--max-rendered-size), which a batch's one request must fit.
	MaxBatchBytes int
}

// Schedule returns a tenant's retry waits within the ceilings: entries
// beyond MaxRetries are dropped, waits below MinRetryDelay raised to it.
// The slice given is not changed.
func (c TenantCeilings) Schedule(waits []time.Duration) []time.Duration {
	if c.MaxRetries > 0 && len(waits) > c.MaxRetries {
		waits = waits[:c.MaxRetries]
	}
	if c.MinRetryDelay <= 0 {
		return waits
	}
	out := make([]time.Duration, len(waits))
	for i, d := range waits {
		out[i] = max(d, c.MinRetryDelay)
	}
	return out
}

// bound returns a tenant's value v within the ceiling max (0: none).
func bound(v, max int) int {
	if max > 0 && v > max {
		return max
	}
	return v
}

// EffectiveDelivery returns the settings in force for an endpoint: its
// own, else its app's (app may be nil), else the installation's. The
// app's and the endpoint's in-flight cap and timeout are held to
// ceilings; their retry schedule is returned as saved (whoever parses it
// applies TenantCeilings.Schedule).
func EffectiveDelivery(ep *Endpoint, app *App, installation DeliverySettings, ceilings TenantCeilings) DeliverySettings {
	out := installation
	if app != nil {
		if app.RetrySchedule != "" {
			out.RetrySchedule = app.RetrySchedule
		}
		if app.TimeoutMS > 0 {
			out.TimeoutMS = bound(app.TimeoutMS, ceilings.TimeoutMS)
		}
		if app.MaxInFlight > 0 {
			out.MaxInFlight = bound(app.MaxInFlight, ceilings.MaxInFlight)
		}
	}
	if ep.RetrySchedule != "" {
		out.RetrySchedule = ep.RetrySchedule
	}
	if ep.TimeoutMS > 0 {
		out.TimeoutMS = bound(ep.TimeoutMS, ceilings.TimeoutMS)
	}
	if ep.MaxInFlight > 0 {
		out.MaxInFlight = bound(ep.MaxInFlight, ceilings.MaxInFlight)
	}
	return out
}

// Sampled reports whether an event goes to an endpoint given its sample
// rate: a deterministic hash of both ids mapped to [0, 100).
func (e *Endpoint) Sampled(eventID string) bool {
	if e.SampleRate == nil || *e.SampleRate >= 100 {
		return true
	}
	if *e.SampleRate <= 0 {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(eventID))
	h.Write([]byte{0})
	h.Write([]byte(e.ID))
	return float64(h.Sum64()%1_000_000)/10_000 < *e.SampleRate
}

// EndpointAuth is how Herald authenticates to a receiver.
type EndpointAuth struct {
	// Type is basic, bearer or oauth2_client_credentials.
	Type     string `json:"type"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	// OAuth2 client credentials: Herald fetches an access token from
	// TokenURL and sends it in the Authorization header, or in the query
	// (access_token) when TokenIn is "query".
	TokenURL     string `json:"token_url,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	Scope        string `json:"scope,omitempty"`
	Audience     string `json:"audience,omitempty"`
	TokenIn      string `json:"token_in,omitempty"`
}
