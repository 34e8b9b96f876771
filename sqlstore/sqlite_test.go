package sqlstore_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// openSQLite opens a store on a new file in the test's directory and closes
// it when the test ends.
func openSQLite(t *testing.T, path string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) mosaic.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "mosaic.db"))
	})
}

// rawDB opens the file without the store, to look at what it wrote.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return raw
}

// schema returns the database's table and index definitions.
func schema(t *testing.T, raw *sql.DB) string {
	t.Helper()
	rows, err := raw.QueryContext(t.Context(),
		`SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mosaic.db")
	db, err := sqlstore.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	u := &mosaic.User{Name: "Kept", Email: "kept@example.test"}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := schema(t, rawDB(t, path))

	for i := range 2 {
		db := openSQLite(t, path)
		v, err := db.SchemaVersion(t.Context())
		if err != nil || v != schemaVersion {
			t.Fatalf("reopen %d: schema version %d, %v; want %d", i, v, err, schemaVersion)
		}
		if _, err := db.FindUser(t.Context(), u.ID); err != nil {
			t.Fatalf("reopen %d: user lost: %v", i, err)
		}
	}
	if after := schema(t, rawDB(t, path)); after != before {
		t.Fatalf("reopening changed the schema:\n%s\nwas\n%s", after, before)
	}
}

func TestSchemaNewerThanBuild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mosaic.db")
	db, err := sqlstore.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A later build applied the next migration.
	raw := rawDB(t, path)
	_, err = raw.ExecContext(t.Context(),
		`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, schemaVersion+1)
	if err != nil {
		t.Fatal(err)
	}
	before := schema(t, raw)

	db, err = sqlstore.OpenSQLite(t.Context(), path)
	if err == nil {
		_ = db.Close()
		t.Fatal("OpenSQLite accepted a database newer than this build")
	}
	newer := fmt.Sprintf("version %d", schemaVersion+1)
	if !errors.Is(err, sqlstore.ErrSchemaTooNew) || !strings.Contains(err.Error(), newer) {
		t.Fatalf("OpenSQLite error %q, want ErrSchemaTooNew naming %s", err, newer)
	}
	if after := schema(t, raw); after != before {
		t.Fatalf("refused open changed the schema:\n%s\nwas\n%s", after, before)
	}
	var n int
	err = raw.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM goose_db_version`).Scan(&n)
	if err != nil || n != schemaVersion+2 {
		t.Fatalf("goose_db_version has %d rows (%v), want %d (0 to %d)", n, err,
			schemaVersion+2, schemaVersion+1)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		path string
	}{
		{"empty path", ""},
		{"missing directory", filepath.Join(t.TempDir(), "no", "such", "dir", "m.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sqlstore.OpenSQLite(t.Context(), tt.path)
			if err == nil {
				_ = db.Close()
				t.Fatal("OpenSQLite succeeded")
			}
		})
	}
}

// TestSealedColumnsVerbatim reads the sealed columns straight from the file:
// the store keeps exactly the bytes it was given, as BLOBs.
func TestSealedColumnsVerbatim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mosaic.db")
	db := openSQLite(t, path)
	ctx := t.Context()
	sealed := func(seed byte) []byte {
		b := make([]byte, 64)
		for i := range b {
			b[i] = seed ^ byte(i*31)
		}
		return b
	}

	u := &mosaic.User{Name: "Owner", Email: "owner@example.test"}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	cred := &mosaic.Credential{UserID: u.ID, Name: "db", Kind: "password", SealedSecret: sealed(1)}
	peer := &mosaic.Peer{Role: mosaic.PeerOutbound, CommonName: "b", DisplayName: "B",
		SealedKey: sealed(2)}
	key := &mosaic.StoredKey{Name: "root", CertPEM: "cert", SealedKey: sealed(3)}
	for _, err := range []error{
		db.CreateCredential(ctx, cred), db.CreatePeer(ctx, peer), db.PutKey(ctx, key),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	raw := rawDB(t, path)
	tests := []struct {
		name, query, id string
		want            []byte
	}{
		{"credential secret", `SELECT sealed_secret, typeof(sealed_secret) FROM credentials
			WHERE id = ?`, cred.ID, sealed(1)},
		{"peer key", `SELECT sealed_key, typeof(sealed_key) FROM peers WHERE id = ?`,
			peer.ID, sealed(2)},
		{"stored key", `SELECT sealed_key, typeof(sealed_key) FROM keys WHERE name = ?`,
			key.Name, sealed(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			var typ string
			if err := raw.QueryRowContext(ctx, tt.query, tt.id).Scan(&got, &typ); err != nil {
				t.Fatal(err)
			}
			if typ != "blob" || !bytes.Equal(got, tt.want) {
				t.Fatalf("stored %s %x, want blob %x", typ, got, tt.want)
			}
		})
	}

	t.Run("nil credential secret refused", func(t *testing.T) {
		err := db.CreateCredential(ctx, &mosaic.Credential{UserID: u.ID, Name: "x", Kind: "x"})
		if !mosaic.IsKind(err, mosaic.KindInvalid) {
			t.Fatalf("got %v, want KindInvalid", err)
		}
	})
}

// TestTimestampsAreMillis checks the stored form of timestamps: INTEGER
// unix milliseconds.
func TestTimestampsAreMillis(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mosaic.db")
	db := openSQLite(t, path)
	at := time.Date(2030, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	u := &mosaic.User{Name: "T", Email: "t@example.test", CreatedAt: at}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	var ms int64
	var typ string
	err := rawDB(t, path).QueryRowContext(t.Context(),
		`SELECT created_at, typeof(created_at) FROM users WHERE id = ?`, u.ID).Scan(&ms, &typ)
	if err != nil {
		t.Fatal(err)
	}
	if typ != "integer" || ms != at.UnixMilli() {
		t.Fatalf("created_at stored as %s %d, want integer %d", typ, ms, at.UnixMilli())
	}
}
