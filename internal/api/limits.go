package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/spelling"
	"github.com/heraldhq/herald/internal/store"
)

// validateSubscription checks one entry of an endpoint's event_types: an
// exact name, a prefix wildcard ending in * ("conversation.*"), or a group
// reference ("group:nps").
func validateSubscription(sub string) *Error {
	switch {
	case strings.HasPrefix(sub, "group:"):
		g := sub[len("group:"):]
		if !groupRE.MatchString(g) {
			return errInvalid("event_types", "event_types entry %q: a group reference is group:<name>, the name made of letters, digits and _ . -", sub)
		}
		return nil
	case strings.HasSuffix(sub, "*"):
		prefix := sub[:len(sub)-1]
		if prefix != "" && !eventTypeNameRE.MatchString(prefix) || strings.Contains(prefix, "*") {
			return errInvalid("event_types", "event_types entry %q: a wildcard is a name prefix followed by one * at the end", sub)
		}
		return nil
	}
	return validateEventTypeName("event_types", sub)
}

// checkLimit enforces the app's max_endpoints_per_event_type: counting the
// app's enabled endpoints, would any event type of the catalog (or named
// by the endpoint) have more subscribers than allowed?
// appEndpoints lists an app's endpoints at most once per request, for the
// checks that need them all.
type appEndpoints struct {
	s     *Server
	r     *http.Request
	appID string
	eps   []*herald.Endpoint
	done  bool
}

func (s *Server) appEndpoints(r *http.Request, appID string) *appEndpoints {
	return &appEndpoints{s: s, r: r, appID: appID}
}

func (l *appEndpoints) get() ([]*herald.Endpoint, error) {
	if !l.done {
		err := l.s.eachEndpoint(l.r, l.appID, func(ep *herald.Endpoint) { l.eps = append(l.eps, ep) })
		if err != nil {
			return nil, err
		}
		l.done = true
	}
	return l.eps, nil
}

func (s *Server) checkLimit(r *http.Request, a *herald.App, ep *herald.Endpoint, all *appEndpoints) *Error {
	max := a.MaxEndpointsPerEventType
	perChannel := a.MaxEndpointsPerEventTypePerChannel
	// With a per-channel limit, an endpoint with channels counts only
	// against it (immdio's "3 URLs per event type, per form"); without
	// one, every endpoint counts against the app-wide limit as before.
	scoped := perChannel > 0 && len(ep.Channels) > 0
	if scoped {
		max = perChannel
	}
	if max <= 0 || !ep.Enabled || ep.Operational {
		return nil
	}
	// The event types this endpoint receives: the catalog's (with
	// groups, for wildcards and group references) and the exact names it
	// lists.
	types := map[string]string{}
	p := store.ListParams{Limit: store.MaxListLimit}
	for {
		ets, err := s.st.EventTypeList(r.Context(), p)
		if err != nil {
			return storeError(err, "event type")
		}
		for _, et := range ets {
			types[et.Name] = et.Group
		}
		if len(ets) < p.Limit {
			break
		}
		p.Cursor = ets[len(ets)-1].Name
	}
	for _, t := range ep.EventTypes {
		if !strings.HasPrefix(t, "group:") && !strings.HasSuffix(t, "*") {
			if _, ok := types[t]; !ok {
				types[t] = ""
			}
		}
	}
	others, err := all.get()
	if err != nil {
		return storeError(err, "endpoint")
	}
	if scoped {
		return checkChannelLimit(ep, others, types, max)
	}
	counts := map[string]int{}
	for _, other := range others {
		if other.ID == ep.ID || !other.Enabled || other.Operational || perChannel > 0 && len(other.Channels) > 0 {
			continue
		}
		for name, group := range types {
			if other.Subscribes(name, group) {
				counts[name]++
			}
		}
	}
	for name, group := range types {
		if ep.Subscribes(name, group) && counts[name] >= max {
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodeLimitExceeded, Field: "event_types",
				Message: fmt.Sprintf("event type %s already has %d endpoints in this app, the most it allows (max_endpoints_per_event_type = %d)", name, counts[name], max)}
		}
	}
	return nil
}

