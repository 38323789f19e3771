// Package shape turns an endpoint's settings (method, content type,
// headers, body template, preset) and an event into the exact HTTP request
// Herald sends. The outbound layer uses it for every attempt and the API
// for validation and previews, so that a preview is what is sent.
package shape

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/preset"
	"github.com/heraldhq/herald/internal/template"
)

// Methods an endpoint may use.
var Methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// TimestampFormat is the format of the default body's "timestamp": RFC 3339
// in UTC with milliseconds.
const TimestampFormat = "2006-01-02T15:04:05.000Z07:00"

// FieldError is a setting that cannot be used, naming the endpoint field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg }

// RenderError is a request that could not be built for one event: a
// strict template met a missing value, or the URL is invalid once filled
// in. Sending again would fail the same way, so it is never retried.
type RenderError struct {
	Field string
	Err   error
}

func (e *RenderError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *RenderError) Unwrap() error { return e.Err }

// TooLargeError is a request whose rendering passed Options.MaxSize; a
// RenderError carries it, naming the part being rendered when it did.
// Rendering stopped there, so the request was never built whole. It
// unwraps to template.ErrTooLarge.
type TooLargeError struct {
	// Max is the cap, in bytes.
	Max int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the rendered request (URL, headers and body) is over %d bytes, the most this installation sends (--max-rendered-size)", e.Max)
}

func (e *TooLargeError) Unwrap() error { return template.ErrTooLarge }

// Request is a request ready to sign and send.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Dest is a broker endpoint's destination, its template fields
	// filled in for the event; nil for other endpoints.
	Dest *herald.Destination
}

// Compiled is an endpoint's request shape, parsed once, rendered per event.
type Compiled struct {
	method      string
	contentType string
	rawURL      string
	url         *template.Text
	headers     []compiledHeader
	// dest is a broker endpoint's destination and its template fields
	// (only those that hold tags).
	dest       *herald.Destination
	destFields []compiledHeader
	body       *template.JSON // nil: the default body
	// plain is the body of a text/plain endpoint whose template is a
	// JSON string: its text is the body, not its JSON.
	plain *template.Text
	// noBody: GET and DELETE send the rendered fields as the query.
	noBody bool
	// format and flatKey shape the body when there is no template.
	format, flatKey string
	// static is set when nothing depends on the event but the default
	// body, so building skips decoding the payload.
	static bool
	// max caps the bytes of a rendered request (math.MaxInt: no cap).
	max int
	// Effective is what the endpoint sends, presets and defaults applied.
	Effective Effective
	// fixedURL is the URL with every tag filled in by a plain value.
	fixedURL string
	// batch is the shape of the endpoint's batched requests.
	batch batchShape
}

// FixedURL is the endpoint's URL (its own, else its preset's) with every
// tag filled in by a plain value: its scheme, host and port as they will
// be dialled whenever no tag sits in them, for checks made when the
// endpoint is saved.
func (c *Compiled) FixedURL() string { return c.fixedURL }

// StandardBody reports whether the endpoint sends the standard default
// body ({"type", "timestamp", "data"}) as JSON: no template, no preset
// body, no other payload format.
func (c *Compiled) StandardBody() bool {
	return c.body == nil && c.plain == nil && c.format == FormatStandard && c.contentType == herald.ContentJSON && !c.noBody
}

// JSONBody reports whether the endpoint's request has a JSON body.
func (c *Compiled) JSONBody() bool { return c.contentType == herald.ContentJSON && !c.noBody }

// DestinationSize is the bytes of a broker endpoint's destination
// templates, for weighing the compiled shape in caches.
func (c *Compiled) DestinationSize() int {
	n := 0
	if c.dest != nil {
		for _, name := range herald.DestinationTemplates {
			n += len(*c.dest.Field(name))
		}
	}
	return n
}

type compiledHeader struct {
	name string
	tmpl *template.Text
}

