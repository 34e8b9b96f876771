package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

func TestClassifyPostgres(t *testing.T) {
	state := func(code string) error {
		return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code, Message: "m"})
	}
	tests := []struct {
		name string
		err  error
		want errClass
	}{
		{"unique violation", state("23505"), errUnique},
		{"foreign key violation", state("23503"), errForeignKey},
		{"serialization failure", state("40001"), errRetry},
		{"deadlock", state("40P01"), errRetry},
		{"lock not available", state("55P03"), errBusy},
		{"connection failure", state("08006"), errDown},
		{"too many connections", state("53300"), errDown},
		{"admin shutdown", state("57P01"), errDown},
		{"cannot connect now", state("57P03"), errDown},
		{"check violation", state("23514"), errOther},
		{"syntax error", state("42601"), errOther},
		{"connection closed", pgconn.ErrConnClosed, errDown},
		{"bad connection", driver.ErrBadConn, errDown},
		{"unexpected eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), errDown},
		{"dial refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")},
			errDown},
		{"caller canceled", context.Canceled, errOther},
		{"caller deadline", context.DeadlineExceeded, errOther},
		{"other", errors.New("something"), errOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyPostgres(tt.err); got != tt.want {
				t.Fatalf("classifyPostgres(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// openPostgresTest opens a store on a fresh database.
func openPostgresTest(t *testing.T) *DB {
	t.Helper()
	db, err := OpenPostgres(t.Context(), storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestPostgresNowMillis checks the database clock expression against the
// test's: the server runs on this host.
func TestPostgresNowMillis(t *testing.T) {
	db := openPostgresTest(t)
	var ms int64
	if err := db.read().queryRow(t.Context(), "SELECT {{now}}").Scan(&ms); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(fromMillis(ms)); d < -time.Second || d > time.Second {
		t.Fatalf("database now is %v off the test's clock", d)
	}
}

// TestPostgresDeadlockRetried makes two transactions update two rows in
// opposite orders. PostgreSQL aborts one as a deadlock; inTx runs it again
// and both commit.
func TestPostgresDeadlockRetried(t *testing.T) {
	db := openPostgresTest(t)
	ctx := t.Context()
	for _, name := range []string{"a", "b"} {
		if err := db.PutSetting(ctx, name, "v"); err != nil {
			t.Fatal(err)
		}
	}

	const bump = `UPDATE settings SET value = value || 'x' WHERE name = ?`
	var attempts atomic.Int32
	var bothHoldOne sync.WaitGroup
	bothHoldOne.Add(2)
	update := func(first, second string) error {
		try := 0
		return db.inTx(ctx, "deadlock", func(r runner) error {
			attempts.Add(1)
			try++
			if _, err := r.exec(ctx, bump, first); err != nil {
				return db.fail("first", err, nil)
			}
			if try == 1 {
				// Hold one row until the other transaction holds the other.
				bothHoldOne.Done()
				bothHoldOne.Wait()
			}
			_, err := r.exec(ctx, bump, second)
			return db.fail("second", err, nil)
		})
	}

	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = update("a", "b") })
	wg.Go(func() { errs[1] = update("b", "a") })
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	if n := attempts.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3: one deadlock victim run twice", n)
	}
	for _, name := range []string{"a", "b"} {
		if v, err := db.GetSetting(ctx, name); err != nil || v != "vxx" {
			t.Fatalf("setting %s = %q (%v), want vxx: each transaction once", name, v, err)
		}
	}
}

// TestPostgresRetryGivesUp checks that a transaction that keeps failing as
// a serialization failure is run txAttempts times, then reported as
// KindUnavailable "database_busy".
func TestPostgresRetryGivesUp(t *testing.T) {
	db := openPostgresTest(t)
	runs := 0
	err := db.inTx(t.Context(), "always conflicts", func(r runner) error {
		runs++
		_, err := r.exec(t.Context(),
			`DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$`)
		return db.fail("conflict", err, nil)
	})
	if runs != txAttempts {
		t.Fatalf("ran %d times, want %d", runs, txAttempts)
	}
	if !mosaic.IsKind(err, mosaic.KindUnavailable) || mosaic.ErrorCode(err) != "database_busy" {
		t.Fatalf("got %v, want KindUnavailable database_busy", err)
	}
}
