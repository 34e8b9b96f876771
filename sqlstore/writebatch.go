package sqlstore

import (
	"context"
	"errors"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// maxWriteBatch bounds the write transactions one group commit runs.
const maxWriteBatch = 64

// writeJob is one write transaction waiting for a group commit (see
// DB.inTx), and how it ended.
type writeJob struct {
	ctx context.Context
	op  string
	fn  func(r runner) error
	// deadline is when the transaction must have begun, zero for never.
	deadline time.Time
	err      error
	// done says err is the job's final outcome.
	done bool
}

func (j *writeJob) fail(err error) {
	if !j.done {
		j.err, j.done = err, true
	}
}

// finish records the job's final outcome.
func (j *writeJob) finish(err error) { j.err, j.done = err, true }

// runWriteBatch runs the write transactions of batch as one transaction,
// each in a savepoint of its own: one whose function fails is rolled back
// to its savepoint and fails alone, the others commit together, and none
// returns before that commit. A job whose context ended while it waited
// does not run. When the transaction cannot go on (a failure of the
// database rather than of one job's own checks), nothing of it is kept
// and every job runs again in a transaction of its own.
func (db *DB) runWriteBatch(batch []*writeJob) {
	live := make([]*writeJob, 0, len(batch))
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.finish(db.beginError(j.op, err))
			continue
		}
		live = append(live, j)
	}
	if len(live) > 1 && db.tryWriteBatch(live) {
		return
	}
	for _, j := range live {
		j.finish(db.inOwnTx(j.ctx, j.op, j.fn, j.deadline))
	}
}

// tryWriteBatch is one attempt of runWriteBatch with more than one job. It
// reports false, having rolled back, when the transaction had to be given
// up; otherwise it has set every job's error, the commit's included.
func (db *DB) tryWriteBatch(jobs []*writeJob) bool {
	// Jobs run detached from their callers' contexts: a statement
	// interrupted inside the transaction would roll all of it back.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	tx, err := db.beginTx(ctx, cancel,
		earliestDeadline(jobs, func(j *writeJob) time.Time { return j.deadline }))
	if err != nil {
		err = db.beginError("write batch", err)
		for _, j := range jobs {
			j.finish(err)
		}
		return true
	}
	r := runner{q: tx, d: db.d, tx: tx, stmts: db.writeStmts, detached: true}
	for _, j := range jobs {
		if !db.runSavepoint(ctx, r, j) {
			_ = tx.Rollback()
			return false
		}
	}
	err = tx.Commit()
	if err != nil {
		err = db.fail("write batch: commit", err, nil)
	}
	for _, j := range jobs {
		if j.err == nil {
			j.err = err
		}
		j.done = true
	}
	return true
}

// earliestDeadline is the first deadline of jobs, zero if none has one:
// their batch must begin by it, so that no job waits longer than its own.
func earliestDeadline[J any](jobs []J, deadline func(J) time.Time) time.Time {
	var first time.Time
	for _, j := range jobs {
		if d := deadline(j); !d.IsZero() && (first.IsZero() || d.Before(first)) {
			first = d
		}
	}
	return first
}

// runSavepoint runs one job of a batch in a savepoint of r's transaction.
// It reports false when the transaction cannot go on.
func (db *DB) runSavepoint(ctx context.Context, r runner, j *writeJob) bool {
	if _, err := r.exec(ctx, savepointJob); err != nil {
		return false
	}
	err := j.fn(r)
	if err != nil && !statementOnly(err) {
		return false
	}
	if err != nil {
		if _, err := r.exec(ctx, rollbackToJob); err != nil {
			return false
		}
		j.err = err
	}
	_, err = r.exec(ctx, releaseJob)
	return err == nil
}

// statementOnly reports whether err leaves the SQLite transaction it
// happened in as it was before the failing statement: an error of the
// job's own (no driver error in its chain) or a constraint violation,
// which undoes only its statement. Other driver errors (a full disk, I/O,
// a lock) may have rolled the whole transaction back.
func statementOnly(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return true
	}
	return e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
