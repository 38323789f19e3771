// Package tracing sends Herald's spans to an OpenTelemetry collector
// (OTLP over HTTP/protobuf). It is off unless an endpoint is configured:
// then no exporter exists and every span is a no-op, so tracing costs
// nothing where nobody reads it. The provider is Herald's own, never the
// global one, so that several servers in one process (tests) keep apart.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Span names and attribute keys, as docs/deploy.md lists them.
const (
	SpanIngest  = "herald.ingest"
	SpanAttempt = "herald.attempt"

	AttrAppID      = attribute.Key("herald.app_id")
	AttrEventID    = attribute.Key("herald.event_id")
	AttrEventType  = attribute.Key("herald.event_type")
	AttrDeliveries = attribute.Key("herald.deliveries")
	AttrEndpointID = attribute.Key("herald.endpoint_id")
	AttrDeliveryID = attribute.Key("herald.delivery_id")
	AttrAttempt    = attribute.Key("herald.attempt")
	AttrErrorKind  = attribute.Key("herald.error_kind")
	AttrURLFull    = attribute.Key("url.full")
	AttrStatusCode = attribute.Key("http.response.status_code")
)

// ServiceName is the service.name of Herald's spans.
const ServiceName = "herald"

// Options configure the exporter.
type Options struct {
	// Endpoint is --otel-endpoint: the collector's URL. A URL without a
	// path gets /v1/traces, as OTEL_EXPORTER_OTLP_ENDPOINT does. Empty:
	// the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
	// OTEL_EXPORTER_OTLP_ENDPOINT, read by the exporter itself; none of
	// them set, no traces.
	Endpoint string
	// Version and Node go on the resource (service.version,
	// service.instance.id).
	Version, Node string
	// Getenv reads the environment; nil: os.Getenv.
	Getenv func(string) string
}

// Provider makes Herald's tracer. A nil *Provider is valid: its tracer
// is a no-op and Shutdown does nothing.
type Provider struct {
	tp *sdktrace.TracerProvider
}

// Enabled reports whether o configures an exporter.
func (o Options) Enabled() bool {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return o.Endpoint != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// New builds the exporter and the provider, or returns nil when no
// endpoint is configured (nothing is created, nothing sent). Spans are
// batched and sent in the background; Shutdown flushes them.
func New(ctx context.Context, o Options) (*Provider, error) {
	if !o.Enabled() {
		return nil, nil
	}
	var opts []otlptracehttp.Option
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--otel-endpoint must be an http or https URL")
		}
		if strings.Trim(u.Path, "/") == "" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", ServiceName),
		attribute.String("service.version", o.Version),
		attribute.String("service.instance.id", o.Node),
		attribute.String("herald.node", o.Node),
	)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Provider{tp: tp}, nil
}

// Tracer returns the tracer of Herald's spans.
func (p *Provider) Tracer() trace.Tracer {
	if p == nil {
		return noop.NewTracerProvider().Tracer(ServiceName)
	}
	return p.tp.Tracer("github.com/heraldhq/herald")
}

// Shutdown sends the spans still buffered and stops the exporter, within
// ctx's deadline.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

// propagator writes W3C traceparent and tracestate.
var propagator = propagation.TraceContext{}

// Inject adds traceparent (and tracestate) for the span in ctx to h; it
// adds nothing when ctx holds no valid span context (traces off).
func Inject(ctx context.Context, h http.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// SafeURL is u as a span may show it: no credentials, no query, no
// fragment (tokens travel there).
func SafeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
