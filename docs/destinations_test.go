package docs_test

import (
	"bufio"
	"bytes"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound/broker"
)

// kindHeadingRE finds the kind a section of destinations.md is about:
// "## NATS (`nats`)".
var kindHeadingRE = regexp.MustCompile("^## .*\\(`([a-z_]+)`\\)\\s*$")

// goBlock is a consumer program of destinations.md and the kind whose
// section holds it.
type goBlock struct {
	kind string
	text string
	line int
}

func goBlocks(t *testing.T, path string) []goBlock {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []goBlock
	var cur *goBlock
	kind := ""
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "## "):
			kind = ""
			if m := kindHeadingRE.FindStringSubmatch(line); m != nil {
				kind = m[1]
			}
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &goBlock{kind: kind, line: n}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDestinationConsumers builds every consumer program of
// destinations.md inside this module, with the client versions Herald
// itself uses, and vets it: one program per destination kind, gofmt'd,
// compiling. A kind this build does not have yet is skipped; once it has
// the kind, its program must build.
func TestDestinationConsumers(t *testing.T) {
	have := map[string]bool{}
	for _, k := range broker.Kinds() {
		have[k.Name()] = true
	}
	seen := map[string]bool{}
	for _, b := range goBlocks(t, "destinations.md") {
		if !herald.IsBrokerKind(b.kind) {
			t.Fatalf("destinations.md:%d: a Go block outside a kind's section (## Name (`kind`))", b.line)
		}
		if seen[b.kind] {
			t.Fatalf("destinations.md:%d: a second Go block for %s", b.line, b.kind)
		}
		seen[b.kind] = true
		t.Run(b.kind, func(t *testing.T) {
			if formatted, err := format.Source([]byte(b.text)); err != nil {
				t.Fatalf("destinations.md:%d: %v", b.line, err)
			} else if !bytes.Equal(formatted, []byte(b.text)) {
				t.Fatalf("destinations.md:%d: the program is not gofmt'd; gofmt gives:\n%s", b.line, formatted)
			}
			if !have[b.kind] {
				t.Skipf("this build has no %s kind yet", b.kind)
			}
			// Inside the module (a directory the go tool's ./... skips), so
			// that the program builds with the module's versions.
			dir, err := os.MkdirTemp(".", "_consumer_"+b.kind+"_")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(b.text), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("go", "vet", "./"+filepath.Base(dir))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("destinations.md:%d: the %s consumer does not build: %v\n%s", b.line, b.kind, err, out)
			}
		})
	}
	for _, k := range herald.BrokerKinds {
		if !seen[k] {
			t.Errorf("destinations.md has no consumer program for %s", k)
		}
	}
}
