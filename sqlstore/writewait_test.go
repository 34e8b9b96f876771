package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// TestQueuedWritesWaitAtMostTheBusyTimeout holds the write lock of a
// SQLite file from another connection for longer than the store waits:
// every write, audit appends queued behind one another and writes queued
// behind those included, answers database_busy within about the busy
// timeout of its own start, or sooner when its caller's deadline is
// sooner; nothing is written; once the lock is gone writes succeed.
func TestQueuedWritesWaitAtMostTheBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mosaic.db")
	db := openSQLite(t, path)
	conn, err := rawDB(t, path).Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	const busyTimeout, slack = 5 * time.Second, 2 * time.Second
	type call struct {
		name  string
		limit time.Duration
		do    func(ctx context.Context) error
	}
	var calls []call
	for i := range 8 {
		calls = append(calls, call{fmt.Sprintf("audit %d", i), busyTimeout,
			func(ctx context.Context) error {
				return db.AppendAudit(ctx, &mosaic.AuditEvent{RequestID: fmt.Sprint(i),
					Verb: mosaic.VerbRead, Status: 200, Outcome: mosaic.OutcomeAllowed})
			}})
	}
	for i := range 3 {
		calls = append(calls, call{fmt.Sprintf("user %d", i), busyTimeout,
			func(ctx context.Context) error {
				return db.CreateUser(ctx, &mosaic.User{Name: "u",
					Email: fmt.Sprintf("u%d@example.test", i)})
			}})
	}
	calls = append(calls, call{"user with a 1 s deadline", time.Second,
		func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			return db.CreateUser(ctx, &mosaic.User{Name: "d", Email: "d@example.test"})
		}})

	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 100 * time.Millisecond) // queue one behind another
			start := time.Now()
			err := c.do(t.Context())
			took := time.Since(start)
			if mosaic.ErrorCode(err) != "database_busy" {
				t.Errorf("%s: %v, want database_busy", c.name, err)
			}
			if took > c.limit+slack {
				t.Errorf("%s: answered after %v, want at most about %v", c.name, took, c.limit)
			}
		})
	}
	wg.Wait()

	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	users, err := db.ListUsers(t.Context())
	if err != nil || len(users) != 0 {
		t.Fatalf("after the refused writes: %d users (%v), want none", len(users), err)
	}
	err = db.CreateUser(t.Context(), &mosaic.User{Name: "after", Email: "a@example.test"})
	if err != nil {
		t.Fatalf("write once the lock is gone: %v", err)
	}
}
