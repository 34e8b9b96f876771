package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mosaicgw/mosaic"
)

// CreateGrant inserts g as a pending grant for an existing user and inbound
// peer, in one transaction. When peer is non-nil it is first inserted as a
// new pending inbound peer and g takes its id. An unknown user or peer is
// KindNotFound ("user_not_found", "peer_not_found"); an outbound peer, an
// invalid scope or a status other than pending is KindInvalid. An existing
// peer that was removed becomes pending again in the same transaction,
// its old certificate forgotten, so that it can enroll under the grant.
func (db *DB) CreateGrant(ctx context.Context, g *mosaic.Grant, peer *mosaic.Peer) error {
	scope, err := newGrantScope(g, peer)
	if err != nil {
		return err
	}
	id := orNewID(g.ID)
	created, updated := stamps(g.CreatedAt, g.UpdatedAt)

	return db.inTx(ctx, "create grant", func(r runner) error {
		err := db.exists(ctx, r, sqlUserExists, g.UserID, errUserNotFound)
		if err != nil {
			return err
		}
		peerID := g.PeerID
		if peer != nil {
			if err := db.insertPeer(ctx, r, peer); err != nil {
				return err
			}
			peerID = peer.ID
		}
		if err := db.lockInbound(ctx, r, peerID, created); err != nil {
			return err
		}

		var createdAt, updatedAt time.Time
		err = r.queryRow(ctx, sqlInsertGrant, id, g.UserID, peerID, string(scope),
			created, updated, nullMillis(g.ExpiresAt),
		).Scan(msTime{&createdAt}, msTime{&updatedAt})
		if err != nil {
			return db.fail("create grant", err, &violations{
				unique: mosaic.Errorf(mosaic.KindConflict, "grant_exists", "grant already exists"),
			})
		}
		g.ID, g.PeerID, g.Status = id, peerID, mosaic.GrantPending
		g.CreatedAt, g.UpdatedAt = createdAt, updatedAt
		return nil
	})
}

// newGrantScope checks a new grant and its new peer, if any, and returns
// the grant's scope as stored. It makes the new peer a pending inbound one.
func newGrantScope(g *mosaic.Grant, peer *mosaic.Peer) ([]byte, error) {
	if err := g.Scope.Validate(); err != nil {
		return nil, err
	}
	if g.Status != "" && g.Status != mosaic.GrantPending {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_status",
			"status: a new grant is pending")
	}
	if peer != nil {
		if peer.Role != "" && peer.Role != mosaic.PeerInbound {
			return nil, errPeerNotInbound()
		}
		peer.Role, peer.State = mosaic.PeerInbound, mosaic.PeerPending
	}
	scope, err := json.Marshal(g.Scope)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: create grant: encode scope: %w", err)
	}
	return scope, nil
}

// lockInbound checks that the peer exists and is an inbound peer, and
// takes its row lock for the rest of the transaction, so that a grant
// created and a removal of the peer happen one after the other. A removed
// (revoked) peer becomes pending again at the given time (nil: the
// database's), without its old certificate.
func (db *DB) lockInbound(ctx context.Context, r runner, peerID string, at any) error {
	n, err := rowsAffected(r.exec(ctx, sqlReusePeer, at, peerID))
	if err != nil {
		return db.fail("check peer", err, nil)
	}
	if n == 1 {
		return nil
	}

	// Nothing changed: say why.
	var role mosaic.PeerRole
	if err := r.queryRow(ctx, sqlPeerRole, peerID).Scan(&role); err != nil {
		return db.notFound("check peer", err, errPeerNotFound)
	}
	if role != mosaic.PeerInbound {
		return errPeerNotInbound()
	}
	return nil
}

func errPeerNotInbound() *mosaic.Error {
	return mosaic.Errorf(mosaic.KindInvalid, "peer_not_inbound",
		"peer: grants are given to inbound peers only")
}

// FindGrant returns the grant with that id, or KindNotFound
// "grant_not_found".
func (db *DB) FindGrant(ctx context.Context, id string) (*mosaic.Grant, error) {
	return db.findGrant(ctx, db.read(), id)
}

func (db *DB) findGrant(ctx context.Context, r runner, id string) (*mosaic.Grant, error) {
	g, err := scanGrant(r.queryRow(ctx, sqlFindGrant, id))
	if err != nil {
		return nil, db.notFound("find grant", err, errGrantNotFound)
	}
	return g, nil
}

