package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// removal returns a PeerRemoval of the peer with its audit event.
func removal(peerID, reason string) mosaic.PeerRemoval {
	return mosaic.PeerRemoval{
		PeerID: peerID,
		Reason: reason,
		At:     time.Date(2030, 7, 1, 8, 0, 0, 0, time.UTC),
		Event: &mosaic.AuditEvent{
			RequestID: unique("req"), PeerID: peerID, Verb: mosaic.VerbRemovePeer,
			Status: 200, Outcome: mosaic.OutcomeAllowed, Reason: reason,
		},
	}
}

// testRemoveInboundPeer removes an inbound peer holding grants in every
// status: the live ones (pending and active, not past their expiry) are
// revoked with the reason, each audited; the others stay as they were.
func testRemoveInboundPeer(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	peer, expiredPending, expiredActive, livePending, liveActive := expiringGrants(t, s)
	u := newUser(t, s)
	revoked := newGrant(t, s, u.ID, peer.ID)
	_, err := s.RevokeGrant(ctx, revoked.ID, "earlier", time.Time{}, &mosaic.AuditEvent{
		Verb: mosaic.VerbRevoke, Status: 200, Outcome: mosaic.OutcomeAllowed})
	must(t, err)
	before, err := s.FindPeer(ctx, peer.ID)
	must(t, err)

	rm := removal(peer.ID, "contract ended")
	out, err := s.RemovePeer(ctx, rm)
	must(t, err)
	var ids []string
	for _, g := range out.Revoked {
		ids = append(ids, g.ID)
		if g.Status != mosaic.GrantRevoked || g.RevokedReason != rm.Reason || g.RevokedAt == nil {
			t.Fatalf("revoked grant = %+v, want revoked for %q", g, rm.Reason)
		}
		sameTime(t, "RevokedAt", *g.RevokedAt, rm.At)
	}
	wantIDs(t, ids, []string{livePending.ID, liveActive.ID})

	// The peer is revoked and keeps the record of its certificate.
	p := out.Peer
	if p.State != mosaic.PeerRevoked || p.CertSerial != before.CertSerial ||
		p.CertPEM != before.CertPEM || p.SealedKey != nil {
		t.Fatalf("removed peer = %+v, want revoked with its certificate record", p)
	}
	sameTime(t, "UpdatedAt", p.UpdatedAt, rm.At)

	// Grants that were not live are untouched.
	for _, g := range []*mosaic.Grant{expiredPending, expiredActive, revoked} {
		got, err := s.FindGrant(ctx, g.ID)
		must(t, err)
		if got.Status == mosaic.GrantRevoked && got.RevokedReason == rm.Reason {
			t.Fatalf("grant %s, not live, was revoked by the removal", g.ID)
		}
	}

	// One revoke event per grant, then the removal's own.
	for _, g := range out.Revoked {
		evs := auditOf(t, s, g.ID)
		if len(evs) == 0 || evs[0].Verb != mosaic.VerbRevoke || evs[0].Reason != rm.Reason ||
			evs[0].PeerID != peer.ID || evs[0].SubjectUserID != g.UserID ||
			evs[0].RequestID != rm.Event.RequestID {
			t.Fatalf("newest audit event of grant %s = %+v, want its revocation", g.ID, evs)
		}
	}
	if rm.Event.ID == 0 {
		t.Fatal("the removal's event got no id")
	}
	evs, err := s.ListAudit(ctx, mosaic.AuditFilter{PeerID: peer.ID, Limit: 3})
	must(t, err)
	if evs[0].Verb != mosaic.VerbRemovePeer || evs[0].ID != rm.Event.ID || evs[0].GrantID != "" {
		t.Fatalf("newest audit event of the peer = %+v, want the removal", evs[0])
	}
}

