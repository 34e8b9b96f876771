package federation

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/mosaicgw/mosaic"
)

// GrantInput is what an admin gives to create a grant. Exactly one of
// PeerID (an existing inbound peer) and PeerName (the display name of a new
// pending inbound peer, created with the grant) is set.
type GrantInput struct {
	UserID    string
	PeerID    string
	PeerName  string
	Scope     mosaic.Scope
	ExpiresAt *time.Time // nil: the grant does not expire
}

// CreateGrant validates in and stores a pending grant, with its new inbound
// peer when in.PeerName is set. The peer's common name is chosen here, never
// by the peer.
func (s *Service) CreateGrant(ctx context.Context, in GrantInput) (*mosaic.Grant, error) {
	if err := s.validateGrantInput(in); err != nil {
		return nil, err
	}
	now := s.now()
	g := &mosaic.Grant{
		ID:        mosaic.NewID(),
		UserID:    in.UserID,
		PeerID:    in.PeerID,
		Scope:     in.Scope,
		Status:    mosaic.GrantPending,
		CreatedAt: now,
		UpdatedAt: now,
		ExpiresAt: utcPtr(in.ExpiresAt),
	}

	// A named peer is new: it is created in the grant's transaction.
	var peer *mosaic.Peer
	if in.PeerName != "" {
		peer = newInboundPeer(in.PeerName, now)
		g.PeerID = peer.ID
	} else if err := s.checkInboundPeer(ctx, in.PeerID); err != nil {
		return nil, err
	}

	if err := s.cfg.Store.CreateGrant(ctx, g, peer); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "grant created", grantLog(ctx, g)...)
	return g, nil
}

// validateGrantInput checks every field of a grant request.
func (s *Service) validateGrantInput(in GrantInput) error {
	if err := mosaic.ValidateID("userId", in.UserID); err != nil {
		return err
	}
	switch {
	case in.PeerID != "" && in.PeerName != "":
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_peer",
			"peerId, peerName: give exactly one, not both")
	case in.PeerID != "":
		if err := mosaic.ValidateID("peerId", in.PeerID); err != nil {
			return err
		}
	case in.PeerName != "":
		if err := mosaic.ValidatePeerName("peerName", in.PeerName); err != nil {
			return err
		}
	default:
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_peer",
			"peerId, peerName: one of them is required")
	}
	if err := in.Scope.Validate(); err != nil {
		return err
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.now()) {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_expiresAt",
			"expiresAt: must be in the future")
	}
	return nil
}

// checkInboundPeer makes sure an existing peer can receive a grant: it is
// an inbound peer. Each of a peer's grants gets its own certificate, and
// each stays usable under its own grant. A removed (revoked) peer may get
// a new grant: the store makes it pending again in the grant's
// transaction, and it enrolls with the grant's token like a new peer.
func (s *Service) checkInboundPeer(ctx context.Context, id string) error {
	p, err := s.cfg.Store.FindPeer(ctx, id)
	if err != nil {
		return err
	}
	if p.Role != mosaic.PeerInbound {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_peer",
			"peerId: not an inbound peer (it is a gateway we read from)")
	}
	if p.State == mosaic.PeerRevoked {
		s.log.InfoContext(ctx, "removed peer gets a new grant and becomes pending again",
			slog.String(logRequestID, RequestID(ctx)), slog.String(logPeerID, p.ID))
	}
	return nil
}

// newInboundPeer returns a pending inbound peer with the display name an
// admin gave and a common name of our choosing.
func newInboundPeer(displayName string, now time.Time) *mosaic.Peer {
	id := mosaic.NewID()
	return &mosaic.Peer{
		ID:          id,
		Role:        mosaic.PeerInbound,
		CommonName:  "peer-" + id,
		DisplayName: displayName,
		State:       mosaic.PeerPending,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

// FindGrant returns one grant, with the status it has now (see
// effectiveStatus).
func (s *Service) FindGrant(ctx context.Context, id string) (*mosaic.Grant, error) {
	if err := validatePathID("grant", id); err != nil {
		return nil, err
	}
	g, err := s.cfg.Store.FindGrant(ctx, id)
	if err != nil {
		return nil, err
	}
	g.Status = s.effectiveStatus(g)
	return g, nil
}

// ListGrants returns the grants matching f, each with the status it has now
// (see effectiveStatus); a status filter matches that status.
func (s *Service) ListGrants(ctx context.Context, f mosaic.GrantFilter) ([]*mosaic.Grant, error) {
	if f.PeerID != "" {
		if err := mosaic.ValidateID("peer", f.PeerID); err != nil {
			return nil, err
		}
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_status",
			"status: must be one of pending, active, revoked, expired")
	}
	grants, err := s.cfg.Store.ListGrants(ctx, f)
	if err != nil {
		return nil, err
	}

	// The store judges expiry by the database clock; a grant on the edge
	// that our clock judges otherwise is left out rather than shown under
	// a status the filter did not ask for.
	out := grants[:0]
	for _, g := range grants {
		g.Status = s.effectiveStatus(g)
		if f.Status == "" || g.Status == f.Status {
			out = append(out, g)
		}
	}
	return out, nil
}

// effectiveStatus returns the status g has now: its stored status, except
// that a pending or active grant past its expiry is expired. The gateway's
// periodic sweep (Store.ExpireGrants) marks such grants expired in the
// database, but reads never wait for it: a grant is refused from the
// moment its expiry passes.
func (s *Service) effectiveStatus(g *mosaic.Grant) mosaic.GrantStatus {
	live := g.Status == mosaic.GrantPending || g.Status == mosaic.GrantActive
	if live && g.ExpiresAt != nil && !s.now().Before(*g.ExpiresAt) {
		return mosaic.GrantExpired
	}
	return g.Status
}

// Revoke ends a pending or active grant for good and records the
// revocation, with its reason, in the audit log. A grant already revoked or
// expired (past its expiry, marked or not) is KindConflict
// "grant_not_revocable": expired is final. The very next federated request
// under the grant is refused, since every request reads the grant's status.
func (s *Service) Revoke(ctx context.Context, grantID, reason string) (*mosaic.Grant, error) {
	if err := validatePathID("grant", grantID); err != nil {
		return nil, err
	}
	if err := mosaic.ValidateRevokeReason(reason); err != nil {
		return nil, err
	}
	g, err := s.cfg.Store.FindGrant(ctx, grantID)
	if err != nil {
		return nil, err
	}
	if st := s.effectiveStatus(g); st != mosaic.GrantPending && st != mosaic.GrantActive {
		return nil, mosaic.Errorf(mosaic.KindConflict, "grant_not_revocable",
			"grant is already %s", st)
	}

	now := s.now()
	ev := &mosaic.AuditEvent{
		Time:          now,
		RequestID:     RequestID(ctx),
		PeerID:        g.PeerID,
		GrantID:       g.ID,
		SubjectUserID: g.UserID,
		Verb:          mosaic.VerbRevoke,
		Status:        http.StatusOK,
		Outcome:       mosaic.OutcomeAllowed,
		Reason:        reason,
	}
	g, err = s.cfg.Store.RevokeGrant(ctx, grantID, reason, now, ev)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "grant revoked", grantLog(ctx, g)...)
	return g, nil
}

// validatePathID checks an id taken from a URL path. A malformed id names
// nothing that could exist, so it is KindNotFound.
func validatePathID(what, id string) error {
	if mosaic.ValidateID("id", id) != nil {
		return mosaic.Errorf(mosaic.KindNotFound, "not_found", "no such %s", what)
	}
	return nil
}

// utcPtr returns a copy of t in UTC, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
