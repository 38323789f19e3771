package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "encryption.key")

	keys, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("first call: created = false")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Fatalf("key file mode %04o, want 0600", perm)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != keys+"\n" {
		t.Fatalf("file holds %q, want the returned keys and a newline", data)
	}
	k, err := ParseKeys(keys)
	if err != nil {
		t.Fatalf("key file content does not parse: %v", err)
	}
	enc, err := k.Encrypt("hunter2")
	if err != nil {
		t.Fatal(err)
	}

	again, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if created || again != keys {
		t.Fatalf("second call: created = %v, keys changed = %v", created, again != keys)
	}
	if got, err := mustParse(t, again).Decrypt(enc); err != nil || got != "hunter2" {
		t.Fatalf("value does not survive a restart: %q, %v", got, err)
	}
}

func TestLoadOrCreateKeyFileAcceptsReadOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	// Narrower than 0600 is fine: operators may make the key read-only.
	path := filepath.Join(t.TempDir(), "encryption.key")
	if _, _, err := LoadOrCreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, created, err := LoadOrCreateKeyFile(path); err != nil || created {
		t.Fatalf("read-only 0400 key file: created = %v, err = %v", created, err)
	}
}

func TestLoadOrCreateKeyFileRefusesWidePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o700} {
		path := filepath.Join(t.TempDir(), "encryption.key")
		key, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		keys, created, err := LoadOrCreateKeyFile(path)
		if err == nil {
			t.Fatalf("mode %04o: accepted", mode)
		}
		if keys != "" || created {
			t.Errorf("mode %04o: returned keys = %v, created = %v with an error", mode, keys != "", created)
		}
		for _, want := range []string{path, "wider than 0600", "chmod 600"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mode %04o: error %q does not mention %q", mode, err, want)
			}
		}
		if strings.Contains(err.Error(), key) {
			t.Errorf("error leaks the key: %v", err)
		}
		// The file is left alone for the operator to fix.
		if data, _ := os.ReadFile(path); string(data) != key+"\n" {
			t.Errorf("mode %04o: key file was modified", mode)
		}
	}
}

func TestLoadOrCreateKeyFileBadContent(t *testing.T) {
	for name, content := range map[string]string{
		"empty":   "",
		"blank":   "\n\n",
		"garbage": "not a key\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "encryption.key")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, created, err := LoadOrCreateKeyFile(path)
			if err == nil || created {
				t.Fatalf("created = %v, err = %v; want an error", created, err)
			}
			if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should wrap ErrInvalidKey and name the file", err)
			}
			// An existing file, even a broken one, is never replaced: it may
			// be the only copy of the key to repair.
			if data, _ := os.ReadFile(path); string(data) != content {
				t.Error("key file was modified")
			}
		})
	}
}

func TestLoadOrCreateKeyFileRotatedKeys(t *testing.T) {
	// The file may hold a rotated key list like HERALD_ENCRYPTION_KEY.
	path := filepath.Join(t.TempDir(), "encryption.key")
	content := "b:" + keyB + ",\na:" + keyA + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("created = %v, err = %v", created, err)
	}
	if got := mustParse(t, keys).KeyIDs(); len(got) != 2 || got[0] != "b" {
		t.Fatalf("ids = %v", got)
	}
}

func TestLoadOrCreateKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	// Missing directory: not created behind the caller's back.
	if _, _, err := LoadOrCreateKeyFile(filepath.Join(dir, "missing", "encryption.key")); err == nil {
		t.Error("missing directory: no error")
	}
	// A directory in place of the file.
	sub := filepath.Join(dir, "encryption.key")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKeyFile(sub); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: err = %v", err)
	}
}
