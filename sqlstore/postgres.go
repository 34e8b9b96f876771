package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3/lock"
)

// Connection pool of a PostgreSQL store. Several gateway replicas share one
// server, so each keeps its pool small; the server's max_connections must
// allow replicas × postgresMaxOpen plus whatever else connects. Idle
// connections are kept up to the same number: under a load that uses them
// all, closing and opening connections would cost more than the queries.
const (
	postgresMaxOpen     = 20
	postgresMaxIdle     = postgresMaxOpen
	postgresMaxLifetime = 30 * time.Minute
	postgresMaxIdleTime = 5 * time.Minute
	// postgresConnectTimeout bounds one connection attempt when the URL sets
	// no connect_timeout.
	postgresConnectTimeout = 10 * time.Second
)

// OpenPostgres connects to the PostgreSQL database at url (a postgres://
// URL or a key=value connection string, as libpq reads them), sets the pool
// limits and applies the embedded migrations under a database-wide advisory
// lock, so that replicas starting at once on an empty database apply the
// schema exactly once. A server that cannot be reached is KindUnavailable
// "database_unavailable"; a database whose schema is newer than this build
// fails with ErrSchemaTooNew and is left untouched.
//
// Errors never repeat url, which may hold a password.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	if url == "" {
		return nil, errors.New("sqlstore: open postgres: empty url")
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx redacts the password from what it reports.
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = postgresConnectTimeout
	}

	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(postgresMaxOpen)
	pool.SetMaxIdleConns(postgresMaxIdle)
	pool.SetConnMaxLifetime(postgresMaxLifetime)
	pool.SetConnMaxIdleTime(postgresMaxIdleTime)

	db, err := open(ctx, pool, pool, postgresDialect)
	if err != nil {
		_ = pool.Close()
		return nil, err
	}
	return db, nil
}

// migrationLockWait is how long OpenPostgres waits for another process's
// migrations before it gives up.
const migrationLockWait = 5 * time.Minute

// advisoryLocker is a goose session locker that waits on a PostgreSQL
// session-level advisory lock. goose's own (lock.NewPostgresSessionLocker)
// polls pg_try_advisory_lock once a second, so that replicas starting
// together would take turns a second apart; this one is handed the lock
// the moment it is free. It uses goose's lock id, so a goose command run by
// hand against the same database waits for it too.
type advisoryLocker struct {
	id   int64
	wait time.Duration
}

var _ lock.SessionLocker = advisoryLocker{}

// SessionLock waits for the lock on conn, at most l.wait. If ctx ends
// first, the driver cancels the wait.
func (l advisoryLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, l.wait)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", l.id); err != nil {
		return fmt.Errorf("sqlstore: take migration lock: %w", err)
	}
	return nil
}

// SessionUnlock releases the lock taken on conn.
func (l advisoryLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var released bool
	err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", l.id).Scan(&released)
	if err != nil {
		return fmt.Errorf("sqlstore: release migration lock: %w", err)
	}
	if !released {
		return errors.New("sqlstore: release migration lock: not held by this session")
	}
	return nil
}
