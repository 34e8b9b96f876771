package sqlstore

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// TestReenrollMigrationBackfill migrates a database holding tokens to the
// schema before re-enrollment tokens named their certificate, then up: an
// unused token of an active grant is taken to be for the grant's current
// certificate; a used one, and one of a pending grant, replace nothing.
func TestReenrollMigrationBackfill(t *testing.T) {
	for name, open := range migrationDBs() {
		t.Run(name, func(t *testing.T) {
			pool, d := open(t)
			t.Cleanup(func() { _ = pool.Close() })
			testReenrollBackfill(t, pool, d)
		})
	}
}

// migrationDBs opens an empty database of each dialect, without the
// schema.
func migrationDBs() map[string]func(t *testing.T) (*sql.DB, *dialect) {
	return map[string]func(t *testing.T) (*sql.DB, *dialect){
		"sqlite": func(t *testing.T) (*sql.DB, *dialect) {
			pool, err := sql.Open(sqliteDialect.name,
				sqliteDSN(filepath.Join(t.TempDir(), "mosaic.db"), false))
			if err != nil {
				t.Fatal(err)
			}
			return pool, sqliteDialect
		},
		"postgres": func(t *testing.T) (*sql.DB, *dialect) {
			cfg, err := pgx.ParseConfig(storetest.PostgresURL(t))
			if err != nil {
				t.Fatal(err)
			}
			return stdlib.OpenDB(*cfg), postgresDialect
		},
	}
}

func testReenrollBackfill(t *testing.T, pool *sql.DB, d *dialect) {
	ctx := t.Context()
	p, err := newMigrations(pool, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	r := runner{q: pool, d: d}
	exec := func(stmt string, args ...any) {
		t.Helper()
		if _, err := r.exec(ctx, stmt, args...); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	exec(`INSERT INTO users (id, name, email, created_at, updated_at)
		VALUES ('u1', 'U', 'u@example.test', 1, 1)`)
	exec(`INSERT INTO peers (id, role, common_name, display_name, state, created_at, updated_at)
		VALUES ('p1', 'inbound', 'cn', 'P', 'active', 1, 1)`)
	exec(`INSERT INTO grants (id, user_id, peer_id, scope, status, created_at, updated_at,
		cert_serial) VALUES ('active', 'u1', 'p1', '{}', 'active', 1, 1, 'aa'),
		('pending', 'u1', 'p1', '{}', 'pending', 1, 1, '')`)
	for _, tok := range [][3]any{{"unused", "active", nil}, {"used", "active", 5},
		{"pending", "pending", nil}} {
		exec(`INSERT INTO enrollment_tokens (hash, grant_id, peer_id, created_at, expires_at,
			used_at) VALUES (?, ?, 'p1', 1, 2, ?)`, tok[0], tok[1], tok[2])
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}

	for hash, want := range map[string]string{"unused": "aa", "used": "", "pending": ""} {
		var got string
		err := r.queryRow(ctx, `SELECT replaces_serial FROM enrollment_tokens WHERE hash = ?`,
			hash).Scan(&got)
		if err != nil || got != want {
			t.Errorf("token %s: replaces_serial %q (%v), want %q", hash, got, err, want)
		}
	}
}
