package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// KeyPrefix starts every API key, so that a key pasted in the wrong place
// (a log, a repository) is recognisable.
const KeyPrefix = "hk_"

// adminKeyID names the admin token where a key's id would go (audit
// entries, principals); key ids start with key_, so it names no key.
const adminKeyID = "admin"

// principal is who is calling: the admin token or an API key.
type principal struct {
	keyID    string // adminKeyID for the admin token
	admin    bool
	appID    string // set for app-scoped keys
	readOnly bool
	// portal marks a customer's portal session: its app's endpoints and
	// their history only.
	portal bool
	// role is a portal session's (roleViewer, roleDeveloper, roleAdmin);
	// empty for other callers.
	role      string
	scope     string
	expiresAt *time.Time
}

type principalKey struct{}

func principalOf(r *http.Request) *principal {
	p, _ := r.Context().Value(principalKey{}).(*principal)
	if p == nil {
		return &principal{}
	}
	return p
}

// HashKey is how keys are stored: a SHA-256 of the whole key. Keys are 32
// random bytes, so a plain hash (no salt, no stretching) cannot be
// reversed, and it allows lookups by hash.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// ParseBearer reads "Bearer <token>" (the scheme in any case, spaces
// around the token ignored).
func ParseBearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// keyLen is the length of every key storeKey makes: the prefix and 32
// random bytes in unpadded base64url.
var keyLen = len(KeyPrefix) + base64.RawURLEncoding.EncodedLen(32)

// wellFormedKey says whether token could be a key Herald made, so that
// anything else is refused without a lookup.
func wellFormedKey(token string) bool {
	if len(token) != keyLen || !strings.HasPrefix(token, KeyPrefix) {
		return false
	}
	for _, c := range []byte(token[len(KeyPrefix):]) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// authenticate finds who is calling. A token reaches the store only if it
// is well formed, not among the hashes recently not found, and its
// client address has not used up its failed authentications: invalid
// tokens, however many, cost no store read beyond that budget.
//
// A key found is kept for 5 seconds (s.keys). A key deleted through this
// node is forgotten at once; on other nodes the entry expires within 5
// seconds, and the next lookup finds nothing: deleting a key deletes the
// portal sessions it minted in the same transaction (store.APIKeyDelete),
// and APIKeyByHash finds no key whose parent is gone. So a revoked key
// and its sessions stop working on every node within 5 seconds; a
// session's expiry is never later than its parent's (createPortalSession).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*principal, *Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "missing Authorization header; send Authorization: Bearer <token>"}
	}
	token, ok := ParseBearer(h)
	if !ok {
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "Authorization header must be Bearer <token>"}
	}
	if s.o.AdminToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.o.AdminToken)) == 1 {
		return &principal{keyID: adminKeyID, admin: true, scope: "admin"}, nil
	}
	invalid := &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "invalid token"}
	if !wellFormedKey(token) {
		return nil, invalid
	}
	hash := HashKey(token)
	k, ok := s.keys.Get(hash)
	if !ok {
		if _, bad := s.badKeys.Get(hash); bad {
			return nil, invalid
		}
		// A key found before is looked up again whatever its address's
		// failures: guesses from the same address (a shared proxy, NAT)
		// do not lock out the keys in use there.
		addr := clientAddr(r)
		if _, known := s.knownKeys.Get(hash); !known {
			if wait, spent := s.failedAuth.empty(addr); spent {
				return nil, rateLimited(w, wait, "too many failed authentications from this address")
			}
		}
		got, err := s.st.APIKeyByHash(r.Context(), hash)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				s.badKeys.Put(hash, struct{}{})
				s.failedAuth.take(addr)
				return nil, invalid
			}
			return nil, storeError(err, "api key")
		}
		k = *got
		s.keys.Put(hash, k)
		s.knownKeys.Put(hash, struct{}{})
	}
	if k.ExpiresAt != nil && !s.o.Now().Before(*k.ExpiresAt) {
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "this API key expired at " + k.ExpiresAt.UTC().Format(time.RFC3339)}
	}
	p := &principal{keyID: k.ID, admin: k.Scope == "admin", appID: k.AppID, readOnly: k.ReadOnly,
		portal: k.Scope == scopePortal, scope: k.Scope, expiresAt: k.ExpiresAt}
	if p.portal {
		p.role = portalRoleOf(&k)
	}
	return p, nil
}

// throttle takes a request from the caller's bucket: an app's keys and
// portal sessions share one (--api-rate-limit), each admin credential has
// its own (--admin-rate-limit, none by default: it is the product's own
// ingest).
func (s *Server) throttle(w http.ResponseWriter, p *principal) *Error {
	if p.appID != "" {
		if wait, ok := s.appLimiter.allow(p.appID); !ok {
			return rateLimited(w, wait, "this app's keys and portal sessions make more than %g requests per second together (--api-rate-limit)", s.o.RateLimit)
		}
		return nil
	}
	if wait, ok := s.adminLimiter.allow(p.keyID); !ok {
		return rateLimited(w, wait, "this admin credential makes more than %g requests per second (--admin-rate-limit)", s.o.AdminRateLimit)
	}
	return nil
}

// withPrincipal stores the caller in the request's context.
func withPrincipal(r *http.Request, p *principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
}

