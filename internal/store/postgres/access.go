package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

const apiKeyCols = `id, name, scope, app_id, read_only, expires_at, prefix, hash, created_at, parent_id, role`

func scanAPIKey(s scanner) (*herald.APIKey, error) {
	var (
		k      herald.APIKey
		appID  *string
		parent *string
	)
	if err := s.Scan(&k.ID, &k.Name, &k.Scope, &appID, &k.ReadOnly, &k.ExpiresAt, &k.Prefix, &k.Hash, &k.CreatedAt, &parent, &k.Role); err != nil {
		return nil, err
	}
	if appID != nil {
		k.AppID = *appID
	}
	if parent != nil {
		k.ParentID = *parent
	}
	k.ExpiresAt = utcPtr(k.ExpiresAt)
	k.CreatedAt = k.CreatedAt.UTC()
	return &k, nil
}

// apiKeyInsert stores a key only if its app (when it has one) and its
// parent (when it has one) exist, under a key-share lock of their rows,
// as endpoints are: a key left behind by a concurrent AppDelete or
// APIKeyDelete would outlive what it belongs to.
const apiKeyInsert = `INSERT INTO api_keys (` + apiKeyCols + `)
	SELECT $1, $2, $3, $4::text, $5::boolean, $6::timestamptz, $7, $8, $9::timestamptz, $10::text, $11
	WHERE ($4::text IS NULL OR EXISTS (SELECT 1 FROM apps WHERE id = $4::text FOR KEY SHARE))
	AND ($10::text IS NULL OR EXISTS (SELECT 1 FROM api_keys WHERE id = $10::text FOR KEY SHARE))`

func apiKeyArgs(k *herald.APIKey) []any {
	return []any{k.ID, k.Name, k.Scope, nullString(k.AppID), k.ReadOnly, tsPtr(k.ExpiresAt), k.Prefix, k.Hash,
		ts(k.CreatedAt), nullString(k.ParentID), k.Role}
}

// apiKeyInserted maps the outcome of apiKeyInsert.
func apiKeyInserted(k *herald.APIKey, tag pgconn.CommandTag, err error) error {
	if isUnique(err) {
		// The id or the hash is taken; the message names the id only:
		// the hash stands for a secret.
		return fmt.Errorf("api key %q: %w", k.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("api key create: %w", err)
	}
	return mustAffect(tag, "app %q or parent key %q", k.AppID, k.ParentID)
}

// APIKeyCreate implements store.Store. An installation-wide key (AppID
// empty, stored as NULL) needs no app.
func (db *DB) APIKeyCreate(ctx context.Context, k *herald.APIKey) error {
	tag, err := db.pool.Exec(ctx, apiKeyInsert, apiKeyArgs(k)...)
	return apiKeyInserted(k, tag, err)
}

// apiKeysAliveQuery counts an app's keys of one scope alive at a time and
// finds the soonest expiry among them, from the api_keys_alive index.
const apiKeysAliveQuery = `SELECT
	(SELECT COUNT(*) FROM api_keys WHERE app_id = $1 AND scope = $2 AND expires_at > $3)
	+ (SELECT COUNT(*) FROM api_keys WHERE app_id = $1 AND scope = $2 AND expires_at IS NULL),
	(SELECT MIN(expires_at) FROM api_keys WHERE app_id = $1 AND scope = $2 AND expires_at > $3)`

// APIKeyCreateLimited implements store.Store. The app's row is locked
// FOR NO KEY UPDATE first, which serialises the limited creations of one
// app on every node (endpoints and plain keys, which take a key-share
// lock, are not held up), so the count cannot change before the insert.
func (db *DB) APIKeyCreateLimited(ctx context.Context, k *herald.APIKey, max int, now time.Time) error {
	if k.AppID == "" {
		return fmt.Errorf("api key %q: a limited key belongs to an app: %w", k.ID, store.ErrNotFound)
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `SELECT 1 FROM apps WHERE id = $1 FOR NO KEY UPDATE`, k.AppID)
		if err != nil {
			return fmt.Errorf("api key create: %w", err)
		}
		if err := mustAffect(tag, "app %q", k.AppID); err != nil {
			return err
		}
		var (
			n    int
			soon *time.Time
		)
		if err := tx.QueryRow(ctx, apiKeysAliveQuery, k.AppID, k.Scope, ts(now)).Scan(&n, &soon); err != nil {
			return fmt.Errorf("api key count: %w", err)
		}
		if n >= max {
			le := &store.LimitError{What: "keys of scope " + k.Scope + " of app " + k.AppID, Max: max}
			if soon != nil {
				le.Until = soon.UTC()
			}
			return le
		}
		tag, err = tx.Exec(ctx, apiKeyInsert, apiKeyArgs(k)...)
		return apiKeyInserted(k, tag, err)
	})
}

// APIKeyByHash implements store.Store. It runs on every request made with
// a key not in the API's cache, and reads one row through the hash's
// unique index (and its parent's, if any, through the primary key).
func (db *DB) APIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error) {
	k, err := scanAPIKey(db.pool.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys k WHERE k.hash = $1
		AND (k.parent_id IS NULL OR EXISTS (SELECT 1 FROM api_keys p WHERE p.id = k.parent_id))`, hash))
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

// APIKeyDelete implements store.Store: the key and the keys it minted go
// in one transaction. The key's row goes first, so a concurrent
// APIKeyCreate of a child either committed before (its child is deleted
// by the second statement, which sees it) or finds no parent.
func (db *DB) APIKeyDelete(ctx context.Context, id string) error {
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("api key delete: %w", err)
		}
		if err := mustAffect(tag, "api key %q", id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE parent_id = $1`, id); err != nil {
			return fmt.Errorf("api key delete: %w", err)
		}
		return nil
	})
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
