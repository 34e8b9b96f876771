package storetest

import (
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// testReenrollTokenBinding checks that a token re-enrolls only the
// certificate it was issued to replace: a token made while the grant was
// pending, and one made for a certificate replaced since, cannot replace
// the grant's current certificate, and change nothing when they try.
func testReenrollTokenBinding(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	e := newEnrollment(t, s, time.Minute)
	spare, err := s.CreateToken(ctx, newHash(t), e.grant.ID, e.peer.ID, time.Minute)
	must(t, err)
	if spare.ReplacesSerial != "" {
		t.Fatalf("token of a pending grant replaces %q", spare.ReplacesSerial)
	}
	must(t, s.ClaimToken(ctx, e.token.Hash, "claim", time.Minute))
	a := e.activation("claim")
	must(t, s.ActivateGrant(ctx, a))

	// The token made while pending.
	must(t, s.ClaimToken(ctx, spare.Hash, "spare", time.Minute))
	e.token = spare
	stale := e.activation("spare")
	stale.ReplacesSerial = a.CertSerial
	wantErr(t, s.ActivateGrant(ctx, stale), mosaic.KindConflict, "grant_not_pending")

	// A token for the current certificate records it and replaces it.
	tok, err := s.CreateReenrollToken(ctx, newHash(t), e.grant.ID, e.peer.ID, a.CertSerial,
		time.Minute)
	must(t, err)
	found, err := s.FindToken(ctx, tok.Hash)
	must(t, err)
	if tok.ReplacesSerial != a.CertSerial || found.ReplacesSerial != a.CertSerial {
		t.Fatalf("re-enrollment token replaces %q (found %q), want %q", tok.ReplacesSerial,
			found.ReplacesSerial, a.CertSerial)
	}
	late, err := s.CreateReenrollToken(ctx, newHash(t), e.grant.ID, e.peer.ID, a.CertSerial,
		time.Minute)
	must(t, err)
	must(t, s.ClaimToken(ctx, tok.Hash, "re", time.Minute))
	e.token = tok
	b := e.activation("re")
	b.ReplacesSerial = a.CertSerial
	must(t, s.ActivateGrant(ctx, b))

	// A token for the replaced certificate, claimed as if for the new one.
	must(t, s.ClaimToken(ctx, late.Hash, "late", time.Minute))
	e.token = late
	again := e.activation("late")
	again.ReplacesSerial = b.CertSerial
	wantErr(t, s.ActivateGrant(ctx, again), mosaic.KindConflict, "grant_not_pending")
	if c := grantCert(t, s, e.grant.ID); c.Serial != b.CertSerial {
		t.Fatalf("grant serial %q, want %q", c.Serial, b.CertSerial)
	}
	for _, h := range []string{spare.Hash, late.Hash} {
		if got, _ := s.FindToken(ctx, h); got.UsedAt != nil {
			t.Fatal("a refused re-enrollment used its token")
		}
	}
}
