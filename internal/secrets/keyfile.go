package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// maxKeyFileSize bounds what LoadOrCreateKeyFile reads: a key file with many
// rotated keys is still well under 4 KiB, so a bigger file is the wrong file.
const maxKeyFileSize = 64 << 10

// GenerateKey returns a new random key as "<id>:<base64>", ready for
// HERALD_ENCRYPTION_KEY. The id is the one ParseKeys would derive, written
// out so that it is visible when the key list is edited during rotation.
func GenerateKey() (string, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate encryption key: %w", err)
	}
	return deriveID(key) + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// LoadOrCreateKeyFile returns the keys kept in the file at path, in the
// HERALD_ENCRYPTION_KEY format, for when no key is configured: secrets are
// then still encrypted at rest, and a copied database file alone does not
// reveal them.
//
// If the file exists, it must be readable only by its owner (permissions no
// wider than 0600), since anyone who can read it can read every secret; its
// content must parse with ParseKeys. If it does not exist, a new key is
// written to it with permissions 0600 and created is true: the caller must
// then tell the operator to back the file up, because without it the
// secrets in the database cannot be read, e.g.
//
//	generated an encryption key at PATH; back it up: without it the secrets in the database cannot be read
//
// The directory must already exist.
func LoadOrCreateKeyFile(path string) (keys string, created bool, err error) {
	keys, err = readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return keys, false, err
	}
	keys, err = createKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Created by someone else between our read and create: use theirs.
		keys, err = readKeyFile(path)
		return keys, false, err
	}
	if err != nil {
		return "", false, err
	}
	return keys, true, nil
}

func readKeyFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", fmt.Errorf("read encryption key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the check applies to what is read
	// (the file a symlink points to, if path is one).
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read encryption key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("encryption key file %s is not a regular file", path)
	}
	// Windows does not report Unix permissions; its ACLs are out of reach of
	// the standard library, so the check only applies elsewhere.
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&^0o600 != 0 {
		return "", fmt.Errorf("encryption key file %s has permissions %04o, wider than 0600: other users could read every secret in the database; run chmod 600 %s",
			path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return "", fmt.Errorf("read encryption key file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return "", fmt.Errorf("%w: encryption key file %s is larger than %d bytes", ErrInvalidKey, path, maxKeyFileSize)
	}
	keys := strings.TrimSpace(string(data))
	if keys == "" {
		return "", fmt.Errorf("%w: encryption key file %s is empty; restore it from a backup, or delete it to generate a new key (existing encrypted secrets then cannot be read)", ErrInvalidKey, path)
	}
	if _, err := ParseKeys(keys); err != nil {
		return "", fmt.Errorf("encryption key file %s: %w", path, err)
	}
	return keys, nil
}

// createKeyFile writes a new key with O_EXCL, so an existing key is never
// overwritten, and syncs both the file and its directory before returning:
// the key must be on disk before anything is encrypted with it, or a crash
// would leave encrypted secrets with no key.
func createKeyFile(path string) (keys string, err error) {
	keys, err = GenerateKey()
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", err
		}
		return "", fmt.Errorf("create encryption key file: %w", err)
	}
	defer func() {
		if err != nil {
			// Leave no empty or partial file behind: the next start would
			// refuse it rather than try again.
			f.Close()
			os.Remove(path)
		}
	}()
	// The umask may have narrowed the mode; set it exactly so the file
	// passes the permission check on the next start whatever the umask.
	if runtime.GOOS != "windows" {
		if err = f.Chmod(0o600); err != nil {
			return "", fmt.Errorf("create encryption key file: %w", err)
		}
	}
	if _, err = f.WriteString(keys + "\n"); err != nil {
		return "", fmt.Errorf("write encryption key file: %w", err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("write encryption key file: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("write encryption key file: %w", err)
	}
	if err = syncDir(filepath.Dir(path)); err != nil {
		return "", fmt.Errorf("write encryption key file: %w", err)
	}
	return keys, nil
}

// syncDir makes the new directory entry durable. Windows cannot open a
// directory for syncing, and its file system commits entries on close.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
