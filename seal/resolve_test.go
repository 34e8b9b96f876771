package seal_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// Secrets of the tests, each at least 32 bytes.
var (
	secretOne   = []byte("first-secret-of-the-rotation-tests-0001")
	secretTwo   = []byte("second-secret-of-the-rotation-tests-002")
	secretThree = []byte("third-secret-of-the-rotation-tests-0003")
	secretWrong = []byte("a-secret-nobody-registered-anywhere-000")
)

// stores are the stores the tests run on: a SQLite file and a PostgreSQL
// database of their own.
var stores = []struct {
	name string
	open func(t *testing.T) *sqlstore.DB
}{
	{"sqlite", func(t *testing.T) *sqlstore.DB {
		db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "mosaic.db"))
		return closing(t, db, err)
	}},
	{"postgres", func(t *testing.T) *sqlstore.DB {
		db, err := sqlstore.OpenPostgres(t.Context(), storetest.PostgresURL(t))
		return closing(t, db, err)
	}},
}

// closing fails the test on err and closes db when the test ends.
func closing(t *testing.T, db *sqlstore.DB, err error) *sqlstore.DB {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// onStores runs test on each store.
func onStores(t *testing.T, test func(t *testing.T, db *sqlstore.DB)) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			test(t, s.open(t))
		})
	}
}

// secrets returns the Secrets of current and previous (nil for none).
func secrets(current, previous []byte) seal.Secrets {
	return seal.Secrets{Current: current, CurrentSource: "env MOSAIC_SECRET",
		Previous: previous, PreviousSource: "env MOSAIC_SECRET_PREVIOUS"}
}

// resolve resolves s on db or fails the test.
func resolve(t *testing.T, db *sqlstore.DB, s seal.Secrets) *seal.Sealer {
	t.Helper()
	sealer, err := seal.Resolve(t.Context(), db, s)
	if err != nil {
		t.Fatalf("Resolve(%v): %v", s, err)
	}
	return sealer
}

// wantVersions fails the test unless the sealer seals with current and
// holds exactly held.
func wantVersions(t *testing.T, s *seal.Sealer, current uint32, held ...uint32) {
	t.Helper()
	got := s.Versions()
	if s.Current() != current || fmt.Sprint(got) != fmt.Sprint(held) {
		t.Fatalf("sealer seals with %d and holds %v, want %d and %v", s.Current(), got,
			current, held)
	}
}

// registry returns the stored registry, "" when there is none.
func registry(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	text, err := db.GetSetting(t.Context(), seal.RegistrySetting)
	if mosaic.IsKind(err, mosaic.KindNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// wantRefused checks that resolving s fails with an error that mentions
// mention, holds no secret, and leaves the registry as it was.
func wantRefused(t *testing.T, db *sqlstore.DB, s seal.Secrets, mention string) {
	t.Helper()
	before := registry(t, db)
	sealer, err := seal.Resolve(t.Context(), db, s)
	if err == nil {
		t.Fatalf("Resolve(%v) = sealer of %v, want error", s, sealer.Versions())
	}
	msg := err.Error()
	if !strings.Contains(msg, mention) || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line mentioning %q", msg, mention)
	}
	for _, secret := range [][]byte{s.Current, s.Previous} {
		if secret != nil && strings.Contains(msg, string(secret)) {
			t.Errorf("error %q holds a secret", msg)
		}
	}
	if after := registry(t, db); after != before {
		t.Errorf("refused Resolve changed the registry from %q to %q", before, after)
	}
}

// sealedKey stores a key sealed under sealer, as the embedded CA does.
func sealedKey(t *testing.T, db *sqlstore.DB, sealer *seal.Sealer, name string) {
	t.Helper()
	ref := mosaic.SealedRef{Table: mosaic.SealedKeys, ID: name}
	sealed, err := sealer.Seal([]byte("private key of "+name), ref.AAD())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutKey(t.Context(), &mosaic.StoredKey{Name: name, CertPEM: "cert",
		SealedKey: sealed}); err != nil {
		t.Fatal(err)
	}
}

func TestResolveEmptyDatabase(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		wantVersions(t, resolve(t, db, secrets(secretOne, nil)), 1, 1)
		wantVersions(t, resolve(t, db, secrets(secretOne, nil)), 1, 1)
		wantVersions(t, resolve(t, db, secrets(secretOne, secretOne)), 1, 1)
		wantRefused(t, db, secrets(secretWrong, nil), "wrong MOSAIC_SECRET")
	})
}

