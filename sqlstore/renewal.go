package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/mosaicgw/mosaic"
)

// activateGrantRow is the grant's step of an activation: pending → active
// with the certificate, or, for a re-enrollment (a.ReplacesSerial set), the
// active grant's expired certificate replaced by the new one, which also
// ends any overlap of an older serial; the token must have been issued to
// replace that very certificate.
func (db *DB) activateGrantRow(ctx context.Context, r runner, a mosaic.Activation) error {
	at, notAfter := millis(a.At), a.CertNotAfter.UnixMilli()
	var n int64
	var err error
	if a.ReplacesSerial == "" {
		n, err = rowsAffected(r.exec(ctx, sqlActivateGrant,
			at, at, a.CertSerial, notAfter, a.GrantID, a.PeerID))
	} else {
		n, err = rowsAffected(r.exec(ctx, sqlReenrollGrant,
			at, a.CertSerial, notAfter, a.GrantID, a.PeerID, a.ReplacesSerial, a.TokenHash))
	}
	if err != nil {
		return db.fail("activate grant", err, nil)
	}
	if n == 1 {
		return nil
	}
	if a.ReplacesSerial == "" {
		return db.whyNotActivated(ctx, r, a)
	}
	if err := db.whyNotReenrolled(ctx, r, a.GrantID, a.PeerID, a.ReplacesSerial); !mosaic.IsKind(
		err, mosaic.KindConflict) || mosaic.ErrorCode(err) != "grant_expired" {
		return err
	}
	var replaces string
	if err := r.queryRow(ctx, sqlTokenReplaces, a.TokenHash).Scan(&replaces); err != nil {
		return db.notFound("re-enroll grant: token", err, errTokenNotFound)
	}
	if replaces != a.ReplacesSerial {
		return errTokenNotForReenrollment()
	}
	return mosaic.Errorf(mosaic.KindConflict, "grant_expired", "grant has expired")
}

// errTokenNotForReenrollment is the conflict of a token that was not
// issued to replace the grant's current certificate: one issued while the
// grant was pending, or for a certificate replaced since.
func errTokenNotForReenrollment() *mosaic.Error {
	return mosaic.Errorf(mosaic.KindConflict, "grant_not_pending",
		"grant is active and this token was not issued to replace its certificate")
}

// whyNotReenrolled explains why an active grant's certificate was not
// replaced by a re-enrollment.
func (db *DB) whyNotReenrolled(ctx context.Context, r runner, grantID, peerID,
	serial string) error {
	g, err := db.findGrant(ctx, r, grantID)
	switch {
	case err != nil:
		return err
	case g.PeerID != peerID:
		return mosaic.Errorf(mosaic.KindConflict, "peer_mismatch", "peer is not the grant's peer")
	case g.Status != mosaic.GrantActive:
		return mosaic.Errorf(mosaic.KindConflict, "grant_not_active", "grant is %s", g.Status)
	}
	var current string
	if err := r.queryRow(ctx, sqlGrantCertSerial, grantID).Scan(&current); err != nil {
		return db.fail("re-enroll grant", err, nil)
	}
	if current != serial {
		return errCertReplaced()
	}
	return mosaic.Errorf(mosaic.KindConflict, "grant_expired", "grant has expired")
}

// errCertReplaced is the conflict of a change made for a certificate that
// another request replaced meanwhile.
func errCertReplaced() *mosaic.Error {
	return mosaic.Errorf(mosaic.KindConflict, "certificate_replaced",
		"the grant's certificate was replaced meanwhile")
}

// GrantCert returns the certificate state of a grant, or KindNotFound
// "grant_not_found".
func (db *DB) GrantCert(ctx context.Context, grantID string) (*mosaic.GrantCert, error) {
	var c mosaic.GrantCert
	err := db.read().queryRow(ctx, sqlGrantCert, grantID).Scan(
		&c.Serial, nullTime{&c.NotAfter}, &c.PrevSerial, nullTime{&c.PrevUntil})
	if err != nil {
		return nil, db.notFound("grant cert", err, errGrantNotFound)
	}
	return &c, nil
}

// GrantAccess returns a grant, its certificate state and its peer's state
// and common name, read in one statement, or KindNotFound
// "grant_not_found". An access cached at the current access version is
// the access (see accessCache).
func (db *DB) GrantAccess(ctx context.Context, grantID string) (*mosaic.GrantAccess, error) {
	version, err := db.accessVersion(ctx)
	if err != nil {
		return nil, err
	}
	if a := db.access.get(grantID, version); a != nil {
		return a, nil
	}
	a, err := db.readGrantAccess(ctx, grantID)
	if err != nil {
		return nil, err
	}
	db.access.put(grantID, version, a)
	return a, nil
}

// readGrantAccess is GrantAccess read from the database.
func (db *DB) readGrantAccess(ctx context.Context, grantID string) (*mosaic.GrantAccess, error) {
	var g mosaic.Grant
	a := &mosaic.GrantAccess{Grant: &g, Cert: &mosaic.GrantCert{}}
	c := a.Cert
	dest := append(grantDest(&g), &c.Serial, nullTime{&c.NotAfter}, &c.PrevSerial,
		nullTime{&c.PrevUntil}, &a.PeerState, &a.PeerCommonName)
	if err := db.read().queryRow(ctx, sqlGrantAccess, grantID).Scan(dest...); err != nil {
		return nil, db.notFound("grant access", err, errGrantNotFound)
	}
	return a, nil
}

