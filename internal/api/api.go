// Package api is Herald's HTTP API: it decodes and validates requests,
// calls the store or the delivery engine, and maps failures to JSON errors
// with a 4xx status for anything the caller got wrong. Paths, fields and
// error codes are a public contract, written down in openapi.yaml (served
// at /openapi.json and drawn as /docs/api); the tests hold the handlers
// to it.
package api

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/cache"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
)

// Store is what the API reads and changes.
type Store interface {
	AppCreate(ctx context.Context, app *herald.App) error
	AppGet(ctx context.Context, idOrUID string) (*herald.App, error)
	AppList(ctx context.Context, p store.ListParams) ([]*herald.App, error)
	AppUpdate(ctx context.Context, app *herald.App) error
	AppDelete(ctx context.Context, appID string) error
	EventTypeCreate(ctx context.Context, et *herald.EventType) error
	EventTypeGet(ctx context.Context, name string) (*herald.EventType, error)
	EventTypeList(ctx context.Context, p store.ListParams) ([]*herald.EventType, error)
	EventTypeUpdate(ctx context.Context, et *herald.EventType) error
	EventTypeSetVersions(ctx context.Context, et *herald.EventType, was string) error
	EventTypeDelete(ctx context.Context, name string) error
	EndpointCreate(ctx context.Context, ep *herald.Endpoint) error
	EndpointGet(ctx context.Context, appID, id string) (*herald.Endpoint, error)
	EndpointList(ctx context.Context, appID string, p store.ListParams) ([]*herald.Endpoint, error)
	EndpointUpdate(ctx context.Context, ep *herald.Endpoint) error
	EndpointDelete(ctx context.Context, appID, id string, now time.Time) error
	EndpointTemplateCreate(ctx context.Context, t *herald.EndpointTemplate) error
	EndpointTemplateGet(ctx context.Context, appID, id string) (*herald.EndpointTemplate, error)
	EndpointTemplateList(ctx context.Context, appID string, p store.ListParams) ([]*herald.EndpointTemplate, error)
	EndpointTemplateUpdate(ctx context.Context, t *herald.EndpointTemplate) error
	EndpointTemplateDelete(ctx context.Context, appID, id string) error
	EventGet(ctx context.Context, appID, id string) (*herald.Event, error)
	EventList(ctx context.Context, p store.EventListParams) ([]*herald.Event, error)
	EventFind(ctx context.Context, p store.EventFindParams) ([]*herald.Event, error)
	DeliveryGet(ctx context.Context, appID, id string) (*herald.Delivery, error)
	OrderingBlocked(ctx context.Context, appID, endpointID string, limit int) ([]store.BlockedKey, error)
	DeliveryList(ctx context.Context, p store.DeliveryListParams) ([]*herald.Delivery, error)
	Failures(ctx context.Context, p store.FailuresParams) (*store.FailuresReport, error)
	AppHealth(ctx context.Context, appID string, since time.Time) (*store.AppHealth, error)
	Locate(ctx context.Context, appID, id string) (*store.Located, error)
	DeliveryJob(ctx context.Context, appID, id string) (*store.Job, error)
	AttemptsFollow(ctx context.Context, p store.FollowParams) (store.FollowPage, error)
	EndpointStats(ctx context.Context, appID, id string, now time.Time) (*herald.EndpointStats, error)
	BulkJobCreate(ctx context.Context, j *herald.BulkJob) error
	BulkJobGet(ctx context.Context, appID, id string) (*herald.BulkJob, error)
	UsageGet(ctx context.Context, appID string, at time.Time) (int64, error)
	APIKeyCreate(ctx context.Context, k *herald.APIKey) error
	APIKeyCreateLimited(ctx context.Context, k *herald.APIKey, max int, now time.Time) error
	APIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error)
	APIKeyList(ctx context.Context, appID string, p store.ListParams) ([]*herald.APIKey, error)
	APIKeyDelete(ctx context.Context, id string) error
	AuditAppend(ctx context.Context, e *herald.AuditEntry) error
	AuditList(ctx context.Context, appID string, p store.ListParams) ([]*herald.AuditEntry, error)
}

var storeListOne = store.ListParams{Limit: 1}

