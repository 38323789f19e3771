package svixapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// svixRoutes is every operation of Svix's two clients (svix 1.99 and
// 2.5, api/*.ts) but messages and attempts (messages_test.go): each is
// mapped or answers 501, none is an unknown route.
var svixRoutes = []string{
	"GET /api/v1/app",
	"POST /api/v1/app",
	"DELETE /api/v1/app/{app_id}",
	"GET /api/v1/app/{app_id}",
	"PATCH /api/v1/app/{app_id}",
	"PUT /api/v1/app/{app_id}",
	"POST /api/v1/app/{app_id}/autoconfig",
	"POST /api/v1/app/{app_id}/autoconfig/{autoconfig_id}/rotate",
	"GET /api/v1/app/{app_id}/destination",
	"POST /api/v1/app/{app_id}/destination",
	"DELETE /api/v1/app/{app_id}/destination/{destination_id}",
	"GET /api/v1/app/{app_id}/destination/{destination_id}",
	"PATCH /api/v1/app/{app_id}/destination/{destination_id}",
	"PUT /api/v1/app/{app_id}/destination/{destination_id}",
	"GET /api/v1/app/{app_id}/destination/{destination_id}/transformation",
	"PATCH /api/v1/app/{app_id}/destination/{destination_id}/transformation",
	"GET /api/v1/app/{app_id}/endpoint",
	"POST /api/v1/app/{app_id}/endpoint",
	"DELETE /api/v1/app/{app_id}/endpoint/{endpoint_id}",
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}",
	"PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}",
	"PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}",
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay",
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
	"PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
	"PUT /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers",
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/recover",
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing",
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret",
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate",
	"POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example",
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/stats",
	"GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/transformation",
	"PATCH /api/v1/app/{app_id}/endpoint/{endpoint_id}/transformation",
	"GET /api/v1/app/{app_id}/integration",
	"POST /api/v1/app/{app_id}/integration",
	"DELETE /api/v1/app/{app_id}/integration/{integ_id}",
	"GET /api/v1/app/{app_id}/integration/{integ_id}",
	"PUT /api/v1/app/{app_id}/integration/{integ_id}",
	"GET /api/v1/app/{app_id}/integration/{integ_id}/key",
	"POST /api/v1/app/{app_id}/integration/{integ_id}/key/rotate",
	"GET /api/v1/app/{app_id}/poller/{sink_id}",
	"GET /api/v1/app/{app_id}/poller/{sink_id}/consumer/{consumer_id}",
	"POST /api/v1/app/{app_id}/poller/{sink_id}/consumer/{consumer_id}/seek",
	"POST /api/v1/auth/app-portal-access/{app_id}",
	"POST /api/v1/auth/app/{app_id}/expire-all",
	"POST /api/v1/auth/dashboard-access/{app_id}",
	"POST /api/v1/auth/logout",
	"POST /api/v1/auth/stream-logout",
	"POST /api/v1/auth/stream-portal-access/{stream_id}",
	"POST /api/v1/auth/stream/{stream_id}/expire-all",
	"GET /api/v1/auth/stream/{stream_id}/sink/{sink_id}/poller/token",
	"POST /api/v1/auth/stream/{stream_id}/sink/{sink_id}/poller/token/rotate",
	"GET /api/v1/background-task",
	"GET /api/v1/background-task/{task_id}",
	"GET /api/v1/connector",
	"POST /api/v1/connector",
	"DELETE /api/v1/connector/{connector_id}",
	"GET /api/v1/connector/{connector_id}",
	"PATCH /api/v1/connector/{connector_id}",
	"PUT /api/v1/connector/{connector_id}",
	"POST /api/v1/environment/export",
	"POST /api/v1/environment/import",
	"GET /api/v1/event-type",
	"POST /api/v1/event-type",
	"POST /api/v1/event-type/import/openapi",
	"DELETE /api/v1/event-type/{event_type_name}",
	"GET /api/v1/event-type/{event_type_name}",
	"PATCH /api/v1/event-type/{event_type_name}",
	"PUT /api/v1/event-type/{event_type_name}",
	"GET /api/v1/health",
	"GET /api/v1/operational-webhook/endpoint",
	"POST /api/v1/operational-webhook/endpoint",
	"DELETE /api/v1/operational-webhook/endpoint/{endpoint_id}",
	"GET /api/v1/operational-webhook/endpoint/{endpoint_id}",
	"PUT /api/v1/operational-webhook/endpoint/{endpoint_id}",
	"GET /api/v1/operational-webhook/endpoint/{endpoint_id}/headers",
	"PUT /api/v1/operational-webhook/endpoint/{endpoint_id}/headers",
	"GET /api/v1/operational-webhook/endpoint/{endpoint_id}/secret",
	"POST /api/v1/operational-webhook/endpoint/{endpoint_id}/secret/rotate",
	"POST /api/v1/stats/usage/app",
	"PUT /api/v1/stats/usage/event-types",
	"GET /api/v1/stream",
	"POST /api/v1/stream",
	"GET /api/v1/stream/event-type",
	"POST /api/v1/stream/event-type",
	"DELETE /api/v1/stream/event-type/{name}",
	"GET /api/v1/stream/event-type/{name}",
	"PATCH /api/v1/stream/event-type/{name}",
	"PUT /api/v1/stream/event-type/{name}",
	"DELETE /api/v1/stream/{stream_id}",
	"GET /api/v1/stream/{stream_id}",
	"PATCH /api/v1/stream/{stream_id}",
	"PUT /api/v1/stream/{stream_id}",
	"POST /api/v1/stream/{stream_id}/events",
	"GET /api/v1/stream/{stream_id}/sink",
	"POST /api/v1/stream/{stream_id}/sink",
	"DELETE /api/v1/stream/{stream_id}/sink/{sink_id}",
	"GET /api/v1/stream/{stream_id}/sink/{sink_id}",
	"PATCH /api/v1/stream/{stream_id}/sink/{sink_id}",
	"PUT /api/v1/stream/{stream_id}/sink/{sink_id}",
	"GET /api/v1/stream/{stream_id}/sink/{sink_id}/events",
	"GET /api/v1/stream/{stream_id}/sink/{sink_id}/headers",
	"PATCH /api/v1/stream/{stream_id}/sink/{sink_id}/headers",
	"GET /api/v1/stream/{stream_id}/sink/{sink_id}/secret",
	"POST /api/v1/stream/{stream_id}/sink/{sink_id}/secret/rotate",
	"GET /api/v1/stream/{stream_id}/sink/{sink_id}/transformation",
	"PATCH /api/v1/stream/{stream_id}/sink/{sink_id}/transformation",
	"GET /ingest/api/v1/source",
	"POST /ingest/api/v1/source",
	"DELETE /ingest/api/v1/source/{source_id}",
	"GET /ingest/api/v1/source/{source_id}",
	"PUT /ingest/api/v1/source/{source_id}",
	"POST /ingest/api/v1/source/{source_id}/dashboard",
	"GET /ingest/api/v1/source/{source_id}/endpoint",
	"POST /ingest/api/v1/source/{source_id}/endpoint",
	"DELETE /ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}",
	"GET /ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}",
	"PUT /ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}",
	"GET /ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/headers",
	"PUT /ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/headers",
	"GET /ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/secret",
	"POST /ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/secret/rotate",
	"GET /ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/transformation",
	"PATCH /ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/transformation",
	"POST /ingest/api/v1/source/{source_id}/token/rotate",
}

