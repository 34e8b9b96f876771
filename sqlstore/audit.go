package sqlstore

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// auditRow is what the database assigned to an inserted audit event. It is
// set on the event only once the transaction that wrote it has committed.
type auditRow struct {
	id int64
	at time.Time
}

func (a auditRow) setOn(ev *mosaic.AuditEvent) {
	ev.ID, ev.Time = a.id, a.at
}

// AppendAudit writes ev at the end of the audit chain, stamped with the
// database's time when ev.Time is zero, and sets its ID and Time once the
// event is committed. Events appended concurrently share a transaction
// (see auditBatcher).
func (db *DB) AppendAudit(ctx context.Context, ev *mosaic.AuditEvent) error {
	if ev == nil {
		return errors.New("sqlstore: append audit: nil event")
	}
	row, err := db.audits.append(ctx, db, ev)
	if err != nil {
		return err
	}
	row.setOn(ev)
	return nil
}

// insertAudit appends ev to the audit chain in r's transaction and returns
// what the database assigned. It first takes the chain lock, where the
// dialect has one, so r must be a transaction: the lock lasts until it
// ends.
func (db *DB) insertAudit(ctx context.Context, r runner, ev *mosaic.AuditEvent) (auditRow, error) {
	if err := db.lockAuditChain(ctx, r); err != nil {
		return auditRow{}, err
	}
	rows, err := db.insertAuditBatch(ctx, r, []*auditJob{{ev: ev}})
	if err != nil {
		return auditRow{}, err
	}
	return rows[0], nil
}

// lockAuditChain makes r's transaction the only appender to the chain
// until it ends.
func (db *DB) lockAuditChain(ctx context.Context, r runner) error {
	if db.d.lockAuditChain == "" {
		return nil
	}
	_, err := r.exec(ctx, db.d.lockAuditChain)
	return db.fail("lock audit chain", err, nil)
}

// ListAudit returns events matching f, newest first, at most f.Limit of
// them (mosaic.DefaultListLimit when zero, never more than
// mosaic.MaxListLimit).
func (db *DB) ListAudit(ctx context.Context, f mosaic.AuditFilter) ([]*mosaic.AuditEvent, error) {
	var conds []string
	var args []any
	if f.PeerID != "" {
		conds, args = append(conds, condAuditPeer), append(args, f.PeerID)
	}
	if f.GrantID != "" {
		conds, args = append(conds, condAuditGrant), append(args, f.GrantID)
	}
	if f.Outcome != "" {
		conds, args = append(conds, condAuditOutcome), append(args, f.Outcome)
	}
	args = append(args, limit(f.Limit))
	rows, err := db.read().query(ctx, filtered(sqlListAudit, conds, sqlListAuditEnd), args...)
	if err != nil {
		return nil, db.fail("list audit", err, nil)
	}
	events, err := collect(rows, scanAudit)
	return events, db.fail("list audit", err, nil)
}

// ScanAudit returns the audit records q selects, at most q.Limit of them,
// in id order and with their hashes, for verifying and exporting the
// chain. A limit below 1 is an error.
func (db *DB) ScanAudit(ctx context.Context, q auditchain.Query) ([]*auditchain.Record, error) {
	return db.scanAudit(ctx, db.read(), q)
}

// scanAudit is ScanAudit on r.
func (db *DB) scanAudit(ctx context.Context, r runner,
	q auditchain.Query) ([]*auditchain.Record, error) {
	if q.Limit < 1 {
		return nil, errors.New("sqlstore: scan audit: limit below 1")
	}
	since := int64(math.MinInt64)
	if !q.Since.IsZero() {
		// Rows keep whole milliseconds: round a finer since up.
		since = q.Since.UnixMilli()
		if q.Since.After(time.UnixMilli(since)) {
			since++
		}
	}
	rows, err := r.query(ctx, sqlScanAudit, q.After, since, q.Limit)
	if err != nil {
		return nil, db.fail("scan audit", err, nil)
	}
	recs, err := collect(rows, scanRecord)
	return recs, db.fail("scan audit", err, nil)
}

func scanAudit(s scanner) (*mosaic.AuditEvent, error) {
	var ev mosaic.AuditEvent
	err := s.Scan(auditFields(&ev)...)
	return &ev, err
}

// scanRecord scans chainCols. A NULL hash (a row outside the chain) is "".
func scanRecord(s scanner) (*auditchain.Record, error) {
	var rec auditchain.Record
	err := s.Scan(append(auditFields(&rec.AuditEvent),
		nullText{&rec.PrevHash}, nullText{&rec.Hash})...)
	return &rec, err
}

// auditFields returns the scan targets of auditCols.
func auditFields(ev *mosaic.AuditEvent) []any {
	return []any{&ev.ID, msTime{&ev.Time}, &ev.RequestID, &ev.PeerID, &ev.GrantID,
		&ev.SubjectUserID, &ev.Verb, &ev.Resource, &ev.Status, &ev.Outcome, &ev.Reason,
		&ev.Rows, &ev.SourceAddr, &ev.TokenHashPrefix, &ev.CertSerial}
}
