package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/config"
)

// clearHeraldEnv unsets every HERALD_* variable of serve for the test, so
// that only what the test sets counts.
func clearHeraldEnv(t *testing.T) {
	typ := reflect.TypeFor[config.Serve]()
	for f := range typ.Fields() {
		if env := f.Tag.Get("env"); env != "" {
			t.Setenv(env, "") // restored at cleanup
			os.Unsetenv(env)
		}
	}
}

// status calls path on url with a bearer token and returns the status.
func status(t *testing.T, url, tok, method, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeConfigFile: the file's values apply (durations in days and
// lists included), a HERALD_* variable wins over the file, a flag over
// both; YAML works like TOML and is found through HERALD_CONFIG; an
// unknown key or a bad value is refused with one line, exit 2.
func TestServeConfigFile(t *testing.T) {
	clearHeraldEnv(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := func(args ...string) (int, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append([]string{"serve", "--data-dir", filepath.Join(dir, "never")}, args...), &out, &errOut)
		if strings.Count(errOut.String(), "\n") != 1 || out.Len() != 0 {
			t.Errorf("%v: stdout %q, stderr %q; want one line on stderr", args, out.String(), errOut.String())
		}
		return code, errOut.String()
	}
	toml := write("herald.toml", `# Herald's settings
admin_token = "from-file"
max_event_size = 2048
lease_duration = "1d"
request_timeout = "13h"
retention = "30d"
destination_deny_cidrs = ["10.0.0.0/8", "192.168.0.0/16"]
allow_private_destinations = true
`)
	// A lease of one day is shorter than two requests of 13 hours: the
	// file's durations, days included, reach the checks.
	if code, line := bad("--config", toml); code != 2 || !strings.Contains(line, "--lease-duration must be at least 1s and twice --request-timeout (13h0m0s)") {
		t.Fatalf("file values not applied: %d %s", code, line)
	}

	// The variable wins over the file: a lease of two days is long enough.
	t.Setenv("HERALD_LEASE_DURATION", "2d") // days in a variable too
	big := `{"name": "big.one", "description": "` + strings.Repeat("x", 3000) + `"}`
	h := serve(t, t.TempDir(), "--config", toml)
	if got := status(t, h.url, "from-file", "GET", "/v1/apps", ""); got != 200 {
		t.Errorf("the file's admin_token: %d", got)
	}
	if got := status(t, h.url, "from-file", "POST", "/v1/event-types", big); got != 413 {
		t.Errorf("the file's max_event_size: a 3000-byte body got %d, want 413", got)
	}
	h.stop()

	t.Setenv("HERALD_ADMIN_TOKEN", "from-env")
	h = serve(t, t.TempDir(), "--config", toml)
	if a, b := status(t, h.url, "from-env", "GET", "/v1/apps", ""), status(t, h.url, "from-file", "GET", "/v1/apps", ""); a != 200 || b != 401 {
		t.Errorf("the variable over the file: %d with its token, %d with the file's", a, b)
	}
	h.stop()

	// The flag wins over both.
	h = serve(t, t.TempDir(), "--config", toml, "--admin-token", "from-flag", "--max-event-size", "8192")
	if a, b := status(t, h.url, "from-flag", "GET", "/v1/apps", ""), status(t, h.url, "from-env", "GET", "/v1/apps", ""); a != 200 || b != 401 {
		t.Errorf("the flag over the variable: %d with its token, %d with the variable's", a, b)
	}
	if got := status(t, h.url, "from-flag", "POST", "/v1/event-types", big); got != 201 {
		t.Errorf("--max-event-size over the file: %d, want 201", got)
	}
	h.stop()

	// YAML, named by HERALD_CONFIG, keys with - or _.
	os.Unsetenv("HERALD_ADMIN_TOKEN")
	os.Unsetenv("HERALD_LEASE_DURATION")
	yaml := write("herald.yaml", "admin-token: yaml-token\nmax_event_size: 2048\nretry_schedule: [1s, 1m, 1d]\n")
	t.Setenv("HERALD_CONFIG", yaml)
	h = serve(t, t.TempDir())
	if got := status(t, h.url, "yaml-token", "POST", "/v1/event-types", big); got != 413 {
		t.Errorf("the YAML file: %d, want 413 with its token and size", got)
	}
	h.stop()
	os.Unsetenv("HERALD_CONFIG")

	// The documentation's examples start a server (their address, data
	// dir and log format overridden by flags, as a test needs).
	for _, example := range []string{"../../examples/config/herald.toml", "../../examples/config/herald.yaml"} {
		h = serve(t, t.TempDir(), "--config", example, "--log-format", "text", "--admin-token", "t")
		if code := h.stop(); code != 0 {
			t.Errorf("%s: exit %d", example, code)
		}
	}

	for _, c := range []struct{ name, text, want string }{
		{"unknown.toml", "retension = \"30d\"\n", `unknown.toml: unknown key "retension"; did you mean "retention"?; see herald help serve`},
		{"far.toml", "colour = \"red\"\n", `far.toml: unknown key "colour"; see herald help serve`},
		{"nested.yaml", "retry_schedule:\n  first: 1s\n", `nested.yaml: key "retry_schedule": a table is not a setting`},
		{"badvalue.toml", "workers = 0\n", "--workers must be at least 1"},
		{"baddays.toml", "retention = \"30 days\"\n", `"30 days" is not a duration like 30s, 5m, 2h or 30d`},
		{"syntax.toml", "retention = \n", "syntax.toml: toml:"},
		{"herald.json", "{}", "herald.json: the file name must end in .toml, .yaml or .yml"},
	} {
		code, line := bad("--config", write(c.name, c.text))
		if code != 2 || !strings.Contains(line, c.want) {
			t.Errorf("%s: exit %d, %q; want 2 and %q", c.name, code, line, c.want)
		}
	}
}