// Engine takes events for delivery and hears of endpoint changes.
type Engine interface {
	Enqueue(ctx context.Context, ev *herald.Event) (store.EnqueueResult, error)
	EndpointChanged(ep *herald.Endpoint)
	TestSend(ctx context.Context, ep *herald.Endpoint, ev *herald.Event) (*herald.Delivery, error)
	Resend(ctx context.Context, j *store.Job) (*herald.Attempt, error)
	SendEvents(ctx context.Context, ep *herald.Endpoint, evs []*herald.Event) ([]*herald.Delivery, error)
	Recover(ctx context.Context, job *herald.BulkJob, p delivery.RecoverParams)
	ResendAll(ctx context.Context, job *herald.BulkJob, appID string, ids, endpointIDs []string)
	Pull(ctx context.Context, ep *herald.Endpoint, p delivery.PullParams) ([]delivery.Handout, error)
	Ack(ctx context.Context, ep *herald.Endpoint, results []delivery.AckResult, maxBody int) ([]delivery.AckOutcome, error)
	ResendPulled(ctx context.Context, j *store.Job) error
	// Skip marks a failed delivery skipped, unblocking its ordering key.
	Skip(ctx context.Context, appID, id string) (*herald.Delivery, error)
	// AppChanged says that an app's settings changed, so that they apply
	// to its next attempts at once.
	AppChanged()
	// Announce sends one of Herald's own events to the app's
	// operational webhook, when it has one taking that type.
	Announce(ctx context.Context, appID, eventType string, payload map[string]any)
}

// Outbound builds the exact request a delivery would send, for previews.
type Outbound interface {
	Preview(ctx context.Context, d *outbound.Delivery) (*outbound.Request, error)
}

