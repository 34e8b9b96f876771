package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// testRemovePeerRacingLifecycle removes a peer while, at the same moment,
// its grant's certificate is renewed or its pending grant activated. Each
// may lose, but only with a conflict, never a deadlock or another error;
// and whatever the order, a removed peer keeps no active grant and its
// grant keeps the certificate it had when the removal won.
func testRemovePeerRacingLifecycle(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	for i := range 10 {
		for _, what := range []string{"renew", "activate"} {
			var e *enrollment
			var change func() error
			if what == "renew" {
				var a mosaic.Activation
				e, a = activeEnrollment(t, s)
				rn := e.renewal(a.CertSerial, a.CertSerial, a.At)
				change = func() error { return s.RenewGrantCert(ctx, rn) }
			} else {
				e = newEnrollment(t, s, time.Minute)
				must(t, s.ClaimToken(ctx, e.token.Hash, "claim", time.Minute))
				act := e.activation("claim")
				change = func() error { return s.ActivateGrant(ctx, act) }
			}

			var wg sync.WaitGroup
			var changeErr, removeErr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				changeErr = change()
			}()
			go func() {
				defer wg.Done()
				_, removeErr = s.RemovePeer(ctx, removal(e.peer.ID, "race"))
			}()
			wg.Wait()
			must(t, removeErr)
			if changeErr != nil && !mosaic.IsKind(changeErr, mosaic.KindConflict) {
				t.Fatalf("round %d: %s racing a removal: %v", i, what, changeErr)
			}

			g, err := s.FindGrant(ctx, e.grant.ID)
			must(t, err)
			p, err := s.FindPeer(ctx, e.peer.ID)
			must(t, err)
			if p.State != mosaic.PeerRevoked || g.Status != mosaic.GrantRevoked {
				t.Fatalf("round %d: after %s and removal, peer %s and grant %s", i, what,
					p.State, g.Status)
			}
		}
	}
}
