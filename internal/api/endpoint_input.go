package api

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/netpolicy"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/preset"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/template"
	"github.com/heraldhq/herald/internal/transform"
)

// endpointInput is the body of an endpoint's create or update: a field
// left out (nil, or not set) keeps the endpoint's value.
// maxOrderingKeyTemplate bounds an endpoint's ordering_key_template.
const maxOrderingKeyTemplate = 1024

type endpointInput struct {
	Kind            *string            `json:"kind"`
	URL             *string            `json:"url"`
	Description     *string            `json:"description"`
	EventTypes      *[]string          `json:"event_types"`
	Enabled         *bool              `json:"enabled"`
	Secret          *string            `json:"secret"`
	TimeoutMS       *int               `json:"timeout_ms"`
	Method          *string            `json:"method"`
	ContentType     *string            `json:"content_type"`
	Headers         *map[string]string `json:"headers"`
	PlainHeaders    *[]string          `json:"plain_headers"`
	BodyTemplate    optionalJSON       `json:"body_template"`
	TemplateStrict  *bool              `json:"template_strict"`
	Auth            optionalJSON       `json:"auth"`
	TemplateSyntax  *string            `json:"template_syntax"`
	PayloadFormat   *string            `json:"payload_format"`
	FlatEventKey    *string            `json:"flat_event_key"`
	Preset          *string            `json:"preset"`
	PresetOptions   *optionsInput      `json:"preset_options"`
	Filter          *string            `json:"filter"`
	Stage           *string            `json:"stage"`
	TestFilter      *string            `json:"test_filter"`
	RetrySchedule   *string            `json:"retry_schedule"`
	SuccessStatuses *[]any             `json:"success_statuses"`
	MaxInFlight     *int               `json:"max_in_flight"`
	RateLimit       *float64           `json:"rate_limit"`
	// OrderingKeyTemplate derives a delivery's ordering key when its
	// event has none; OrderingOnFailure is "unblock" or "pause".
	OrderingKeyTemplate *string `json:"ordering_key_template"`
	OrderingOnFailure   *string `json:"ordering_on_failure"`
	// Batch groups due deliveries into one request; null removes it.
	Batch           optionalJSON `json:"batch"`
	SampleRate      optionalJSON `json:"sample_rate"`
	SignatureScheme *string      `json:"signature_scheme"`
	TLSCABundle     *string      `json:"tls_ca_bundle"`
	TLSClientCert   *string      `json:"tls_client_cert"`
	TLSClientKey    *string      `json:"tls_client_key"`
	// UID is the customer's id of the endpoint; null or "" clears it.
	UID            optionalJSON       `json:"uid"`
	Metadata       *map[string]string `json:"metadata"`
	Channels       *[]string          `json:"channels"`
	WebhookHeaders *string            `json:"webhook_headers"`
	// Destination is a broker endpoint's destination, replaced whole;
	// credentials sent as the API shows them ("********") keep the
	// stored ones.
	Destination optionalJSON `json:"destination"`
	// EndpointTemplateID references an endpoint template of the app;
	// null detaches it (the endpoint keeps the values in force).
	EndpointTemplateID optionalJSON `json:"endpoint_template_id"`
	// templateID is the reference read from EndpointTemplateID (nil when
	// not given) and template the template in force, both set by
	// resolveTemplate before applyTo.
	templateID     *string
	template       *herald.EndpointTemplate
	Transformation *string `json:"transformation"`
	// EventTypeVersions pins event types' versions; null or {} unpins.
	EventTypeVersions *map[string]string `json:"event_type_versions"`
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
	return readKarteInput(w, r, limit)
}

