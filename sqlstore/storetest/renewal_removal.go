package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// testRenewRemovedPeer removes an outbound peer while its renewal is in
// flight (the lease taken, the new certificate not stored yet): the
// renewal's late writes are refused as "peer_removed" and change nothing,
// so the removed row keeps no key, no certificate and no renewal record.
func testRenewRemovedPeer(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	p := activeOutbound(t, s, time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	must(t, s.LeaseRenewal(ctx, p.ID, p.CertSerial, 0, 10*time.Minute))
	_, err := s.RemovePeer(ctx, removal(p.ID, mosaic.DefaultRemovalReason))
	must(t, err)
	removed, err := s.FindPeer(ctx, p.ID)
	must(t, err)

	wantErr(t, s.RenewOutboundPeer(ctx, outboundRenewal(p)), mosaic.KindConflict,
		"peer_removed")
	wantErr(t, s.RecordRenewalFailure(ctx, mosaic.RenewalFailure{
		PeerID: p.ID, Serial: p.CertSerial, Error: "certificate_replaced: late",
		NextAt: time.Date(2030, 7, 1, 9, 0, 0, 0, time.UTC),
		At:     time.Date(2030, 7, 1, 8, 30, 0, 0, time.UTC),
	}), mosaic.KindConflict, "peer_removed")
	wantErr(t, s.LeaseRenewal(ctx, p.ID, p.CertSerial, 0, time.Minute), mosaic.KindConflict,
		"peer_removed")

	got, err := s.FindPeer(ctx, p.ID)
	must(t, err)
	wantWiped(t, got)
	if got.RenewFailures != 0 || got.RenewLastError != "" || !got.UpdatedAt.Equal(removed.UpdatedAt) {
		t.Fatalf("late renewal writes changed the removed peer: %+v, was %+v", got, removed)
	}
}

// testRenewRemovedPeerConcurrent races the storing of renewals with the
// removal of their peers: whichever commits first, every peer ends
// removed with its key and certificates wiped.
func testRenewRemovedPeerConcurrent(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	const n = 8
	peers := make([]*mosaic.Peer, n)
	for i := range peers {
		peers[i] = activeOutbound(t, s, time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	}
	var wg sync.WaitGroup
	errs := make([]error, 2*n)
	for i, p := range peers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs[2*i] = s.RenewOutboundPeer(ctx, outboundRenewal(p))
		}()
		go func() {
			defer wg.Done()
			_, errs[2*i+1] = s.RemovePeer(ctx, removal(p.ID, "race"))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		retryable := mosaic.IsKind(err, mosaic.KindUnavailable)
		switch {
		case err == nil, retryable:
		case i%2 == 0 && mosaic.ErrorCode(err) == "peer_removed":
		default:
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for i, p := range peers {
		if errs[2*i+1] != nil {
			continue // the removal gave way to the database; nothing to check
		}
		got, err := s.FindPeer(ctx, p.ID)
		must(t, err)
		wantWiped(t, got)
	}
}

// wantWiped fails the test unless p is a removed outbound peer with no
// key and no certificates.
func wantWiped(t *testing.T, p *mosaic.Peer) {
	t.Helper()
	if p.State != mosaic.PeerRevoked || p.SealedKey != nil || p.CertPEM != "" ||
		p.CertChainPEM != "" {
		t.Fatalf("removed peer %s is %s with a key of %d bytes, certificate %q, chain %q",
			p.ID, p.State, len(p.SealedKey), p.CertPEM, p.CertChainPEM)
	}
}
