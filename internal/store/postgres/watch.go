package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Backoff between attempts to (re)connect the watch.
const (
	watchBackoffMin = 100 * time.Millisecond
	watchBackoffMax = 10 * time.Second
)

// WatchDue implements store.Store: it listens on herald_due, which every
// transaction that makes deliveries due notifies on commit, and calls fn
// for each notification until ctx ends; then it returns nil.
//
// It holds a connection of its own, outside the pool: a LISTEN lasts as
// long as its session, and a pooled connection would be handed to other
// work. When the connection is lost it reconnects with backoff, and calls
// fn once reconnected: notifications sent meanwhile are lost.
func (db *DB) WatchDue(ctx context.Context, fn func()) error {
	backoff := watchBackoffMin
	connected := false
	for ctx.Err() == nil {
		conn, err := db.listen(ctx)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, watchBackoffMax)
			continue
		}
		backoff = watchBackoffMin
		if connected {
			fn()
		}
		connected = true
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				break
			}
			fn()
		}
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		conn.Close(closeCtx)
		cancel()
	}
	return nil
}

// listen opens a connection and listens on the due channel.
func (db *DB) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, db.connCfg.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+dueChannel); err != nil {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		conn.Close(closeCtx)
		cancel()
		return nil, err
	}
	return conn, nil
}