func TestEveryRouteIsKnown(t *testing.T) {
	s := heraldtest.Start(t, heraldtest.Options{})
	fill := strings.NewReplacer("{app_id}", "nosuch", "{endpoint_id}", "nosuch", "{event_type_name}", "nosuch",
		"{task_id}", "nosuch", "{stream_id}", "s", "{sink_id}", "s", "{name}", "n", "{integ_id}", "i",
		"{connector_id}", "c", "{destination_id}", "d", "{autoconfig_id}", "a", "{consumer_id}", "c", "{source_id}", "s")
	for _, rt := range svixRoutes {
		method, p, _ := strings.Cut(rt, " ")
		var body any
		if method != "GET" && method != "DELETE" {
			body = map[string]any{}
		}
		var raw json.RawMessage
		got := s.Invalid().Do(method, fill.Replace(p), body, &raw)
		var e svixError
		_ = json.Unmarshal(raw, &e)
		if got == http.StatusNotFound && strings.HasPrefix(e.Detail, "no such route") || got == http.StatusMethodNotAllowed || got >= 500 && got != 501 {
			t.Errorf("%s: %d %+v", rt, got, e)
		}
		if got == 501 && (e.Code != "not_implemented" || !strings.Contains(e.Detail, "not supported")) {
			t.Errorf("%s: 501 %+v", rt, e)
		}
	}
	// Ingest's unknown routes are unknown in Svix's shape.
	var e svixError
	if got := s.Do("GET", "/ingest/api/v1/nothing", nil, &e); got != 404 || e.Code != "not_found" {
		t.Fatalf("unknown ingest route: %d %+v", got, e)
	}
	if got := s.Do("POST", "/ingest/api/v1/source", map[string]any{}, &e); got != 501 || !strings.Contains(e.Detail, "Ingest") {
		t.Fatalf("ingest: %d %+v", got, e)
	}
	if got := s.Do("GET", "/api/v1/stream/s/sink/x/events", nil, &e); got != 501 || !strings.Contains(e.Detail, "Stream") {
		t.Fatalf("stream: %d %+v", got, e)
	}
}
