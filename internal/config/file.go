package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/internal/spelling"
)

// ReadFile reads a configuration file of `herald serve`: TOML (.toml) or
// YAML (.yaml, .yml), one key per flag, named like the flag with _ or -
// (max_event_size or max-event-size), its value as the flag would take
// it (a string, a number, a boolean; a list joins with commas).
//
// It returns the values by flag name, as text for the flag parser, so
// that a value in the file means exactly what it means on the command
// line. A key that is not a flag is an error naming it (and the flag it
// is one typo away from): a misspelt setting must not be silently
// ignored while the server runs on the default.
func ReadFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw := map[string]any{}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".toml":
		if _, err := toml.Decode(string(b), &raw); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) { // EOF: an empty file
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("%s: the file name must end in .toml, .yaml or .yml, which says its format", path)
	}
	known := ServeFlags()
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first error is the same on every run
	out := make(map[string]string, len(raw))
	for _, k := range keys {
		name := strings.ReplaceAll(k, "_", "-")
		if name == "config" {
			return nil, fmt.Errorf("%s: key %q: a configuration file cannot name another", path, k)
		}
		if !known[name] {
			msg := fmt.Sprintf("%s: unknown key %q", path, k)
			if near := spelling.Closest(name, sortedKeys(known)); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", strings.ReplaceAll(near, "-", "_"))
			}
			return nil, fmt.Errorf("%s", msg)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s: %s is set twice (with _ and with -)", path, k)
		}
		v, err := text(raw[k])
		if err != nil {
			return nil, fmt.Errorf("%s: key %q: %v", path, k, err)
		}
		out[name] = v
	}
	return out, nil
}

// text writes a value of the file as the flag parser reads it.
func text(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := text(e)
			if err != nil {
				return "", err
			}
			if strings.Contains(s, ",") {
				return "", fmt.Errorf("list item %q holds a comma", s)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case nil:
		return "", fmt.Errorf("no value")
	case map[string]any:
		return "", fmt.Errorf("a table is not a setting: settings are strings, numbers, booleans or lists of them, at the top level")
	default:
		return "", fmt.Errorf("a %T is not a setting: settings are strings, numbers, booleans or lists of them, at the top level", v)
	}
}

// ServeFlags returns the names of the flags of `herald serve` that a
// configuration file may set.
func ServeFlags() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[Serve]()
	for f := range t.Fields() {
		if name := f.Tag.Get("name"); name != "" && name != "config" {
			out[name] = true
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
