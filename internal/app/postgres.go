package app

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/internal/config"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/store/postgres"
)

// openPostgres opens the PostgreSQL store shared by several nodes. Its
// leases are never released at start: other nodes may be holding them.
func openPostgres(ctx context.Context, cfg *config.Serve) (store.Store, func(), error) {
	st, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{MaxConns: 20, ConnectTimeout: cfg.StoreTimeout})
	if err != nil {
		return nil, nil, fmt.Errorf("open PostgreSQL store: %w", err)
	}
	return st, func() { st.Close() }, nil
}
