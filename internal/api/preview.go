package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/preset"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/signing"
	"github.com/heraldhq/herald/internal/transform"
)

// previewInput is the body of both preview routes; Endpoint only for the
// route that previews unsaved settings.
type previewInput struct {
	Endpoint  *endpointInput  `json:"endpoint"`
	EventType *string         `json:"event_type"`
	Payload   json.RawMessage `json:"payload"`
	// RevealSecrets shows custom header values in clear, for those who
	// may read the endpoint's signing secret (not read-only callers):
	// the exact request, to replay it by hand.
	RevealSecrets *bool `json:"reveal_secrets"`
}

// previewView is the request Herald would send.
type previewView struct {
	previewRequest
	EventType string         `json:"event_type"`
	Payload   herald.RawJSON `json:"payload"`
	// Cancelled is set when the endpoint's transformation cancels this
	// event's delivery: nothing would be sent, and the request is empty.
	Cancelled bool `json:"cancelled,omitempty"`
	// Batch is, for a batching endpoint, the request a batch holding
	// this event would make: its body as the receiver gets it.
	Batch *previewRequest `json:"batch,omitempty"`
}

// previewRequest is a request as a preview shows it.
type previewRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// batchPreviewer builds batched requests for previews.
type batchPreviewer interface {
	PreviewBatch(ctx context.Context, ds []*outbound.Delivery) (*outbound.Request, error)
}

// previewNew previews unsaved endpoint settings: POST .../endpoints/preview.
func (s *Server) previewNew(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	var in previewInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Endpoint == nil {
		return errRequired("endpoint")
	}
	ep := &herald.Endpoint{AppID: a.ID, Enabled: true, EventTypes: []string{}}
	if e := s.resolveTemplate(r, a, ep, in.Endpoint); e != nil {
		e.Field = "endpoint." + e.Field
		return e
	}
	if e := in.Endpoint.applyTo(ep, a, s.o.Ceilings, s.brokerKind); e != nil {
		e.Field = "endpoint." + e.Field
		return e
	}
	if ep.Secret == "" {
		// A throw-away secret: the preview shows where the signature
		// goes, the saved endpoint signs with its own.
		ep.Secret, _ = signing.GenerateSecret()
	}
	return s.preview(w, r, ep, in)
}

// previewSaved previews a saved endpoint: POST .../endpoints/{id}/preview.
func (s *Server) previewSaved(w http.ResponseWriter, r *http.Request) *Error {
	ep, e := s.endpoint(r)
	if e != nil {
		return e
	}
	var in previewInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Endpoint != nil {
		return &Error{Status: http.StatusBadRequest, Code: CodeUnknownField, Field: "endpoint",
			Message: "a saved endpoint is previewed with its own settings; use POST /v1/apps/{app}/endpoints/preview for unsaved ones"}
	}
	if in.EventType == nil && len(ep.EventTypes) > 0 {
		in.EventType = &ep.EventTypes[0]
	}
	return s.preview(w, r, ep, in)
}

func (s *Server) preview(w http.ResponseWriter, r *http.Request, ep *herald.Endpoint, in previewInput) *Error {
	if in.EventType == nil {
		return errRequired("event_type")
	}
	reveal := in.RevealSecrets != nil && *in.RevealSecrets
	if reveal {
		if e := secretsRefused(r, "see secret header values (reveal_secrets)"); e != nil {
			return e
		}
	}
	if reveal && principalOf(r).readOnly {
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: "reveal_secrets",
			Message: "a read-only key or session cannot see secret header values"}
	}
	payload, e := s.payloadOrSample(r, *in.EventType, in.Payload)
	if e != nil {
		return e
	}
	a, e := s.app(r)
	if e != nil {
		return e
	}
	v, e := s.renderRequest(r, a, ep, *in.EventType, payload, reveal)
	if e != nil {
		return e
	}
	if bp, ok := s.out.(batchPreviewer); ok && !v.Cancelled && preset.Batching(ep) != nil {
		ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), AppID: ep.AppID, EventType: *in.EventType, Payload: payload, CreatedAt: s.o.Now()}
		req, err := bp.PreviewBatch(r.Context(), []*outbound.Delivery{{ID: outbound.PreviewWebhookID, Event: ev, Endpoint: ep, App: a}})
		if err != nil {
			return renderFailed(err, "batch")
		}
		b := s.previewOf(r, ep, req, reveal)
		v.Batch = &b
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// renderPreview is the request an endpoint would send for an event of a
// type with its sample payload, credentials masked.
func (s *Server) renderPreview(r *http.Request, a *herald.App, ep *herald.Endpoint, eventType string) (*previewView, *Error) {
	payload, e := s.payloadOrSample(r, eventType, nil)
	if e != nil {
		return nil, e
	}
	return s.renderRequest(r, a, ep, eventType, payload, false)
}

// renderRequest renders the request an endpoint would send for an event;
// a read-only caller gets no usable signature, and custom header values
// are masked unless reveal.
func (s *Server) renderRequest(r *http.Request, a *herald.App, ep *herald.Endpoint, eventType string, payload herald.RawJSON, reveal bool) (*previewView, *Error) {
	ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), AppID: ep.AppID, EventType: eventType, Payload: payload, CreatedAt: s.o.Now()}
	req, err := s.out.Preview(r.Context(), &outbound.Delivery{ID: outbound.PreviewWebhookID, Event: ev, Endpoint: ep, App: a})
	if errors.Is(err, outbound.ErrCancelled) {
		return &previewView{previewRequest: previewRequest{Headers: map[string]string{}}, EventType: ev.EventType, Payload: ev.Payload, Cancelled: true}, nil
	}
	if err != nil {
		return nil, renderFailed(err, "")
	}
	return &previewView{previewRequest: s.previewOf(r, ep, req, reveal), EventType: ev.EventType, Payload: ev.Payload}, nil
}

