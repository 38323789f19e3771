package outbound

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/cache"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/internal/template"
	"github.com/heraldhq/herald/internal/transform"
)

// builder turns a delivery into the signed HTTP request to send. It keeps
// what is costly to make and the same for many deliveries: compiled
// request shapes, parsed signing secrets, TLS settings.
type builder struct {
	st             Store
	userAgent      string
	defaultTimeout time.Duration
	// maxTenantTimeout holds the timeout an endpoint or app sets to the
	// operator's ceiling, also one saved before it was lowered; 0: none.
	maxTenantTimeout time.Duration
	// payloadFormat is the installation's default body shape.
	payloadFormat string
	// maxSize caps a rendered request, 0 for no cap.
	maxSize int
	// signers caches one parsed signer per secret: parsing the secret
	// for every request would cost more than signing. At most
	// maxSigners, weighing at most maxSignerBytes (signerSize).
	signers *cache.LRU[string, signing.Scheme]
	// tlsConfigs caches saved endpoints' own TLS settings by version: at
	// most maxTLSConfigs, made of at most maxTLSBytes of PEM.
	tlsConfigs *cache.LRU[string, tlsEntry]
	// shapes caches compiled request shapes by endpoint version and
	// event type (titles come from the event type's schema): at most
	// cache.MaxEntries, made of at most maxShapeBytes of settings.
	shapes *cache.LRU[shapeKey, *shape.Compiled]
	titles *cache.Cache[map[string]string]
	// eventTypes keeps the event types of pinned endpoints' deliveries,
	// whose versions' converters they run.
	eventTypes *cache.Cache[*herald.EventType]
	// tf runs endpoints' transformations.
	tf *transform.Engine
}

// Bounds of the builder's caches. Each is keyed by what tenants set
// (secrets, certificates, templates), so each has a number and a size: a
// miss costs parsing again, never a failure.
const (
	maxSigners     = 10_000
	maxSignerBytes = 4 << 20
	maxTLSConfigs  = 1_000
	maxTLSBytes    = 16 << 20
	maxShapeBytes  = 16 << 20
)

// tlsEntry is an endpoint's TLS settings and the bytes of PEM they were
// parsed from, which weigh them in the cache.
type tlsEntry struct {
	cfg *tls.Config
	pem int64
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
	tf := o.Transform
	if tf == nil {
		tf = transform.New(transform.Limits{})
	}
	return &builder{st: st, userAgent: o.UserAgent, tf: tf, defaultTimeout: o.DefaultTimeout, maxTenantTimeout: o.MaxTenantTimeout,
		payloadFormat: o.PayloadFormat,
		maxSize:       o.MaxRenderedSize, titles: cache.New[map[string]string](o.Now), eventTypes: cache.New[*herald.EventType](o.Now),
		signers: cache.NewLRU(maxSigners, cache.LRUOptions[string, signing.Scheme]{MaxCost: maxSignerBytes,
			Cost: func(secret string, _ signing.Scheme) int64 { return signerSize(secret) }}),
		tlsConfigs: cache.NewLRU(maxTLSConfigs, cache.LRUOptions[string, tlsEntry]{MaxCost: maxTLSBytes,
			Cost: func(_ string, e tlsEntry) int64 { return e.pem }}),
		shapes: cache.NewLRU(cache.MaxEntries, cache.LRUOptions[shapeKey, *shape.Compiled]{MaxCost: maxShapeBytes,
			Cost: func(_ shapeKey, c *shape.Compiled) int64 { return shapeSize(c) }}),
	}
}

// signerSize is about what a signer holds: the secret as its key, the key
// parsed from it, and the entry itself.
func signerSize(secret string) int64 {
	return 2*int64(len(secret)) + 256
}

// shapeSize weighs a compiled shape by the settings it was made of: its
// URL, headers, body template and destination templates.
func shapeSize(c *shape.Compiled) int64 {
	n := len(c.Effective.URL) + len(c.Effective.BodyTemplate) + c.DestinationSize()
	for k, v := range c.Effective.Headers {
		n += len(k) + len(v)
	}
	return int64(n)
}

