package federation_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// TestRenewOutboundRemovedMeanwhile removes an outbound peer while our
// renewal from it is in flight (the grantor holds it while signing): the
// renewal ends with 409 peer_removed, no key, certificate or failure is
// written back into the removed peer, and it is not logged as a failure.
// Later renewals of the removed peer are refused the same way.
func TestRenewOutboundRemovedMeanwhile(t *testing.T) {
	e := newOutboundEnv(t)
	ctx := context.Background()
	entered, release := e.b.FaultCA.Hold()
	done := make(chan error, 1)
	go func() {
		_, err := e.a.Svc.RenewOutbound(ctx, e.peerID)
		done <- err
	}()
	<-entered
	if _, err := e.a.Svc.RemovePeer(ctx, e.peerID, "contract ended"); err != nil {
		release()
		t.Fatal(err)
	}
	removed, err := e.a.Store.FindPeer(ctx, e.peerID)
	if err != nil {
		t.Fatal(err)
	}
	release()
	wantCode(t, <-done, 409, "peer_removed")

	got, err := e.a.Store.FindPeer(ctx, e.peerID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != mosaic.PeerRevoked || got.SealedKey != nil || got.CertPEM != "" ||
		got.CertChainPEM != "" || got.RenewFailures != 0 || got.RenewLastError != "" ||
		!got.UpdatedAt.Equal(removed.UpdatedAt) {
		t.Fatalf("removed peer after the renewal in flight = %+v (key %d bytes)", got,
			len(got.SealedKey))
	}
	if logs := e.a.Logs.String(); strings.Contains(logs, "renewal failed") ||
		!strings.Contains(logs, "renewal dropped") {
		t.Errorf("A's log of the renewal of a removed peer:\n%s", logs)
	}

	_, err = e.a.Svc.RenewOutbound(ctx, e.peerID)
	wantCode(t, err, 409, "peer_removed")
	if n, _ := e.a.Store.FindPeer(ctx, e.peerID); n.RenewFailures != 0 || n.SealedKey != nil {
		t.Fatalf("a renewal of the removed peer changed it: %+v", n)
	}
}
