package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	// The database/sql drivers of the gateway's two stores.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/mosaicgw/mosaic"
)

// Seeder writes many rows straight into a gateway's database, each kind
// in one transaction, to give the growth benchmarks a large database
// quickly. The rows are well formed (active grants of active peers, read
// events), but no certificate exists for them: the reads measured are
// those of a grant enrolled the normal way.
type Seeder struct {
	db       *sql.DB
	postgres bool
}

// OpenSeeder opens a gateway's database: the PostgreSQL database at
// databaseURL, or the SQLite file in dataDir when databaseURL is empty.
func OpenSeeder(dataDir, databaseURL string) (*Seeder, error) {
	if databaseURL != "" {
		db, err := sql.Open("pgx", databaseURL)
		if err != nil {
			return nil, fmt.Errorf("bench: open postgres: %w", err)
		}
		return &Seeder{db: db, postgres: true}, nil
	}
	path := filepath.Join(dataDir, "mosaic.db")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_txlock=immediate&_pragma=busy_timeout(30000)&_pragma=foreign_keys(1)" +
		"&_pragma=cache_size(-262144)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("bench: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	return &Seeder{db: db}, nil
}

// Close closes the database.
func (s *Seeder) Close() error { return s.db.Close() }

// Typed placeholders: PostgreSQL cannot infer the type of a parameter in
// the select list of INSERT … SELECT.
const (
	bigint = "CAST(? AS BIGINT)"
	text   = "CAST(? AS TEXT)"
)

// Seeded row ids: UUID text numbered by x, peers and grants apart.
const (
	seedPeerPrefix  = "00000000-0000-7000-8000-"
	seedGrantPrefix = "00000000-0000-7000-9000-"
)

// Statements of the seeder, in SQLite's dialect and PostgreSQL's. Each
// generates its rows from a series 1..n inside the database.
var seedSQL = map[bool]struct{ series, id, hex string }{
	false: {
		series: "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) ",
		id:     "printf('%s%%012d', %s)",
		hex:    "printf('%%040x', %s)",
	},
	true: {
		series: "",
		id:     "'%s' || lpad((%s)::text, 12, '0')",
		hex:    "lpad(to_hex(%s), 40, '0')",
	},
}

// idExpr returns the SQL expression of a seeded id with prefix for the
// number expression x.
func (s *Seeder) idExpr(prefix, x string) string {
	return fmt.Sprintf(seedSQL[s.postgres].id, prefix, x)
}

// hexExpr returns the SQL expression of a seeded serial for x.
func (s *Seeder) hexExpr(x string) string { return fmt.Sprintf(seedSQL[s.postgres].hex, x) }

// insert runs one INSERT … SELECT over the series 1..n in a transaction.
func (s *Seeder) insert(ctx context.Context, table, cols, selectList string, n int,
	args ...any) error {
	var stmt string
	if s.postgres {
		stmt = fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM generate_series(1, "+bigint+") AS x",
			table, cols, selectList)
		args = append(args, n)
		stmt = numbered(stmt)
	} else {
		stmt = seedSQL[false].series +
			fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM n", table, cols, selectList)
		args = append([]any{n}, args...)
	}
	err := s.inTx(ctx, table, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, stmt, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: seed %s: %w", table, err)
	}
	return nil
}

// inTx runs fn in one transaction with the table's secondary indexes
// dropped first and made again afterwards, which is much faster than
// updating them row by row; the result is the same schema.
func (s *Seeder) inTx(ctx context.Context, table string, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.postgres {
		if _, err := tx.ExecContext(ctx, "SET LOCAL maintenance_work_mem = '256MB'"); err != nil {
			return err
		}
		// Appends to the audit chain wait, before the table is locked.
		if table == "audit_events" {
			if _, err := tx.ExecContext(ctx, auditChainLock); err != nil {
				return err
			}
		}
	}
	idx, err := s.indexes(ctx, tx, table)
	if err != nil {
		return err
	}
	for _, ix := range idx {
		if _, err := tx.ExecContext(ctx, "DROP INDEX "+quoteIdent(ix.name)); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if s.postgres {
		// Run the deferred triggers (the access version) now: an index
		// cannot be made on a table with trigger events pending.
		if _, err := tx.ExecContext(ctx, "SET CONSTRAINTS ALL IMMEDIATE"); err != nil {
			return err
		}
	}
	for _, ix := range idx {
		if _, err := tx.ExecContext(ctx, ix.create); err != nil {
			return fmt.Errorf("rebuild index %s: %w", ix.name, err)
		}
	}
	return tx.Commit()
}

// index is a secondary index and the statement that makes it.
type index struct{ name, create string }

// indexes lists the secondary indexes of a table: those not behind a
// primary key or unique constraint.
func (s *Seeder) indexes(ctx context.Context, tx *sql.Tx, table string) ([]index, error) {
	q := `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`
	if s.postgres {
		q = `SELECT indexname, indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename = $1
			AND indexname NOT IN (SELECT conname FROM pg_constraint)`
	}
	rows, err := tx.QueryContext(ctx, q, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []index
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.create); err != nil {
			return nil, err
		}
		out = append(out, ix)
	}
	return out, rows.Err()
}

// Grants inserts n active inbound peers and n active grants of userID's
// tasks, one grant per peer.
func (s *Seeder) Grants(ctx context.Context, userID string, n int) error {
	if n <= 0 {
		return nil
	}
	now := time.Now().UnixMilli()
	peers := fmt.Sprintf("%s, 'inbound', 'peer-seed-' || x, 'Seed peer ' || x, 'active', %s, "+
		bigint+", "+bigint,
		s.idExpr(seedPeerPrefix, "x"), s.hexExpr("x"))
	err := s.insert(ctx, "peers",
		"id, role, common_name, display_name, state, cert_serial, created_at, updated_at",
		peers, n, now, now)
	if err != nil {
		return err
	}
	scope, err := json.Marshal(mosaic.Scope{
		Resources:         []mosaic.Resource{mosaic.ResourceTasks},
		ExcludedResources: []mosaic.Resource{},
		MaxRowsPerQuery:   PageRows,
	})
	if err != nil {
		return err
	}
	grants := fmt.Sprintf("%s, "+text+", %s, "+text+", 'active', "+bigint+", "+bigint+", "+
		bigint+", %s",
		s.idExpr(seedGrantPrefix, "x"), s.idExpr(seedPeerPrefix, "x"), s.hexExpr("x"))
	return s.insert(ctx, "grants",
		"id, user_id, peer_id, scope, status, created_at, updated_at, activated_at, cert_serial",
		grants, n, userID, string(scope), now, now, now)
}

// Settle brings PostgreSQL's statistics and visibility map up to date for
// the seeded tables (VACUUM ANALYZE), as autovacuum would soon after such
// an insert, so that it does not run in the middle of a measurement. On
// SQLite, which keeps no statistics unless asked, it does nothing.
func (s *Seeder) Settle(ctx context.Context) error {
	if !s.postgres {
		return nil
	}
	for _, table := range []string{"peers", "grants", "audit_events"} {
		if _, err := s.db.ExecContext(ctx, "VACUUM ANALYZE "+quoteIdent(table)); err != nil {
			return fmt.Errorf("bench: vacuum %s: %w", table, err)
		}
	}
	return nil
}

// Count returns the number of rows of a table.
func (s *Seeder) Count(ctx context.Context, table string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n, err
}

// numbered rewrites ? placeholders as $1, $2, … (the seeder's statements
// hold no ? inside literals).
func numbered(stmt string) string {
	var b strings.Builder
	n := 0
	for _, r := range stmt {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