// Options configure the API.
type Options struct {
	// AdminToken is the bearer token that may call every /v1 route.
	AdminToken string
	// MaxBodyBytes caps request bodies; larger ones get 413.
	MaxBodyBytes int64
	// MaxResponseBody caps each response body a pull client acknowledges
	// that is kept in the history (--max-response-body); 0: 64 KiB.
	MaxResponseBody int
	// AllowUndeclaredEventTypes accepts events whose type is not in the
	// catalog, and endpoints subscribed to such a type by exact name.
	AllowUndeclaredEventTypes bool
	// RateLimit is the requests per second each app may make, its keys
	// and portal sessions together; 0: none.
	RateLimit float64
	// AdminRateLimit is the requests per second the admin token and each
	// admin-scoped key may make; 0: none.
	AdminRateLimit float64
	// MaxEndpointsPerApp caps an app's endpoints; 0: no cap.
	MaxEndpointsPerApp int
	// MaxPortalSessionsPerApp caps an app's live portal sessions; 0: no
	// cap.
	MaxPortalSessionsPerApp int
	// CheckURL refuses endpoint URLs whose host is an address Herald
	// will not deliver to (a literal private IP, localhost); names are
	// checked when dialled. Nil accepts all.
	CheckURL func(rawURL string) error
	// Defaults are the installation's delivery settings, shown as the
	// effective ones where neither app nor endpoint overrides them.
	Defaults herald.DeliverySettings
	// NewEndpointsDisabled makes endpoints start disabled where their app
	// does not say otherwise (--new-endpoints-enabled=false).
	NewEndpointsDisabled bool
	// Ceilings bound the delivery settings apps and endpoints set for
	// themselves: a value above one is refused (422); a zero field falls
	// back to the API's own input limits.
	Ceilings herald.TenantCeilings
	// Metrics serves GET /metrics when set; MetricsToken, when set, is
	// the bearer token it requires.
	Metrics      http.Handler
	MetricsToken string
	// Tracing, when set, gets a span per event created (herald.ingest),
	// from the request through its commit; nil: no spans.
	Tracing *tracing.Provider
	// DisableAPI serves only /healthz, /readyz and /metrics (a worker
	// node).
	DisableAPI bool
	// Console, when set, serves the web console at /console/ and the
	// customers' portal at /portal/; / then redirects to the console.
	Console http.Handler
	// PublicURL is the address users reach Herald at (scheme, host and
	// any path prefix), which portal links start with; empty: no portal
	// sessions (a request's Host header is the caller's to choose).
	PublicURL string
	// StoreTimeout bounds how long a request waits for its event to be
	// committed (--store-timeout); 0: as long as the store takes.
	StoreTimeout time.Duration
	// MaxStreamsPerApp caps the attempt streams one app may hold open,
	// all its credentials together; 0: 10.
	MaxStreamsPerApp int
	// StreamHeartbeat is how often a quiet attempt stream sends a
	// comment, StreamPoll how often it reads the store, StreamMaxAge how
	// long one stays open (its client then reconnects); 0: 15 s, 1 s, 1 h.
	StreamHeartbeat, StreamPoll, StreamMaxAge time.Duration
	// AttemptsRecorded, when set, returns a channel closed once this
	// node next records attempts: streams then read the store at once
	// instead of at their next poll.
	AttemptsRecorded func() <-chan struct{}
	// BrokerKinds are the destination kinds beyond HTTP this build has
	// (broker.Kinds()): they check a broker endpoint's destination when
	// it is saved. A kind not among them is refused.
	BrokerKinds []outbound.Kind
	// EndpointGone, when set, hears of an endpoint deleted, or whose
	// destination changed, so that its broker clients are closed.
	EndpointGone func(endpointID string)
	// Ready checks that the store answers and writes, for /readyz; nil:
	// a read.
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server serves the API.
type Server struct {
	st  Store
	eng Engine
	out Outbound
	o   Options
	log *slog.Logger
	mux *http.ServeMux
	// tracer makes ingest spans; a no-op without Options.Tracing.
	tracer trace.Tracer
	// apps caches {app} path lookups by id or uid; eventTypes caches
	// which event types exist.
	apps       *cache.Cache[herald.App]
	eventTypes *cache.Cache[catalogEntry]
	usage      *cache.Cache[int64]
	keys       *cache.Cache[herald.APIKey]
	// badKeys holds hashes of well-formed tokens recently not found, so
	// that repeating one costs no store read; knownKeys, hashes found
	// within the hour, which no failure limit holds up.
	badKeys, knownKeys *cache.Cache[struct{}]
	// jwksDocs holds JWKS key sets by the {app} asked for, known or not.
	jwksDocs *cache.Cache[[]jwk]
	// appLimiter: per app (--api-rate-limit); adminLimiter: per admin
	// credential (--admin-rate-limit); failedAuth, jwksAddr: per client
	// address; jwksApp: per {app} of the JWKS route.
	appLimiter, adminLimiter, failedAuth, jwksAddr, jwksApp *limiter
	table                                                   []Route
	// streams counts each app's open attempt streams.
	streams streams
	// drainCtx ends with Drain: pulls waiting then answer at once.
	drainCtx context.Context
	drain    context.CancelFunc
}

// New builds the API over a store, a delivery engine and the outbound
// layer that previews requests.
func New(st Store, eng Engine, out Outbound, o Options) *Server {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxResponseBody <= 0 {
		o.MaxResponseBody = 64 << 10
	}
	if o.MaxStreamsPerApp <= 0 {
		o.MaxStreamsPerApp = defaultMaxStreamsPerApp
	}
	if o.StreamHeartbeat <= 0 {
		o.StreamHeartbeat = defaultStreamHeartbeat
	}
	if o.StreamPoll <= 0 {
		o.StreamPoll = defaultStreamPoll
	}
	if o.StreamMaxAge <= 0 {
		o.StreamMaxAge = defaultStreamMaxAge
	}
	s := &Server{st: st, eng: eng, out: out, o: o, log: o.Logger, mux: http.NewServeMux(), tracer: o.Tracing.Tracer(),
		apps: cache.New[herald.App](o.Now), eventTypes: cache.New[catalogEntry](o.Now), usage: cache.NewTTL[int64](o.Now, time.Second),
		keys: cache.NewTTL[herald.APIKey](o.Now, 5*time.Second), badKeys: cache.NewTTL[struct{}](o.Now, time.Minute),
		knownKeys:  cache.NewTTL[struct{}](o.Now, time.Hour),
		jwksDocs:   cache.NewTTL[[]jwk](o.Now, jwksTTL),
		appLimiter: newRateLimiter(o.RateLimit), adminLimiter: newRateLimiter(o.AdminRateLimit),
		failedAuth: newLimiter(failedAuthPerAddress, failedAuthBurst),
		jwksAddr:   newLimiter(jwksPerAddress, jwksAddressBurst), jwksApp: newLimiter(jwksPerApp, jwksAppBurst)}
	s.drainCtx, s.drain = context.WithCancel(context.Background())
	s.routes()
	return s
}

// Drain makes the pulls waiting answer at once, and those to come not
// wait: call it as the HTTP server shuts down, which waits for every
// request to end.
func (s *Server) Drain() { s.drain() }

// handler is a route's function: it writes its answer, or returns the
// error to write.
type handler func(w http.ResponseWriter, r *http.Request) *Error

// routes registers every route. Each path has one entry that dispatches by
// method, so that a wrong method and an unknown path get JSON errors like
// everything else.
func (s *Server) routes() {
	s.open("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.open("/readyz", s.readyz)
	if s.o.Metrics != nil {
		s.mux.Handle("/metrics", s.guardMetrics(s.o.Metrics))
	}
	if s.o.DisableAPI {
		s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound,
				Message: "this node runs with --role worker: it sends deliveries and serves no API; call an api or all node"})
		})
		return
	}
	if c := s.o.Console; c != nil {
		for _, p := range []string{"/console", "/console/", "/portal", "/portal/"} {
			s.mux.Handle(p, c)
		}
		s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/console/", http.StatusFound)
		})
	}
	s.route("/v1/apps", map[string]handler{"GET": takes(s.listApps, pageParams...), "POST": s.createApp})
	s.route("/v1/apps/{app}", map[string]handler{"GET": s.getApp, "PATCH": s.updateApp, "DELETE": s.deleteApp})
	s.route("/v1/event-types", map[string]handler{"GET": takes(s.listEventTypes, pageParams...), "POST": s.createEventType}, adminWrites)
	s.route("/v1/event-types/import", map[string]handler{"POST": s.importEventTypes}, adminWrites)
	s.route("/v1/event-types/{name}", map[string]handler{"GET": s.getEventType, "PATCH": s.updateEventType, "DELETE": s.deleteEventType}, adminWrites)
	s.route("/v1/event-types/{name}/versions", map[string]handler{"GET": s.listEventTypeVersions, "POST": s.createEventTypeVersion}, adminWrites)
	s.route("/v1/event-types/{name}/versions/{version}", map[string]handler{"GET": s.getEventTypeVersion, "DELETE": s.deleteEventTypeVersion}, adminWrites)
	s.route("/v1/event-types/{name}/pinned-endpoints", map[string]handler{"GET": takes(s.listPinnedEndpoints, "cursor", "limit", "version")})
	s.route("/v1/api-keys", map[string]handler{"GET": takes(s.listKeys, pageParams...), "POST": s.createKey}, adminOnly)
	s.route("/v1/api-keys/{id}", map[string]handler{"DELETE": s.deleteKey}, adminOnly)
	s.route("/v1/audit-log", map[string]handler{"GET": takes(s.listAudit, pageParams...)}, adminOnly)
	s.route("/v1/apps/{app}/audit-log", map[string]handler{"GET": takes(s.listAudit, pageParams...)})
	s.route("/v1/apps/{app}/endpoints", map[string]handler{"GET": takes(s.listEndpoints, pageParams...), "POST": s.createEndpoint})
	s.route("/v1/apps/{app}/endpoints/{id}", map[string]handler{"GET": s.getEndpoint, "PATCH": s.updateEndpoint, "DELETE": s.deleteEndpoint})
	s.route("/v1/apps/{app}/endpoints/preview", map[string]handler{"POST": s.previewNew})
	s.route("/v1/apps/{app}/endpoint-templates", map[string]handler{"GET": takes(s.listTemplates, pageParams...), "POST": s.createTemplate})
	s.route("/v1/apps/{app}/endpoint-templates/{id}", map[string]handler{"GET": s.getTemplate, "PATCH": takes(s.updateTemplate, "dry_run"), "DELETE": s.deleteTemplate})
	s.route("/v1/apps/{app}/endpoint-templates/{id}/preview-change", map[string]handler{"POST": s.previewTemplateChange})
	s.route("/v1/apps/{app}/endpoints/{id}/preview", map[string]handler{"POST": s.previewSaved})
	s.route("/v1/apps/{app}/endpoints/{id}/secret", map[string]handler{"GET": s.getEndpointSecret})
	s.route("/v1/apps/{app}/endpoints/{id}/secret/rotate", map[string]handler{"POST": s.rotateSecret})
	s.route("/v1/apps/{app}/endpoints/{id}/public-key", map[string]handler{"GET": s.getPublicKey})
	s.open("GET /.well-known/herald/jwks/{app}", s.wrap(s.jwks, false))
	s.route("/v1/apps/{app}/endpoints/{id}/deliveries", map[string]handler{"GET": takes(s.listEndpointDeliveries, deliveryParams...)})
	s.route("/v1/apps/{app}/events", map[string]handler{"GET": takes(s.listEvents, eventParams...), "POST": s.createEvent})
	s.route("/v1/apps/{app}/events/{id}", map[string]handler{"GET": getOfApp(s, "event", s.st.EventGet)})
	s.route("/v1/apps/{app}/events/{id}/deliveries", map[string]handler{"GET": takes(s.listEventDeliveries, deliveryParams...)})
	s.route("/v1/apps/{app}/channels", map[string]handler{"GET": s.listChannels})
	s.route("/v1/apps/{app}/deliveries", map[string]handler{"GET": takes(s.listAppDeliveries, deliveryParams...)})
	s.route("/v1/deliveries", map[string]handler{"GET": takes(s.listAllDeliveries, deliveryParams...)}, adminOnly)
	s.route("/v1/apps/{app}/deliveries/resend", map[string]handler{"POST": s.resendDeliveries})
	s.route("/v1/apps/{app}/deliveries/{id}", map[string]handler{"GET": getOfApp(s, "delivery", s.st.DeliveryGet)})
	s.route("/v1/apps/{app}/deliveries/{id}/resend", map[string]handler{"POST": s.resendDelivery})
	s.route("/v1/apps/{app}/deliveries/{id}/skip", map[string]handler{"POST": s.skipDelivery})
	s.route("/v1/apps/{app}/endpoints/{id}/ordering", map[string]handler{"GET": s.endpointOrdering})
	s.route("/v1/apps/{app}/endpoints/{id}/test", map[string]handler{"POST": s.testEndpoint})
	s.route("/v1/apps/{app}/endpoints/{id}/recover", map[string]handler{"POST": s.recoverEndpoint})
	s.route("/v1/apps/{app}/endpoints/{id}/send", map[string]handler{"POST": s.sendEvents})
	s.route("/v1/apps/{app}/endpoints/{id}/stats", map[string]handler{"GET": s.endpointStats})
	s.route("/v1/apps/{app}/attempts/stream", map[string]handler{"GET": takes(s.streamAttempts, "status", "endpoint", "cursor")})
	s.route("/v1/apps/{app}/endpoints/{id}/pull", map[string]handler{"GET": takes(s.pull, "limit", "wait", "visibility")})
	s.route("/v1/apps/{app}/endpoints/{id}/ack", map[string]handler{"POST": s.ack})
	s.route("/v1/apps/{app}/portal-sessions", map[string]handler{"POST": s.createPortalSession, "DELETE": s.endSessions})
	s.route("/v1/apps/{app}/portal-sessions/{id}", map[string]handler{"DELETE": s.endSession})
	s.route("/v1/whoami", map[string]handler{"GET": s.whoami})
	s.route("/v1/apps/{app}/failures", map[string]handler{"GET": takes(s.listAppFailures, failureParams...)})
	s.route("/v1/failures", map[string]handler{"GET": takes(s.listAllFailures, failureParams...)}, adminOnly)
	s.route("/v1/apps/{app}/health", map[string]handler{"GET": takes(s.appHealth)})
	s.route("/v1/lookup/{id}", map[string]handler{"GET": takes(s.lookup, "app")})
	s.route("/v1/apps/{app}/usage", map[string]handler{"GET": s.getUsage})
	s.route("/v1/apps/{app}/jobs/{id}", map[string]handler{"GET": getOfApp(s, "job", s.st.BulkJobGet)})
	s.open("GET /openapi.json", s.serveOpenAPI)
	s.open("GET /docs/api", s.serveReference)
	s.mux.HandleFunc("/v1/", s.wrap(func(w http.ResponseWriter, r *http.Request) *Error {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such route: " + r.Method + " " + r.URL.Path}
	}, true))
}

