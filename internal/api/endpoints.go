package api

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/internal/store"
)

type endpointInput struct {
	URL             *string            `json:"url"`
	Description     *string            `json:"description"`
	EventTypes      *[]string          `json:"event_types"`
	Enabled         *bool              `json:"enabled"`
	Secret          *string            `json:"secret"`
	TimeoutMS       *int               `json:"timeout_ms"`
	Method          *string            `json:"method"`
	ContentType     *string            `json:"content_type"`
	Headers         *map[string]string `json:"headers"`
	BodyTemplate    optionalJSON       `json:"body_template"`
	TemplateStrict  *bool              `json:"template_strict"`
	Auth            optionalJSON       `json:"auth"`
	TemplateSyntax  *string            `json:"template_syntax"`
	PayloadFormat   *string            `json:"payload_format"`
	FlatEventKey    *string            `json:"flat_event_key"`
	Preset          *string            `json:"preset"`
	PresetOptions   *map[string]string `json:"preset_options"`
	Filter          *string            `json:"filter"`
	RetrySchedule   *string            `json:"retry_schedule"`
	MaxInFlight     *int               `json:"max_in_flight"`
	RateLimit       *float64           `json:"rate_limit"`
	SampleRate      optionalJSON       `json:"sample_rate"`
	SignatureScheme *string            `json:"signature_scheme"`
	TLSCABundle     *string            `json:"tls_ca_bundle"`
	TLSClientCert   *string            `json:"tls_client_cert"`
	TLSClientKey    *string            `json:"tls_client_key"`
}

// endpointView is an endpoint as the API shows it: credentials in headers
// and preset options masked, and the request it sends with its preset and
// defaults applied.
type endpointView struct {
	*herald.Endpoint
	Effective *shape.Effective `json:"effective,omitempty"`
	// EffectiveDelivery: the retry schedule, timeout and in-flight cap in
	// force, from the endpoint, its app or the installation.
	EffectiveDelivery herald.DeliverySettings `json:"effective_delivery"`
}

func (s *Server) viewEndpoint(ep *herald.Endpoint, app *herald.App) endpointView {
	v := viewEndpoint(ep)
	v.EffectiveDelivery = herald.EffectiveDelivery(ep, app, s.o.Defaults)
	return v
}

func viewEndpoint(ep *herald.Endpoint) endpointView {
	v := *ep
	v.PreviousSecret = ""
	if v.TLSClientKey != "" {
		v.TLSClientKey = "********"
	}
	if ep.Auth != nil {
		a := *ep.Auth
		for _, p := range []*string{&a.Password, &a.Token, &a.ClientSecret} {
			if *p != "" {
				*p = "********"
			}
		}
		v.Auth = &a
	}
	v.Headers = herald.MaskHeaders(ep.Headers)
	if ep.Headers == nil {
		v.Headers = map[string]string{}
	}
	v.PresetOptions = map[string]string{}
	for k, val := range ep.PresetOptions {
		if herald.SecretOption(k) {
			val = herald.Mask(val)
		}
		v.PresetOptions[k] = val
	}
	out := endpointView{Endpoint: &v}
	if c, err := shape.Compile(ep, shape.Options{}); err == nil {
		eff := c.Effective
		eff.Headers = herald.MaskHeaders(eff.Headers)
		out.Effective = &eff
	}
	return out
}

