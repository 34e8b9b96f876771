package sqlstore

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// testWork is work for the group tests: it counts how often it ran.
type testWork struct {
	ran  int
	err  error
	boom bool
}

func (w *testWork) fail(err error) { w.err = err }

// TestGroupRunsEachOnceInBoundedBatches has many callers at once: each
// work runs exactly once, batches never overlap and hold at most max.
func TestGroupRunsEachOnceInBoundedBatches(t *testing.T) {
	var g group[*testWork]
	const callers, max = 200, 7
	var running, batches atomic.Int32
	works := make([]*testWork, callers)
	var wg sync.WaitGroup
	for i := range callers {
		works[i] = &testWork{}
		wg.Go(func() {
			g.do(works[i], max, func(batch []*testWork) {
				if running.Add(1) != 1 {
					t.Error("two batches run at once")
				}
				defer running.Add(-1)
				batches.Add(1)
				if len(batch) == 0 || len(batch) > max {
					t.Errorf("batch of %d", len(batch))
				}
				for _, w := range batch {
					w.ran++
				}
			})
			if works[i].ran != 1 {
				t.Errorf("caller %d returned with its work run %d times", i, works[i].ran)
			}
		})
	}
	wg.Wait()
	if g.running || len(g.pending) != 0 {
		t.Fatalf("group left running=%v with %d pending", g.running, len(g.pending))
	}
	t.Logf("%d callers in %d batches", callers, batches.Load())
}

// TestGroupPanic checks that a batch that panics fails its work, lets the
// next batches run, and panics in the caller that ran it.
func TestGroupPanic(t *testing.T) {
	var g group[*testWork]
	run := func(batch []*testWork) {
		for _, w := range batch {
			if w.boom {
				panic("boom")
			}
			w.ran++
		}
	}
	bad := &testWork{boom: true}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller that ran the batch")
			}
		}()
		g.do(bad, 10, run)
	}()
	if !errors.Is(bad.err, errBatchPanicked) {
		t.Fatalf("work of the panicking batch: err %v", bad.err)
	}
	good := &testWork{}
	g.do(good, 10, run)
	if good.ran != 1 || good.err != nil {
		t.Fatalf("work after a panic: ran %d, err %v", good.ran, good.err)
	}
}
