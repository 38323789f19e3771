package main

import (
	"encoding/json"
	"testing"
	"time"
)

// callAs calls p's API with the given bearer token.
func callAs(t *testing.T, p *proc, token, method, path string, body any) (int, []byte) {
	t.Helper()
	code, b, err := p.callAs(token, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, b
}

// TestClusterRevokedKeyEndsSessions: a portal session minted with an app
// key stops working on every node within 5 seconds of the key's deletion
// (the nodes keep a key they found for 5 seconds), and at once on the
// node that deleted it: the store deletes the key's sessions with it.
func TestClusterRevokedKeyEndsSessions(t *testing.T) {
	db := testDatabase(t)
	a := startNode(t, db, "--public-url", "https://hooks.example.com")
	b := startNode(t, db, "--public-url", "https://hooks.example.com")
	a.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
	var key struct{ ID, Key string }
	if err := json.Unmarshal(a.mustCall(t, "POST", "/v1/api-keys", map[string]any{"name": "product", "scope": "app", "app": "acme"}, 201), &key); err != nil {
		t.Fatal(err)
	}
	code, body := callAs(t, a, key.Key, "POST", "/v1/apps/acme/portal-sessions", map[string]any{"expires_in": 3600})
	var session struct{ Token string }
	if err := json.Unmarshal(body, &session); code != 201 || err != nil {
		t.Fatalf("mint a session with the app key: %d %s", code, body)
	}
	// Node b has the session in its cache when the key goes.
	for _, p := range []*proc{a, b} {
		if code, body := callAs(t, p, session.Token, "GET", "/v1/apps/acme/endpoints", nil); code != 200 {
			t.Fatalf("the session on %s: %d %s", p.url, code, body)
		}
	}
	deleted := time.Now()
	a.mustCall(t, "DELETE", "/v1/api-keys/"+key.ID, nil, 204)
	if code, _ := callAs(t, a, session.Token, "GET", "/v1/apps/acme/endpoints", nil); code != 401 {
		t.Fatalf("the session on the node that deleted its key: %d, want 401 at once", code)
	}
	for {
		code, body := callAs(t, b, session.Token, "GET", "/v1/apps/acme/endpoints", nil)
		if code == 401 {
			t.Logf("the other node refused the session %v after its key's deletion", time.Since(deleted).Round(time.Millisecond))
			break
		}
		if code != 200 {
			t.Fatalf("the session on the other node: %d %s", code, body)
		}
		// 5 s of cache, and a little for the requests themselves.
		if time.Since(deleted) > 6*time.Second {
			t.Fatal("the other node still accepts the session 6 s after its key was deleted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
