package svixapi

import "net/http"

// IngestPrefix is the path under which Svix's Ingest API lives; Herald
// answers it only to say that it has none (501).
const IngestPrefix = "/ingest/api/v1/"

// unsupportedFamily is a part of Svix's API that Herald has no
// counterpart of: each operation answers 501 saying why.
type unsupportedFamily struct {
	name, why string
	routes    []string
}

var unsupportedFamilies = []unsupportedFamily{
	{"Svix Stream (streams, sinks, stream event types and their tokens)",
		"Herald delivers webhooks to endpoints; it has no event streams or sinks",
		[]string{
			// Every route under /api/v1/stream/ is Stream's; patterns
			// of its own would conflict in the mux.
			"/api/v1/stream", "/api/v1/stream/",
			"POST /api/v1/auth/stream-portal-access/{stream_id}", "POST /api/v1/auth/stream-logout",
			"POST /api/v1/auth/stream/{stream_id}/expire-all",
			"GET /api/v1/auth/stream/{stream_id}/sink/{sink_id}/poller/token",
			"POST /api/v1/auth/stream/{stream_id}/sink/{sink_id}/poller/token/rotate",
		}},
	{"the message poller", "Herald's pull endpoints are its polling: create an endpoint with kind pull in Herald's API (GET .../endpoints/{id}/pull)",
		[]string{
			"GET /api/v1/app/{app_id}/poller/{sink_id}",
			"GET /api/v1/app/{app_id}/poller/{sink_id}/consumer/{consumer_id}",
			"POST /api/v1/app/{app_id}/poller/{sink_id}/consumer/{consumer_id}/seek",
		}},
	{"destinations", "Herald's destinations are endpoints (with presets for Slack, Teams and others); use the endpoint operations",
		[]string{
			"GET /api/v1/app/{app_id}/destination", "POST /api/v1/app/{app_id}/destination",
			"GET /api/v1/app/{app_id}/destination/{destination_id}", "PUT /api/v1/app/{app_id}/destination/{destination_id}",
			"PATCH /api/v1/app/{app_id}/destination/{destination_id}", "DELETE /api/v1/app/{app_id}/destination/{destination_id}",
			"GET /api/v1/app/{app_id}/destination/{destination_id}/transformation",
			"PATCH /api/v1/app/{app_id}/destination/{destination_id}/transformation",
		}},
	{"autoconfig subscriptions", "Herald has no autoconfig; create endpoints with the endpoint operations",
		[]string{"POST /api/v1/app/{app_id}/autoconfig", "POST /api/v1/app/{app_id}/autoconfig/{autoconfig_id}/rotate"}},
	{"integrations", "Herald has no integration keys; give a customer's system an app-scoped API key (Herald's POST /v1/api-keys)",
		[]string{
			"GET /api/v1/app/{app_id}/integration", "POST /api/v1/app/{app_id}/integration",
			"GET /api/v1/app/{app_id}/integration/{integ_id}", "PUT /api/v1/app/{app_id}/integration/{integ_id}",
			"DELETE /api/v1/app/{app_id}/integration/{integ_id}",
			"GET /api/v1/app/{app_id}/integration/{integ_id}/key", "POST /api/v1/app/{app_id}/integration/{integ_id}/key/rotate",
		}},
	{"connectors", "Herald has no connector catalog; it shapes requests with presets and body templates (docs/templates.md)",
		[]string{
			"GET /api/v1/connector", "POST /api/v1/connector",
			"GET /api/v1/connector/{connector_id}", "PUT /api/v1/connector/{connector_id}",
			"PATCH /api/v1/connector/{connector_id}", "DELETE /api/v1/connector/{connector_id}",
		}},
	{"environment export and import", "Herald has no environment document; load the event-type catalog with its POST /v1/event-types/import",
		[]string{"POST /api/v1/environment/export", "POST /api/v1/environment/import"}},
	{"operational webhook endpoints", "Herald's operational webhooks are set per app (its operational_webhook_url in Herald's API), not for the whole environment",
		[]string{
			"GET /api/v1/operational-webhook/endpoint", "POST /api/v1/operational-webhook/endpoint",
			"GET /api/v1/operational-webhook/endpoint/{endpoint_id}", "PUT /api/v1/operational-webhook/endpoint/{endpoint_id}",
			"DELETE /api/v1/operational-webhook/endpoint/{endpoint_id}",
			"GET /api/v1/operational-webhook/endpoint/{endpoint_id}/headers", "PUT /api/v1/operational-webhook/endpoint/{endpoint_id}/headers",
			"GET /api/v1/operational-webhook/endpoint/{endpoint_id}/secret",
			"POST /api/v1/operational-webhook/endpoint/{endpoint_id}/secret/rotate",
		}},
	{"usage statistics", "Herald counts each app's deliveries of the month (its GET /v1/apps/{app}/usage) and each endpoint's (endpoint stats); it has no aggregation tasks",
		[]string{"POST /api/v1/stats/usage/app", "PUT /api/v1/stats/usage/event-types"}},
	{"Svix Ingest", "Herald sends webhooks; it does not receive them from sources",
		[]string{
			"GET " + IngestPrefix + "source", "POST " + IngestPrefix + "source",
			"GET " + IngestPrefix + "source/{source_id}", "PUT " + IngestPrefix + "source/{source_id}",
			"DELETE " + IngestPrefix + "source/{source_id}",
			"POST " + IngestPrefix + "source/{source_id}/dashboard", "POST " + IngestPrefix + "source/{source_id}/token/rotate",
			"GET " + IngestPrefix + "source/{source_id}/endpoint", "POST " + IngestPrefix + "source/{source_id}/endpoint",
			"GET " + IngestPrefix + "source/{source_id}/endpoint/{endpoint_id}", "PUT " + IngestPrefix + "source/{source_id}/endpoint/{endpoint_id}",
			"DELETE " + IngestPrefix + "source/{source_id}/endpoint/{endpoint_id}",
			"GET " + IngestPrefix + "source/{source_id}/endpoint/{endpoint_id}/headers", "PUT " + IngestPrefix + "source/{source_id}/endpoint/{endpoint_id}/headers",
			"GET " + IngestPrefix + "source/{source_id}/endpoint/{endpoint_id}/secret", "POST " + IngestPrefix + "source/{source_id}/endpoint/{endpoint_id}/secret/rotate",
			"GET " + IngestPrefix + "source/{source_id}/endpoint/{endpoint_id}/transformation", "PATCH " + IngestPrefix + "source/{source_id}/endpoint/{endpoint_id}/transformation",
		}},
}

// unsupportedRoutes registers every operation of Svix's two clients that
// Herald has no counterpart of (501 naming it), and the Ingest API's
// unknown routes (404).
func (h *Handler) unsupportedRoutes() {
	for _, f := range unsupportedFamilies {
		for _, rt := range f.routes {
			h.unsupported(rt, rt+" ("+f.name+")", f.why)
		}
	}
	h.mux.HandleFunc(IngestPrefix, h.wrap(func(w http.ResponseWriter, r *http.Request) *Error {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "no such route: " + r.Method + " " + r.URL.Path}
	}))
}
