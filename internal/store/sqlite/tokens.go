package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// TokenGet implements store.Store.
func (db *DB) TokenGet(ctx context.Context, key string) (string, time.Time, error) {
	var (
		tok string
		exp int64
	)
	err := db.r.QueryRowContext(ctx, `SELECT token, expires_at FROM oauth_tokens WHERE key = ?`, key).Scan(&tok, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token get: %w", err)
	}
	return tok, fromMicro(exp), nil
}

// TokenPut implements store.Store.
func (db *DB) TokenPut(ctx context.Context, key, token string, expires time.Time) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO oauth_tokens (key, token, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at`, key, token, micro(expires))
	if err != nil {
		return fmt.Errorf("token put: %w", err)
	}
	return nil
}
