package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// TestDataDirInUse starts a second gateway, and an init, on the data
// directory of a running one: both are refused and change nothing, and the
// first keeps serving. Once it stops, the directory can be used again.
func TestDataDirInUse(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	first := start(t, dataDir, options{})
	adminFile := filepath.Join(dataDir, gateway.AdminFile)
	before, err := os.ReadFile(adminFile)
	if err != nil {
		t.Fatal(err)
	}

	second := map[string]func() error{
		"Run": func() error { return runFailing(t, dataDir, options{}, &syncBuffer{}) },
		"Init": func() error {
			return gateway.Init(context.Background(), options{}.config(dataDir, &syncBuffer{}))
		},
	}
	for name, run := range second {
		err := run()
		if err == nil || !strings.Contains(err.Error(), "in use by another gateway") {
			t.Errorf("%s on a data directory in use: %v, want \"in use by another gateway\"",
				name, err)
		}
	}
	if after, err := os.ReadFile(adminFile); err != nil || !bytes.Equal(after, before) {
		t.Errorf("refused starts changed %s (%v)", gateway.AdminFile, err)
	}
	first.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/users", nil, nil)
	first.mustStop(t)

	again := start(t, dataDir, options{})
	if again.info.AdminToken != first.info.AdminToken {
		t.Error("the start after the refused ones has another admin token")
	}
}

// TestDataDirPrivate starts a gateway on a data directory made 0755
// beforehand, under the usual umask 022: the directory becomes 0700, and
// no file in it, the database and its WAL files included, is open to other
// users. It does not run in parallel: it sets the process's umask.
func TestDataDirPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := start(t, dataDir, options{})
	// A write, so that the database's WAL files exist.
	n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Alice Example", "email": "alice@example.test"}, nil)

	assertMode(t, dataDir, 0o700)
	want := []string{"mosaic.db", "mosaic.db-wal", "mosaic.db-shm", seal.SecretFileName,
		gateway.AdminFile, "lock"}
	for _, name := range want {
		if _, err := os.Stat(filepath.Join(dataDir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	assertPrivateFiles(t, dataDir)
	n.mustStop(t)
	assertPrivateFiles(t, dataDir)
}

// TestDataDirTightensLooseDatabase starts a gateway on a data directory
// whose database files were left readable by others (as an older version
// made them): it tightens them before it opens the database.
func TestDataDirTightensLooseDatabase(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	start(t, dataDir, options{}).mustStop(t)
	loose := []string{"mosaic.db"}
	for _, name := range []string{"mosaic.db-wal", "mosaic.db-shm"} {
		if _, err := os.Stat(filepath.Join(dataDir, name)); err == nil {
			loose = append(loose, name)
		}
	}
	for _, name := range loose {
		if err := os.Chmod(filepath.Join(dataDir, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := start(t, dataDir, options{})
	assertPrivateFiles(t, dataDir)
	n.mustStop(t)
}

// assertPrivateFiles fails the test if any file in dir may be read or
// written by other users.
func assertPrivateFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile, as WAL files are at a close
		}
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %04o, open to other users", e.Name(), perm)
		}
	}
}

// TestSecretNotRegenerated starts gateways that have no secret while the
// database holds keys sealed with one: each refuses to start, names
// MOSAIC_SECRET, and writes no new secret file.
func TestSecretNotRegenerated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// prepare makes sealed keys exist and returns the data directory
		// and options of a start without the secret.
		prepare func(t *testing.T) (string, options)
	}{
		{"SQLite, secret file deleted", func(t *testing.T) (string, options) {
			dataDir := t.TempDir()
			start(t, dataDir, options{}).mustStop(t)
			if err := os.Remove(filepath.Join(dataDir, seal.SecretFileName)); err != nil {
				t.Fatal(err)
			}
			return dataDir, options{}
		}},
		{"PostgreSQL, new data directory without the secret", func(t *testing.T) (string,
			options) {
			dbURL := storetest.PostgresURL(t)
			env := map[string]string{seal.EnvSecret: strongSecret}
			cfg := options{env: env, databaseURL: dbURL}.config(t.TempDir(), &syncBuffer{})
			if err := gateway.Init(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			return t.TempDir(), options{databaseURL: dbURL}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dataDir, o := tt.prepare(t)
			err := runFailing(t, dataDir, o, &syncBuffer{})
			if !strings.Contains(err.Error(), seal.EnvSecret) {
				t.Errorf("error %q does not name %s", err, seal.EnvSecret)
			}
			_, err = os.Stat(filepath.Join(dataDir, seal.SecretFileName))
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("secret file after the refused start: %v, want none", err)
			}
		})
	}
}
