package sqlstore

import (
	"errors"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
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
}

// sqliteDialect is SQLite through modernc.org/sqlite.
var sqliteDialect = &dialect{
	name:       "sqlite",
	goose:      goose.DialectSQLite3,
	migrations: "sqlite",
	nowMillis:  "CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)",
	classify:   classifySQLite,
}

// TODO(postgres): the PostgreSQL store needs the pgx stdlib driver in
// go.mod, an OpenPostgres that uses this dialect with a session locker for
// migrations, and migrations/postgres/00001_init.sql (BIGINT timestamps,
// BYTEA for sealed columns, BIGINT GENERATED ALWAYS AS IDENTITY for audit
// ids). The statements themselves need no change.
var postgresDialect = &dialect{
	name:       "pgx",
	goose:      goose.DialectPostgres,
	migrations: "postgres",
	numbered:   true,
	nowMillis:  "CAST(FLOOR(EXTRACT(EPOCH FROM now()) * 1000) AS BIGINT)",
	classify:   classifyPostgres,
}

// rebind returns stmt in the dialect: nowMarker becomes the current-time
// expression and, for numbered dialects, each ? outside a quoted literal
// becomes $1, $2, and so on.
func (d *dialect) rebind(stmt string) string {
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
	}
	return errOther
}

// classifyPostgres reads the SQLSTATE of a PostgreSQL driver error. pgx's
// *pgconn.PgError has a SQLState method, so no driver import is needed.
func classifyPostgres(err error) errClass {
	var e interface{ SQLState() string }
	if !errors.As(err, &e) {
		return errOther
	}
	switch e.SQLState() {
	case "23505": // unique_violation
		return errUnique
	case "23503": // foreign_key_violation
		return errForeignKey
	case "40001", "40P01", "55P03": // serialization, deadlock, lock not available
		return errBusy
	}
	return errOther
}
