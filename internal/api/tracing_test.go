package api_test

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/verify"
)

// collector is an OTLP/HTTP receiver on 127.0.0.1: it decodes each
// ExportTraceServiceRequest and keeps its spans with their resource.
type collector struct {
	url   string
	mu    sync.Mutex
	spans []*tracepb.Span
	res   []map[string]string
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("collector got %s %s (%s): %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("collector: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			c.res = append(c.res, attrs(rs.Resource.GetAttributes()))
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

func (c *collector) named(name string) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range c.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// attrs flattens OTLP attributes to strings (ints in decimal).
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = map[bool]string{true: "true", false: "false"}[v.BoolValue]
		}
	}
	return m
}

// waitAttempts polls an event's first delivery (with its attempts) until
// it has n recorded attempts.
func waitAttempts(t *testing.T, s *heraldtest.Server, app, eventID string, n int) heraldtest.Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var dl struct{ Data []heraldtest.Delivery }
		s.MustDo("GET", "/v1/apps/"+app+"/events/"+eventID+"/deliveries?include_attempts=true", nil, &dl, 200)
		if len(dl.Data) == 1 && len(dl.Data[0].Attempts) == n {
			return dl.Data[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s: %d attempts not recorded: %+v", eventID, n, dl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// traceSecret signs the traced endpoint's requests.
const traceSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// With an OTLP endpoint, each event gets an ingest span and each attempt
// a span linked to it, with the documented attributes, exported to a real
// OTLP/HTTP receiver (flushed at shutdown); traceparent reaches only the
// endpoints of apps with propagate_trace_context, carries the attempt's
// span, and shows in the attempt history.
func TestTracesExported(t *testing.T) {
	t.Parallel()
	col := newCollector(t)
	s := heraldtest.Start(t, heraldtest.Options{AllowUndeclaredEventTypes: true, RetrySchedule: "50ms",
		Config: func(c *config.Serve) { c.OTelEndpoint = col.url }})
	if !s.Tracing {
		t.Fatal("no exporter was created with --otel-endpoint set")
	}
	traced := heraldtest.NewReceiver(t, nil)
	// The plain app's receiver fails its first request: a failed attempt,
	// then a retry that still links to the event's ingest span.
	plain := heraldtest.NewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	var tApp, pApp struct{ ID string }
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Traced", "uid": "traced", "propagate_trace_context": true}, &tApp, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Plain", "uid": "plain"}, &pApp, 201)
	var got struct {
		PropagateTraceContext bool `json:"propagate_trace_context"`
	}
	s.MustDo("GET", "/v1/apps/traced", nil, &got, 200)
	if !got.PropagateTraceContext {
		t.Fatal("propagate_trace_context was not kept")
	}
	var tEp, pEp struct{ ID string }
	s.MustDo("POST", "/v1/apps/traced/endpoints", map[string]any{"url": traced.URL + "/hook?token=s3cret", "secret": traceSecret}, &tEp, 201)
	s.MustDo("POST", "/v1/apps/plain/endpoints", map[string]any{"url": plain.URL + "/in"}, &pEp, 201)
	var tEv, pEv struct{ ID string }
	s.MustDo("POST", "/v1/apps/traced/events", map[string]any{"event_type": "order.paid", "payload": map[string]any{"n": 1}}, &tEv, 202)
	s.MustDo("POST", "/v1/apps/plain/events", map[string]any{"event_type": "order.paid", "payload": map[string]any{"n": 2}}, &pEv, 202)

	tReq := traced.Wait(t, 1, 10*time.Second)[0]
	pReqs := plain.Wait(t, 2, 10*time.Second)
	tp := tReq.Header.Get("Traceparent")
	if len(tp) != 55 || !strings.HasPrefix(tp, "00-") {
		t.Fatalf("traced app's receiver got traceparent %q", tp)
	}
	// traceparent is outside the signed content: the request verifies.
	v, err := verify.New(traceSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(tReq.Header, tReq.Body); err != nil {
		t.Errorf("request with traceparent does not verify: %v", err)
	}
	for _, r := range pReqs {
		if v := r.Header.Get("Traceparent"); v != "" {
			t.Errorf("app without propagate_trace_context sent traceparent %q", v)
		}
	}
	// The attempt history shows it as sent.
	d := waitAttempts(t, s, "traced", tEv.ID, 1)
	if h := d.Attempts[0].Request.Headers["Traceparent"]; h != tp {
		t.Errorf("attempt history shows traceparent %q, sent %q", h, tp)
	}
	tDelivery := d.ID
	waitAttempts(t, s, "plain", pEv.ID, 2)

	// Shutdown flushes the spans.
	s.Stop()
	ingest := col.named("herald.ingest")
	attempts := col.named("herald.attempt")
	if len(ingest) != 2 || len(attempts) != 3 {
		t.Fatalf("got %d ingest and %d attempt spans, want 2 and 3", len(ingest), len(attempts))
	}
	col.mu.Lock()
	res := col.res[0]
	col.mu.Unlock()
	if res["service.name"] != "herald" || res["service.version"] == "" || res["service.instance.id"] != s.Node {
		t.Errorf("resource = %v", res)
	}
	ingestOf := map[string]*tracepb.Span{}
	for _, sp := range ingest {
		a := attrs(sp.Attributes)
		ingestOf[a["herald.event_id"]] = sp
		want := map[string]string{tEv.ID: tApp.ID, pEv.ID: pApp.ID}[a["herald.event_id"]]
		if want == "" || a["herald.app_id"] != want || a["herald.event_type"] != "order.paid" || a["herald.deliveries"] != "1" {
			t.Errorf("ingest span attributes %v", a)
		}
	}
	var failed, ok int
	for _, sp := range attempts {
		a := attrs(sp.Attributes)
		ev, url, ep := pEv.ID, plain.URL+"/in", pEp.ID
		if a["herald.app_id"] == tApp.ID {
			ev, url, ep = tEv.ID, traced.URL+"/hook", tEp.ID
			if a["herald.delivery_id"] != tDelivery {
				t.Errorf("attempt span of delivery %s, want %s", a["herald.delivery_id"], tDelivery)
			}
			// traceparent carried this span's context.
			if want := "00-" + hex.EncodeToString(sp.TraceId) + "-" + hex.EncodeToString(sp.SpanId) + "-01"; tp != want {
				t.Errorf("traceparent %q, attempt span %q", tp, want)
			}
		}
		if a["herald.endpoint_id"] != ep || a["url.full"] != url || a["herald.delivery_id"] == "" {
			t.Errorf("attempt span attributes %v (want endpoint %s, url %s)", a, ep, url)
		}
		ing := ingestOf[ev]
		if len(sp.Links) != 1 || ing == nil || string(sp.Links[0].TraceId) != string(ing.TraceId) || string(sp.Links[0].SpanId) != string(ing.SpanId) {
			t.Errorf("attempt span %v does not link to the ingest span of %s", a, ev)
		}
		switch a["http.response.status_code"] {
		case "503":
			failed++
			if a["herald.error_kind"] == "" || a["herald.attempt"] != "1" || sp.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("failed attempt span: %v, status %v", a, sp.Status)
			}
		case "200":
			ok++
			if _, has := a["herald.error_kind"]; has || sp.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("succeeded attempt span: %v, status %v", a, sp.Status)
			}
		default:
			t.Errorf("attempt span without a status code: %v", a)
		}
	}
	if failed != 1 || ok != 2 {
		t.Errorf("%d failed and %d succeeded attempt spans, want 1 and 2", failed, ok)
	}
}

