package federation_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
)

// TestRemoveInboundPeer removes a peer holding an active grant and a
// pending one with an unused token: the next read is refused, the token
// can no longer be redeemed, each grant is revoked and audited. A new
// grant for the same peer id makes it pending again; it enrolls and reads.
func TestRemoveInboundPeer(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	ada := g.User(t, "Ada")
	if _, err := g.Svc.CreateTask(ctx, mosaic.Task{UserID: ada.ID, Title: "t"}); err != nil {
		t.Fatal(err)
	}
	e := g.Enroll(t, ada.ID, fedtest.Scope(5, "tasks"))
	peerID := e.Grant.PeerID
	pending, err := g.Svc.CreateGrant(ctx, federation.GrantInput{
		UserID: ada.ID, PeerID: peerID, Scope: fedtest.Scope(5, "notes")})
	if err != nil {
		t.Fatal(err)
	}
	token := g.Token(t, pending.ID).Token.Reveal()
	if _, err := readAs(t, g, e); err != nil {
		t.Fatalf("read before removal: %v", err)
	}

	out, err := g.Svc.RemovePeer(ctx, peerID, "")
	if err != nil {
		t.Fatal(err)
	}
	if out.Peer.State != mosaic.PeerRevoked || len(out.Revoked) != 2 {
		t.Fatalf("removal = peer %s, %d grants revoked; want revoked, 2", out.Peer.State,
			len(out.Revoked))
	}
	for _, gr := range out.Revoked {
		if gr.RevokedReason != mosaic.DefaultRemovalReason {
			t.Errorf("grant %s revoked for %q, want %q", gr.ID, gr.RevokedReason,
				mosaic.DefaultRemovalReason)
		}
		evs := g.Audit(t, mosaic.AuditFilter{GrantID: gr.ID})
		if evs[0].Verb != mosaic.VerbRevoke || evs[0].Reason != mosaic.DefaultRemovalReason {
			t.Errorf("newest audit event of grant %s = %+v, want its revocation", gr.ID, evs[0])
		}
	}
	if evs := g.Audit(t, mosaic.AuditFilter{PeerID: peerID}); evs[0].Verb != mosaic.VerbRemovePeer {
		t.Errorf("newest audit event of the peer = %+v, want its removal", evs[0])
	}

	// Every certificate and token of the peer is dead.
	_, err = readAs(t, g, e)
	wantCode(t, err, 403, "grant_not_active")
	_, csr := fedtest.NewCSR(t)
	_, err = redeem(g, token, csr)
	wantCode(t, err, 409, "grant_not_pending")
	_, err = g.Svc.IssueToken(ctx, pending.ID, "", 0)
	wantCode(t, err, 409, "grant_not_pending")

	// A new grant for the same peer: pending again, then enrolled.
	again, err := g.Svc.CreateGrant(ctx, federation.GrantInput{
		UserID: ada.ID, PeerID: peerID, Scope: fedtest.Scope(5, "tasks")})
	if err != nil {
		t.Fatalf("new grant for a removed peer: %v", err)
	}
	if p, _ := g.Svc.FindPeer(ctx, peerID); p.State != mosaic.PeerPending || p.CertSerial != "" {
		t.Fatalf("removed peer with a new grant = %+v, want pending without certificate", p)
	}
	certs := redeemChain(t, g, again.ID)
	page, err := g.Svc.ReadFederated(ctx, federation.FederatedRequest{
		Certs: certs, Resource: "tasks", Source: source, RequestID: "after"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("read with the new grant: %+v, %v; want one task", page, err)
	}
	if p, _ := g.Svc.FindPeer(ctx, peerID); p.State != mosaic.PeerActive {
		t.Fatalf("peer after enrolling again is %s, want active", p.State)
	}
	_, err = readAs(t, g, e)
	wantCode(t, err, 403, "grant_not_active")
}

// readAs sends a federated read of tasks with an enrollment's certificate.
func readAs(t *testing.T, g *fedtest.Gateway, e *fedtest.Enrollment) (
	*federation.FederatedPage, error) {
	return g.Svc.ReadFederated(context.Background(), federation.FederatedRequest{
		Certs: e.Chain(t), Resource: "tasks", Source: source, RequestID: "req-" + mosaic.NewID(),
	})
}

func TestRemovePeerRefusals(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	e := g.Enroll(t, g.User(t, "Ada").ID, fedtest.Scope(5, "tasks"))
	peerID := e.Grant.PeerID

	_, err := g.Svc.RemovePeer(ctx, "not-an-id", "")
	wantCode(t, err, 404, "not_found")
	_, err = g.Svc.RemovePeer(ctx, mosaic.NewID(), "")
	wantCode(t, err, 404, "peer_not_found")
	_, err = g.Svc.RemovePeer(ctx, peerID, "line\nbreak")
	wantCode(t, err, 400, "invalid_reason")
	if gr, _ := g.Svc.FindGrant(ctx, e.Grant.ID); gr.Status != mosaic.GrantActive {
		t.Fatalf("grant is %s after refused removals, want active", gr.Status)
	}

	if _, err := g.Svc.RemovePeer(ctx, peerID, "first"); err != nil {
		t.Fatal(err)
	}
	events := len(g.Audit(t, mosaic.AuditFilter{}))
	_, err = g.Svc.RemovePeer(ctx, peerID, "second")
	wantCode(t, err, 409, "peer_removed")
	if n := len(g.Audit(t, mosaic.AuditFilter{})); n != events {
		t.Errorf("a refused removal wrote %d audit events", n-events)
	}
	if gr, _ := g.Svc.FindGrant(ctx, e.Grant.ID); gr.RevokedReason != "first" {
		t.Errorf("grant revoked for %q after a second removal, want first", gr.RevokedReason)
	}
}

// TestRemoveOutboundPeer removes, on the reader's side, an active outbound
// peer: our sealed key and certificate are gone, and queries through it
// are refused with 409 peer_removed.
func TestRemoveOutboundPeer(t *testing.T) {
	a := fedtest.New(t, fedtest.Options{})
	b := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	peerID, res := outboundEnrollment(t, a, b, b.CA.Pin())
	if _, err := a.Svc.StoreOutboundCert(ctx, peerID, res.CertPEM, res.CertChainPEM,
		res.CAPEM); err != nil {
		t.Fatal(err)
	}

	out, err := a.Svc.RemovePeer(ctx, peerID, "contract ended")
	if err != nil {
		t.Fatal(err)
	}
	if out.Peer.State != mosaic.PeerRevoked || len(out.Revoked) != 0 || out.Peer.CertPEM != "" {
		t.Fatalf("removal = %+v", out)
	}
	p, err := a.Store.FindPeer(ctx, peerID)
	if err != nil {
		t.Fatal(err)
	}
	if p.SealedKey != nil || p.CertPEM != "" || p.CertChainPEM != "" {
		t.Errorf("removed outbound peer keeps key (%d bytes) or certificates", len(p.SealedKey))
	}
	_, err = a.Svc.QueryPeer(ctx, peerID, "tasks", url.Values{})
	wantCode(t, err, 409, "peer_removed")
	evs := a.Audit(t, mosaic.AuditFilter{PeerID: peerID})
	if len(evs) != 1 || evs[0].Verb != mosaic.VerbRemovePeer || evs[0].Reason != "contract ended" {
		t.Errorf("audit of the outbound removal = %+v", evs)
	}
	_, err = a.Svc.StoreOutboundCert(ctx, peerID, res.CertPEM, res.CertChainPEM, res.CAPEM)
	wantCode(t, err, 409, "peer_not_pending")
}
