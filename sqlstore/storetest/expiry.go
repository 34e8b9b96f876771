package storetest

import (
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// expiringGrants makes, for one peer, a pending grant that expired an hour
// ago, an active grant that expires 1.5 seconds from now (activated before
// that), and a pending and an active grant that never expire. It returns
// them once those seconds have passed.
func expiringGrants(t *testing.T, s mosaic.Store) (peer *mosaic.Peer,
	expiredPending, expiredActive, livePending, liveActive *mosaic.Grant) {
	t.Helper()
	// One grant must be activated before it expires, so it is given a
	// short life; on a machine so busy that the setup outlives it, the
	// setup is made again with a longer one.
	for _, life := range []time.Duration{1500 * time.Millisecond, 5 * time.Second, 20 * time.Second} {
		peer, grants, err := tryExpiringGrants(t, s, life)
		if mosaic.ErrorCode(err) == "grant_expired" {
			t.Logf("setup outlived a grant of %v; again with a longer one", life)
			continue
		}
		must(t, err)
		return peer, grants[0], grants[1], grants[2], grants[3]
	}
	t.Fatal("could not activate a grant before it expired, even with 20s to do it")
	return
}

// tryExpiringGrants makes the grants of expiringGrants, the one that
// expires soon living for life, and waits until it has expired.
func tryExpiringGrants(t *testing.T, s mosaic.Store, life time.Duration) (*mosaic.Peer,
	[4]*mosaic.Grant, error) {
	t.Helper()
	ctx := t.Context()
	u := newUser(t, s)
	peer := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerPending)
	var gs [4]*mosaic.Grant
	past, soon := time.Now().Add(-time.Hour), time.Now().Add(life)
	for i, expires := range []*time.Time{&past, &soon, nil, nil} {
		gs[i] = &mosaic.Grant{UserID: u.ID, PeerID: peer.ID, Scope: testScope(), ExpiresAt: expires}
		if err := s.CreateGrant(ctx, gs[i], nil); err != nil {
			return nil, gs, err
		}
	}
	for _, g := range []*mosaic.Grant{gs[1], gs[3]} {
		e := &enrollment{user: u, peer: peer, grant: g}
		tok, err := s.CreateToken(ctx, newHash(t), g.ID, peer.ID, time.Minute)
		if err != nil {
			return nil, gs, err
		}
		e.token = tok
		if err := s.ClaimToken(ctx, tok.Hash, "claim", time.Minute); err != nil {
			return nil, gs, err
		}
		if err := s.ActivateGrant(ctx, e.activation("claim")); err != nil {
			return nil, gs, err
		}
	}
	time.Sleep(time.Until(soon) + 100*time.Millisecond)
	return peer, gs, nil
}

// testGrantExpiry checks that a pending or active grant past its expiry,
// by the database clock, is expired for listings and revocation although
// no sweep has marked it yet.
func testGrantExpiry(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	peer, expiredPending, expiredActive, livePending, liveActive := expiringGrants(t, s)

	tests := []struct {
		status mosaic.GrantStatus
		want   []string
	}{
		{mosaic.GrantExpired, []string{expiredPending.ID, expiredActive.ID}},
		{mosaic.GrantPending, []string{livePending.ID}},
		{mosaic.GrantActive, []string{liveActive.ID}},
		{mosaic.GrantRevoked, nil},
	}
	for _, tt := range tests {
		t.Run("list "+string(tt.status), func(t *testing.T) {
			grants, err := s.ListGrants(ctx, mosaic.GrantFilter{PeerID: peer.ID, Status: tt.status})
			must(t, err)
			var ids []string
			for _, g := range grants {
				ids = append(ids, g.ID)
			}
			wantIDs(t, ids, tt.want)
		})
	}

	for name, g := range map[string]*mosaic.Grant{
		"revoke expired pending": expiredPending, "revoke expired active": expiredActive,
	} {
		t.Run(name, func(t *testing.T) {
			ev := revokeEvent(g.ID)
			_, err := s.RevokeGrant(ctx, g.ID, "late", time.Time{}, ev)
			wantErr(t, err, mosaic.KindConflict, "grant_not_revocable")
			found, err := s.FindGrant(ctx, g.ID)
			must(t, err)
			if found.RevokedAt != nil || found.RevokedReason != "" || ev.ID != 0 {
				t.Fatalf("refused revocation changed the grant: %+v (event %d)", found, ev.ID)
			}
		})
	}
	t.Run("revoke live", func(t *testing.T) {
		_, err := s.RevokeGrant(ctx, liveActive.ID, "", time.Time{}, revokeEvent(liveActive.ID))
		must(t, err)
	})
}

// testExpireGrants checks that ExpireGrants marks exactly the pending and
// active grants past their expiry, by the database clock, leaves live and
// revoked grants alone, and that expired stays final.
func testExpireGrants(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	_, expiredPending, expiredActive, livePending, liveActive := expiringGrants(t, s)
	_, err := s.RevokeGrant(ctx, liveActive.ID, "done", time.Time{}, revokeEvent(liveActive.ID))
	must(t, err)

	n, err := s.ExpireGrants(ctx)
	must(t, err)
	if n != 2 {
		t.Fatalf("ExpireGrants marked %d grants, want 2", n)
	}
	n, err = s.ExpireGrants(ctx)
	must(t, err)
	if n != 0 {
		t.Fatalf("second ExpireGrants marked %d grants, want 0", n)
	}

	tests := []struct {
		name  string
		grant *mosaic.Grant
		want  mosaic.GrantStatus
	}{
		{"expired pending", expiredPending, mosaic.GrantExpired},
		{"expired active", expiredActive, mosaic.GrantExpired},
		{"live pending", livePending, mosaic.GrantPending},
		{"revoked", liveActive, mosaic.GrantRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found, err := s.FindGrant(ctx, tt.grant.ID)
			must(t, err)
			if found.Status != tt.want {
				t.Fatalf("status = %q, want %q", found.Status, tt.want)
			}
			if tt.want == mosaic.GrantExpired && !found.UpdatedAt.After(tt.grant.UpdatedAt) {
				t.Fatalf("updated_at %v not moved past %v", found.UpdatedAt, tt.grant.UpdatedAt)
			}
		})
	}
	t.Run("revoke after sweep", func(t *testing.T) {
		_, err := s.RevokeGrant(ctx, expiredPending.ID, "late", time.Time{},
			revokeEvent(expiredPending.ID))
		wantErr(t, err, mosaic.KindConflict, "grant_not_revocable")
	})
}
