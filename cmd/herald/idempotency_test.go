package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestIdempotencyMismatchAcrossRestart: a key reused with another body is
// refused (409 idempotency_mismatch) after the server restarts, on the
// embedded store and on PostgreSQL alike, and the same body still
// answers the first event.
func TestIdempotencyMismatchAcrossRestart(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			dataDir := t.TempDir()
			var extra []string
			if driver == "postgres" {
				extra = []string{"--database-url", testDatabase(t),
					"--encryption-key", "test:" + base64.StdEncoding.EncodeToString(make([]byte, 32))}
			}
			send := func(p *proc, body string) (int, map[string]any) {
				t.Helper()
				req, _ := http.NewRequest("POST", p.url+"/v1/apps/acme/events", bytes.NewBufferString(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Idempotency-Key", "order-7")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				var out map[string]any
				_ = json.Unmarshal(b, &out)
				return resp.StatusCode, out
			}
			const body = `{"event_type":"lead.created","payload":{"id":"7"}}`

			h := startHerald(t, dataDir, extra...)
			h.mustCall(t, "POST", "/v1/apps", map[string]any{"name": "Acme", "uid": "acme"}, 201)
			h.mustCall(t, "POST", "/v1/event-types", map[string]any{"name": "lead.created"}, 201)
			code, first := send(h, body)
			if code != 202 {
				t.Fatalf("first: %d %v", code, first)
			}
			_ = h.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-h.done:
			case <-time.After(30 * time.Second):
				t.Fatal("herald did not stop on SIGTERM")
			}

			h = startHerald(t, dataDir, extra...)
			code, out := send(h, `{"event_type":"lead.created","payload":{"id":"8"}}`)
			if e, _ := out["error"].(map[string]any); code != 409 || e["code"] != "idempotency_mismatch" {
				t.Errorf("another body after the restart: %d %v, want 409 idempotency_mismatch", code, out)
			}
			if code, out := send(h, body); code != 202 || out["id"] != first["id"] {
				t.Errorf("the same body after the restart: %d %v, want 202 with %v", code, out, first["id"])
			}
		})
	}
}
