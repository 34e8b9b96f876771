package sqlstore

import (
	"context"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// maxAuditBatch bounds the audit events one group commit writes.
const maxAuditBatch = 256

// auditBatcher writes the audit events that concurrent AppendAudit calls
// hand it as group commits: one transaction, one chain lock and one
// durable commit for every event queued while the previous transaction
// ran. No call returns before the transaction holding its event committed,
// so batching costs no durability.
type auditBatcher struct {
	group[*auditJob]
}

// auditJob is one event waiting to be written, and what writing it gave.
type auditJob struct {
	ev *mosaic.AuditEvent
	// deadline is when its transaction must have begun, zero for never.
	deadline time.Time
	row      auditRow
	err      error
	// done says row or err is the job's final outcome.
	done bool
}

func (j *auditJob) fail(err error) {
	if !j.done {
		j.err, j.done = err, true
	}
}

// append writes ev in a group commit and returns once it committed.
func (b *auditBatcher) append(ctx context.Context, db *DB, ev *mosaic.AuditEvent) (auditRow,
	error) {
	job := &auditJob{ev: ev, deadline: db.writeDeadline(ctx)}
	err := b.do(ctx, job.deadline, job, maxAuditBatch, func(batch []*auditJob) {
		db.writeAuditBatch(context.WithoutCancel(ctx), batch)
	})
	if err != nil {
		return auditRow{}, db.beginError("append audit", err)
	}
	return job.row, job.err
}

// writeAuditBatch writes batch in one transaction and sets each job's row
// or error. When the transaction fails on what it was given (not because
// the database is busy, unreachable or full) and holds several events,
// each is written again in a transaction of its own, so that one event
// the database refuses does not take the others down with it.
func (db *DB) writeAuditBatch(ctx context.Context, batch []*auditJob) {
	var rows []auditRow
	deadline := earliestDeadline(batch, func(j *auditJob) time.Time { return j.deadline })
	err := db.inTxBy(ctx, "append audit", deadline, func(r runner) (err error) {
		if err := db.lockAuditChain(ctx, r); err != nil {
			return err
		}
		rows, err = db.insertAuditBatch(ctx, r, batch)
		return err
	})
	if err == nil {
		for i, j := range batch {
			j.row, j.done = rows[i], true
		}
		return
	}
	if len(batch) == 1 || mosaic.IsKind(err, mosaic.KindUnavailable) {
		for _, j := range batch {
			j.err, j.done = err, true
		}
		return
	}
	for _, j := range batch {
		db.writeAuditBatch(ctx, []*auditJob{j})
	}
}

// insertAuditBatch appends the batch's events to the chain in r, a
// transaction that holds the chain lock: every row written here. One
// statement takes the ids, the database clock and the newest row's hash,
// and one inserts the rows: under the lock nothing else appends, so each
// row's id, and so its hash, is known before it is written. The hash is
// that of the values as the database keeps them (whole milliseconds). It
// returns what each row was given.
func (db *DB) insertAuditBatch(ctx context.Context, r runner,
	batch []*auditJob) ([]auditRow, error) {
	ids, now, newest, err := db.d.auditIDs(ctx, r, len(batch))
	if err != nil {
		return nil, db.fail("append audit: ids", err, nil)
	}

	prev := newest
	rows := make([]auditRow, len(batch))
	args := make([]any, 0, len(batch)*auditInsertCols)
	for i, j := range batch {
		ev := *j.ev
		ev.ID, ev.Time = ids[i], fromMillis(now)
		if !j.ev.Time.IsZero() {
			ev.Time = fromMillis(j.ev.Time.UnixMilli())
		}
		hash := auditchain.Hash(prev, &ev)
		args = append(args, ev.ID, ev.Time.UnixMilli(), ev.RequestID, ev.PeerID, ev.GrantID,
			ev.SubjectUserID, ev.Verb, ev.Resource, ev.Status, ev.Outcome, ev.Reason, ev.Rows,
			ev.SourceAddr, ev.TokenHashPrefix, ev.CertSerial, prev, hash)
		rows[i] = auditRow{id: ev.ID, at: ev.Time}
		prev = hash
	}
	for n, rest := len(batch), args; n > 0; {
		size := db.auditChunk(n)
		if _, err := r.exec(ctx, db.auditInsert(size), rest[:size*auditInsertCols]...); err != nil {
			return nil, db.fail("append audit", err, nil)
		}
		n, rest = n-size, rest[size*auditInsertCols:]
	}
	return rows, nil
}

// auditChunk returns how many of n rows the next insert takes. A dialect
// whose statements are prepared when the store opens inserts them in
// chunks of the sizes prepared (powers of two, largest first) rather than
// parse an insert of n rows for every batch; the others insert them at
// once.
func (db *DB) auditChunk(n int) int {
	if !db.d.prepare {
		return n
	}
	return 1 << (bits.Len(uint(n)) - 1)
}

// auditChunkSizes are the sizes of the audit inserts prepared when the
// dialect prepares statements: every power of two up to maxAuditBatch.
func auditChunkSizes() []int {
	var sizes []int
	for n := 1; n <= maxAuditBatch; n *= 2 {
		sizes = append(sizes, n)
	}
	return sizes
}

// auditInsertCols is how many values each row of auditInsert takes.
const auditInsertCols = 17

// auditInsert returns the statement that inserts n audit rows with their
// ids and hashes.
func (db *DB) auditInsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_events (id, occurred_at, request_id, peer_id, grant_id,
		subject_user_id, verb, resource, status, outcome, reason, row_count, source_addr,
		token_hash_prefix, cert_serial, prev_hash, hash)`)
	b.WriteString(db.d.overrideIdentity)
	b.WriteString(" VALUES ")
	row := "(" + strings.Repeat("?, ", auditInsertCols-1) + "?)"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// sqliteAuditIDs allocates n audit ids after the largest one
// AUTOINCREMENT ever handed out: the transaction holds the write lock, so
// they stay free until it commits, and inserting them moves
// sqlite_sequence on.
func sqliteAuditIDs(ctx context.Context, r runner, n int) ([]int64, int64, string, error) {
	var last, now int64
	var newest string
	err := r.queryRow(ctx, sqlSQLiteAuditIDs).Scan(&last, &now, &newest)
	if err != nil {
		return nil, 0, "", err
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = last + int64(i) + 1
	}
	return ids, now, newest, nil
}

// postgresAuditIDs takes n values of audit_events' identity sequence, in
// increasing order.
func postgresAuditIDs(ctx context.Context, r runner, n int) ([]int64, int64, string, error) {
	rows, err := r.query(ctx, sqlPostgresAuditIDs, n)
	if err != nil {
		return nil, 0, "", err
	}
	defer rows.Close()
	ids := make([]int64, 0, n)
	var now int64
	var newest string
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &now, &newest); err != nil {
			return nil, 0, "", err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, "", err
	}
	if len(ids) != n {
		return nil, 0, "", fmt.Errorf("took %d audit ids, want %d", len(ids), n)
	}
	return ids, now, newest, nil
}
