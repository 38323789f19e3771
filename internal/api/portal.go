package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// scopePortal is the scope of the keys behind portal sessions.
const scopePortal = "portal"

// Portal session lifetimes, in seconds.
const (
	defaultPortalTTL = 3600
	minPortalTTL     = 60
	maxPortalTTL     = 7 * 24 * 3600
)

// portalAllows lists what a portal session may call: its app's
// endpoints (settings, secret, test, preview, recovery, history) and the
// event catalog to pick from. Sending events, app settings, keys, usage
// and the audit log stay with the product.
func portalAllows(method, pattern string) bool {
	read := method == http.MethodGet || method == http.MethodHead
	switch {
	case strings.HasSuffix(pattern, "/pull"), strings.HasSuffix(pattern, "/ack"):
		// A pull client runs with an API key; the portal is screens.
		return false
	case pattern == "/v1/apps/{app}/portal-sessions/{id}":
		// A session ends itself (signing out); endSession refuses any
		// other id.
		return method == http.MethodDelete
	case pattern == "/v1/whoami", pattern == "/v1/apps/{app}", pattern == "/v1/lookup/{id}",
		pattern == "/v1/event-types", pattern == "/v1/event-types/{name}",
		pattern == "/v1/event-types/{name}/versions", pattern == "/v1/event-types/{name}/versions/{version}",
		pattern == "/v1/event-types/{name}/pinned-endpoints":
		return read
	case strings.HasPrefix(pattern, "/v1/apps/{app}/endpoints"),
		strings.HasPrefix(pattern, "/v1/apps/{app}/deliveries/"),
		strings.HasPrefix(pattern, "/v1/apps/{app}/jobs/"):
		return true
	case strings.HasPrefix(pattern, "/v1/apps/{app}/events"), pattern == "/v1/apps/{app}/deliveries",
		pattern == "/v1/apps/{app}/channels":
		return read
	}
	return false
}

// hiddenFromPortal says whether v does not exist for the caller: to a
// portal session, the app's operational endpoint, and Herald's own
// events (herald.*) with their deliveries, which that endpoint alone
// receives. They are the product's channel about its customers'
// endpoints, not the customer's.
func hiddenFromPortal(r *http.Request, v any) bool {
	if !principalOf(r).portal {
		return false
	}
	switch v := v.(type) {
	case *herald.Endpoint:
		return v.Operational
	case *herald.Event:
		return strings.HasPrefix(v.EventType, herald.OperationalPrefix)
	case *herald.Delivery:
		return strings.HasPrefix(v.EventType, herald.OperationalPrefix)
	case *store.Job:
		return v.Endpoint.Operational || strings.HasPrefix(v.Delivery.EventType, herald.OperationalPrefix)
	}
	return false
}

// checkPortalEndpoint answers, for a portal session, 404 when the {id}
// is the operational endpoint, on the routes that read an endpoint's
// history without resolving the endpoint (a deleted one's stays
// readable).
func (s *Server) checkPortalEndpoint(r *http.Request, appID string) *Error {
	return s.checkPortalEndpointID(r, appID, r.PathValue("id"))
}

// checkPortalEndpointID is checkPortalEndpoint of the endpoint id.
func (s *Server) checkPortalEndpointID(r *http.Request, appID, id string) *Error {
	if !principalOf(r).portal {
		return nil
	}
	ep, err := s.st.EndpointGet(r.Context(), appID, id)
	switch {
	case err == nil && hiddenFromPortal(r, ep):
		return errNotFound("endpoint")
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return storeError(err, "endpoint")
	}
	return nil
}

// visibleTo keeps, in a list, what the caller may see (nil: everything).
func visibleTo[T any](r *http.Request) func(T) bool {
	if !principalOf(r).portal {
		return nil
	}
	return func(v T) bool { return !hiddenFromPortal(r, v) }
}

type portalInput struct {
	ExpiresIn    *int    `json:"expires_in"`
	ReadOnly     *bool   `json:"read_only"`
	Role         *string `json:"role"`
	PrimaryColor *string `json:"primary_color"`
	LogoURL      *string `json:"logo_url"`
	Language     *string `json:"language"`
}

