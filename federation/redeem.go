package federation

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/http"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// RedeemInput is one enrollment request as it arrived.
type RedeemInput struct {
	// Token is the raw path value; its shape is checked before anything
	// else touches it.
	Token string
	// CSRPEM is the peer's certificate signing request.
	CSRPEM string
	// Source is the client's address, RequestID the request's id; both go
	// to the audit trail.
	Source    string
	RequestID string
}

// Enrolled is the answer to a successful redeem: the issued client
// certificate, its chain (intermediates then root) and our CA root, the one
// the peer pinned.
type Enrolled struct {
	CertPEM      string
	CertChainPEM string
	CAPEM        string
}

// redeem carries one enrollment through its steps. ev is the audit event,
// filled in as the steps learn who the request is about.
type redeem struct {
	s       *Service
	in      RedeemInput
	ev      *mosaic.AuditEvent
	hash    string
	tok     *mosaic.EnrollmentToken
	grant   *mosaic.Grant
	peer    *mosaic.Peer
	csr     *x509.CertificateRequest
	keyHash string
	claim   string
	// replaces is the serial of the expired certificate a re-enrollment
	// replaces, empty for a pending grant.
	replaces string
}

// Redeem exchanges an enrollment token and a CSR for a client certificate,
// following DESIGN §3.3 step by step. Every failure is a *mosaic.Error
// (token_not_found 404; token_used, token_expired 410; grant_not_pending
// 409; CSR errors 400; ca_failed 502, ca_unavailable 503; an activation
// refused because the grant changed meanwhile 409) and writes a denied audit
// event; success writes the allowed one in the activating transaction. The
// same certificate sent again to a retry with the same key is audited
// first, and refused with 503 "audit_unavailable" if that write fails. A
// token of an active grant whose certificate has expired re-enrolls it:
// the new certificate, with the same identity, replaces the expired one.
func (s *Service) Redeem(ctx context.Context, in RedeemInput) (*Enrolled, error) {
	r := &redeem{s: s, in: in, ev: enrollEvent(ctx, in)}
	out, err := r.run(ctx)
	if err != nil {
		s.denyEnrollment(ctx, r.ev, err)
		return nil, err
	}
	return out, nil
}

// RecordDeniedEnrollment writes the denied audit event of an enrollment
// request that failed before it reached Redeem, such as one whose body was
// not acceptable, so that every attempt leaves a trace.
func (s *Service) RecordDeniedEnrollment(ctx context.Context, in RedeemInput, err error) {
	s.denyEnrollment(ctx, enrollEvent(ctx, in), err)
}

// enrollEvent starts the audit event of an enrollment attempt. The token
// appears only as a prefix of its hash, even when it is malformed.
func enrollEvent(ctx context.Context, in RedeemInput) *mosaic.AuditEvent {
	id := in.RequestID
	if id == "" {
		id = RequestID(ctx)
	}
	return &mosaic.AuditEvent{
		RequestID:       id,
		Verb:            mosaic.VerbEnroll,
		SourceAddr:      in.Source,
		TokenHashPrefix: mosaic.HashPrefix(mosaic.TokenSecret(in.Token).Hash()),
	}
}

// run performs the steps in order; the first failure ends it.
func (r *redeem) run(ctx context.Context) (*Enrolled, error) {
	if err := r.findToken(ctx); err != nil {
		return nil, err
	}
	if r.tok.UsedAt != nil {
		return r.retry(ctx)
	}
	if r.tok.Expired {
		return nil, mosaic.Errorf(mosaic.KindGone, "token_expired", "enrollment token expired")
	}
	if err := r.findGrant(ctx); err != nil {
		return nil, r.usedMeanwhile(ctx, err)
	}
	if err := r.parseCSR(); err != nil {
		return nil, err
	}

	// Claim the token: of concurrent redeems exactly one gets past here.
	r.claim = mosaic.NewID()
	if err := r.s.cfg.Store.ClaimToken(ctx, r.hash, r.claim, r.s.cfg.ClaimTimeout); err != nil {
		return nil, err
	}

	// Any failure from here on gives the claim back, so the token can be
	// retried before it expires.
	out, err := r.issue(ctx)
	if err != nil {
		r.release(ctx)
		return nil, err
	}
	return out, nil
}

