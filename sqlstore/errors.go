package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/mosaicgw/mosaic"
)

// violations says which client-facing error a statement's constraint
// violations mean. A nil field leaves that violation an internal fault.
type violations struct {
	unique     *mosaic.Error
	foreignKey *mosaic.Error
}

// fail maps a database error from operation op to the store's errors: an
// *mosaic.Error passes through, a busy, unreachable or full database is
// KindUnavailable ("database_busy", "database_unavailable",
// "storage_full"), the violations in on become their client errors, and
// anything else is an internal fault. Driver detail stays in Err, never in
// the message.
func (db *DB) fail(op string, err error, on *violations) error {
	if err == nil {
		return nil
	}
	var e *mosaic.Error
	if errors.As(err, &e) {
		return err
	}
	detail := fmt.Errorf("sqlstore: %s: %w", op, err)
	class := db.d.classify(err)
	switch class {
	case errBusy, errRetry:
		return errBusyDB(detail)
	case errDown:
		return errUnavailableDB(detail)
	case errFull:
		return errStorageFull(detail)
	}
	if on != nil {
		switch {
		case class == errUnique && on.unique != nil:
			return withDetail(on.unique, detail)
		case class == errForeignKey && on.foreignKey != nil:
			return withDetail(on.foreignKey, detail)
		}
	}
	return detail
}

// errBusyDB is a database too busy to serve the request now: a lock
// another writer held too long, or a transaction that lost a serialization
// race or deadlock more often than the store retries.
func errBusyDB(detail error) *mosaic.Error {
	return mosaic.WrapError(mosaic.KindUnavailable, "database_busy",
		"the database is busy, try again", detail)
}

// errUnavailableDB is a database that cannot be reached, or a connection
// to it that broke, or a file it is kept in that cannot be read or written.
func errUnavailableDB(detail error) *mosaic.Error {
	return mosaic.WrapError(mosaic.KindUnavailable, "database_unavailable",
		"the database is unavailable, try again later", detail)
}

// errStorageFull is a database whose disk is full: writes fail until the
// operator frees space, while reads go on.
func errStorageFull(detail error) *mosaic.Error {
	return mosaic.WrapError(mosaic.KindUnavailable, "storage_full",
		"the database's storage is full, try again later", detail)
}

// withDetail returns a copy of e that carries detail for the log.
func withDetail(e *mosaic.Error, detail error) *mosaic.Error {
	c := *e
	c.Err = detail
	return &c
}

// notFound maps sql.ErrNoRows to the error missing returns; other errors go
// through fail.
func (db *DB) notFound(op string, err error, missing func() *mosaic.Error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return missing()
	}
	return db.fail(op, err, nil)
}

// Errors for missing rows, one per kind of row.
func errUserNotFound() *mosaic.Error {
	return mosaic.Errorf(mosaic.KindNotFound, "user_not_found", "user not found")
}

func errPeerNotFound() *mosaic.Error {
	return mosaic.Errorf(mosaic.KindNotFound, "peer_not_found", "peer not found")
}

func errGrantNotFound() *mosaic.Error {
	return mosaic.Errorf(mosaic.KindNotFound, "grant_not_found", "grant not found")
}

func errTeamNotFound() *mosaic.Error {
	return mosaic.Errorf(mosaic.KindNotFound, "team_not_found", "team not found")
}

func errTokenNotFound() *mosaic.Error {
	return mosaic.Errorf(mosaic.KindNotFound, "token_not_found", "enrollment token not found")
}

// ErrSchemaTooNew is returned by the Open functions when the database was
// migrated by a newer build than this one. Nothing is changed.
var ErrSchemaTooNew = errors.New("sqlstore: database schema is newer than this build supports")
