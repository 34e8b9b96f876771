package embedded

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testID is the identity the test certificates carry.
var testID = mosaic.Identity{
	GrantID:       "0190a5b2-7c1e-7def-8abc-0123456789ab",
	SubjectUserID: "0190a5b2-0000-7000-8000-000000000001",
}

// clock is an adjustable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// fixedOptions returns Options whose clock stands at testNow.
func fixedOptions() Options {
	return Options{Now: func() time.Time { return testNow }}
}

// dbPath returns the path of a fresh database file.
func dbPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "mosaic.db")
}

// openStore opens the SQLite store at path, closed when the test ends.
func openStore(t *testing.T, path string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newSealer returns a Sealer over a secret made from seed.
func newSealer(t *testing.T, seed string) *seal.Sealer {
	t.Helper()
	s, err := seal.New([]byte(strings.Repeat(seed, 40)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustLoad loads the CA or fails the test.
func mustLoad(t *testing.T, keys mosaic.KeyStore, sealer mosaic.Sealer, opts Options) *CA {
	t.Helper()
	ca, err := Load(context.Background(), keys, sealer, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return ca
}

// newCA loads a new CA on a fresh database with the fixed clock.
func newCA(t *testing.T) (*CA, *sqlstore.DB, *seal.Sealer) {
	t.Helper()
	db := openStore(t, dbPath(t))
	sealer := newSealer(t, "s")
	return mustLoad(t, db, sealer, fixedOptions()), db, sealer
}

// peerCSR returns a P-256 key's CSR as the enrollment checks leave it.
func peerCSR(t *testing.T) *x509.CertificateRequest {
	t.Helper()
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	text, err := pki.NewCSR(key, "peer-chosen-name")
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSR(text)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// sameCA reports whether two loaded CAs have the same root and intermediate.
func sameCA(a, b *CA) bool {
	return a.Root().Equal(b.Root()) && a.Intermediate().Equal(b.Intermediate())
}
