package mosaic

import (
	"context"
	"time"
)

// VerbRenew is the audited verb of a certificate renewal.
const VerbRenew = "renew"

// Renewal states of an outbound peer (Peer.Renewal), as this gateway sees
// the certificate a remote gateway issued to it.
const (
	// RenewalOK: the certificate is valid and its renewal is not due yet.
	RenewalOK = "ok"
	// RenewalDue: the renewal is due and will be tried at the next pass.
	RenewalDue = "due"
	// RenewalFailing: the last renewal attempts failed; they are retried
	// with backoff.
	RenewalFailing = "failing"
	// RenewalExpired: the certificate has expired and can no longer be
	// renewed; the peer must enroll again with a new token.
	RenewalExpired = "expired"
)

// RenewalStore holds the state of certificate renewals on both sides: the
// grantor's grants, whose certificate a renewal replaces, and the peer's
// outbound peers, whose certificate it renews. Each method is one
// conditional update in one transaction; a method that returns an error
// has changed nothing.
type RenewalStore interface {
	// GrantCert returns the certificate state of a grant, or
	// KindNotFound.
	GrantCert(ctx context.Context, grantID string) (*GrantCert, error)
	// GrantAccess returns, in one read, what authorizing a request made
	// with a grant's certificate needs: the grant, its certificate state
	// and its peer's state and common name. An unknown grant is
	// KindNotFound.
	GrantAccess(ctx context.Context, grantID string) (*GrantAccess, error)
	// RenewGrantCert replaces a grant's current certificate with a renewed
	// one: the grant's serial moves from r.CurrentSerial to r.CertSerial,
	// the serial presented becomes the previous one, accepted until
	// r.OverlapUntil, the inbound peer takes the new certificate, and the
	// allowed audit event is written. The grant must still be active with
	// r.CurrentSerial as its current serial and r.PresentedSerial accepted
	// at r.At; otherwise it is KindConflict and nothing changes.
	RenewGrantCert(ctx context.Context, r GrantRenewal) error
	// CreateReenrollToken inserts an enrollment token, like CreateToken,
	// for an active grant whose current certificate has serial (one that
	// has expired): redeeming it replaces that certificate. A grant that
	// is not active or has another serial is KindConflict.
	CreateReenrollToken(ctx context.Context, hash, grantID, peerID, serial string,
		ttl time.Duration) (*EnrollmentToken, error)

	// LeaseRenewal takes the renewal lease of an active outbound peer for
	// d, by the database clock, so that one replica at a time renews it.
	// It succeeds only while the peer's certificate has serial, its
	// failure count is failures (what the caller read), and no lease is
	// held; otherwise it is KindConflict "renewal_in_progress".
	LeaseRenewal(ctx context.Context, peerID, serial string, failures int,
		d time.Duration) error
	// RenewOutboundPeer stores a renewed certificate, its chain and our
	// new sealed key on an active outbound peer whose certificate still
	// has r.OldSerial, clears the failure count and the lease and sets the
	// next renewal time. Otherwise it is KindConflict: "peer_removed" for
	// a peer removed meanwhile, which never gets a key back.
	RenewOutboundPeer(ctx context.Context, r OutboundRenewal) error
	// RecordRenewalFailure counts a failed renewal of an outbound peer
	// whose certificate still has f.Serial: the failure count goes up,
	// the error and the next attempt time are kept and the lease is
	// released. A peer whose certificate changed, or that was removed,
	// meanwhile is left alone (KindConflict).
	RecordRenewalFailure(ctx context.Context, f RenewalFailure) error
}

// GrantCert is the certificate state of a grant on the grantor's side.
type GrantCert struct {
	// Serial is the current certificate's serial, empty while pending;
	// NotAfter its end, nil when unknown.
	Serial   string
	NotAfter *time.Time
	// PrevSerial is the serial the last renewal replaced, empty if none;
	// it is accepted until PrevUntil.
	PrevSerial string
	PrevUntil  *time.Time
}

// GrantAccess is a grant as a request that speaks for it is authorized:
// the grant, its certificate state, and the state and common name of its
// peer (Grant.PeerID), read together.
type GrantAccess struct {
	Grant          *Grant
	Cert           *GrantCert
	PeerState      PeerState
	PeerCommonName string
}

// Accepts reports whether a certificate with serial may speak for the
// grant at now: the current one, or the previous one during its overlap.
func (c *GrantCert) Accepts(serial string, now time.Time) bool {
	if serial == "" {
		return false
	}
	if serial == c.Serial {
		return true
	}
	return serial == c.PrevSerial && c.PrevUntil != nil && now.Before(*c.PrevUntil)
}

// Expired reports whether the current certificate has expired at now.
func (c *GrantCert) Expired(now time.Time) bool {
	return c.Serial != "" && c.NotAfter != nil && !now.Before(*c.NotAfter)
}

// GrantRenewal is what RenewGrantCert stores.
type GrantRenewal struct {
	GrantID string
	PeerID  string
	// PresentedSerial is the serial of the certificate the renewal was
	// authenticated with: the current one, or the previous one during its
	// overlap. CurrentSerial is the grant's current serial as read when
	// the renewal was authorized.
	PresentedSerial string
	CurrentSerial   string
	// The new certificate.
	CertPEM         string
	CertSerial      string
	CertFingerprint string
	CertNotAfter    time.Time
	// OverlapUntil is how long the presented serial stays accepted, when
	// it was the current one. A renewal presented with the previous serial
	// does not extend its overlap.
	OverlapUntil time.Time
	At           time.Time
	Event        *AuditEvent
}

// OutboundRenewal is what RenewOutboundPeer stores.
type OutboundRenewal struct {
	PeerID    string
	OldSerial string
	// The renewed certificate, its chain and our new key, sealed.
	CertPEM         string
	CertChainPEM    string
	CertSerial      string
	CertFingerprint string
	CertNotAfter    time.Time
	SealedKey       []byte
	// NextAt is when the renewed certificate is due for renewal.
	NextAt time.Time
	At     time.Time
}

// RenewalFailure is what RecordRenewalFailure stores.
type RenewalFailure struct {
	PeerID string
	Serial string
	// Error is a short description of the failure, free of secrets.
	Error  string
	NextAt time.Time
	At     time.Time
}
