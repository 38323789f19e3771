package herald

import "time"

// App is one customer (tenant) of the product that sends events through
// Herald. Endpoints, events and deliveries all belong to one app.
type App struct {
	ID string `json:"id"`
	// UID is the product's own identifier for the app; API paths accept it
	// in place of ID so the product need not store Herald's ids. Only an
	// admin changes it: it is the product's handle, not the customer's.
	UID  string `json:"uid"`
	Name string `json:"name"`
	// AppSettings appear inline in the app's JSON.
	AppSettings
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AppSettings are an app's own limits and delivery defaults. Zero values
// mean the installation's. The stores keep them as one JSON document. The
// limits (MaxEndpointsPerEventType[PerChannel], MonthlyDeliveryQuota) are the
// operator's: an app-scoped key cannot change them.
type AppSettings struct {
	// MaxEndpointsPerEventType caps how many endpoints may subscribe to
	// one event type (immdio allows 3); 0 means no limit.
	MaxEndpointsPerEventType int `json:"max_endpoints_per_event_type"`
	// MaxEndpointsPerEventTypePerChannel, when above 0, caps instead the
	// endpoints with channels: per event type and per channel they list
	// (immdio's 3 per form, with channels = form ids); endpoints without
	// channels stay under MaxEndpointsPerEventType. 0: no such limit, and
	// every endpoint counts against MaxEndpointsPerEventType.
	MaxEndpointsPerEventTypePerChannel int `json:"max_endpoints_per_event_type_per_channel"`
	// OperationalWebhookURL receives Herald's own events about the app's
	// endpoints (herald.endpoint.disabled, herald.endpoint.recovered).
	OperationalWebhookURL string `json:"operational_webhook_url"`
	// OperationalEventTypes picks which of Herald's own events
	// (herald.endpoint.failing, ...) the operational webhook receives;
	// empty means all of them.
	OperationalEventTypes []string `json:"operational_event_types"`
	// RetrySchedule, TimeoutMS and MaxInFlight override the
	// installation's delivery settings for the app's endpoints, within
	// the operator's TenantCeilings.
	RetrySchedule string `json:"retry_schedule"`
	TimeoutMS     int    `json:"timeout_ms"`
	MaxInFlight   int    `json:"max_in_flight"`
	// SuccessStatuses are the answers the app's endpoints count as
	// received ("200", "2xx"); empty: every 2xx. An endpoint may choose
	// otherwise.
	SuccessStatuses []string `json:"success_statuses,omitempty"`
	// PayloadFormat is the default body shape of the app's endpoints
	// (standard, raw or flat); empty: the installation's.
	PayloadFormat string `json:"payload_format"`
	// TemplateSyntax is the default tag syntax of the app's endpoints:
	// "braces" ({{path}}) or "hash" (#{path}).
	TemplateSyntax string `json:"template_syntax"`
	// MonthlyDeliveryQuota caps the deliveries made for the app in a
	// calendar month (UTC): created by events and manual sends, requeued
	// by recoveries, sent again by resends; beyond it those calls are
	// refused with 429. 0 means no quota. (KARTE's free plan: 1,000,000.)
	MonthlyDeliveryQuota int64 `json:"monthly_delivery_quota"`
	// Metadata is the product's own labels for the app (at most
	// MaxMetadataKeys); Herald keeps and returns it, nothing more.
	Metadata map[string]string `json:"metadata"`
	// WebhookHeaders names the signature headers of the app's endpoints'
	// deliveries: WebhookHeadersStandard (webhook-*; also when empty) or
	// WebhookHeadersSvix (svix-*), for receivers written against Svix.
	// An endpoint may choose otherwise.
	WebhookHeaders string `json:"webhook_headers"`
	// PropagateTraceContext sends the W3C traceparent (and tracestate)
	// of each attempt's span to the app's endpoints, so that receivers
	// that trace join Herald's traces; off by default, since it tells
	// receivers trace ids. Needs traces on (--otel-endpoint).
	PropagateTraceContext bool `json:"propagate_trace_context"`
	// NewEndpointsEnabled says whether endpoints created without an
	// explicit "enabled" start enabled; nil: the installation's
	// (--new-endpoints-enabled). Pendo's new webhooks start disabled.
	NewEndpointsEnabled *bool `json:"new_endpoints_enabled"`
}

// Signature header sets (AppSettings.WebhookHeaders,
// EndpointSettings.WebhookHeaders).
const (
	// WebhookHeadersStandard: webhook-id, webhook-timestamp,
	// webhook-signature (the Standard Webhooks names).
	WebhookHeadersStandard = "standard"
	// WebhookHeadersSvix: svix-id, svix-timestamp, svix-signature, with
	// the same values, for receivers that verify with Svix's libraries.
	WebhookHeadersSvix = "svix"
)

// Metadata bounds (apps and endpoints): a tenant's labels must not bloat
// the settings document every read carries.
const (
	MaxMetadataKeys     = 50
	MaxMetadataKeyLen   = 64
	MaxMetadataValueLen = 1024
)

// EffectiveWebhookHeaders returns the signature header set in force for
// an endpoint: its own, else its app's (app may be nil), else standard.
func EffectiveWebhookHeaders(ep *Endpoint, app *App) string {
	if ep != nil && ep.WebhookHeaders != "" {
		return ep.WebhookHeaders
	}
	if app != nil && app.WebhookHeaders != "" {
		return app.WebhookHeaders
	}
	return WebhookHeadersStandard
}
