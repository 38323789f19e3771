//go:build unix

package app

import (
	"fmt"
	"os"
	"syscall"
)

// lockDataDir takes an exclusive lock on the data dir, because the engine
// assumes it is the only process using the embedded database: at start it
// releases every lease it finds there.
func lockDataDir(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another herald process (lock file %s): %w", pathDir(path), path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
