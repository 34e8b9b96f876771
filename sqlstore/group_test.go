package sqlstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
			g.do(t.Context(), time.Time{}, works[i], max, func(batch []*testWork) {
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
		g.do(t.Context(), time.Time{}, bad, 10, run)
	}()
	if !errors.Is(bad.err, errBatchPanicked) {
		t.Fatalf("work of the panicking batch: err %v", bad.err)
	}
	good := &testWork{}
	g.do(t.Context(), time.Time{}, good, 10, run)
	if good.ran != 1 || good.err != nil {
		t.Fatalf("work after a panic: ran %d, err %v", good.ran, good.err)
	}
}

// TestGroupGiveUp has callers give up waiting behind a batch that takes
// long, by deadline and by context: they return without their work run,
// and the ones that waited on run once the batch is done.
func TestGroupGiveUp(t *testing.T) {
	var g group[*testWork]
	release := make(chan struct{})
	started := make(chan struct{})
	run := func(batch []*testWork) {
		for _, w := range batch {
			if w.boom { // the slow first batch
				close(started)
				<-release
			}
			w.ran++
		}
	}
	slow := &testWork{boom: true}
	done := make(chan error, 1)
	go func() { done <- g.do(t.Context(), time.Time{}, slow, 10, run) }()
	<-started

	late := &testWork{}
	err := g.do(t.Context(), time.Now().Add(20*time.Millisecond), late, 10, run)
	if !errors.Is(err, errWriteWait) || late.ran != 0 {
		t.Fatalf("past its deadline: err %v, ran %d", err, late.ran)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	gone := &testWork{}
	if err := g.do(ctx, time.Time{}, gone, 10, run); !errors.Is(err, context.Canceled) ||
		gone.ran != 0 {
		t.Fatalf("cancelled: err %v, ran %d", err, gone.ran)
	}
	patient := &testWork{}
	waited := make(chan error, 1)
	go func() { waited <- g.do(t.Context(), time.Time{}, patient, 10, run) }()
	for {
		g.mu.Lock()
		queued := len(g.pending)
		g.mu.Unlock()
		if queued == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-done; err != nil || slow.ran != 1 {
		t.Fatalf("slow batch: err %v, ran %d", err, slow.ran)
	}
	if err := <-waited; err != nil || patient.ran != 1 {
		t.Fatalf("patient caller: err %v, ran %d", err, patient.ran)
	}
	if late.ran != 0 || gone.ran != 0 {
		t.Fatal("work that gave up ran later")
	}
}