// portalSession is the answer to POST .../portal-sessions.
type portalSession struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	AppID     string    `json:"app_id"`
	ReadOnly  bool      `json:"read_only"`
	// Role is what the customer may do: viewer, developer or admin.
	Role string `json:"role"`
}

// role reads role and read_only (read_only: true is role viewer): admin
// when neither is given. A session is never wider than its minter
// (callerRole).
func (in *portalInput) role(minter *principal) (string, *Error) {
	role := roleAdmin
	if in.ReadOnly != nil && *in.ReadOnly {
		role = roleViewer
	}
	if in.Role != nil {
		if _, ok := roleRank[*in.Role]; !ok {
			return "", errInvalid("role", "role must be viewer, developer or admin")
		}
		if in.ReadOnly != nil && *in.ReadOnly != (*in.Role == roleViewer) {
			return "", errInvalid("role", "role %s contradicts read_only %t (read_only: true is role viewer); give role alone", *in.Role, *in.ReadOnly)
		}
		role = *in.Role
	}
	if limit := callerRole(minter); roleRank[role] > roleRank[limit] {
		return "", &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: "role",
			Message: fmt.Sprintf("role %s is wider than the caller's (%s): a session gets its minter's role or a narrower one", role, limit)}
	}
	return role, nil
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// createPortalSession answers POST /v1/apps/{app}/portal-sessions: a
// short-lived key scoped to one app and a link that opens the portal with
// it. The key travels in the link's fragment, which browsers never send
// to a server, so it stays out of access logs and Referer headers.
func (s *Server) createPortalSession(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	if s.o.PublicURL == "" {
		// The request's Host header is the caller's to choose: a link
		// built from it could send a customer, token and all, anywhere.
		return &Error{Status: http.StatusConflict, Code: CodePublicURLUnset,
			Message: "portal links start with the address users reach Herald at: start Herald with --public-url (HERALD_PUBLIC_URL), e.g. --public-url https://hooks.example.com"}
	}
	var in portalInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	ttl := defaultPortalTTL
	if in.ExpiresIn != nil {
		ttl = *in.ExpiresIn
		if ttl < minPortalTTL || ttl > maxPortalTTL {
			return errInvalid("expires_in", "expires_in must be from %d to %d seconds", minPortalTTL, maxPortalTTL)
		}
	}
	theme := url.Values{}
	if in.PrimaryColor != nil && *in.PrimaryColor != "" {
		if !hexColor.MatchString(*in.PrimaryColor) {
			return errInvalid("primary_color", "primary_color must be a colour such as #3454d1")
		}
		theme.Set("primary_color", *in.PrimaryColor)
	}
	if in.LogoURL != nil && *in.LogoURL != "" {
		u, err := url.Parse(*in.LogoURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(*in.LogoURL) > 2000 {
			return errInvalid("logo_url", "logo_url must be an http or https URL")
		}
		theme.Set("logo_url", *in.LogoURL)
	}
	if in.Language != nil && *in.Language != "" {
		if *in.Language != "en" && *in.Language != "ja" {
			return errInvalid("language", "language must be en or ja (or empty to follow the browser)")
		}
		theme.Set("language", *in.Language)
	}
	role, e := in.role(principalOf(r))
	if e != nil {
		return e
	}
	now := s.o.Now().UTC()
	exp := now.Add(time.Duration(ttl) * time.Second).Truncate(time.Second)
	k := &herald.APIKey{ID: herald.NewID("key_"), Name: portalKeyName, Scope: scopePortal, AppID: a.ID,
		CreatedAt: now, ReadOnly: role == roleViewer, Role: role}
	// A session minted with a key lives no longer than that key and dies
	// with it (the store deletes a key's sessions with the key); the
	// admin token has no expiry and cannot be deleted.
	if p := principalOf(r); p.keyID != adminKeyID {
		k.ParentID = p.keyID
		if p.expiresAt != nil && p.expiresAt.Before(exp) {
			exp = p.expiresAt.UTC()
		}
	}
	k.ExpiresAt = &exp
	create := func(k *herald.APIKey) error { return s.st.APIKeyCreate(r.Context(), k) }
	if limit := s.o.MaxPortalSessionsPerApp; limit > 0 {
		create = func(k *herald.APIKey) error { return s.st.APIKeyCreateLimited(r.Context(), k, limit, now) }
	}
	key, err := s.storeKey(k, create)
	if le := (*store.LimitError)(nil); errors.As(err, &le) {
		msg := fmt.Sprintf("the app already has %d live portal sessions, the most this installation allows (--max-portal-sessions-per-app)", le.Max)
		wait := time.Minute
		if !le.Until.IsZero() {
			msg += "; the soonest expires at " + le.Until.UTC().Format(time.RFC3339)
			wait = max(time.Second, le.Until.Sub(now))
		}
		setRetryAfter(w, wait)
		return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManySessions, Message: msg}
	}
	if err != nil {
		// Not found: the app, or the key in use, was deleted meanwhile.
		return storeError(err, "app (or the key in use)")
	}
	s.audit(r, a.ID, "portal_session.create", k.ID, map[string]any{"role": role, "read_only": k.ReadOnly, "expires_at": k.ExpiresAt, "parent_id": k.ParentID})
	link := strings.TrimSuffix(s.o.PublicURL, "/") + "/portal/"
	if len(theme) > 0 {
		link += "?" + theme.Encode()
	}
	link += "#token=" + key
	writeJSON(w, http.StatusCreated, portalSession{ID: k.ID, URL: link, Token: key, ExpiresAt: exp, AppID: a.ID, ReadOnly: k.ReadOnly, Role: role})
	return nil
}

