package config_test

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/config"
)

// TestReadFile: TOML and YAML give the same flag values, as text the
// flag parser reads; keys are flag names with _ or -; what is not a
// flag, or not a flat value, is refused naming the key.
func TestReadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := map[string]string{
		"addr": "0.0.0.0:8080", "workers": "64", "max-app-share": "0.25", "allow-private-destinations": "true",
		"retention": "30d", "retry-schedule": "5s,5m,1d", "queue-memory": "1GiB",
	}
	toml := write("a.toml", `addr = "0.0.0.0:8080"
workers = 64
max_app_share = 0.25
allow-private-destinations = true
retention = "30d"
retry_schedule = ["5s", "5m", "1d"]
queue_memory = "1GiB"
`)
	yaml := write("a.yml", `addr: 0.0.0.0:8080
workers: 64
max_app_share: 0.25
allow-private-destinations: true
retention: 30d
retry_schedule: [5s, 5m, 1d]
queue_memory: 1GiB
`)
	for _, p := range []string{toml, yaml} {
		got, err := config.ReadFile(p)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: %v %v, want %v", filepath.Base(p), got, err, want)
		}
	}
	if got, err := config.ReadFile(write("empty.yaml", "")); err != nil || len(got) != 0 {
		t.Errorf("an empty file: %v %v", got, err)
	}
	for name, text := range map[string]string{
		"config.toml":  "config = \"other.toml\"\n",
		"twice.toml":   "max_event_size = 1\nmax-event-size = 2\n",
		"unknown.toml": "[serve]\naddr = \"x\"\n",
		"date.toml":    "retention = 2026-01-01\n",
		"null.yaml":    "retention:\n",
	} {
		if _, err := config.ReadFile(write(name, text)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want an error naming the file", name, err)
		}
	}
}

// TestExampleFiles: the example files of the documentation read, and
// say the same thing in both formats.
func TestExampleFiles(t *testing.T) {
	t.Parallel()
	toml, err := config.ReadFile("../../examples/config/herald.toml")
	if err != nil {
		t.Fatal(err)
	}
	yaml, err := config.ReadFile("../../examples/config/herald.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(toml, yaml) || toml["retention"] != "30d" {
		t.Fatalf("herald.toml %v\nherald.yaml %v", toml, yaml)
	}
}