// testRemovePeerRefused removes a peer twice, an unknown peer, and a peer
// with a reason that is not acceptable: nothing changes.
func testRemovePeerRefused(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	e := newEnrollment(t, s, time.Minute)

	_, err := s.RemovePeer(ctx, removal(e.peer.ID, "bad\x00reason"))
	wantErr(t, err, mosaic.KindInvalid, "invalid_reason")
	_, err = s.RemovePeer(ctx, removal(mosaic.NewID(), "gone"))
	wantErr(t, err, mosaic.KindNotFound, "peer_not_found")
	if g, err := s.FindGrant(ctx, e.grant.ID); err != nil || g.Status != mosaic.GrantPending {
		t.Fatalf("grant after refused removals: %+v, %v; want pending", g, err)
	}

	_, err = s.RemovePeer(ctx, removal(e.peer.ID, "first"))
	must(t, err)
	before := takeSnapshot(t, s, e)
	peerEvents := len(peerAudit(t, s, e.peer.ID))
	again := removal(e.peer.ID, "second")
	_, err = s.RemovePeer(ctx, again)
	wantErr(t, err, mosaic.KindConflict, "peer_removed")
	after := takeSnapshot(t, s, e)
	if after.grant.RevokedReason != "first" || !after.peer.UpdatedAt.Equal(before.peer.UpdatedAt) ||
		after.audits != before.audits || len(peerAudit(t, s, e.peer.ID)) != peerEvents ||
		again.Event.ID != 0 {
		t.Fatalf("a second removal changed something: %+v, was %+v", after, before)
	}

	// The token of the revoked grant cannot activate it any more.
	must(t, s.ClaimToken(ctx, e.token.Hash, "claim", time.Minute))
	wantErr(t, s.ActivateGrant(ctx, e.activation("claim")), mosaic.KindConflict,
		"grant_not_pending")
}

// peerAudit returns the audit events of a peer, newest first.
func peerAudit(t *testing.T, s mosaic.Store, peerID string) []*mosaic.AuditEvent {
	t.Helper()
	evs, err := s.ListAudit(t.Context(), mosaic.AuditFilter{PeerID: peerID,
		Limit: mosaic.MaxListLimit})
	must(t, err)
	return evs
}

// testRemoveOutboundPeer removes an active outbound peer: its sealed key
// and certificates are wiped, the rest of its record stays.
func testRemoveOutboundPeer(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	notAfter := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	out := &mosaic.Peer{
		Role: mosaic.PeerOutbound, CommonName: "b.example", DisplayName: "B",
		State: mosaic.PeerActive, CertPEM: "cert", CertSerial: "0a1b",
		CertFingerprint: "ff00", CertNotAfter: &notAfter, EndpointURL: "https://b.example:8443",
		CertChainPEM: "chain", CAPEM: "ca", CAPin: "sha256:00", SealedKey: sealedBytes(),
	}
	must(t, s.CreatePeer(ctx, out))

	rm := removal(out.ID, mosaic.DefaultRemovalReason)
	res, err := s.RemovePeer(ctx, rm)
	must(t, err)
	if len(res.Revoked) != 0 {
		t.Fatalf("removing an outbound peer revoked grants: %+v", res.Revoked)
	}
	got, err := s.FindPeer(ctx, out.ID)
	must(t, err)
	if got.State != mosaic.PeerRevoked || got.SealedKey != nil || got.CertPEM != "" ||
		got.CertChainPEM != "" {
		t.Fatalf("removed outbound peer = %+v (sealed key %d bytes), want revoked, wiped",
			got, len(got.SealedKey))
	}
	if got.CertSerial != out.CertSerial || got.CAPEM != out.CAPEM || got.CAPin != out.CAPin ||
		got.EndpointURL != out.EndpointURL {
		t.Fatalf("removed outbound peer lost its record: %+v", got)
	}
	evs := peerAudit(t, s, out.ID)
	if len(evs) != 1 || evs[0].Verb != mosaic.VerbRemovePeer || evs[0].ID != rm.Event.ID {
		t.Fatalf("audit of the outbound peer = %+v, want the removal alone", evs)
	}

	pending := newPeer(t, s, mosaic.PeerOutbound, mosaic.PeerPending)
	_, err = s.RemovePeer(ctx, removal(pending.ID, "abandoned"))
	must(t, err)
	if p, _ := s.FindPeer(ctx, pending.ID); p.State != mosaic.PeerRevoked {
		t.Fatalf("removed pending outbound peer is %s", p.State)
	}
}

