package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// Secrets of the hostile rotation tests.
const (
	hostileOne = "hostile-rotation-secret-number-one-0123456789"
	hostileTwo = "hostile-rotation-secret-number-two-0123456789"
)

// pgTables lists the tables of the PostgreSQL database at url.
func pgTables(t *testing.T, url string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestRotateOnEmptyPostgres points both rotations at a PostgreSQL database
// that holds no gateway, a mistyped database name say: each fails with one
// line and leaves the database empty rather than creating a schema and a
// key registry in it. So does an empty SQLite file, and a server that
// cannot be reached fails without repeating the URL's password.
func TestRotateOnEmptyPostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	env := map[string]string{"MOSAIC_SECRET": hostileOne}
	for _, cmd := range []string{"rotate-secret", "rotate-ca"} {
		t.Run(cmd, func(t *testing.T) {
			dir := t.TempDir()
			line := run(t, env, "", "gateway", cmd, "--data-dir", dir, "--db", url).mustFail(t)
			if !strings.Contains(line, "no gateway database") {
				t.Errorf("%s on an empty database: %q", cmd, line)
			}
			if tables := pgTables(t, url); len(tables) != 0 {
				t.Fatalf("%s on an empty database created %v", cmd, tables)
			}

			// An empty SQLite file stays empty.
			if err := os.WriteFile(filepath.Join(dir, "mosaic.db"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			line = run(t, env, "", "gateway", cmd, "--data-dir", dir).mustFail(t)
			if !strings.Contains(line, "no gateway database") {
				t.Errorf("%s on an empty SQLite file: %q", cmd, line)
			}
			if st, err := os.Stat(filepath.Join(dir, "mosaic.db")); err != nil || st.Size() != 0 {
				t.Fatalf("%s wrote into an empty SQLite file (%v)", cmd, err)
			}

			// Nobody listens on port 1.
			down := "postgres://mosaic:hunter2-password@127.0.0.1:1/mosaic?connect_timeout=2"
			r := run(t, env, "", "gateway", cmd, "--data-dir", dir, "--db", down)
			r.mustFail(t)
			if strings.Contains(r.stderr+r.stdout, "hunter2") {
				t.Fatalf("%s printed the database password: %s", cmd, r.stderr)
			}
		})
	}
}

// TestRotateSecretSwapped rotates to a new secret, then runs rotate-secret
// with the two secrets swapped, the old one as current: it must refuse
// rather than seal everything back under the retired secret.
func TestRotateSecretSwapped(t *testing.T) {
	dir := t.TempDir()
	flags := []string{"--data-dir", dir, "--admin-addr", "127.0.0.1:0",
		"--federation-addr", "127.0.0.1:0"}
	one := map[string]string{"MOSAIC_SECRET": hostileOne}
	run(t, one, "", append([]string{"gateway", "init"}, flags...)...).mustSucceed(t)
	rotated := map[string]string{"MOSAIC_SECRET": hostileTwo, "MOSAIC_SECRET_PREVIOUS": hostileOne}
	run(t, rotated, "", "gateway", "rotate-secret", "--data-dir", dir).mustSucceed(t)

	swapped := map[string]string{"MOSAIC_SECRET": hostileOne,
		"MOSAIC_SECRET_PREVIOUS": hostileTwo}
	r := run(t, swapped, "", "gateway", "rotate-secret", "--data-dir", dir, "--json")
	line := r.mustFail(t)
	if !strings.Contains(line, "MOSAIC_SECRET") {
		t.Errorf("swapped secrets: %q", line)
	}
	for _, s := range []string{hostileOne, hostileTwo} {
		if strings.Contains(r.stderr+r.stdout, s) {
			t.Fatal("a secret was printed")
		}
	}
	// Everything is still under the new secret: it alone rotates nothing.
	r = run(t, map[string]string{"MOSAIC_SECRET": hostileTwo}, "", "gateway", "rotate-secret",
		"--data-dir", dir, "--json").mustSucceed(t)
	if !strings.Contains(r.stdout, `"currentVersion": 2,`) ||
		!strings.Contains(r.stdout, `"resealed": 0,`) {
		t.Errorf("after the refused swap: %s", r.stdout)
	}
}

// TestRotateSecretBadFlags gives rotate-secret flag values a careless
// operator could type: each is one line and a non-zero exit, before the
// database is opened.
func TestRotateSecretBadFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--batch", "0"}, {"--batch", "1001"}, {"--batch", "abc"},
		{"--batch-delay", "-5s"}, {"--batch-delay", "soon"}, {"extra"},
	} {
		line := run(t, nil, "", append([]string{"gateway", "rotate-secret", "--data-dir", dir},
			args...)...).mustFail(t)
		if !strings.Contains(line, strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%v: %q does not name it", args, line)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused runs left %d files in the data directory", len(entries))
	}
}
