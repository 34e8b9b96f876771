package federation

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/http"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// RenewPath is the federation API path of a certificate renewal.
const RenewPath = "/api/federation/v1/renew"

// DefaultRenewOverlap is how long the certificate a renewal replaced is
// still accepted when Config.RenewOverlap is zero. It is longer than a
// renewal can take on the peer's side (see renewLease), so that a peer whose
// renewal answer was lost can still renew with its old certificate.
const DefaultRenewOverlap = 10 * time.Minute

// RenewInput is one renewal request as it arrived over mutual TLS.
type RenewInput struct {
	// Certs are the certificates the client presented on this request's
	// connection, leaf first, unverified (see FederatedRequest.Certs).
	Certs []*x509.Certificate
	// CSRPEM is the request for the new certificate, for a new key.
	CSRPEM string
	// Source is the client's address, RequestID the request's id.
	Source    string
	RequestID string
}

// Renew gives a peer a new certificate for the grant its current one
// speaks for, with a fresh key (DESIGN §3.5). The request is authenticated
// exactly like a federated read: the presented certificate must verify,
// its grant be active and unexpired, its peer active, and its serial one
// the grant accepts (the current one, or the one the last renewal replaced
// while the overlap lasts). The CSR passes the enrollment checks and must
// be for another key than the presented certificate's (400
// "renewal_key_reused"). The CA signs a certificate with the same identity
// and common name; it is verified like an enrolled one, then becomes the
// grant's current certificate while the presented one stays accepted for
// Config.RenewOverlap. A renewal that lost a race with another one is 409.
// Every attempt writes one audit event (verb renew); the allowed one, with
// the new serial, is written with the change.
func (s *Service) Renew(ctx context.Context, in RenewInput) (*Enrolled, error) {
	ev := renewEvent(ctx, in)
	out, err := s.renew(ctx, in, ev)
	if err != nil {
		s.denyRenewal(ctx, ev, err)
		return nil, err
	}
	return out, nil
}

// RecordDeniedRenewal writes the denied audit event of a renewal request
// that failed before it reached Renew, such as one whose body was not
// acceptable.
func (s *Service) RecordDeniedRenewal(ctx context.Context, in RenewInput, err error) {
	ev := renewEvent(ctx, in)
	ev.CertSerial = presentedSerial(in.Certs)
	s.denyRenewal(ctx, ev, err)
}

// renewEvent starts the audit event of a renewal.
func renewEvent(ctx context.Context, in RenewInput) *mosaic.AuditEvent {
	id := in.RequestID
	if id == "" {
		id = RequestID(ctx)
	}
	return &mosaic.AuditEvent{RequestID: id, Verb: mosaic.VerbRenew, SourceAddr: in.Source}
}

// renew runs the steps of Renew.
func (s *Service) renew(ctx context.Context, in RenewInput, ev *mosaic.AuditEvent) (*Enrolled,
	error) {
	who, err := s.authenticate(ctx, in.Certs, ev)
	if err != nil {
		return nil, err
	}
	csr, err := renewalCSR(in.CSRPEM, who.leaf)
	if err != nil {
		return nil, err
	}

	id := mosaic.Identity{GrantID: who.grant.ID, SubjectUserID: who.grant.UserID}
	ic, err := s.cfg.CA.Sign(ctx, mosaic.SignRequest{
		CSR:        csr,
		CommonName: who.peerCN,
		Identity:   id,
		Lifetime:   s.cfg.CertLifetime,
	})
	if err != nil {
		return nil, caError(err)
	}
	if ic == nil || ic.Cert == nil {
		return nil, mosaic.Errorf(mosaic.KindUpstream, "ca_failed",
			"certificate authority returned no certificate")
	}

	// From here a certificate exists: if it is not delivered, its serial
	// stays in the audit trail.
	ev.CertSerial = pki.SerialHex(ic.Cert)
	if err := pki.VerifyIssued(ic, csr, id, s.now()); err != nil {
		return nil, err
	}
	out := &Enrolled{
		CertPEM:      pki.EncodeCerts(ic.Cert),
		CertChainPEM: chainPEM(ic),
		CAPEM:        s.cfg.CAPEM,
	}
	if err := s.replaceCert(ctx, who, ic.Cert, out.CertPEM, ev); err != nil {
		return nil, err
	}
	return out, nil
}

