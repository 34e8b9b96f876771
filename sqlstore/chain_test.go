package sqlstore_test

import (
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

func TestAuditChain(t *testing.T) { storetest.RunAuditChain(t, sqliteChainEnv) }

func TestPostgresAuditChain(t *testing.T) {
	storetest.RunAuditChain(t, func(t *testing.T) *storetest.ChainEnv {
		return postgresChainEnv(t, storetest.PostgresURL(t))
	})
}

// sqliteChainEnv is a new SQLite database as the shared-database suites
// take it.
func sqliteChainEnv(t *testing.T) *storetest.ChainEnv {
	path := filepath.Join(t.TempDir(), "mosaic.db")
	return &storetest.ChainEnv{
		Store: openSQLite(t, path),
		Open:  func(t *testing.T) storetest.ChainStore { return openSQLite(t, path) },
		Exec:  execOn(rawDB(t, path), false),
	}
}

// postgresChainEnv is the PostgreSQL database at dbURL as the
// shared-database suites take it.
func postgresChainEnv(t *testing.T, dbURL string) *storetest.ChainEnv {
	return &storetest.ChainEnv{
		Store: openPostgres(t, dbURL),
		Open:  func(t *testing.T) storetest.ChainStore { return openPostgres(t, dbURL) },
		Exec:  execOn(rawPostgres(t, dbURL), true),
	}
}

// execOn returns a storetest.ChainEnv Exec on raw; numbered rewrites each
// ? as $1, $2, … for PostgreSQL (the tests' statements hold no ? in
// literals).
func execOn(raw *sql.DB, numbered bool) func(t *testing.T, stmt string, args ...any) {
	return func(t *testing.T, stmt string, args ...any) {
		t.Helper()
		if numbered {
			parts := strings.Split(stmt, "?")
			var b strings.Builder
			for i, p := range parts {
				if i > 0 {
					b.WriteString("$" + strconv.Itoa(i))
				}
				b.WriteString(p)
			}
			stmt = b.String()
		}
		if _, err := raw.ExecContext(t.Context(), stmt, args...); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// TestPostgresAuditChainRepeatableRead runs the chain suite on a database
// whose default isolation is repeatable read, as a DBA may set it: the
// store's own transactions must still read the chain's newest row after
// taking the chain lock.
func TestPostgresAuditChainRepeatableRead(t *testing.T) {
	storetest.RunAuditChain(t, func(t *testing.T) *storetest.ChainEnv {
		dbURL := storetest.PostgresURL(t)
		raw := rawPostgres(t, dbURL)
		var name string
		if err := raw.QueryRowContext(t.Context(), "SELECT current_database()").
			Scan(&name); err != nil {
			t.Fatal(err)
		}
		_, err := raw.ExecContext(t.Context(), "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+
			" SET default_transaction_isolation = 'repeatable read'")
		if err != nil {
			t.Fatal(err)
		}
		return postgresChainEnv(t, dbURL)
	})
}
