package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/pressly/goose/v3"
)

// busyTimeout is how long a SQLite connection waits for a lock held by
// another writer before giving up with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// DB is a mosaic.Store backed by a SQL database. It is safe for concurrent
// use.
type DB struct {
	pool       *sql.DB
	d          *dialect
	migrations *goose.Provider
}

var _ mosaic.Store = (*DB)(nil)

// OpenSQLite opens or creates the SQLite database file at path, configures
// every connection (WAL journal, foreign keys on, a busy timeout, write
// transactions that take the lock up front) and applies the embedded
// migrations. A database whose schema is newer than this build fails with
// ErrSchemaTooNew and is left untouched.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlstore: open sqlite: empty path")
	}
	pool, err := sql.Open(sqliteDialect.name, sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite %s: %w", path, err)
	}
	db, err := open(ctx, pool, sqliteDialect)
	if err != nil {
		_ = pool.Close()
		return nil, err
	}
	return db, nil
}

// sqliteDSN builds the modernc.org/sqlite data source name for a file. The
// path is a URI path, so the characters that would end it are escaped.
func sqliteDSN(path string) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	pragmas := []string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"foreign_keys(1)",
		"synchronous(FULL)",
	}
	var b strings.Builder
	b.WriteString("file:" + escaped + "?_txlock=immediate")
	for _, p := range pragmas {
		b.WriteString("&_pragma=" + p)
	}
	return b.String()
}

// open checks the connection, brings the schema up to date and links audit
// rows written before the audit chain existed (see chainExistingAudit). A
// database that cannot be reached is KindUnavailable "database_unavailable".
func open(ctx context.Context, pool *sql.DB, d *dialect) (*DB, error) {
	if err := pool.PingContext(ctx); err != nil {
		detail := fmt.Errorf("sqlstore: connect: %w", err)
		if d.classify(err) == errDown {
			return nil, errUnavailableDB(detail)
		}
		return nil, detail
	}
	provider, err := newMigrations(pool, d)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, provider); err != nil {
		return nil, err
	}
	db := &DB{pool: pool, d: d, migrations: provider}
	if err := db.chainExistingAudit(ctx); err != nil {
		return nil, err
	}
	return db, nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.PingContext(ctx); err != nil {
		return db.fail("ping", err, nil)
	}
	return nil
}

// Close releases the database.
func (db *DB) Close() error {
	if err := db.pool.Close(); err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// SchemaVersion returns the version of the newest migration applied to the
// database. It does not wait for the migration lock.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	v, _, err := db.migrations.GetVersions(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return v, nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// runner runs statements, rebound to the dialect, either on the pool or in
// one transaction. Store methods pick one; helpers take it.
type runner struct {
	q querier
	d *dialect
}

func (r runner) exec(ctx context.Context, stmt string, args ...any) (sql.Result, error) {
	return r.q.ExecContext(ctx, r.d.rebind(stmt), args...)
}

func (r runner) query(ctx context.Context, stmt string, args ...any) (*sql.Rows, error) {
	return r.q.QueryContext(ctx, r.d.rebind(stmt), args...)
}

func (r runner) queryRow(ctx context.Context, stmt string, args ...any) *sql.Row {
	return r.q.QueryRowContext(ctx, r.d.rebind(stmt), args...)
}

// run returns a runner on the pool, for single statements.
func (db *DB) run() runner { return runner{q: db.pool, d: db.d} }

// txAttempts is how many times inTx runs a transaction that fails with a
// serialization failure or deadlock before it gives up.
const txAttempts = 3

// inTx runs fn in one transaction and commits it if fn returns nil. Errors
// from fn are returned as they are, so fn maps its own. A transaction that
// the database aborted as a serialization failure or a deadlock is run
// again from the start, so fn must only set its results, never accumulate
// them.
func (db *DB) inTx(ctx context.Context, op string, fn func(r runner) error) error {
	var err error
	for attempt := 1; attempt <= txAttempts; attempt++ {
		err = db.tryTx(ctx, op, fn)
		if err == nil || db.d.classify(err) != errRetry {
			return err
		}
		// Let the transaction that won get ahead before trying again.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
	return err
}

// tryTx is one attempt of inTx.
func (db *DB) tryTx(ctx context.Context, op string, fn func(r runner) error) error {
	tx, err := db.pool.BeginTx(ctx, nil)
	if err != nil {
		return db.fail(op+": begin", err, nil)
	}
	if err := fn(runner{q: tx, d: db.d}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return db.fail(op+": commit", err, nil)
	}
	return nil
}

// SchemaStatus returns the schema version of the database and the newest
// version this build knows. They differ when migrations are pending (the
// database is older) or the database was migrated by a newer build.
func (db *DB) SchemaStatus(ctx context.Context) (current, known int64, err error) {
	current, err = db.SchemaVersion(ctx)
	if err != nil {
		return 0, 0, err
	}
	sources := db.migrations.ListSources()
	if len(sources) > 0 {
		known = sources[len(sources)-1].Version
	}
	return current, known, nil
}
