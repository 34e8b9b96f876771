package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/mosaicgw/mosaic"
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

// AppendAudit writes ev, stamped with the database's time when ev.Time is
// zero, and sets its ID and Time.
func (db *DB) AppendAudit(ctx context.Context, ev *mosaic.AuditEvent) error {
	if ev == nil {
		return errors.New("sqlstore: append audit: nil event")
	}
	row, err := db.insertAudit(ctx, db.run(), ev)
	if err != nil {
		return err
	}
	row.setOn(ev)
	return nil
}

// insertAudit writes ev on r and returns what the database assigned.
func (db *DB) insertAudit(ctx context.Context, r runner, ev *mosaic.AuditEvent) (auditRow, error) {
	var row auditRow
	err := r.queryRow(ctx, sqlInsertAudit,
		millis(ev.Time), ev.RequestID, ev.PeerID, ev.GrantID, ev.SubjectUserID, ev.Verb,
		ev.Resource, ev.Status, ev.Outcome, ev.Reason, ev.Rows, ev.SourceAddr,
		ev.TokenHashPrefix, ev.CertSerial,
	).Scan(&row.id, msTime{&row.at})
	return row, db.fail("append audit", err, nil)
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
	rows, err := db.run().query(ctx, filtered(sqlListAudit, conds, sqlListAuditEnd), args...)
	if err != nil {
		return nil, db.fail("list audit", err, nil)
	}
	events, err := collect(rows, scanAudit)
	return events, db.fail("list audit", err, nil)
}

func scanAudit(s scanner) (*mosaic.AuditEvent, error) {
	var ev mosaic.AuditEvent
	err := s.Scan(&ev.ID, msTime{&ev.Time}, &ev.RequestID, &ev.PeerID, &ev.GrantID,
		&ev.SubjectUserID, &ev.Verb, &ev.Resource, &ev.Status, &ev.Outcome, &ev.Reason,
		&ev.Rows, &ev.SourceAddr, &ev.TokenHashPrefix, &ev.CertSerial)
	return &ev, err
}
