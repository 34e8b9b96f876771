package sqlstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// blockingReads is a read of the versions whose every call waits for its
// release and answers the access version n for the nth call.
type blockingReads struct {
	calls   atomic.Int64
	started chan int64
	release chan error
}

func newBlockingReads() *blockingReads {
	return &blockingReads{started: make(chan int64, 16), release: make(chan error, 16)}
}

func (b *blockingReads) read(ctx context.Context) (versions, error) {
	n := b.calls.Add(1)
	b.started <- n
	if err := <-b.release; err != nil {
		return versions{}, err
	}
	if ctx.Err() != nil {
		return versions{}, ctx.Err()
	}
	return versions{access: versionStamp{n: n}}, nil
}

// TestSharedVersionsNeverOlderThanTheAsking checks that callers who ask
// while a query of the versions runs are answered by one later query, not
// by the one that was already running: its answer may predate a change
// committed before they asked.
func TestSharedVersionsNeverOlderThanTheAsking(t *testing.T) {
	db := DB{d: postgresDialect}
	reads := newBlockingReads()
	ctx := context.Background()

	first := make(chan versions, 1)
	go func() {
		v, err := db.sharedVersions(ctx, time.Minute, reads.read)
		if err != nil {
			t.Error(err)
		}
		first <- v
	}()
	if n := <-reads.started; n != 1 {
		t.Fatalf("first query is call %d", n)
	}

	// Asked while query 1 runs.
	const late = 20
	got := make(chan versions, late)
	var wg sync.WaitGroup
	for range late {
		wg.Go(func() {
			v, err := db.sharedVersions(ctx, time.Minute, reads.read)
			if err != nil {
				t.Error(err)
			}
			got <- v
		})
	}
	waitQueued(t, &db, late-1) // one of them may lead the next query
	reads.release <- nil
	if v := <-first; v.access.n != 1 {
		t.Fatalf("first caller got query %d's answer, want 1", v.access.n)
	}
	if n := <-reads.started; n != 2 {
		t.Fatalf("second query is call %d", n)
	}
	reads.release <- nil
	waitDone(t, &wg)
	close(got)
	for v := range got {
		if v.access.n != 2 {
			t.Errorf("a caller who asked during query 1 got query %d's answer, want 2",
				v.access.n)
		}
	}
	if c := reads.calls.Load(); c != 2 {
		t.Errorf("%d queries for %d callers, want 2", c, late+1)
	}
}

// waitDone waits for wg, failing the test if that takes long: a caller
// still waiting is one no shared query answered.
func waitDone(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("callers still wait after the second query answered")
	}
}

// waitQueued waits until at least n callers wait for db's next shared
// read of the versions.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		db.versionReads.mu.Lock()
		queued := len(db.versionReads.pending)
		db.versionReads.mu.Unlock()
		if queued >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("fewer than %d callers queued", n)
}

// TestSharedVersionsOutlivesItsRunner checks that the caller running a
// shared query giving up fails neither the query nor the callers it
// answers, and that it returns at once with its own context's error.
func TestSharedVersionsOutlivesItsRunner(t *testing.T) {
	db := DB{d: postgresDialect}
	reads := newBlockingReads()
	ctx, cancel := context.WithCancel(context.Background())

	leader := make(chan error, 1)
	go func() {
		_, err := db.sharedVersions(ctx, time.Minute, reads.read)
		leader <- err
	}()
	<-reads.started
	other := make(chan versions, 1)
	go func() {
		v, err := db.sharedVersions(context.Background(), time.Minute, reads.read)
		if err != nil {
			t.Error(err)
		}
		other <- v
	}()
	waitQueued(t, &db, 1)
	cancel()
	wantCanceledSoon(t, leader, "the runner, cancelled mid-query,")
	reads.release <- nil // query 1 sees a live context and answers
	<-reads.started
	reads.release <- nil
	if v := <-other; v.access.n != 2 {
		t.Errorf("other caller got query %d's answer, want 2", v.access.n)
	}

	// A caller that gives up while it waits for its turn leaves the queue.
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		_, _ = db.sharedVersions(context.Background(), time.Minute, reads.read)
	}()
	<-reads.started
	waiting := make(chan error, 1)
	go func() {
		_, err := db.sharedVersions(ctx, time.Minute, reads.read)
		waiting <- err
	}()
	waitQueued(t, &db, 1)
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Errorf("a caller cancelled while queued got %v, want context.Canceled", err)
	}
	reads.release <- nil
	waitQueued(t, &db, 0)
}

// TestSharedVersionsCallerLeavesItsQuery checks that a caller whose query
// was sent, by another caller, returns at once when its context ends.
func TestSharedVersionsCallerLeavesItsQuery(t *testing.T) {
	db := DB{d: postgresDialect}
	reads := newBlockingReads()
	bg := context.Background()
	answers := make(chan error, 2)
	ask := func(ctx context.Context) {
		_, err := db.sharedVersions(ctx, time.Minute, reads.read)
		answers <- err
	}
	go ask(bg)
	<-reads.started // query 1
	go ask(bg)
	waitQueued(t, &db, 1) // runs query 2
	ctx, cancel := context.WithCancel(bg)
	left := make(chan error, 1)
	go func() {
		_, err := db.sharedVersions(ctx, time.Minute, reads.read)
		left <- err
	}()
	waitQueued(t, &db, 2) // answered by query 2
	reads.release <- nil
	<-reads.started // query 2, sent
	cancel()
	wantCanceledSoon(t, left, "a caller whose context ended")
	reads.release <- nil
	for range 2 {
		if err := <-answers; err != nil {
			t.Error(err)
		}
	}
}

// wantCanceledSoon checks that who, whose context was cancelled, returns
// at once with context.Canceled.
func wantCanceledSoon(t *testing.T, got <-chan error, who string) {
	t.Helper()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s got %v, want context.Canceled", who, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s waits for its query", who)
	}
}

// TestSharedVersionsErrors checks that a failed query fails every caller
// it answers, and that one past its bound fails as the database being
// unavailable.
func TestSharedVersionsErrors(t *testing.T) {
	db := DB{d: postgresDialect}
	reads := newBlockingReads()
	boom := errors.New("boom")
	done := make(chan error, 2)
	go func() {
		_, err := db.sharedVersions(context.Background(), time.Minute, reads.read)
		done <- err
	}()
	<-reads.started
	reads.release <- boom
	if err := <-done; !errors.Is(err, boom) {
		t.Errorf("got %v, want the query's error", err)
	}

	slow := func(ctx context.Context) (versions, error) {
		<-ctx.Done()
		return versions{}, ctx.Err()
	}
	_, err := db.sharedVersions(context.Background(), 20*time.Millisecond, slow)
	var e *mosaic.Error
	if !errors.As(err, &e) || e.Kind != mosaic.KindUnavailable || e.Code != "database_unavailable" {
		t.Errorf("query past its bound: %v, want database_unavailable", err)
	}
}
