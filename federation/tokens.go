package federation

import (
	"context"
	"log/slog"
	"time"

	"github.com/mosaicgw/mosaic"
)

// EnrollmentPath is the federation API path under which tokens are
// redeemed; the token follows it.
const EnrollmentPath = "/api/federation/enrollment/"

// IssuedToken is a new enrollment token as shown, once, to the admin who
// asked for it. Token redacts itself when printed; EnrollmentURL reveals it.
type IssuedToken struct {
	Token     mosaic.TokenSecret
	GrantID   string
	PeerID    string
	ExpiresAt time.Time
	TTL       time.Duration // the TTL granted, after clamping
	CAPin     string

	publicURL string
}

// EnrollmentURL returns the URL a peer's admin passes to "peer add": our
// enrollment endpoint with the token, and our CA pin in the fragment so the
// peer can check us before it sends anything. It contains the token.
func (t *IssuedToken) EnrollmentURL() string {
	return t.publicURL + EnrollmentPath + t.Token.Reveal() + "#ca=" + t.CAPin
}

// IssueToken creates an enrollment token for a pending grant, or for an
// active grant whose certificate has expired (a re-enrollment: redeeming
// the token replaces that certificate). peerID, when given, must be the
// grant's peer (KindInvalid "peer_mismatch"); any other grant is
// KindConflict "grant_not_pending". The requested
// ttl is clamped to mosaic.MaxTokenTTL. Only the token's hash is stored.
func (s *Service) IssueToken(ctx context.Context, grantID, peerID string,
	ttl time.Duration) (*IssuedToken, error) {
	if err := validatePathID("grant", grantID); err != nil {
		return nil, err
	}
	g, err := s.cfg.Store.FindGrant(ctx, grantID)
	if err != nil {
		return nil, err
	}
	if peerID != "" && peerID != g.PeerID {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "peer_mismatch",
			"peerId: the grant is for another peer")
	}
	replaces, err := s.enrollTarget(ctx, g)
	if err != nil {
		return nil, err
	}

	// Draw the token and store its hash; the text leaves only in the answer.
	ttl = mosaic.ClampTokenTTL(ttl)
	secret, err := mosaic.NewTokenSecret(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	var stored *mosaic.EnrollmentToken
	if replaces == "" {
		stored, err = s.cfg.Store.CreateToken(ctx, secret.Hash(), g.ID, g.PeerID, ttl)
	} else {
		stored, err = s.cfg.Store.CreateReenrollToken(ctx, secret.Hash(), g.ID, g.PeerID,
			replaces, ttl)
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "enrollment token issued",
		slog.String(logRequestID, RequestID(ctx)),
		slog.String(logGrantID, g.ID),
		slog.String(logPeerID, g.PeerID),
		slog.String(logTokenHash, mosaic.HashPrefix(stored.Hash)),
		slog.Time("expires_at", stored.ExpiresAt),
		slog.String("replaces_serial", replaces))
	return &IssuedToken{
		Token:     secret,
		GrantID:   g.ID,
		PeerID:    g.PeerID,
		ExpiresAt: stored.ExpiresAt.UTC(),
		TTL:       ttl,
		CAPin:     s.cfg.CAPin,
		publicURL: s.cfg.PublicURL,
	}, nil
}

// checkPending refuses a grant that can no longer be activated: one that is
// not pending, or whose expiry has passed.
func (s *Service) checkPending(g *mosaic.Grant) error {
	if g.Status != mosaic.GrantPending {
		return mosaic.Errorf(mosaic.KindConflict, "grant_not_pending",
			"grant is %s, not pending", g.Status)
	}
	if g.ExpiresAt != nil && !s.now().Before(*g.ExpiresAt) {
		return mosaic.Errorf(mosaic.KindConflict, "grant_not_pending",
			"grant has expired")
	}
	return nil
}
