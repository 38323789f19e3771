package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

const apiKeyCols = `id, name, scope, app_id, read_only, expires_at, prefix, hash, created_at, parent_id, role`

func scanAPIKey(s scanner) (*herald.APIKey, error) {
	var (
		k       herald.APIKey
		appID   sql.NullString
		parent  sql.NullString
		expires sql.NullInt64
		created int64
	)
	if err := s.Scan(&k.ID, &k.Name, &k.Scope, &appID, &k.ReadOnly, &expires, &k.Prefix, &k.Hash, &created, &parent, &k.Role); err != nil {
		return nil, err
	}
	k.AppID = appID.String
	k.ParentID = parent.String
	k.ExpiresAt = fromNullMicro(expires)
	k.CreatedAt = fromMicro(created)
	return &k, nil
}

// nullMicro stores an optional time as Unix microseconds, nil as NULL.
func nullMicro(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micro(*t)
}

// apiKeyInsert stores a key only if its app (when it has one) and its
// parent (when it has one) exist, in the same statement.
const apiKeyInsert = `INSERT INTO api_keys (` + apiKeyCols + `)
	SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
	WHERE (?4 IS NULL OR EXISTS (SELECT 1 FROM apps WHERE id = ?4))
	AND (?10 IS NULL OR EXISTS (SELECT 1 FROM api_keys WHERE id = ?10))`

func apiKeyArgs(k *herald.APIKey) []any {
	return []any{k.ID, k.Name, k.Scope, nullString(k.AppID), k.ReadOnly, nullMicro(k.ExpiresAt), k.Prefix, k.Hash,
		micro(k.CreatedAt), nullString(k.ParentID), k.Role}
}

// apiKeyInserted maps the outcome of apiKeyInsert.
func apiKeyInserted(k *herald.APIKey, res sql.Result, err error) error {
	if isUnique(err) {
		// The id or the hash is taken; the message names the id only:
		// the hash stands for a secret.
		return fmt.Errorf("api key %q: %w", k.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("api key create: %w", err)
	}
	return mustAffect(res, "app %q or parent key %q", k.AppID, k.ParentID)
}

// APIKeyCreate implements store.Store. A key of one app is stored only if
// the app exists (ErrNotFound otherwise), in the same statement: a key
// left behind by a concurrent AppDelete would outlive its app and could
// read the audit entries the app leaves behind. An installation-wide key
// (AppID empty, stored as NULL) needs no app. A key with a parent is
// stored only if the parent exists, for the same reason.
func (db *DB) APIKeyCreate(ctx context.Context, k *herald.APIKey) error {
	res, err := db.w.ExecContext(ctx, apiKeyInsert, apiKeyArgs(k)...)
	return apiKeyInserted(k, res, err)
}

// apiKeysAliveQuery counts an app's keys of one scope alive at a time and
// finds the soonest expiry among them, from the api_keys_alive index.
const apiKeysAliveQuery = `SELECT
	(SELECT COUNT(*) FROM api_keys WHERE app_id = ?1 AND scope = ?2 AND expires_at > ?3)
	+ (SELECT COUNT(*) FROM api_keys WHERE app_id = ?1 AND scope = ?2 AND expires_at IS NULL),
	(SELECT MIN(expires_at) FROM api_keys WHERE app_id = ?1 AND scope = ?2 AND expires_at > ?3)`

// APIKeyCreateLimited implements store.Store: count and insert share one
// write transaction, and the store has one writer.
func (db *DB) APIKeyCreateLimited(ctx context.Context, k *herald.APIKey, max int, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var (
			n    int
			soon sql.NullInt64
		)
		if err := tx.QueryRowContext(ctx, apiKeysAliveQuery, k.AppID, k.Scope, micro(now)).Scan(&n, &soon); err != nil {
			return fmt.Errorf("api key count: %w", err)
		}
		if n >= max {
			le := &store.LimitError{What: "keys of scope " + k.Scope + " of app " + k.AppID, Max: max}
			if soon.Valid {
				le.Until = fromMicro(soon.Int64)
			}
			return le
		}
		res, err := tx.ExecContext(ctx, apiKeyInsert, apiKeyArgs(k)...)
		return apiKeyInserted(k, res, err)
	})
}

