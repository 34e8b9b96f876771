package federation

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// intermediateCA is a CA that can name the intermediates its certificates
// are signed by without issuing one, as the embedded CA can: every one it
// keeps, the one it signs with now and those it signed with before a
// rotation.
//
// TODO(retry-chain): a CA without this method (an external one) has its
// intermediates only in the answer to Sign, which is not stored, so a
// retried redeem under such a CA verifies only certificates signed by a
// root directly. Storing the issued chain with the activation would lift
// this.
type intermediateCA interface {
	Intermediates() []*x509.Certificate
}

// retry answers a redeem of a token that is already used. The redeem that
// used it may have succeeded while its answer was lost: when the CSR proves
// possession of the very key the certificate was issued for, and that
// certificate is still the grant's and the peer's current one, the same
// certificate is sent again. Anything else, a different key above all, is
// 410 "token_used". A retry is allowed after the token's expiry too: it
// proves possession of the key and yields nothing new.
func (r *redeem) retry(ctx context.Context) (*Enrolled, error) {
	used := mosaic.Errorf(mosaic.KindGone, "token_used", "enrollment token already used")
	if r.tok.IssuedKeyHash == "" || r.tok.IssuedSerial == "" {
		return nil, used
	}
	if err := r.parseCSR(); err != nil || r.keyHash != r.tok.IssuedKeyHash {
		return nil, used
	}
	peer, err := r.currentIssue(ctx)
	if err != nil || peer == nil {
		return nil, firstErr(err, used)
	}

	// The stored certificate is ours, but it is checked like a fresh one
	// before it is sent again.
	out, err := r.s.reissue(ctx, peer.CertPEM, r.tok.IssuedSerial)
	if err != nil {
		return nil, err
	}
	ev := *r.ev
	ev.Time, ev.Status, ev.Outcome = r.s.now(), http.StatusOK, mosaic.OutcomeAllowed
	ev.Reason, ev.CertSerial = "retry_same_key", r.tok.IssuedSerial
	if err := r.s.auditAllowed(ctx, &ev); err != nil {
		return nil, err
	}
	return out, nil
}

// currentIssue returns the token's peer if the certificate the token
// produced is still the current one of both the grant (which must be
// active) and the peer; otherwise nil.
func (r *redeem) currentIssue(ctx context.Context) (*mosaic.Peer, error) {
	g, err := r.s.cfg.Store.FindGrant(ctx, r.tok.GrantID)
	if err != nil {
		return nil, err
	}
	r.ev.SubjectUserID = g.UserID
	if g.Status != mosaic.GrantActive {
		return nil, nil
	}
	serial, err := r.s.cfg.Store.GrantCertSerial(ctx, g.ID)
	if err != nil || serial != r.tok.IssuedSerial {
		return nil, err
	}
	p, err := r.s.cfg.Store.FindPeer(ctx, r.tok.PeerID)
	if err != nil || p.State != mosaic.PeerActive || p.CertSerial != r.tok.IssuedSerial {
		return nil, err
	}
	return p, nil
}

// reissue builds the answer for a stored certificate: the certificate, the
// chain it verifies through to our client roots, and our CA.
func (s *Service) reissue(ctx context.Context, certPEM, serial string) (*Enrolled, error) {
	certs, err := pki.ParseCerts(certPEM)
	if err != nil || len(certs) != 1 || pki.SerialHex(certs[0]) != serial {
		return nil, fmt.Errorf("federation: stored certificate of serial %s is unusable: %v", serial, err)
	}
	roots, err := s.cfg.CA.ClientRoots(ctx)
	if err != nil {
		return nil, caError(err)
	}
	var inters []*x509.Certificate
	if ica, ok := s.cfg.CA.(intermediateCA); ok {
		inters = ica.Intermediates()
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         pki.NewPool(roots...),
		Intermediates: pki.NewPool(inters...),
		CurrentTime:   s.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindGone, "token_used",
			"enrollment token already used; its certificate can no longer be sent", err)
	}
	return &Enrolled{
		CertPEM:      pki.EncodeCerts(certs[0]),
		CertChainPEM: pki.EncodeCerts(chains[0][1:]...),
		CAPEM:        s.cfg.CAPEM,
	}, nil
}

// firstErr returns err if it is set, else fallback.
func firstErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}
