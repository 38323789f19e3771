package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/preset"
	"github.com/heraldhq/herald/internal/sender"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/signing"
)

// BatchOutcome is what one batched request did: the receiver's one
// answer is every delivery's in it.
type BatchOutcome struct {
	Outcome
	// BatchID is the request's webhook-id (herald.PrefixBatch); empty
	// when nothing could be built.
	BatchID string
	// Requests are, in the order of the deliveries given, what each
	// delivery's attempt records as its request: the batch's method, URL
	// and headers with that delivery's own element as the body. Storing
	// the whole body once per delivery would multiply a batch's size by
	// its length. Nil when nothing could be built.
	Requests []herald.AttemptRequest
	// Own holds, by the index of the deliveries given, the outcome of a
	// delivery left out of the batch because its own element could not
	// be made (its payload expired, its template or the endpoint's
	// transformation failed on its event): it fails alone, the others
	// go. One the transformation cancelled is left out the same way,
	// its outcome Cancelled. Nil when none was left out.
	Own map[int]Outcome
	// Each holds, by the index of the deliveries given, the outcome of a
	// delivery the receiver answered for one by one (Marketo's result
	// per lead), in place of the shared one: the same request and
	// answer, its own status and error. Nil when the answer is
	// everyone's.
	Each map[int]Outcome
}

// ErrEmptyBatch refuses a batch without deliveries.
var ErrEmptyBatch = errors.New("a batch holds at least one delivery")

// SendBatch makes one attempt of deliveries of one batching endpoint
// (the first delivery's) in one request: a JSON array of one element per
// delivery, in the order given, or the endpoint's batch body template
// rendered around it, signed once with a new batch id as its webhook-id.
// An element is {"id", "type", "timestamp", "data"}, data being the
// event's payload when the endpoint sends the standard body, else the
// JSON body its template, preset or payload format makes for that event;
// with batch element "body" it is that body alone. An endpoint's
// transformation runs on each delivery's own request as when it is sent
// alone: its payload is the element's data (or the element), and the
// first delivery it did not cancel gives the batch its method, URL and
// headers. The caller bounds the number and size of the deliveries; the
// request as a whole is still held to the rendered size cap.
func (h *HTTP) SendBatch(ctx context.Context, ds []*Delivery) BatchOutcome {
	if len(ds) == 0 {
		return BatchOutcome{Outcome: Outcome{Kind: herald.ErrorKindPolicy, Error: ErrEmptyBatch.Error()}}
	}
	now := h.now()
	id := herald.NewID(herald.PrefixBatch)
	req, elems, own, err := h.build.batch(ctx, ds, id, now)
	if err != nil && ctx.Err() != nil {
		// Shutdown, or the caller went away, while a transformation
		// ran: the attempt never happened.
		return BatchOutcome{Outcome: Outcome{Aborted: true}}
	}
	if err != nil {
		return BatchOutcome{Outcome: Outcome{Kind: BuildErrorKind(err), Error: err.Error()}}
	}
	var owns map[int]Outcome
	for i, err := range own {
		if err != nil {
			if owns == nil {
				owns = map[int]Outcome{}
			}
			if errors.Is(err, ErrCancelled) {
				owns[i] = Outcome{Cancelled: true, Error: err.Error()}
			} else {
				owns[i] = Outcome{Kind: BuildErrorKind(err), Error: err.Error()}
			}
		}
	}
	if req == nil {
		// Every delivery was left out: nothing was sent.
		return BatchOutcome{Outcome: Outcome{Kind: herald.ErrorKindPolicy, Error: "no delivery of the batch could be built"}, Own: owns}
	}
	sent := 0
	for _, el := range elems {
		if el != nil {
			sent++
		}
	}
	o, results := h.exchange(ctx, ds[0].Endpoint, ds[0].App, id, req, sent)
	if o.Aborted {
		return BatchOutcome{Outcome: o}
	}
	out := BatchOutcome{Outcome: o, BatchID: id, Requests: make([]herald.AttemptRequest, len(ds)), Own: owns}
	if o.Kind == herald.ErrorKindNone && len(results) == sent {
		out.Each = make(map[int]Outcome, sent)
	}
	k := 0
	for i, el := range elems {
		if el == nil {
			continue
		}
		r := o.Request
		r.Body = string(el)
		out.Requests[i] = r
		if out.Each != nil {
			out.Each[i] = elementOutcome(o, results[k])
		}
		k++
	}
	out.Request.Body = ""
	return out
}

// elementOutcome is one delivery's outcome of a batch whose answer said
// how each element fared: a final refusal fails it as a 400 would, a
// retryable one retries it as a 503 would, as for a request of its own.
func elementOutcome(o Outcome, r preset.Result) Outcome {
	switch r.Verdict {
	case preset.Final:
		o.Kind, o.Status, o.Error = herald.ErrorKindHTTPStatus, http.StatusBadRequest, r.Msg
	case preset.Retry, preset.TokenRejected:
		o.Kind, o.Status, o.Error = herald.ErrorKindHTTPStatus, http.StatusServiceUnavailable, r.Msg
	}
	return o
}

