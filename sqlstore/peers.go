package sqlstore

import (
	"context"
	"errors"

	"github.com/mosaicgw/mosaic"
)

// CreatePeer inserts p, giving it a new id when it has none. An empty state
// means pending. SealedKey is stored exactly as given (nil stays NULL).
func (db *DB) CreatePeer(ctx context.Context, p *mosaic.Peer) error {
	return db.writeOne(ctx, "create peer", func(r runner) error {
		return db.insertPeer(ctx, r, p)
	})
}

// insertPeer is CreatePeer on a runner, so that CreateGrant can insert the
// peer in its own transaction.
func (db *DB) insertPeer(ctx context.Context, r runner, p *mosaic.Peer) error {
	if p.Role != mosaic.PeerInbound && p.Role != mosaic.PeerOutbound {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_role", "role: must be inbound or outbound")
	}
	p.ID = orNewID(p.ID)
	if p.State == "" {
		p.State = mosaic.PeerPending
	}
	created, updated := stamps(p.CreatedAt, p.UpdatedAt)
	err := r.queryRow(ctx, sqlInsertPeer,
		p.ID, p.Role, p.CommonName, p.DisplayName, p.State,
		p.CertPEM, p.CertSerial, p.CertFingerprint, nullMillis(p.CertNotAfter),
		p.EndpointURL, p.CertChainPEM, p.CAPEM, p.CAPin,
		created, updated, p.SealedKey,
	).Scan(msTime{&p.CreatedAt}, msTime{&p.UpdatedAt})
	return db.fail("create peer", err, &violations{
		unique: mosaic.Errorf(mosaic.KindConflict, "peer_exists", "peer already exists"),
	})
}

// FindPeer returns the peer with that id, sealed key included, or
// KindNotFound "peer_not_found".
func (db *DB) FindPeer(ctx context.Context, id string) (*mosaic.Peer, error) {
	return db.findPeer(ctx, db.read(), id)
}

// findPeer is FindPeer on a runner, so that a transaction can read the
// peer it changed.
func (db *DB) findPeer(ctx context.Context, r runner, id string) (*mosaic.Peer, error) {
	var p mosaic.Peer
	err := r.queryRow(ctx, sqlFindPeer, id).Scan(append(peerDest(&p), &p.SealedKey)...)
	if err != nil {
		return nil, db.notFound("find peer", err, errPeerNotFound)
	}
	return &p, nil
}

// ListPeers returns the peers matching f in id order. Listings leave
// SealedKey nil: only FindPeer reads it.
func (db *DB) ListPeers(ctx context.Context, f mosaic.PeerFilter) ([]*mosaic.Peer, error) {
	var conds []string
	var args []any
	if f.Role != "" {
		conds, args = append(conds, condPeerRole), append(args, f.Role)
	}
	if f.State != "" {
		conds, args = append(conds, condPeerState), append(args, f.State)
	}
	rows, err := db.read().query(ctx, filtered(sqlListPeers, conds, sqlListPeersEnd), args...)
	if err != nil {
		return nil, db.fail("list peers", err, nil)
	}
	peers, err := collect(rows, func(s scanner) (*mosaic.Peer, error) {
		var p mosaic.Peer
		return &p, s.Scan(peerDest(&p)...)
	})
	return peers, db.fail("list peers", err, nil)
}

// peerDest returns the scan destinations for peerCols, then peerRenewCols.
func peerDest(p *mosaic.Peer) []any {
	return []any{
		&p.ID, &p.Role, &p.CommonName, &p.DisplayName, &p.State,
		&p.CertPEM, &p.CertSerial, &p.CertFingerprint, nullTime{&p.CertNotAfter},
		&p.EndpointURL, &p.CertChainPEM, &p.CAPEM, &p.CAPin,
		msTime{&p.CreatedAt}, msTime{&p.UpdatedAt},
		nullTime{&p.RenewNextAt}, &p.RenewFailures, &p.RenewLastError,
	}
}

// ActivateOutboundPeer stores the certificate a remote gateway issued to us
// and moves the outbound peer from pending to active, in one conditional
// update. An unknown peer is KindNotFound "peer_not_found"; a peer that is
// not a pending outbound peer is KindConflict "peer_not_pending" and is left
// as it was.
func (db *DB) ActivateOutboundPeer(ctx context.Context, a mosaic.OutboundActivation) error {
	if a.CertNotAfter.IsZero() {
		return errors.New("sqlstore: activate outbound peer: certificate notAfter is unset")
	}
	n, err := rowsAffected(db.execOne(ctx, "activate outbound peer", sqlActivateOutboundPeer,
		a.CertPEM, a.CertChainPEM, a.CertSerial, a.CertFingerprint, a.CertNotAfter.UnixMilli(),
		a.CAPEM, millis(a.RenewAt), millis(a.At), a.PeerID))
	if err != nil || n == 1 {
		return db.fail("activate outbound peer", err, nil)
	}

	// Nothing changed: say why.
	var role string
	if err := db.read().queryRow(ctx, sqlPeerRole, a.PeerID).Scan(&role); err != nil {
		return db.notFound("activate outbound peer", err, errPeerNotFound)
	}
	return mosaic.Errorf(mosaic.KindConflict, "peer_not_pending",
		"peer is not a pending outbound peer")
}