// previewOf is req as a preview shows it (see previewHeaders).
func (s *Server) previewOf(r *http.Request, ep *herald.Endpoint, req *outbound.Request, reveal bool) previewRequest {
	return previewRequest{Method: req.Method, URL: req.URL, Headers: previewHeaders(r, ep, req.Header, reveal), Body: string(req.Body)}
}

// renderFailed answers a request a preview could not build; field, when
// set, is the default field named (a batch's).
func renderFailed(err error, field string) *Error {
	if e := transformFailed(err, ""); e != nil {
		return e
	}
	if e := renderTooLarge(err, ""); e != nil {
		return e
	}
	var re *shape.RenderError
	if errors.As(err, &re) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeRenderFailed, Field: re.Field, Message: re.Error()}
	}
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeRenderFailed, Field: field, Message: err.Error()}
}

// previewHeaders are a previewed request's headers: a read-only caller
// gets no usable signature, and custom header values are masked unless
// reveal.
func previewHeaders(r *http.Request, ep *herald.Endpoint, header http.Header, reveal bool) map[string]string {
	h := make(map[string]string, len(header))
	for k, v := range header {
		h[k] = v[0]
	}
	for name, sig := range h {
		// A broker's message has lower-case header names.
		if noSecrets(r) && (strings.EqualFold(name, "Webhook-Signature") || strings.EqualFold(name, "Svix-Signature")) {
			h[name] = unsigned(sig)
		}
	}
	if !reveal {
		h = herald.MaskRequestHeaders(h, ep.PlainHeaders)
	}
	return h
}

// renderTooLarge answers a rendering stopped at --max-rendered-size
// (render_too_large, naming the field that passed it), and nil for any
// other outcome. context, when set, says what was rendered.
func renderTooLarge(err error, context string) *Error {
	var (
		tl *shape.TooLargeError
		re *shape.RenderError
	)
	if !errors.As(err, &tl) || !errors.As(err, &re) {
		return nil
	}
	msg := re.Error()
	if context != "" {
		msg = context + ": " + msg
	}
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeRenderTooLarge, Field: re.Field, Message: msg}
}

// transformFailed answers a request the endpoint's transformation failed
// to make (transform_failed, naming the field), and nil for any other
// outcome. context, when set, says what it ran on.
func transformFailed(err error, context string) *Error {
	var te *transform.Error
	if !errors.As(err, &te) {
		return nil
	}
	msg := te.Error()
	if context != "" {
		msg = context + ": " + msg
	}
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeTransformFailed, Field: "transformation", Message: msg}
}

// maxTrialRenders bounds the event types whose catalog sample a save
// renders. The check is an early warning (the cap holds at delivery
// whatever it finds), so one save costs at most this many renderings.
const maxTrialRenders = 10

// checkRenderSize renders the endpoint, about to be saved, for the catalog
// sample of each event type it names exactly (the first maxTrialRenders
// names), and refuses settings whose request would pass
// --max-rendered-size for one of them: the customer learns it now rather
// than from failed deliveries. Other rendering failures are left to the
// preview and the delivery, since a sample need not hold every field. The
// endpoint's transformation runs on the first sample only (each run may
// take the whole CPU limit), and one that throws or hits a limit is
// refused.
func (s *Server) checkRenderSize(r *http.Request, ep *herald.Endpoint, a *herald.App) *Error {
	n := 0
	trial := ep
	for _, name := range ep.EventTypes {
		if strings.HasPrefix(name, "group:") || strings.HasSuffix(name, "*") {
			continue
		}
		if n++; n > maxTrialRenders {
			break
		}
		et, err := s.st.EventTypeGet(r.Context(), name)
		if err != nil || len(et.Sample) == 0 {
			continue
		}
		ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), AppID: a.ID, EventType: name, Payload: et.Sample, CreatedAt: s.o.Now()}
		_, err = s.out.Preview(r.Context(), &outbound.Delivery{ID: outbound.PreviewWebhookID, Event: ev, Endpoint: trial, App: a})
		if e := transformFailed(err, "with the sample of event type "+name); e != nil {
			return e
		}
		if e := renderTooLarge(err, "with the sample of event type "+name); e != nil {
			return e
		}
		if trial.Transformation != "" {
			c := *trial
			c.Transformation = ""
			trial = &c
		}
	}
	return nil
}

// rendersDifferently reports whether an endpoint's change can change the
// size of its requests: its URL, its request shape or the event types
// whose samples it is checked with.
func rendersDifferently(was, is *herald.Endpoint) bool {
	return was.URL != is.URL || !reflect.DeepEqual(was.Destination, is.Destination) || !slices.Equal(was.EventTypes, is.EventTypes) || !reflect.DeepEqual(was.RequestShape, is.RequestShape)
}

// unsigned stands for the signature of a read-only caller's preview: a
// preview signs whatever body the caller supplies with the endpoint's
// secret, so a real signature would let one who may not read the secret
// forge webhooks all the same. The scheme stays, to show the header's form.
func unsigned(sig string) string {
	scheme, _, _ := strings.Cut(sig, ",")
	return scheme + ",<signature: not shown to read-only callers>"
}