// applyTo validates and copies the given fields onto ep.
// applyTo validates and copies the given fields onto ep, an endpoint of
// app, whose settings (the tag syntax) the templates are checked with.
func (in *endpointInput) applyTo(ep *herald.Endpoint, app *herald.App) *Error {
	if in.URL != nil {
		// Checked with the rest of the request shape in compile: a URL
		// may hold template tags.
		ep.URL = *in.URL
	}
	if in.Description != nil {
		if e := validateDescription(*in.Description); e != nil {
			return e
		}
		ep.Description = *in.Description
	}
	if in.EventTypes != nil {
		types := *in.EventTypes
		if len(types) > maxEventTypes {
			return errInvalid("event_types", "event_types may list at most %d names", maxEventTypes)
		}
		seen := make(map[string]bool, len(types))
		out := make([]string, 0, len(types))
		for _, t := range types {
			if e := validateSubscription(t); e != nil {
				return e
			}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		ep.EventTypes = out
	}
	if in.Enabled != nil {
		ep.Enabled = *in.Enabled
	}
	if in.TLSCABundle != nil {
		if *in.TLSCABundle != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(*in.TLSCABundle)) {
			return errInvalid("tls_ca_bundle", "tls_ca_bundle must hold PEM certificates")
		}
		ep.TLSCABundle = *in.TLSCABundle
	}
	if in.TLSClientCert != nil {
		ep.TLSClientCert = *in.TLSClientCert
	}
	if in.TLSClientKey != nil {
		ep.TLSClientKey = *in.TLSClientKey
	}
	if (ep.TLSClientCert == "") != (ep.TLSClientKey == "") {
		return errInvalid("tls_client_cert", "tls_client_cert and tls_client_key go together")
	}
	if ep.TLSClientCert != "" {
		if _, err := tls.X509KeyPair([]byte(ep.TLSClientCert), []byte(ep.TLSClientKey)); err != nil {
			return errInvalid("tls_client_cert", "tls_client_cert and tls_client_key must be a PEM certificate and its private key: %v", err)
		}
	}
	if in.SignatureScheme != nil {
		switch *in.SignatureScheme {
		case "v1", "v1a":
		default:
			return errInvalid("signature_scheme", "signature_scheme must be v1 (HMAC) or v1a (Ed25519)")
		}
		if *in.SignatureScheme != scheme(ep) && in.Secret == nil {
			// A new scheme needs a secret of its kind: made below.
			ep.Secret, ep.PreviousSecret, ep.PreviousSecretExpiresAt = "", "", nil
		}
		ep.SignatureScheme = *in.SignatureScheme
	}
	if in.Secret != nil {
		if e := checkSecret(scheme(ep), *in.Secret); e != nil {
			return e
		}
		ep.Secret = *in.Secret
	}
	if in.TimeoutMS != nil {
		if *in.TimeoutMS < 0 || *in.TimeoutMS > maxTimeoutMS {
			return errInvalid("timeout_ms", "timeout_ms must be from 1 to %d, or 0 to inherit it", maxTimeoutMS)
		}
		ep.TimeoutMS = *in.TimeoutMS
	}
	if in.Method != nil {
		ep.Method = strings.ToUpper(*in.Method)
	}
	if in.ContentType != nil {
		ep.ContentType = *in.ContentType
	}
	if in.Headers != nil {
		ep.Headers = *in.Headers
	}
	if in.BodyTemplate.set {
		ep.BodyTemplate = compactJSON(in.BodyTemplate.raw)
	}
	if in.TemplateStrict != nil {
		ep.TemplateStrict = *in.TemplateStrict
	}
	if in.PayloadFormat != nil {
		ep.PayloadFormat = *in.PayloadFormat
	}
	if in.FlatEventKey != nil {
		if len(*in.FlatEventKey) > maxNameLen {
			return errInvalid("flat_event_key", "flat_event_key is longer than %d characters", maxNameLen)
		}
		ep.FlatEventKey = *in.FlatEventKey
	}
	if in.Preset != nil {
		ep.Preset = *in.Preset
		if ep.Preset == "custom" {
			ep.Preset = ""
		}
	}
	if in.PresetOptions != nil {
		ep.PresetOptions = *in.PresetOptions
	}
	if in.Filter != nil {
		f := strings.TrimSpace(*in.Filter)
		if len(f) > maxFilterLen {
			return errInvalid("filter", "filter is longer than %d characters", maxFilterLen)
		}
		if f != "" {
			if _, err := filter.Compile(f); err != nil {
				return errInvalid("filter", "%s", err.Error())
			}
		}
		ep.Filter = f
	}
	if e := applyDelivery(&ep.RetrySchedule, &ep.TimeoutMS, &ep.MaxInFlight, in.RetrySchedule, nil, in.MaxInFlight); e != nil {
		return e
	}
	if in.SampleRate.set {
		if in.SampleRate.raw == nil {
			ep.SampleRate = nil
		} else {
			var r float64
			if err := json.Unmarshal(in.SampleRate.raw, &r); err != nil || r < 0 || r > 100 {
				return errInvalid("sample_rate", "sample_rate is a percentage from 0 to 100 (null for 100)")
			}
			ep.SampleRate = &r
		}
	}
	if in.RateLimit != nil {
		if *in.RateLimit < 0 || *in.RateLimit > maxRateLimit {
			return errInvalid("rate_limit", "rate_limit is requests per second, from 0 (no limit) to %d", maxRateLimit)
		}
		ep.RateLimit = *in.RateLimit
	}
	if in.TemplateSyntax != nil {
		ep.TemplateSyntax = *in.TemplateSyntax
	}
	if in.Auth.set {
		a, e := parseAuth(in.Auth.raw, ep.Auth)
		if e != nil {
			return e
		}
		ep.Auth = a
	}
	return compileEndpoint(ep, app)
}

