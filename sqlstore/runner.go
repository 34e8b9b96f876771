package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// runner runs statements, rebound to the dialect, either on a pool or in
// one transaction. Store methods pick one; helpers take it. Statements
// the store prepared when it opened (see prepared) run prepared.
type runner struct {
	q querier
	d *dialect
	// tx is q when it is a transaction, for its prepared statements.
	tx *sql.Tx
	// stmts holds the statements prepared on the pool that q is, or that
	// tx runs on; nil when the dialect prepares nothing.
	stmts *stmtCache
	// detached runs statements whatever becomes of the contexts they are
	// given (see tryWriteBatch).
	detached bool
}

// context returns the context a statement runs on.
func (r runner) context(ctx context.Context) context.Context {
	if r.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (r runner) exec(ctx context.Context, stmt string, args ...any) (sql.Result, error) {
	ctx = r.context(ctx)
	if st := r.prepared(ctx, stmt); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return r.q.ExecContext(ctx, r.d.rebind(stmt), args...)
}

func (r runner) query(ctx context.Context, stmt string, args ...any) (*sql.Rows, error) {
	ctx = r.context(ctx)
	if st := r.prepared(ctx, stmt); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.q.QueryContext(ctx, r.d.rebind(stmt), args...)
}

func (r runner) queryRow(ctx context.Context, stmt string, args ...any) *sql.Row {
	ctx = r.context(ctx)
	if st := r.prepared(ctx, stmt); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.q.QueryRowContext(ctx, r.d.rebind(stmt), args...)
}

// prepared returns stmt prepared for r, or nil when it was not prepared.
// In a transaction it is the pool's statement bound to the transaction's
// connection, prepared there the first time that connection runs it.
func (r runner) prepared(ctx context.Context, stmt string) *sql.Stmt {
	st := r.stmts.get(stmt)
	if st == nil || r.tx == nil {
		return st
	}
	return r.tx.StmtContext(ctx, st)
}

// read returns a runner for single statements that only read.
func (db *DB) read() runner { return runner{q: db.reads, d: db.d, stmts: db.readStmts} }

// writeOne runs fn, which writes with a single statement, as a
// transaction of its own (see inTx), so that every write waits for the
// writer the same way. Errors from fn come back as they are.
func (db *DB) writeOne(ctx context.Context, op string, fn func(r runner) error) error {
	return db.inTx(ctx, op, fn)
}

// execOne runs one write statement through writeOne.
func (db *DB) execOne(ctx context.Context, op, stmt string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.writeOne(ctx, op, func(r runner) (err error) {
		res, err = r.exec(ctx, stmt, args...)
		return err
	})
	return res, err
}

// stmtCache is a fixed set of statements prepared on one pool when the
// store opens. It is read-only afterwards, so safe for concurrent use.
//
// The set is fixed because preparing takes a connection of the pool: a
// statement prepared on demand inside a transaction would wait for a
// second connection, which a one-connection pool (SQLite's writer) never
// has. database/sql prepares each statement again, once, on every other
// connection that runs it.
type stmtCache struct {
	byText map[string]*sql.Stmt
}

// prepareAll prepares every statement of texts on pool, rebound to d.
func prepareAll(ctx context.Context, pool *sql.DB, d *dialect, texts []string) (*stmtCache,
	error) {
	c := &stmtCache{byText: make(map[string]*sql.Stmt, len(texts))}
	for _, text := range texts {
		if _, ok := c.byText[text]; ok {
			continue
		}
		st, err := pool.PrepareContext(ctx, d.rebind(text))
		if err != nil {
			c.close()
			return nil, fmt.Errorf("sqlstore: prepare statements: %w", err)
		}
		c.byText[text] = st
	}
	return c, nil
}

// get returns the statement prepared for text, or nil.
func (c *stmtCache) get(text string) *sql.Stmt {
	if c == nil {
		return nil
	}
	return c.byText[text]
}

// close releases every statement.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	for _, st := range c.byText {
		_ = st.Close()
	}
}