// RenewGrantCert replaces a grant's certificate with a renewed one, in one
// transaction: the grant's serial, notAfter and overlap, the inbound peer's
// certificate, and the allowed audit event. A grant that is no longer
// active, whose current serial is no longer r.CurrentSerial, or that no
// longer accepts r.PresentedSerial at r.At, is KindConflict
// ("grant_not_active", "certificate_replaced", "serial_superseded") and
// nothing is written; an unknown grant is KindNotFound.
func (db *DB) RenewGrantCert(ctx context.Context, rn mosaic.GrantRenewal) error {
	if rn.Event == nil || rn.CertNotAfter.IsZero() || rn.At.IsZero() ||
		rn.PresentedSerial == "" || rn.CurrentSerial == "" {
		return errors.New("sqlstore: renew grant cert: incomplete renewal")
	}
	var ev auditRow
	err := db.inTx(ctx, "renew grant cert", func(r runner) (err error) {
		ev, err = db.renewGrantCert(ctx, r, rn)
		return err
	})
	if err != nil {
		return err
	}
	ev.setOn(rn.Event)
	return nil
}

// renewGrantCert runs the steps of RenewGrantCert in its transaction.
func (db *DB) renewGrantCert(ctx context.Context, r runner, rn mosaic.GrantRenewal) (auditRow,
	error) {
	at := rn.At.UnixMilli()
	n, err := rowsAffected(r.exec(ctx, sqlRenewGrantCert,
		rn.CertSerial, rn.CertNotAfter.UnixMilli(),
		rn.PresentedSerial, rn.PresentedSerial, rn.OverlapUntil.UnixMilli(), at,
		rn.GrantID, rn.PeerID, rn.CurrentSerial,
		rn.PresentedSerial, rn.PresentedSerial, at))
	if err != nil {
		return auditRow{}, db.fail("renew grant cert", err, nil)
	}
	if n != 1 {
		return auditRow{}, db.whyNotRenewed(ctx, r, rn)
	}

	n, err = rowsAffected(r.exec(ctx, sqlRenewInboundPeer, rn.CertPEM, rn.CertSerial,
		rn.CertFingerprint, rn.CertNotAfter.UnixMilli(), at, rn.PeerID))
	if err != nil {
		return auditRow{}, db.fail("renew grant cert: peer", err, nil)
	}
	if n != 1 {
		return auditRow{}, mosaic.Errorf(mosaic.KindConflict, "peer_not_active",
			"peer is not an active inbound peer")
	}
	return db.insertAudit(ctx, r, rn.Event)
}

// whyNotRenewed explains, inside the renewal's transaction, why the grant's
// certificate was not replaced.
func (db *DB) whyNotRenewed(ctx context.Context, r runner, rn mosaic.GrantRenewal) error {
	g, err := db.findGrant(ctx, r, rn.GrantID)
	switch {
	case err != nil:
		return err
	case g.PeerID != rn.PeerID:
		return mosaic.Errorf(mosaic.KindConflict, "peer_mismatch", "peer is not the grant's peer")
	case g.Status != mosaic.GrantActive:
		return mosaic.Errorf(mosaic.KindConflict, "grant_not_active", "grant is %s", g.Status)
	}
	var c mosaic.GrantCert
	err = r.queryRow(ctx, sqlGrantCert, rn.GrantID).Scan(
		&c.Serial, nullTime{&c.NotAfter}, &c.PrevSerial, nullTime{&c.PrevUntil})
	switch {
	case err != nil:
		return db.fail("renew grant cert", err, nil)
	case c.Serial != rn.CurrentSerial:
		return errCertReplaced()
	case !c.Accepts(rn.PresentedSerial, rn.At):
		return mosaic.Errorf(mosaic.KindConflict, "serial_superseded",
			"certificate is not the grant's current one")
	}
	return mosaic.Errorf(mosaic.KindConflict, "grant_expired", "grant has expired")
}

