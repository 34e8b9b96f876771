package storetest

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// activeEnrollment is an enrollment whose grant was activated with the
// certificate of a.
func activeEnrollment(t *testing.T, s mosaic.Store) (*enrollment, mosaic.Activation) {
	t.Helper()
	e := newEnrollment(t, s, time.Minute)
	must(t, s.ClaimToken(t.Context(), e.token.Hash, "claim", time.Minute))
	a := e.activation("claim")
	must(t, s.ActivateGrant(t.Context(), a))
	return e, a
}

// renewal returns the renewal of e's grant from the certificate with
// serial current, presented with presented, at at.
func (e *enrollment) renewal(current, presented string, at time.Time) mosaic.GrantRenewal {
	serial := unique("renewed")
	return mosaic.GrantRenewal{
		GrantID:         e.grant.ID,
		PeerID:          e.peer.ID,
		PresentedSerial: presented,
		CurrentSerial:   current,
		CertPEM:         "-----BEGIN CERTIFICATE-----\n" + serial + "\n-----END CERTIFICATE-----\n",
		CertSerial:      serial,
		CertFingerprint: serial + "-fp",
		CertNotAfter:    at.Add(24 * time.Hour),
		OverlapUntil:    at.Add(10 * time.Minute),
		At:              at,
		Event: &mosaic.AuditEvent{
			RequestID: unique("req"), PeerID: e.peer.ID, GrantID: e.grant.ID,
			SubjectUserID: e.user.ID, Verb: mosaic.VerbRenew, Status: 200,
			Outcome: mosaic.OutcomeAllowed, CertSerial: serial,
		},
	}
}

// grantCert reads a grant's certificate state.
func grantCert(t *testing.T, s mosaic.Store, grantID string) *mosaic.GrantCert {
	t.Helper()
	c, err := s.GrantCert(t.Context(), grantID)
	must(t, err)
	return c
}

func testRenewGrantCert(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	e, a := activeEnrollment(t, s)
	c := grantCert(t, s, e.grant.ID)
	if c.Serial != a.CertSerial || c.NotAfter == nil || c.PrevSerial != "" || c.PrevUntil != nil {
		t.Fatalf("certificate of an activated grant = %+v", c)
	}
	sameTime(t, "NotAfter", *c.NotAfter, a.CertNotAfter)

	// The current certificate is renewed: the old serial overlaps.
	at := time.Date(2030, 6, 2, 12, 0, 0, 0, time.UTC)
	r1 := e.renewal(a.CertSerial, a.CertSerial, at)
	must(t, s.RenewGrantCert(ctx, r1))
	c = grantCert(t, s, e.grant.ID)
	if c.Serial != r1.CertSerial || c.PrevSerial != a.CertSerial || c.PrevUntil == nil {
		t.Fatalf("certificate after renewal = %+v", c)
	}
	sameTime(t, "NotAfter", *c.NotAfter, r1.CertNotAfter)
	sameTime(t, "PrevUntil", *c.PrevUntil, r1.OverlapUntil)
	if !c.Accepts(a.CertSerial, at.Add(9*time.Minute)) || c.Accepts(a.CertSerial, r1.OverlapUntil) ||
		!c.Accepts(r1.CertSerial, at.Add(time.Hour)) {
		t.Fatal("Accepts does not follow the overlap")
	}
	p, err := s.FindPeer(ctx, e.peer.ID)
	must(t, err)
	if p.CertSerial != r1.CertSerial || p.CertPEM != r1.CertPEM || p.State != mosaic.PeerActive {
		t.Fatalf("peer after renewal = %+v", p)
	}
	sameTime(t, "peer CertNotAfter", *p.CertNotAfter, r1.CertNotAfter)
	if evs := auditOf(t, s, e.grant.ID); r1.Event.ID == 0 || evs[0].ID != r1.Event.ID ||
		evs[0].Verb != mosaic.VerbRenew || evs[0].CertSerial != r1.CertSerial {
		t.Fatalf("audit after renewal = %+v, want the renewal's event first", evs)
	}

	// A renewal with the previous serial, during its overlap, replaces the
	// current certificate but does not extend the overlap.
	r2 := e.renewal(r1.CertSerial, a.CertSerial, at.Add(5*time.Minute))
	must(t, s.RenewGrantCert(ctx, r2))
	c = grantCert(t, s, e.grant.ID)
	if c.Serial != r2.CertSerial || c.PrevSerial != a.CertSerial {
		t.Fatalf("certificate after renewal with the previous serial = %+v", c)
	}
	sameTime(t, "PrevUntil", *c.PrevUntil, r1.OverlapUntil)

	// After the overlap the previous serial is refused.
	r3 := e.renewal(r2.CertSerial, a.CertSerial, r1.OverlapUntil)
	wantErr(t, s.RenewGrantCert(ctx, r3), mosaic.KindConflict, "serial_superseded")
	if got := grantCert(t, s, e.grant.ID); got.Serial != r2.CertSerial {
		t.Fatalf("refused renewal replaced the serial with %q", got.Serial)
	}
}

