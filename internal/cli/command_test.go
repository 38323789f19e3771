package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestJSONArgs reads --payload and --data as a command does: JSON given
// inline or as @file, kept byte for byte; anything else is a usage error
// (exit 2) naming the flag.
func TestJSONArgs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(file, []byte("  {\"b\": 1, \"a\": [2]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in, want string
	}{
		{`{"x": "山田"}`, `{"x": "山田"}`},
		{`42`, `42`},
		{"@" + file, `{"b": 1, "a": [2]}`},
	} {
		got, err := jsonArg("--payload", c.in)
		if err != nil || string(got) != c.want {
			t.Errorf("jsonArg(%q) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{`{"x": `, "@" + file + ".missing", ""} {
		_, err := jsonArg("--payload", in)
		if _, ok := errors.AsType[*UsageError](err); !ok {
			t.Errorf("jsonArg(%q): %v, want a usage error", in, err)
		}
	}
	obj, err := jsonObject("--data", "@"+file)
	if err != nil || len(obj) != 2 {
		t.Errorf("jsonObject: %v, %v", obj, err)
	}
	for _, in := range []string{`[1]`, `null`, `"s"`} {
		if _, err := jsonObject("--data", in); err == nil {
			t.Errorf("jsonObject(%q): no error, want one: the body must be an object", in)
		}
	}
}

// TestUsageLine: a usage error found as a command ran reads like one the
// flag parser found, with the command's help as the hint.
func TestUsageLine(t *testing.T) {
	got := UsageLine(usagef("give --app"), "endpoints get <id>")
	if want := "herald: give --app; see herald help endpoints get"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