// compileEndpoint checks the endpoint's request shape the way delivery
// will use it, and names the field at fault.
func compileEndpoint(ep *herald.Endpoint, app *herald.App) *Error {
	if _, err := shape.Compile(ep, shape.Options{TemplateSyntax: app.TemplateSyntax}); err != nil {
		var fe *shape.FieldError
		if errors.As(err, &fe) {
			if fe.Field == "url" && ep.URL == "" {
				return errRequired("url")
			}
			return errInvalid(fe.Field, "%s", fe.Msg)
		}
		return errInvalid("", "%s", err.Error())
	}
	return nil
}

// checkDestination refuses a URL whose literal host is an address Herald
// will not deliver to. A URL with template tags is checked when sent.
func (s *Server) checkDestination(field, rawURL string) *Error {
	if s.o.CheckURL == nil || rawURL == "" || strings.Contains(rawURL, "{{") || strings.Contains(rawURL, "#{") {
		return nil
	}
	if err := s.o.CheckURL(rawURL); err != nil {
		return errInvalid(field, "%s", err.Error())
	}
	return nil
}

// karteInput is a KARTE webhook action as its users define it: url,
// method, headers and hookData, with #{...} variables.
type karteInput struct {
	Format      string            `json:"format"`
	URL         *string           `json:"url"`
	Method      *string           `json:"method"`
	Headers     map[string]string `json:"headers"`
	HookData    json.RawMessage   `json:"hookData"`
	Description *string           `json:"description"`
	EventTypes  *[]string         `json:"event_types"`
	Enabled     *bool             `json:"enabled"`
	Filter      *string           `json:"filter"`
	SampleRate  optionalJSON      `json:"sample_rate"`
}

