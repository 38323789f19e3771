// Package app wires Herald together: it opens the store, builds the
// delivery engine and the HTTP API, starts them, and stops them in the
// order that loses nothing. It is the one wiring: `herald serve` and the
// tests' servers (internal/heraldtest) both run it, so tests exercise what
// users run.
package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/metrics"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/outbound/broker"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sealed"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/svixapi"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/internal/transform"
)

// Files Herald keeps in its data dir.
const (
	DatabaseFile   = "herald.db"
	AdminTokenFile = "admin-token"
	LockFile       = "herald.lock"
)

// Vars returns the values that config's struct tags refer to as ${name}
// (kong.Vars, config.Defaults): defaults kept by the package that uses
// them, so each has one definition.
func Vars() map[string]string {
	return map[string]string{"retry_schedule": delivery.DefaultRetrySchedule}
}

// Deps is what a server needs besides its configuration.
type Deps struct {
	// Stdout gets messages for the operator (the generated admin token);
	// Stderr gets the logs. Nil discards.
	Stdout, Stderr io.Writer
	// Test holds hooks for tests; a real server leaves it zero.
	Test TestHooks
}

// TestHooks reach what no flag sets, so that tests need no wiring of
// their own.
type TestHooks struct {
	// Resolver replaces DNS for the destination policy: tests name hosts
	// that resolve to the addresses they choose, without a network.
	Resolver netpolicy.Resolver
	// Engine adjusts the engine's options after the configuration set
	// them, for those no flag exposes (poll interval, queue sizes).
	Engine func(*delivery.Options)
	// Store wraps the driver's store, under the encryption of secrets:
	// tests count the calls that reach it.
	Store func(store.Store) store.Store
	// API adjusts the API's options after the configuration set them,
	// for those no flag exposes (the attempt stream's timings).
	API func(*api.Options)
	// Listener, when set, is served instead of listening on --addr, so
	// that a test knows the address (for --public-url) before New.
	Listener net.Listener
}

// App is one Herald server: New opens and builds it, Start runs it,
// Shutdown stops it and releases what New opened.
type App struct {
	cfg        *config.Serve
	mem        memoryPlan
	log        *slog.Logger
	node       string
	nodePrefix string
	store      *sealed.Store
	guard      *store.Guard
	closeStore func()
	metrics    *metrics.Metrics
	// tracing exports spans; nil when no OTLP endpoint is configured.
	tracing  *tracing.Provider
	sender   *sender.Sender
	outbound *outbound.Router
	// transform runs endpoints' transformations, for deliveries and the
	// API's previews alike.
	transform *transform.Engine
	engine    *delivery.Engine
	api       *api.Server
	srv       *http.Server
	// listener is TestHooks.Listener.
	listener net.Listener

	// Set by Start.
	started  bool
	url      string
	serveErr chan error
	stopBg   func()
}

// Serve runs `herald serve` until ctx is cancelled, then shuts down
// gracefully. Messages for the operator (the generated admin token, the
// address) go to out; logs go to logOut.
func Serve(ctx context.Context, cfg *config.Serve, out, logOut io.Writer) error {
	a, err := New(ctx, cfg, Deps{Stdout: out, Stderr: logOut})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Shutdown(context.Background())
		return err
	}
	select {
	case <-ctx.Done():
		// Requests aborted at the deadline are logged and retried after
		// a restart: not a failure of the command.
		_ = a.Shutdown(context.Background())
		return nil
	case err := <-a.serveErr:
		// The listener is gone: there is nothing left to drain.
		a.stopBg()
		_ = a.engine.Shutdown(context.Background())
		a.release()
		return fmt.Errorf("http server: %w", err)
	}
}

