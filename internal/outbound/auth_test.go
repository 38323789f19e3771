package outbound_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
)

// Basic and bearer credentials reach the receiver and are masked in the
// recorded request.
func TestBasicAndBearer(t *testing.T) {
	t.Parallel()
	rc := &receiver{answer: func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if r.URL.Path == "/basic" && (!ok || u != "user" || p != "p@ss-w0rd") ||
			r.URL.Path == "/bearer" && r.Header.Get("Authorization") != "Bearer static-token-0123456789" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}}
	srv := serve(t, rc)
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	for _, c := range []struct {
		path   string
		auth   herald.EndpointAuth
		secret string // what must not be recorded
		scheme string
	}{
		{"/basic", herald.EndpointAuth{Type: "basic", Username: "user", Password: "p@ss-w0rd"},
			base64.StdEncoding.EncodeToString([]byte("user:p@ss-w0rd")), "Basic "},
		{"/bearer", herald.EndpointAuth{Type: "bearer", Token: "static-token-0123456789"}, "static-token-0123456789", "Bearer "},
	} {
		d := newDelivery(t, srv.URL+c.path)
		d.Endpoint.Auth = &c.auth
		o := h.Send(context.Background(), d)
		wantOK(t, o)
		if a := o.Request.Headers["Authorization"]; !strings.HasPrefix(a, c.scheme) || strings.Contains(a, c.secret) {
			t.Errorf("%s: recorded Authorization %q, want it masked", c.path, a)
		}
	}
}

// tokenServer is an OAuth2 token endpoint: it checks the client
// credentials and issues access-token-1, access-token-2, ... valid an hour.
type tokenServer struct {
	issued atomic.Int64
}

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" || f.Get("client_id") != "cid" || f.Get("client_secret") != "csecret" ||
		f.Get("scope") != "hooks:write" || f.Get("audience") != "https://api.example.com" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":"access-token-%d","token_type":"Bearer","expires_in":3600}`, ts.issued.Add(1))
}

// start serves the token endpoint and returns credentials for it.
func (ts *tokenServer) start(t *testing.T) *herald.EndpointAuth {
	return &herald.EndpointAuth{Type: "oauth2_client_credentials", TokenURL: serve(t, ts).URL + "/token",
		ClientID: "cid", ClientSecret: "csecret", Scope: "hooks:write", Audience: "https://api.example.com"}
}

// api is a receiver that accepts the access tokens it is told to, and
// any when told none.
type api struct {
	mu    sync.Mutex
	valid []string
	seen  []string
}

func (a *api) accept(toks ...string) {
	a.mu.Lock()
	a.valid = toks
	a.mu.Unlock()
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if q := r.URL.Query().Get("access_token"); q != "" {
		tok = q
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, tok)
	if len(a.valid) > 0 && !slices.Contains(a.valid, tok) {
		w.WriteHeader(http.StatusUnauthorized)
	}
}

func (a *api) tokens() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// countingStore counts the token reads that reach the store.
type countingStore struct {
	outbound.Store
	tokenGets atomic.Int64
}

func (s *countingStore) TokenGet(ctx context.Context, key string) (string, time.Time, error) {
	s.tokenGets.Add(1)
	return s.Store.TokenGet(ctx, key)
}

// One token serves many sends until shortly before it expires.
func TestOAuth2TokenReused(t *testing.T) {
	t.Parallel()
	var ts tokenServer
	auth := ts.start(t)
	rc := &api{valid: []string{"access-token-1"}}
	base := serve(t, rc).URL
	clk := newClock()
	st := &countingStore{Store: newStore(t)}
	h := newHTTP(t, st, outbound.HTTPOptions{Now: clk.Now})
	d := newDelivery(t, base)
	d.Endpoint.Auth = auth
	for range 3 {
		o := h.Send(context.Background(), d)
		wantOK(t, o)
		if a := o.Request.Headers["Authorization"]; !strings.HasPrefix(a, "Bearer ") || strings.Contains(a, "access-token-1") {
			t.Fatalf("recorded Authorization %q, want it masked", a)
		}
	}
	if n, reads := ts.issued.Load(), st.tokenGets.Load(); n != 1 || reads != 1 {
		t.Fatalf("%d token requests and %d store reads for 3 sends, want 1 and 1 (then from memory)", n, reads)
	}
	// An hour later the token has expired: a new one is fetched before
	// sending (the receiver would take either).
	clk.Add(time.Hour)
	rc.accept()
	wantOK(t, h.Send(context.Background(), d))
	if got := rc.tokens(); ts.issued.Load() != 2 || len(got) != 4 || got[3] != "access-token-2" {
		t.Fatalf("after expiry: %d tokens issued, receiver saw %q", ts.issued.Load(), got)
	}
}

