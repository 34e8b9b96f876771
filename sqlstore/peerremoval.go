package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/mosaicgw/mosaic"
)

// RemovePeer ends a peer for good, in one transaction: an inbound peer's
// pending and active grants (not past their expiry) are revoked with
// rm.Reason, each with an audit event of its own (a copy of rm.Event with
// verb revoke and the grant's ids); an outbound peer's sealed key and
// certificates are wiped; the peer moves to revoked; rm.Event is written.
// An unknown peer is KindNotFound "peer_not_found"; a peer already revoked
// is KindConflict "peer_removed", and nothing is written.
//
// The grants are revoked before the peer row is changed and again after,
// so that a grant created meanwhile for the peer, which holds the peer's
// row lock until it commits (see lockInbound), is revoked too on
// PostgreSQL; on SQLite writers run one at a time.
func (db *DB) RemovePeer(ctx context.Context, rm mosaic.PeerRemoval) (*mosaic.PeerRemoved, error) {
	if rm.Event == nil {
		return nil, errors.New("sqlstore: remove peer: no audit event")
	}
	if err := mosaic.ValidateRevokeReason(rm.Reason); err != nil {
		return nil, err
	}
	var out *mosaic.PeerRemoved
	var events []*mosaic.AuditEvent
	var rows []auditRow
	err := db.inTx(ctx, "remove peer", func(r runner) error {
		out, events, rows = nil, nil, nil
		revoked, err := db.removePeer(ctx, r, rm)
		if err != nil {
			return err
		}
		events = append(grantEvents(rm.Event, revoked), rm.Event)
		for _, ev := range events {
			row, err := db.insertAudit(ctx, r, ev)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		p, err := db.findPeer(ctx, r, rm.PeerID)
		if err != nil {
			return err
		}
		out = &mosaic.PeerRemoved{Peer: p, Revoked: revoked}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, ev := range events {
		rows[i].setOn(ev)
	}
	out.Peer.SealedKey = nil
	return out, nil
}

// removePeer revokes the peer's live grants and moves the peer to revoked,
// in r's transaction, and returns the grants it revoked in id order.
func (db *DB) removePeer(ctx context.Context, r runner,
	rm mosaic.PeerRemoval) ([]*mosaic.Grant, error) {
	at := millis(rm.At)
	revoked, err := db.revokePeerGrants(ctx, r, rm, at)
	if err != nil {
		return nil, err
	}

	var id string
	err = r.queryRow(ctx, sqlRemovePeer, at, rm.PeerID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		// Nothing changed: say why.
		if _, err := db.findPeer(ctx, r, rm.PeerID); err != nil {
			return nil, err
		}
		return nil, errPeerRemoved()
	}
	if err != nil {
		return nil, db.fail("remove peer", err, nil)
	}

	// A grant committed while this transaction waited for the peer's row.
	late, err := db.revokePeerGrants(ctx, r, rm, at)
	if err != nil {
		return nil, err
	}
	revoked = append(revoked, late...)
	sortGrants(revoked)
	return revoked, nil
}

// revokePeerGrants revokes the peer's pending and active grants not past
// their expiry and returns them as they are now.
func (db *DB) revokePeerGrants(ctx context.Context, r runner, rm mosaic.PeerRemoval,
	at any) ([]*mosaic.Grant, error) {
	rows, err := r.query(ctx, sqlRevokePeerGrants, at, at, rm.Reason, rm.PeerID)
	if err != nil {
		return nil, db.fail("remove peer: revoke grants", err, nil)
	}
	grants, err := collect(rows, scanGrant)
	if err != nil {
		return nil, db.fail("remove peer: revoke grants", err, nil)
	}
	return grants, nil
}

// grantEvents returns the audit event of each revoked grant: a copy of the
// removal's event with verb revoke and the grant's and user's ids.
func grantEvents(removal *mosaic.AuditEvent, grants []*mosaic.Grant) []*mosaic.AuditEvent {
	events := make([]*mosaic.AuditEvent, 0, len(grants)+1)
	for _, g := range grants {
		ev := *removal
		ev.Verb, ev.GrantID, ev.SubjectUserID = mosaic.VerbRevoke, g.ID, g.UserID
		events = append(events, &ev)
	}
	return events
}

// sortGrants sorts grants by id.
func sortGrants(grants []*mosaic.Grant) {
	slices.SortFunc(grants, func(a, b *mosaic.Grant) int { return strings.Compare(a.ID, b.ID) })
}

func errPeerRemoved() *mosaic.Error {
	return mosaic.Errorf(mosaic.KindConflict, "peer_removed", "peer is already removed")
}
