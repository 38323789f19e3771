// Package config holds Herald's settings as plain data: one struct per
// command, filled from flags, then HERALD_* environment variables, then
// (for serve) a configuration file (ReadFile), then defaults. Every flag
// has an environment variable of the same name.
//
// It imports no Herald package but leaves (the duration syntax, spelling
// suggestions): what a setting means (a retry schedule, a destination
// policy) is parsed by the code that uses it, so the settings can be
// filled and read by anything, tests included.
package config

import (
	"encoding"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/duration"
)

// Serve configures `herald serve`.
type Serve struct {
	// Config is read by the flag parser (see internal/cli), which fills
	// the other fields from it; it is kept for the record.
	Config string `name:"config" env:"HERALD_CONFIG" placeholder:"FILE" help:"Configuration file, TOML (.toml) or YAML (.yaml): one key per flag (retention = \"30d\"). Flags win over HERALD_* variables, which win over the file."`

	Addr       string `name:"addr" env:"HERALD_ADDR" default:"127.0.0.1:8080" help:"Address the HTTP API listens on."`
	DataDir    string `name:"data-dir" env:"HERALD_DATA_DIR" default:"./herald-data" help:"Directory of the embedded database, the admin token file and the lock file."`
	AdminToken string `name:"admin-token" env:"HERALD_ADMIN_TOKEN" help:"Bearer token for the API. When unset, one is generated at first start, kept in the data dir and printed once."`

	EncryptionKey      string        `name:"encryption-key" env:"HERALD_ENCRYPTION_KEY" help:"Keys that encrypt endpoint secrets at rest: id:base64 of 32 bytes, comma-separated, the first encrypting, the others still readable (rotation). Prefer the variable to the flag. Unset: a key file in the data dir (SQLite only)."`
	DatabaseURL        string        `name:"database-url" env:"HERALD_DATABASE_URL" help:"postgres://... to run on PostgreSQL (several nodes may share it); unset: the embedded SQLite database in --data-dir."`
	Role               string        `name:"role" env:"HERALD_ROLE" default:"all" enum:"all,api,worker" help:"all: API and delivery; api: only the API; worker: only delivery (with /healthz, /readyz, /metrics). api and worker need --database-url."`
	Retention          time.Duration `name:"retention" env:"HERALD_RETENTION" default:"720h" help:"Events, deliveries and attempts older than this are removed in the background (0 keeps everything)."`
	LeaseDuration      time.Duration `name:"lease-duration" env:"HERALD_LEASE_DURATION" default:"5m" help:"How long a node holds deliveries it took unless it makes progress; the backstop for a node alive but stuck (a node that dies loses them after 3 missed heartbeats)."`
	HeartbeatInterval  time.Duration `name:"heartbeat-interval" env:"HERALD_HEARTBEAT_INTERVAL" default:"2s" help:"How often a node reports it lives; limits are shared between the nodes alive, and a node silent for 3 intervals is dead: the others take its deliveries at once."`
	MetricsToken       string        `name:"metrics-token" env:"HERALD_METRICS_TOKEN" help:"When set, GET /metrics needs Authorization: Bearer <this token>."`
	MetricsTopApps     int           `name:"metrics-top-apps" env:"HERALD_METRICS_TOP_APPS" default:"20" help:"Per-app attempt metrics name the N apps with the most attempts (recomputed every minute); the rest are counted under app=\"other\", so the series stay bounded."`
	MetricsPerEndpoint bool          `name:"metrics-per-endpoint" env:"HERALD_METRICS_PER_ENDPOINT" help:"Also label attempt metrics by endpoint, for the N endpoints with the most attempts (N: --metrics-top-apps), the rest under endpoint=\"other\"."`
	OTelEndpoint       string        `name:"otel-endpoint" env:"HERALD_OTEL_ENDPOINT" help:"Send traces (OTLP over HTTP/protobuf) to this collector URL (a base URL gets /v1/traces). Unset: the standard OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else no traces."`

	RetrySchedule        string        `name:"retry-schedule" env:"HERALD_RETRY_SCHEDULE" default:"${retry_schedule}" help:"Waits before each retry, comma-separated durations; the number of items is the number of retries."`
	RequestTimeout       time.Duration `name:"request-timeout" env:"HERALD_REQUEST_TIMEOUT" default:"15s" help:"Timeout of one request to an endpoint, unless the endpoint sets timeout_ms."`
	Workers              int           `name:"workers" env:"HERALD_WORKERS" default:"256" help:"Requests in flight at once, over all endpoints."`
	MaxInFlight          int           `name:"max-in-flight" env:"HERALD_MAX_IN_FLIGHT" default:"32" help:"Requests in flight at once to one endpoint."`
	MaxAppShare          float64       `name:"max-app-share" env:"HERALD_MAX_APP_SHARE" default:"0.5" help:"Fraction of --workers one app may hold while another app has had deliveries within 10 minutes, so that the other always finds free workers; 1: no cap. An app alone may use every worker."`
	MaxResponseBody      int64         `name:"max-response-body" env:"HERALD_MAX_RESPONSE_BODY" default:"65536" help:"Bytes of each response body kept in the delivery history."`
	MaxEventSize         int64         `name:"max-event-size" env:"HERALD_MAX_EVENT_SIZE" default:"1048576" help:"Largest request body the API accepts, in bytes; larger ones get 413."`
	QueueMemory          ByteSize      `name:"queue-memory" env:"HERALD_QUEUE_MEMORY" default:"128MiB" help:"Memory budget of the node: 128MiB, 1GiB, 500MB or plain bytes; at least 1MiB. The deliveries held in memory (queued or in flight, counted in payload bytes) take a quarter of it, beyond which they wait in the database; caches an eighth; Go's soft memory limit is set to what is left after SQLite and the binary, unless GOMEMLIMIT is set."`
	MaxRenderedSize      int64         `name:"max-rendered-size" env:"HERALD_MAX_RENDERED_SIZE" help:"Largest request Herald renders for an endpoint (URL, headers and body), in bytes; rendering stops there and the delivery fails without retries. At least --max-event-size + 4096. Unset: twice --max-event-size."`
	TransformCPULimit    time.Duration `name:"transform-cpu-limit" env:"HERALD_TRANSFORM_CPU_LIMIT" default:"100ms" help:"Longest one call of an endpoint's transformation (JavaScript) may run; past it the delivery fails with error kind transform, without retries."`
	TransformMemoryLimit ByteSize      `name:"transform-memory-limit" env:"HERALD_TRANSFORM_MEMORY_LIMIT" default:"64MiB" help:"Most one call of an endpoint's transformation may allocate (64MiB, 1MiB; approximate: see docs/endpoints.md); past it the delivery fails with error kind transform, without retries. At least 1MiB."`

	// Ceilings of what apps and endpoints set for themselves: values
	// above them are refused when saved and cut to them when used.
	MaxTenantInFlight int           `name:"max-tenant-in-flight" env:"HERALD_MAX_TENANT_IN_FLIGHT" default:"64" help:"The most max_in_flight an app or endpoint may set for itself."`
	MaxTenantTimeout  time.Duration `name:"max-tenant-timeout" env:"HERALD_MAX_TENANT_TIMEOUT" default:"30s" help:"The most timeout_ms an app or endpoint may set for itself."`
	MaxRetries        int           `name:"max-retries" env:"HERALD_MAX_RETRIES" default:"30" help:"Most entries of any retry schedule, --retry-schedule included."`
	MinRetryDelay     time.Duration `name:"min-retry-delay" env:"HERALD_MIN_RETRY_DELAY" default:"1s" help:"Least wait of any retry schedule entry, --retry-schedule included (0: none)."`

	AutoDisableAfter       time.Duration `name:"auto-disable-after" env:"HERALD_AUTO_DISABLE_AFTER" default:"120h" help:"Disable an endpoint whose every delivery has failed for this long (0 never)."`
	AutoDisableMinFailures int           `name:"auto-disable-min-failures" env:"HERALD_AUTO_DISABLE_MIN_FAILURES" default:"10" help:"...and that has at least this many failed deliveries."`

	AllowPrivateDestinations bool   `name:"allow-private-destinations" env:"HERALD_ALLOW_PRIVATE_DESTINATIONS" help:"Deliver to loopback, private and other special-purpose addresses too (local development, tests). Off by default: customers could point endpoints at internal services."`
	LogDeliveries            bool   `name:"log-deliveries" env:"HERALD_LOG_DELIVERIES" help:"Log every attempt at info, successes too and without a rate limit (development). Otherwise failed attempts are logged, a few lines a second per endpoint at most."`
	DestinationAllowCIDRs    string `name:"destination-allow-cidrs" env:"HERALD_DESTINATION_ALLOW_CIDRS" help:"Comma-separated CIDRs to deliver to even if a rule refuses them (e.g. 10.20.0.0/16 for an internal receiver)."`
	DestinationDenyCIDRs     string `name:"destination-deny-cidrs" env:"HERALD_DESTINATION_DENY_CIDRS" help:"Comma-separated CIDRs never delivered to; wins over the allow list."`

	APIRateLimit       float64 `name:"api-rate-limit" env:"HERALD_API_RATE_LIMIT" default:"1000" help:"Requests per second each app may make, its API keys and portal sessions together; beyond it 429 with Retry-After. 0: no limit."`
	MaxEndpointsPerApp int     `name:"max-endpoints-per-app" env:"HERALD_MAX_ENDPOINTS_PER_APP" default:"1000" help:"Endpoints an app may have. 0: no limit."`
	TLSCert            string  `name:"tls-cert" env:"HERALD_TLS_CERT" help:"PEM certificate (chain) to serve the API over HTTPS; with --tls-key."`
	TLSKey             string  `name:"tls-key" env:"HERALD_TLS_KEY" help:"PEM private key of --tls-cert."`
	PublicURL          string  `name:"public-url" env:"HERALD_PUBLIC_URL" help:"Address users reach Herald at, e.g. https://hooks.example.com; portal links start with it. Unset: no portal sessions (409 public_url_unset)."`

	AdminRateLimit          float64 `name:"admin-rate-limit" env:"HERALD_ADMIN_RATE_LIMIT" default:"0" help:"Requests per second the admin token and each admin-scoped API key may make; beyond it 429 with Retry-After. 0: no limit."`
	MaxPortalSessionsPerApp int     `name:"max-portal-sessions-per-app" env:"HERALD_MAX_PORTAL_SESSIONS_PER_APP" default:"100" help:"Live portal sessions an app may have; one more gets 429 too_many_sessions. 0: no limit."`
	PortalFrameAncestors    string  `name:"portal-frame-ancestors" env:"HERALD_PORTAL_FRAME_ANCESTORS" help:"Origins that may embed the customers' portal in a frame, space- or comma-separated (https://app.example.com https://*.example.com). Unset: none."`

	PayloadFormat string `name:"payload-format" env:"HERALD_PAYLOAD_FORMAT" default:"standard" enum:"standard,raw,flat" help:"Body of endpoints without a template, unless their app or they say otherwise: standard ({type, timestamp, data}), raw (the payload) or flat (the payload with the event name merged in)."`

	NewEndpointsEnabled       bool `name:"new-endpoints-enabled" env:"HERALD_NEW_ENDPOINTS_ENABLED" default:"true" negatable:"" help:"Endpoints created without \"enabled\" start enabled, unless their app's new_endpoints_enabled says otherwise; --no-new-endpoints-enabled (or false) makes them start disabled."`
	AllowUndeclaredEventTypes bool `name:"allow-undeclared-event-types" env:"HERALD_ALLOW_UNDECLARED_EVENT_TYPES" help:"Accept events whose type is not in the event-type catalog, and endpoints subscribed to such types by exact name."`

	StoreTimeout    time.Duration `name:"store-timeout" env:"HERALD_STORE_TIMEOUT" default:"5s" help:"Longest wait for one call to the database; a store that does not answer in time, cannot be reached or cannot write gets 503 unavailable (or storage_full) with Retry-After."`
	DiskWarnFree    ByteSize      `name:"disk-warn-free" env:"HERALD_DISK_WARN_FREE" default:"1GiB" help:"Log a warning when the data dir's file system has less free space than this (512MiB, 1GiB; 0: never)."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" env:"HERALD_SHUTDOWN_TIMEOUT" default:"30s" help:"How long requests in flight may finish after SIGTERM or SIGINT."`
	LogLevel        string        `name:"log-level" env:"HERALD_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level: debug, info, warn or error."`
	LogFormat       string        `name:"log-format" env:"HERALD_LOG_FORMAT" default:"text" enum:"text,json" help:"Log format: text or json."`
}