// findToken checks the token's shape, then looks its hash up (step 1).
func (r *redeem) findToken(ctx context.Context) error {
	secret, err := mosaic.ParseTokenSecret(r.in.Token)
	if err != nil {
		return err
	}
	r.hash = secret.Hash()
	r.tok, err = r.s.cfg.Store.FindToken(ctx, r.hash)
	if mosaic.IsKind(err, mosaic.KindNotFound) {
		return mosaic.Errorf(mosaic.KindNotFound, "token_not_found", "enrollment token not found")
	}
	if err != nil {
		return err
	}
	r.ev.GrantID, r.ev.PeerID = r.tok.GrantID, r.tok.PeerID
	return nil
}

// usedMeanwhile answers a grant found not pending. A concurrent redeem may
// have used the token and activated the grant since the token was read;
// then the token's answer (410, or the same certificate for the same key)
// comes first, as it would have if the steps had run one after the other.
func (r *redeem) usedMeanwhile(ctx context.Context, err error) error {
	if !mosaic.IsKind(err, mosaic.KindConflict) {
		return err
	}
	tok, findErr := r.s.cfg.Store.FindToken(ctx, r.hash)
	if findErr != nil || tok.UsedAt == nil {
		return err
	}
	return mosaic.Errorf(mosaic.KindGone, "token_used", "enrollment token already used")
}

// findGrant loads the token's grant, which must still be pending, or
// active with an expired certificate that the token was issued to replace
// (a re-enrollment), and its peer (step 2).
func (r *redeem) findGrant(ctx context.Context) error {
	g, err := r.s.cfg.Store.FindGrant(ctx, r.tok.GrantID)
	if err != nil {
		return err
	}
	r.grant = g
	r.ev.SubjectUserID = g.UserID
	if r.replaces, err = r.s.enrollTarget(ctx, g); err != nil {
		return err
	}
	// A token re-enrolls only the certificate it was issued for: one of a
	// pending grant, or for a certificate replaced since, cannot.
	if r.replaces != r.tok.ReplacesSerial {
		return mosaic.Errorf(mosaic.KindConflict, "grant_not_pending",
			"grant is active and this token was not issued to replace its certificate")
	}
	r.peer, err = r.s.cfg.Store.FindPeer(ctx, r.tok.PeerID)
	return err
}

// parseCSR checks the CSR strictly and hashes its key (step 3).
func (r *redeem) parseCSR() error {
	csr, err := pki.ParseCSR(r.in.CSRPEM)
	if err != nil {
		return err
	}
	keyHash, err := pki.KeyHash(csr.PublicKey)
	if err != nil {
		return err
	}
	r.csr, r.keyHash = csr, keyHash
	return nil
}