// readEndpointInput decodes an endpoint, or a KARTE definition pasted as
// is ({"format": "karte", "url", "method", "headers", "hookData"}), which
// becomes the equivalent endpoint: hash tags, hookData as the body.
func readEndpointInput(w http.ResponseWriter, r *http.Request, limit int64) (endpointInput, *Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return endpointInput{}, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
	}
	var probe struct {
		Format string `json:"format"`
	}
	_ = json.Unmarshal(body, &probe)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if probe.Format == "" {
		var in endpointInput
		return in, decode(w, r, limit, &in)
	}
	if probe.Format != "karte" {
		return endpointInput{}, errInvalid("format", "format %q is not known; the one supported is karte", probe.Format)
	}
	var k karteInput
	if e := decode(w, r, limit, &k); e != nil {
		return endpointInput{}, e
	}
	hash := "hash"
	in := endpointInput{URL: k.URL, Method: k.Method, Description: k.Description, EventTypes: k.EventTypes,
		Enabled: k.Enabled, Filter: k.Filter, SampleRate: k.SampleRate, TemplateSyntax: &hash}
	if len(k.Headers) > 0 {
		in.Headers = &k.Headers
	}
	if len(k.HookData) > 0 {
		in.BodyTemplate = optionalJSON{set: true, raw: k.HookData}
	}
	return in, nil
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	in, e := readEndpointInput(w, r, s.o.MaxBodyBytes)
	if e != nil {
		return e
	}
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: a.ID, Enabled: true, EventTypes: []string{}}
	if e := in.applyTo(ep, a); e != nil {
		return e
	}
	all := s.appEndpoints(r, a.ID)
	if e := s.checkLimit(r, a, ep, all); e != nil {
		return e
	}
	if e := s.checkDestination("url", ep.URL); e != nil {
		return e
	}
	if ep.Auth != nil && ep.Auth.TokenURL != "" {
		if e := s.checkDestination("auth.token_url", ep.Auth.TokenURL); e != nil {
			return e
		}
	}
	if max := s.o.MaxEndpointsPerApp; max > 0 {
		eps, err := all.get()
		if err != nil {
			return storeError(err, "endpoint")
		}
		if n := len(eps); n >= max {
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeLimitExceeded,
				Message: fmt.Sprintf("the app already has %d endpoints, the most this installation allows (--max-endpoints-per-app)", n)}
		}
	}
	if ep.Secret == "" {
		secret, err := newSecret(scheme(ep))
		if err != nil {
			return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "could not generate a secret"}
		}
		ep.Secret = secret
	}
	ep.CreatedAt = s.o.Now().UTC()
	ep.UpdatedAt = ep.CreatedAt
	if err := s.st.EndpointCreate(r.Context(), ep); err != nil {
		return storeError(err, "app")
	}
	s.audit(r, a.ID, "endpoint.create", ep.ID, in)
	writeJSON(w, http.StatusCreated, s.viewEndpoint(ep, a))
	return nil
}

func (s *Server) endpoint(r *http.Request) (*herald.Endpoint, *Error) {
	ep, _, e := s.endpointOfApp(r)
	return ep, e
}

// endpointOfApp resolves {app} and {id}.
func (s *Server) endpointOfApp(r *http.Request) (*herald.Endpoint, *herald.App, *Error) {
	a, e := s.app(r)
	if e != nil {
		return nil, nil, e
	}
	ep, err := s.st.EndpointGet(r.Context(), a.ID, r.PathValue("id"))
	if err != nil {
		return nil, nil, storeError(err, "endpoint")
	}
	return ep, a, nil
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	ep, a, e := s.endpointOfApp(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.viewEndpoint(ep, a))
	return nil
}

func (s *Server) getEndpointSecret(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": ep.Secret})
	return nil
}

