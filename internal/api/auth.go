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
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"golang.org/x/time/rate"
)

// KeyPrefix starts every API key, so that a key pasted in the wrong place
// (a log, a repository) is recognisable.
const KeyPrefix = "hk_"

// principal is who is calling: the admin token or an API key.
type principal struct {
	keyID    string // "admin" for the admin token
	admin    bool
	appID    string // set for app-scoped keys
	readOnly bool
	// portal marks a customer's portal session: its app's endpoints and
	// their history only.
	portal    bool
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

func (s *Server) authenticate(r *http.Request) (*principal, *Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "missing Authorization header; send Authorization: Bearer <token>"}
	}
	token, ok := ParseBearer(h)
	if !ok {
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "Authorization header must be Bearer <token>"}
	}
	if s.o.AdminToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.o.AdminToken)) == 1 {
		return &principal{keyID: "admin", admin: true, scope: "admin"}, nil
	}
	invalid := &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "invalid token"}
	if !strings.HasPrefix(token, KeyPrefix) || len(token) > 200 {
		return nil, invalid
	}
	hash := HashKey(token)
	k, ok := s.keys.Get(hash)
	if !ok {
		got, err := s.st.APIKeyByHash(r.Context(), hash)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, invalid
			}
			return nil, storeError(err, "api key")
		}
		k = *got
		s.keys.Put(hash, k)
	}
	if k.ExpiresAt != nil && !s.o.Now().Before(*k.ExpiresAt) {
		return nil, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "this API key expired at " + k.ExpiresAt.UTC().Format(time.RFC3339)}
	}
	return &principal{keyID: k.ID, admin: k.Scope == "admin", appID: k.AppID, readOnly: k.ReadOnly,
		portal: k.Scope == scopePortal, scope: k.Scope, expiresAt: k.ExpiresAt}, nil
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
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if p.portal && !portalAllows(r.Method, pattern) {
		return forbidden("a portal session manages its app's endpoints and reads their history; this route is not open to it")
	}
	if write && p.readOnly && !readOnlyPOST(pattern) {
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
	key, e := s.storeKey(r, k, "api key")
	if e != nil {
		return e
	}
	s.audit(r, k.AppID, "api_key.create", k.ID, map[string]any{"name": k.Name, "scope": k.Scope, "read_only": k.ReadOnly, "expires_at": k.ExpiresAt})
	writeJSON(w, http.StatusCreated, struct {
		*herald.APIKey
		Key string `json:"key"`
	}{k, key})
	return nil
}

// storeKey gives k a fresh random key, stores k with the key's hash and
// returns the key, which is never stored.
func (s *Server) storeKey(r *http.Request, k *herald.APIKey, what string) (string, *Error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "could not generate a key"}
	}
	key := KeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	k.Prefix = key[:len(KeyPrefix)+6]
	k.Hash = HashKey(key)
	if err := s.st.APIKeyCreate(r.Context(), k); err != nil {
		return "", storeError(err, what)
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

// keyLimiter holds a token bucket per key: one busy integration cannot
// starve the API for the others.
type keyLimiter struct {
	rate float64
	mu   sync.Mutex
	m    map[string]*rate.Limiter
}

func newKeyLimiter(r float64) *keyLimiter { return &keyLimiter{rate: r, m: map[string]*rate.Limiter{}} }

// allow takes a token for key, or says how long to wait for one.
func (l *keyLimiter) allow(key string) (time.Duration, bool) {
	if l.rate <= 0 {
		return 0, true
	}
	l.mu.Lock()
	lim := l.m[key]
	if lim == nil {
		if len(l.m) > 100_000 {
			clear(l.m)
		}
		lim = rate.NewLimiter(rate.Limit(l.rate), max(1, int(l.rate)))
		l.m[key] = lim
	}
	l.mu.Unlock()
	now := time.Now()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}
