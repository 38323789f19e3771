package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/store"
)

// TokenGet implements store.Store.
func (db *DB) TokenGet(ctx context.Context, key string) (string, time.Time, error) {
	var (
		tok string
		exp time.Time
	)
	err := db.pool.QueryRow(ctx, `SELECT token, expires_at FROM oauth_tokens WHERE key = $1`, key).Scan(&tok, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token get: %w", err)
	}
	return tok, exp.UTC(), nil
}

// TokenPut implements store.Store.
func (db *DB) TokenPut(ctx context.Context, key, token string, expires time.Time) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO oauth_tokens (key, token, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, expires_at = EXCLUDED.expires_at`, key, token, ts(expires))
	if err != nil {
		return fmt.Errorf("token put: %w", err)
	}
	return nil
}
