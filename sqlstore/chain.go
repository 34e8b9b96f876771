package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// chainBatch is how many audit rows chainExistingAudit reads at a time.
const chainBatch = 1000

// chainExistingAudit links the audit rows written before the chain existed
// (before migration 3), in id order from the first row, as if they had
// been appended to the chain one by one. It runs when the store opens,
// before anything is appended, and does so only while no row has a hash:
// once the chain has begun, a row without a hash is a break for
// verification to report, never something to paper over. Rows hashed now
// show they are unchanged since this moment, not since they were written.
//
// The work is one transaction under the chain lock, so that replicas
// opening the database together chain the rows once, and appends wait.
func (db *DB) chainExistingAudit(ctx context.Context) error {
	// Usually the newest row has a hash (or there is none): nothing to do.
	var newest sql.NullString
	err := db.read().queryRow(ctx, sqlNewestAuditHash).Scan(&newest)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && newest.Valid) {
		return nil
	}
	if err != nil {
		return db.fail("chain audit log", err, nil)
	}

	return db.inTx(ctx, "chain audit log", func(r runner) error {
		if err := db.lockAuditChain(ctx, r); err != nil {
			return err
		}
		var chained int
		if err := r.queryRow(ctx, sqlAuditChained).Scan(&chained); err != nil {
			return db.fail("chain audit log", err, nil)
		}
		if chained > 0 {
			return nil
		}
		return db.linkAll(ctx, r)
	})
}

// linkAll hashes every audit row in id order, in r's transaction, one
// batch in memory at a time.
func (db *DB) linkAll(ctx context.Context, r runner) error {
	q := auditchain.Query{Limit: chainBatch}
	prev := ""
	for {
		batch, err := db.scanAudit(ctx, r, q)
		if err != nil || len(batch) == 0 {
			return err
		}
		for _, rec := range batch {
			hash := auditchain.Hash(prev, &rec.AuditEvent)
			if _, err := r.exec(ctx, sqlLinkAudit, prev, hash, rec.ID); err != nil {
				return db.fail("chain audit log", err, nil)
			}
			prev = hash
		}
		q.After = batch[len(batch)-1].ID
	}
}
