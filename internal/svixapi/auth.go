package svixapi

import (
	"net/http"
	"slices"
	"strings"
)

func (h *Handler) authRoutes() {
	h.handle("POST /api/v1/auth/app-portal-access/{app_id}", h.appPortalAccess)
	h.handle("POST /api/v1/auth/dashboard-access/{app_id}", h.dashboardAccess)
	h.handle("POST /api/v1/auth/logout", h.logout)
	h.handle("POST /api/v1/auth/app/{app_id}/expire-all", h.expireAll)
}

// portalTTL is Svix's default lifetime of a portal token, 7 days, also
// the longest Herald's portal sessions live.
const portalTTL = 7 * 24 * 3600

// portalIn is Svix's AppPortalAccessIn.
type portalIn struct {
	Application  opt[appIn]    `json:"application"`
	ReadOnly     opt[bool]     `json:"readOnly"`
	Capabilities opt[[]string] `json:"capabilities"`
	FeatureFlags opt[[]string] `json:"featureFlags"`
	Expiry       opt[int]      `json:"expiry"`
	SessionID    opt[string]   `json:"sessionId"`
}

// The capabilities of a Svix portal token. Herald's portal sessions are
// viewers (Svix's ViewBase alone), developers (endpoints and test sends,
// reading the secret but not changing it: ViewBase, ViewEndpointSecret,
// CreateAttempts, ManageEndpoint) or admins (every capability but
// ManageTransformations, which means nothing to Herald). A set without
// ViewEndpointSecret that manages endpoints has no such session: Herald's
// developers read the secret to verify signatures.
var (
	developerCaps = []string{"ViewBase", "ViewEndpointSecret", "CreateAttempts", "ManageEndpoint"}
	fullCaps      = []string{"ViewBase", "ViewEndpointSecret", "ManageEndpointSecret", "CreateAttempts", "ManageEndpoint"}
	knownCaps     = append(slices.Clone(fullCaps), "ManageTransformations")
)

// role maps readOnly and capabilities to the role of Herald's session.
func (in *portalIn) role() (string, *Error) {
	ro := in.ReadOnly.value() && in.ReadOnly.V
	if !in.Capabilities.value() {
		if ro {
			return "viewer", nil
		}
		return "admin", nil
	}
	caps := in.Capabilities.V
	for _, c := range caps {
		if !slices.Contains(knownCaps, c) {
			return "", invalid("body", "capabilities", "unknown capability "+c)
		}
	}
	has := func(want []string) bool {
		for _, c := range want {
			if !slices.Contains(caps, c) {
				return false
			}
		}
		return true
	}
	// Exactly: what the set holds beyond want is ManageTransformations.
	only := func(want []string) bool {
		return has(want) && !slices.ContainsFunc(caps, func(c string) bool {
			return !slices.Contains(want, c) && c != "ManageTransformations"
		})
	}
	role := ""
	switch {
	case !slices.Contains(caps, "ViewBase"):
		return "", invalid("body", "capabilities", "capabilities must hold ViewBase")
	case has(fullCaps):
		role = "admin"
	case only(developerCaps):
		role = "developer"
	case !slices.ContainsFunc(caps, func(c string) bool { return c != "ViewBase" }):
		return "viewer", nil
	default:
		return "", invalid("body", "capabilities", "Herald's portal sessions are viewers (capabilities [ViewBase]), developers who manage endpoints and test sends and read the secret without changing it (ViewBase, ViewEndpointSecret, CreateAttempts, ManageEndpoint) or admins who manage the secrets too (ViewBase, ViewEndpointSecret, ManageEndpointSecret, CreateAttempts, ManageEndpoint); this set is none of them")
	}
	if ro {
		return "", invalid("body", "readOnly", "readOnly contradicts the capabilities given, which manage endpoints")
	}
	return role, nil
}

// appPortalAccess answers POST /api/v1/auth/app-portal-access/{app_id}
// with a Herald portal session of the app: {url, token}. application
// creates the app when there is none.
func (h *Handler) appPortalAccess(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in portalIn
	if r.ContentLength != 0 {
		if e := h.decode(w, r, &in); e != nil {
			return e
		}
	}
	if in.SessionID.value() {
		return invalid("body", "sessionId", "sessionId is not supported: Herald ends an app's portal sessions all at once (expire-all), not by session id")
	}
	role, e := in.role()
	if e != nil {
		return e
	}
	expiry := portalTTL
	if in.Expiry.value() {
		expiry = in.Expiry.V
	}
	ref := r.PathValue("app_id")
	if in.Application.value() {
		if e := h.portalApp(r, ref, &in.Application.V); e != nil {
			return e
		}
	}
	return h.portalSession(w, r, ref, expiry, role)
}

