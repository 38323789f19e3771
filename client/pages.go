package client

import (
	"context"
	"errors"
	"iter"
)

// Pages walks a list page by page from its first: page fetches the page
// at cursor (nil for the first) and returns its items and the next
// cursor, nil after the last. The iteration stops at the first error,
// which it yields with a zero item.
func Pages[T any](ctx context.Context, page func(ctx context.Context, cursor *string) ([]T, *string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var cursor *string
		for {
			items, next, err := page(ctx, cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == nil || *next == "" {
				return
			}
			cursor = next
		}
	}
}

// list is the shape of every list answer; each generated list type
// (AppList, ...) converts to it.
type list[T any] struct {
	Data       []T
	NextCursor *string
}

// items returns a list answer's items and next cursor.
func items[T any](l *list[T]) ([]T, *string, error) {
	if l == nil {
		return nil, nil, errors.New("herald client: the answer has no body of the documented shape")
	}
	return l.Data, l.NextCursor, nil
}

// Apps iterates over every app.
func (h *Herald) Apps(ctx context.Context) iter.Seq2[App, error] {
	return Pages(ctx, func(ctx context.Context, cursor *string) ([]App, *string, error) {
		res, err := h.ListAppsWithResponse(ctx, &ListAppsParams{Cursor: cursor})
		if err != nil {
			return nil, nil, err
		}
		return items((*list[App])(res.JSON200))
	})
}

// EventTypes iterates over the catalog of event types.
func (h *Herald) EventTypes(ctx context.Context) iter.Seq2[EventType, error] {
	return Pages(ctx, func(ctx context.Context, cursor *string) ([]EventType, *string, error) {
		res, err := h.ListEventTypesWithResponse(ctx, &ListEventTypesParams{Cursor: cursor})
		if err != nil {
			return nil, nil, err
		}
		return items((*list[EventType])(res.JSON200))
	})
}

// Endpoints iterates over an app's endpoints (app: its id or uid).
func (h *Herald) Endpoints(ctx context.Context, app string) iter.Seq2[Endpoint, error] {
	return Pages(ctx, func(ctx context.Context, cursor *string) ([]Endpoint, *string, error) {
		res, err := h.ListEndpointsWithResponse(ctx, app, &ListEndpointsParams{Cursor: cursor})
		if err != nil {
			return nil, nil, err
		}
		return items((*list[Endpoint])(res.JSON200))
	})
}

// Events iterates over an app's events, newest first, with the filters of
// p (its Cursor is ignored).
func (h *Herald) Events(ctx context.Context, app string, p ListEventsParams) iter.Seq2[Event, error] {
	return Pages(ctx, func(ctx context.Context, cursor *string) ([]Event, *string, error) {
		p.Cursor = cursor
		res, err := h.ListEventsWithResponse(ctx, app, &p)
		if err != nil {
			return nil, nil, err
		}
		return items((*list[Event])(res.JSON200))
	})
}

// EndpointDeliveries iterates over an endpoint's deliveries, newest first,
// with the filters of p (its Cursor is ignored).
func (h *Herald) EndpointDeliveries(ctx context.Context, app, endpoint string, p ListEndpointDeliveriesParams) iter.Seq2[Delivery, error] {
	return Pages(ctx, func(ctx context.Context, cursor *string) ([]Delivery, *string, error) {
		p.Cursor = cursor
		res, err := h.ListEndpointDeliveriesWithResponse(ctx, app, endpoint, &p)
		if err != nil {
			return nil, nil, err
		}
		return items((*list[Delivery])(res.JSON200))
	})
}

// EventDeliveries iterates over an event's deliveries, with the filters
// of p (its Cursor is ignored).
func (h *Herald) EventDeliveries(ctx context.Context, app, event string, p ListEventDeliveriesParams) iter.Seq2[Delivery, error] {
	return Pages(ctx, func(ctx context.Context, cursor *string) ([]Delivery, *string, error) {
		p.Cursor = cursor
		res, err := h.ListEventDeliveriesWithResponse(ctx, app, event, &p)
		if err != nil {
			return nil, nil, err
		}
		return items((*list[Delivery])(res.JSON200))
	})
}