// testRegrantRemovedPeer gives a removed peer a new grant: the peer is
// pending again, without its old certificate, and enrolls under the new
// grant; the old grant stays revoked.
func testRegrantRemovedPeer(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	e := newEnrollment(t, s, time.Minute)
	must(t, s.ClaimToken(ctx, e.token.Hash, "claim", time.Minute))
	must(t, s.ActivateGrant(ctx, e.activation("claim")))
	_, err := s.RemovePeer(ctx, removal(e.peer.ID, "paused"))
	must(t, err)

	next := &enrollment{user: e.user, peer: e.peer}
	next.grant = newGrant(t, s, e.user.ID, e.peer.ID)
	p, err := s.FindPeer(ctx, e.peer.ID)
	must(t, err)
	if p.State != mosaic.PeerPending || p.CertPEM != "" || p.CertSerial != "" ||
		p.CertFingerprint != "" || p.CertNotAfter != nil {
		t.Fatalf("removed peer given a new grant = %+v, want pending without certificate", p)
	}
	tok, err := s.CreateToken(ctx, newHash(t), next.grant.ID, e.peer.ID, time.Minute)
	must(t, err)
	next.token = tok
	must(t, s.ClaimToken(ctx, tok.Hash, "claim", time.Minute))
	a := next.activation("claim")
	must(t, s.ActivateGrant(ctx, a))
	p, err = s.FindPeer(ctx, e.peer.ID)
	must(t, err)
	if p.State != mosaic.PeerActive || p.CertSerial != a.CertSerial {
		t.Fatalf("peer after enrolling again = %+v, want active with serial %s", p, a.CertSerial)
	}
	if g, _ := s.FindGrant(ctx, e.grant.ID); g.Status != mosaic.GrantRevoked {
		t.Fatalf("old grant is %s after the peer enrolled again, want revoked", g.Status)
	}
}

// testRemovePeerConcurrentGrant races a removal of a peer with a new grant
// for it, many times: whichever comes first, a peer left revoked has no
// live grant, so no grant is stranded on a peer that cannot enroll.
func testRemovePeerConcurrentGrant(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	u := newUser(t, s)
	for i := range 20 {
		p := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerActive)
		newGrant(t, s, u.ID, p.ID)
		var wg sync.WaitGroup
		var grantErr, removeErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			g := &mosaic.Grant{UserID: u.ID, PeerID: p.ID, Scope: testScope()}
			grantErr = s.CreateGrant(ctx, g, nil)
		}()
		go func() {
			defer wg.Done()
			_, removeErr = s.RemovePeer(ctx, removal(p.ID, "race"))
		}()
		wg.Wait()
		must(t, grantErr)
		must(t, removeErr)

		got, err := s.FindPeer(ctx, p.ID)
		must(t, err)
		grants, err := s.ListGrants(ctx, mosaic.GrantFilter{PeerID: p.ID})
		must(t, err)
		live := 0
		for _, g := range grants {
			if g.Status == mosaic.GrantPending || g.Status == mosaic.GrantActive {
				live++
			}
		}
		switch {
		case got.State == mosaic.PeerRevoked && live != 0:
			t.Fatalf("round %d: peer revoked with %d live grants", i, live)
		case got.State == mosaic.PeerPending && live != 1:
			t.Fatalf("round %d: peer pending again with %d live grants, want the new one", i, live)
		case got.State != mosaic.PeerRevoked && got.State != mosaic.PeerPending:
			t.Fatalf("round %d: peer is %s", i, got.State)
		}
	}
}
