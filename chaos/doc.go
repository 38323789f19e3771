// Package chaos is Herald's chaos suite: it runs the herald binary as real
// processes and breaks what they stand on (SIGKILL, node loss, database
// restarts and freezes, a full disk, hostile receivers) while a load
// generator sends events, then checks that every event answered 202 was
// delivered. Its tests carry the build tag chaos, so that `go test ./...`
// stays quick:
//
//	go test -tags chaos ./chaos/...
//
// Sizes come from HERALD_CHAOS_* variables (docs/deploy.md lists them); the
// defaults are the small sizes CI runs.
package chaos
