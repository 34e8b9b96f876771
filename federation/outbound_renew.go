package federation

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/remote"
)

// Timing of the renewal of our certificates from outbound peers.
const (
	// RenewRetryMin is the wait after a first failed renewal; each further
	// failure doubles it, up to RenewRetryMax. A refusal that retrying
	// will not cure (a revoked grant, a certificate the peer no longer
	// accepts) waits RenewRetryMax at once. Whatever the rule, the next
	// attempt comes no later than a third of the time the certificate
	// has left, and no sooner than renewRetryFloor.
	RenewRetryMin = time.Minute
	RenewRetryMax = time.Hour
	// renewRetryFloor is the shortest wait between attempts.
	renewRetryFloor = time.Second
	// renewLease is how long one replica holds a peer's renewal; every
	// renewal ends, in success or failure, within renewCallTimeout, well
	// before the lease does. DefaultRenewOverlap is longer than the lease,
	// so a replica that takes over a renewal whose answer was lost can
	// still authenticate with the old certificate.
	renewLease       = 3 * time.Minute
	renewCallTimeout = 2 * time.Minute
	// renewRecordTimeout bounds the write of a failure after the renewal's
	// own deadline has passed.
	renewRecordTimeout = 10 * time.Second
	// maxRenewError bounds the error text kept on the peer.
	maxRenewError = 200
)

// RenewOutbound renews our certificate from an active outbound peer now,
// whether or not it is due: a fresh P-256 key and CSR, POST
// /api/federation/v1/renew over mutual TLS with the current certificate,
// the answer checked like an enrollment's (our new key, a chain to the
// pinned CA, and the identity of the certificate it replaces), then the
// certificate, its chain and the sealed key stored together, only if the
// peer's certificate is still the one renewed. It returns the peer as
// stored.
//
// A peer that is not an active outbound peer is KindConflict
// "peer_not_active", one we removed, before or during the renewal,
// KindConflict "peer_removed" (nothing is written back into it); one whose
// certificate has expired KindConflict
// "certificate_expired" (it cannot renew; enroll again with a new token);
// one being renewed by another request KindConflict "renewal_in_progress".
// Any other failure is recorded on the peer with its next attempt time
// (see RenewRetryMin) and returned: the remote gateway's refusal as
// KindUpstream "renewal_refused" naming its code and message,
// KindUpstream "peer_unreachable" when it did not answer.
func (s *Service) RenewOutbound(ctx context.Context, peerID string) (*mosaic.Peer, error) {
	p, err := s.FindPeer(ctx, peerID)
	if err != nil {
		return nil, err
	}
	if p.Role == mosaic.PeerOutbound && p.State == mosaic.PeerRevoked {
		return nil, errRenewRemoved()
	}
	if p.Role != mosaic.PeerOutbound || p.State != mosaic.PeerActive || p.CertNotAfter == nil {
		return nil, mosaic.Errorf(mosaic.KindConflict, "peer_not_active",
			"peer is not an active outbound peer")
	}
	if !s.now().Before(*p.CertNotAfter) {
		return nil, mosaic.Errorf(mosaic.KindConflict, "certificate_expired",
			"our certificate from this peer expired at %s and cannot be renewed; "+
				"enroll again with a new enrollment URL",
			p.CertNotAfter.UTC().Format(time.RFC3339))
	}
	err = s.cfg.Store.LeaseRenewal(ctx, p.ID, p.CertSerial, p.RenewFailures, renewLease)
	if err != nil {
		return nil, err
	}

	callCtx, cancel := context.WithTimeout(ctx, renewCallTimeout)
	defer cancel()
	if err := s.renewOutbound(callCtx, p); err != nil {
		// A caller that gave up (a gateway shutting down) leaves no
		// failure behind; its lease runs out on its own. Neither does a
		// peer removed meanwhile: the removal wiped it for good.
		switch {
		case mosaic.ErrorCode(err) == "peer_removed":
			s.log.InfoContext(ctx, "outbound certificate renewal dropped: peer removed meanwhile",
				slog.String(logRequestID, RequestID(ctx)),
				slog.String(logPeerID, p.ID),
				slog.String(logSerial, p.CertSerial))
			return nil, errRenewRemoved()
		case ctx.Err() == nil:
			s.renewalFailed(ctx, p, err)
		}
		return nil, err
	}
	return s.FindPeer(ctx, p.ID)
}