// ListGrants returns grants matching f in id order, at most f.Limit of them
// (mosaic.DefaultListLimit when zero, never more than mosaic.MaxListLimit).
// A status filter matches what a grant is now, by the database clock: a
// pending or active grant past its expiry is listed under expired, not
// under its stored status, which is what it comes back with.
func (db *DB) ListGrants(ctx context.Context, f mosaic.GrantFilter) ([]*mosaic.Grant, error) {
	var conds []string
	var args []any
	if f.PeerID != "" {
		conds, args = append(conds, condGrantPeer), append(args, f.PeerID)
	}
	switch f.Status {
	case "":
	case mosaic.GrantPending, mosaic.GrantActive:
		conds, args = append(conds, condGrantLive), append(args, f.Status)
	case mosaic.GrantExpired:
		conds = append(conds, condGrantExpired)
	default:
		conds, args = append(conds, condGrantStatus), append(args, f.Status)
	}
	args = append(args, limit(f.Limit))
	rows, err := db.read().query(ctx, filtered(sqlListGrants, conds, sqlListGrantsEnd), args...)
	if err != nil {
		return nil, db.fail("list grants", err, nil)
	}
	grants, err := collect(rows, scanGrant)
	return grants, db.fail("list grants", err, nil)
}

func scanGrant(s scanner) (*mosaic.Grant, error) {
	var g mosaic.Grant
	err := s.Scan(grantDest(&g)...)
	return &g, err
}

// grantDest returns the scan targets of grantCols.
func grantDest(g *mosaic.Grant) []any {
	return []any{&g.ID, &g.UserID, &g.PeerID, scopeJSON{&g.Scope}, &g.Status,
		msTime{&g.CreatedAt}, msTime{&g.UpdatedAt},
		nullTime{&g.ActivatedAt}, nullTime{&g.ExpiresAt}, nullTime{&g.RevokedAt},
		&g.RevokedReason}
}

// RevokeGrant moves a pending or active grant to revoked at the given time
// (the database's when zero) with the reason, and appends ev to the audit
// log in the same transaction. An unknown grant is KindNotFound
// "grant_not_found"; one already revoked or expired, including a pending or
// active grant past its expiry by the database clock, is KindConflict
// "grant_not_revocable" and nothing is written.
func (db *DB) RevokeGrant(ctx context.Context, id, reason string, at time.Time,
	ev *mosaic.AuditEvent) (*mosaic.Grant, error) {
	if ev == nil {
		return nil, errors.New("sqlstore: revoke grant: no audit event")
	}
	if err := mosaic.ValidateRevokeReason(reason); err != nil {
		return nil, err
	}
	var g *mosaic.Grant
	var row auditRow
	err := db.inTx(ctx, "revoke grant", func(r runner) error {
		n, err := rowsAffected(r.exec(ctx, sqlRevokeGrant, millis(at), reason, millis(at), id))
		if err != nil {
			return db.fail("revoke grant", err, nil)
		}
		if n != 1 {
			// Nothing changed: say why.
			if _, err := db.findGrant(ctx, r, id); err != nil {
				return err
			}
			return mosaic.Errorf(mosaic.KindConflict, "grant_not_revocable",
				"grant is already revoked or expired")
		}
		if row, err = db.insertAudit(ctx, r, ev); err != nil {
			return err
		}
		g, err = db.findGrant(ctx, r, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	row.setOn(ev)
	return g, nil
}

// GrantCertSerial returns the serial of the certificate the grant was
// activated with (empty while pending), or KindNotFound "grant_not_found".
func (db *DB) GrantCertSerial(ctx context.Context, grantID string) (string, error) {
	var serial string
	if err := db.read().queryRow(ctx, sqlGrantCertSerial, grantID).Scan(&serial); err != nil {
		return "", db.notFound("grant cert serial", err, errGrantNotFound)
	}
	return serial, nil
}

// rowsAffected returns how many rows an exec changed, or its error.
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ExpireGrants marks every pending or active grant past its expiry, by the
// database clock, as expired, and returns how many it marked. Expired is
// final: such a grant can no longer be activated or revoked.
func (db *DB) ExpireGrants(ctx context.Context) (int64, error) {
	n, err := rowsAffected(db.execOne(ctx, "expire grants", sqlExpireGrants))
	if err != nil {
		return 0, db.fail("expire grants", err, nil)
	}
	return n, nil
}
