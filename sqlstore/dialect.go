package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// nowMarker stands in a statement for the database's current time in unix
// milliseconds; the dialect replaces it with its own expression.
const nowMarker = "{{now}}"

// errClass is what a driver error means to the store.
type errClass int

// Driver error classes.
const (
	errOther      errClass = iota // anything else: an internal fault
	errUnique                     // a unique or primary key violation
	errForeignKey                 // a foreign key violation
	errBusy                       // the database is locked by someone else
	errRetry                      // a serialization failure or deadlock: retry the transaction
	errDown                       // the database cannot be reached or the connection was lost
	errFull                       // the disk or file system holding the database is full
)

// dialect is everything that differs between the SQL databases the store
// runs on. Statements are written once with ? placeholders and nowMarker.
type dialect struct {
	// name is the database/sql driver name.
	name string
	// goose is the migration dialect; migrations is the directory of
	// migrations/ that holds this dialect's schema.
	goose      goose.Dialect
	migrations string
	// numbered placeholders ($1, $2, …) instead of ?.
	numbered bool
	// nowMillis is an expression for the database's current time in unix
	// milliseconds. It must give one value throughout a statement, so that
	// "created now, expires now + ttl" holds exactly.
	nowMillis string
	// classify says what a driver error means.
	classify func(error) errClass
	// migrationLock, when set, is the database-wide lock that goose holds
	// while it reads the schema version and while it migrates, so that
	// several processes opening one database apply each migration once.
	migrationLock lock.SessionLocker
	// lockAuditChain, when set, is a statement that makes the transaction
	// the only appender to the audit hash chain until it ends, among every
	// process that shares the database. Without it the dialect relies on
	// write transactions being serialised already (SQLite takes its write
	// lock when such a transaction begins).
	lockAuditChain string
	// auditIDs takes n ids for new audit rows, in increasing order, in a
	// transaction that holds the chain lock, and reads the database clock
	// (unix milliseconds) and the newest row's hash ("" for none, or a
	// row outside the chain); overrideIdentity is what an INSERT that gives
	// audit_events ids of its own needs after its column list.
	auditIDs         func(ctx context.Context, r runner, n int) ([]int64, int64, string, error)
	overrideIdentity string
	// writeWait, when set, bounds how long a write transaction may wait to
	// begin, the writer connection included (see DB.beginTx).
	writeWait time.Duration
	// txOptions are those of every write transaction; nil for the
	// driver's defaults.
	txOptions *sql.TxOptions
	// groupCommit says that concurrent write transactions run together
	// as one, for a database with a single writer (see DB.inTx).
	groupCommit bool
	// prepare says the store prepares its hot statements once (see
	// preparedStatements). pgx caches prepared statements by itself.
	prepare bool
	// shareVersionReads says that concurrent readers of the cache versions
	// share one query (see DB.versions): worth it where a query is a round
	// trip to a server, not where it is a call into the process.
	shareVersionReads bool

	// rebound remembers rebind's results; reboundCount counts them.
	rebound      sync.Map
	reboundCount atomic.Int64
}

// sqliteDialect is SQLite through modernc.org/sqlite.
var sqliteDialect = &dialect{
	name:        "sqlite",
	goose:       goose.DialectSQLite3,
	migrations:  "sqlite",
	nowMillis:   "CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)",
	classify:    classifySQLite,
	auditIDs:    sqliteAuditIDs,
	prepare:     true,
	writeWait:   busyTimeout,
	groupCommit: true,
}