// testRenewGrantCertRefused checks that a renewal that cannot finish
// changes nothing: not the grant, not the peer, not the audit log.
func testRenewGrantCertRefused(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	at := time.Date(2030, 6, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		setup func(t *testing.T, e *enrollment, a mosaic.Activation) mosaic.GrantRenewal
		kind  mosaic.Kind
		code  string
	}{
		{"lost race", func(t *testing.T, e *enrollment, a mosaic.Activation) mosaic.GrantRenewal {
			must(t, s.RenewGrantCert(ctx, e.renewal(a.CertSerial, a.CertSerial, at)))
			return e.renewal(a.CertSerial, a.CertSerial, at)
		}, mosaic.KindConflict, "certificate_replaced"},
		{"revoked", func(t *testing.T, e *enrollment, a mosaic.Activation) mosaic.GrantRenewal {
			_, err := s.RevokeGrant(ctx, e.grant.ID, "", time.Time{}, revokeEvent(e.grant.ID))
			must(t, err)
			return e.renewal(a.CertSerial, a.CertSerial, at)
		}, mosaic.KindConflict, "grant_not_active"},
		{"unknown serial", func(t *testing.T, e *enrollment,
			a mosaic.Activation) mosaic.GrantRenewal {
			return e.renewal(a.CertSerial, "feed", at)
		}, mosaic.KindConflict, "serial_superseded"},
		{"other peer", func(t *testing.T, e *enrollment, a mosaic.Activation) mosaic.GrantRenewal {
			r := e.renewal(a.CertSerial, a.CertSerial, at)
			r.PeerID = newPeer(t, s, mosaic.PeerInbound, mosaic.PeerActive).ID
			return r
		}, mosaic.KindConflict, "peer_mismatch"},
		{"unknown grant", func(t *testing.T, e *enrollment,
			a mosaic.Activation) mosaic.GrantRenewal {
			r := e.renewal(a.CertSerial, a.CertSerial, at)
			r.GrantID = mosaic.NewID()
			return r
		}, mosaic.KindNotFound, "grant_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, a := activeEnrollment(t, s)
			r := tt.setup(t, e, a)
			cert := grantCert(t, s, e.grant.ID)
			peer, err := s.FindPeer(ctx, e.peer.ID)
			must(t, err)
			audits := len(auditOf(t, s, e.grant.ID))

			wantErr(t, s.RenewGrantCert(ctx, r), tt.kind, tt.code)
			if r.Event.ID != 0 {
				t.Fatalf("refused renewal gave its event id %d", r.Event.ID)
			}
			after := grantCert(t, s, e.grant.ID)
			if after.Serial != cert.Serial || after.PrevSerial != cert.PrevSerial {
				t.Fatalf("grant certificate changed: %+v, was %+v", after, cert)
			}
			p, err := s.FindPeer(ctx, e.peer.ID)
			must(t, err)
			if p.CertSerial != peer.CertSerial || p.CertPEM != peer.CertPEM {
				t.Fatalf("peer changed: %+v, was %+v", p, peer)
			}
			if n := len(auditOf(t, s, e.grant.ID)); n != audits {
				t.Fatalf("%d audit events, was %d", n, audits)
			}
		})
	}
}

// testRenewGrantCertConcurrent races renewals of one certificate: exactly
// one replaces it, the others lose with KindConflict.
func testRenewGrantCertConcurrent(t *testing.T, s mosaic.Store) {
	e, a := activeEnrollment(t, s)
	at := time.Date(2030, 6, 2, 12, 0, 0, 0, time.UTC)
	const n = 8
	errs := make([]error, n)
	renewals := make([]mosaic.GrantRenewal, n)
	var wg sync.WaitGroup
	for i := range n {
		renewals[i] = e.renewal(a.CertSerial, a.CertSerial, at)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.RenewGrantCert(t.Context(), renewals[i])
		}()
	}
	wg.Wait()

	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("renewals %d and %d both won", won, i)
		case err == nil:
			won = i
		case !mosaic.IsKind(err, mosaic.KindConflict) && !mosaic.IsKind(err, mosaic.KindUnavailable):
			t.Fatalf("renewal %d: %v, want a conflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no renewal won")
	}
	if c := grantCert(t, s, e.grant.ID); c.Serial != renewals[won].CertSerial ||
		c.PrevSerial != a.CertSerial {
		t.Fatalf("certificate = %+v, want the winner's %s", c, renewals[won].CertSerial)
	}
	renewed := 0
	for _, ev := range auditOf(t, s, e.grant.ID) {
		if ev.Verb == mosaic.VerbRenew {
			renewed++
		}
	}
	if renewed != 1 {
		t.Fatalf("%d renewal events, want 1", renewed)
	}
}

