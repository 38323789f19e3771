package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/heraldhq/herald/internal/config"
)

// nodeName names this process on leases, heartbeats and metrics: its
// host, its pid and a random part, unique to each start.
//
// On PostgreSQL with a fixed address to listen on, the name starts with
// a prefix of the host and a hash of the address and the data dir: only
// one process at a time can listen there, so nodes with that prefix are
// this process's earlier runs, which the start forgets (leaveEarlierRuns)
// instead of counting them until their heartbeats are old.
func nodeName(cfg *config.Serve) (name, prefix string) {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	if cfg.DatabaseURL != "" {
		if _, port, err := net.SplitHostPort(cfg.Addr); err == nil && port != "" && port != "0" {
			dir, _ := filepath.Abs(cfg.DataDir)
			h := sha256.Sum256([]byte(cfg.Addr + "\x00" + dir))
			prefix = fmt.Sprintf("%s-%x-", host, h[:3])
			return fmt.Sprintf("%s%d-%x", prefix, os.Getpid(), b), prefix
		}
	}
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b), ""
}

// leaveEarlierRuns forgets the earlier runs of this process (see
// nodeName) and gives their deliveries back at once. A failure only
// delays that: the others take them once the old heartbeats are dead.
func (a *App) leaveEarlierRuns(ctx context.Context) {
	if a.nodePrefix == "" {
		return
	}
	n, err := a.store.NodesLeaveEarlier(ctx, a.nodePrefix, a.node)
	if err != nil {
		a.log.Warn("forgetting earlier runs of this node failed", "error", err.Error())
		return
	}
	if n > 0 {
		a.log.Info("gave back the deliveries of this node's earlier run", "deliveries", n)
	}
}
