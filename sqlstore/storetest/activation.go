package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

func testActivateGrant(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	e := newEnrollment(t, s, time.Minute)
	must(t, s.ClaimToken(ctx, e.token.Hash, "claim", time.Minute))
	a := e.activation("claim")
	must(t, s.ActivateGrant(ctx, a))

	g, err := s.FindGrant(ctx, e.grant.ID)
	must(t, err)
	if g.Status != mosaic.GrantActive || g.ActivatedAt == nil {
		t.Fatalf("grant after activation = %+v, want active", g)
	}
	sameTime(t, "ActivatedAt", *g.ActivatedAt, a.At)
	serial, err := s.GrantCertSerial(ctx, g.ID)
	must(t, err)
	if serial != a.CertSerial {
		t.Fatalf("GrantCertSerial = %q, want %q", serial, a.CertSerial)
	}

	p, err := s.FindPeer(ctx, e.peer.ID)
	must(t, err)
	if p.State != mosaic.PeerActive || p.CertPEM != a.CertPEM || p.CertSerial != a.CertSerial ||
		p.CertFingerprint != a.CertFingerprint || p.CertNotAfter == nil {
		t.Fatalf("peer after activation = %+v, want active with the certificate", p)
	}
	sameTime(t, "CertNotAfter", *p.CertNotAfter, a.CertNotAfter)

	tok, err := s.FindToken(ctx, e.token.Hash)
	must(t, err)
	if tok.UsedAt == nil || tok.IssuedKeyHash != a.KeyHash || tok.IssuedSerial != a.CertSerial {
		t.Fatalf("token after activation = %+v, want used with key hash and serial", tok)
	}
	sameTime(t, "UsedAt", *tok.UsedAt, a.At)

	if a.Event.ID == 0 {
		t.Fatal("activation event has no id")
	}
	evs := auditOf(t, s, e.grant.ID)
	if len(evs) != 1 || evs[0].ID != a.Event.ID || evs[0].Outcome != mosaic.OutcomeAllowed ||
		evs[0].CertSerial != a.CertSerial {
		t.Fatalf("audit after activation = %+v, want the one allowed event", evs)
	}

	t.Run("twice", func(t *testing.T) {
		b := e.activation("claim")
		wantErr(t, s.ActivateGrant(ctx, b), mosaic.KindConflict, "grant_not_pending")
		if got, _ := s.GrantCertSerial(ctx, g.ID); got != a.CertSerial {
			t.Fatalf("second activation replaced the serial with %q", got)
		}
	})
}

// snapshot is the state an activation may change.
type snapshot struct {
	grant  *mosaic.Grant
	peer   *mosaic.Peer
	token  *mosaic.EnrollmentToken
	audits int
}

func takeSnapshot(t *testing.T, s mosaic.Store, e *enrollment) snapshot {
	t.Helper()
	var snap snapshot
	var err error
	snap.grant, err = s.FindGrant(t.Context(), e.grant.ID)
	must(t, err)
	snap.peer, err = s.FindPeer(t.Context(), e.peer.ID)
	must(t, err)
	snap.token, err = s.FindToken(t.Context(), e.token.Hash)
	must(t, err)
	snap.audits = len(auditOf(t, s, e.grant.ID))
	return snap
}

// wantUnchanged fails the test if a refused activation changed anything.
func wantUnchanged(t *testing.T, s mosaic.Store, e *enrollment, before snapshot) {
	t.Helper()
	after := takeSnapshot(t, s, e)
	g, p, tok := after.grant, after.peer, after.token
	if g.Status != before.grant.Status || g.ActivatedAt != nil ||
		!g.UpdatedAt.Equal(before.grant.UpdatedAt) {
		t.Fatalf("grant changed: %+v, was %+v", g, before.grant)
	}
	if serial, _ := s.GrantCertSerial(t.Context(), g.ID); serial != "" {
		t.Fatalf("grant took cert serial %q", serial)
	}
	if p.State != before.peer.State || p.CertPEM != "" || p.CertSerial != "" ||
		p.CertNotAfter != nil {
		t.Fatalf("peer changed: %+v, was %+v", p, before.peer)
	}
	if tok.UsedAt != nil || tok.IssuedSerial != "" || tok.IssuedKeyHash != "" ||
		tok.ClaimID != before.token.ClaimID {
		t.Fatalf("token changed: %+v, was %+v", tok, before.token)
	}
	if after.audits != before.audits {
		t.Fatalf("%d audit events, was %d", after.audits, before.audits)
	}
	for _, ev := range auditOf(t, s, e.grant.ID) {
		if ev.Verb == mosaic.VerbEnroll && ev.Outcome == mosaic.OutcomeAllowed {
			t.Fatalf("refused activation left an allowed audit event: %+v", ev)
		}
	}
}

