package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	// pool runs writes and transactions; reads runs single statements that
	// only read. On PostgreSQL they are one pool. On SQLite pool is one
	// connection, so that writers queue here rather than in SQLite's busy
	// handler, which sleeps; reads has several read-only connections,
	// which WAL lets read while the writer writes.
	pool, reads *sql.DB
	d           *dialect
	migrations  *goose.Provider
	// writeStmts and readStmts are the hot statements prepared on pool and
	// reads, when the dialect prepares them.
	writeStmts, readStmts *stmtCache
	// audits groups concurrent audit appends into shared transactions.
	audits auditBatcher
	// pages caches pages of resources by data version.
	pages *pageCache
	// access caches grant access by access version.
	access *accessCache
	// writes groups concurrent write transactions, where the dialect
	// does.
	writes group[*writeJob]
	// versionReads groups concurrent reads of the cache versions, where
	// the dialect shares them.
	versionReads group[*versionsRead]
}

var _ mosaic.Store = (*DB)(nil)

// sqliteReaders is how many read-only connections a SQLite store keeps.
const sqliteReaders = 8

// OpenSQLite opens or creates the SQLite database file at path, configures
// every connection (WAL journal, foreign keys on, a busy timeout, write
// transactions that take the lock up front, read connections that cannot
// write) and applies the embedded migrations. A database whose schema is
// newer than this build fails with ErrSchemaTooNew and is left untouched.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlstore: open sqlite: empty path")
	}
	pool, err := sql.Open(sqliteDialect.name, sqliteDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite %s: %w", path, err)
	}
	pool.SetMaxOpenConns(1)
	reads, err := sql.Open(sqliteDialect.name, sqliteDSN(path, true))
	if err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite %s: %w", path, err)
	}
	reads.SetMaxOpenConns(sqliteReaders)
	reads.SetMaxIdleConns(sqliteReaders)
	db, err := open(ctx, pool, reads, sqliteDialect)
	if err != nil {
		_ = reads.Close()
		_ = pool.Close()
		return nil, err
	}
	return db, nil
}

// sqliteDSN builds the modernc.org/sqlite data source name for a file: for
// the writer, or for a reader that cannot write. The path is a URI path,
// so the characters that would end it are escaped.
func sqliteDSN(path string, readOnly bool) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	pragmas := []string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"foreign_keys(1)",
		"synchronous(FULL)",
		// Savepoints (group commits, see writebatch.go) journal the pages
		// they change; in memory, not in a temporary file created and
		// deleted by every transaction that outgrows 64 KiB of them.
		"temp_store(MEMORY)",
	}
	lock := "immediate"
	if readOnly {
		// The writer made the file WAL before any reader connects.
		pragmas = []string{pragmas[0], "query_only(1)"}
		lock = "deferred"
	}
	var b strings.Builder
	b.WriteString("file:" + escaped + "?_txlock=" + lock)
	for _, p := range pragmas {
		b.WriteString("&_pragma=" + p)
	}
	return b.String()
}

// open checks the connection, brings the schema up to date, links audit
// rows written before the audit chain existed (see chainExistingAudit) and
// prepares the hot statements. A database that cannot be reached is
// KindUnavailable "database_unavailable". reads may be pool.
func open(ctx context.Context, pool, reads *sql.DB, d *dialect) (*DB, error) {
	for _, p := range []*sql.DB{pool, reads} {
		if err := p.PingContext(ctx); err != nil {
			detail := fmt.Errorf("sqlstore: connect: %w", err)
			if d.classify(err) == errDown {
				return nil, errUnavailableDB(detail)
			}
			return nil, detail
		}
	}
	provider, err := newMigrations(pool, d)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, provider); err != nil {
		return nil, err
	}
	db := &DB{pool: pool, reads: reads, d: d, migrations: provider, pages: newPageCache(),
		access: newAccessCache()}
	if err := db.chainExistingAudit(ctx); err != nil {
		return nil, err
	}
	if err := db.prepare(ctx); err != nil {
		return nil, err
	}
	return db, nil
}

// prepare prepares the hot statements on both pools, when the dialect
// prepares statements.
func (db *DB) prepare(ctx context.Context) (err error) {
	if !db.d.prepare {
		return nil
	}
	// The inserts of audit rows, which every audited transaction runs:
	// one row, or a group commit's rows in chunks of these sizes.
	writes := slices.Clip(preparedWrites)
	for _, n := range auditChunkSizes() {
		writes = append(writes, db.auditInsert(n))
	}
	if db.writeStmts, err = prepareAll(ctx, db.pool, db.d, writes); err != nil {
		return err
	}
	if db.readStmts, err = prepareAll(ctx, db.reads, db.d, preparedReads); err != nil {
		db.writeStmts.close()
		return err
	}
	return nil
}

