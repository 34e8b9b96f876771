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
// *mosaic.Error passes through, a busy database is KindUnavailable, the
// violations in on become their client errors, and anything else is an
// internal fault. Driver detail stays in Err, never in the message.
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
	if class == errBusy {
		return mosaic.WrapError(mosaic.KindUnavailable, "database_busy",
			"the database is busy, try again", detail)
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
