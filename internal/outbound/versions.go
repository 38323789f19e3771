package outbound

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/transform"
)

// VersionHeader carries the version of the event type a request's payload
// is in, when it is not the type's first, unversioned shape.
const VersionHeader = "Webhook-Version"

// pinned returns the event as the endpoint's pinned version of its type
// has it: converted down through each version's converter, newest first,
// when it was sent as a newer one; the event itself otherwise. A version
// the type no longer has (deleted) leaves the event as sent.
func (b *builder) pinned(ctx context.Context, ep *herald.Endpoint, ev *herald.Event) (*herald.Event, error) {
	et, ok := b.eventTypes.Get(ev.EventType)
	if !ok {
		got, err := b.st.EventTypeGet(ctx, ev.EventType)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				// An undeclared type has no versions to convert.
				return ev, nil
			}
			return nil, fmt.Errorf("event type %s: %w", ev.EventType, err)
		}
		et = got
		b.eventTypes.Put(ev.EventType, et)
	}
	want, ok := herald.PinnedVersion(ep, et)
	if !ok || want == ev.Version {
		return ev, nil
	}
	from, ok1 := et.VersionIndex(ev.Version)
	to, ok2 := et.VersionIndex(want)
	if !ok1 || !ok2 || from <= to {
		// An event older than the pin goes as sent: converters lead
		// only down.
		return ev, nil
	}
	payload := []byte(ev.Payload)
	for i := from; i > to; i-- {
		v := &et.Versions[i]
		key := transform.Key(ev.EventType+"@"+v.Version, v.CreatedAt, v.Converter)
		out, err := b.tf.Convert(ctx, key, v.Converter, payload)
		if err != nil {
			var te *transform.Error
			if errors.As(err, &te) {
				c := *te
				c.Script = "converter of " + ev.EventType + " " + v.Version
				return nil, &c
			}
			return nil, err
		}
		if b.maxSize > 0 && len(out) > b.maxSize {
			return nil, &transform.Error{Script: "converter of " + ev.EventType + " " + v.Version,
				Msg: fmt.Sprintf("returned a payload of %d bytes, more than the %d this installation allows (--max-rendered-size)", len(out), b.maxSize)}
		}
		payload = out
	}
	c := *ev
	c.Payload, c.Version = herald.RawJSON(payload), want
	return &c, nil
}
