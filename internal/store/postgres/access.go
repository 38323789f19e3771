package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

const apiKeyCols = `id, name, scope, app_id, read_only, expires_at, prefix, hash, created_at`

func scanAPIKey(s scanner) (*herald.APIKey, error) {
	var (
		k     herald.APIKey
		appID *string
	)
	if err := s.Scan(&k.ID, &k.Name, &k.Scope, &appID, &k.ReadOnly, &k.ExpiresAt, &k.Prefix, &k.Hash, &k.CreatedAt); err != nil {
		return nil, err
	}
	if appID != nil {
		k.AppID = *appID
	}
	k.ExpiresAt = utcPtr(k.ExpiresAt)
	k.CreatedAt = k.CreatedAt.UTC()
	return &k, nil
}

// APIKeyCreate implements store.Store. A key of one app is inserted only
// if the app exists (ErrNotFound otherwise), under a key-share lock of its
// row, as endpoints are: a key left behind by a concurrent AppDelete would
// outlive its app and could read the audit entries the app leaves behind.
// An installation-wide key (AppID empty, stored as NULL) needs no app.
func (db *DB) APIKeyCreate(ctx context.Context, k *herald.APIKey) error {
	var (
		tag pgconn.CommandTag
		err error
	)
	if k.AppID == "" {
		tag, err = db.pool.Exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`)
			VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8)`,
			k.ID, k.Name, k.Scope, k.ReadOnly, tsPtr(k.ExpiresAt), k.Prefix, k.Hash, ts(k.CreatedAt))
	} else {
		tag, err = db.pool.Exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`)
			SELECT $1, $2, $3, id, $4::boolean, $5::timestamptz, $6, $7, $8::timestamptz
			FROM apps WHERE id = $9 FOR KEY SHARE`,
			k.ID, k.Name, k.Scope, k.ReadOnly, tsPtr(k.ExpiresAt), k.Prefix, k.Hash, ts(k.CreatedAt), k.AppID)
	}
	if isUnique(err) {
		// The id or the hash is taken; the message names the id only:
		// the hash stands for a secret.
		return fmt.Errorf("api key %q: %w", k.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("api key create: %w", err)
	}
	return mustAffect(tag, "app %q", k.AppID)
}

// APIKeyByHash implements store.Store. It runs on every request made with
// a key, and reads one row through the hash's unique index.
func (db *DB) APIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error) {
	k, err := scanAPIKey(db.pool.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("api key: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("api key by hash: %w", err)
	}
	return k, nil
}

// listQuery adds to sel (a SELECT without WHERE) the app filter when appID
// is set, the cursor and the order of the lists of keys and of audit
// entries: newest first by id, the cursor being the last id seen. An
// app's rows come from the table's (app_id, id) index, all rows from its
// primary key.
func listQuery(sel, appID string, p store.ListParams) (string, []any) {
	var args params
	q := sel + ` WHERE true`
	if appID != "" {
		q += ` AND app_id = ` + args.add(appID)
	}
	if p.Cursor != "" {
		q += ` AND id < ` + args.add(p.Cursor)
	}
	q += ` ORDER BY id DESC LIMIT ` + args.add(store.ListLimit(p.Limit))
	return q, args
}

// APIKeyList implements store.Store. With appID empty it lists every key,
// of the installation and of every app.
func (db *DB) APIKeyList(ctx context.Context, appID string, p store.ListParams) ([]*herald.APIKey, error) {
	q, args := listQuery(`SELECT `+apiKeyCols+` FROM api_keys`, appID, p)
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("api key list: %w", err)
	}
	defer rows.Close()
	keys := []*herald.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("api key list: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("api key list: %w", err)
	}
	return keys, nil
}

// APIKeyDelete implements store.Store.
func (db *DB) APIKeyDelete(ctx context.Context, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM api_keys WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("api key delete: %w", err)
	}
	return mustAffect(tag, "api key %q", id)
}

const auditCols = `id, at, key_id, app_id, action, target, changes`

func scanAudit(s scanner) (*herald.AuditEntry, error) {
	var (
		e       herald.AuditEntry
		appID   *string
		changes []byte
	)
	if err := s.Scan(&e.ID, &e.At, &e.KeyID, &appID, &e.Action, &e.Target, &changes); err != nil {
		return nil, err
	}
	e.At = e.At.UTC()
	if appID != nil {
		e.AppID = *appID
	}
	if len(changes) > 0 {
		e.Changes = herald.RawJSON(changes)
	}
	return &e, nil
}

// AuditAppend implements store.Store. The entry is written as given, with
// no check or lock of its app: entries outlive their apps (see AppDelete),
// and appending must not wait for an app's row. A taken id is
// ErrConflict. Changes are kept byte for byte (NULL when empty).
func (db *DB) AuditAppend(ctx context.Context, e *herald.AuditEntry) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ID, ts(e.At), e.KeyID, nullString(e.AppID), e.Action, e.Target, blob(e.Changes))
	if isUnique(err) {
		return fmt.Errorf("audit entry %q: %w", e.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	return nil
}

// AuditList implements store.Store. With appID empty it lists every entry,
// installation-wide ones and those of every app, deleted apps included.
func (db *DB) AuditList(ctx context.Context, appID string, p store.ListParams) ([]*herald.AuditEntry, error) {
	q, args := listQuery(`SELECT `+auditCols+` FROM audit_log`, appID, p)
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	defer rows.Close()
	entries := []*herald.AuditEntry{}
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("audit list: %w", err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	return entries, nil
}