// Ping checks that the database answers, for writes and for reads.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.PingContext(ctx); err != nil {
		return db.fail("ping", err, nil)
	}
	if err := db.reads.PingContext(ctx); err != nil {
		return db.fail("ping", err, nil)
	}
	return nil
}

// Close releases the database.
func (db *DB) Close() error {
	db.readStmts.close()
	db.writeStmts.close()
	err := db.pool.Close()
	if db.reads != db.pool {
		err = errors.Join(err, db.reads.Close())
	}
	if err != nil {
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

// txAttempts is how many times inTx runs a transaction that fails with a
// serialization failure or deadlock before it gives up.
const txAttempts = 3

// inTx runs fn in one transaction and commits it if fn returns nil. Errors
// from fn are returned as they are, so fn maps its own. A transaction that
// the database aborted as a serialization failure or a deadlock is run
// again from the start, so fn must only set its results, never accumulate
// them.
//
// fn must not call the store: its transaction holds the writer. On a
// dialect with group commits, transactions of concurrent callers run
// together as one (see runWriteBatch), each in a savepoint of its own.
func (db *DB) inTx(ctx context.Context, op string, fn func(r runner) error) error {
	return db.inTxBy(ctx, op, db.writeDeadline(ctx), fn)
}

// inTxBy is inTx for a transaction that must begin by deadline (zero for
// no bound).
func (db *DB) inTxBy(ctx context.Context, op string, deadline time.Time,
	fn func(r runner) error) error {
	if db.d.groupCommit {
		job := &writeJob{ctx: ctx, op: op, fn: fn, deadline: deadline}
		if err := db.writes.do(ctx, deadline, job, maxWriteBatch, db.runWriteBatch); err != nil {
			return db.beginError(op, err)
		}
		return job.err
	}
	return db.inOwnTx(ctx, op, fn, deadline)
}

// writeDeadline is when a write transaction asked for now on ctx must have
// begun: the dialect's writeWait from now, or ctx's deadline if earlier;
// zero for no bound, when the dialect has no writeWait.
func (db *DB) writeDeadline(ctx context.Context) time.Time {
	if db.d.writeWait <= 0 {
		return time.Time{}
	}
	deadline := time.Now().Add(db.d.writeWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return deadline
}

// inOwnTx is inTx in a transaction of fn's own, which must begin by
// deadline (unless zero).
func (db *DB) inOwnTx(ctx context.Context, op string, fn func(r runner) error,
	deadline time.Time) error {
	var err error
	for attempt := 1; attempt <= txAttempts; attempt++ {
		err = db.tryTx(ctx, op, fn, deadline)
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

// tryTx is one attempt of inOwnTx.
func (db *DB) tryTx(ctx context.Context, op string, fn func(r runner) error,
	deadline time.Time) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tx, err := db.beginTx(ctx, cancel, deadline)
	if err != nil {
		return db.beginError(op, err)
	}
	if err := fn(runner{q: tx, d: db.d, tx: tx, stmts: db.writeStmts}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return db.fail(op+": commit", err, nil)
	}
	return nil
}

// errWriteWait is the cause of a write transaction that could not begin
// within the dialect's writeWait.
var errWriteWait = errors.New("waited too long for the writer")

// beginTx begins a write transaction on ctx, which cancel cancels. A
// transaction that has not begun by deadline, unless it is zero (the
// writer connection busy with other writes, then the database's write lock
// held by another process), is cancelled and fails with errWriteWait, so
// that queued writes fail as a single one would, not one after another.
func (db *DB) beginTx(ctx context.Context, cancel context.CancelCauseFunc,
	deadline time.Time) (*sql.Tx, error) {
	if deadline.IsZero() {
		return db.pool.BeginTx(ctx, db.d.txOptions)
	}
	timer := time.AfterFunc(time.Until(deadline), func() { cancel(errWriteWait) })
	tx, err := db.pool.BeginTx(ctx, db.d.txOptions)
	if !timer.Stop() {
		if err == nil {
			_ = tx.Rollback()
		}
		return nil, errWriteWait
	}
	return tx, err
}

// beginError is the error of op's transaction that beginTx could not
// begin, or that gave up waiting for its turn: for lack of time (its own
// or its caller's), the database is busy.
func (db *DB) beginError(op string, err error) error {
	if errors.Is(err, errWriteWait) || errors.Is(err, context.DeadlineExceeded) {
		return errBusyDB(fmt.Errorf("sqlstore: %s: begin: %w", op, err))
	}
	return db.fail(op+": begin", err, nil)
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
