package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Statements that read the schema version without creating the version
// table: the newest applied migration, or 0 when there is no table.
const (
	sqliteHasVersions   = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	postgresHasVersions = `SELECT COUNT(*) FROM pg_catalog.pg_tables
		WHERE tablename = $1 AND schemaname = ANY (current_schemas(false))`
	appliedVersion = `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version
		WHERE is_applied`
)

// versionTable is the table goose keeps the applied migrations in.
const versionTable = "goose_db_version"

// ProbeSQLite returns the schema version of the SQLite database file at
// path, opened read-only: 0 when the file holds no gateway schema (an
// empty file, say). Unlike OpenSQLite it never creates or changes
// anything; a missing file is an error wrapping fs.ErrNotExist.
func ProbeSQLite(ctx context.Context, path string) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("sqlstore: probe sqlite %s: %w", path, err)
	}
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	pool, err := sql.Open(sqliteDialect.name, "file:"+escaped+
		"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, fmt.Errorf("sqlstore: probe sqlite %s: %w", path, err)
	}
	defer pool.Close()
	v, err := probe(ctx, pool, sqliteHasVersions)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: probe sqlite %s: %w", path, err)
	}
	return v, nil
}

// ProbePostgres returns the schema version of the PostgreSQL database at
// url: 0 when it holds no gateway schema. Unlike OpenPostgres it never
// creates or changes anything. A server that cannot be reached is
// KindUnavailable "database_unavailable". Errors never repeat url.
func ProbePostgres(ctx context.Context, url string) (int64, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: probe postgres: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = postgresConnectTimeout
	}
	pool := stdlib.OpenDB(*cfg)
	defer pool.Close()
	v, err := probe(ctx, pool, postgresHasVersions)
	if err != nil {
		detail := fmt.Errorf("sqlstore: probe postgres: %w", err)
		if postgresDialect.classify(err) == errDown {
			return 0, errUnavailableDB(detail)
		}
		return 0, detail
	}
	return v, nil
}

// probe reads the applied schema version through pool, with hasTable the
// dialect's statement that counts tables of a name.
func probe(ctx context.Context, pool *sql.DB, hasTable string) (int64, error) {
	var n int
	if err := pool.QueryRowContext(ctx, hasTable, versionTable).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	var v int64
	if err := pool.QueryRowContext(ctx, appliedVersion).Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}