// applyTo validates and copies the given fields onto ep, an endpoint of
// app, whose settings (the tag syntax) the templates are checked with;
// its delivery overrides must be within the ceilings c. kinds finds the
// broker kinds this build has (nil for none).
func (in *endpointInput) applyTo(ep *herald.Endpoint, app *herald.App, c herald.TenantCeilings, kinds func(string) outbound.Kind) *Error {
	if kinds == nil {
		kinds = func(string) outbound.Kind { return nil }
	}
	if in.Kind != nil {
		k := *in.Kind
		if k == "http" {
			// The name the destination kinds use for a push endpoint.
			k = herald.EndpointPush
		}
		switch {
		case k != herald.EndpointPush && k != herald.EndpointPull && !herald.IsBrokerKind(k):
			return errInvalid("kind", "kind must be push (or http: Herald sends to url), pull (a client pulls the deliveries) or one of %s", strings.Join(herald.BrokerKinds, ", "))
		case ep.Kind != "" && k != ep.Kind:
			// Deliveries queued for sending, or out with a pull client,
			// would be left between the two.
			return errInvalid("kind", "kind cannot change (this endpoint is %s); create another endpoint", ep.Kind)
		case herald.IsBrokerKind(k) && kinds(k) == nil:
			return errInvalid("kind", "kind %s is not available in this build", k)
		}
		ep.Kind = k
	}
	if ep.Kind == "" {
		ep.Kind = herald.EndpointPush
	}
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
	if in.UID.set {
		uid := ""
		if in.UID.raw != nil {
			if err := json.Unmarshal(in.UID.raw, &uid); err != nil {
				return errInvalid("uid", "uid must be a string (or null to clear it)")
			}
		}
		if e := validateEndpointUID(uid); e != nil {
			return e
		}
		ep.UID = uid
	}
	if in.Metadata != nil {
		if e := validateMetadata(*in.Metadata); e != nil {
			return e
		}
		ep.Metadata = *in.Metadata
	}
	if in.Channels != nil {
		chs, e := cleanChannels("channels", *in.Channels)
		if e != nil {
			return e
		}
		ep.Channels = chs
	}
	if in.WebhookHeaders != nil {
		if e := validateWebhookHeaders(*in.WebhookHeaders); e != nil {
			return e
		}
		ep.WebhookHeaders = *in.WebhookHeaders
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
	if in.Method != nil {
		ep.Method = strings.ToUpper(*in.Method)
	}
	if in.ContentType != nil {
		ep.ContentType = *in.ContentType
	}
	if in.Headers != nil {
		ep.Headers = keepMasked(*in.Headers, ep.Headers, func(name string) bool { return !herald.PlainHeader(name, ep.PlainHeaders) })
	}
	if in.PlainHeaders != nil {
		ep.PlainHeaders = *in.PlainHeaders
	}
	if in.BodyTemplate.set {
		ep.BodyTemplate = compactJSON(in.BodyTemplate.raw)
	}
	if in.TemplateStrict != nil {
		ep.TemplateStrict = *in.TemplateStrict
	}
	if in.Transformation != nil {
		if strings.TrimSpace(*in.Transformation) != "" {
			// Syntax and size now; whether it runs, on the catalog
			// samples once the whole endpoint is known (trialTransform).
			if _, err := transform.Compile(*in.Transformation); err != nil {
				return errInvalid("transformation", "%s", err.Error())
			}
		}
		ep.Transformation = *in.Transformation
		if strings.TrimSpace(ep.Transformation) == "" {
			ep.Transformation = ""
		}
	}
	if in.EventTypeVersions != nil {
		// Whether the versions exist is checked against the catalog
		// (checkPins).
		if len(*in.EventTypeVersions) > maxPins {
			return errInvalid("event_type_versions", "event_type_versions pins at most %d event types", maxPins)
		}
		ep.EventTypeVersions = nil
		if len(*in.EventTypeVersions) > 0 {
			ep.EventTypeVersions = *in.EventTypeVersions
		}
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
		ep.PresetOptions = keepMasked(*in.PresetOptions, ep.PresetOptions, herald.SecretOption)
	}
	if in.Filter != nil {
		f, e := condition("filter", *in.Filter)
		if e != nil {
			return e
		}
		ep.Filter = f
	}
	if in.TestFilter != nil {
		f, e := condition("test_filter", *in.TestFilter)
		if e != nil {
			return e
		}
		ep.TestFilter = f
	}
	if in.Stage != nil {
		if *in.Stage != herald.StageTest && *in.Stage != herald.StageLive {
			return errInvalid("stage", "stage must be test (only events that meet test_filter) or live (every event)")
		}
		ep.Stage = *in.Stage
	}
	if ep.InTest() && ep.TestFilter == "" {
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeRequired, Field: "test_filter",
			Message: "test_filter is required in stage test: it picks the events the endpoint receives before it goes live"}
	}
	if in.SuccessStatuses != nil {
		list, e := parseSuccessStatuses(*in.SuccessStatuses)
		if e != nil {
			return e
		}
		ep.SuccessStatuses = list
	}
	if e := applyDelivery(c, &ep.RetrySchedule, &ep.TimeoutMS, &ep.MaxInFlight, in.RetrySchedule, in.TimeoutMS, in.MaxInFlight); e != nil {
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
	if in.OrderingKeyTemplate != nil {
		src := strings.TrimSpace(*in.OrderingKeyTemplate)
		if len(src) > maxOrderingKeyTemplate {
			return errInvalid("ordering_key_template", "ordering_key_template is at most %d bytes", maxOrderingKeyTemplate)
		}
		if src != "" {
			if _, err := template.ParseText(src, template.Options{}); err != nil {
				return errInvalid("ordering_key_template", "ordering_key_template: %v", err)
			}
		}
		ep.OrderingKeyTemplate = src
	}
	if in.OrderingOnFailure != nil {
		switch *in.OrderingOnFailure {
		case "", herald.OrderingUnblock:
			ep.OrderingOnFailure = ""
		case herald.OrderingPause:
			ep.OrderingOnFailure = herald.OrderingPause
		default:
			return errInvalid("ordering_on_failure", "ordering_on_failure is unblock (a delivery failed for good lets the next of its key go) or pause (the key waits until it is resent or skipped)")
		}
	}
	if in.Batch.set {
		b, e := parseBatch(in.Batch.raw, c.MaxBatchBytes)
		if e != nil {
			return e
		}
		ep.Batch = b
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
	if in.Destination.set {
		d, e := parseDestination(in.Destination.raw, ep.Destination)
		if e != nil {
			return e
		}
		ep.Destination = d
	}
	in.applyTemplate(ep)
	if e := checkBatch(ep); e != nil {
		return e
	}
	if e := checkPull(ep); e != nil {
		return e
	}
	if e := checkBroker(ep, kinds); e != nil {
		return e
	}
	compiled, e := compileEndpoint(ep, app)
	if e != nil {
		return in.renamed(e)
	}
	if ep.Batch != nil && !compiled.JSONBody() {
		return errInvalid("batch", "a batch is sent as one JSON body: the endpoint's method (%s) or content type (%s) has none", compiled.Effective.Method, compiled.Effective.ContentType)
	}
	return checkPlainHeaders(ep, compiled.Effective.Headers)
}

// condition trims and checks a routing condition (filter, test_filter).
func condition(field, f string) (string, *Error) {
	f = strings.TrimSpace(f)
	if len(f) > maxFilterLen {
		return "", errInvalid(field, "%s is longer than %d characters", field, maxFilterLen)
	}
	if f != "" {
		if _, err := filter.Compile(f); err != nil {
			return "", errInvalid(field, "%s", err.Error())
		}
	}
	return f, nil
}

// applyTemplate records which template fields the input set itself, with
// a value other than the template's (a value sent back as read is not an
// override), and then takes the template's value for every other one.
// Attaching a template starts the overrides afresh; detaching keeps the
// values in force.
func (in *endpointInput) applyTemplate(ep *herald.Endpoint) {
	if in.templateID != nil {
		if *in.templateID != ep.EndpointTemplateID {
			ep.TemplateOverrides = nil
		}
		ep.EndpointTemplateID = *in.templateID
	}
	t := in.template
	if ep.EndpointTemplateID == "" {
		ep.TemplateOverrides = nil
		return
	}
	if t == nil {
		// Not resolved by the caller: the reference and overrides stay.
		return
	}
	set := func(field string, given, differs bool) {
		if !given {
			return
		}
		ep.TemplateOverrides = slices.DeleteFunc(ep.TemplateOverrides, func(o string) bool { return o == field })
		if differs {
			ep.TemplateOverrides = append(ep.TemplateOverrides, field)
		}
	}
	set("url", in.URL != nil, ep.URL != t.URL)
	set("method", in.Method != nil, ep.Method != t.Method)
	set("content_type", in.ContentType != nil, ep.ContentType != t.ContentType)
	set("body_template", in.BodyTemplate.set, string(ep.BodyTemplate) != string(t.BodyTemplate))
	set("payload_format", in.PayloadFormat != nil, ep.PayloadFormat != t.PayloadFormat)
	set("flat_event_key", in.FlatEventKey != nil, ep.FlatEventKey != t.FlatEventKey)
	set("template_syntax", in.TemplateSyntax != nil, ep.TemplateSyntax != t.TemplateSyntax)
	set("template_strict", in.TemplateStrict != nil, ep.TemplateStrict != t.TemplateStrict)
	set("preset", in.Preset != nil, ep.Preset != t.Preset)
	ownKeys := func(prefix string, given bool, cur, tpl map[string]string) {
		if !given {
			return
		}
		ep.TemplateOverrides = slices.DeleteFunc(ep.TemplateOverrides, func(o string) bool { return strings.HasPrefix(o, prefix) })
		for k, v := range cur {
			same := false
			for tk, tv := range tpl {
				same = same || strings.EqualFold(tk, k) && tv == v
			}
			if !same {
				ep.TemplateOverrides = append(ep.TemplateOverrides, prefix+k)
			}
		}
	}
	ownKeys("headers/", in.Headers != nil, ep.Headers, t.Headers)
	ownKeys("preset_options/", in.PresetOptions != nil, ep.PresetOptions, t.PresetOptions)
	slices.Sort(ep.TemplateOverrides)
	herald.ApplyTemplate(ep, t)
}

// parseBatch reads an endpoint's batch settings (null: none) within their
// bounds; maxBytes caps max_bytes (0: no cap known here).
func parseBatch(raw json.RawMessage, maxBytes int) (*herald.BatchSettings, *Error) {
	if raw == nil {
		return nil, nil
	}
	var in struct {
		MaxEvents    *int            `json:"max_events"`
		MaxWaitMS    *int            `json:"max_wait_ms"`
		MaxBytes     *int            `json:"max_bytes"`
		BodyTemplate json.RawMessage `json:"body_template"`
		Element      *string         `json:"element"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, errInvalid("batch", "batch is an object with max_events (2 to %d), max_wait_ms (0 to %d), max_bytes, body_template and element, or null for none: %v",
			herald.MaxBatchEvents, herald.MaxBatchWaitMS, err)
	}
	if in.MaxEvents == nil {
		return nil, errRequired("batch.max_events")
	}
	b := &herald.BatchSettings{MaxEvents: *in.MaxEvents}
	if b.MaxEvents < 2 || b.MaxEvents > herald.MaxBatchEvents {
		return nil, errInvalid("batch.max_events", "batch.max_events is from 2 to %d deliveries per request", herald.MaxBatchEvents)
	}
	if in.MaxWaitMS != nil {
		b.MaxWaitMS = *in.MaxWaitMS
		if b.MaxWaitMS < 0 || b.MaxWaitMS > herald.MaxBatchWaitMS {
			return nil, errInvalid("batch.max_wait_ms", "batch.max_wait_ms is from 0 (send what is waiting at once) to %d milliseconds", herald.MaxBatchWaitMS)
		}
	}
	if in.MaxBytes != nil {
		b.MaxBytes = *in.MaxBytes
		if b.MaxBytes < 0 || maxBytes > 0 && b.MaxBytes > maxBytes {
			return nil, errInvalid("batch.max_bytes", "batch.max_bytes is from 0 (the request size cap alone) to %d bytes, the request size cap", maxBytes)
		}
	}
	if in.Element != nil {
		switch *in.Element {
		case "", herald.BatchElementStandard:
		case herald.BatchElementBody:
			b.Element = herald.BatchElementBody
		default:
			return nil, errInvalid("batch.element", "batch.element is standard (each element {\"id\", \"type\", \"timestamp\", \"data\"}) or body (each element the body the endpoint makes for its event alone)")
		}
	}
	if t := bytes.TrimSpace(in.BodyTemplate); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		// Parsed with the endpoint's template syntax once the whole
		// input applies (compileEndpoint).
		b.BodyTemplate = compactJSON(in.BodyTemplate)
	}
	return b, nil
}

// checkBatch refuses batching where it does not apply: only push
// endpoints batch. With a transformation, each delivery's transformed
// payload is its element (outbound.HTTP.SendBatch).
func checkBatch(ep *herald.Endpoint) *Error {
	if ep.Batch == nil {
		return nil
	}
	switch {
	case ep.IsPull():
		return errInvalid("batch", "a pull endpoint does not batch: its client collects each delivery on its own")
	case ep.IsBroker():
		return errInvalid("batch", "a %s endpoint does not batch: each delivery is one message", ep.Kind)
	}
	if p := preset.Lookup(ep.Preset); p != nil && p.MaxBatchEvents() > 0 && ep.Batch.MaxEvents > p.MaxBatchEvents() {
		return errInvalid("batch.max_events", "batch.max_events is at most %d for preset %s: the most records it takes in one request", p.MaxBatchEvents(), p.Name)
	}
	if ep.Transformation != "" && ep.Batch.MaxEvents > maxTransformedBatch {
		return errInvalid("batch.max_events", "batch.max_events is at most %d on an endpoint with a transformation: its script runs once per delivery of a batch, one after another", maxTransformedBatch)
	}
	return nil
}

// maxTransformedBatch bounds the batches of an endpoint with a
// transformation: their scripts run one after another on one worker, so
// that a batch whose script always runs to the CPU limit holds it at most
// this many times the limit (10 s at the default 100 ms).
const maxTransformedBatch = 100

// checkPull refuses, on a pull endpoint, the settings of a destination
// Herald dials: it never dials a pull endpoint.
func checkPull(ep *herald.Endpoint) *Error {
	if !ep.IsPull() {
		return nil
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"url", ep.URL != ""}, {"preset", ep.Preset != ""}, {"auth", ep.Auth != nil},
		{"tls_ca_bundle", ep.TLSCABundle != ""}, {"tls_client_cert", ep.TLSClientCert != ""},
	} {
		if f.set {
			return errInvalid(f.name, "a pull endpoint has no %s: Herald never dials it, a client pulls its deliveries", f.name)
		}
	}
	return nil
}

// checkBroker checks a broker endpoint's destination with its kind, and
// refuses there the settings of an HTTP request (a URL, a method, a
// preset, endpoint authentication, TLS files): a broker endpoint has its
// address and credentials in its destination. Other endpoints have no
// destination.
func checkBroker(ep *herald.Endpoint, kinds func(string) outbound.Kind) *Error {
	if !ep.IsBroker() {
		if ep.Destination != nil {
			return errInvalid("destination", "a %s endpoint has no destination: it is for the kinds %s", ep.Kind, strings.Join(herald.BrokerKinds, ", "))
		}
		return nil
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"url", ep.URL != ""}, {"method", ep.Method != ""}, {"preset", ep.Preset != ""}, {"preset_options", len(ep.PresetOptions) > 0},
		{"auth", ep.Auth != nil}, {"tls_ca_bundle", ep.TLSCABundle != ""}, {"tls_client_cert", ep.TLSClientCert != ""},
	} {
		if f.set {
			return errInvalid(f.name, "a %s endpoint has no %s: it publishes to its destination (destination.url and the other destination fields hold the address and the credentials)", ep.Kind, f.name)
		}
	}
	if ep.Destination == nil {
		return errRequired("destination")
	}
	k := kinds(ep.Kind)
	if k == nil {
		return errInvalid("kind", "kind %s is not available in this build", ep.Kind)
	}
	if err := k.Check(ep.Destination); err != nil {
		if fe, ok := errors.AsType[*shape.FieldError](err); ok {
			return errInvalid(fe.Field, "%s", fe.Msg)
		}
		return errInvalid("destination", "%s", err.Error())
	}
	return nil
}

// parseDestination reads a broker endpoint's destination strictly (an
// unknown field is refused, naming it). A credential sent as the API
// shows it keeps the stored one.
func parseDestination(raw json.RawMessage, old *herald.Destination) (*herald.Destination, *Error) {
	if raw == nil {
		return nil, nil
	}
	var d herald.Destination
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		const unknown = "json: unknown field "
		if msg := err.Error(); strings.HasPrefix(msg, unknown) {
			name := strings.Trim(strings.TrimPrefix(msg, unknown), `"`)
			m := fmt.Sprintf("unknown field %q in destination", name)
			if known := suggestField(&d, name); known != "" {
				m += fmt.Sprintf("; did you mean %q?", known)
			}
			return nil, errInvalid("destination."+name, "%s", m)
		}
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return nil, errInvalid("destination."+te.Field, "destination.%s must be %s, not %s", te.Field, jsonKind(te.Type.String()), te.Value)
		}
		return nil, errInvalid("destination", "destination must be an object with the fields of the endpoint's kind: %v", err)
	}
	d.KeepMasked(old)
	return &d, nil
}

