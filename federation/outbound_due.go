package federation

import (
	"context"
	"log/slog"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// RenewSummary says what one pass of RenewDue did.
type RenewSummary struct {
	// Renewed and Failed count the peers renewed and those whose renewal
	// failed; Skipped those another request was renewing.
	Renewed, Failed, Skipped int
}

// RenewDue renews, one after the other, our certificate from every active
// outbound peer whose renewal is due (see RenewalDueAt) and that has not
// expired, and logs what it did. Failures are recorded on each peer and
// logged; the error is for a pass that could not list the peers.
//
// TODO(renewal-concurrency): peers are renewed one at a time, so an
// unreachable peer delays the others of the pass by up to the renewal's
// deadline; a bounded pool would keep one slow peer from holding up many.
func (s *Service) RenewDue(ctx context.Context) (RenewSummary, error) {
	var sum RenewSummary
	peers, err := s.cfg.Store.ListPeers(ctx, mosaic.PeerFilter{
		Role: mosaic.PeerOutbound, State: mosaic.PeerActive,
	})
	if err != nil {
		return sum, err
	}
	for _, p := range peers {
		if ctx.Err() != nil {
			break
		}
		st := RenewalState(p, s.now())
		if (st != mosaic.RenewalDue && st != mosaic.RenewalFailing) || !s.due(p) {
			continue
		}
		_, err := s.RenewOutbound(ctx, p.ID)
		switch {
		case err == nil:
			sum.Renewed++
		case mosaic.ErrorCode(err) == "renewal_in_progress":
			sum.Skipped++
		default:
			sum.Failed++
		}
	}
	if sum != (RenewSummary{}) {
		s.log.InfoContext(ctx, "renewal pass",
			slog.Int("renewed", sum.Renewed), slog.Int("failed", sum.Failed),
			slog.Int("skipped", sum.Skipped))
	}
	return sum, nil
}

// due reports whether p's next renewal attempt has come.
func (s *Service) due(p *mosaic.Peer) bool {
	return !s.now().Before(RenewalDueAt(p))
}

// RenewalDueAt returns when the next renewal of an outbound peer's
// certificate is due: the time stored with the certificate or after the
// last failure, or, for a certificate stored before renewals were
// scheduled, two thirds of the way from its notBefore to its notAfter. A
// certificate that does not parse is due at once.
func RenewalDueAt(p *mosaic.Peer) time.Time {
	if p.RenewNextAt != nil {
		return *p.RenewNextAt
	}
	certs, err := pki.ParseCerts(p.CertPEM)
	if err != nil || len(certs) == 0 {
		return time.Time{}
	}
	return renewAt(certs[0], certs[0].NotBefore)
}

// RenewalState returns the renewal state of an active outbound peer at now
// (mosaic.RenewalOK, RenewalDue, RenewalFailing or RenewalExpired), or ""
// for any other peer.
func RenewalState(p *mosaic.Peer, now time.Time) string {
	if p.Role != mosaic.PeerOutbound || p.State != mosaic.PeerActive || p.CertNotAfter == nil {
		return ""
	}
	switch {
	case !now.Before(*p.CertNotAfter):
		return mosaic.RenewalExpired
	case p.RenewFailures > 0:
		return mosaic.RenewalFailing
	case !now.Before(RenewalDueAt(p)):
		return mosaic.RenewalDue
	}
	return mosaic.RenewalOK
}

// withRenewal sets the renewal state of each peer, as of now.
func (s *Service) withRenewal(peers ...*mosaic.Peer) {
	now := s.now()
	for _, p := range peers {
		p.Renewal = RenewalState(p, now)
	}
}