func testReenrollment(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	e, a := activeEnrollment(t, s)
	must(t, s.RenewGrantCert(ctx, e.renewal(a.CertSerial, a.CertSerial, a.At)))
	current := grantCert(t, s, e.grant.ID).Serial

	// A token only for the grant's current serial and its own peer.
	_, err := s.CreateReenrollToken(ctx, newHash(t), e.grant.ID, e.peer.ID, a.CertSerial,
		time.Minute)
	wantErr(t, err, mosaic.KindConflict, "certificate_replaced")
	other := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerActive)
	_, err = s.CreateReenrollToken(ctx, newHash(t), e.grant.ID, other.ID, current, time.Minute)
	wantErr(t, err, mosaic.KindInvalid, "peer_mismatch")
	pending := newEnrollment(t, s, time.Minute)
	_, err = s.CreateReenrollToken(ctx, newHash(t), pending.grant.ID, pending.peer.ID, "01",
		time.Minute)
	wantErr(t, err, mosaic.KindConflict, "grant_not_active")

	tok, err := s.CreateReenrollToken(ctx, newHash(t), e.grant.ID, e.peer.ID, current, time.Minute)
	must(t, err)
	recent(t, "CreatedAt", tok.CreatedAt)
	if d := tok.ExpiresAt.Sub(tok.CreatedAt); d != time.Minute {
		t.Fatalf("token lives %s, want 1m", d)
	}

	// Redeeming it replaces the certificate and ends the overlap.
	must(t, s.ClaimToken(ctx, tok.Hash, "re", time.Minute))
	e.token = tok
	b := e.activation("re")
	b.ReplacesSerial = current
	must(t, s.ActivateGrant(ctx, b))
	c := grantCert(t, s, e.grant.ID)
	if c.Serial != b.CertSerial || c.PrevSerial != "" || c.PrevUntil != nil {
		t.Fatalf("certificate after re-enrollment = %+v", c)
	}
	sameTime(t, "NotAfter", *c.NotAfter, b.CertNotAfter)
	if p, _ := s.FindPeer(ctx, e.peer.ID); p.CertSerial != b.CertSerial {
		t.Fatalf("peer serial %q after re-enrollment, want %q", p.CertSerial, b.CertSerial)
	}
	if got, _ := s.FindToken(ctx, tok.Hash); got.UsedAt == nil || got.IssuedSerial != b.CertSerial {
		t.Fatalf("token after re-enrollment = %+v", got)
	}

	// A second re-enrollment for the replaced serial loses.
	tok2, err := s.CreateReenrollToken(ctx, newHash(t), e.grant.ID, e.peer.ID, b.CertSerial,
		time.Minute)
	must(t, err)
	must(t, s.ClaimToken(ctx, tok2.Hash, "late", time.Minute))
	e.token = tok2
	late := e.activation("late")
	late.ReplacesSerial = current
	wantErr(t, s.ActivateGrant(ctx, late), mosaic.KindConflict, "certificate_replaced")
	if got := grantCert(t, s, e.grant.ID); got.Serial != b.CertSerial {
		t.Fatalf("lost re-enrollment replaced the serial with %q", got.Serial)
	}
	if got, _ := s.FindToken(ctx, tok2.Hash); got.UsedAt != nil {
		t.Fatal("lost re-enrollment used its token")
	}
}

// testGrantAccess checks that GrantAccess reads what FindGrant, GrantCert
// and FindPeer read, at each step of a grant's life.
func testGrantAccess(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	wantSame := func(t *testing.T, step, grantID string) {
		t.Helper()
		got, err := s.GrantAccess(ctx, grantID)
		must(t, err)
		g, err := s.FindGrant(ctx, grantID)
		must(t, err)
		p, err := s.FindPeer(ctx, g.PeerID)
		must(t, err)
		if !reflect.DeepEqual(got.Grant, g) || !reflect.DeepEqual(got.Cert, grantCert(t, s, grantID)) ||
			got.PeerState != p.State || got.PeerCommonName != p.CommonName {
			t.Fatalf("%s: GrantAccess = %+v %+v %s %q, want %+v %+v %s %q", step,
				got.Grant, got.Cert, got.PeerState, got.PeerCommonName,
				g, grantCert(t, s, grantID), p.State, p.CommonName)
		}
	}
	pending := newEnrollment(t, s, time.Minute)
	wantSame(t, "pending", pending.grant.ID)

	e, a := activeEnrollment(t, s)
	wantSame(t, "active", e.grant.ID)
	at := time.Date(2030, 6, 2, 12, 0, 0, 0, time.UTC)
	must(t, s.RenewGrantCert(ctx, e.renewal(a.CertSerial, a.CertSerial, at)))
	wantSame(t, "renewed", e.grant.ID)
	_, err := s.RevokeGrant(ctx, e.grant.ID, "done", time.Time{}, &mosaic.AuditEvent{
		Verb: mosaic.VerbRevoke, Status: 200, Outcome: mosaic.OutcomeAllowed})
	must(t, err)
	wantSame(t, "revoked", e.grant.ID)

	_, err = s.GrantAccess(ctx, mosaic.NewID())
	wantErr(t, err, mosaic.KindNotFound, "grant_not_found")
}
