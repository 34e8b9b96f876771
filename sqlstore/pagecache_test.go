package sqlstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

func TestPageCache(t *testing.T) { storetest.RunPageCache(t, sqliteChainEnv) }

func TestPostgresPageCache(t *testing.T) {
	storetest.RunPageCache(t, func(t *testing.T) *storetest.ChainEnv {
		return postgresChainEnv(t, storetest.PostgresURL(t))
	})
}

func TestPageMemo(t *testing.T) { runPageMemo(t, sqliteChainEnv) }

func TestPostgresPageMemo(t *testing.T) {
	runPageMemo(t, func(t *testing.T) *storetest.ChainEnv {
		return postgresChainEnv(t, storetest.PostgresURL(t))
	})
}

// runPageMemo runs the tests of the memo that comes with a cached page.
func runPageMemo(t *testing.T, open func(t *testing.T) *storetest.ChainEnv) {
	tests := []struct {
		name string
		run  func(t *testing.T, env *storetest.ChainEnv)
	}{
		{"SharedByReaders", testPageMemoSharedByReaders},
		{"DroppedOnChange", testPageMemoDroppedOnChange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// memoUser creates a user with n tasks titled by their number.
func memoUser(t *testing.T, s mosaic.Store, n int) *mosaic.User {
	t.Helper()
	u := &mosaic.User{Name: "Memo", Email: mosaic.NewID() + "@example.com"}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		task := &mosaic.Task{ID: fmt.Sprintf("%s-%03d", u.ID, i), UserID: u.ID,
			Title: strconv.Itoa(i)}
		if err := s.CreateTask(t.Context(), task); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// memoPage reads the page q asks for and fails the test if it has no memo.
func memoPage(t *testing.T, s mosaic.Store, q mosaic.PageQuery) *mosaic.Page {
	t.Helper()
	page, err := s.ReadPage(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if page.Memo == nil {
		t.Fatal("a page that fits the cache comes without a memo")
	}
	return page
}

// titles derives the page's titles, joined, counting the derivations.
func titles(page *mosaic.Page, calls *atomic.Int64) func() (any, int, error) {
	return func() (any, int, error) {
		calls.Add(1)
		var b strings.Builder
		for _, it := range page.Items {
			b.WriteString(it.(*mosaic.Task).Title + ",")
		}
		return b.String(), b.Len(), nil
	}
}

// testPageMemoSharedByReaders reads one page from many goroutines at once:
// every reader gets the same memo, and a value derived through it is
// derived once and seen by all.
func testPageMemoSharedByReaders(t *testing.T, env *storetest.ChainEnv) {
	s := env.Store
	u := memoUser(t, s, 30)
	q := mosaic.PageQuery{Resource: mosaic.ResourceTasks, UserID: u.ID, Limit: 10}
	first := memoPage(t, s, q)

	const readers, reads = 16, 20
	var calls atomic.Int64
	errs := make(chan error, readers)
	for range readers {
		go func() {
			errs <- func() error {
				for range reads {
					page, err := s.ReadPage(context.Background(), q)
					if err != nil {
						return err
					}
					if page.Memo != first.Memo {
						return fmt.Errorf("a reader got another memo")
					}
					v, err := page.Memo.Derive("test.titles", titles(page, &calls))
					if err != nil {
						return err
					}
					if v != "0,1,2,3,4,5,6,7,8,9," {
						return fmt.Errorf("derived %q", v)
					}
				}
				return nil
			}()
		}()
	}
	for range readers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d readers of one page derived its value %d times, want once", readers*reads, n)
	}
}

// testPageMemoDroppedOnChange changes a task, through a store and
// outside of it: the very next read of the page comes with a new memo,
// whose value is derived from the changed page, on every store.
func testPageMemoDroppedOnChange(t *testing.T, env *storetest.ChainEnv) {
	a, b := env.Store, env.Open(t)
	u := memoUser(t, a, 3)
	q := mosaic.PageQuery{Resource: mosaic.ResourceTasks, UserID: u.ID, Limit: 10}
	var calls atomic.Int64
	want := func(step string, s mosaic.Store, titlesWant string, callsWant int64) *mosaic.PageMemo {
		t.Helper()
		page := memoPage(t, s, q)
		v, err := page.Memo.Derive("test.titles", titles(page, &calls))
		if err != nil {
			t.Fatal(err)
		}
		if v != titlesWant || calls.Load() != callsWant {
			t.Fatalf("%s: derived %q after %d derivations, want %q after %d", step, v,
				calls.Load(), titlesWant, callsWant)
		}
		return page.Memo
	}

	m := want("first read", a, "0,1,2,", 1)
	if want("read again", a, "0,1,2,", 1) != m {
		t.Fatal("the page read again comes with another memo")
	}
	env.Exec(t, `UPDATE tasks SET title = ? WHERE id = ?`, "one", u.ID+"-001")
	want("updated outside the store", a, "0,one,2,", 2)
	want("updated outside the store, other store", b, "0,one,2,", 3)
	if err := b.CreateTask(t.Context(), &mosaic.Task{ID: u.ID + "-100", UserID: u.ID,
		Title: "new"}); err != nil {
		t.Fatal(err)
	}
	m = want("created through the other store", a, "0,one,2,new,", 4)
	if want("read again", a, "0,one,2,new,", 4) != m {
		t.Fatal("the page read again comes with another memo")
	}
}