// Effective shows an endpoint's request settings with its preset and
// Herald's defaults applied.
type Effective struct {
	Method       string            `json:"method"`
	URL          string            `json:"url"`
	ContentType  string            `json:"content_type"`
	Headers      map[string]string `json:"headers"`
	BodyTemplate herald.RawJSON    `json:"body_template"`
	// PayloadFormat shapes the body when BodyTemplate is empty.
	PayloadFormat string `json:"payload_format"`
	// Batch is the batching in force: the endpoint's own, else its
	// preset's (Marketo's 300 leads per request); nil for none.
	Batch *herald.BatchSettings `json:"batch,omitempty"`
}

// ownedHeaders are set by Herald (signature, framing, routing); a customer
// setting them would break signing or the transport.
var ownedHeaders = map[string]string{
	"content-length":    "Herald sets Content-Length from the body",
	"host":              "Herald sets Host from the URL",
	"transfer-encoding": "Herald sets the framing of the body",
	"connection":        "Herald manages connections",
	"keep-alive":        "Herald manages connections",
	"upgrade":           "Herald manages connections",
	"te":                "Herald manages connections",
	"trailer":           "Herald manages the framing of the body",
}

var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// Options adjust compilation.
type Options struct {
	// Titles maps display titles (from the event type's JSON Schema) to
	// payload paths, so {{会社名}} finds "company".
	Titles map[string]string
	// PayloadFormat is the default when the endpoint sets none (the app's,
	// else the installation's); empty means standard.
	PayloadFormat string
	// TemplateSyntax is the app's default tag syntax, braces or hash.
	TemplateSyntax string
	// MaxSize caps the bytes of a rendered request: the URL (with any
	// query fields), the endpoint's header names and values, and the
	// body. Build stops with a TooLargeError as soon as the request
	// passes it. 0: no cap.
	MaxSize int
}

// Payload formats: the body without a template.
const (
	FormatStandard = "standard"
	FormatRaw      = "raw"
	FormatFlat     = "flat"
)