// keepMasked returns values with every value that is the masked form of
// the stored one (as the API showed it: "********", "Bearer ********")
// replaced by the stored one, so that a client may send back what it
// read and change only what it retyped. masked says which names the API
// masks; names compare case-insensitively, as headers do.
func keepMasked(values, stored map[string]string, masked func(name string) bool) map[string]string {
	out := make(map[string]string, len(values))
	for k, v := range values {
		out[k] = v
		if !strings.Contains(v, herald.Masked) {
			continue
		}
		for sk, sv := range stored {
			if strings.EqualFold(sk, k) && masked(sk) && herald.Mask(sv) == v {
				out[k] = sv
			}
		}
	}
	return out
}

// checkPlainHeaders refuses plain_headers that name anything but one of
// the endpoint's custom headers (headers holds its own and its preset's),
// or a header named like a credential, which is always masked. Names are
// kept once, case-insensitively.
func checkPlainHeaders(ep *herald.Endpoint, headers map[string]string) *Error {
	if len(ep.PlainHeaders) == 0 {
		return nil
	}
	out := make([]string, 0, len(ep.PlainHeaders))
	for _, name := range ep.PlainHeaders {
		if slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, name) }) {
			continue
		}
		if herald.SecretHeader(name) {
			return errInvalid("plain_headers", "plain_headers cannot name %s: a header named like a credential is always masked", name)
		}
		known := false
		for k := range headers {
			known = known || strings.EqualFold(k, name)
		}
		if !known {
			return errInvalid("plain_headers", "plain_headers names %q, which is not one of the endpoint's headers (its own or its preset's)", name)
		}
		out = append(out, name)
	}
	ep.PlainHeaders = out
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

