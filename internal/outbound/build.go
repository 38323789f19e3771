package outbound

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/cache"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/internal/template"
)

// builder turns a delivery into the signed HTTP request to send. It keeps
// what is costly to make and the same for many deliveries: compiled
// request shapes, parsed signing secrets, TLS settings.
type builder struct {
	st             Store
	userAgent      string
	defaultTimeout time.Duration
	// payloadFormat is the installation's default body shape.
	payloadFormat string
	// maxSize caps a rendered request, 0 for no cap.
	maxSize int
	// signers caches one parsed signer per secret: parsing the secret
	// for every request would cost more than signing.
	signers sync.Map
	// tlsConfigs caches saved endpoints' own TLS settings by version.
	tlsConfigs sync.Map
	// shapes caches compiled request shapes by endpoint version and
	// event type (titles come from the event type's schema).
	shapes cache.Versions[shapeKey, *shape.Compiled]
	titles *cache.Cache[map[string]string]
}

type shapeKey struct {
	endpoint  string
	updated   time.Time
	eventType string
	// format is the default payload format and template syntax in force
	// (the app's or the installation's), which an app may change without
	// the endpoint.
	format string
}

func newBuilder(st Store, o HTTPOptions) *builder {
	return &builder{st: st, userAgent: o.UserAgent, defaultTimeout: o.DefaultTimeout, payloadFormat: o.PayloadFormat,
		maxSize: o.MaxRenderedSize, titles: cache.New[map[string]string](o.Now)}
}

func (b *builder) signer(secret string) (signing.Scheme, error) {
	if s, ok := b.signers.Load(secret); ok {
		return s.(signing.Scheme), nil
	}
	s, err := signing.NewScheme(secret)
	if err != nil {
		return nil, err
	}
	b.signers.Store(secret, s)
	return s, nil
}

// compiled returns the endpoint's request shape for an event type.
func (b *builder) compiled(ctx context.Context, ep *herald.Endpoint, app *herald.App, eventType string) (*shape.Compiled, error) {
	format := b.payloadFormat
	if app.PayloadFormat != "" {
		format = app.PayloadFormat
	}
	k := shapeKey{ep.ID, ep.UpdatedAt, eventType, format + "/" + app.TemplateSyntax}
	// An endpoint not yet saved (a preview) has no id to cache it by.
	cacheable := ep.ID != ""
	if cacheable {
		if c, ok := b.shapes.Get(k); ok {
			return c, nil
		}
	}
	titles, ok := b.titles.Get(eventType)
	if !ok {
		if et, err := b.st.EventTypeGet(ctx, eventType); err == nil && len(et.Schema) > 0 {
			titles, _ = template.TitlesFromSchema(et.Schema)
		}
		b.titles.Put(eventType, titles)
	}
	c, err := shape.Compile(ep, shape.Options{Titles: titles, PayloadFormat: format, TemplateSyntax: app.TemplateSyntax, MaxSize: b.maxSize})
	if err != nil || !cacheable {
		return c, err
	}
	b.shapes.Put(k, c)
	return c, nil
}

// request makes the signed request for one attempt at time now.
func (b *builder) request(ctx context.Context, d *Delivery, now time.Time) (*sender.Request, error) {
	ep := d.Endpoint
	c, err := b.compiled(ctx, ep, d.App, d.Event.EventType)
	if err != nil {
		return nil, fmt.Errorf("endpoint settings: %w", err)
	}
	r, err := c.Build(shape.Event{Event: d.Event, App: d.App, Endpoint: ep})
	if err != nil {
		return nil, err
	}
	s, err := b.signer(ep.Secret)
	if err != nil {
		return nil, fmt.Errorf("endpoint secret: %w", err)
	}
	sig := s.Sign(d.ID, now, r.Body)
	if ep.PreviousSecret != "" && ep.PreviousSecretExpiresAt != nil && now.Before(*ep.PreviousSecretExpiresAt) {
		// During a rotation both secrets sign, space-separated, as
		// Standard Webhooks allows: receivers on either secret verify.
		if old, err := b.signer(ep.PreviousSecret); err == nil {
			sig += " " + old.Sign(d.ID, now, r.Body)
		}
	}
	r.Header.Set("User-Agent", b.userAgent)
	signing.Headers(r.Header, d.ID, now, sig)
	req := &sender.Request{Method: r.Method, URL: r.URL, Header: r.Header, Body: r.Body, Timeout: b.timeout(ep, d.App)}
	if ep.TLSCABundle != "" || ep.TLSClientCert != "" {
		cfg, key, err := b.tlsConfig(ep)
		if err != nil {
			return nil, fmt.Errorf("endpoint TLS settings: %w", err)
		}
		req.TLS, req.TLSKey = cfg, key
	}
	return req, nil
}

// timeout returns the request timeout of an endpoint of an app.
func (b *builder) timeout(ep *herald.Endpoint, app *herald.App) time.Duration {
	s := herald.EffectiveDelivery(ep, app, herald.DeliverySettings{TimeoutMS: int(b.defaultTimeout / time.Millisecond)})
	return time.Duration(s.TimeoutMS) * time.Millisecond
}

// tlsConfig builds (once per endpoint version) the TLS settings of an
// endpoint with its own CA bundle or client certificate, and the key that
// names them for the sender's connections.
func (b *builder) tlsConfig(ep *herald.Endpoint) (*tls.Config, string, error) {
	key := ep.ID + "@" + ep.UpdatedAt.String()
	// An endpoint not yet saved has no id: it is named by its settings,
	// so that it never gets another's client certificate, and not cached.
	cacheable := ep.ID != ""
	if !cacheable {
		sum := sha256.Sum256([]byte(ep.TLSCABundle + "\x00" + ep.TLSClientCert + "\x00" + ep.TLSClientKey))
		key = "unsaved@" + hex.EncodeToString(sum[:])
	} else if v, ok := b.tlsConfigs.Load(key); ok {
		return v.(*tls.Config), key, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ep.TLSCABundle != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ep.TLSCABundle)) {
			return nil, "", errors.New("tls_ca_bundle holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if ep.TLSClientCert != "" {
		pair, err := tls.X509KeyPair([]byte(ep.TLSClientCert), []byte(ep.TLSClientKey))
		if err != nil {
			return nil, "", err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if cacheable {
		b.tlsConfigs.Store(key, cfg)
	}
	return cfg, key, nil
}
