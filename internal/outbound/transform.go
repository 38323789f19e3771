package outbound

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/shape"
	"github.com/heraldhq/herald/internal/transform"
)

// ErrCancelled is a delivery the endpoint's transformation cancelled:
// nothing is sent, and the delivery ends cancelled.
var ErrCancelled = errors.New("cancelled by the endpoint's transformation: nothing sent")

// maxTransformHeaders bounds the headers a transformation may return.
const maxTransformHeaders = 100

// transformRequest runs the endpoint's transformation on the request the
// endpoint's settings made, and puts what it returned in its place. The
// signature is computed afterwards, over the body as sent; Herald's own
// headers (webhook-*, svix-*, Content-Length) are not the script's to set.
func (b *builder) transformRequest(ctx context.Context, d *Delivery, r *shape.Request) error {
	ep := d.Endpoint
	key := ""
	if ep.ID != "" {
		key = transform.Key(ep.ID, ep.UpdatedAt, ep.Transformation)
	}
	out, err := b.tf.Run(ctx, key, ep.Transformation, transform.Input{
		Method: r.Method, URL: r.URL, Headers: flatten(r.Header), Payload: d.Event.Payload, EventType: d.Event.EventType,
	})
	if err != nil {
		return err
	}
	if out.Cancel {
		return ErrCancelled
	}
	method := strings.ToUpper(out.Method)
	if !slices.Contains(shape.Methods, method) {
		return &transform.Error{Msg: fmt.Sprintf("handler returned method %q: must be one of %s", out.Method, strings.Join(shape.Methods, ", "))}
	}
	if err := herald.ValidateURL(out.URL); err != nil {
		return &transform.Error{Msg: fmt.Sprintf("handler returned url %q: %v", out.URL, err)}
	}
	if len(out.Headers) > maxTransformHeaders {
		return &transform.Error{Msg: fmt.Sprintf("handler returned %d headers, more than %d", len(out.Headers), maxTransformHeaders)}
	}
	h := make(http.Header, len(out.Headers)+4)
	size := len(out.URL) + len(out.Payload)
	for k, v := range out.Headers {
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return &transform.Error{Msg: fmt.Sprintf("handler returned header %q: not a valid header name or value", k)}
		}
		if reservedHeader(k) {
			continue
		}
		size += len(k) + len(v)
		h.Set(k, v)
	}
	if b.maxSize > 0 && size > b.maxSize {
		return &transform.Error{Msg: fmt.Sprintf("handler returned a request of %d bytes, more than the %d this installation allows (--max-rendered-size)", size, b.maxSize)}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", herald.ContentJSON)
	}
	r.Method, r.URL, r.Header, r.Body = method, out.URL, h, out.Payload
	return nil
}

// reservedHeader reports whether Herald, not a transformation, sets the
// header: the signature headers in either naming, and the framing.
func reservedHeader(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "webhook-") || strings.HasPrefix(n, "svix-") ||
		n == "content-length" || n == "host" || n == "transfer-encoding" || n == "connection"
}