// compileEndpoint checks the endpoint's request shape the way delivery
// will use it, and names the field at fault.
func compileEndpoint(ep *herald.Endpoint, app *herald.App) (*shape.Compiled, *Error) {
	c, err := shape.Compile(ep, shape.Options{TemplateSyntax: app.TemplateSyntax})
	if err != nil {
		var fe *shape.FieldError
		if errors.As(err, &fe) {
			if fe.Field == "url" && ep.URL == "" {
				return nil, errRequired("url")
			}
			return nil, errInvalid(fe.Field, "%s", fe.Msg)
		}
		return nil, errInvalid("", "%s", err.Error())
	}
	return c, nil
}

// checkDestinations refuses, when an endpoint is saved, every URL it will
// dial whose host is an address Herald will not deliver to: its URL, or
// the one its preset builds (Marketo's from munchkin_id or base_url,
// Chatwork's API), and the token URL of its auth or its preset's. Each
// refusal names the field the host came from. The endpoint has passed
// applyTo.
func (s *Server) checkDestinations(ep *herald.Endpoint, app *herald.App) *Error {
	if ep.IsBroker() {
		return s.checkBrokerHosts(ep)
	}
	c, e := compileEndpoint(ep, app)
	if e != nil {
		return e
	}
	p := preset.Lookup(ep.Preset)
	from := "preset"
	if f := p.Request(ep.PresetOptions).URLFrom; f != "" {
		from = "preset_options." + f
	}
	field := "url"
	if ep.URL == "" {
		field = from
	}
	if e := s.checkDestination(field, c.FixedURL(), "app_id", ep.AppID, "endpoint_id", ep.ID); e != nil {
		return e
	}
	switch a := p.Auth(ep.PresetOptions); {
	case ep.Auth != nil:
		return s.checkDestination("auth.token_url", ep.Auth.TokenURL, "app_id", ep.AppID, "endpoint_id", ep.ID)
	case a != nil:
		return s.checkDestination(from, a.TokenURL, "app_id", ep.AppID, "endpoint_id", ep.ID)
	}
	return nil
}

