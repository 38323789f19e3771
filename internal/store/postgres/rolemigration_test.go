package postgres

import (
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// TestAPIKeyRoleMigration: portal sessions stored before roles had a
// column get one from what marked them: read-only ones are viewers, the
// developer key name a developer, any other session an admin; other keys
// get none.
func TestAPIKeyRoleMigration(t *testing.T) {
	ctx := t.Context()
	schema := newSchema(t)
	db := openSchema(t, schema)
	now := time.Now().UTC().Truncate(time.Microsecond)
	app := &herald.App{ID: herald.NewID("app_"), Name: "a", CreatedAt: now, UpdatedAt: now}
	if err := db.AppCreate(ctx, app); err != nil {
		t.Fatal(err)
	}
	keys := map[string]*herald.APIKey{}
	for _, k := range []struct {
		want, name, scope string
		readOnly          bool
	}{
		{"viewer", "portal session", "portal", true},
		{"developer", "portal session (developer)", "portal", false},
		{"admin", "portal session", "portal", false},
		{"", "ci", "app", false},
	} {
		key := &herald.APIKey{ID: herald.NewID("key_"), Name: k.name, Scope: k.scope, AppID: app.ID, ReadOnly: k.readOnly,
			Prefix: "hk_x", Hash: "sha256:" + k.want + k.name, CreatedAt: now}
		if err := db.APIKeyCreate(ctx, key); err != nil {
			t.Fatal(err)
		}
		keys[k.want] = key
	}
	// Back to the schema before the migration.
	for _, q := range []string{`ALTER TABLE api_keys DROP COLUMN role`, `DELETE FROM schema_migrations WHERE version = 10`} {
		if _, err := db.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	db = openSchema(t, schema)
	for want, k := range keys {
		got, err := db.APIKeyByHash(ctx, k.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if got.Role != want {
			t.Errorf("%s key %q (read_only %v): role %q, want %q", k.Scope, k.Name, k.ReadOnly, got.Role, want)
		}
	}
}
