package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/mosaicgw/mosaic"
)

// CreateToken inserts a token, by its hash, that expires ttl after the
// database's current time, and returns it as stored. The token is bound to
// the grant and its peer, and only a pending, unexpired grant gets one, in
// the same statement: an unknown grant is KindNotFound "grant_not_found", a
// peer other than the grant's KindInvalid "peer_mismatch", a grant no
// longer pending KindConflict "grant_not_pending" (or "grant_expired").
func (db *DB) CreateToken(ctx context.Context, hash, grantID, peerID string,
	ttl time.Duration) (*mosaic.EnrollmentToken, error) {
	if !isTokenHash(hash) {
		// Never echo the value: it might be a token rather than a hash.
		return nil, errors.New("sqlstore: create token: not a SHA-256 hex hash")
	}
	if ttl < time.Millisecond {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_ttl", "ttl: must be positive")
	}
	t := &mosaic.EnrollmentToken{Hash: hash, GrantID: grantID, PeerID: peerID}
	err := db.writeOne(ctx, "create token", func(r runner) error {
		return r.queryRow(ctx, sqlInsertToken, hash, ttl.Milliseconds(), grantID, peerID).
			Scan(msTime{&t.CreatedAt}, msTime{&t.ExpiresAt})
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.whyNoToken(ctx, grantID, peerID)
	}
	if err != nil {
		return nil, db.fail("create token", err, &violations{
			unique: mosaic.Errorf(mosaic.KindConflict, "token_exists", "token already exists"),
		})
	}
	return t, nil
}

// whyNoToken explains why the grant did not get a token.
func (db *DB) whyNoToken(ctx context.Context, grantID, peerID string) error {
	g, err := db.FindGrant(ctx, grantID)
	switch {
	case err != nil:
		return err
	case g.PeerID != peerID:
		return mosaic.Errorf(mosaic.KindInvalid, "peer_mismatch", "peer is not the grant's peer")
	case g.Status != mosaic.GrantPending:
		return errGrantNotPending()
	}
	return mosaic.Errorf(mosaic.KindConflict, "grant_expired", "grant has expired")
}

func errGrantNotPending() *mosaic.Error {
	return mosaic.Errorf(mosaic.KindConflict, "grant_not_pending", "grant is no longer pending")
}

// isTokenHash reports whether s looks like a lower-case hex SHA-256.
func isTokenHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// FindToken returns the token with that hash, with Expired judged by the
// database clock in the same query, or KindNotFound "token_not_found".
func (db *DB) FindToken(ctx context.Context, hash string) (*mosaic.EnrollmentToken, error) {
	var t mosaic.EnrollmentToken
	err := db.read().queryRow(ctx, sqlFindToken, hash).Scan(
		&t.Hash, &t.GrantID, &t.PeerID, msTime{&t.CreatedAt}, msTime{&t.ExpiresAt},
		nullText{&t.ClaimID}, nullTime{&t.ClaimedAt}, nullTime{&t.UsedAt},
		&t.IssuedKeyHash, &t.IssuedSerial, &t.ReplacesSerial, &t.Expired)
	if err != nil {
		return nil, db.notFound("find token", err, errTokenNotFound)
	}
	return &t, nil
}

// ClaimToken takes the token for one redeem with a single conditional
// update: it succeeds only if the token is unused, unexpired and not held
// by another claim younger than staleAfter, all judged by the database
// clock. Of any number of concurrent claims, at most one succeeds. A used
// or held token is KindGone "token_used", an expired one KindGone
// "token_expired", an unknown one KindNotFound "token_not_found".
func (db *DB) ClaimToken(ctx context.Context, hash, claimID string,
	staleAfter time.Duration) error {
	if claimID == "" || staleAfter < time.Millisecond {
		return errors.New("sqlstore: claim token: empty claim id or stale period")
	}
	n, err := rowsAffected(db.execOne(ctx, "claim token", sqlClaimToken,
		claimID, hash, staleAfter.Milliseconds()))
	if err != nil || n == 1 {
		return db.fail("claim token", err, nil)
	}

	// The claim failed: read the token to say why.
	t, err := db.FindToken(ctx, hash)
	switch {
	case err != nil:
		return err
	case t.UsedAt != nil:
		return mosaic.Errorf(mosaic.KindGone, "token_used", "enrollment token already used")
	case t.Expired:
		return mosaic.Errorf(mosaic.KindGone, "token_expired", "enrollment token expired")
	}
	return mosaic.Errorf(mosaic.KindGone, "token_used",
		"enrollment token is being redeemed by another request")
}

// ReleaseClaim gives back a claim that did not lead to activation, so the
// token can be retried. It does nothing if claimID no longer holds the
// token or the token was used.
func (db *DB) ReleaseClaim(ctx context.Context, hash, claimID string) error {
	_, err := db.execOne(ctx, "release claim", sqlReleaseClaim, hash, claimID)
	return db.fail("release claim", err, nil)
}

// ActivateGrant is the last step of a redeem, in one transaction: the grant
// moves pending → active with the certificate's serial, its inbound peer
// takes the certificate and becomes active, the token is marked used by the
// claim, and the allowed audit event is written. If the grant is no longer
// pending it is KindConflict "grant_not_pending", if the peer is not a
// pending or active inbound peer "peer_not_active", if the claim no longer
// holds the token "claim_lost"; then nothing changes. A re-enrollment
// (a.ReplacesSerial set) needs instead an active grant whose serial is
// still a.ReplacesSerial, else KindConflict "grant_not_active" or
// "certificate_replaced".
func (db *DB) ActivateGrant(ctx context.Context, a mosaic.Activation) error {
	if a.Event == nil || a.CertNotAfter.IsZero() {
		return errors.New("sqlstore: activate grant: no audit event or certificate notAfter")
	}
	var ev auditRow
	err := db.inTx(ctx, "activate grant", func(r runner) (err error) {
		ev, err = db.activate(ctx, r, a)
		return err
	})
	if err != nil {
		return err
	}
	ev.setOn(a.Event)
	return nil
}

// activate runs the steps of ActivateGrant in its transaction. Each step is
// one conditional update; the first that changes no row ends it.
func (db *DB) activate(ctx context.Context, r runner, a mosaic.Activation) (auditRow, error) {
	at := millis(a.At)
	if err := db.activateGrantRow(ctx, r, a); err != nil {
		return auditRow{}, err
	}

	n, err := rowsAffected(r.exec(ctx, sqlActivateInboundPeer,
		a.CertPEM, a.CertSerial, a.CertFingerprint, a.CertNotAfter.UnixMilli(), at, a.PeerID))
	if err != nil {
		return auditRow{}, db.fail("activate grant: peer", err, nil)
	}
	if n != 1 {
		return auditRow{}, mosaic.Errorf(mosaic.KindConflict, "peer_not_active",
			"peer is not a pending or active inbound peer")
	}

	n, err = rowsAffected(r.exec(ctx, sqlUseToken, at, a.KeyHash, a.CertSerial,
		a.TokenHash, a.ClaimID, a.GrantID, a.PeerID))
	if err != nil {
		return auditRow{}, db.fail("activate grant: token", err, nil)
	}
	if n != 1 {
		return auditRow{}, mosaic.Errorf(mosaic.KindConflict, "claim_lost",
			"enrollment token is no longer held by this redeem")
	}

	return db.insertAudit(ctx, r, a.Event)
}

// whyNotActivated explains, inside the activation's transaction, why the
// grant did not move to active.
func (db *DB) whyNotActivated(ctx context.Context, r runner, a mosaic.Activation) error {
	g, err := db.findGrant(ctx, r, a.GrantID)
	switch {
	case err != nil:
		return err
	case g.Status != mosaic.GrantPending:
		return errGrantNotPending()
	case g.PeerID != a.PeerID:
		return mosaic.Errorf(mosaic.KindConflict, "peer_mismatch", "peer is not the grant's peer")
	}
	return mosaic.Errorf(mosaic.KindConflict, "grant_expired", "grant has expired")
}