// RenderedSizeHeadroom is what --max-rendered-size must allow beyond
// --max-event-size: the standard body around the largest payload, the
// longest URL (2048 characters) and a few headers.
const RenderedSizeHeadroom = 4096

// RenderedSizeCap is the cap on a rendered request in force:
// --max-rendered-size, or when unset twice --max-event-size (and never
// less than the headroom above it).
func (s *Serve) RenderedSizeCap() int64 {
	if s.MaxRenderedSize != 0 {
		return s.MaxRenderedSize
	}
	return max(2*s.MaxEventSize, s.MaxEventSize+RenderedSizeHeadroom)
}

// Reencrypt configures `herald reencrypt`: the same store and keys as
// serve.
type Reencrypt struct {
	// Config is the file serve reads (see Serve.Config): reencrypt takes
	// from it the three settings it shares with serve, so that it works
	// on the store the server runs on.
	Config        string `name:"config" env:"HERALD_CONFIG" placeholder:"FILE" help:"The configuration file of herald serve, for its data_dir, database_url and encryption_key. Flags win over HERALD_* variables, which win over the file."`
	DataDir       string `name:"data-dir" env:"HERALD_DATA_DIR" default:"./herald-data" help:"Directory of the embedded database and its key file."`
	DatabaseURL   string `name:"database-url" env:"HERALD_DATABASE_URL" help:"postgres://... when Herald runs on PostgreSQL."`
	EncryptionKey string `name:"encryption-key" env:"HERALD_ENCRYPTION_KEY" help:"The keys, the new one first and the old ones after it."`
}