// rotateSecret answers POST .../endpoints/{id}/secret/rotate: a new
// secret (given or generated); the old one keeps signing too for the
// grace period (default 24 h).
func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request) *Error {
	ep, a, e := s.endpointOfApp(r)
	if e != nil {
		return e
	}
	var in struct {
		Secret      *string `json:"secret"`
		GracePeriod *string `json:"grace_period"`
	}
	if r.ContentLength != 0 {
		if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
			return e
		}
	}
	grace := 24 * time.Hour
	if in.GracePeriod != nil {
		d, err := time.ParseDuration(*in.GracePeriod)
		if err != nil || d < 0 || d > 30*24*time.Hour {
			return errInvalid("grace_period", "grace_period must be a duration such as 24h or 30m, from 0 to 720h")
		}
		grace = d
	}
	secret := ""
	if in.Secret != nil {
		if e := checkSecret(scheme(ep), *in.Secret); e != nil {
			return e
		}
		if *in.Secret == ep.Secret {
			return errInvalid("secret", "the new secret must differ from the current one")
		}
		secret = *in.Secret
	} else {
		var err error
		if secret, err = newSecret(scheme(ep)); err != nil {
			return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "could not generate a secret"}
		}
	}
	now := s.o.Now().UTC()
	ep.PreviousSecret, ep.PreviousSecretExpiresAt = "", nil
	if grace > 0 {
		until := now.Add(grace)
		ep.PreviousSecret, ep.PreviousSecretExpiresAt = ep.Secret, &until
	}
	ep.Secret, ep.UpdatedAt = secret, now
	if err := s.st.EndpointUpdate(r.Context(), ep); err != nil {
		return storeError(err, "endpoint")
	}
	s.eng.EndpointChanged(ep)
	s.audit(r, a.ID, "endpoint.secret.rotate", ep.ID, map[string]any{"grace_period": grace.String()})
	out := map[string]any{"secret": secret, "previous_secret_expires_at": ep.PreviousSecretExpiresAt}
	if pub, err := signing.PublicKeyOf(secret); err == nil {
		out["public_key"] = pub
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// parseAuth reads an endpoint's auth setting. A secret given as
// "********" (as the API shows it) keeps the stored one, so a client may
// send back what it read.
func parseAuth(raw json.RawMessage, old *herald.EndpointAuth) (*herald.EndpointAuth, *Error) {
	if raw == nil {
		return nil, nil
	}
	var a herald.EndpointAuth
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, errInvalid("auth", "auth must be an object with type and its fields: %v", err)
	}
	if old != nil {
		for _, p := range []struct{ v, was *string }{{&a.Password, &old.Password}, {&a.Token, &old.Token}, {&a.ClientSecret, &old.ClientSecret}} {
			if *p.v == "********" {
				*p.v = *p.was
			}
		}
	}
	need := func(field, v string) *Error {
		if v == "" {
			return errRequired("auth." + field)
		}
		return nil
	}
	var e *Error
	switch a.Type {
	case "basic":
		if e = need("username", a.Username); e == nil {
			e = need("password", a.Password)
		}
	case "bearer":
		e = need("token", a.Token)
	case "oauth2_client_credentials":
		for _, f := range []struct{ name, v string }{{"token_url", a.TokenURL}, {"client_id", a.ClientID}, {"client_secret", a.ClientSecret}} {
			if e = need(f.name, f.v); e != nil {
				break
			}
		}
		if e == nil {
			if err := herald.ValidateURL(a.TokenURL); err != nil {
				e = errInvalid("auth.token_url", "auth.token_url: %s", err.Error())
			} else if a.TokenIn != "" && a.TokenIn != "header" && a.TokenIn != "query" {
				e = errInvalid("auth.token_in", "auth.token_in must be header or query")
			}
		}
	default:
		e = errInvalid("auth.type", "auth.type must be basic, bearer or oauth2_client_credentials")
	}
	if e != nil {
		return nil, e
	}
	return &a, nil
}

// scheme is the endpoint's signature scheme, v1 when unset.
func scheme(ep *herald.Endpoint) string {
	if ep.SignatureScheme == "" {
		return "v1"
	}
	return ep.SignatureScheme
}

// checkSecret refuses a secret of the wrong kind for the scheme.
func checkSecret(scheme, secret string) *Error {
	var err error
	switch {
	case scheme == "v1a":
		_, err = signing.ParseSecretKey(secret)
	case strings.HasPrefix(secret, signing.SecretPrefix):
		_, err = signing.ParseSecret(secret)
	case strings.HasPrefix(secret, signing.SecretKeyPrefix):
		err = fmt.Errorf("a whsk_ key is for signature_scheme v1a")
	case strings.HasPrefix(secret, signing.PublicKeyPrefix):
		err = fmt.Errorf("a whpk_ public key verifies, it cannot sign; give the whsk_ key with signature_scheme v1a")
	default:
		// The product's own secret, used as the raw HMAC key.
		_, err = signing.NewRawSigner(secret)
	}
	if err != nil {
		return errInvalid("secret", "%s", err.Error())
	}
	return nil
}

// newSecret makes a secret of the scheme's kind: a whsec_ secret, or a
// whsk_ Ed25519 key.
func newSecret(scheme string) (string, error) {
	if scheme == "v1a" {
		sk, _, err := signing.GenerateKeyPair()
		return sk, err
	}
	return signing.GenerateSecret()
}

