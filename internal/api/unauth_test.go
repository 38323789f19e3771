package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/store"
)

// countingStore counts the calls that reach the driver, under the
// encryption of secrets: key lookups, and endpoint lists by app (each
// one decrypts the endpoints it returns).
type countingStore struct {
	store.Store
	keyLookups atomic.Int64
	mu         sync.Mutex
	lists      map[string]int
}

func (c *countingStore) wrap(st store.Store) store.Store {
	c.Store, c.lists = st, map[string]int{}
	return c
}

func (c *countingStore) APIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error) {
	c.keyLookups.Add(1)
	return c.Store.APIKeyByHash(ctx, hash)
}

func (c *countingStore) EndpointList(ctx context.Context, appID string, p store.ListParams) ([]*herald.Endpoint, error) {
	c.mu.Lock()
	c.lists[appID]++
	c.mu.Unlock()
	return c.Store.EndpointList(ctx, appID, p)
}

func (c *countingStore) listsOf(appID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists[appID]
}

// get answers a GET without a token through c: status, Retry-After and
// body.
func get(t *testing.T, c *http.Client, url string, h http.Header) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if h != nil {
		req.Header = h
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Retry-After"), string(b)
}

// TestJWKSTellsNothingAndIsCheap: the JWKS route, open to anyone, answers
// an unknown app exactly as a known app without keys, serves a cached
// document (computing one decrypts every endpoint of the app) that a key
// change through this node replaces at once, and is rate-limited.
func TestJWKSTellsNothingAndIsCheap(t *testing.T) {
	t.Parallel()
	var cs countingStore
	s := heraldtest.Start(t, heraldtest.Options{Store: cs.wrap})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "K", "uid": "k"}, nil, 201)
	s.MustDo("POST", "/v1/apps/a/endpoints", map[string]any{"url": "https://example.com/v1"}, nil, 201)
	var ed struct{ ID string }
	s.MustDo("POST", "/v1/apps/k/endpoints", map[string]any{"url": "https://example.com/v1a", "signature_scheme": "v1a"}, &ed, 201)

	known, _, knownBody := get(t, s.Client(), s.URL+"/.well-known/herald/jwks/a", nil)
	unknown, _, unknownBody := get(t, s.Client(), s.URL+"/.well-known/herald/jwks/no-such-app", nil)
	if known != 200 || unknown != known || unknownBody != knownBody || strings.TrimSpace(knownBody) != `{"keys":[]}` {
		t.Fatalf("JWKS of an app without keys: %d %s; of no app: %d %s; want the same 200 with no keys", known, knownBody, unknown, unknownBody)
	}

	appK := s.AppID("k")
	before := cs.listsOf(appK)
	for range 5 {
		if code, _, body := get(t, s.Client(), s.URL+"/.well-known/herald/jwks/k", nil); code != 200 || !strings.Contains(body, `"kid":"`+ed.ID+`"`) {
			t.Fatalf("JWKS of k: %d %s", code, body)
		}
	}
	if n := cs.listsOf(appK) - before; n != 1 {
		t.Errorf("5 JWKS requests read the app's endpoints %d times, want once", n)
	}
	// A rotation through this node shows at once, the old key beside the
	// new during the grace period.
	s.MustDo("POST", "/v1/apps/k/endpoints/"+ed.ID+"/secret/rotate", map[string]any{}, nil, 200)
	if code, _, body := get(t, s.Client(), s.URL+"/.well-known/herald/jwks/k", nil); code != 200 || !strings.Contains(body, `"kid":"`+ed.ID+`.previous"`) {
		t.Fatalf("JWKS after a rotation: %d %s", code, body)
	}

	// A burst from one address is cut short.
	limited := 0
	for range 60 {
		code, retry, body := get(t, s.Client(), s.URL+"/.well-known/herald/jwks/no-such-app", nil)
		if code == 429 {
			if retry == "" || !strings.Contains(body, "rate_limited") {
				t.Fatalf("429 without Retry-After or code: %q %s", retry, body)
			}
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("60 JWKS requests in a row from one address: none refused")
	}
}