// apiKeyByHashQuery reads one row through the hash's unique index, and
// the parent's row, if any, through the primary key.
const apiKeyByHashQuery = `SELECT ` + apiKeyCols + ` FROM api_keys k WHERE k.hash = ?
	AND (k.parent_id IS NULL OR EXISTS (SELECT 1 FROM api_keys p WHERE p.id = k.parent_id))`

// APIKeyByHash implements store.Store. It runs on every request made with
// a key not in the API's cache.
func (db *DB) APIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error) {
	k, err := scanAPIKey(db.r.QueryRowContext(ctx, apiKeyByHashQuery, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("api key: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("api key by hash: %w", err)
	}
	return k, nil
}

// apiKeyListQuery is the query of APIKeyList: an app's keys come from the
// api_keys_app index, all keys from the primary key, newest first either
// way.
func apiKeyListQuery(appID string, p store.ListParams) (string, []any) {
	return listQuery(`SELECT `+apiKeyCols+` FROM api_keys`, appID, p)
}

// listQuery adds to sel (a SELECT without WHERE) the app filter when appID
// is set, the cursor and the order of the lists of keys and of audit
// entries: newest first by id, the cursor being the last id seen.
func listQuery(sel, appID string, p store.ListParams) (string, []any) {
	q := sel + ` WHERE 1`
	var args []any
	if appID != "" {
		q += ` AND app_id = ?`
		args = append(args, appID)
	}
	if p.Cursor != "" {
		q += ` AND id < ?`
		args = append(args, p.Cursor)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	return q, append(args, store.ListLimit(p.Limit))
}

// APIKeyList implements store.Store. With appID empty it lists every key,
// of the installation and of every app.
func (db *DB) APIKeyList(ctx context.Context, appID string, p store.ListParams) ([]*herald.APIKey, error) {
	q, args := apiKeyListQuery(appID, p)
	rows, err := db.r.QueryContext(ctx, q, args...)
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
// in one transaction.
func (db *DB) APIKeyDelete(ctx context.Context, id string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("api key delete: %w", err)
		}
		if err := mustAffect(res, "api key %q", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE parent_id = ?`, id); err != nil {
			return fmt.Errorf("api key delete: %w", err)
		}
		return nil
	})
}

const auditCols = `id, at, key_id, app_id, action, target, changes`

func scanAudit(s scanner) (*herald.AuditEntry, error) {
	var (
		e       herald.AuditEntry
		at      int64
		appID   sql.NullString
		changes []byte
	)
	if err := s.Scan(&e.ID, &at, &e.KeyID, &appID, &e.Action, &e.Target, &changes); err != nil {
		return nil, err
	}
	e.At = fromMicro(at)
	e.AppID = appID.String
	if len(changes) > 0 {
		e.Changes = herald.RawJSON(changes)
	}
	return &e, nil
}

// AuditAppend implements store.Store. The entry is written as given, with
// no check of its app: entries outlive their apps (see AppDelete), and an
// entry about an app that failed to be created is history too. A taken id
// is ErrConflict. Changes are stored as text (NULL when empty), readable
// with the sqlite3 shell, and read back byte for byte.
func (db *DB) AuditAppend(ctx context.Context, e *herald.AuditEntry) error {
	var changes any
	if len(e.Changes) > 0 {
		changes = string(e.Changes)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.ID, micro(e.At), e.KeyID, nullString(e.AppID), e.Action, e.Target, changes)
	if isUnique(err) {
		return fmt.Errorf("audit entry %q: %w", e.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	return nil
}

// auditListQuery is the query of AuditList: an app's entries come from
// the audit_log_app index, all entries from the primary key.
func auditListQuery(appID string, p store.ListParams) (string, []any) {
	return listQuery(`SELECT `+auditCols+` FROM audit_log`, appID, p)
}

// AuditList implements store.Store. With appID empty it lists every entry,
// installation-wide ones and those of every app, deleted apps included.
func (db *DB) AuditList(ctx context.Context, appID string, p store.ListParams) ([]*herald.AuditEntry, error) {
	q, args := auditListQuery(appID, p)
	rows, err := db.r.QueryContext(ctx, q, args...)
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