// checkChannelLimit enforces max_endpoints_per_event_type_per_channel for
// an endpoint with channels: for each event type it receives and each
// channel it lists, the other enabled endpoints listing that channel.
func checkChannelLimit(ep *herald.Endpoint, others []*herald.Endpoint, types map[string]string, max int) *Error {
	type key struct{ name, channel string }
	counts := map[key]int{}
	for _, other := range others {
		if other.ID == ep.ID || !other.Enabled || other.Operational || len(other.Channels) == 0 {
			continue
		}
		for name, group := range types {
			if !other.Subscribes(name, group) {
				continue
			}
			for _, c := range other.Channels {
				if slices.Contains(ep.Channels, c) {
					counts[key{name, c}]++
				}
			}
		}
	}
	for _, c := range ep.Channels {
		for name, group := range types {
			if n := counts[key{name, c}]; ep.Subscribes(name, group) && n >= max {
				return &Error{Status: http.StatusUnprocessableEntity, Code: CodeLimitExceeded, Field: "channels",
					Message: fmt.Sprintf("event type %s already has %d endpoints on channel %s in this app, the most it allows (max_endpoints_per_event_type_per_channel = %d)", name, n, c, max)}
			}
		}
	}
	return nil
}

// checkSubscribed refuses an exact event type name among subs that is not
// in the catalog, unless undeclared types are allowed: such an endpoint
// would never receive anything, since events of undeclared types are
// refused too, and the name is most likely a typo. Wildcards and groups
// are not checked (they may name types yet to come), nor are names the
// endpoint had already (kept), so that an endpoint saved before the rule
// can still be edited.
func (s *Server) checkSubscribed(r *http.Request, subs, kept []string) *Error {
	if s.o.AllowUndeclaredEventTypes {
		return nil
	}
	for _, sub := range subs {
		if strings.HasPrefix(sub, "group:") || strings.HasSuffix(sub, "*") || slices.Contains(kept, sub) {
			continue
		}
		if _, ok := s.eventTypes.Get(sub); ok {
			continue
		}
		_, err := s.st.EventTypeGet(r.Context(), sub)
		if errors.Is(err, store.ErrNotFound) {
			if near := s.closestEventType(r.Context(), sub); near != "" {
				return errInvalid("event_types", "event type %q is not in the catalog; did you mean %q?", sub, near)
			}
			return errInvalid("event_types", "event type %q is not in the catalog; create it with POST /v1/event-types first, or subscribe with a wildcard (%s*) or a group (group:<name>)", sub, wildcardOf(sub))
		}
		if err != nil {
			return storeError(err, "event type")
		}
	}
	return nil
}

// wildcardOf suggests a prefix of name for a wildcard subscription: up to
// and including its last separator.
func wildcardOf(name string) string {
	if i := strings.LastIndexAny(name, "._:/-"); i >= 0 {
		return name[:i+1]
	}
	return name
}

// maxSuggestPages bounds the catalog read for a suggestion: a refusal
// must stay cheap, even with a catalog of thousands of types.
const maxSuggestPages = 8

// closestEventType returns the catalog's event type one typo away from
// name, or "" when there is none or the catalog cannot be read (the
// suggestion is a help, never a reason to fail). It runs only on the way
// to a refusal.
func (s *Server) closestEventType(ctx context.Context, name string) string {
	p := store.ListParams{Limit: store.MaxListLimit}
	for range maxSuggestPages {
		ets, err := s.st.EventTypeList(ctx, p)
		if err != nil {
			return ""
		}
		names := make([]string, len(ets))
		for i, et := range ets {
			names[i] = et.Name
		}
		if near := spelling.Closest(name, names); near != "" {
			return near
		}
		if len(ets) < p.Limit {
			return ""
		}
		p.Cursor = ets[len(ets)-1].Name
	}
	return ""
}
