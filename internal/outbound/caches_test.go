package outbound_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
)

// The destination's caches are keyed by what tenants set: signing
// secrets, TLS settings, OAuth2 credentials. Each test below feeds one of
// them several times its bound of distinct values and checks the memory
// still held afterwards: the caches never shrank, so it grew with every
// value. These tests do not run in parallel, so that only their own
// memory counts.

// heldAfter returns how many more bytes of heap are live after f than
// before it, keeping keep (the destination under test) alive throughout.
// Two collections also empty the sync.Pools (the signers' HMAC states).
func heldAfter(keep any, f func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// TestSignersBounded previews one endpoint with 20,000 secrets of 1 KB
// (raw secrets may be that long): the parsed signers held stay within the
// cache's 4 MiB, where every one was (about 45 MB).
func TestSignersBounded(t *testing.T) {
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now})
	d := newDelivery(t, "https://example.com/hook")
	pad := strings.Repeat("k", 1000)
	held := heldAfter(h, func() {
		for i := range 20_000 {
			d.Endpoint.Secret = fmt.Sprintf("%s%06d", pad, i)
			if _, err := h.Preview(context.Background(), d); err != nil {
				t.Fatal(err)
			}
		}
	})
	if held > 10<<20 {
		t.Fatalf("20,000 secrets left %d MB held", held>>20)
	}
}

// TestTLSConfigsBounded previews 4,000 versions of an endpoint with a CA
// bundle of eight certificates: at most 1,000 parsed bundles are held,
// where every version's was (about 30 MB).
func TestTLSConfigsBounded(t *testing.T) {
	h := newHTTP(t, newStore(t), outbound.HTTPOptions{Now: newClock().Now})
	var bundle strings.Builder
	for i := range 8 {
		_, certPEM, _ := clientCert(t, fmt.Sprint("ca-", i))
		bundle.WriteString(certPEM)
	}
	d := newDelivery(t, "https://example.com/hook")
	d.Endpoint.TLSCABundle = bundle.String()
	held := heldAfter(h, func() {
		for i := range 4_000 {
			d.Endpoint.UpdatedAt = eventTime.Add(time.Duration(i) * time.Second)
			if _, err := h.Preview(context.Background(), d); err != nil {
				t.Fatal(err)
			}
		}
	})
	if held > 15<<20 {
		t.Fatalf("4,000 endpoint versions left %d MB held", held>>20)
	}
}

// TestTokensBounded sends for 600 OAuth2 credentials whose token endpoint
// answers 32 KB tokens: the tokens held stay within the cache's 4 MiB,
// where every one was (20 MB). A token forgotten is read again from the
// store, not fetched again.
func TestTokensBounded(t *testing.T) {
	st := newStore(t)
	h := newHTTP(t, st, outbound.HTTPOptions{Now: newClock().Now})
	token := strings.Repeat("t", 32<<10)
	var fetched int
	tokens := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched++
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": token, "expires_in": 3600})
	}))
	// A receiver keeping nothing: the requests carry the tokens.
	rc := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	d := newDelivery(t, rc.URL)
	auth := func(i int) *herald.EndpointAuth {
		return &herald.EndpointAuth{Type: "oauth2_client_credentials", TokenURL: tokens.URL, ClientID: fmt.Sprint("client-", i), ClientSecret: "s"}
	}
	held := heldAfter(h, func() {
		for i := range 600 {
			d.Endpoint.Auth = auth(i)
			wantOK(t, h.Send(context.Background(), d))
		}
	})
	if held > 10<<20 {
		t.Fatalf("600 credentials left %d MB held", held>>20)
	}
	// The first credential's token was let go in memory, and is still
	// the store's.
	d.Endpoint.Auth = auth(0)
	wantOK(t, h.Send(context.Background(), d))
	if fetched != 600 {
		t.Fatalf("%d tokens fetched for 600 credentials", fetched)
	}
}
