package api

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/heraldhq/herald"
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
	case pattern == "/v1/whoami", pattern == "/v1/apps/{app}",
		pattern == "/v1/event-types", pattern == "/v1/event-types/{name}":
		return read
	case strings.HasPrefix(pattern, "/v1/apps/{app}/endpoints"),
		strings.HasPrefix(pattern, "/v1/apps/{app}/deliveries/"),
		strings.HasPrefix(pattern, "/v1/apps/{app}/jobs/"):
		return true
	case strings.HasPrefix(pattern, "/v1/apps/{app}/events"):
		return read
	}
	return false
}

type portalInput struct {
	ExpiresIn    *int    `json:"expires_in"`
	ReadOnly     *bool   `json:"read_only"`
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
	now := s.o.Now().UTC()
	exp := now.Add(time.Duration(ttl) * time.Second).Truncate(time.Second)
	k := &herald.APIKey{ID: herald.NewID("key_"), Name: "portal session", Scope: scopePortal, AppID: a.ID,
		ExpiresAt: &exp, CreatedAt: now}
	if in.ReadOnly != nil {
		k.ReadOnly = *in.ReadOnly
	}
	key, e := s.storeKey(r, k, "portal session")
	if e != nil {
		return e
	}
	s.audit(r, a.ID, "portal_session.create", k.ID, map[string]any{"read_only": k.ReadOnly, "expires_at": k.ExpiresAt})
	link := s.publicBase(r) + "/portal/"
	if len(theme) > 0 {
		link += "?" + theme.Encode()
	}
	link += "#token=" + key
	writeJSON(w, http.StatusCreated, portalSession{ID: k.ID, URL: link, Token: key, ExpiresAt: exp, AppID: a.ID, ReadOnly: k.ReadOnly})
	return nil
}

// publicBase is where users reach Herald: --public-url, or the scheme and
// host this request came to.
func (s *Server) publicBase(r *http.Request) string {
	if s.o.PublicURL != "" {
		return strings.TrimSuffix(s.o.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
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
		ExpiresAt *time.Time `json:"expires_at"`
	}{p.keyID, p.scope, p.appID, p.readOnly, p.expiresAt})
	return nil
}
