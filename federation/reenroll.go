package federation

import (
	"context"
	"time"

	"github.com/mosaicgw/mosaic"
)

// enrollTarget says whether grant g can take a certificate from an
// enrollment now: a pending grant, for which it returns "", or an active
// grant whose current certificate has expired at the service clock's time,
// for which it returns that certificate's serial: the enrollment replaces
// it, with the same identity, so that a peer whose certificate ran out
// without being renewed can enroll again with a new token. Anything else is
// KindConflict "grant_not_pending".
func (s *Service) enrollTarget(ctx context.Context, g *mosaic.Grant) (string, error) {
	err := s.checkPending(g)
	if err == nil || s.effectiveStatus(g) != mosaic.GrantActive {
		return "", err
	}
	c, err := s.cfg.Store.GrantCert(ctx, g.ID)
	if err != nil {
		return "", err
	}
	if !c.Expired(s.now()) {
		until := "unknown"
		if c.NotAfter != nil {
			until = c.NotAfter.UTC().Format(time.RFC3339)
		}
		return "", mosaic.Errorf(mosaic.KindConflict, "grant_not_pending",
			"grant is active and its certificate is valid until %s; the peer renews it", until)
	}
	return c.Serial, nil
}
