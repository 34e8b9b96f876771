package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// TestAdminLifecycleHostile sends the admin renewal and removal routes
// ids, bodies and orders a careless operator or a script gone wrong could
// send: each is a 4xx JSON error that changes nothing, never a 500.
func TestAdminLifecycleHostile(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	cert := g.enroll(t, g.issueToken(t, gr.ID).Token)
	peers := "/api/admin/federation/peers/"
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"renew malformed id", "POST", peers + "nope/renew", nil, 404, "not_found"},
		{"renew long id", "POST", peers + strings.Repeat("a", 4096) + "/renew", nil, 404,
			"not_found"},
		{"renew unicode id", "POST", peers + "%C3%A9t%C3%A9/renew", nil, 404, "not_found"},
		{"renew NUL id", "POST", peers + "%00/renew", nil, 404, "not_found"},
		{"renew unknown id", "POST", peers + mosaic.NewID() + "/renew", nil, 404,
			"peer_not_found"},
		{"renew an inbound peer", "POST", peers + gr.PeerID + "/renew", nil, 409,
			"peer_not_active"},
		{"renew body null", "POST", peers + gr.PeerID + "/renew", "null", 400, "invalid_json"},
		{"renew body array", "POST", peers + gr.PeerID + "/renew", "[]", 400, "invalid_json"},
		{"remove dotted path", "POST", peers + "..%2F..%2Fgrants/remove", nil, 400,
			"invalid_path"},
		{"remove upper-case id", "POST", peers + strings.ToUpper(gr.PeerID) + "/remove", nil,
			404, "not_found"},
		{"remove reason too long", "POST", peers + gr.PeerID + "/remove",
			map[string]string{"reason": strings.Repeat("x", mosaic.MaxRevokeReason+1)}, 400,
			"invalid_reason"},
		{"remove reason newline", "POST", peers + gr.PeerID + "/remove",
			map[string]string{"reason": "a\nb"}, 400, "invalid_reason"},
		{"remove reason not text", "POST", peers + gr.PeerID + "/remove",
			map[string]any{"reason": []string{"x"}}, 400, "invalid_json"},
		{"remove reason duplicated", "POST", peers + gr.PeerID + "/remove",
			`{"reason":"a","reason":"b"}`, 400, "duplicate_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g.adminDo(t, tc.method, tc.path, tc.body).wantError(t, tc.status, tc.code)
			p, err := g.Svc.FindPeer(t.Context(), gr.PeerID)
			if err != nil || p.State != mosaic.PeerActive {
				t.Fatalf("peer after a refused call: %+v, %v", p, err)
			}
		})
	}

	// Without the admin token, nothing happens either.
	req, err := http.NewRequest("POST", g.admin.URL+peers+gr.PeerID+"/remove", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer wrong-"+adminToken)
	send(t, g.admin.Client(), req).wantError(t, http.StatusUnauthorized, "unauthorized")
	g.fedDo(t, g.fedClient(t, cert), "GET", "/api/federation/v1/tasks", nil).
		wantStatus(t, http.StatusOK)
}

// TestRemovePeerConcurrently removes one peer from several requests at
// once: exactly one removes it, the others are 409 peer_removed, and the
// grant is revoked once, with one audit event.
func TestRemovePeerConcurrently(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	g.enroll(t, g.issueToken(t, gr.ID).Token)
	path := "/api/admin/federation/peers/" + gr.PeerID + "/remove"

	const n = 6
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest("POST", g.admin.URL+path, nil)
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			a, err := trySend(g.admin.Client(), req)
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = a.status
		}()
	}
	wg.Wait()
	ok, conflict := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			conflict++
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Fatalf("concurrent removals answered %v, want one 200 and %d 409", statuses, n-1)
	}
	revokes, removals := 0, 0
	for _, ev := range g.audit(t, "peer="+gr.PeerID) {
		switch ev.Verb {
		case mosaic.VerbRevoke:
			revokes++
		case mosaic.VerbRemovePeer:
			removals++
		}
	}
	if revokes != 1 || removals != 1 {
		t.Fatalf("audit: %d revocations and %d removals, want 1 each", revokes, removals)
	}
}