// postgresDialect is PostgreSQL through pgx's database/sql driver. now() is
// the start of the current transaction: one value throughout a statement,
// and the same clock for every replica that shares the database.
var postgresDialect = &dialect{
	name:       "pgx",
	goose:      goose.DialectPostgres,
	migrations: "postgres",
	numbered:   true,
	nowMillis:  "CAST(FLOOR(EXTRACT(EPOCH FROM now()) * 1000) AS BIGINT)",
	classify:   classifyPostgres,

	migrationLock:  advisoryLocker{id: lock.DefaultLockID, wait: migrationLockWait},
	lockAuditChain: "SELECT pg_advisory_xact_lock(" + auditChainLockID + ")",

	auditIDs:         postgresAuditIDs,
	overrideIdentity: " OVERRIDING SYSTEM VALUE",
	// Read committed, whatever the database's default: the audit chain
	// must read the newest row after it took the chain lock, not in a
	// snapshot taken before.
	txOptions: &sql.TxOptions{Isolation: sql.LevelReadCommitted},

	shareVersionReads: true,
}

// auditChainLockID is the key of the PostgreSQL advisory lock that
// serialises appends to the audit chain: the ASCII bytes of "mosaicau" as
// a big-endian integer, distinct from goose's migration lock.
const auditChainLockID = "7885648334766170485"

// rebind returns stmt in the dialect: nowMarker becomes the current-time
// expression and, for numbered dialects, each ? outside a quoted literal
// becomes $1, $2, and so on. Results are remembered, up to
// rebindCacheSize statements: the store's statements are a fixed set.
func (d *dialect) rebind(stmt string) string {
	if v, ok := d.rebound.Load(stmt); ok {
		return v.(string)
	}
	out := d.rebindText(stmt)
	if d.reboundCount.Load() < rebindCacheSize {
		if _, loaded := d.rebound.LoadOrStore(stmt, out); !loaded {
			d.reboundCount.Add(1)
		}
	}
	return out
}

// rebindCacheSize bounds the statements a dialect remembers rebound.
const rebindCacheSize = 1024

// rebindText is rebind without the memory.
func (d *dialect) rebindText(stmt string) string {
	stmt = strings.ReplaceAll(stmt, nowMarker, d.nowMillis)
	if !d.numbered || !strings.Contains(stmt, "?") {
		return stmt
	}
	var b strings.Builder
	b.Grow(len(stmt) + 16)
	n, quoted := 0, false
	for i := 0; i < len(stmt); i++ {
		c := stmt[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// classifySQLite reads the extended result code of a modernc.org/sqlite
// error.
func classifySQLite(err error) errClass {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return errOther
	}
	switch code := e.Code(); {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return errUnique
	case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return errForeignKey
	case code&0xff == sqlite3.SQLITE_BUSY || code&0xff == sqlite3.SQLITE_LOCKED:
		return errBusy
	case code&0xff == sqlite3.SQLITE_FULL:
		return errFull
	case code&0xff == sqlite3.SQLITE_IOERR:
		return errDown
	}
	return errOther
}

// postgresStates says what the SQLSTATEs the store cares about mean. Every
// code of class 08 (connection exception) is errDown too.
var postgresStates = map[string]errClass{
	"23505": errUnique,     // unique_violation
	"23503": errForeignKey, // foreign_key_violation
	"40001": errRetry,      // serialization_failure
	"40P01": errRetry,      // deadlock_detected
	"55P03": errBusy,       // lock_not_available
	"53300": errDown,       // too_many_connections
	"57P01": errDown,       // admin_shutdown
	"57P02": errDown,       // crash_shutdown
	"57P03": errDown,       // cannot_connect_now
	"53100": errFull,       // disk_full
}

// classifyPostgres reads the SQLSTATE of a PostgreSQL error, or recognizes
// a connection that could not be made or was lost.
func classifyPostgres(err error) errClass {
	var e *pgconn.PgError
	switch {
	case errors.As(err, &e) && strings.HasPrefix(e.Code, "08"):
		return errDown
	case e != nil:
		return postgresStates[e.Code] // errOther when absent
	case connectionLost(err):
		return errDown
	}
	return errOther
}

// connectionLost reports whether err says the connection to the server
// could not be made or broke. The caller's own cancellation is not one.
func connectionLost(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var connect *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connect) || errors.As(err, &netErr) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
