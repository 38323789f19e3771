package herald

import (
	"debug/buildinfo"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionFrom: the linker's value wins, then the module version, then
// the VCS revision, then the default; the result is always one HTTP token.
func TestVersionFrom(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	rev := "0123456789abcdef0123456789abcdef01234567"
	for _, c := range []struct {
		name, linked string
		bi           *debug.BuildInfo
		want         string
	}{
		{"linker", "1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: vcs(rev, "true")}, "1.2.3"},
		{"module", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs(rev, "false")}, "v1.4.0"},
		{"pseudo-version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260101120000-0123456789ab+dirty"}}, "v0.0.0-20260101120000-0123456789ab+dirty"},
		{"revision", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, "0123456789ab"},
		{"modified revision", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, "0123456789ab-dirty"},
		{"short revision", "", &debug.BuildInfo{Settings: vcs("abc", "")}, "abc"},
		{"no vcs", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, devVersion},
		{"no build info", "", nil, devVersion},
		{"not a token", "1.2 beta/(rc)", nil, "1.2-beta--rc-"},
	} {
		if got := versionFrom(c.linked, c.bi); got != c.want {
			t.Errorf("%s: versionFrom(%q) = %q, want %q", c.name, c.linked, got, c.want)
		}
	}
}

// TestVersionOfBinary builds the herald command twice: with -ldflags -X,
// `herald version` prints the linked value; without, the one the
// toolchain recorded in that binary, which shows the fallback runs before
// main reads Version.
func TestVersionOfBinary(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, ldflags string
	}{
		{"linked", "-X github.com/heraldhq/herald.Version=9.9.9-test"},
		{"recorded", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := filepath.Join(dir, "herald-"+c.name)
			if out, err := exec.Command("go", "build", "-o", bin, "-ldflags", c.ldflags, "./cmd/herald").CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			want := "9.9.9-test"
			if c.ldflags == "" {
				bi, err := buildinfo.ReadFile(bin)
				if err != nil {
					t.Fatal(err)
				}
				want = versionFrom("", bi)
			}
			out, err := exec.Command(bin, "version").CombinedOutput()
			if err != nil {
				t.Fatalf("herald version: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != "herald "+want {
				t.Errorf("herald version printed %q, want %q", got, "herald "+want)
			}
		})
	}
}
