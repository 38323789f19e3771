package herald

import (
	"runtime/debug"
	"strings"
)

// Version names this build: `herald version` prints it, the start-up log
// carries it and every request Herald sends has the User-Agent
// "Herald/<Version>". A release sets it when linking:
//
//	go build -ldflags "-X github.com/heraldhq/herald.Version=1.2.3" ./cmd/herald
//
// Left unset, it is what the Go toolchain recorded in the binary (the
// main module's version, else the VCS revision), else "0.1.0-dev".
//
// It is a variable, not a function, because -X can only set a string
// variable whose initializer is a constant. So the fallback cannot be its
// initializer; it runs in the initializer of the blank variable below,
// which Go runs after the linker's value is in place (it reads Version)
// and before any importing package runs code. Every reader of Version
// thus sees the final value, with no init function and no call.
var Version string

var _ = settleVersion()

// devVersion is Version when neither the linker nor the toolchain named
// the build: go run, go test, a build outside version control or with
// -buildvcs=false.
const devVersion = "0.1.0-dev"

func settleVersion() bool {
	bi, _ := debug.ReadBuildInfo()
	Version = versionFrom(Version, bi)
	return true
}

// versionFrom picks the version: the linker's, else the main module's
// unless it is "(devel)" (a build from a VCS checkout gets a
// pseudo-version, "+dirty" when modified, since Go 1.24), else the first
// 12 digits of the VCS revision with "-dirty" when modified, else
// devVersion. The result goes into a User-Agent, so characters an HTTP
// token cannot hold (spaces, slashes, parentheses) become '-'.
func versionFrom(linked string, bi *debug.BuildInfo) string {
	v := linked
	if v == "" && bi != nil {
		if m := bi.Main.Version; m != "" && m != "(devel)" {
			v = m
		} else {
			var rev, modified string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" {
				v = rev[:min(len(rev), 12)]
				if modified == "true" {
					v += "-dirty"
				}
			}
		}
	}
	if v == "" {
		v = devVersion
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r) {
			return r
		}
		return '-'
	}, v)
}