// CreateReenrollToken inserts a token, by its hash, for an active grant
// whose current certificate has serial, in one statement: the grant must
// be active, not past its expiry and still have that serial, which the
// token records as the one it may replace. An unknown
// grant is KindNotFound "grant_not_found", a peer other than the grant's
// KindInvalid "peer_mismatch", a grant in another state KindConflict
// "grant_not_active" (or "grant_expired"), another serial KindConflict
// "certificate_replaced".
func (db *DB) CreateReenrollToken(ctx context.Context, hash, grantID, peerID, serial string,
	ttl time.Duration) (*mosaic.EnrollmentToken, error) {
	if !isTokenHash(hash) {
		return nil, errors.New("sqlstore: create re-enrollment token: not a SHA-256 hex hash")
	}
	if ttl < time.Millisecond || serial == "" {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_ttl", "ttl: must be positive")
	}
	t := &mosaic.EnrollmentToken{Hash: hash, GrantID: grantID, PeerID: peerID}
	t.ReplacesSerial = serial
	err := db.writeOne(ctx, "create re-enrollment token", func(r runner) error {
		return r.queryRow(ctx, sqlInsertReenrollToken, hash, serial, ttl.Milliseconds(),
			grantID, peerID, serial).Scan(msTime{&t.CreatedAt}, msTime{&t.ExpiresAt})
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, db.whyNoReenrollToken(ctx, grantID, peerID, serial)
	}
	if err != nil {
		return nil, db.fail("create re-enrollment token", err, &violations{
			unique: mosaic.Errorf(mosaic.KindConflict, "token_exists", "token already exists"),
		})
	}
	return t, nil
}

// whyNoReenrollToken explains why the grant did not get a re-enrollment
// token.
func (db *DB) whyNoReenrollToken(ctx context.Context, grantID, peerID, serial string) error {
	g, err := db.FindGrant(ctx, grantID)
	switch {
	case err != nil:
		return err
	case g.PeerID != peerID:
		return mosaic.Errorf(mosaic.KindInvalid, "peer_mismatch", "peer is not the grant's peer")
	}
	return db.whyNotReenrolled(ctx, db.read(), grantID, peerID, serial)
}

// LeaseRenewal takes the renewal lease of an active outbound peer for d,
// by the database clock, with one conditional update: only while its
// certificate has serial, its failure count is failures and no lease is
// held. Of concurrent callers at most one succeeds; the others get
// KindConflict "renewal_in_progress" (KindNotFound "peer_not_found" for an
// unknown peer, KindConflict "peer_removed" for a removed one).
func (db *DB) LeaseRenewal(ctx context.Context, peerID, serial string, failures int,
	d time.Duration) error {
	if d < time.Millisecond || serial == "" {
		return errors.New("sqlstore: lease renewal: no serial or lease period")
	}
	n, err := rowsAffected(db.execOne(ctx, "lease renewal", sqlLeaseRenewal,
		d.Milliseconds(), peerID, serial, failures))
	if err != nil || n == 1 {
		return db.fail("lease renewal", err, nil)
	}
	return db.whyNotRenewable(ctx, peerID, mosaic.Errorf(mosaic.KindConflict,
		"renewal_in_progress", "the peer's certificate is being renewed or was renewed meanwhile"))
}

// RenewOutboundPeer stores a renewed certificate with its chain and our
// new sealed key, with one conditional update: only on an active outbound
// peer whose certificate still has r.OldSerial. It clears the failures and
// the lease. Otherwise it is KindConflict "certificate_replaced"
// (KindNotFound "peer_not_found" for an unknown peer, KindConflict
// "peer_removed" for one removed meanwhile, whose key stays wiped).
func (db *DB) RenewOutboundPeer(ctx context.Context, r mosaic.OutboundRenewal) error {
	if r.CertNotAfter.IsZero() || len(r.SealedKey) == 0 || r.OldSerial == "" {
		return errors.New("sqlstore: renew outbound peer: incomplete renewal")
	}
	n, err := rowsAffected(db.execOne(ctx, "renew outbound peer", sqlRenewOutboundPeer,
		r.CertPEM, r.CertChainPEM, r.CertSerial, r.CertFingerprint, r.CertNotAfter.UnixMilli(),
		r.SealedKey, millis(r.NextAt), millis(r.At), r.PeerID, r.OldSerial))
	if err != nil || n == 1 {
		return db.fail("renew outbound peer", err, nil)
	}
	return db.whyNotRenewable(ctx, r.PeerID, errCertReplaced())
}

// RecordRenewalFailure counts a failed renewal of an active outbound peer
// whose certificate still has f.Serial, keeps its error and next attempt
// time and releases the lease. A peer whose certificate changed meanwhile
// is KindConflict "certificate_replaced", one removed meanwhile
// KindConflict "peer_removed"; either is left alone.
func (db *DB) RecordRenewalFailure(ctx context.Context, f mosaic.RenewalFailure) error {
	n, err := rowsAffected(db.execOne(ctx, "record renewal failure", sqlRenewalFailed,
		f.Error, millis(f.NextAt), millis(f.At), f.PeerID, f.Serial))
	if err != nil || n == 1 {
		return db.fail("record renewal failure", err, nil)
	}
	return db.whyNotRenewable(ctx, f.PeerID, errCertReplaced())
}

// whyNotRenewable explains why a renewal's conditional update of an
// outbound peer changed nothing: KindNotFound "peer_not_found" for an
// unknown peer, KindConflict "peer_removed" for one removed meanwhile (its
// key and certificates are gone for good), else otherwise.
func (db *DB) whyNotRenewable(ctx context.Context, peerID string, otherwise error) error {
	p, err := db.FindPeer(ctx, peerID)
	switch {
	case err != nil:
		return err
	case p.Role == mosaic.PeerOutbound && p.State == mosaic.PeerRevoked:
		return mosaic.Errorf(mosaic.KindConflict, "peer_removed",
			"peer was removed: its key and certificate are gone")
	}
	return otherwise
}