// checkDestination refuses a URL whose literal host is an address Herald
// will not deliver to. A URL with template tags is checked when sent.
// The answer says only the kind of address (netpolicy.BlockedError);
// the operator's log gets the address, with logAttrs saying whose URL it
// was.
func (s *Server) checkDestination(field, rawURL string, logAttrs ...any) *Error {
	if s.o.CheckURL == nil || rawURL == "" || strings.Contains(rawURL, "{{") || strings.Contains(rawURL, "#{") {
		return nil
	}
	if err := s.o.CheckURL(rawURL); err != nil {
		if be, ok := errors.AsType[*netpolicy.BlockedError](err); ok {
			s.log.Warn("destination refused when saved", append(logAttrs, "field", field, "destination", be)...)
		}
		return errInvalid(field, "%s", err.Error())
	}
	return nil
}

// checkBrokerHosts puts every address a broker endpoint's client will dial
// through the destination policy, as checkDestinations does a URL: each
// refusal names the field the address came from.
func (s *Server) checkBrokerHosts(ep *herald.Endpoint) *Error {
	k := s.brokerKind(ep.Kind)
	if k == nil || ep.Destination == nil {
		return nil
	}
	d := ep.Destination
	for _, host := range k.Hosts(d) {
		field := "destination.url"
		switch {
		case slices.ContainsFunc(d.Brokers, func(b string) bool { return b == host || strings.Contains(b, hostOnly(host)) }):
			field = "destination.brokers"
		case d.Endpoint != "" && strings.Contains(d.Endpoint, hostOnly(host)):
			field = "destination.endpoint"
		case d.QueueURL != "" && strings.Contains(d.QueueURL, hostOnly(host)):
			field = "destination.queue_url"
		}
		if e := s.checkDestination(field, "tcp://"+host, "app_id", ep.AppID, "endpoint_id", ep.ID); e != nil {
			return e
		}
	}
	return nil
}

// hostOnly is the host of a host:port address.
func hostOnly(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// brokerKind returns the destination kind of that name this build has.
func (s *Server) brokerKind(name string) outbound.Kind {
	for _, k := range s.o.BrokerKinds {
		if k.Name() == name {
			return k
		}
	}
	return nil
}

// optionsInput is preset_options as sent: option names and string
// values. A value of another type is refused naming the option
// ("preset_options.self_unread"), where a plain map would name only
// preset_options.
type optionsInput map[string]string

func (o *optionsInput) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m := make(optionsInput, len(raw))
	for name, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return &json.UnmarshalTypeError{Value: jsonValueKind(v), Type: reflect.TypeFor[string](), Field: name}
		}
		m[name] = s
	}
	*o = m
	return nil
}

// jsonValueKind names the kind of a JSON value as encoding/json's type
// errors do.
func jsonValueKind(v json.RawMessage) string {
	switch t := bytes.TrimSpace(v); {
	case len(t) == 0:
		return "nothing"
	case t[0] == '{':
		return "object"
	case t[0] == '[':
		return "array"
	case t[0] == '"':
		return "string"
	case t[0] == 't' || t[0] == 'f':
		return "bool"
	case t[0] == 'n':
		return "null"
	}
	return "number"
}