// TestInvalidTokensNeverReachTheStore: tokens that cannot be keys are
// refused without a lookup, a token not found is not looked up again,
// and an address guessing tokens is stopped after a few lookups; keys
// already in use keep working meanwhile.
func TestInvalidTokensNeverReachTheStore(t *testing.T) {
	t.Parallel()
	var cs countingStore
	s := heraldtest.Start(t, heraldtest.Options{Store: cs.wrap})
	s.MustDo("POST", "/v1/apps", map[string]any{"name": "A", "uid": "a"}, nil, 201)
	key := mkKey(t, s, map[string]any{"name": "a", "scope": "app", "app": "a"})
	if got := s.DoWith("GET", "/v1/whoami", nil, nil, bearer(key)); got != 200 {
		t.Fatalf("valid key: %d", got)
	}
	guess := func() string {
		var b [32]byte
		_, _ = rand.Read(b[:])
		return "hk_" + base64.RawURLEncoding.EncodeToString(b[:])
	}

	start := cs.keyLookups.Load()
	for _, tok := range []string{"hk_nope", "hk_" + strings.Repeat("A", 42), "hk_" + strings.Repeat("A", 44),
		"hk_" + strings.Repeat("+", 43), "xx_" + strings.Repeat("A", 43), strings.Repeat("hk_", 100), key[:len(key)-1]} {
		for range 20 {
			if got := s.DoWith("GET", "/v1/whoami", nil, nil, bearer(tok)); got != 401 {
				t.Fatalf("malformed token %q: %d", tok, got)
			}
		}
	}
	if n := cs.keyLookups.Load() - start; n != 0 {
		t.Fatalf("140 malformed tokens made %d key lookups, want none", n)
	}

	start = cs.keyLookups.Load()
	one := guess()
	for range 50 {
		if got := s.DoWith("GET", "/v1/whoami", nil, nil, bearer(one)); got != 401 {
			t.Fatalf("unknown key: %d", got)
		}
	}
	if n := cs.keyLookups.Load() - start; n != 1 {
		t.Fatalf("one unknown key sent 50 times: %d lookups, want 1", n)
	}

	start = cs.keyLookups.Load()
	limited := 0
	for range 100 {
		var e apiError
		switch got := s.DoWith("GET", "/v1/whoami", nil, &e, bearer(guess())); {
		case got == 429 && e.Error.Code == "rate_limited":
			limited++
		case got != 401:
			t.Fatalf("guessed key: %d %+v", got, e)
		}
		// The key in use is not held up by the guesses.
		if got := s.DoWith("GET", "/v1/whoami", nil, nil, bearer(key)); got != 200 {
			t.Fatalf("valid key during the guessing: %d", got)
		}
	}
	// The address had used one failure above; the burst is 20, refilled
	// at one a second.
	if n := cs.keyLookups.Load() - start; n > 25 || limited < 70 {
		t.Fatalf("100 guessed keys from one address: %d lookups, %d refused; want at most ~20 lookups", n, limited)
	}
	// Deleting a key empties the cache of keys; the key in use is looked
	// up again, not held up by the address's failures.
	var other struct{ ID string }
	s.MustDo("POST", "/v1/api-keys", map[string]any{"name": "other", "scope": "app", "app": "a"}, &other, 201)
	s.MustDo("DELETE", "/v1/api-keys/"+other.ID, nil, nil, 204)
	before := cs.keyLookups.Load()
	if got := s.DoWith("GET", "/v1/whoami", nil, nil, bearer(key)); got != 200 || cs.keyLookups.Load() != before+1 {
		t.Fatalf("valid key after the cache was emptied: %d, %d lookups", got, cs.keyLookups.Load()-before)
	}
}

// TestReadyzSaysNoMore: /readyz, open to anyone, says ready or not; why
// goes to the log.
func TestReadyzSaysNoMore(t *testing.T) {
	t.Parallel()
	s := heraldtest.Start(t, heraldtest.Options{})
	if code, _, body := get(t, s.Client(), s.URL+"/readyz", nil); code != 200 || strings.TrimSpace(body) != `{"status":"ready"}` {
		t.Fatalf("readyz: %d %s", code, body)
	}
	s.Store.Close()
	// A probe's result serves for a quarter of a second.
	deadline := time.Now().Add(2 * time.Second)
	for {
		code, _, body := get(t, s.Client(), s.URL+"/readyz", nil)
		if code == 503 && strings.TrimSpace(body) == `{"status":"unavailable","store":"unreachable"}` {
			break
		}
		if code != 200 || time.Now().After(deadline) {
			t.Fatalf("readyz with the store closed: %d %s, want 503 and the status alone", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