// issue has the CA sign the certificate, verifies it and activates the
// grant with it (steps 5 to 8). The caller holds the claim.
func (r *redeem) issue(ctx context.Context) (*Enrolled, error) {
	id := mosaic.Identity{GrantID: r.grant.ID, SubjectUserID: r.grant.UserID}
	ic, err := r.s.cfg.CA.Sign(ctx, mosaic.SignRequest{
		CSR:        r.csr,
		CommonName: r.peer.CommonName,
		Identity:   id,
		Lifetime:   r.s.cfg.CertLifetime,
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
	r.ev.CertSerial = pki.SerialHex(ic.Cert)
	if err := pki.VerifyIssued(ic, r.csr, id, r.s.now()); err != nil {
		return nil, err
	}
	out := &Enrolled{
		CertPEM:      pki.EncodeCerts(ic.Cert),
		CertChainPEM: chainPEM(ic),
		CAPEM:        r.s.cfg.CAPEM,
	}
	if err := r.activate(ctx, ic.Cert, out.CertPEM); err != nil {
		return nil, err
	}
	return out, nil
}

// activate moves grant and peer to active with the certificate, marks the
// token used and writes the allowed audit event, all in one transaction
// (step 7). A grant revoked meanwhile makes it KindConflict.
func (r *redeem) activate(ctx context.Context, cert *x509.Certificate, certPEM string) error {
	now := r.s.now()
	ev := *r.ev
	ev.Time, ev.Status, ev.Outcome = now, http.StatusOK, mosaic.OutcomeAllowed
	err := r.s.cfg.Store.ActivateGrant(ctx, mosaic.Activation{
		GrantID:         r.grant.ID,
		PeerID:          r.peer.ID,
		TokenHash:       r.hash,
		ClaimID:         r.claim,
		CertPEM:         certPEM,
		CertSerial:      pki.SerialHex(cert),
		CertFingerprint: pki.Fingerprint(cert),
		CertNotAfter:    cert.NotAfter.UTC(),
		KeyHash:         r.keyHash,
		At:              now,
		Event:           &ev,
		ReplacesSerial:  r.replaces,
	})
	if err != nil {
		return err
	}
	r.s.log.InfoContext(ctx, "peer enrolled",
		slog.String(logRequestID, r.ev.RequestID),
		slog.String(logGrantID, r.grant.ID),
		slog.String(logPeerID, r.peer.ID),
		slog.String(logSerial, pki.SerialHex(cert)),
		slog.String("replaced_serial", r.replaces),
		slog.Time("not_after", cert.NotAfter.UTC()))
	return nil
}

// release gives the claim back. It runs even when the request was
// cancelled, since a claim left behind blocks the token until it goes
// stale.
func (r *redeem) release(ctx context.Context) {
	err := r.s.cfg.Store.ReleaseClaim(context.WithoutCancel(ctx), r.hash, r.claim)
	if err != nil {
		r.s.log.ErrorContext(ctx, "releasing token claim failed",
			slog.String(logRequestID, r.ev.RequestID),
			slog.String(logTokenHash, mosaic.HashPrefix(r.hash)),
			slog.Any(logError, err))
	}
}

// caError gives a CA failure its client-facing kind and code: 503 when the
// CA is temporarily unavailable, else 502.
func caError(err error) error {
	if mosaic.IsKind(err, mosaic.KindUnavailable) {
		return mosaic.WrapError(mosaic.KindUnavailable, "ca_unavailable",
			"certificate authority unavailable, try again", err)
	}
	return mosaic.WrapError(mosaic.KindUpstream, "ca_failed",
		"certificate authority failed to issue the certificate", err)
}

// denyEnrollment writes the denied audit event of a failed enrollment and
// logs it.
func (s *Service) denyEnrollment(ctx context.Context, ev *mosaic.AuditEvent, err error) {
	ev.Status, ev.Outcome, ev.Reason = StatusOf(err), mosaic.OutcomeDenied, mosaic.ErrorCode(err)
	_ = s.audit(ctx, ev) // a failure is logged; the refusal stands
	level := slog.LevelInfo
	if ev.Status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	s.log.Log(ctx, level, "enrollment denied",
		slog.String(logRequestID, ev.RequestID),
		slog.String(logReason, ev.Reason),
		slog.String(logTokenHash, ev.TokenHashPrefix),
		slog.String(logGrantID, ev.GrantID),
		slog.String(logSerial, ev.CertSerial),
		slog.Any(logError, err))
}

// chainPEM returns the chain of an issued certificate: its intermediates,
// then its roots.
func chainPEM(ic *mosaic.IssuedCert) string {
	chain := make([]*x509.Certificate, 0, len(ic.Intermediates)+len(ic.Roots))
	chain = append(chain, ic.Intermediates...)
	return pki.EncodeCerts(append(chain, ic.Roots...)...)
}
