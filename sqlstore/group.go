package sqlstore

import (
	"errors"
	"sync"
)

// groupWork is what a group runs: work that can be told it failed.
type groupWork interface {
	fail(err error)
}

// errBatchPanicked is the error of work whose batch panicked.
var errBatchPanicked = errors.New("sqlstore: a batch of writes panicked")

// group runs work that concurrent callers hand it in batches, one batch at
// a time: a group commit. There is no goroutine of its own: the first
// caller to find nothing running runs the queue's head as a batch, then
// hands the running to the next waiting caller, so every caller waits at
// most for the batch before its own and its own. Callers return only once
// their batch has run.
type group[T groupWork] struct {
	mu      sync.Mutex
	running bool
	pending []*groupMember[T]
}

// groupMember is one caller's work waiting in a group. lead receives true
// when its caller is to run the next batch, false when its work has run.
type groupMember[T groupWork] struct {
	work T
	lead chan bool
}

// do queues work and returns once a batch of at most max that holds it
// has been run by run. Should run panic, every work of its batch fails
// with errBatchPanicked, the next batch still runs, and the panic goes on
// in the caller that ran it.
func (g *group[T]) do(work T, max int, run func(batch []T)) {
	me := &groupMember[T]{work: work, lead: make(chan bool, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, me)
	leader := !g.running
	g.running = true
	g.mu.Unlock()
	if !leader && !<-me.lead {
		return
	}

	// Leading: the queue's head holds me, as nothing was taken off the
	// queue since I joined it or was handed the lead.
	g.mu.Lock()
	n := min(len(g.pending), max)
	members := g.pending[:n:n]
	g.pending = g.pending[n:]
	g.mu.Unlock()

	batch := make([]T, n)
	for i, m := range members {
		batch[i] = m.work
	}
	defer g.handOver(members, me)
	defer func() {
		if p := recover(); p != nil {
			for _, w := range batch {
				w.fail(errBatchPanicked)
			}
			panic(p)
		}
	}()
	run(batch)
}

// handOver gives the lead to the next waiting caller, if any, and lets the
// other members of the batch that ran return.
func (g *group[T]) handOver(members []*groupMember[T], me *groupMember[T]) {
	g.mu.Lock()
	if len(g.pending) > 0 {
		g.pending[0].lead <- true
	} else {
		g.running = false
	}
	g.mu.Unlock()
	for _, m := range members {
		if m != me {
			m.lead <- false
		}
	}
}