// testActivateGrantRefused checks that an activation that cannot finish
// changes nothing at all.
func testActivateGrantRefused(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		// setup prepares the enrollment after its token was claimed by
		// "claim" and returns the activation to attempt.
		setup func(t *testing.T, e *enrollment) mosaic.Activation
		kind  mosaic.Kind
		code  string
	}{
		{"grant revoked meanwhile", func(t *testing.T, e *enrollment) mosaic.Activation {
			_, err := s.RevokeGrant(ctx, e.grant.ID, "changed my mind", time.Time{},
				revokeEvent(e.grant.ID))
			must(t, err)
			return e.activation("claim")
		}, mosaic.KindConflict, "grant_not_pending"},
		{"claim released", func(t *testing.T, e *enrollment) mosaic.Activation {
			must(t, s.ReleaseClaim(ctx, e.token.Hash, "claim"))
			return e.activation("claim")
		}, mosaic.KindConflict, "claim_lost"},
		{"claim never held", func(t *testing.T, e *enrollment) mosaic.Activation {
			return e.activation("someone-else")
		}, mosaic.KindConflict, "claim_lost"},
		{"token of another grant", func(t *testing.T, e *enrollment) mosaic.Activation {
			other := newEnrollment(t, s, time.Minute)
			must(t, s.ClaimToken(ctx, other.token.Hash, "claim", time.Minute))
			a := e.activation("claim")
			a.TokenHash = other.token.Hash
			return a
		}, mosaic.KindConflict, "claim_lost"},
		{"unknown grant", func(t *testing.T, e *enrollment) mosaic.Activation {
			a := e.activation("claim")
			a.GrantID = mosaic.NewID()
			return a
		}, mosaic.KindNotFound, "grant_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnrollment(t, s, time.Minute)
			must(t, s.ClaimToken(ctx, e.token.Hash, "claim", time.Minute))
			a := tt.setup(t, e)
			before := takeSnapshot(t, s, e)
			wantErr(t, s.ActivateGrant(ctx, a), tt.kind, tt.code)
			if a.Event.ID != 0 {
				t.Fatalf("refused activation gave its event id %d", a.Event.ID)
			}
			wantUnchanged(t, s, e, before)
		})
	}

	t.Run("peer not active", func(t *testing.T) {
		u := newUser(t, s)
		// A removed (revoked) peer becomes pending with a new grant; a
		// suspended one stays suspended.
		p := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerSuspended)
		e := &enrollment{user: u, peer: p, grant: newGrant(t, s, u.ID, p.ID)}
		tok, err := s.CreateToken(ctx, newHash(t), e.grant.ID, p.ID, time.Minute)
		must(t, err)
		e.token = tok
		must(t, s.ClaimToken(ctx, tok.Hash, "claim", time.Minute))
		before := takeSnapshot(t, s, e)
		wantErr(t, s.ActivateGrant(ctx, e.activation("claim")), mosaic.KindConflict,
			"peer_not_active")
		wantUnchanged(t, s, e, before)
	})
}

// testActivateExpiredGrant lets a grant pass its expiry between the claim
// and the activation: the activation is refused.
func testActivateExpiredGrant(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	u := newUser(t, s)
	expires := time.Now().Add(time.Second)
	e := &enrollment{user: u, peer: &mosaic.Peer{CommonName: "x", DisplayName: "x"}}
	e.grant = &mosaic.Grant{UserID: u.ID, Scope: testScope(), ExpiresAt: &expires}
	must(t, s.CreateGrant(ctx, e.grant, e.peer))
	tok, err := s.CreateToken(ctx, newHash(t), e.grant.ID, e.peer.ID, time.Minute)
	must(t, err)
	e.token = tok
	must(t, s.ClaimToken(ctx, tok.Hash, "claim", time.Minute))
	before := takeSnapshot(t, s, e)

	time.Sleep(time.Until(expires) + 100*time.Millisecond)
	err = s.ActivateGrant(ctx, e.activation("claim"))
	wantErr(t, err, mosaic.KindConflict, "grant_expired")
	wantUnchanged(t, s, e, before)
}

func testRevokeGrant(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	at := time.Date(2030, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

	pending := newEnrollment(t, s, time.Minute)
	active := newEnrollment(t, s, time.Minute)
	must(t, s.ClaimToken(ctx, active.token.Hash, "claim", time.Minute))
	must(t, s.ActivateGrant(ctx, active.activation("claim")))

	for name, e := range map[string]*enrollment{"pending": pending, "active": active} {
		t.Run(name, func(t *testing.T) {
			ev := revokeEvent(e.grant.ID)
			g, err := s.RevokeGrant(ctx, e.grant.ID, "peer compromised", at, ev)
			must(t, err)
			if g.Status != mosaic.GrantRevoked || g.RevokedAt == nil ||
				g.RevokedReason != "peer compromised" {
				t.Fatalf("revoked grant = %+v", g)
			}
			sameTime(t, "RevokedAt", *g.RevokedAt, at)
			found, err := s.FindGrant(ctx, e.grant.ID)
			must(t, err)
			if found.Status != mosaic.GrantRevoked || !found.RevokedAt.Equal(*g.RevokedAt) {
				t.Fatalf("stored grant = %+v, want revoked", found)
			}
			evs := auditOf(t, s, e.grant.ID)
			if ev.ID == 0 || len(evs) == 0 || evs[0].ID != ev.ID || evs[0].Verb != mosaic.VerbRevoke {
				t.Fatalf("audit %+v, want the revoke event %d first", evs, ev.ID)
			}
		})
	}

	tests := []struct {
		name, grantID, reason string
		kind                  mosaic.Kind
		code                  string
	}{
		{"already revoked", pending.grant.ID, "again", mosaic.KindConflict, "grant_not_revocable"},
		{"unknown", mosaic.NewID(), "", mosaic.KindNotFound, "grant_not_found"},
		{"reason too long", active.grant.ID, strings.Repeat("x", mosaic.MaxRevokeReason+1),
			mosaic.KindInvalid, "invalid_reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(auditOf(t, s, tt.grantID))
			ev := revokeEvent(tt.grantID)
			_, err := s.RevokeGrant(ctx, tt.grantID, tt.reason, time.Time{}, ev)
			wantErr(t, err, tt.kind, tt.code)
			if n := len(auditOf(t, s, tt.grantID)); n != before || ev.ID != 0 {
				t.Fatalf("refused revocation wrote audit (%d events, was %d; id %d)",
					n, before, ev.ID)
			}
		})
	}
	g, err := s.FindGrant(ctx, pending.grant.ID)
	must(t, err)
	if g.RevokedReason != "peer compromised" || !g.RevokedAt.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("second revocation changed the grant: %+v", g)
	}
}
