package federation_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
)

// expireCert moves the clock past the peer's certificate's end.
func (e *renewEnv) expireCert(t *testing.T) {
	t.Helper()
	e.clock.advance(e.peer.Leaf.NotAfter.Sub(e.clock.now()) + time.Second)
}

// TestReenrollWithTokenOfPendingGrant issues two tokens while the grant is
// pending; the peer enrolls with one. The other must never re-enroll the
// grant, not even once the certificate has expired: re-enrollment needs a
// token issued for it.
func TestReenrollWithTokenOfPendingGrant(t *testing.T) {
	c := &clock{}
	g := fedtest.New(t, fedtest.Options{Now: c.now, CAOnServiceClock: true,
		CertLifetime: 5 * time.Minute})
	ada := g.User(t, "Ada")
	gr := g.Grant(t, ada.ID, fedtest.Scope(5, "tasks"))
	first, spare := g.Token(t, gr.ID), g.Token(t, gr.ID)
	_, csr := fedtest.NewCSR(t)
	out, err := redeem(g, first.Token.Reveal(), csr)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := pki.ParseCerts(out.CertPEM)

	_, other := fedtest.NewCSR(t)
	_, err = redeem(g, spare.Token.Reveal(), other)
	wantCode(t, err, 409, "grant_not_pending")

	c.advance(leaf[0].NotAfter.Sub(c.now()) + time.Second)
	_, err = redeem(g, spare.Token.Reveal(), other)
	if err == nil {
		t.Fatal("a token issued for the pending grant re-enrolled it after its certificate expired")
	}
	wantCode(t, err, 409, "grant_not_pending")
	serial, _ := g.Store.GrantCertSerial(context.Background(), gr.ID)
	if serial != pki.SerialHex(leaf[0]) {
		t.Fatalf("grant serial %s, want the expired %s", serial, pki.SerialHex(leaf[0]))
	}
}