// portalApp creates the app of a portal link from Svix's application
// when there is none with the path's id or uid.
func (h *Handler) portalApp(r *http.Request, ref string, a *appIn) *Error {
	nested := func(e *Error) *Error {
		if e != nil && len(e.Loc) == 2 && e.Loc[0] == "body" {
			e.Loc = []string{"body", "application", e.Loc[1]}
		}
		return e
	}
	if e := a.check(true); e != nil {
		return nested(e)
	}
	_, found, e := h.findApp(r, ref)
	if e != nil || found {
		return e
	}
	if strings.HasPrefix(ref, "app_") {
		return notFound("application " + ref + " (Herald chooses app ids: create it with a uid instead)")
	}
	b := a.body()
	if !a.UID.value() || a.UID.V == "" {
		b["uid"] = ref
	}
	_, e = h.do(r, call{Method: http.MethodPost, Path: "/v1/apps", Body: b}, nil)
	if e != nil && e.Status == http.StatusConflict {
		return nil // created meanwhile
	}
	return nested(e)
}

// portalSession makes a Herald portal session and answers {url, token}.
func (h *Handler) portalSession(w http.ResponseWriter, r *http.Request, ref string, expiry int, role string) *Error {
	var s struct {
		URL   string `json:"url"`
		Token string `json:"token"`
	}
	if _, e := h.do(r, call{Method: http.MethodPost, Path: path("/v1/apps/", ref, "/portal-sessions"),
		Body:   map[string]any{"expires_in": expiry, "role": role},
		Fields: map[string]string{"expires_in": "expiry", "role": "capabilities"}}, &s); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": s.URL, "token": s.Token})
	return nil
}

// dashboardAccess answers POST /api/v1/auth/dashboard-access/{app_id}
// (1.x, deprecated by Svix) as app-portal-access without a body does.
func (h *Handler) dashboardAccess(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	return h.portalSession(w, r, r.PathValue("app_id"), portalTTL, "admin")
}

// logout answers POST /api/v1/auth/logout (204): the portal session in
// use ends. Other tokens (the admin token, API keys) are not logged out
// (422), as Svix refuses to log out anything but a portal token.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var who struct {
		KeyID string `json:"key_id"`
		Scope string `json:"scope"`
		AppID string `json:"app_id"`
	}
	if _, e := h.do(r, call{Method: http.MethodGet, Path: "/v1/whoami"}, &who); e != nil {
		return e
	}
	if who.Scope != "portal" {
		return invalid("header", "authorization", "only a portal token (from app-portal-access) can be logged out; delete an API key with Herald's DELETE /v1/api-keys/{id}, the admin token cannot be revoked")
	}
	if _, e := h.do(r, call{Method: http.MethodDelete, Path: path("/v1/apps/", who.AppID, "/portal-sessions/", who.KeyID)}, nil); e != nil {
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// expireAll answers POST /api/v1/auth/app/{app_id}/expire-all (204):
// every portal session of the app ends at once.
func (h *Handler) expireAll(w http.ResponseWriter, r *http.Request) *Error {
	if e := known(r); e != nil {
		return e
	}
	var in struct {
		Expiry     opt[int]      `json:"expiry"`
		SessionIDs opt[[]string] `json:"sessionIds"`
	}
	if r.ContentLength != 0 {
		if e := h.decode(w, r, &in); e != nil {
			return e
		}
	}
	if in.Expiry.value() && in.Expiry.V != 0 {
		return invalid("body", "expiry", "expiry is not supported: Herald ends the sessions at once (give 0 or leave it out)")
	}
	if in.SessionIDs.value() && len(in.SessionIDs.V) > 0 {
		return invalid("body", "sessionIds", "sessionIds is not supported: Herald's portal sessions carry no session id; leave it out to end them all")
	}
	if _, e := h.do(r, call{Method: http.MethodDelete, Path: path("/v1/apps/", r.PathValue("app_id"), "/portal-sessions")}, nil); e != nil {
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