// Compile checks an endpoint's request settings and prepares them for
// rendering. Errors are *FieldError naming the field at fault.
func Compile(ep *herald.Endpoint, o Options) (*Compiled, error) {
	s := &ep.RequestShape
	p := preset.Lookup(s.Preset)
	if p == nil {
		return nil, &FieldError{Field: "preset", Msg: fmt.Sprintf("preset %q is unknown; use one of: %s", s.Preset, strings.Join(preset.Names(), ", "))}
	}
	if err := p.Check(s.PresetOptions); err != nil {
		var oe *preset.OptionError
		if errors.As(err, &oe) {
			return nil, &FieldError{Field: "preset_options." + oe.Option, Msg: oe.Msg}
		}
		return nil, &FieldError{Field: "preset_options", Msg: err.Error()}
	}
	b := p.Request(s.PresetOptions)
	var syntax template.Syntax
	switch first(s.TemplateSyntax, o.TemplateSyntax, "braces") {
	case "braces":
	case "hash":
		syntax = template.Hash
	default:
		return nil, &FieldError{Field: "template_syntax", Msg: fmt.Sprintf("template_syntax %q is not braces ({{path}}) or hash (#{path})", s.TemplateSyntax)}
	}
	topts := template.Options{Titles: o.Titles, Strict: s.TemplateStrict, Syntax: syntax}
	c := &Compiled{max: math.MaxInt}
	if o.MaxSize > 0 {
		c.max = o.MaxSize
	}

	c.method = first(strings.ToUpper(s.Method), b.Method, "POST")
	if !contains(Methods, c.method) {
		return nil, &FieldError{Field: "method", Msg: fmt.Sprintf("method %q is not supported; use one of: %s", s.Method, strings.Join(Methods, ", "))}
	}
	c.contentType = first(s.ContentType, b.ContentType, herald.ContentJSON)
	if c.contentType != herald.ContentJSON && c.contentType != herald.ContentForm && c.contentType != herald.ContentPlain {
		return nil, &FieldError{Field: "content_type", Msg: fmt.Sprintf("content_type %q is not supported; use %s, %s or %s", s.ContentType, herald.ContentJSON, herald.ContentForm, herald.ContentPlain)}
	}
	c.noBody = c.method == "GET" || c.method == "DELETE"
	c.format = first(s.PayloadFormat, o.PayloadFormat, FormatStandard)
	if c.format != FormatStandard && c.format != FormatRaw && c.format != FormatFlat {
		return nil, &FieldError{Field: "payload_format", Msg: fmt.Sprintf("payload_format %q is not one of standard, raw, flat", c.format)}
	}
	c.flatKey = first(s.FlatEventKey, "event")

	c.rawURL = first(ep.URL, b.URL)
	// Herald dials no pull endpoint: its requests have no URL (a GET's
	// fields still make a query string, "?a=1", for the client to use).
	pullNoURL := (ep.IsPull() || ep.IsBroker()) && c.rawURL == ""
	if c.rawURL == "" && !pullNoURL {
		return nil, &FieldError{Field: "url", Msg: "url is required"}
	}
	u, err := template.ParseText(c.rawURL, topts)
	if err != nil {
		return nil, &FieldError{Field: "url", Msg: "url: " + err.Error()}
	}
	c.url = u
	if !pullNoURL {
		// Check the URL's fixed parts now: with every tag replaced by a
		// plain value it must already be valid.
		// (A lenient copy: strict mode would refuse the empty data.)
		lenient, err := template.ParseText(c.rawURL, template.Options{Titles: o.Titles, Syntax: syntax})
		if err != nil {
			return nil, &FieldError{Field: "url", Msg: "url: " + err.Error()}
		}
		fixed, _ := lenient.RenderEscaped(&template.Data{}, func(string) string { return "x" })
		if err := herald.ValidateURL(fixed); err != nil {
			// A tag may stand for the port (http://host:{{port}}/x):
			// checked again with a number; the filled-in port is
			// checked at each send.
			fixed, _ = lenient.RenderEscaped(&template.Data{}, func(string) string { return "1" })
		}
		if err := herald.ValidateURL(fixed); err != nil {
			return nil, &FieldError{Field: "url", Msg: err.Error()}
		}
		c.fixedURL = fixed
	}

	headers := map[string]string{}
	keys := map[string]string{} // lower-case name -> name as written
	for _, src := range []map[string]string{b.Headers, s.Headers} {
		for k, v := range src {
			if prev, ok := keys[strings.ToLower(k)]; ok {
				delete(headers, prev)
			}
			keys[strings.ToLower(k)] = k
			headers[k] = v
		}
	}
	for k, v := range headers {
		field := "headers." + k
		lk := strings.ToLower(k)
		switch {
		case !headerNameRE.MatchString(k):
			return nil, &FieldError{Field: field, Msg: fmt.Sprintf("header name %q is not a valid HTTP header name", k)}
		case strings.HasPrefix(lk, "webhook-"):
			return nil, &FieldError{Field: field, Msg: fmt.Sprintf("header %s is Herald's: webhook-* headers carry the signature", k)}
		case lk == "svix-id" || lk == "svix-timestamp" || lk == "svix-signature":
			return nil, &FieldError{Field: field, Msg: fmt.Sprintf("header %s is Herald's: it carries the signature when webhook_headers is svix", k)}
		case ownedHeaders[lk] != "":
			return nil, &FieldError{Field: field, Msg: fmt.Sprintf("header %s cannot be set: %s", k, ownedHeaders[lk])}
		case strings.ContainsAny(v, "\r\n"):
			return nil, &FieldError{Field: field, Msg: fmt.Sprintf("header %s must not contain line breaks", k)}
		}
		t, err := template.ParseText(v, topts)
		if err != nil {
			return nil, &FieldError{Field: field, Msg: fmt.Sprintf("header %s: %v", k, err)}
		}
		c.headers = append(c.headers, compiledHeader{name: k, tmpl: t})
	}

	body := []byte(s.BodyTemplate)
	if len(body) == 0 && b.Body != "" {
		body = []byte(b.Body)
	}
	if len(body) > 0 {
		t, err := template.ParseJSON(body, topts)
		if err != nil {
			return nil, &FieldError{Field: "body_template", Msg: "body_template: " + err.Error()}
		}
		if (c.noBody || c.contentType == herald.ContentForm) && !t.IsObject() {
			why := "content_type " + herald.ContentForm
			if c.noBody {
				why = "method " + c.method + " (its fields go to the query string)"
			}
			return nil, &FieldError{Field: "body_template", Msg: "body_template must be a JSON object with " + why}
		}
		c.body = t
		var str string
		if c.contentType == herald.ContentPlain && json.Unmarshal(body, &str) == nil {
			if c.plain, err = template.ParseText(str, topts); err != nil {
				return nil, &FieldError{Field: "body_template", Msg: "body_template: " + err.Error()}
			}
		}
	}
	if ep.IsBroker() && ep.Destination != nil {
		c.dest = ep.Destination
		for _, name := range herald.DestinationTemplates {
			v := *ep.Destination.Field(name)
			if v == "" {
				continue
			}
			t, err := template.ParseText(v, topts)
			if err != nil {
				return nil, &FieldError{Field: "destination." + name, Msg: fmt.Sprintf("destination.%s: %v", name, err)}
			}
			if len(t.Paths()) > 0 {
				c.destFields = append(c.destFields, compiledHeader{name: name, tmpl: t})
			}
		}
	}
	if err := c.compileBatch(ep, b, topts); err != nil {
		return nil, err
	}
	c.static = c.body == nil && len(u.Paths()) == 0 && len(c.destFields) == 0
	for _, h := range c.headers {
		if len(h.tmpl.Paths()) > 0 {
			c.static = false
		}
	}
	c.Effective = Effective{Method: c.method, URL: c.rawURL, ContentType: c.contentType, Headers: headers, BodyTemplate: herald.RawJSON(body), PayloadFormat: c.format,
		Batch: preset.Batching(ep)}
	return c, nil
}