func (b *builder) signer(secret string) (signing.Scheme, error) {
	if s, ok := b.signers.Get(secret); ok {
		return s, nil
	}
	s, err := signing.NewScheme(secret)
	if err != nil {
		return nil, err
	}
	b.signers.Put(secret, s)
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
	req, _, err := b.message(ctx, d, now)
	return req, err
}

// message makes the signed request for one attempt at time now and, for a
// broker endpoint, its destination with the template fields filled in.
func (b *builder) message(ctx context.Context, d *Delivery, now time.Time) (*sender.Request, *herald.Destination, error) {
	if d.Event.PayloadGone(now) {
		// Sending an empty body in its place would tell the receiver
		// something that did not happen.
		return nil, nil, ErrPayloadExpired
	}
	ep := d.Endpoint
	c, err := b.compiled(ctx, ep, d.App, d.Event.EventType)
	if err != nil {
		return nil, nil, fmt.Errorf("endpoint settings: %w", err)
	}
	if len(ep.EventTypeVersions) > 0 {
		ev, err := b.pinned(ctx, ep, d.Event)
		if err != nil {
			return nil, nil, err
		}
		if ev != d.Event {
			// The template, the transformation and the envelope see the
			// event as the endpoint's version has it.
			c := *d
			c.Event = ev
			d = &c
		}
	}
	r, err := c.Build(shape.Event{Event: d.Event, App: d.App, Endpoint: ep, DeliveryID: d.ID})
	if err != nil {
		return nil, nil, err
	}
	if ep.Transformation != "" {
		if err := b.transformRequest(ctx, d, r); err != nil {
			return nil, nil, err
		}
	}
	if d.Event.Version != "" {
		r.Header.Set(VersionHeader, d.Event.Version)
	}
	s, err := b.signer(ep.Secret)
	if err != nil {
		return nil, nil, fmt.Errorf("endpoint secret: %w", err)
	}
	sig := s.Sign(d.ID, now, r.Body)
	if ep.PreviousSecret != "" && ep.PreviousSecretExpiresAt != nil && now.Before(*ep.PreviousSecretExpiresAt) {
		// During a rotation both secrets sign, space-separated, as
		// Standard Webhooks allows: receivers on either secret verify.
		if old, err := b.signer(ep.PreviousSecret); err == nil {
			sig += " " + old.Sign(d.ID, now, r.Body)
		}
	}
	if r.Header.Get("User-Agent") == "" {
		// A User-Agent the endpoint sets is sent as typed.
		r.Header.Set("User-Agent", b.userAgent)
	}
	if herald.EffectiveWebhookHeaders(ep, d.App) == herald.WebhookHeadersSvix {
		signing.SvixHeaders(r.Header, d.ID, now, sig)
	} else {
		signing.Headers(r.Header, d.ID, now, sig)
	}
	req := &sender.Request{Method: r.Method, URL: r.URL, Header: r.Header, Body: r.Body, Timeout: b.timeout(ep, d.App)}
	if ep.TLSCABundle != "" || ep.TLSClientCert != "" {
		cfg, key, err := b.tlsConfig(ep)
		if err != nil {
			return nil, nil, fmt.Errorf("endpoint TLS settings: %w", err)
		}
		req.TLS, req.TLSKey = cfg, key
	}
	return req, r.Dest, nil
}

// timeout returns the request timeout of an endpoint of an app.
func (b *builder) timeout(ep *herald.Endpoint, app *herald.App) time.Duration {
	s := herald.EffectiveDelivery(ep, app, herald.DeliverySettings{TimeoutMS: int(b.defaultTimeout / time.Millisecond)},
		herald.TenantCeilings{TimeoutMS: int(b.maxTenantTimeout / time.Millisecond)})
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
	} else if e, ok := b.tlsConfigs.Get(key); ok {
		return e.cfg, key, nil
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
		b.tlsConfigs.Put(key, tlsEntry{cfg: cfg, pem: int64(len(ep.TLSCABundle) + len(ep.TLSClientCert) + len(ep.TLSClientKey))})
	}
	return cfg, key, nil
}