// TestResolveBeforeRegistry resolves secrets on a database whose values
// were sealed before key versions were registered.
func TestResolveBeforeRegistry(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		old, err := seal.New(secretOne)
		if err != nil {
			t.Fatal(err)
		}
		sealedKey(t, db, old, "ca-root")

		wantRefused(t, db, secrets(secretWrong, nil), "wrong MOSAIC_SECRET")
		wantRefused(t, db, secrets(secretWrong, secretTwo), "wrong MOSAIC_SECRET")
		wantRefused(t, db, secrets(secretOne, secretWrong), "MOSAIC_SECRET_PREVIOUS")
		if registry(t, db) != "" {
			t.Fatal("a refused secret created the registry")
		}

		// The rotation starts: the previous secret opens the values.
		wantVersions(t, resolve(t, db, secrets(secretTwo, secretOne)), 2, 1, 2)
		wantVersions(t, resolve(t, db, secrets(secretOne, nil)), 1, 1)
		wantVersions(t, resolve(t, db, secrets(secretTwo, nil)), 2, 2)
	})
}

func TestResolveStartsRotation(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		resolve(t, db, secrets(secretOne, nil))
		wantRefused(t, db, secrets(secretTwo, nil), "MOSAIC_SECRET_PREVIOUS")
		wantRefused(t, db, secrets(secretTwo, secretWrong), "MOSAIC_SECRET_PREVIOUS")

		wantVersions(t, resolve(t, db, secrets(secretTwo, secretOne)), 2, 1, 2)
		wantVersions(t, resolve(t, db, secrets(secretThree, secretTwo)), 3, 2, 3)
		// A rotation moves on from the newest secret only.
		wantRefused(t, db, secrets(secretWrong, secretOne), "version 3 is newer")
		// Older configurations still resolve to their versions.
		wantVersions(t, resolve(t, db, secrets(secretTwo, secretOne)), 2, 1, 2)
		wantVersions(t, resolve(t, db, secrets(secretOne, nil)), 1, 1)
	})
}

// TestResolveConcurrentStarters has ten processes start a rotation at once
// on a database in use: one registers the new secret, all agree on its
// version.
func TestResolveConcurrentStarters(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		resolve(t, db, secrets(secretOne, nil))
		const n = 10
		sealers := make([]*seal.Sealer, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				sealers[i], errs[i] = seal.Resolve(t.Context(), db, secrets(secretTwo, secretOne))
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("starter %d: %v", i, errs[i])
			}
			wantVersions(t, sealers[i], 2, 1, 2)
		}
		reg, err := seal.ParseRegistry(registry(t, db))
		if err != nil || len(reg.Keys) != 2 {
			t.Fatalf("registry %v (%v), want two keys", reg, err)
		}
	})
}

// TestResolveConcurrentFirstStarts has ten processes start at once on an
// empty database, half with another secret: every one that succeeds has
// the winner's secret as version 1.
func TestResolveConcurrentFirstStarts(t *testing.T) {
	onStores(t, func(t *testing.T, db *sqlstore.DB) {
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			secret := secretOne
			if i%2 == 1 {
				secret = secretTwo
			}
			wg.Go(func() {
				_, errs[i] = seal.Resolve(t.Context(), db, secrets(secret, nil))
			})
		}
		wg.Wait()
		reg, err := seal.ParseRegistry(registry(t, db))
		if err != nil || len(reg.Keys) != 1 {
			t.Fatalf("registry %v (%v), want one key", reg, err)
		}
		winner := reg.Lookup(seal.CheckValue(secretOne)) == 1
		for i := range n {
			if wantOK := (i%2 == 0) == winner; (errs[i] == nil) != wantOK {
				t.Errorf("starter %d: error %v, want success %v", i, errs[i], wantOK)
			}
		}
	})
}

func TestSecretsDoNotPrint(t *testing.T) {
	s := secrets(secretOne, secretTwo)
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out := fmt.Sprintf(format, s)
		if strings.Contains(out, string(secretOne)) || strings.Contains(out, string(secretTwo)) {
			t.Errorf("%s of Secrets printed a secret: %s", format, out)
		}
	}
}
