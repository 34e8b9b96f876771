package sqlstore

import (
	"context"
	"sync"

	"github.com/mosaicgw/mosaic"
)

// maxAuditBatch bounds the audit events one group commit writes.
const maxAuditBatch = 256

// auditBatcher writes the audit events that concurrent AppendAudit calls
// hand it as group commits: one transaction, one chain lock and one
// durable commit for every event queued while the previous transaction
// ran. No call returns before the transaction holding its event committed,
// so batching costs no durability.
//
// There is no goroutine of its own: the first caller to find nothing being
// written writes, and hands the writing to a waiting caller when its own
// batch is done, so every caller waits at most for the batch before its
// own and that one.
type auditBatcher struct {
	mu      sync.Mutex
	writing bool
	pending []*auditJob
}

// auditJob is one event waiting to be written. lead receives true when its
// caller is to write the next batch, false when its event was written (or
// failed: see err).
type auditJob struct {
	ev   *mosaic.AuditEvent
	row  auditRow
	err  error
	lead chan bool
}

// append writes ev in a group commit and returns once it committed.
func (b *auditBatcher) append(ctx context.Context, db *DB, ev *mosaic.AuditEvent) (auditRow,
	error) {
	job := &auditJob{ev: ev, lead: make(chan bool, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, job)
	leader := !b.writing
	b.writing = true
	b.mu.Unlock()

	for !leader {
		if leader = <-job.lead; !leader {
			return job.row, job.err
		}
	}
	// Leading: write the queue's head, then hand over (its head holds this
	// job: nothing was taken off the queue since it was added).
	b.mu.Lock()
	n := min(len(b.pending), maxAuditBatch)
	batch := b.pending[:n:n]
	b.pending = b.pending[n:]
	b.mu.Unlock()

	db.writeAuditBatch(context.WithoutCancel(ctx), batch)

	b.mu.Lock()
	if len(b.pending) > 0 {
		b.pending[0].lead <- true
	} else {
		b.writing = false
	}
	b.mu.Unlock()
	for _, j := range batch {
		if j != job {
			j.lead <- false
		}
	}
	return job.row, job.err
}

// writeAuditBatch writes batch in one transaction and sets each job's row
// or error. When the transaction fails and holds several events, each is
// written again in a transaction of its own, so that one event the
// database refuses does not take the others down with it.
func (db *DB) writeAuditBatch(ctx context.Context, batch []*auditJob) {
	rows := make([]auditRow, len(batch))
	err := db.inTx(ctx, "append audit", func(r runner) error {
		if err := db.lockAuditChain(ctx, r); err != nil {
			return err
		}
		for i, j := range batch {
			row, err := db.insertAuditLocked(ctx, r, j.ev)
			if err != nil {
				return err
			}
			rows[i] = row
		}
		return nil
	})
	if err == nil {
		for i, j := range batch {
			j.row = rows[i]
		}
		return
	}
	if len(batch) == 1 {
		batch[0].err = err
		return
	}
	for _, j := range batch {
		db.writeAuditBatch(ctx, []*auditJob{j})
	}
}