// New checks cfg and builds a server: it opens the store (taking the data
// dir's lock), loads the encryption keys and the admin token, and builds
// the sender, the engine and the API. Nothing runs until Start. When New
// fails, whatever it opened is closed again.
func New(ctx context.Context, cfg *config.Serve, deps Deps) (*App, error) {
	schedule, po, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	policy := netpolicy.New(po)
	if deps.Test.Resolver != nil {
		policy = policy.WithResolver(deps.Test.Resolver)
	}
	out, logOut := orDiscard(deps.Stdout), orDiscard(deps.Stderr)
	log := newLogger(cfg, logOut)
	if cfg.TLSCert != "" {
		// Fail at start, not at the first connection, on a bad pair.
		if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
	}

	mem := planMemory(int64(cfg.QueueMemory), outsideGoMemory())
	limitGoMemory(mem, log)
	raw, closeStore, err := openStore(ctx, cfg, mem.sqlite, log)
	if err != nil {
		return nil, err
	}
	built := false
	defer func() {
		if !built {
			closeStore()
		}
	}()
	keys, err := loadKeys(cfg.EncryptionKey, cfg.DataDir, cfg.DatabaseURL != "", log)
	if err != nil {
		return nil, err
	}
	driver := raw
	if deps.Test.Store != nil {
		raw = deps.Test.Store(raw)
	}
	guard := newGuard(cfg, raw, driver, log)
	node, nodePrefix := nodeName(cfg)
	a := &App{cfg: cfg, mem: mem, log: log, node: node, nodePrefix: nodePrefix, store: sealed.New(guard, keys), guard: guard,
		closeStore: func() { guard.Stop(); closeStore() }, listener: deps.Test.Listener}
	token := cfg.AdminToken
	if token == "" {
		if token, err = adminToken(cfg, out); err != nil {
			return nil, err
		}
	}
	a.tracing, err = tracing.New(ctx, tracing.Options{Endpoint: cfg.OTelEndpoint, Version: herald.Version, Node: a.node})
	if err != nil {
		return nil, err
	}
	defer func() {
		if !built {
			_ = a.tracing.Shutdown(context.Background())
		}
	}()
	a.metrics = metrics.New(a.node, a.store, metrics.Options{TopApps: cfg.MetricsTopApps, PerEndpoint: cfg.MetricsPerEndpoint})
	a.metrics.WatchStore(a.storeGauges)
	a.transform = transform.New(transform.Limits{CPU: cfg.TransformCPULimit, Memory: int64(cfg.TransformMemoryLimit)})
	a.newEngine(schedule, policy, deps.Test.Engine)
	apiOpts := api.Options{
		AdminToken:                token,
		MaxBodyBytes:              cfg.MaxEventSize,
		MaxResponseBody:           int(cfg.MaxResponseBody),
		AllowUndeclaredEventTypes: cfg.AllowUndeclaredEventTypes,
		CheckURL:                  policy.CheckURL,
		RateLimit:                 cfg.APIRateLimit,
		AdminRateLimit:            cfg.AdminRateLimit,
		MaxEndpointsPerApp:        cfg.MaxEndpointsPerApp,
		MaxPortalSessionsPerApp:   cfg.MaxPortalSessionsPerApp,
		NewEndpointsDisabled:      !cfg.NewEndpointsEnabled,
		Defaults: herald.DeliverySettings{
			RetrySchedule: cfg.RetrySchedule,
			TimeoutMS:     int(cfg.RequestTimeout / time.Millisecond),
			MaxInFlight:   cfg.MaxInFlight,
		},
		Ceilings:     ceilings(cfg),
		Metrics:      a.metrics.Handler(),
		MetricsToken: cfg.MetricsToken,
		Tracing:      a.tracing,
		DisableAPI:   cfg.Role == "worker",
		Console:      console.New(console.Options{PortalFrameAncestors: cfg.PortalFrameAncestors}),
		PublicURL:    cfg.PublicURL,
		StoreTimeout: cfg.StoreTimeout,
		Ready:        guard.Ready,
		Logger:       log,
		// Streams of this node's attempts need not wait for their poll.
		AttemptsRecorded: a.engine.Recorded,
		BrokerKinds:      broker.Kinds(),
		EndpointGone:     a.outbound.Forget,
	}
	if deps.Test.API != nil {
		deps.Test.API(&apiOpts)
	}
	a.api = api.New(a.store, a.engine, a.outbound, apiOpts)
	if !apiOpts.DisableAPI {
		svix := svixapi.New(a.api, svixapi.Options{MaxBodyBytes: apiOpts.MaxBodyBytes, Logger: log})
		a.api.Mount(svixapi.Prefix, svix)
		a.api.Mount(svixapi.IngestPrefix, svix)
	}
	a.srv = &http.Server{
		Handler:           a.api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	a.srv.RegisterOnShutdown(a.api.Drain)
	built = true
	return a, nil
}

// Check reports what New would refuse in cfg, opening nothing. The
// command line calls it as it parses the flags, so that a value no
// package accepts is answered like a bad flag.
func Check(cfg *config.Serve) error {
	_, _, err := parse(cfg)
	return err
}

// parse checks cfg and reads the settings whose syntax belongs to the
// package that uses them: the retry schedule and the destination policy
// (every connection goes through it, checked on the address actually
// dialled; see internal/netpolicy). Errors name the flag.
func parse(cfg *config.Serve) ([]time.Duration, netpolicy.Options, error) {
	schedule, err := delivery.ParseSchedule(cfg.RetrySchedule)
	if err != nil {
		return nil, netpolicy.Options{}, fmt.Errorf("--retry-schedule: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, netpolicy.Options{}, err
	}
	if err := delivery.CheckSchedule(schedule, ceilings(cfg)); err != nil {
		return nil, netpolicy.Options{}, fmt.Errorf("--retry-schedule: %w", err)
	}
	allow, err := netpolicy.ParseCIDRs(cfg.DestinationAllowCIDRs)
	if err != nil {
		return nil, netpolicy.Options{}, fmt.Errorf("--destination-allow-cidrs: %w", err)
	}
	deny, err := netpolicy.ParseCIDRs(cfg.DestinationDenyCIDRs)
	if err != nil {
		return nil, netpolicy.Options{}, fmt.Errorf("--destination-deny-cidrs: %w", err)
	}
	if _, err := console.FrameAncestors(cfg.PortalFrameAncestors); err != nil {
		return nil, netpolicy.Options{}, fmt.Errorf("--portal-frame-ancestors: %w", err)
	}
	return schedule, netpolicy.Options{AllowPrivate: cfg.AllowPrivateDestinations, Allow: allow, Deny: deny}, nil
}

// ceilings are the bounds the operator sets on what apps and endpoints
// set for themselves.
func ceilings(cfg *config.Serve) herald.TenantCeilings {
	return herald.TenantCeilings{
		MaxInFlight:   cfg.MaxTenantInFlight,
		TimeoutMS:     int(cfg.MaxTenantTimeout / time.Millisecond),
		MaxRetries:    cfg.MaxRetries,
		MinRetryDelay: cfg.MinRetryDelay,
		MaxBatchBytes: int(cfg.RenderedSizeCap()),
	}
}

// newEngine builds the sender, which dials through the destination
// policy, the outbound layer that sends deliveries with it, and the
// delivery engine. adjust, a test hook, has the last word on the engine's
// options.
func (a *App) newEngine(schedule []time.Duration, policy *netpolicy.Policy, adjust func(*delivery.Options)) {
	cfg := a.cfg
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: policy.Control}
	a.sender = sender.New(sender.Options{
		UserAgent:       "Herald/" + herald.Version,
		MaxResponseBody: cfg.MaxResponseBody,
		DialContext:     policy.DialContext(dialer.DialContext),
	})
	httpOut := outbound.NewHTTP(a.sender, a.store, outbound.HTTPOptions{DefaultTimeout: cfg.RequestTimeout, PayloadFormat: cfg.PayloadFormat,
		MaxTenantTimeout: cfg.MaxTenantTimeout,
		MaxRenderedSize:  int(cfg.RenderedSizeCap()),
		Transform:        a.transform,
		Logger:           a.log})
	// Broker clients dial through the same policy as the sender, and so
	// does the HTTP client of the kinds whose service speaks HTTP.
	dial := policy.DialContext(dialer.DialContext)
	env := outbound.Env{
		Dial:    dial,
		HTTP:    &http.Client{Transport: &http.Transport{DialContext: dial, TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second}, Timeout: time.Minute},
		Timeout: 10 * time.Second,
	}
	a.outbound = &outbound.Router{HTTP: httpOut, Brokers: outbound.NewBrokers(httpOut, outbound.BrokerOptions{Kinds: broker.Kinds(), Env: env, Logger: a.log})}
	o := delivery.Options{
		Owner:                  a.node,
		NoDelivery:             cfg.Role == "api",
		LeaseDuration:          cfg.LeaseDuration,
		HeartbeatInterval:      cfg.HeartbeatInterval,
		Metrics:                a.metrics,
		Tracing:                a.tracing,
		Workers:                cfg.Workers,
		MaxInFlightPerEndpoint: cfg.MaxInFlight,
		MaxAppShare:            cfg.MaxAppShare,
		QueueMemory:            a.mem.engine,
		Retry:                  delivery.RetryPolicy{Schedule: schedule, Jitter: 0.2, MaxRetryAfter: 24 * time.Hour},
		Ceilings:               ceilings(cfg),
		AutoDisableAfter:       cfg.AutoDisableAfter,
		AutoDisableMinFailures: cfg.AutoDisableMinFailures,
		Logger:                 quietStoreErrors(a.log),
		LogDeliveries:          cfg.LogDeliveries,
	}
	if adjust != nil {
		adjust(&o)
	}
	a.engine = delivery.New(a.store, a.outbound, o)
}

// Start starts delivery, then listens on the configured address and
// serves the API there, with retention beside delivery. ctx bounds only
// the start: Shutdown stops what Start started. Call Start once; when it
// fails it stops what it started, and Shutdown still releases the rest.
func (a *App) Start(ctx context.Context) error {
	cfg := a.cfg
	// Listen first: holding the address is what makes this process the
	// only one of its node name prefix (see nodeName).
	ln := a.listener
	if ln == nil {
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(ctx, "tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	}
	a.leaveEarlierRuns(ctx)
	// The engine outlives ctx, which bounds only the start: Shutdown
	// stops it, after the API has drained.
	a.engine.Start(context.WithoutCancel(ctx))
	scheme := "http://"
	if cfg.TLSCert != "" {
		scheme = "https://"
	}
	a.url = scheme + ln.Addr().String()
	a.log.Info("herald is listening", "addr", a.url, "store", storeName(cfg), "role", cfg.Role, "node", a.node, "version", herald.Version)
	if cfg.Role != "worker" {
		a.log.Info("the web console is at " + a.url + "/console/ (sign in with the admin token or an API key)")
	}
	if cfg.AllowPrivateDestinations {
		a.log.Warn("--allow-private-destinations is on: endpoints may point at loopback and private addresses, " +
			"including this host's and your network's internal services; leave it off wherever tenants are not trusted")
	}

	// Retention runs beside delivery; it is stopped (and waited for)
	// before the store closes.
	bgCtx, cancelBg := context.WithCancel(context.Background())
	retainDone := make(chan struct{})
	a.stopBg = func() { cancelBg(); <-retainDone }
	go func() {
		defer close(retainDone)
		if cfg.Role != "api" {
			retainLoop(bgCtx, a.store, cfg.Retention, 10*time.Minute, a.log)
		}
	}()
	if cfg.DatabaseURL == "" {
		diskDone := make(chan struct{})
		go func() {
			defer close(diskDone)
			a.watchDisk(bgCtx, 10*time.Second)
		}()
		stopRetain := a.stopBg
		a.stopBg = func() { stopRetain(); <-diskDone }
	}

	a.serveErr = make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			a.serveErr <- a.srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
			return
		}
		a.serveErr <- a.srv.Serve(ln)
	}()
	a.started = true
	return nil
}

// Shutdown stops taking requests (waiting for calls in progress, which may
// be waiting for their commit), stops retention, then stops the engine:
// requests in flight finish within --shutdown-timeout (counted within
// ctx), the rest is retried after a restart. Last it releases what New
// opened: idle connections, the store, the data dir's lock. It returns the
// engine's error when requests had to be aborted (that is logged too).
// Call it once, also when Start failed or was never called.
//
// It returns by its deadline (plus shutdownGrace) whatever the store
// does: when a store that hangs holds up the last steps, it leaves them
// running and says so; what they did not record is sent again after the
// restart, with the same webhook-id.
func (a *App) Shutdown(ctx context.Context) error {
	if !a.started {
		a.release()
		return nil
	}
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(ctx, a.cfg.ShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		if err := a.srv.Shutdown(sctx); err != nil {
			a.log.Warn("http shutdown", "error", err.Error())
		}
		a.stopBg()
		err := a.engine.Shutdown(sctx)
		if err != nil {
			a.log.Warn("requests still in flight were aborted; they will be retried", "error", err.Error())
		}
		// The spans of the last attempts go out too, within what is left
		// of the deadline.
		if terr := a.tracing.Shutdown(sctx); terr != nil {
			a.log.Warn("traces not flushed", "error", terr.Error())
		}
		a.release()
		done <- err
	}()
	select {
	case err := <-done:
		a.log.Info("stopped")
		return err
	case <-sctx.Done():
	}
	grace := time.NewTimer(shutdownGrace)
	defer grace.Stop()
	select {
	case err := <-done:
		a.log.Info("stopped")
		return err
	case <-grace.C:
		a.log.Error("shutdown deadline passed with the store not answering; stopping without it (unrecorded deliveries are sent again after the restart)")
		return fmt.Errorf("shutdown: %w", context.DeadlineExceeded)
	}
}

// shutdownGrace is how long past --shutdown-timeout Shutdown waits for the
// engine to record the attempts it aborted at the deadline.
const shutdownGrace = time.Second

// release closes what New opened.
func (a *App) release() {
	// Shutdown flushed the spans already within its deadline; this
	// bounds the other ways out (a failed start, a lost listener).
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	if err := a.tracing.Shutdown(ctx); err != nil {
		a.log.Warn("traces not flushed", "error", err.Error())
	}
	cancel()
	a.sender.CloseIdleConnections()
	_ = a.outbound.Close()
	a.closeStore()
}

// Tracing reports whether this server exports traces: an OTLP endpoint is
// configured and its exporter was created.
func (a *App) Tracing() bool { return a.tracing != nil }

// Handler is the HTTP API (with the console, health and metrics), which
// Start serves; tests may call it without a listener.
func (a *App) Handler() *api.Server { return a.api }

// URL is where Start listens, with its scheme (http://127.0.0.1:41923
// when the address asked for port 0); empty before Start.
func (a *App) URL() string { return a.url }

// Store is the store the server runs on, secrets sealed.
func (a *App) Store() *sealed.Store { return a.store }

// Engine is the delivery engine.
func (a *App) Engine() *delivery.Engine { return a.engine }

// Node names this server on leases, heartbeats and metrics.
func (a *App) Node() string { return a.node }

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// KeyFile holds the encryption key of an embedded store when none is
// configured.
const KeyFile = "encryption.key"

// loadKeys returns the keyring that encrypts secrets at rest: the
// configured keys, or for the embedded store a key file in the data dir,
// created at first start.
func loadKeys(configured, dataDir string, shared bool, log *slog.Logger) (*secrets.Keyring, error) {
	if configured == "" {
		if shared {
			return nil, fmt.Errorf("set HERALD_ENCRYPTION_KEY: nodes sharing a PostgreSQL database must share the key that encrypts secrets (make one with: herald keygen)")
		}
		path := filepath.Join(dataDir, KeyFile)
		k, created, err := secrets.LoadOrCreateKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("encryption key: %w", err)
		}
		if created {
			log.Warn("generated an encryption key for secrets at rest; back it up: without it the secrets in the database cannot be read", "path", path)
		}
		configured = k
	}
	keys, err := secrets.ParseKeys(configured)
	if err != nil {
		return nil, fmt.Errorf("HERALD_ENCRYPTION_KEY: %w", err)
	}
	return keys, nil
}

