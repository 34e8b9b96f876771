package federation_test

import (
	"context"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
)

// TestReadsAcrossCARotation enrolls a peer, rotates the CA, and enrolls
// another: the first keeps reading with the chain it got, the second's
// answer carries the new intermediate, and both read.
func TestReadsAcrossCARotation(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	ada := g.User(t, "Ada")
	if _, err := g.Svc.CreateTask(ctx, mosaic.Task{UserID: ada.ID, Title: "t"}); err != nil {
		t.Fatal(err)
	}
	before := g.Enroll(t, ada.ID, fedtest.Scope(5, "tasks"))
	oldInter := g.CA.Intermediate()

	if _, err := g.CA.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	after := g.Enroll(t, ada.ID, fedtest.Scope(5, "tasks"))
	newInter := g.CA.Intermediate()
	if want := pki.EncodeCerts(newInter, g.CA.Root()); after.Enrolled.CertChainPEM != want {
		t.Error("the enrollment after the rotation does not carry the new intermediate's chain")
	}
	if before.Enrolled.CertChainPEM != pki.EncodeCerts(oldInter, g.CA.Root()) ||
		before.Leaf.CheckSignatureFrom(oldInter) != nil {
		t.Fatal("the first enrollment was not the old intermediate's")
	}
	for name, e := range map[string]*fedtest.Enrollment{"old": before, "new": after} {
		if page, err := readAs(t, g, e); err != nil || len(page.Items) != 1 {
			t.Errorf("read with the %s intermediate's certificate: %+v, %v", name, page, err)
		}
	}
}

// TestRedeemRetryAcrossCARotation loses the answer of a redeem, rotates
// the CA, and retries with the same key: the same certificate comes back
// with the chain of the intermediate that issued it.
func TestRedeemRetryAcrossCARotation(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	_, token := pendingToken(t, g)
	_, csr := fedtest.NewCSR(t)
	first, err := redeem(g, token, csr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.CA.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, err := redeem(g, token, csr)
	if err != nil {
		t.Fatalf("retry after a rotation: %v", err)
	}
	if *again != *first {
		t.Errorf("retry after a rotation answered %+v, want the first answer", again)
	}
}

// TestRemovedPeerAfterRotation removes, after a rotation, a peer enrolled
// before it: the peer cannot read, and a new grant for it enrolls under
// the new intermediate.
func TestRemovedPeerAfterRotation(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	ada := g.User(t, "Ada")
	e := g.Enroll(t, ada.ID, fedtest.Scope(5, "tasks"))
	if _, err := g.CA.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Svc.RemovePeer(ctx, e.Grant.PeerID, ""); err != nil {
		t.Fatal(err)
	}
	_, err := readAs(t, g, e)
	wantCode(t, err, 403, "grant_not_active")
	gr, err := g.Svc.CreateGrant(ctx, federation.GrantInput{
		UserID: ada.ID, PeerID: e.Grant.PeerID, Scope: fedtest.Scope(5, "tasks")})
	if err != nil {
		t.Fatal(err)
	}
	certs := redeemChain(t, g, gr.ID)
	if certs[0].CheckSignatureFrom(g.CA.Intermediate()) != nil {
		t.Error("the enrollment after the rotation is not the new intermediate's")
	}
}
