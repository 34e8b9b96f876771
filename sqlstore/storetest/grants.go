package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

func testCreateGrant(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	u := newUser(t, s)
	expires := time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("with a new peer", func(t *testing.T) {
		p := &mosaic.Peer{CommonName: "a.example", DisplayName: "A"}
		g := &mosaic.Grant{UserID: u.ID, Scope: testScope(), ExpiresAt: &expires}
		must(t, s.CreateGrant(ctx, g, p))
		if g.PeerID != p.ID || g.Status != mosaic.GrantPending {
			t.Fatalf("grant = %+v, want pending for peer %s", g, p.ID)
		}
		peer, err := s.FindPeer(ctx, p.ID)
		must(t, err)
		if peer.Role != mosaic.PeerInbound || peer.State != mosaic.PeerPending {
			t.Fatalf("new peer role %q state %q, want a pending inbound peer", peer.Role, peer.State)
		}
		got, err := s.FindGrant(ctx, g.ID)
		must(t, err)
		if got.UserID != u.ID || got.PeerID != p.ID || got.Status != mosaic.GrantPending ||
			!slices.Equal(got.Scope.Resources, g.Scope.Resources) ||
			!slices.Equal(got.Scope.ExcludedResources, g.Scope.ExcludedResources) ||
			got.Scope.MaxRowsPerQuery != g.Scope.MaxRowsPerQuery ||
			got.ActivatedAt != nil || got.RevokedAt != nil {
			t.Fatalf("FindGrant = %+v, want %+v", got, g)
		}
		sameTime(t, "ExpiresAt", *got.ExpiresAt, expires)
		recent(t, "CreatedAt", got.CreatedAt)
		serial, err := s.GrantCertSerial(ctx, g.ID)
		must(t, err)
		if serial != "" {
			t.Fatalf("pending grant has cert serial %q", serial)
		}
	})

	t.Run("with an existing peer", func(t *testing.T) {
		p := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerActive)
		g := newGrant(t, s, u.ID, p.ID)
		if _, err := s.FindGrant(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("not found", func(t *testing.T) {
		_, err := s.FindGrant(ctx, mosaic.NewID())
		wantErr(t, err, mosaic.KindNotFound, "grant_not_found")
		_, err = s.GrantCertSerial(ctx, mosaic.NewID())
		wantErr(t, err, mosaic.KindNotFound, "grant_not_found")
	})
}

// testCreateGrantRefused checks that a refused CreateGrant inserts neither
// the grant nor its new peer.
func testCreateGrantRefused(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	u := newUser(t, s)
	outbound := newPeer(t, s, mosaic.PeerOutbound, mosaic.PeerActive)
	badScope := testScope()
	badScope.MaxRowsPerQuery = 0
	tests := []struct {
		name    string
		userID  string
		peerID  string
		newPeer *mosaic.Peer
		scope   mosaic.Scope
		kind    mosaic.Kind
		code    string
	}{
		{"unknown user, new peer", mosaic.NewID(), "", &mosaic.Peer{CommonName: "x",
			DisplayName: "x"}, testScope(), mosaic.KindNotFound, "user_not_found"},
		{"unknown peer", u.ID, mosaic.NewID(), nil, testScope(),
			mosaic.KindNotFound, "peer_not_found"},
		{"outbound peer", u.ID, outbound.ID, nil, testScope(),
			mosaic.KindInvalid, "peer_not_inbound"},
		{"new outbound peer", u.ID, "", &mosaic.Peer{Role: mosaic.PeerOutbound,
			CommonName: "x", DisplayName: "x"}, testScope(), mosaic.KindInvalid, "peer_not_inbound"},
		{"invalid scope", u.ID, outbound.ID, nil, badScope, mosaic.KindInvalid, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := s.ListPeers(ctx, mosaic.PeerFilter{})
			must(t, err)
			id := mosaic.NewID()
			g := &mosaic.Grant{ID: id, UserID: tt.userID, PeerID: tt.peerID, Scope: tt.scope}
			wantErr(t, s.CreateGrant(ctx, g, tt.newPeer), tt.kind, tt.code)
			after, err := s.ListPeers(ctx, mosaic.PeerFilter{})
			must(t, err)
			if len(after) != len(before) {
				t.Fatalf("failed CreateGrant left a peer behind: %d peers, was %d",
					len(after), len(before))
			}
			_, err = s.FindGrant(ctx, id)
			wantErr(t, err, mosaic.KindNotFound, "grant_not_found")
		})
	}

	t.Run("new peer rolled back with the grant", func(t *testing.T) {
		taken := newGrant(t, s, u.ID, newPeer(t, s, mosaic.PeerInbound, "").ID)
		p := &mosaic.Peer{CommonName: "late.example", DisplayName: "Late"}
		g := &mosaic.Grant{ID: taken.ID, UserID: u.ID, Scope: testScope()}
		wantErr(t, s.CreateGrant(ctx, g, p), mosaic.KindConflict, "grant_exists")
		_, err := s.FindPeer(ctx, p.ID)
		wantErr(t, err, mosaic.KindNotFound, "peer_not_found")
	})
}

func testListGrants(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	u := newUser(t, s)
	p1 := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerPending)
	p2 := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerPending)
	g1, g2, g3 := newGrant(t, s, u.ID, p1.ID), newGrant(t, s, u.ID, p1.ID),
		newGrant(t, s, u.ID, p2.ID)
	_, err := s.RevokeGrant(ctx, g2.ID, "", time.Time{}, &mosaic.AuditEvent{
		Verb: mosaic.VerbRevoke, Status: 200, Outcome: mosaic.OutcomeAllowed, GrantID: g2.ID})
	must(t, err)

	tests := []struct {
		name string
		f    mosaic.GrantFilter
		want []string
	}{
		{"all", mosaic.GrantFilter{}, []string{g1.ID, g2.ID, g3.ID}},
		{"by peer", mosaic.GrantFilter{PeerID: p1.ID}, []string{g1.ID, g2.ID}},
		{"by status", mosaic.GrantFilter{Status: mosaic.GrantPending}, []string{g1.ID, g3.ID}},
		{"by peer and status", mosaic.GrantFilter{PeerID: p1.ID, Status: mosaic.GrantRevoked},
			[]string{g2.ID}},
		{"limit", mosaic.GrantFilter{Limit: 2}, []string{g1.ID, g2.ID}},
		{"none", mosaic.GrantFilter{Status: mosaic.GrantExpired}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grants, err := s.ListGrants(ctx, tt.f)
			must(t, err)
			var ids []string
			for _, g := range grants {
				ids = append(ids, g.ID)
			}
			if !slices.IsSorted(ids) {
				t.Fatalf("grants not in id order: %v", ids)
			}
			wantIDs(t, ids, tt.want)
		})
	}
}
