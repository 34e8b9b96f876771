package sqlstore_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic/sqlstore"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// schemaVersion is the newest migration of this build.
const schemaVersion = 8

// appliedVersions is what goose_db_version lists after migrations up to
// n: "version is_applied" lines from goose's own row 0.
func appliedVersions(n int) string {
	var b strings.Builder
	for v := range n + 1 {
		fmt.Fprintf(&b, "%d true\n", v)
	}
	return b.String()
}

func TestProbeSQLite(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "mosaic.db")
	if _, err := sqlstore.ProbeSQLite(ctx, path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("probe of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the probe created the file")
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := sqlstore.ProbeSQLite(ctx, path); err != nil || v != 0 {
		t.Fatalf("probe of an empty file: %d, %v", v, err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Fatalf("the probe wrote into the empty file (%v)", err)
	}
	openSQLite(t, path)
	if v, err := sqlstore.ProbeSQLite(ctx, path); err != nil || v != schemaVersion {
		t.Fatalf("probe of a gateway database: %d, %v", v, err)
	}
}

func TestProbePostgres(t *testing.T) {
	ctx := t.Context()
	url := storetest.PostgresURL(t)
	if v, err := sqlstore.ProbePostgres(ctx, url); err != nil || v != 0 {
		t.Fatalf("probe of an empty database: %d, %v", v, err)
	}
	if tables := lines(t, rawPostgres(t, url), `SELECT table_name FROM
		information_schema.tables WHERE table_schema = 'public' ORDER BY 1`); tables != "" {
		t.Fatalf("the probe created %s", tables)
	}
	db, err := sqlstore.OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if v, err := sqlstore.ProbePostgres(ctx, url); err != nil || v != schemaVersion {
		t.Fatalf("probe of a gateway database: %d, %v", v, err)
	}
}