// MaxMetricsTop bounds --metrics-top-apps: each named app (or endpoint)
// adds a histogram's worth of series.
const MaxMetricsTop = 1000

// Validate checks what the flag parser cannot and needs no other package;
// the retry schedule and the CIDR lists are checked where they are parsed.

func (s *Serve) Validate() error {
	if s.PublicURL != "" {
		u, err := url.Parse(s.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--public-url must be an http or https URL such as https://hooks.example.com, without query or fragment")
		}
	}
	if s.RequestTimeout <= 0 {
		return fmt.Errorf("--request-timeout must be positive")
	}
	if s.MetricsTopApps < 1 || s.MetricsTopApps > MaxMetricsTop {
		return fmt.Errorf("--metrics-top-apps must be from 1 to %d", MaxMetricsTop)
	}
	if s.OTelEndpoint != "" {
		u, err := url.Parse(s.OTelEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--otel-endpoint must be an http or https URL such as http://127.0.0.1:4318")
		}
	}
	if s.Workers < 1 {
		return fmt.Errorf("--workers must be at least 1")
	}
	if s.MaxInFlight < 1 {
		return fmt.Errorf("--max-in-flight must be at least 1")
	}
	if !(s.MaxAppShare > 0 && s.MaxAppShare <= 1) {
		return fmt.Errorf("--max-app-share must be more than 0 and at most 1 (a fraction of --workers, such as 0.5)")
	}
	if s.MaxResponseBody < 0 {
		return fmt.Errorf("--max-response-body must not be negative")
	}
	if s.MaxEventSize < 1024 {
		return fmt.Errorf("--max-event-size must be at least 1024 bytes")
	}
	if s.QueueMemory < MinQueueMemory {
		return fmt.Errorf("--queue-memory must be at least 1MiB")
	}
	if s.TransformCPULimit < time.Millisecond {
		return fmt.Errorf("--transform-cpu-limit must be at least 1ms")
	}
	if s.TransformMemoryLimit < 1<<20 {
		return fmt.Errorf("--transform-memory-limit must be at least 1MiB")
	}
	if s.MaxRenderedSize != 0 && s.MaxRenderedSize < s.MaxEventSize+RenderedSizeHeadroom {
		return fmt.Errorf("--max-rendered-size must be at least --max-event-size + %d bytes (%d), so that the largest event still renders in the standard body", RenderedSizeHeadroom, s.MaxEventSize+RenderedSizeHeadroom)
	}
	if s.Role != "all" && s.DatabaseURL == "" {
		return fmt.Errorf("--role %s needs --database-url: the embedded database serves one process, which does both", s.Role)
	}
	if s.LeaseDuration < 2*s.RequestTimeout || s.LeaseDuration < time.Second {
		return fmt.Errorf("--lease-duration must be at least 1s and twice --request-timeout (%s), so a request always ends before its lease", s.RequestTimeout)
	}
	if s.MaxTenantInFlight < 1 {
		return fmt.Errorf("--max-tenant-in-flight must be at least 1")
	}
	if s.MaxTenantTimeout < time.Millisecond {
		return fmt.Errorf("--max-tenant-timeout must be at least 1ms")
	}
	if s.LeaseDuration < 2*s.MaxTenantTimeout {
		return fmt.Errorf("--lease-duration must be at least twice --max-tenant-timeout (%s), so a request always ends before its lease", s.MaxTenantTimeout)
	}
	if s.MaxRetries < 1 {
		return fmt.Errorf("--max-retries must be at least 1")
	}
	if s.MinRetryDelay < 0 {
		return fmt.Errorf("--min-retry-delay must not be negative")
	}
	if s.HeartbeatInterval < 100*time.Millisecond {
		return fmt.Errorf("--heartbeat-interval must be at least 100ms")
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if s.APIRateLimit < 0 || s.MaxEndpointsPerApp < 0 {
		return fmt.Errorf("--api-rate-limit and --max-endpoints-per-app must not be negative")
	}
	if s.AdminRateLimit < 0 || s.MaxPortalSessionsPerApp < 0 {
		return fmt.Errorf("--admin-rate-limit and --max-portal-sessions-per-app must not be negative")
	}
	if s.Retention < 0 {
		return fmt.Errorf("--retention must not be negative")
	}
	if s.DataDir == "" {
		return fmt.Errorf("--data-dir must not be empty")
	}
	if s.AutoDisableAfter < 0 || s.AutoDisableMinFailures < 1 {
		return fmt.Errorf("--auto-disable-after must not be negative and --auto-disable-min-failures must be at least 1")
	}
	if s.ShutdownTimeout < 0 {
		return fmt.Errorf("--shutdown-timeout must not be negative")
	}
	if s.StoreTimeout < 100*time.Millisecond {
		return fmt.Errorf("--store-timeout must be at least 100ms")
	}
	if s.DiskWarnFree < 0 {
		return fmt.Errorf("--disk-warn-free must not be negative")
	}
	return nil
}

// Defaults returns the settings of `herald serve` given no flag and no
// variable: the values of the default tags, with ${name} taken from vars
// as kong.Vars does. Code that fills a Serve without the command line
// (tests) starts from it, so it runs on the defaults users get.
//
// The tags are constants of this file, so one that does not parse is a
// bug here: Defaults panics on it (the package's tests read every tag).
func Defaults(vars map[string]string) Serve {
	var s Serve
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		field := v.Type().Field(i)
		def, ok := field.Tag.Lookup("default")
		if !ok {
			continue
		}
		def, err := expand(def, vars)
		if err == nil {
			err = setFromString(v.Field(i), def)
		}
		if err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", field.Name, err))
		}
	}
	return s
}

// expand replaces each ${name} in s with vars[name].
func expand(s string, vars map[string]string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return b.String() + s, nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unclosed ${ in %q", s)
		}
		name := s[i+2 : i+j]
		val, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("no variable %q", name)
		}
		b.WriteString(s[:i] + val)
		s = s[i+j+1:]
	}
}

// setFromString parses s into f for the kinds of fields Serve has, as the
// flag parser does.
func setFromString(f reflect.Value, s string) error {
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	if f.Type() == reflect.TypeFor[time.Duration]() {
		d, err := duration.Parse(s)
		f.SetInt(int64(d))
		return err
	}
	var err error
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		var b bool
		b, err = strconv.ParseBool(s)
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		var n int64
		n, err = strconv.ParseInt(s, 10, 64)
		f.SetInt(n)
	case reflect.Float64:
		var x float64
		x, err = strconv.ParseFloat(s, 64)
		f.SetFloat(x)
	default:
		err = fmt.Errorf("fields of type %s are not handled", f.Type())
	}
	return err
}

// MinQueueMemory is the least --queue-memory: room for a few of the
// largest events.
const MinQueueMemory = 1 << 20
