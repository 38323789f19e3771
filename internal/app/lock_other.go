//go:build !unix

package app

// lockDataDir is a no-op where flock is not available; run one herald
// process per data dir there.
func lockDataDir(path string) (func(), error) { return func() {}, nil }