// renewalCSR checks the CSR of a renewal like an enrollment's, and that it
// is for a fresh key, not the presented certificate's.
func renewalCSR(csrPEM string, leaf *x509.Certificate) (*x509.CertificateRequest, error) {
	csr, err := pki.ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	newKey, err := pki.KeyHash(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	oldKey, err := pki.KeyHash(leaf.PublicKey)
	if err != nil {
		return nil, err
	}
	if newKey == oldKey {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "renewal_key_reused",
			"csrPem: a renewal needs a new key pair, not the current certificate's")
	}
	return csr, nil
}

// replaceCert makes cert the grant's current certificate, keeping the
// presented one accepted for the overlap, and writes the allowed audit
// event in the same transaction.
func (s *Service) replaceCert(ctx context.Context, who *authenticated, cert *x509.Certificate,
	certPEM string, ev *mosaic.AuditEvent) error {
	now := s.now()
	allowed := *ev
	allowed.Time, allowed.Status, allowed.Outcome = now, http.StatusOK, mosaic.OutcomeAllowed
	err := s.cfg.Store.RenewGrantCert(ctx, mosaic.GrantRenewal{
		GrantID:         who.grant.ID,
		PeerID:          who.grant.PeerID,
		PresentedSerial: who.serial,
		CurrentSerial:   who.cert.Serial,
		CertPEM:         certPEM,
		CertSerial:      pki.SerialHex(cert),
		CertFingerprint: pki.Fingerprint(cert),
		CertNotAfter:    cert.NotAfter.UTC(),
		OverlapUntil:    now.Add(s.cfg.RenewOverlap),
		At:              now,
		Event:           &allowed,
	})
	if err != nil {
		return lostToRevocation(err)
	}
	s.log.InfoContext(ctx, "peer certificate renewed",
		slog.String(logRequestID, ev.RequestID),
		slog.String(logGrantID, who.grant.ID),
		slog.String(logPeerID, who.grant.PeerID),
		slog.String(logSerial, pki.SerialHex(cert)),
		slog.String("replaced_serial", who.serial),
		slog.Time("not_after", cert.NotAfter.UTC()),
		slog.Time("replaced_accepted_until", now.Add(s.cfg.RenewOverlap)))
	return nil
}

// lostToRevocation gives a renewal that the store refused because the
// grant or its peer stopped being active meanwhile (a revocation, a
// removal or the grant's expiry between the checks and the change) the
// 403 that the very next request gets, so that the peer knows at once
// that retrying will not help. Other errors pass through.
func lostToRevocation(err error) error {
	if !mosaic.IsKind(err, mosaic.KindConflict) {
		return err
	}
	switch code := mosaic.ErrorCode(err); code {
	case "grant_not_active", "grant_expired", "peer_not_active":
		return mosaic.WrapError(mosaic.KindForbidden, code, mosaic.ErrorMessage(err), err)
	}
	return err
}

// denyRenewal writes the denied audit event of a failed renewal and logs
// it.
func (s *Service) denyRenewal(ctx context.Context, ev *mosaic.AuditEvent, err error) {
	ev.Status, ev.Outcome, ev.Reason = StatusOf(err), mosaic.OutcomeDenied, mosaic.ErrorCode(err)
	_ = s.audit(ctx, ev) // a failure is logged; the refusal stands
	level := slog.LevelInfo
	if ev.Status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	s.log.Log(ctx, level, "certificate renewal denied",
		slog.String(logRequestID, ev.RequestID),
		slog.String(logReason, ev.Reason),
		slog.String(logGrantID, ev.GrantID),
		slog.String(logSerial, ev.CertSerial),
		slog.Any(logError, err))
}