// Event is what a request is built from.
type Event struct {
	Event    *herald.Event
	App      *herald.App
	Endpoint *herald.Endpoint
	// DeliveryID is the delivery's id, {{delivery.id}}; empty where
	// there is none yet (a preview shows a placeholder).
	DeliveryID string
}

// Build renders the request for one event. Rendering stops with a
// TooLargeError as soon as the request passes the cap (Options.MaxSize):
// the URL first, then the headers, then the body, each allowed what the
// parts before it left.
func (c *Compiled) Build(in Event) (*Request, error) {
	d := &template.Data{}
	if !c.static {
		var err error
		if d, err = eventData(in); err != nil {
			return nil, err
		}
	}
	r := &Request{Method: c.method, Header: make(http.Header, len(c.headers)+4)}

	used := 0
	if c.dest != nil {
		r.Dest = c.dest.Clone()
		for _, f := range c.destFields {
			field := "destination." + f.name
			v, err := f.tmpl.RenderLimit(d, nil, c.max-used)
			if err != nil {
				return nil, c.renderError(field, err)
			}
			if strings.ContainsAny(v, "\r\n") {
				return nil, &RenderError{Field: field, Err: errors.New("the rendered value contains a line break")}
			}
			used += len(v)
			*r.Dest.Field(f.name) = v
		}
	}

	rawURL := c.rawURL
	if len(c.url.Paths()) > 0 {
		s, err := c.url.RenderLimit(d, escapeComponent, c.max)
		if err != nil {
			return nil, c.renderError("url", err)
		}
		if err := herald.ValidateURL(s); err != nil {
			return nil, &RenderError{Field: "url", Err: fmt.Errorf("after filling in %s the url is not valid: %v", tags(c.url.Paths()), err)}
		}
		rawURL = s
	}
	used += len(rawURL)
	if used > c.max {
		return nil, c.renderError("url", template.ErrTooLarge)
	}
	for _, h := range c.headers {
		field := "headers." + h.name
		used += len(h.name)
		if used > c.max {
			return nil, c.renderError(field, template.ErrTooLarge)
		}
		v, err := h.tmpl.RenderLimit(d, nil, c.max-used)
		if err != nil {
			return nil, c.renderError(field, err)
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, &RenderError{Field: field, Err: errors.New("the rendered value contains a line break")}
		}
		used += len(v)
		r.Header[http.CanonicalHeaderKey(h.name)] = []string{v}
	}

	if c.noBody {
		sep := "?"
		if base, _, _ := strings.Cut(rawURL, "#"); strings.Contains(base, "?") {
			sep = "&"
		}
		q, field, err := c.encodedFields(in.Event, d, c.max-used-len(sep))
		if err != nil {
			return nil, c.renderError(field, err)
		}
		if q != "" {
			// Before the fragment, which is never sent.
			base, fragment, hasFragment := strings.Cut(rawURL, "#")
			rawURL = base + sep + q
			if hasFragment {
				rawURL += "#" + fragment
			}
		}
		r.URL = rawURL
		r.Header.Del("Content-Type")
		return r, nil
	}
	r.URL = rawURL
	room := c.max - used
	var err error
	field := "body_template"
	switch c.contentType {
	case herald.ContentForm:
		var body string
		body, field, err = c.encodedFields(in.Event, d, room)
		r.Body = []byte(body)
		setContentType(r.Header, herald.ContentForm)
	case herald.ContentPlain:
		switch {
		case c.plain != nil:
			var txt string
			txt, err = c.plain.RenderLimit(d, nil, room)
			r.Body = []byte(txt)
		case c.body != nil:
			r.Body, err = c.body.RenderLimit(d, room)
		default:
			field = "payload"
			r.Body, err = c.defaultBody(in.Event, room)
		}
		setContentType(r.Header, herald.ContentPlain+"; charset=utf-8")
	default:
		if c.body == nil {
			field = "payload"
			r.Body, err = c.defaultBody(in.Event, room)
		} else {
			r.Body, err = c.body.RenderLimit(d, room)
		}
		setContentType(r.Header, herald.ContentJSON)
	}
	if err != nil {
		return nil, c.renderError(field, err)
	}
	return r, nil
}