// open registers a route that needs no token, and lists it as a GET
// route of the API (a pattern without a method answers any method the
// same way; GET is the one documented).
func (s *Server) open(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
	_, path, ok := strings.Cut(pattern, " ")
	if !ok {
		path = pattern
	}
	s.table = append(s.table, Route{Method: http.MethodGet, Pattern: path, Open: true})
}

// guardMetrics requires the metrics token when one is set.
func (s *Server) guardMetrics(h http.Handler) http.Handler {
	if s.o.MetricsToken == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.o.MetricsToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="herald-metrics"`)
			writeError(w, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "metrics need Authorization: Bearer <metrics token>"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// getOfApp answers GET of one thing of the {app} by its {id}.
func getOfApp[T any](s *Server, what string, get func(ctx context.Context, appID, id string) (T, error)) handler {
	return func(w http.ResponseWriter, r *http.Request) *Error {
		a, e := s.app(r)
		if e != nil {
			return e
		}
		v, err := get(r.Context(), a.ID, r.PathValue("id"))
		if err != nil {
			return storeError(err, what)
		}
		if hiddenFromPortal(r, v) {
			return errNotFound(what)
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

func (s *Server) route(pattern string, methods map[string]handler, a ...access) {
	acc := anyKey
	if len(a) > 0 {
		acc = a[0]
	}
	for m := range methods {
		s.table = append(s.table, Route{Method: m, Pattern: pattern})
	}
	allowed := make([]string, 0, len(methods))
	for m := range methods {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	byEndpoint := strings.Contains(pattern, "/endpoints/{id}")
	s.mux.HandleFunc(pattern, s.wrap(func(w http.ResponseWriter, r *http.Request) *Error {
		if e := s.authorize(r, pattern, acc); e != nil {
			return e
		}
		h, ok := methods[r.Method]
		if !ok {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			return &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: r.Method + " is not allowed here; allowed: " + strings.Join(allowed, ", ")}
		}
		if byEndpoint {
			if e := s.resolveEndpointUID(r); e != nil {
				return e
			}
		}
		return h(w, r)
	}, true))
}

// wrap adds authentication and turns a returned error, or a panic, into a
// JSON answer.
func (s *Server) wrap(h handler, auth bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in handler", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				writeError(w, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"})
			}
		}()
		if auth {
			p, e := s.authenticate(w, r)
			if e != nil {
				if e.Status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
				}
				writeError(w, e)
				return
			}
			r = withPrincipal(r, p)
			if e := s.throttle(w, p); e != nil {
				writeError(w, e)
				return
			}
		}
		if e := h(w, r); e != nil {
			switch {
			case e.Status == http.StatusServiceUnavailable:
				// The store's state is logged once when it changes,
				// not once per request.
				s.log.Debug("request failed", "method", r.Method, "path", r.URL.Path, "error", e.Message)
			case e.Status >= 500:
				s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", e.Message)
			}
			writeError(w, e)
		}
	}
}

// Route is one method and path pattern of the API. Open routes need no
// token.
type Route struct {
	Method, Pattern string
	Open            bool
}

// Routes lists every route of the API (not the console's pages or
// /metrics), so tests can walk them all and hold them to the OpenAPI
// document.
func (s *Server) Routes() []Route { return append([]Route(nil), s.table...) }

// Mount serves h at the paths under prefix (which ends in /), beside the
// API: a second API over this one, such as the Svix-compatible one, which
// calls this server for its work. Mounted handlers are not among Routes.
func (s *Server) Mount(prefix string, h http.Handler) { s.mux.Handle(prefix, h) }

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }
