package sqlstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// groupWork is what a group runs: work that can be told it failed.
type groupWork interface {
	// fail records err as the work's outcome, unless the work already has
	// its final outcome.
	fail(err error)
}

// errBatchPanicked is the error of work whose batch panicked.
var errBatchPanicked = errors.New("sqlstore: a batch of writes panicked")

// group runs work that concurrent callers hand it in batches, one batch at
// a time: a group commit. There is no goroutine of its own: the first
// caller to find nothing running runs a batch from the front of the queue,
// its own work first, then hands the running to the next waiting caller,
// so every caller waits at most for the batch before its own and its own.
// Callers return only once their batch has run, or once they give up
// waiting before it began.
type group[T groupWork] struct {
	mu      sync.Mutex
	running bool
	pending []*groupMember[T]
}

// groupMember is one caller's work in a group. lead receives true when its
// caller is to run the next batch, false when its work has run. taken,
// guarded by the group's lock, says it left the queue for a batch.
type groupMember[T groupWork] struct {
	work  T
	lead  chan bool
	taken bool
}

// do queues work and returns nil once a batch of at most max that holds it
// has been run by run. If ctx ends or deadline (unless zero) passes before
// the work was taken into a batch, it leaves the queue without running and
// do returns ctx's error or errWriteWait. Should run panic, every work of
// its batch without an outcome fails with errBatchPanicked, the next batch
// still runs, and the panic goes on in the caller that ran it.
func (g *group[T]) do(ctx context.Context, deadline time.Time, work T, max int,
	run func(batch []T)) error {
	me := &groupMember[T]{work: work, lead: make(chan bool, 1)}
	g.mu.Lock()
	leader := !g.running
	if leader {
		g.running, me.taken = true, true
	} else {
		g.pending = append(g.pending, me)
	}
	g.mu.Unlock()
	if !leader {
		lead, err := g.wait(ctx, deadline, me)
		if err != nil || !lead {
			return err
		}
	}
	g.lead(me, max, run)
	return nil
}

// wait waits for me's turn: it reports whether me is to lead a batch, or
// why me gave up before it was taken into one.
func (g *group[T]) wait(ctx context.Context, deadline time.Time, me *groupMember[T]) (bool,
	error) {
	var expired <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}
	var err error
	select {
	case lead := <-me.lead:
		return lead, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = errWriteWait
	}
	g.mu.Lock()
	if !me.taken {
		g.pending = slices.DeleteFunc(g.pending, func(m *groupMember[T]) bool { return m == me })
		g.mu.Unlock()
		return false, err
	}
	g.mu.Unlock()
	// Taken meanwhile: its batch runs, or it leads one.
	return <-me.lead, nil
}

// lead runs a batch of me's work and up to max-1 works from the queue,
// then hands over.
func (g *group[T]) lead(me *groupMember[T], max int, run func(batch []T)) {
	g.mu.Lock()
	members := []*groupMember[T]{me}
	for len(members) < max && len(g.pending) > 0 {
		m := g.pending[0]
		g.pending = g.pending[1:]
		m.taken = true
		members = append(members, m)
	}
	g.mu.Unlock()

	batch := make([]T, len(members))
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
		next := g.pending[0]
		g.pending = g.pending[1:]
		next.taken = true
		next.lead <- true
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