// TestReenrollRaces has re-enrollment tokens redeemed against each other
// and against a revocation, with the first redeem held inside the CA.
func TestReenrollRaces(t *testing.T) {
	t.Run("two tokens", func(t *testing.T) {
		e := newRenewEnv(t)
		ctx := context.Background()
		e.expireCert(t)
		t1, err := e.g.Svc.IssueToken(ctx, e.peer.Grant.ID, "", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		t2, err := e.g.Svc.IssueToken(ctx, e.peer.Grant.ID, "", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		slowErr, winner := raceRedeem(t, e, t1.Token.Reveal(), func() error {
			_, csr := fedtest.NewCSR(t)
			_, err := redeem(e.g, t2.Token.Reveal(), csr)
			return err
		})
		if winner != nil {
			t.Fatalf("the redeem not held failed: %v", winner)
		}
		wantCode(t, slowErr, 409, "certificate_replaced")
		allowed := 0
		for _, ev := range enrollEvents(t, e.g, e.peer.Grant.ID) {
			if ev.Outcome == mosaic.OutcomeAllowed {
				allowed++
			}
		}
		if allowed != 2 { // the first enrollment and one re-enrollment
			t.Fatalf("%d allowed enrollments, want 2", allowed)
		}

		// The loser's token was issued for the certificate replaced since:
		// once the new one expires too, it still cannot replace it.
		nu, err := e.g.Store.GrantCert(ctx, e.peer.Grant.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.advance(nu.NotAfter.Sub(e.clock.now()) + time.Second)
		_, csr := fedtest.NewCSR(t)
		_, err = redeem(e.g, t1.Token.Reveal(), csr)
		wantCode(t, err, 409, "grant_not_pending")
		if got := e.currentSerial(t); got != nu.Serial {
			t.Fatalf("a token for a replaced certificate re-enrolled the grant: %s", got)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		e := newRenewEnv(t)
		ctx := context.Background()
		e.expireCert(t)
		tok, err := e.g.Svc.IssueToken(ctx, e.peer.Grant.ID, "", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		before := e.state(t)
		slowErr, revErr := raceRedeem(t, e, tok.Token.Reveal(), func() error {
			_, err := e.g.Svc.Revoke(ctx, e.peer.Grant.ID, "stop")
			return err
		})
		if revErr != nil {
			t.Fatal(revErr)
		}
		wantCode(t, slowErr, 409, "grant_not_active")
		if after := e.state(t); after.cert.Serial != before.cert.Serial {
			t.Fatalf("a revoked grant took the re-enrolled certificate %s", after.cert.Serial)
		}
		_, csr := fedtest.NewCSR(t)
		_, err = redeem(e.g, tok.Token.Reveal(), csr)
		wantCode(t, err, 409, "grant_not_pending")
	})
}

// raceRedeem redeems token with a fresh key, held inside the CA while
// meanwhile runs, and returns the held redeem's error and meanwhile's.
func raceRedeem(t *testing.T, e *renewEnv, token string, meanwhile func() error) (error, error) {
	t.Helper()
	entered, release := e.g.FaultCA.Hold()
	var slow error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, csr := fedtest.NewCSR(t)
		_, slow = redeem(e.g, token, csr)
	}()
	<-entered
	other := meanwhile()
	release()
	wg.Wait()
	return slow, other
}

// TestReenrollRacingRenewal races a re-enrollment against a renewal, on
// replicas whose settings drifted apart: one issues certificates for 10
// minutes and keeps a replaced one for an hour, so that the grant's
// current certificate expires while the one it replaced is still
// accepted. Whichever of the two stores first wins; the other is a 409
// and changes nothing.
func TestReenrollRacingRenewal(t *testing.T) {
	for _, first := range []string{"renewal", "re-enrollment"} {
		t.Run(first+" first", func(t *testing.T) {
			ctx := context.Background()
			e := newRenewEnv(t)
			drifted := federation.New(federation.Config{
				Store: e.g.Faults, CA: e.g.FaultCA, Sealer: e.g.Sealer, Now: e.clock.now,
				PublicURL: e.g.PublicURL, CAPin: e.g.CA.Pin(),
				CAPEM:        pki.EncodeCerts(e.g.CA.Root()),
				CertLifetime: 10 * time.Minute, RenewOverlap: time.Hour,
			})
			key, csr := fedtest.NewCSR(t)
			out, err := drifted.Renew(ctx, federation.RenewInput{Certs: e.peer.Chain(t),
				CSRPEM: csr, Source: source})
			if err != nil {
				t.Fatal(err)
			}
			short := renewed(t, e.peer.Grant, key, out)
			e.clock.advance(short.Leaf.NotAfter.Sub(e.clock.now()) + time.Second)
			if e.read(e.peer.Chain(t)) != nil {
				t.Fatal("the replaced certificate no longer reads during the overlap")
			}
			tok, err := e.g.Svc.IssueToken(ctx, e.peer.Grant.ID, "", time.Minute)
			if err != nil {
				t.Fatal(err)
			}

			renew := func() error {
				_, csr := fedtest.NewCSR(t)
				_, err := e.renew(e.peer.Chain(t), csr)
				return err
			}
			reenroll := func() error {
				_, csr := fedtest.NewCSR(t)
				_, err := redeem(e.g, tok.Token.Reveal(), csr)
				return err
			}
			held, other := renew, reenroll
			if first == "renewal" {
				held, other = reenroll, renew
			}
			entered, release := e.g.FaultCA.Hold()
			var heldErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				heldErr = held()
			}()
			<-entered
			otherErr := other()
			release()
			<-done
			if otherErr != nil {
				t.Fatalf("the %s that was not held: %v", first, otherErr)
			}
			wantCode(t, heldErr, 409, "certificate_replaced")
			allowed := 0
			for _, ev := range e.g.Audit(t, mosaic.AuditFilter{GrantID: e.peer.Grant.ID}) {
				if ev.Outcome == mosaic.OutcomeAllowed && ev.Time.After(short.Leaf.NotAfter) {
					allowed++
				}
			}
			if allowed != 2 { // the replaced certificate's read, and the winner
				t.Fatalf("%d allowed events after the expiry, want 2", allowed)
			}
		})
	}
}
