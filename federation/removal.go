package federation

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/mosaicgw/mosaic"
)

// RemovePeer ends a peer for good and audits it. On the grantor's side (an
// inbound peer) every pending or active grant of the peer is revoked with
// the reason, each audited like a revocation, so the peer's very next
// read with any of its certificates is refused and its unused tokens can
// no longer be redeemed. On the reader's side (an outbound peer) our
// sealed key and the certificates it issued us are wiped, so nothing can
// be sent to it any more; the other gateway is not told. Both happen in
// one transaction with the peer moving to revoked. An empty reason means
// mosaic.DefaultRemovalReason. A malformed or unknown id is KindNotFound;
// a peer already removed is KindConflict "peer_removed" and nothing
// changes.
//
// A removed inbound peer can be given a new grant later (CreateGrant with
// its id), which makes it pending again, ready to enroll.
func (s *Service) RemovePeer(ctx context.Context, peerID,
	reason string) (*mosaic.PeerRemoved, error) {
	if err := validatePathID("peer", peerID); err != nil {
		return nil, err
	}
	if err := mosaic.ValidateRevokeReason(reason); err != nil {
		return nil, err
	}
	if reason == "" {
		reason = mosaic.DefaultRemovalReason
	}
	now := s.now()
	ev := &mosaic.AuditEvent{
		Time:      now,
		RequestID: RequestID(ctx),
		PeerID:    peerID,
		Verb:      mosaic.VerbRemovePeer,
		Status:    http.StatusOK,
		Outcome:   mosaic.OutcomeAllowed,
		Reason:    reason,
	}
	out, err := s.cfg.Store.RemovePeer(ctx, mosaic.PeerRemoval{
		PeerID: peerID, Reason: reason, At: now, Event: ev,
	})
	if err != nil {
		return nil, err
	}

	ids := make([]string, len(out.Revoked))
	for i, g := range out.Revoked {
		ids[i] = g.ID
	}
	s.log.InfoContext(ctx, "peer removed",
		slog.String(logRequestID, RequestID(ctx)),
		slog.String(logPeerID, peerID),
		slog.String("role", string(out.Peer.Role)),
		slog.Any("revoked_grants", ids))
	return out, nil
}
