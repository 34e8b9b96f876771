package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/httpapi"
)

// TestPeerRemove runs "federation peer remove" against a real admin API:
// the confirmation names the grants revoked, --json prints the answer, a
// second removal fails with one line, and an argument that is not an id
// never reaches the API.
func TestPeerRemove(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	admin := httptest.NewServer(httpapi.NewAdminHandler(g.Svc,
		mosaic.TokenSecret(testToken).Hash(), g.Logger))
	t.Cleanup(admin.Close)
	conn := []string{"--admin-url", admin.URL, "--admin-token", testToken}
	ctx := context.Background()

	ada := g.User(t, "Ada")
	first := g.Enroll(t, ada.ID, fedtest.Scope(5, "tasks")).Grant
	second, err := g.Svc.CreateGrant(ctx, federation.GrantInput{
		UserID: ada.ID, PeerID: first.PeerID, Scope: fedtest.Scope(5, "notes")})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "", append(conn, "federation", "peer", "remove", first.PeerID,
		"--reason", "contract ended")...).mustSucceed(t)
	for _, want := range []string{
		"peer " + first.PeerID + " (Peer of " + ada.ID + ", inbound) removed; it is now revoked\n",
		"2 grant(s) revoked: " + first.ID + ", " + second.ID + "\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout %q lacks %q", r.stdout, want)
		}
	}
	for _, id := range []string{first.ID, second.ID} {
		if gr, _ := g.Svc.FindGrant(ctx, id); gr.Status != mosaic.GrantRevoked ||
			gr.RevokedReason != "contract ended" {
			t.Errorf("grant %s after removal: %+v", id, gr)
		}
	}

	line := run(t, nil, "", append(conn, "federation", "peer", "remove", first.PeerID)...).
		mustFail(t)
	if line != "peer_removed: peer is already removed" {
		t.Errorf("second removal: %q", line)
	}
	line = run(t, nil, "", append(conn, "federation", "peer", "remove", "../grants")...).
		mustFail(t)
	if line != "invalid_peer: peer: not a valid id" {
		t.Errorf("removal of a path: %q", line)
	}

	// Outbound peers, as text and as JSON.
	keypair := func() string {
		id, _, err := g.Svc.CreateKeypair(ctx, federation.KeypairInput{CommonName: "a",
			DisplayName: "Gateway B", EndpointURL: "https://b.example", CAPin: g.CA.Pin()})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	out := keypair()
	r = run(t, nil, "", append(conn, "federation", "peer", "remove", out)...).mustSucceed(t)
	if !strings.Contains(r.stdout, "(Gateway B, outbound) removed") ||
		!strings.Contains(r.stdout, "our key and certificate for it are wiped") {
		t.Errorf("outbound removal stdout %q", r.stdout)
	}
	out = keypair()
	r = run(t, nil, "", append(conn, "federation", "peer", "remove", out, "--json")...).
		mustSucceed(t)
	var got mosaic.PeerRemoved
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Peer == nil ||
		got.Peer.ID != out || got.Peer.State != mosaic.PeerRevoked || got.Revoked == nil {
		t.Errorf("--json answer %q (%v)", r.stdout, err)
	}
	r = run(t, nil, "", append(conn, "federation", "peer", "remove", out)...)
	if r.mustFail(t); !strings.Contains(r.stderr, "peer_removed") {
		t.Errorf("second removal of the outbound peer: %q", r.stderr)
	}
}
