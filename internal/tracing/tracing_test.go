package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// Without --otel-endpoint, the standard OTEL_EXPORTER_OTLP_ENDPOINT turns
// traces on: the exporter sends to <it>/v1/traces, and Shutdown flushes.
// With none set, New creates nothing.
func TestStandardEndpointVariable(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			got.Add(1)
		}
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	if p, err := New(t.Context(), Options{}); p != nil || err != nil {
		t.Fatalf("no endpoint: New = %v, %v", p, err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	p, err := New(t.Context(), Options{Version: "test", Node: "n1"})
	if err != nil || p == nil {
		t.Fatalf("New = %v, %v", p, err)
	}
	_, span := p.Tracer().Start(t.Context(), SpanIngest)
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.Load() != 1 {
		t.Fatalf("collector got %d exports, want 1", got.Load())
	}
}

// Spans show URLs without credentials, query or fragment.
func TestSafeURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@hooks.example.com/in?token=s#frag": "https://hooks.example.com/in",
		"http://127.0.0.1:8080/a/b?":                        "http://127.0.0.1:8080/a/b",
		"https://example.com":                               "https://example.com",
	} {
		if got := SafeURL(in); got != want {
			t.Errorf("SafeURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// Links keep at most their capacity, forgetting the oldest first.
func TestLinksBounded(t *testing.T) {
	l := NewLinks(2)
	sc := func(b byte) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{b}, SpanID: trace.SpanID{b}})
	}
	l.Put("ev1", sc(1))
	l.Put("ev2", sc(2))
	l.Put("ev3", sc(3))
	if _, ok := l.Get("ev1"); ok {
		t.Error("ev1 kept past the capacity")
	}
	for i, id := range []string{"ev2", "ev3"} {
		if got, ok := l.Get(id); !ok || got.TraceID()[0] != byte(i+2) {
			t.Errorf("%s: %v, %v", id, got, ok)
		}
	}
	l.Put("ev4", trace.SpanContext{})
	if _, ok := l.Get("ev4"); ok {
		t.Error("an invalid span context was kept")
	}
	var none *Links
	none.Put("ev", sc(1))
	if _, ok := none.Get("ev"); ok {
		t.Error("a nil Links remembered")
	}
}
