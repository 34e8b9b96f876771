package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// openStore opens the configured database: PostgreSQL when DatabaseURL is
// set, else the SQLite file in the data directory.
func openStore(ctx context.Context, cfg Config) (*sqlstore.DB, string, error) {
	if cfg.DatabaseURL == "" {
		path := dbPath(cfg.DataDir)
		if err := privateDBFiles(path); err != nil {
			return nil, "", err
		}
		db, err := sqlstore.OpenSQLite(ctx, path)
		return db, "sqlite", err
	}
	if !strings.HasPrefix(cfg.DatabaseURL, "postgres://") &&
		!strings.HasPrefix(cfg.DatabaseURL, "postgresql://") {
		return nil, "", errors.New("gateway: database URL: want postgres://…")
	}
	db, err := sqlstore.OpenPostgres(ctx, cfg.DatabaseURL)
	return db, "postgres", err
}

// secretConfigured reports whether a sealing secret is set in the
// environment or present as a file in the data directory.
func secretConfigured(cfg Config) bool {
	if cfg.Env(seal.EnvSecret) != "" || cfg.Env(seal.EnvSecretAlias) != "" {
		return true
	}
	_, err := os.Stat(filepath.Join(cfg.DataDir, seal.SecretFileName))
	return err == nil
}

// refuseNewSecretOverSealedKeys refuses to go on when no secret is
// configured but the database already holds sealed keys: generating a new
// secret would make every sealed value unreadable and leave a useless
// secret file behind.
func refuseNewSecretOverSealedKeys(ctx context.Context, cfg Config, keys mosaic.KeyStore) error {
	_, err := keys.GetKey(ctx, embedded.KeyRoot)
	if mosaic.IsKind(err, mosaic.KindNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gateway: database: %w", err)
	}
	path := filepath.Join(cfg.DataDir, seal.SecretFileName)
	return fmt.Errorf("gateway: the database holds sealed keys but no secret is configured: "+
		"set %s or restore %s", seal.EnvSecret, path)
}

// lockDataDir takes an exclusive lock on the data directory so that two
// gateways never share one, and tightens its mode. The lock is released
// when the returned file is closed or the process ends.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("gateway: data directory: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("gateway: data directory: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("gateway: data directory %s is open to other users: %w", dir, err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("gateway: data directory lock: %w", err)
	}
	// A lock just released may still be held for a moment by a child
	// process forked before the release and not yet exec'd (the child
	// shares the open file until then), so a busy lock is tried again
	// briefly before it counts as another gateway's.
	for try := 0; ; try++ {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if try == lockRetries {
			f.Close()
			return nil, fmt.Errorf("gateway: data directory %s is in use by another gateway", dir)
		}
		time.Sleep(lockRetryDelay)
	}
}

// How long lockDataDir keeps trying a busy lock: lockRetries more times,
// lockRetryDelay apart.
const (
	lockRetries    = 10
	lockRetryDelay = 50 * time.Millisecond
)

// privateDBFiles makes sure the SQLite database at path, and the WAL files
// SQLite keeps next to it, are not open to other users, whatever the
// process's umask: it creates the database file 0600 if it is missing
// (SQLite gives the WAL files the database file's mode) and tightens any of
// them left looser.
func privateDBFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("gateway: database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gateway: database file: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("gateway: database file: %w", err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, info.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("gateway: database file: %w", err)
			}
		}
	}
	return nil
}
