package storetest

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// sealedBytes looks like ciphertext: every byte value, zeros included.
func sealedBytes() []byte {
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func testPeers(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	notAfter := time.Date(2030, 5, 6, 7, 8, 9, 10_000_000, time.UTC)
	out := &mosaic.Peer{
		Role: mosaic.PeerOutbound, CommonName: "b.example", DisplayName: "B",
		State: mosaic.PeerActive, CertPEM: "cert", CertSerial: "0a1b",
		CertFingerprint: "ff00", CertNotAfter: &notAfter, EndpointURL: "https://b.example:8443",
		CertChainPEM: "chain", CAPEM: "ca", CAPin: "sha256:00", SealedKey: sealedBytes(),
	}
	must(t, s.CreatePeer(ctx, out))
	in := newPeer(t, s, mosaic.PeerInbound, "")
	if in.State != mosaic.PeerPending {
		t.Fatalf("new peer state %q, want pending", in.State)
	}

	t.Run("find returns what was stored", func(t *testing.T) {
		got, err := s.FindPeer(ctx, out.ID)
		must(t, err)
		if !bytes.Equal(got.SealedKey, sealedBytes()) {
			t.Fatal("sealed key changed in storage")
		}
		sameTime(t, "CertNotAfter", *got.CertNotAfter, notAfter)
		want, gotCopy := *out, *got
		want.SealedKey, want.CertNotAfter, gotCopy.SealedKey, gotCopy.CertNotAfter = nil, nil, nil, nil
		if !reflect.DeepEqual(gotCopy, want) {
			t.Fatalf("FindPeer = %+v\nwant %+v", gotCopy, want)
		}
		got, err = s.FindPeer(ctx, in.ID)
		must(t, err)
		if got.SealedKey != nil || got.CertNotAfter != nil {
			t.Fatalf("inbound peer has sealed key %x, notAfter %v", got.SealedKey, got.CertNotAfter)
		}
	})

	t.Run("not found", func(t *testing.T) {
		_, err := s.FindPeer(ctx, mosaic.NewID())
		wantErr(t, err, mosaic.KindNotFound, "peer_not_found")
	})

	t.Run("invalid role", func(t *testing.T) {
		err := s.CreatePeer(ctx, &mosaic.Peer{Role: "sideways", CommonName: "x", DisplayName: "x"})
		wantErr(t, err, mosaic.KindInvalid, "invalid_role")
	})
}

func testListPeers(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	out := &mosaic.Peer{Role: mosaic.PeerOutbound, CommonName: "b", DisplayName: "B",
		SealedKey: sealedBytes()}
	must(t, s.CreatePeer(ctx, out))
	in := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerPending)
	suspended := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerSuspended)
	tests := []struct {
		name string
		f    mosaic.PeerFilter
		want []string
	}{
		{"all", mosaic.PeerFilter{}, []string{out.ID, in.ID, suspended.ID}},
		{"inbound", mosaic.PeerFilter{Role: mosaic.PeerInbound}, []string{in.ID, suspended.ID}},
		{"outbound", mosaic.PeerFilter{Role: mosaic.PeerOutbound}, []string{out.ID}},
		{"suspended inbound", mosaic.PeerFilter{Role: mosaic.PeerInbound,
			State: mosaic.PeerSuspended}, []string{suspended.ID}},
		{"revoked", mosaic.PeerFilter{State: mosaic.PeerRevoked}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers, err := s.ListPeers(ctx, tt.f)
			must(t, err)
			var ids []string
			for _, p := range peers {
				if p.SealedKey != nil {
					t.Fatalf("peer %s listed with its sealed key", p.ID)
				}
				ids = append(ids, p.ID)
			}
			if !slices.IsSorted(ids) {
				t.Fatalf("peers not in id order: %v", ids)
			}
			wantIDs(t, ids, tt.want)
		})
	}
}

func testActivateOutboundPeer(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	activation := func(peerID string) mosaic.OutboundActivation {
		return mosaic.OutboundActivation{
			PeerID: peerID, CertPEM: "cert", CertChainPEM: "chain", CertSerial: "01ff",
			CertFingerprint: "abcd", CAPEM: "ca",
			CertNotAfter: time.Date(2031, 1, 1, 0, 0, 0, 999_000_000, time.UTC),
			At:           time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		}
	}

	pending := newPeer(t, s, mosaic.PeerOutbound, mosaic.PeerPending)
	a := activation(pending.ID)
	must(t, s.ActivateOutboundPeer(ctx, a))
	got, err := s.FindPeer(ctx, pending.ID)
	must(t, err)
	if got.State != mosaic.PeerActive || got.CertPEM != a.CertPEM ||
		got.CertChainPEM != a.CertChainPEM || got.CertSerial != a.CertSerial ||
		got.CertFingerprint != a.CertFingerprint || got.CAPEM != a.CAPEM {
		t.Fatalf("activated peer = %+v, want the activation %+v", got, a)
	}
	sameTime(t, "CertNotAfter", *got.CertNotAfter, a.CertNotAfter)
	sameTime(t, "UpdatedAt", got.UpdatedAt, a.At)

	tests := []struct {
		name   string
		peerID string
		kind   mosaic.Kind
		code   string
	}{
		{"already active", pending.ID, mosaic.KindConflict, "peer_not_pending"},
		{"inbound", newPeer(t, s, mosaic.PeerInbound, mosaic.PeerPending).ID,
			mosaic.KindConflict, "peer_not_pending"},
		{"revoked outbound", newPeer(t, s, mosaic.PeerOutbound, mosaic.PeerRevoked).ID,
			mosaic.KindConflict, "peer_not_pending"},
		{"unknown", mosaic.NewID(), mosaic.KindNotFound, "peer_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before *mosaic.Peer
			if tt.kind != mosaic.KindNotFound {
				before, err = s.FindPeer(ctx, tt.peerID)
				must(t, err)
			}
			b := activation(tt.peerID)
			b.CertSerial = "other"
			wantErr(t, s.ActivateOutboundPeer(ctx, b), tt.kind, tt.code)
			if before != nil {
				after, err := s.FindPeer(ctx, tt.peerID)
				must(t, err)
				if after.State != before.State || after.CertSerial != before.CertSerial ||
					!after.UpdatedAt.Equal(before.UpdatedAt) {
					t.Fatalf("refused activation changed the peer: %+v", after)
				}
			}
		})
	}
}
