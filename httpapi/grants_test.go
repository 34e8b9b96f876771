package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// tasksScope is a scope sharing tasks with a row cap of 3.
var tasksScope = map[string]any{"resources": []string{"tasks"}, "max_rows_per_query": 3}

func TestGrantLifecycle(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, map[string]any{
		"resources": []string{"tasks", "notes"}, "excluded_resources": []string{"credentials"},
		"max_rows_per_query": 20,
	})
	if gr.Status != mosaic.GrantPending || gr.Scope.MaxRowsPerQuery != 20 ||
		len(gr.Scope.ExcludedResources) != 1 {
		t.Errorf("grant = %+v", gr)
	}
	var shown mosaic.Grant
	g.adminDo(t, "GET", "/api/admin/federation/grants/"+gr.ID, nil).decode(t, &shown)
	if shown.ID != gr.ID || shown.PeerID != gr.PeerID {
		t.Errorf("shown grant = %+v", shown)
	}

	// Token: TTL clamped, URL with the pin, peer checked.
	path := "/api/admin/federation/grants/" + gr.ID + "/tokens"
	a := g.adminDo(t, "POST", path, map[string]any{"ttlSeconds": 5000, "peerId": gr.PeerID})
	a.wantStatus(t, http.StatusCreated)
	var tok tokenAnswer
	a.decode(t, &tok)
	wantURL := g.PublicURL + "/api/federation/enrollment/" + tok.Token + "#ca=" + g.CA.Pin()
	if tok.TTLSeconds != 900 || len(tok.Token) != mosaic.TokenLen || tok.EnrollmentURL != wantURL ||
		tok.CAPin != g.CA.Pin() || tok.GrantID != gr.ID || tok.PeerID != gr.PeerID {
		t.Errorf("token answer = %+v", tok)
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Error("token answer may be cached")
	}
	g.adminDo(t, "POST", path, map[string]any{"ttlSeconds": 9223372036854775807}).
		wantStatus(t, http.StatusCreated)
	g.adminDo(t, "POST", path, nil).wantStatus(t, http.StatusCreated)
	g.adminDo(t, "POST", path, map[string]any{"ttlSeconds": -1}).
		wantError(t, 400, "invalid_ttlSeconds")
	other := g.createGrant(t, ada.ID, tasksScope)
	g.adminDo(t, "POST", path, map[string]any{"peerId": other.PeerID}).
		wantError(t, 400, "peer_mismatch")

	// Listing by peer and status.
	var list struct{ Items []mosaic.Grant }
	g.adminDo(t, "GET", "/api/admin/federation/grants?peer="+gr.PeerID, nil).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != gr.ID {
		t.Errorf("grants of the peer = %+v", list.Items)
	}
	g.adminDo(t, "GET", "/api/admin/federation/grants?status=bogus", nil).
		wantError(t, 400, "invalid_status")

	// Revoke: with a reason, then again; no token for a revoked grant.
	a = g.adminDo(t, "PATCH", "/api/admin/federation/grants/"+gr.ID+"/revoke",
		map[string]string{"reason": "audit finding"})
	a.wantStatus(t, http.StatusOK)
	a.decode(t, &shown)
	if shown.Status != mosaic.GrantRevoked || shown.RevokedReason != "audit finding" {
		t.Errorf("revoked grant = %+v", shown)
	}
	g.adminDo(t, "PATCH", "/api/admin/federation/grants/"+gr.ID+"/revoke", nil).
		wantError(t, 409, "grant_not_revocable")
	g.adminDo(t, "POST", path, nil).wantError(t, 409, "grant_not_pending")
	g.adminDo(t, "PATCH", "/api/admin/federation/grants/"+other.ID+"/revoke", nil).
		wantStatus(t, http.StatusOK)

	evs := g.audit(t, "grant="+gr.ID)
	if len(evs) != 1 || evs[0].Verb != mosaic.VerbRevoke || evs[0].Reason != "audit finding" ||
		evs[0].RequestID == "" {
		t.Errorf("audit = %+v", evs)
	}
	if strings.Contains(g.Logs.String(), tok.Token) {
		t.Error("the log holds a token")
	}
}

func TestGrantScopeValidation(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	tests := []struct {
		name  string
		scope any
	}{
		{"unknown resource", map[string]any{"resources": []string{"files"}, "max_rows_per_query": 5}},
		{"allowed and excluded", map[string]any{"resources": []string{"tasks"},
			"excluded_resources": []string{"tasks"}, "max_rows_per_query": 5}},
		{"empty resources", map[string]any{"resources": []string{}, "max_rows_per_query": 5}},
		{"no resources", map[string]any{"max_rows_per_query": 5}},
		{"row cap zero", map[string]any{"resources": []string{"tasks"}, "max_rows_per_query": 0}},
		{"row cap too high", map[string]any{"resources": []string{"tasks"},
			"max_rows_per_query": 10001}},
		{"no scope", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"userId": ada.ID, "peerName": "A"}
			if tc.scope != nil {
				body["scope"] = tc.scope
			}
			a := g.adminDo(t, "POST", "/api/admin/federation/grants", body)
			a.wantError(t, 400, "invalid_scope")
		})
	}
	var list struct{ Items []mosaic.Grant }
	g.adminDo(t, "GET", "/api/admin/federation/grants", nil).decode(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("%d grants created by invalid requests", len(list.Items))
	}
}