// getPublicKey answers GET .../endpoints/{id}/public-key for v1a
// endpoints, with the previous key during a rotation's grace period.
func (s *Server) getPublicKey(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	if scheme(ep) != "v1a" {
		return errInvalid("signature_scheme", "this endpoint signs with v1 (HMAC, a shared secret): it has no public key; set signature_scheme to v1a for Ed25519")
	}
	pub, err := signing.PublicKeyOf(ep.Secret)
	if err != nil {
		return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "the endpoint's key cannot be read"}
	}
	out := map[string]any{"public_key": pub}
	if prev := previousPublicKey(ep, s.o.Now()); prev != "" {
		out["previous_public_key"], out["previous_expires_at"] = prev, ep.PreviousSecretExpiresAt
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func previousPublicKey(ep *herald.Endpoint, now time.Time) string {
	if ep.PreviousSecret == "" || ep.PreviousSecretExpiresAt == nil || !now.Before(*ep.PreviousSecretExpiresAt) {
		return ""
	}
	pub, _ := signing.PublicKeyOf(ep.PreviousSecret)
	return pub
}

// jwks answers GET /.well-known/herald/jwks/{app}: the public keys of the
// app's v1a endpoints (and previous keys in a grace period), so receivers
// fetch verification keys instead of copying them. No token: public keys
// are public.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		Alg string `json:"alg"`
	}
	keys := []jwk{}
	add := func(kid, pub string) {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pub, signing.PublicKeyPrefix))
		if err == nil {
			keys = append(keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(raw), Kid: kid, Use: "sig", Alg: "EdDSA"})
		}
	}
	now := s.o.Now()
	err := s.eachEndpoint(r, a.ID, func(ep *herald.Endpoint) {
		if scheme(ep) != "v1a" {
			return
		}
		if pub, err := signing.PublicKeyOf(ep.Secret); err == nil {
			add(ep.ID, pub)
		}
		if prev := previousPublicKey(ep, now); prev != "" {
			add(ep.ID+".previous", prev)
		}
	})
	if err != nil {
		return storeError(err, "endpoint")
	}
	w.Header().Set("Cache-Control", "max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
	return nil
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	p, e := listParams(r)
	if e != nil {
		return e
	}
	pg, err := fetchPage(p, func(p store.ListParams) ([]*herald.Endpoint, error) { return s.st.EndpointList(r.Context(), a.ID, p) },
		func(ep *herald.Endpoint) string { return ep.ID })
	if err != nil {
		return storeError(err, "endpoint")
	}
	out := page[endpointView]{Data: make([]endpointView, len(pg.Data)), NextCursor: pg.NextCursor}
	for i, ep := range pg.Data {
		out.Data[i] = s.viewEndpoint(ep, a)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	ep, a, e := s.endpointOfApp(r)
	if e != nil {
		return e
	}
	var in endpointInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if ep.Operational && (in.URL != nil || in.EventTypes != nil || in.Preset != nil) {
		return errInvalid("url", "this is the app's operational endpoint: change the app's operational_webhook_url instead")
	}
	// An endpoint Herald disabled keeps its disabled_reason when it is
	// enabled again, until it succeeds (herald.endpoint.recovered).
	if e := in.applyTo(ep, a); e != nil {
		return e
	}
	if e := s.checkDestination("url", ep.URL); e != nil {
		return e
	}
	if e := s.checkLimit(r, a, ep, s.appEndpoints(r, a.ID)); e != nil {
		return e
	}
	ep.UpdatedAt = s.o.Now().UTC()
	if err := s.st.EndpointUpdate(r.Context(), ep); err != nil {
		return storeError(err, "endpoint")
	}
	s.eng.EndpointChanged(ep)
	s.audit(r, a.ID, "endpoint.update", ep.ID, in)
	writeJSON(w, http.StatusOK, s.viewEndpoint(ep, a))
	return nil
}

func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	now := s.o.Now().UTC()
	if err := s.st.EndpointDelete(r.Context(), ep.AppID, ep.ID, now); err != nil {
		return storeError(err, "endpoint")
	}
	// Deliveries queued in memory are dropped like those of a disabled
	// endpoint; the store has already marked them failed.
	gone := *ep
	gone.Enabled = false
	gone.UpdatedAt = now
	s.eng.EndpointChanged(&gone)
	s.audit(r, ep.AppID, "endpoint.delete", ep.ID, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