// errRenewRemoved is the refusal to renew our certificate from a peer we
// removed.
func errRenewRemoved() error {
	return mosaic.Errorf(mosaic.KindConflict, "peer_removed",
		"peer was removed: its key and certificate are gone; enroll again with a new "+
			"enrollment URL")
}

// renewOutbound runs the steps of RenewOutbound once the lease is held.
func (s *Service) renewOutbound(ctx context.Context, p *mosaic.Peer) error {
	creds, err := s.credentials(p)
	if err != nil {
		return err
	}
	old, err := pki.ParseCerts(p.CertPEM)
	if err != nil {
		return storedError(p, "certificate", err)
	}
	oldID, err := pki.ParseIdentity(old[0])
	if err != nil {
		return storedError(p, "certificate identity", err)
	}

	key, err := pki.GenerateKey()
	if err != nil {
		return err
	}
	csrPEM, err := pki.NewCSR(key, p.CommonName)
	if err != nil {
		return err
	}
	res, err := remote.Renew(ctx, *creds, csrPEM)
	if err != nil {
		return refusal(err)
	}
	leaf, id, err := s.checkRenewed(p, res, key)
	if err != nil {
		return err
	}
	if id != oldID {
		return mosaic.Errorf(mosaic.KindUpstream, "renewal_identity_changed",
			"the renewed certificate speaks for another grant or user than ours")
	}
	return s.storeRenewed(ctx, p, leaf, res.CertChainPEM, key)
}

// checkRenewed checks a renewal answer like an enrollment answer, for the
// new key, and returns the certificate and the identity it carries. A
// certificate that fails a check is KindUpstream "renewal_cert_invalid":
// the remote gateway, not our caller, sent it.
func (s *Service) checkRenewed(p *mosaic.Peer, res *remote.EnrollResult,
	key *ecdsa.PrivateKey) (*x509.Certificate, mosaic.Identity, error) {
	leaf, _, id, err := s.verifyOutboundCert(p, res.CertPEM, res.CertChainPEM, res.CAPEM,
		key.Public())
	if err != nil {
		return nil, id, mosaic.WrapError(mosaic.KindUpstream, "renewal_cert_invalid",
			"the renewed certificate is not acceptable: "+mosaic.ErrorMessage(err), err)
	}
	return leaf, id, nil
}

// storeRenewed seals the new key to the peer and stores it with the new
// certificate and its chain, in place of the old ones.
func (s *Service) storeRenewed(ctx context.Context, p *mosaic.Peer, leaf *x509.Certificate,
	chainPEM string, key *ecdsa.PrivateKey) error {
	der, err := pki.EncodePrivateKey(key)
	if err != nil {
		return err
	}
	sealed, err := s.cfg.Sealer.Seal(der, peerKeyAAD(p.ID))
	clear(der)
	if err != nil {
		return err
	}
	now := s.now()
	next := renewAt(leaf, now)
	err = s.cfg.Store.RenewOutboundPeer(ctx, mosaic.OutboundRenewal{
		PeerID:          p.ID,
		OldSerial:       p.CertSerial,
		CertPEM:         pki.EncodeCerts(leaf),
		CertChainPEM:    chainPEM,
		CertSerial:      pki.SerialHex(leaf),
		CertFingerprint: pki.Fingerprint(leaf),
		CertNotAfter:    leaf.NotAfter.UTC(),
		SealedKey:       sealed,
		NextAt:          next,
		At:              now,
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "outbound certificate renewed",
		slog.String(logRequestID, RequestID(ctx)),
		slog.String(logPeerID, p.ID),
		slog.String(logSerial, pki.SerialHex(leaf)),
		slog.String("replaced_serial", p.CertSerial),
		slog.Time("not_after", leaf.NotAfter.UTC()),
		slog.Time("next_renewal", next))
	return nil
}

// renewalFailed records a failed renewal on the peer, with the time of the
// next attempt, and logs it. The record outlives the renewal's deadline.
func (s *Service) renewalFailed(ctx context.Context, p *mosaic.Peer, cause error) {
	now := s.now()
	failures := p.RenewFailures + 1
	final := hopeless(cause)
	next := now.Add(retryDelay(failures, p.CertNotAfter.Sub(now), final))
	text := renewErrorText(cause)

	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), renewRecordTimeout)
	defer cancel()
	err := s.cfg.Store.RecordRenewalFailure(recCtx, mosaic.RenewalFailure{
		PeerID: p.ID, Serial: p.CertSerial, Error: text, NextAt: next, At: now,
	})
	level := slog.LevelWarn
	if final || err != nil {
		level = slog.LevelError
	}
	s.log.Log(ctx, level, "outbound certificate renewal failed",
		slog.String(logRequestID, RequestID(ctx)),
		slog.String(logPeerID, p.ID),
		slog.String(logSerial, p.CertSerial),
		slog.Int("failures", failures),
		slog.String("code", mosaic.ErrorCode(cause)),
		slog.Time("next_attempt", next),
		slog.Time("not_after", p.CertNotAfter.UTC()),
		slog.Any(logError, cause),
		slog.Any("record_error", err))
}

