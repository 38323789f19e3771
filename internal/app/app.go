// Package app wires Herald together: it opens the store, starts the
// delivery engine and the HTTP API, and stops them in the order that loses
// nothing.
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
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sealed"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// Files Herald keeps in its data dir.
const (
	DatabaseFile   = "herald.db"
	AdminTokenFile = "admin-token"
	LockFile       = "herald.lock"
)

// Serve runs `herald serve` until ctx is cancelled, then shuts down
// gracefully. Messages for the operator (the generated admin token, the
// address) go to out; logs go to logOut.
func Serve(ctx context.Context, cfg *config.Serve, out, logOut io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg, logOut)
	schedule, _ := delivery.ParseSchedule(cfg.RetrySchedule)
	if cfg.TLSCert != "" {
		// Fail at start, not at the first connection, on a bad pair.
		if _, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
	}

	raw, closeStore, err := openStore(ctx, cfg, out)
	if err != nil {
		return err
	}
	defer closeStore()
	keys, err := loadKeys(cfg.EncryptionKey, cfg.DataDir, cfg.DatabaseURL != "", log)
	if err != nil {
		return err
	}
	st := sealed.New(raw, keys)
	token := cfg.AdminToken
	if token == "" {
		if token, err = adminToken(cfg, out); err != nil {
			return err
		}
	}

	// Every connection goes through the destination policy, checked on
	// the address actually dialled (see internal/netpolicy).
	policy := cfg.Policy()
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: policy.Control}
	snd := sender.New(sender.Options{
		UserAgent:       "Herald/" + herald.Version,
		MaxResponseBody: cfg.MaxResponseBody,
		DialContext:     policy.DialContext(dialer.DialContext),
	})
	defer snd.CloseIdleConnections()
	owner := nodeName()
	m := metrics.New(owner, st)
	dest := outbound.NewHTTP(snd, st, outbound.HTTPOptions{DefaultTimeout: cfg.RequestTimeout, PayloadFormat: cfg.PayloadFormat})
	eng := delivery.New(st, dest, delivery.Options{
		Owner:                  owner,
		NoDelivery:             cfg.Role == "api",
		LeaseDuration:          cfg.LeaseDuration,
		HeartbeatInterval:      cfg.HeartbeatInterval,
		Metrics:                m,
		Workers:                cfg.Workers,
		MaxInFlightPerEndpoint: cfg.MaxInFlight,
		Retry:                  delivery.RetryPolicy{Schedule: schedule, Jitter: 0.2, MaxRetryAfter: 24 * time.Hour},
		AutoDisableAfter:       cfg.AutoDisableAfter,
		AutoDisableMinFailures: cfg.AutoDisableMinFailures,
		Logger:                 log,
	})
	eng.Start(ctx)

	srv := &http.Server{
		Handler: api.New(st, eng, dest, api.Options{
			AdminToken:                token,
			MaxBodyBytes:              cfg.MaxEventSize,
			AllowUndeclaredEventTypes: cfg.AllowUndeclaredEventTypes,
			CheckURL:                  policy.CheckURL,
			RateLimit:                 cfg.APIRateLimit,
			MaxEndpointsPerApp:        cfg.MaxEndpointsPerApp,
			Defaults: herald.DeliverySettings{
				RetrySchedule: cfg.RetrySchedule,
				TimeoutMS:     int(cfg.RequestTimeout / time.Millisecond),
				MaxInFlight:   cfg.MaxInFlight,
			},
			Metrics:      m.Handler(),
			MetricsToken: cfg.MetricsToken,
			DisableAPI:   cfg.Role == "worker",
			Console:      console.New(),
			PublicURL:    cfg.PublicURL,
			Logger:       log,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		_ = eng.Shutdown(context.Background())
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	scheme := "http://"
	if cfg.TLSCert != "" {
		scheme = "https://"
	}
	log.Info("herald is listening", "addr", scheme+ln.Addr().String(), "store", storeName(cfg), "role", cfg.Role, "node", owner, "version", herald.Version)
	if cfg.Role != "worker" {
		log.Info("the web console is at " + scheme + ln.Addr().String() + "/console/ (sign in with the admin token or an API key)")
	}

	// Retention runs beside delivery; it is stopped (and waited for)
	// before the store closes.
	bgCtx, cancelBg := context.WithCancel(context.Background())
	retainDone := make(chan struct{})
	stopBg := func() { cancelBg(); <-retainDone }
	go func() {
		defer close(retainDone)
		if cfg.Role != "api" {
			retainLoop(bgCtx, st, cfg.Retention, 10*time.Minute, log)
		}
	}()

	serveErr := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			serveErr <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
			return
		}
		serveErr <- srv.Serve(ln)
	}()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		stopBg()
		_ = eng.Shutdown(context.Background())
		return fmt.Errorf("http server: %w", err)
	}

	// Stop taking requests (waiting for calls in progress, which may be
	// waiting for their commit), then stop the engine: requests in flight
	// finish within the deadline, the rest is retried after a restart.
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "error", err.Error())
	}
	stopBg()
	if err := eng.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight were aborted; they will be retried", "error", err.Error())
	}
	log.Info("stopped")
	return nil
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
	raw, closeStore, err := openStore(ctx, serve, out)
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
func openStore(ctx context.Context, cfg *config.Serve, out io.Writer) (store.Store, func(), error) {
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
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, DatabaseFile))
	if err != nil {
		unlock()
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	// One process owns an SQLite data dir (the lock file says so), so any
	// lease in it belongs to a process that is gone: its deliveries go out
	// again now, with the same webhook-id.
	if err := st.LeasesReleaseAll(ctx); err != nil {
		st.Close()
		unlock()
		return nil, nil, fmt.Errorf("release leases: %w", err)
	}
	return st, func() { st.Close(); unlock() }, nil
}

func storeName(cfg *config.Serve) string {
	if cfg.DatabaseURL != "" {
		return "postgres"
	}
	return "sqlite:" + filepath.Join(cfg.DataDir, DatabaseFile)
}

// nodeName names this process on leases, heartbeats and metrics.
func nodeName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
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