// Reencrypt rewrites every stored secret under the first key: the step of
// a key rotation after the new key was put first.
func Reencrypt(ctx context.Context, cfg *config.Reencrypt, out io.Writer) error {
	serve := &config.Serve{DataDir: cfg.DataDir, DatabaseURL: cfg.DatabaseURL}
	raw, closeStore, err := openStore(ctx, serve, sqlite.Options{}, slog.New(slog.NewTextHandler(out, nil)))
	if err != nil {
		return err
	}
	defer closeStore()
	keys, err := loadKeys(cfg.EncryptionKey, cfg.DataDir, cfg.DatabaseURL != "", slog.New(slog.NewTextHandler(out, nil)))
	if err != nil {
		return err
	}
	n, err := sealed.New(raw, keys).Reencrypt(ctx)
	if err != nil {
		return fmt.Errorf("re-encrypt (%d endpoints done): %w", n, err)
	}
	fmt.Fprintf(out, "re-encrypted %d endpoints with key %s\n", n, keys.CurrentKeyID())
	return nil
}

func newLogger(cfg *config.Serve, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	o := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// openStore opens the embedded SQLite database in the data dir (locked to
// this process), or PostgreSQL when --database-url is set.
func openStore(ctx context.Context, cfg *config.Serve, caches sqlite.Options, log *slog.Logger) (store.Store, func(), error) {
	if cfg.DatabaseURL != "" {
		return openPostgres(ctx, cfg)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("data dir: %w", err)
	}
	unlock, err := lockDataDir(filepath.Join(cfg.DataDir, LockFile))
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlite.OpenWith(ctx, filepath.Join(cfg.DataDir, DatabaseFile), caches)
	if err != nil {
		unlock()
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	// One process owns an SQLite data dir (the lock file says so), so any
	// lease in it belongs to a process that is gone: its deliveries go out
	// again now, with the same webhook-id.
	//
	// On a disk that is full or read-only this write fails, and the
	// server starts all the same (reads work, writes answer 503): the
	// leases then run out on their own (--lease-duration).
	if err := st.LeasesReleaseAll(ctx); err != nil {
		if !errors.Is(sqlite.Classify(err), store.ErrNotWritable) {
			st.Close()
			unlock()
			return nil, nil, fmt.Errorf("release leases: %w", err)
		}
		log.Warn("the store cannot write: starting without releasing the leases of the previous run; their deliveries go out when the leases end", "error", err.Error())
	}
	return st, func() { st.Close(); unlock() }, nil
}

func storeName(cfg *config.Serve) string {
	if cfg.DatabaseURL != "" {
		return "postgres"
	}
	return "sqlite:" + filepath.Join(cfg.DataDir, DatabaseFile)
}

// adminToken returns the token kept in the data dir, or a new one, which
// is saved and printed once. Nodes on PostgreSQL must share one token, so
// there it must be configured.
func adminToken(cfg *config.Serve, out io.Writer) (string, error) {
	if cfg.DatabaseURL != "" {
		return "", fmt.Errorf("set HERALD_ADMIN_TOKEN (or --admin-token): nodes sharing a PostgreSQL database must share one admin token")
	}
	path := filepath.Join(cfg.DataDir, AdminTokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	token := "hrld_" + base64.RawURLEncoding.EncodeToString(raw[:])
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save admin token: %w", err)
	}
	fmt.Fprintf(out, "Generated an admin token (shown once, kept in %s):\n\n    %s\n\nUse it as: Authorization: Bearer <token>\n\n", path, token)
	return token, nil
}

func pathDir(p string) string { return filepath.Dir(p) }