// refusal turns the remote gateway's error answer to a renewal into
// KindUpstream "renewal_refused", whose message quotes the remote code and
// message: to our caller it is a dependency that said no, not a mistake of
// theirs. Failures to get an answer pass through as they are.
func refusal(err error) error {
	if mosaic.ErrorKind(err) == mosaic.KindUpstream {
		return err
	}
	return mosaic.WrapError(mosaic.KindUpstream, "renewal_refused",
		"the remote gateway refused the renewal ("+mosaic.ErrorCode(err)+"): "+
			mosaic.ErrorMessage(err), err)
}

// hopeless reports whether a renewal failed in a way that retrying soon
// will not cure: the remote gateway refused us for good (a revoked or
// expired grant, a certificate it no longer accepts), or answered with a
// certificate we cannot accept.
func hopeless(err error) bool {
	var e *mosaic.Error
	if errors.As(err, &e) && e.Code == "renewal_refused" {
		err = e.Err
	}
	switch mosaic.ErrorKind(err) {
	case mosaic.KindForbidden, mosaic.KindUnauthorized, mosaic.KindNotFound,
		mosaic.KindGone, mosaic.KindInvalid:
		return true
	}
	code := mosaic.ErrorCode(err)
	return code == "renewal_cert_invalid" || code == "renewal_identity_changed"
}

// retryDelay returns the wait before the next attempt after the given
// number of consecutive failures, with left the time the certificate has
// before it expires: RenewRetryMin doubled per failure up to RenewRetryMax
// (at once when final), but no more than a third of left and no less than
// renewRetryFloor.
func retryDelay(failures int, left time.Duration, final bool) time.Duration {
	d := RenewRetryMax
	if !final && failures <= 10 {
		d = min(RenewRetryMin<<max(failures-1, 0), RenewRetryMax)
	}
	if !final && d > left/3 {
		d = left / 3
	}
	return max(d, renewRetryFloor)
}

// renewErrorText is the text kept on a peer for a failed renewal: the
// error's code and client-safe message, on one line, bounded. Internal
// errors show as "internal error" only; their detail goes to the log.
func renewErrorText(err error) string {
	text := mosaic.ErrorCode(err) + ": " + mosaic.ErrorMessage(err)
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > maxRenewError {
		text = string(r[:maxRenewError-1]) + "…"
	}
	return text
}

// renewAt returns when a certificate received at received is due for
// renewal: two thirds of the way from when it became usable to its end.
// It counts from when we received it rather than from its notBefore, which
// the issuer backdates for clock skew.
func renewAt(cert *x509.Certificate, received time.Time) time.Time {
	start := received
	if cert.NotBefore.After(start) {
		start = cert.NotBefore
	}
	if !cert.NotAfter.After(start) {
		return start
	}
	return start.Add(cert.NotAfter.Sub(start) * 2 / 3).UTC()
}
