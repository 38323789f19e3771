//go:build !linux

package sqlite

import "errors"

// FreeBytes is the space left on the file system holding dir; only
// Linux reports it.
func FreeBytes(dir string) (uint64, error) {
	return 0, errors.New("free space is not reported on this system")
}
