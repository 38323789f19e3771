package api

import (
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// pinnedEndpoint is one endpoint pinned to a version of an event type:
// enough to name it, find it and tell where it sends.
type pinnedEndpoint struct {
	AppID       string  `json:"app_id"`
	ID          string  `json:"id"`
	UID         *string `json:"uid"`
	Description string  `json:"description"`
	Kind        string  `json:"kind"`
	// URL is a push endpoint's; Destination, masked, a broker's.
	URL         string              `json:"url"`
	Destination *herald.Destination `json:"destination,omitempty"`
	// DestinationSummary is a broker's Destination in one line, as an
	// endpoint's view has it.
	DestinationSummary string `json:"destination_summary,omitempty"`
	Enabled            bool   `json:"enabled"`
	// Version is the one the endpoint receives the type as ("" for the
	// first), through its own pin or its "*" pin.
	Version string `json:"version"`
}

// listPinnedEndpoints answers GET /v1/event-types/{name}/pinned-endpoints:
// the endpoints pinned to a version of the type (?version=, "" for the
// first; any version when absent), of the caller's app for an app key or
// a portal session, of every app for an admin. Pins live in each
// endpoint's event_type_versions, where a "*" pin resolves against the
// type's versions, so the list reads the endpoints app by app rather than
// asking the store for them.
func (s *Server) listPinnedEndpoints(w http.ResponseWriter, r *http.Request) *Error {
	et, err := s.st.EventTypeGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return storeError(err, "event type")
	}
	p, e := listParams(r)
	if e != nil {
		return e
	}
	q := r.URL.Query()
	var want *string
	if q.Has("version") {
		v := q.Get("version")
		if _, ok := et.VersionIndex(v); !ok {
			return errQuery("version", "event type %s has no version %q (its latest is %q)", et.Name, v, et.LatestVersion())
		}
		want = &v
	}
	appCursor, epCursor := "", ""
	if p.Cursor != "" {
		var ok bool
		appCursor, epCursor, ok = strings.Cut(p.Cursor, ":")
		if !ok || appCursor == "" || epCursor == "" {
			return errQuery("cursor", "cursor is not one this API returned")
		}
	}
	out := page[pinnedEndpoint]{Data: []pinnedEndpoint{}}
	err = s.walkPins(r, et, appCursor, epCursor, func(ep *herald.Endpoint, v string) bool {
		if want != nil && v != *want {
			return true
		}
		out.Data = append(out.Data, viewPinned(ep, v))
		return len(out.Data) <= p.Limit
	})
	if err != nil {
		return storeError(err, "endpoint")
	}
	if len(out.Data) > p.Limit {
		last := out.Data[p.Limit-1]
		c := last.AppID + ":" + last.ID
		out.NextCursor = &c
		out.Data = out.Data[:p.Limit]
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func viewPinned(ep *herald.Endpoint, v string) pinnedEndpoint {
	pe := pinnedEndpoint{AppID: ep.AppID, ID: ep.ID, Description: ep.Description, Kind: ep.Kind, URL: ep.URL,
		Destination: ep.Destination.Masked(), Enabled: ep.Enabled, Version: v}
	if pe.Kind == "" {
		pe.Kind = herald.EndpointPush
	}
	pe.DestinationSummary = destinationSummary(pe.Kind, pe.Destination)
	if ep.UID != "" {
		uid := ep.UID
		pe.UID = &uid
	}
	return pe
}

// walkPins calls fn with each endpoint pinned to a version of et and that
// version, the caller's app's for an app-scoped caller and every app's
// (newest app first) for an admin, each app's newest endpoint first,
// until fn returns false. It starts after endpoint epCursor of app
// appCursor when they are set. Endpoints a portal session may not see
// are skipped.
func (s *Server) walkPins(r *http.Request, et *herald.EventType, appCursor, epCursor string, fn func(*herald.Endpoint, string) bool) error {
	more := true
	app := func(appID, after string) error {
		p := store.ListParams{Cursor: after, Limit: store.MaxListLimit}
		for more {
			eps, err := s.st.EndpointList(r.Context(), appID, p)
			if err != nil {
				return err
			}
			for _, ep := range eps {
				if hiddenFromPortal(r, ep) {
					continue
				}
				if v, ok := herald.PinnedVersion(ep, et); ok {
					if more = fn(ep, v); !more {
						return nil
					}
				}
			}
			if len(eps) < p.Limit {
				return nil
			}
			p.Cursor = eps[len(eps)-1].ID
		}
		return nil
	}
	if own := principalOf(r).appID; own != "" {
		if appCursor != "" && appCursor != own {
			return nil
		}
		return app(own, epCursor)
	}
	if appCursor != "" {
		if err := app(appCursor, epCursor); err != nil {
			return err
		}
	}
	p := store.ListParams{Cursor: appCursor, Limit: 100}
	for more {
		apps, err := s.st.AppList(r.Context(), p)
		if err != nil {
			return err
		}
		for _, a := range apps {
			if err := app(a.ID, ""); err != nil {
				return err
			}
			if !more {
				return nil
			}
		}
		if len(apps) < p.Limit {
			return nil
		}
		p.Cursor = apps[len(apps)-1].ID
	}
	return nil
}