// access says who may call a route.
type access int

const (
	// anyKey: any valid key; app-scoped keys see only their app.
	anyKey access = iota
	// adminOnly: the admin token or an admin-scoped key.
	adminOnly
	// adminWrites: anyone may read, only admins may change (the shared
	// event-type catalog).
	adminWrites
)

// readOnlyPOST lists POST routes that change nothing and so stay open to
// read-only keys.
func readOnlyPOST(pattern string) bool {
	return strings.HasSuffix(pattern, "/preview")
}

func (s *Server) authorize(r *http.Request, pattern string, a access) *Error {
	p := principalOf(r)
	forbidden := func(msg string) *Error {
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: msg}
	}
	// A pull is a GET that changes something: what it hands out is kept
	// from other pulls for its visibility.
	write := r.Method != http.MethodGet && r.Method != http.MethodHead || strings.HasSuffix(pattern, "/pull")
	if p.portal && !portalAllows(r.Method, pattern) {
		return forbidden("a portal session manages its app's endpoints and reads their history; this route is not open to it")
	}
	if p.portal && p.role == roleDeveloper && pattern == "/v1/apps/{app}/endpoints/{id}/secret/rotate" {
		return errRole(r, "rotate signing secrets")
	}
	if write && p.readOnly && !readOnlyPOST(pattern) && !(p.portal && pattern == "/v1/apps/{app}/portal-sessions/{id}") {
		return forbidden("this API key is read-only")
	}
	switch {
	case a == adminOnly && !p.admin:
		return forbidden("this needs the admin token or an admin-scoped API key")
	case a == adminWrites && write && !p.admin:
		return forbidden("the event-type catalog is shared by all apps: changing it needs an admin key")
	}
	return nil
}

type keyInput struct {
	Name      *string `json:"name"`
	Scope     *string `json:"scope"`
	App       *string `json:"app"`
	ReadOnly  *bool   `json:"read_only"`
	ExpiresAt *string `json:"expires_at"`
}

// createKey answers POST /v1/api-keys; the key is in this answer only.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) *Error {
	var in keyInput
	if e := decode(w, r, s.o.MaxBodyBytes, &in); e != nil {
		return e
	}
	if in.Name == nil {
		return errRequired("name")
	}
	if e := validateName("name", *in.Name); e != nil {
		return e
	}
	if in.Scope == nil {
		return errRequired("scope")
	}
	now := s.o.Now().UTC()
	k := &herald.APIKey{ID: herald.NewID("key_"), Name: *in.Name, Scope: *in.Scope, CreatedAt: now}
	switch k.Scope {
	case "admin":
		if in.App != nil {
			return errInvalid("app", "an admin key reaches every app; give app only with scope app")
		}
	case "app":
		if in.App == nil || *in.App == "" {
			return errRequired("app")
		}
		a, err := s.st.AppGet(r.Context(), *in.App)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errInvalid("app", "app %q not found", *in.App)
			}
			return storeError(err, "app")
		}
		k.AppID = a.ID
	default:
		return errInvalid("scope", "scope must be admin or app")
	}
	if in.ReadOnly != nil {
		k.ReadOnly = *in.ReadOnly
	}
	if in.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *in.ExpiresAt)
		if err != nil {
			return errInvalid("expires_at", "expires_at must be an RFC 3339 time such as 2027-01-02T15:04:05Z")
		}
		if !t.After(now) {
			return errInvalid("expires_at", "expires_at must be in the future")
		}
		t = t.UTC()
		k.ExpiresAt = &t
	}
	key, err := s.storeKey(k, func(k *herald.APIKey) error { return s.st.APIKeyCreate(r.Context(), k) })
	if err != nil {
		return storeError(err, "api key")
	}
	s.audit(r, k.AppID, "api_key.create", k.ID, map[string]any{"name": k.Name, "scope": k.Scope, "read_only": k.ReadOnly, "expires_at": k.ExpiresAt})
	writeJSON(w, http.StatusCreated, struct {
		*herald.APIKey
		Key string `json:"key"`
	}{k, key})
	return nil
}

// storeKey gives k a fresh random key, stores k with the key's hash
// through create and returns the key, which is never stored.
func (s *Server) storeKey(k *herald.APIKey, create func(*herald.APIKey) error) (string, error) {
	var raw [32]byte
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(raw[:])
	key := KeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	k.Prefix = key[:len(KeyPrefix)+6]
	k.Hash = HashKey(key)
	if err := create(k); err != nil {
		return "", err
	}
	return key, nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) *Error {
	p, e := listParams(r)
	if e != nil {
		return e
	}
	pg, err := fetchPage(p, func(p store.ListParams) ([]*herald.APIKey, error) { return s.st.APIKeyList(r.Context(), "", p) },
		func(k *herald.APIKey) string { return k.ID })
	if err != nil {
		return storeError(err, "api key")
	}
	writeJSON(w, http.StatusOK, pg)
	return nil
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) *Error {
	id := r.PathValue("id")
	err := s.st.APIKeyDelete(r.Context(), id)
	s.keys.Reset()
	if err != nil {
		return storeError(err, "api key")
	}
	s.audit(r, "", "api_key.delete", id, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