// Without an endpoint (flag or OTEL_EXPORTER_OTLP_*), no exporter is
// created at all: nothing can be sent.
func TestTracesOffByDefault(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	s := heraldtest.Start(t, heraldtest.Options{})
	if s.Tracing {
		t.Fatal("an exporter was created with no endpoint configured")
	}
	rc := heraldtest.NewReceiver(t, nil)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "Traced", "uid": "acme", "propagate_trace_context": true}, nil, 201)
	s.MustDo("POST", "/v1/event-types", map[string]any{"name": "lead.created"}, nil, 201)
	s.MustDo("POST", "/v1/apps/acme/endpoints", map[string]any{"url": rc.URL}, nil, 201)
	s.Send(map[string]any{"n": 1})
	if v := rc.Wait(t, 1, 10*time.Second)[0].Header.Get("Traceparent"); v != "" {
		t.Errorf("traceparent %q sent with traces off", v)
	}
}

// propagate_trace_context must be a boolean: anything else is a 400
// naming the field.
func TestPropagateTraceContextRefusesNonBoolean(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	var e struct {
		Error struct{ Field, Message string }
	}
	code := s.Invalid().Do("POST", "/v1/apps", map[string]any{"name": "A", "propagate_trace_context": "yes"}, &e)
	if code != 400 || !strings.Contains(e.Error.Field+e.Error.Message, "propagate_trace_context") {
		t.Fatalf("answered %d %+v", code, e)
	}
}
