package sealed_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/sealed"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/storetest"
)

func keyring(t *testing.T, s string) *secrets.Keyring {
	k, err := secrets.ParseKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	raw, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	a, _ := secrets.GenerateKey()
	b, _ := secrets.GenerateKey()
	now := time.Now().UTC()
	app := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: "A", CreatedAt: now, UpdatedAt: now}
	if err := raw.AppCreate(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: app.ID, URL: "https://example.com", Enabled: true,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", EventTypes: []string{}, CreatedAt: now, UpdatedAt: now}
	ep.Headers = map[string]string{"Authorization": "Bearer tok-123"}
	ep.Preset, ep.PresetOptions = "chatwork", map[string]string{"room_id": "1", "api_token": "cw-secret"}
	if err := sealed.New(raw, keyring(t, a)).EndpointCreate(ctx, ep); err != nil {
		t.Fatal(err)
	}
	// The driver holds ciphertext; the caller's endpoint is untouched.
	stored, _ := raw.EndpointGet(ctx, app.ID, ep.ID)
	if !secrets.IsEncrypted(stored.Secret) || !secrets.IsEncrypted(stored.Headers["Authorization"]) ||
		!secrets.IsEncrypted(stored.PresetOptions["api_token"]) || stored.PresetOptions["room_id"] != "1" || ep.Secret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" {
		t.Fatalf("stored %+v", stored)
	}
	// New key first, old still readable: re-encrypt moves everything.
	both := sealed.New(raw, keyring(t, b+","+a))
	n, err := both.Reencrypt(ctx)
	if err != nil || n != 1 {
		t.Fatalf("reencrypt: %d %v", n, err)
	}
	if n, _ := both.Reencrypt(ctx); n != 0 {
		t.Fatalf("second reencrypt rewrote %d", n)
	}
	got, err := sealed.New(raw, keyring(t, b)).EndpointGet(ctx, app.ID, ep.ID)
	if err != nil || got.Secret != ep.Secret || got.Headers["Authorization"] != "Bearer tok-123" || got.PresetOptions["api_token"] != "cw-secret" {
		t.Fatalf("read with the new key alone: %+v %v", got, err)
	}
	if _, err := sealed.New(raw, keyring(t, a)).EndpointGet(ctx, app.ID, ep.ID); err == nil || !strings.Contains(err.Error(), "not in") {
		t.Fatalf("read with the old key alone: %v", err)
	}
}

// openSealed opens a fresh SQLite file behind the decorator, with a key
// of its own, closed when the test ends.
func openSealed(t *testing.T) store.Store {
	t.Helper()
	raw, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := raw.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sealed.New(raw, keyring(t, key))
}

// TestStore runs the conformance suite through the decorator: encrypting
// credentials must change nothing a caller of the store can observe.
func TestStore(t *testing.T) {
	storetest.Run(t, openSealed)
}

// A broker destination's credentials reach the driver encrypted (the
// whole URL, since it may carry a password), bound to their endpoint, and
// come back in clear; the other fields stay readable.
func TestDestinationSealed(t *testing.T) {
	ctx := context.Background()
	raw, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	key, _ := secrets.GenerateKey()
	st := sealed.New(raw, keyring(t, key))
	now := time.Now().UTC()
	app := &herald.App{ID: herald.NewID(herald.PrefixApp), Name: "A", CreatedAt: now, UpdatedAt: now}
	if err := raw.AppCreate(ctx, app); err != nil {
		t.Fatal(err)
	}
	d := &herald.Destination{URL: "nats://u:url-pw@127.0.0.1:4222", Password: "pw-1", CredentialsJSON: `{"private_key":"k"}`, SecretAccessKey: "sak-1", Subject: "s"}
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), AppID: app.ID, Kind: herald.KindNATS, Enabled: true,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", EventTypes: []string{}, CreatedAt: now, UpdatedAt: now}
	ep.Destination = d.Clone()
	if err := st.EndpointCreate(ctx, ep); err != nil {
		t.Fatal(err)
	}
	stored, _ := raw.EndpointGet(ctx, app.ID, ep.ID)
	sd := stored.Destination
	for _, v := range []string{sd.URL, sd.Password, sd.CredentialsJSON, sd.SecretAccessKey} {
		if !secrets.IsEncrypted(v) {
			t.Errorf("stored in clear: %q", v)
		}
	}
	if sd.Subject != "s" || ep.Destination.Password != "pw-1" {
		t.Errorf("stored %+v, caller's %+v", sd, ep.Destination)
	}
	got, err := st.EndpointGet(ctx, app.ID, ep.ID)
	if err != nil || !reflect.DeepEqual(got.Destination, d) {
		t.Fatalf("read back %+v %v", got.Destination, err)
	}
}