// A receiver that refuses the token with 401 gets one more try, with a
// fresh token, within the same attempt; never a second refresh.
func TestOAuth2RefreshOnceOn401(t *testing.T) {
	t.Parallel()
	var ts tokenServer
	auth := ts.start(t)
	rc := &api{valid: []string{"access-token-1"}}
	base := serve(t, rc).URL
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	d := newDelivery(t, base)
	d.Endpoint.Auth = auth
	wantOK(t, h.Send(context.Background(), d))

	// The receiver revokes the token.
	rc.accept("access-token-2")
	wantOK(t, h.Send(context.Background(), d))
	if got := rc.tokens(); ts.issued.Load() != 2 || strings.Join(got, " ") != "access-token-1 access-token-1 access-token-2" {
		t.Fatalf("%d tokens issued, receiver saw %q", ts.issued.Load(), got)
	}

	// A receiver that refuses every token: one refresh, then the 401
	// is the answer.
	rc.accept("none")
	o := h.Send(context.Background(), d)
	if o.Status != http.StatusUnauthorized || o.Kind != herald.ErrorKindHTTPStatus {
		t.Fatalf("outcome %+v, want the 401", o)
	}
	if n, sent := ts.issued.Load(), len(rc.tokens()); n != 3 || sent != 5 {
		t.Fatalf("%d tokens issued and %d requests sent, want 3 and 5", n, sent)
	}
}

// Two nodes on one store share a token: the second fetches none.
func TestOAuth2TokenSharedThroughStore(t *testing.T) {
	t.Parallel()
	var ts tokenServer
	auth := ts.start(t)
	rc := &api{valid: []string{"access-token-1"}}
	base := serve(t, rc).URL
	st := newStore(t)
	node1 := newHTTP(t, st, outbound.HTTPOptions{})
	node2 := newHTTP(t, st, outbound.HTTPOptions{})
	d := newDelivery(t, base)
	d.Endpoint.Auth = auth
	wantOK(t, node1.Send(context.Background(), d))
	wantOK(t, node2.Send(context.Background(), d))
	if n := ts.issued.Load(); n != 1 {
		t.Fatalf("%d token requests from two nodes, want 1", n)
	}
}

// With token_in query the token goes in access_token, beside the URL's
// own query, and is masked in the recorded URL.
func TestOAuth2TokenInQuery(t *testing.T) {
	t.Parallel()
	var ts tokenServer
	auth := ts.start(t)
	auth.TokenIn = "query"
	rc := &api{valid: []string{"access-token-1"}}
	base := serve(t, rc).URL
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	d := newDelivery(t, base+"/hook?x=1")
	d.Endpoint.Auth = auth
	o := h.Send(context.Background(), d)
	wantOK(t, o)
	u, err := url.Parse(o.Request.URL)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); strings.Contains(o.Request.URL, "access-token-1") || q.Get("access_token") != "********" || q.Get("x") != "1" || u.Path != "/hook" {
		t.Fatalf("recorded URL %s", o.Request.URL)
	}
	if _, ok := o.Request.Headers["Authorization"]; ok {
		t.Fatalf("token sent in a header as well: %v", o.Request.Headers)
	}
}

// A token endpoint that fails is an auth failure, and nothing is sent.
func TestOAuth2TokenEndpointFails(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	srv := serve(t, rc)
	var ts tokenServer
	good := ts.start(t)
	noToken := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"token_type":"Bearer"}`)
	})).URL
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{})
	for _, c := range []struct {
		name string
		set  func(a *herald.EndpointAuth)
		want string
	}{
		{"refused", func(a *herald.EndpointAuth) { a.ClientSecret = "wrong" }, `answered 401: {"error":"invalid_client"}`},
		{"no token", func(a *herald.EndpointAuth) { a.TokenURL = noToken + "/token" }, "gave no access_token"},
		{"unreachable", func(a *herald.EndpointAuth) { a.TokenURL = "http://127.0.0.1:1/token" }, "token request to"},
	} {
		a := *good
		c.set(&a)
		d := newDelivery(t, srv.URL)
		d.Endpoint.Auth = &a
		o := h.Send(context.Background(), d)
		if o.Kind != herald.ErrorKindAuth || !strings.Contains(o.Error, c.want) || o.Status != 0 || o.Response != nil || o.Aborted {
			t.Errorf("%s: outcome %+v, want kind auth with %q", c.name, o, c.want)
		}
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("%d requests sent without a token", n)
	}
}