// eventData is what the templates of one event's request may name.
func eventData(in Event) (*template.Data, error) {
	payload, err := template.DecodePayload(in.Event.Payload)
	if err != nil {
		return nil, &RenderError{Field: "payload", Err: err}
	}
	d := &template.Data{
		Payload:    payload,
		RawPayload: in.Event.Payload,
		Event:      template.EventInfo{ID: in.Event.ID, Type: in.Event.EventType, Timestamp: in.Event.CreatedAt},
		Endpoint:   template.EndpointInfo{ID: in.Endpoint.ID},
		Delivery:   template.DeliveryInfo{ID: in.DeliveryID},
	}
	if in.App != nil {
		d.App = template.AppInfo{ID: in.App.ID, UID: in.App.UID, Name: in.App.Name}
	}
	return d, nil
}

// renderError names the field whose rendering failed; passing the cap
// becomes a TooLargeError saying what the cap is.
func (c *Compiled) renderError(field string, err error) error {
	if errors.Is(err, template.ErrTooLarge) {
		err = &TooLargeError{Max: c.max}
	}
	return &RenderError{Field: field, Err: err}
}

// encodedFields renders the body template's top-level fields, or the
// default body's, URL-encoded for a form body or a query string of at
// most limit bytes. field names the setting at fault on failure: the
// template, or the payload that the default fields are made of.
func (c *Compiled) encodedFields(ev *herald.Event, d *template.Data, limit int) (q, field string, err error) {
	var fs []template.Field
	if c.body == nil {
		field, fs = "payload", c.defaultFields(ev)
	} else {
		field = "body_template"
		// Encoding only lengthens the fields: a limit on the fields
		// as rendered stops a template before it is encoded.
		if fs, err = c.body.RenderFieldsLimit(d, max(limit, 0)); err != nil {
			return "", field, err
		}
	}
	q, ok := encodeFields(fs, limit)
	if !ok {
		return "", field, template.ErrTooLarge
	}
	return q, field, nil
}

// defaultFields are the default body's fields, for a form body or a query
// string.
func (c *Compiled) defaultFields(ev *herald.Event) []template.Field {
	data := string(ev.Payload)
	if data == "" {
		data = "null"
	}
	if c.format != FormatStandard {
		if fs, ok := objectFields(ev.Payload); ok {
			if c.format == FormatFlat {
				fs = append([]template.Field{{Key: c.flatKey, Value: ev.EventType}}, fs...)
			}
			return fs
		}
	}
	fs := []template.Field{{Key: "type", Value: ev.EventType}}
	if ev.Version != "" {
		fs = append(fs, template.Field{Key: "version", Value: ev.Version})
	}
	return append(fs,
		template.Field{Key: "timestamp", Value: ev.CreatedAt.UTC().Format(TimestampFormat)},
		template.Field{Key: "data", Value: data})
}

