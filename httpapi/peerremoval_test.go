package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// TestRemovePeer removes an enrolled peer through the admin API while its
// client keeps a connection open: the next read on that connection is
// refused, the answers of bad requests are JSON errors that change
// nothing, and a new grant by peer id lets the peer enroll and read again.
func TestRemovePeer(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	cert := g.enroll(t, g.issueToken(t, gr.ID).Token)
	client := g.fedClient(t, cert)
	g.fedDo(t, client, "GET", "/api/federation/v1/tasks", nil).wantStatus(t, http.StatusOK)
	path := "/api/admin/federation/peers/" + gr.PeerID + "/remove"

	// Refusals first: none of them changes anything.
	g.adminDo(t, "POST", "/api/admin/federation/peers/"+mosaic.NewID()+"/remove", nil).
		wantError(t, 404, "peer_not_found")
	g.adminDo(t, "POST", "/api/admin/federation/peers/nope/remove", nil).
		wantError(t, 404, "not_found")
	g.adminDo(t, "POST", path, map[string]any{"reason": "x", "force": true}).
		wantError(t, 400, "unknown_field")
	g.adminDo(t, "POST", path, map[string]any{"reason": "tab\there"}).
		wantError(t, 400, "invalid_reason")
	g.adminDo(t, "GET", path, nil).wantError(t, 405, "method_not_allowed")
	g.fedDo(t, client, "GET", "/api/federation/v1/tasks", nil).wantStatus(t, http.StatusOK)

	// Removal: the grant is revoked, the open connection refused.
	a := g.adminDo(t, "POST", path, map[string]string{"reason": "contract ended"})
	a.wantStatus(t, http.StatusOK)
	var out mosaic.PeerRemoved
	a.decode(t, &out)
	if out.Peer == nil || out.Peer.State != mosaic.PeerRevoked || len(out.Revoked) != 1 ||
		out.Revoked[0].ID != gr.ID || out.Revoked[0].RevokedReason != "contract ended" {
		t.Fatalf("removal answer = %s", a.body)
	}
	g.fedDo(t, client, "GET", "/api/federation/v1/tasks", nil).
		wantError(t, 403, "grant_not_active")
	g.adminDo(t, "POST", path, nil).wantError(t, 409, "peer_removed")
	evs := g.audit(t, "peer="+gr.PeerID)
	if len(evs) < 3 || evs[1].Verb != mosaic.VerbRemovePeer ||
		evs[2].Verb != mosaic.VerbRevoke || evs[2].GrantID != gr.ID {
		t.Errorf("audit of the peer, newest first: %+v", evs)
	}

	// A new grant for the same peer id: enroll and read again.
	a = g.adminDo(t, "POST", "/api/admin/federation/grants", map[string]any{
		"userId": ada.ID, "peerId": gr.PeerID, "scope": tasksScope,
	})
	a.wantStatus(t, http.StatusCreated)
	var again mosaic.Grant
	a.decode(t, &again)
	cert = g.enroll(t, g.issueToken(t, again.ID).Token)
	g.fedDo(t, g.fedClient(t, cert), "GET", "/api/federation/v1/tasks", nil).
		wantStatus(t, http.StatusOK)
}
