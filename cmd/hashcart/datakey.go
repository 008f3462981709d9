package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashcart/hashcart/config"
	"github.com/hashcart/hashcart/storage"
	"github.com/hashcart/hashcart/vault"
)

// dataKeyring returns the keyring that encrypts addresses and contacts:
// HASHCART_DATA_KEY when set. Without it, a SQLite install keeps a
// generated key in a file beside its database (created once, mode 0600),
// so the one-command start works and a restart still reads its data; a
// PostgreSQL install (several instances) must share a key, so it refuses to
// start.
func dataKeyring(cfg *config.Config, log *slog.Logger) (*vault.Keyring, error) {
	k, err := vault.FromEnv(os.Getenv)
	if err == nil || !errors.Is(err, vault.ErrNoKey) {
		return k, err
	}
	if cfg.Storage.Driver != storage.DriverSQLite || strings.Contains(cfg.Storage.DSN, ":memory:") {
		return nil, fmt.Errorf("%s is not set: instances sharing a PostgreSQL database must share a data key (create one with: hashcart keys new)", vault.EnvVar)
	}
	dbPath := strings.TrimPrefix(strings.SplitN(cfg.Storage.DSN, "?", 2)[0], "file:")
	path := dbPath + ".key"
	if b, err := os.ReadFile(path); err == nil {
		return vault.Parse(strings.TrimSpace(string(b)))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read data key %s: %w", path, err)
	}
	spec, err := vault.Generate("k1")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create data key %s: %w", path, err)
	}
	if _, err := f.WriteString(spec + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	log.Warn("no HASHCART_DATA_KEY: generated a data key beside the database; back it up with the database, or set HASHCART_DATA_KEY in production", "file", path)
	return vault.Parse(spec)
}