// endSession answers DELETE /v1/apps/{app}/portal-sessions/{id}: the
// product ends one of the app's portal sessions, or a session ends itself
// (a customer signing out, read-only or not); to a session, every other
// id is not found.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	id := r.PathValue("id")
	p := principalOf(r)
	if p.portal && id != p.keyID {
		return errNotFound("portal session")
	}
	var k *herald.APIKey
	for cursor := ""; k == nil; {
		keys, err := s.st.APIKeyList(r.Context(), a.ID, store.ListParams{Cursor: cursor, Limit: 250})
		if err != nil {
			return storeError(err, "portal session")
		}
		for _, x := range keys {
			if x.ID == id && x.Scope == scopePortal {
				k = x
			}
		}
		if len(keys) < 250 {
			break
		}
		cursor = keys[len(keys)-1].ID
	}
	if k == nil {
		return errNotFound("portal session")
	}
	err := s.st.APIKeyDelete(r.Context(), k.ID)
	s.keys.Reset()
	if err != nil {
		return storeError(err, "portal session")
	}
	s.audit(r, a.ID, "portal_session.delete", k.ID, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endSessions answers DELETE /v1/apps/{app}/portal-sessions: every
// portal session of the app ends (links handed out stop working).
func (s *Server) endSessions(w http.ResponseWriter, r *http.Request) *Error {
	a, e := s.app(r)
	if e != nil {
		return e
	}
	var ids []string
	for cursor := ""; ; {
		keys, err := s.st.APIKeyList(r.Context(), a.ID, store.ListParams{Cursor: cursor, Limit: 250})
		if err != nil {
			return storeError(err, "portal session")
		}
		for _, k := range keys {
			if k.Scope == scopePortal {
				ids = append(ids, k.ID)
			}
		}
		if len(keys) < 250 {
			break
		}
		cursor = keys[len(keys)-1].ID
	}
	for _, id := range ids {
		if err := s.st.APIKeyDelete(r.Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.keys.Reset()
			return storeError(err, "portal session")
		}
	}
	s.keys.Reset()
	s.audit(r, a.ID, "portal_session.delete_all", a.ID, map[string]any{"ended": len(ids)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// whoami answers GET /v1/whoami: what the token in use may do, so that a
// screen can show only what will work.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) *Error {
	p := principalOf(r)
	writeJSON(w, http.StatusOK, struct {
		KeyID     string     `json:"key_id"`
		Scope     string     `json:"scope"`
		AppID     string     `json:"app_id,omitempty"`
		ReadOnly  bool       `json:"read_only"`
		Role      string     `json:"role,omitempty"`
		ExpiresAt *time.Time `json:"expires_at"`
	}{p.keyID, p.scope, p.appID, p.readOnly, p.role, p.expiresAt})
	return nil
}
