package app

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/internal/config"
)

// openPostgres opens the PostgreSQL store.
func openPostgres(ctx context.Context, cfg *config.Serve) (storeDB, func(), error) {
	return nil, nil, fmt.Errorf("--database-url: PostgreSQL support is not in this build")
}
