package api

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/shape"
)

// endpointInput is the body of an endpoint's create or update: a field
// left out (nil, or not set) keeps the endpoint's value.
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
	// names maps endpoint fields to the names the input's own format
	// gives them, so that a refusal names what the client sent.
	names map[string]string
}

// readEndpointInput decodes an endpoint, or a definition in another
// product's format named by its "format" field: only KARTE's so far
// (karte.go).
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
	return k.endpointInput(), nil
}

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
	return in.renamed(compileEndpoint(ep, app))
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
