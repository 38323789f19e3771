package outbound

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/cache"
	"github.com/heraldhq/herald/internal/sender"
)

// errAuth marks failures to get an endpoint's access token, recorded with
// error_kind auth and retried like a network failure.
var errAuth = errors.New("auth")

// tokens caches OAuth2 access tokens per credential, shared by every
// worker: one token serves many deliveries until shortly before it
// expires, and only one fetch runs at a time per credential. It keeps at
// most maxTokens credentials, their keys and tokens at most
// maxTokenBytes (a token endpoint is the tenant's, and may answer a token
// of any length): one forgotten is read again from the store, where every
// node shares it.
type tokens struct {
	once sync.Once
	m    *cache.LRU[string, *tokenEntry]
	// mu makes finding or making a credential's entry one step, so that
	// workers asking at once share one entry and one fetch.
	mu sync.Mutex
}

const (
	maxTokens     = 1_000
	maxTokenBytes = 4 << 20
)

type tokenEntry struct {
	mu      sync.Mutex // held while fetching
	token   string
	expires time.Time
	// size is the entry's weight in the cache: its credential key and
	// token, set when the token is.
	size int64
}

func (t *tokens) entries() *cache.LRU[string, *tokenEntry] {
	t.once.Do(func() {
		t.m = cache.NewLRU(maxTokens, cache.LRUOptions[string, *tokenEntry]{MaxCost: maxTokenBytes,
			Cost: func(k string, e *tokenEntry) int64 { return int64(len(k)) + e.size }})
	})
	return t.m
}

// entry returns the credential's entry, made and kept if there is none.
func (t *tokens) entry(k string) *tokenEntry {
	m := t.entries()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := m.Get(k)
	if !ok {
		e = &tokenEntry{}
		m.Put(k, e)
	}
	return e
}

// set keeps a token in the entry, and weighs the entry again with it.
func (t *tokens) set(k string, e *tokenEntry, token string, expires time.Time) {
	e.token, e.expires, e.size = token, expires, int64(len(token))
	t.entries().Put(k, e)
}

func credentialKey(a *herald.EndpointAuth) string {
	return strings.Join([]string{a.TokenURL, a.ClientID, a.ClientSecret, a.Scope, a.Audience}, "\x00")
}

// get returns a valid token for the credential: from memory, else from
// the store (another node may have fetched it), else fetched and shared
// (a fresh fetch too when force is set, after the receiver refused it).
func (t *tokens) get(ctx context.Context, snd Sender, st Store, a *herald.EndpointAuth, force bool, now func() time.Time) (string, error) {
	k := credentialKey(a)
	e := t.entry(k)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !force && e.token != "" && now().Before(e.expires) {
		return e.token, nil
	}
	sum := sha256.Sum256([]byte(k))
	key := hex.EncodeToString(sum[:])
	if !force {
		if tok, exp, err := st.TokenGet(ctx, key); err == nil && now().Before(exp) {
			t.set(k, e, tok, exp)
			return tok, nil
		}
	}
	tok, ttl, err := fetchToken(ctx, snd, a)
	if err != nil {
		return "", err
	}
	// Renew a little before the server's expiry, so that no request goes
	// out with a token about to lapse.
	t.set(k, e, tok, now().Add(max(ttl-30*time.Second, ttl/2)))
	// Shared best effort: a node that misses it fetches its own.
	_ = st.TokenPut(ctx, key, e.token, e.expires)
	return tok, nil
}

// fetchToken asks the token endpoint for a client-credentials token.
func fetchToken(ctx context.Context, snd Sender, a *herald.EndpointAuth) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {a.ClientID}, "client_secret": {a.ClientSecret}}
	if a.Scope != "" {
		form.Set("scope", a.Scope)
	}
	if a.Audience != "" {
		form.Set("audience", a.Audience)
	}
	res := snd.Send(ctx, &sender.Request{
		Method: http.MethodPost, URL: a.TokenURL, Body: []byte(form.Encode()), Timeout: 15 * time.Second,
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}},
	})
	if res.Err != nil {
		// Both wrapped: a cancelled context must still show, so that an
		// attempt cut short while fetching counts as aborted.
		return "", 0, fmt.Errorf("%w: token request to %s: %w", errAuth, a.TokenURL, res.Err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return "", 0, fmt.Errorf("%w: token endpoint %s answered %d: %s", errAuth, a.TokenURL, res.StatusCode, truncate(string(res.Body), 200))
	}
	var body struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil || body.AccessToken == "" {
		return "", 0, fmt.Errorf("%w: token endpoint %s gave no access_token", errAuth, a.TokenURL)
	}
	ttl := time.Duration(body.ExpiresIn * float64(time.Second))
	if ttl <= 0 {
		ttl = time.Hour
	}
	return body.AccessToken, ttl, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// authorize adds the endpoint's credentials to a request.
func (h *HTTP) authorize(ctx context.Context, a *herald.EndpointAuth, r *sender.Request, force bool) error {
	switch a.Type {
	case "basic":
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password)))
	case "bearer":
		r.Header.Set("Authorization", "Bearer "+a.Token)
	case "oauth2_client_credentials":
		tok, err := h.tokens.get(ctx, h.snd, h.st, a, force, h.now)
		if err != nil {
			return err
		}
		if a.TokenIn == "query" {
			u, err := url.Parse(r.URL)
			if err != nil {
				return err
			}
			q := u.Query()
			q.Set("access_token", tok)
			u.RawQuery = q.Encode()
			r.URL = u.String()
		} else {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	return nil
}