// defaultBody is the body without a template, in the endpoint's format.
// Its length is known before it is built, so a body over limit bytes is
// refused (template.ErrTooLarge) without being copied.
func (c *Compiled) defaultBody(ev *herald.Event, limit int) ([]byte, error) {
	var head []byte
	data, tail := orNull(ev.Payload), "}"
	switch c.format {
	case FormatRaw:
		if len(data) > limit {
			return nil, template.ErrTooLarge
		}
		return data, nil
	case FormatFlat:
		// The key is the customer's text: quoted as JSON, since Go's
		// strconv.Quote writes escapes such as \x7f that JSON has not.
		key, _ := json.Marshal(c.flatKey)
		head = append([]byte(`{`), key...)
		head = append(head, ':')
		head = strconv.AppendQuote(head, ev.EventType)
		p := bytes.TrimSpace(ev.Payload)
		if len(p) < 2 || p[0] != '{' {
			// Not an object: nothing to merge into, so nest it.
			head = append(head, `,"data":`...)
			data = orNull(p)
		} else {
			// The object's members and its closing brace follow the
			// event name.
			data, tail = bytes.TrimSpace(p[1:]), ""
			if len(data) > 0 && data[0] != '}' {
				head = append(head, ',')
			}
		}
	default:
		head = appendEnvelopeHead(nil, ev)
	}
	n := len(head) + len(data) + len(tail)
	if n > limit {
		return nil, template.ErrTooLarge
	}
	b := make([]byte, 0, n)
	return append(append(append(b, head...), data...), tail...), nil
}

// orNull is a payload, or null for an empty one.
func orNull(p []byte) []byte {
	if len(p) == 0 {
		return []byte("null")
	}
	return p
}

// objectFields turns a JSON object's fields into form or query fields:
// strings as they are, other values as JSON text, in document order.
func objectFields(payload []byte) ([]template.Field, bool) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var fs []template.Field
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		v := string(raw)
		var str string
		if json.Unmarshal(raw, &str) == nil {
			v = str
		}
		fs = append(fs, template.Field{Key: k.(string), Value: v})
	}
	return fs, true
}

// encodeFields URL-encodes fields; ok is false when the result would pass
// limit bytes, found before the field that would pass it is added.
func encodeFields(fs []template.Field, limit int) (string, bool) {
	var b strings.Builder
	for i, f := range fs {
		k, v := url.QueryEscape(f.Key), url.QueryEscape(f.Value)
		n := len(k) + 1 + len(v)
		if i > 0 {
			n++
		}
		if b.Len()+n > limit {
			return "", false
		}
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	return b.String(), true
}

// appendEnvelopeHead appends the standard default body up to its data:
// {"type": <event type>, "timestamp": <RFC 3339>, "data":
func appendEnvelopeHead(b []byte, ev *herald.Event) []byte {
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, ev.EventType)
	if ev.Version != "" {
		// The version the payload is in, beside the type it versions;
		// absent for a type's first, unversioned shape.
		b = append(b, `,"version":`...)
		b = strconv.AppendQuote(b, ev.Version)
	}
	b = append(b, `,"timestamp":"`...)
	b = ev.CreatedAt.UTC().AppendFormat(b, TimestampFormat)
	return append(b, `","data":`...)
}

// escapeComponent percent-encodes everything but unreserved characters, so
// a value filled into a URL can never add a path segment, a query
// parameter or a fragment.
func escapeComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func tags(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "{{" + p + "}}"
	}
	return strings.Join(q, ", ")
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// setContentType sets the body's media type unless the endpoint's headers
// carry a Content-Type of their own, which is sent as typed (with its
// parameters: "application/json; charset=UTF-8").
func setContentType(h http.Header, v string) {
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", v)
	}
}
