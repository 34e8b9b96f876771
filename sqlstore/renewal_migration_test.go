package sqlstore

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// TestRenewalMigrationBackfill migrates a database holding grants to the
// schema before renewal, then up: a grant whose certificate is the one its
// peer shows takes that certificate's notAfter; any other grant none.
func TestRenewalMigrationBackfill(t *testing.T) {
	dbs := map[string]func(t *testing.T) (*sql.DB, *dialect){
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
	for name, open := range dbs {
		t.Run(name, func(t *testing.T) {
			pool, d := open(t)
			t.Cleanup(func() { _ = pool.Close() })
			testRenewalBackfill(t, pool, d)
		})
	}
}

func testRenewalBackfill(t *testing.T, pool *sql.DB, d *dialect) {
	ctx := t.Context()
	p, err := newMigrations(pool, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 3); err != nil {
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
	exec(`INSERT INTO peers (id, role, common_name, display_name, state, cert_serial,
		cert_not_after, created_at, updated_at)
		VALUES ('p1', 'inbound', 'cn', 'P', 'active', 'aa', 1900000000000, 1, 1)`)
	for _, g := range [][2]string{{"shown", "aa"}, {"older", "bb"}, {"pending", ""}} {
		status := "active"
		if g[1] == "" {
			status = "pending"
		}
		exec(`INSERT INTO grants (id, user_id, peer_id, scope, status, created_at, updated_at,
			cert_serial) VALUES (?, 'u1', 'p1', '{}', ?, 1, 1, ?)`, g[0], status, g[1])
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}

	want := map[string]sql.NullInt64{
		"shown":   {Int64: 1900000000000, Valid: true},
		"older":   {},
		"pending": {},
	}
	for id, w := range want {
		var got sql.NullInt64
		var prev string
		err := r.queryRow(ctx, `SELECT cert_not_after, prev_cert_serial FROM grants WHERE id = ?`,
			id).Scan(&got, &prev)
		if err != nil || got != w || prev != "" {
			t.Errorf("grant %s: cert_not_after %v, prev %q (%v), want %v", id, got, prev, err, w)
		}
	}
	var failures int
	err = r.queryRow(ctx, `SELECT renew_failures FROM peers WHERE id = 'p1'`).Scan(&failures)
	if err != nil || failures != 0 {
		t.Errorf("peer renew_failures %d, %v", failures, err)
	}
}