// batch builds the signed request of a batch and returns it with each
// delivery's element of its body (by index). A delivery whose own element
// cannot be made, or that the endpoint's transformation cancels
// (ErrCancelled), is left out, with its error in own at its index; req is
// nil when every one was. err fails the whole batch; it is ctx's error
// when ctx ended while a script ran.
func (b *builder) batch(ctx context.Context, ds []*Delivery, id string, now time.Time) (req *sender.Request, elems [][]byte, own []error, err error) {
	ep, app := ds[0].Endpoint, ds[0].App
	transformed := ep.Transformation != ""
	limit := b.maxSize
	if limit <= 0 {
		limit = int(^uint(0) >> 1)
	}
	var first *shape.Request
	var shaped *shape.Compiled
	body := make([]byte, 0, 512)
	body = append(body, '[')
	elems = make([][]byte, len(ds))
	own = make([]error, len(ds))
	n := 0
	for i, d := range ds {
		if d.Endpoint.ID != ep.ID {
			return nil, nil, nil, fmt.Errorf("delivery %s is not of endpoint %s: a batch is one endpoint's", d.ID, ep.ID)
		}
		if d.Event.PayloadGone(now) {
			own[i] = ErrPayloadExpired
			continue
		}
		c, err := b.compiled(ctx, ep, app, d.Event.EventType)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("endpoint settings: %w", err)
		}
		if !c.JSONBody() {
			return nil, nil, nil, errors.New("a batch is sent as a JSON body: the endpoint's method or content type has none")
		}
		if shaped == nil {
			// The batch's own shape is the endpoint's, the same for
			// every event type.
			shaped = c
		}
		if len(ep.EventTypeVersions) > 0 {
			// Each element is its event as the endpoint's version has
			// it, as when sent alone.
			ev, err := b.pinned(ctx, ep, d.Event)
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, nil, ctx.Err()
				}
				own[i] = err
				continue
			}
			if ev != d.Event {
				c := *d
				c.Event = ev
				d = &c
			}
		}
		bodyElement := c.BatchElement() == herald.BatchElementBody
		in := shape.Event{Event: d.Event, App: app, Endpoint: ep, DeliveryID: d.ID}
		var data []byte
		if first == nil || transformed || !c.OwnElement() && (!c.StandardBody() || bodyElement) {
			// The first build gives the batch its method, URL and
			// headers; the others only their element. A transformation
			// runs on each delivery's own request, as when sent alone.
			r, err := c.Build(in)
			if err == nil && transformed {
				err = b.transformRequest(ctx, d, r)
			}
			if err != nil {
				if transformed && ctx.Err() != nil {
					// Shutdown while the script ran: the batch was
					// never attempted.
					return nil, nil, nil, ctx.Err()
				}
				// A cancel, a throw or a build failure takes this
				// delivery out; the rest go.
				own[i] = err
				continue
			}
			if first == nil {
				first = r
			}
			data = r.Body
		}
		switch {
		case transformed:
			// The returned payload is the element's data (or, with
			// element body, the element), in place of what the
			// settings made.
		case c.OwnElement():
			if data, err = c.Element(in); err != nil {
				own[i] = err
				continue
			}
		case c.StandardBody() && !bodyElement:
			data = d.Event.Payload
		}
		if len(data) == 0 {
			data = []byte("null")
		}
		if !json.Valid(data) {
			own[i] = &shape.RenderError{Field: "body", Err: fmt.Errorf("the body made for delivery %s is not JSON, which a batch element must be", d.ID)}
			continue
		}
		el := data
		if !bodyElement {
			el = make([]byte, 0, len(data)+len(d.ID)+len(d.Event.EventType)+64)
			el = append(el, `{"id":`...)
			el = strconv.AppendQuote(el, d.ID)
			el = append(el, `,"type":`...)
			el = strconv.AppendQuote(el, d.Event.EventType)
			el = append(el, `,"timestamp":"`...)
			el = d.Event.CreatedAt.UTC().AppendFormat(el, shape.TimestampFormat)
			el = append(el, `","data":`...)
			el = append(el, data...)
			el = append(el, '}')
		}
		if len(body)+len(el)+2 > limit {
			return nil, nil, nil, &shape.TooLargeError{Max: b.maxSize}
		}
		if n > 0 {
			body = append(body, ',')
		}
		body = append(body, el...)
		elems[i] = el
		n++
	}
	if n == 0 {
		return nil, nil, own, nil
	}
	body = append(body, ']')
	if shaped != nil {
		if body, err = shaped.BatchBody(shape.Batch{ID: id, Size: n, Elements: body, App: app, Endpoint: ep}); err != nil {
			return nil, nil, nil, err
		}
	}
	s, err := b.signer(ep.Secret)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("endpoint secret: %w", err)
	}
	sig := s.Sign(id, now, body)
	if ep.PreviousSecret != "" && ep.PreviousSecretExpiresAt != nil && now.Before(*ep.PreviousSecretExpiresAt) {
		if old, err := b.signer(ep.PreviousSecret); err == nil {
			sig += " " + old.Sign(id, now, body)
		}
	}
	h := first.Header
	h.Set("Content-Type", herald.ContentJSON)
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", b.userAgent)
	}
	if herald.EffectiveWebhookHeaders(ep, app) == herald.WebhookHeadersSvix {
		signing.SvixHeaders(h, id, now, sig)
	} else {
		signing.Headers(h, id, now, sig)
	}
	req = &sender.Request{Method: first.Method, URL: first.URL, Header: h, Body: body, Timeout: b.timeout(ep, app)}
	if ep.TLSCABundle != "" || ep.TLSClientCert != "" {
		cfg, key, err := b.tlsConfig(ep)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("endpoint TLS settings: %w", err)
		}
		req.TLS, req.TLSKey = cfg, key
	}
	return req, elems, own, nil
}
