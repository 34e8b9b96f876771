package federation_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
)

// wantCode fails the test unless err is a *mosaic.Error with that code and
// HTTP status.
func wantCode(t *testing.T, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d %s", status, code)
	}
	if got := mosaic.ErrorCode(err); got != code {
		t.Errorf("code = %q, want %q (error: %v)", got, code, err)
	}
	if got := federation.StatusOf(err); got != status {
		t.Errorf("status = %d, want %d (error: %v)", got, status, err)
	}
}

func TestCreateGrant(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	user := g.User(t, "Ada")
	existing := g.Grant(t, user.ID, fedtest.Scope(10, mosaic.ResourceTasks))
	outboundID, _, err := g.Svc.CreateKeypair(ctx, federation.KeypairInput{
		CommonName: "a", DisplayName: "A", EndpointURL: "https://a.example",
		CAPin: g.CA.Pin(),
	})
	if err != nil {
		t.Fatal(err)
	}
	valid := fedtest.Scope(10, mosaic.ResourceTasks, mosaic.ResourceNotes)
	past := time.Now().Add(-time.Hour)

	tests := []struct {
		name   string
		in     federation.GrantInput
		status int
		code   string
	}{
		{"unknown resource", federation.GrantInput{UserID: user.ID, PeerName: "P",
			Scope: fedtest.Scope(10, "files")}, 400, "invalid_scope"},
		{"unknown excluded resource", federation.GrantInput{UserID: user.ID, PeerName: "P",
			Scope: mosaic.Scope{Resources: []mosaic.Resource{"tasks"},
				ExcludedResources: []mosaic.Resource{"files"}, MaxRowsPerQuery: 10}},
			400, "invalid_scope"},
		{"allowed and excluded", federation.GrantInput{UserID: user.ID, PeerName: "P",
			Scope: mosaic.Scope{Resources: []mosaic.Resource{"tasks", "notes"},
				ExcludedResources: []mosaic.Resource{"notes"}, MaxRowsPerQuery: 10}},
			400, "invalid_scope"},
		{"empty resources", federation.GrantInput{UserID: user.ID, PeerName: "P",
			Scope: fedtest.Scope(10)}, 400, "invalid_scope"},
		{"row cap zero", federation.GrantInput{UserID: user.ID, PeerName: "P",
			Scope: fedtest.Scope(0, "tasks")}, 400, "invalid_scope"},
		{"row cap above 10000", federation.GrantInput{UserID: user.ID, PeerName: "P",
			Scope: fedtest.Scope(10001, "tasks")}, 400, "invalid_scope"},
		{"no peer", federation.GrantInput{UserID: user.ID, Scope: valid}, 400, "invalid_peer"},
		{"both peer id and name", federation.GrantInput{UserID: user.ID, PeerID: existing.PeerID,
			PeerName: "P", Scope: valid}, 400, "invalid_peer"},
		{"bad user id", federation.GrantInput{UserID: "nope", PeerName: "P", Scope: valid},
			400, "invalid_userId"},
		{"unknown user", federation.GrantInput{UserID: mosaic.NewID(), PeerName: "P",
			Scope: valid}, 404, "user_not_found"},
		{"unknown peer", federation.GrantInput{UserID: user.ID, PeerID: mosaic.NewID(),
			Scope: valid}, 404, "peer_not_found"},
		{"outbound peer", federation.GrantInput{UserID: user.ID, PeerID: outboundID,
			Scope: valid}, 400, "invalid_peer"},
		{"peer name with control characters", federation.GrantInput{UserID: user.ID,
			PeerName: "a\nb", Scope: valid}, 400, "invalid_peerName"},
		{"expiry in the past", federation.GrantInput{UserID: user.ID, PeerName: "P",
			Scope: valid, ExpiresAt: &past}, 400, "invalid_expiresAt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(listGrants(t, g))
			_, err := g.Svc.CreateGrant(ctx, tc.in)
			wantCode(t, err, tc.status, tc.code)
			if after := len(listGrants(t, g)); after != before {
				t.Errorf("grants: %d before, %d after a refused create", before, after)
			}
		})
	}
}

func TestCreateGrantWithNewPeer(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	user := g.User(t, "Ada")
	exp := time.Now().Add(48 * time.Hour)
	gr, err := g.Svc.CreateGrant(ctx, federation.GrantInput{
		UserID: user.ID, PeerName: "Gateway A", ExpiresAt: &exp,
		Scope: mosaic.Scope{Resources: []mosaic.Resource{"tasks"},
			ExcludedResources: []mosaic.Resource{"credentials"}, MaxRowsPerQuery: 50},
	})
	if err != nil {
		t.Fatal(err)
	}
	if gr.Status != mosaic.GrantPending || gr.UserID != user.ID || gr.ExpiresAt == nil {
		t.Errorf("grant = %+v, want pending for the user with an expiry", gr)
	}
	p, err := g.Svc.FindPeer(ctx, gr.PeerID)
	if err != nil {
		t.Fatal(err)
	}
	want := mosaic.Peer{Role: mosaic.PeerInbound, State: mosaic.PeerPending,
		DisplayName: "Gateway A", CommonName: "peer-" + p.ID}
	if p.Role != want.Role || p.State != want.State || p.DisplayName != want.DisplayName ||
		p.CommonName != want.CommonName {
		t.Errorf("peer = %+v, want %+v", p, want)
	}

	// A second grant for the same peer by id.
	second, err := g.Svc.CreateGrant(ctx, federation.GrantInput{
		UserID: user.ID, PeerID: p.ID, Scope: fedtest.Scope(5, "notes"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.PeerID != p.ID {
		t.Errorf("second grant peer = %s, want %s", second.PeerID, p.ID)
	}
	got, err := g.Svc.FindGrant(ctx, gr.ID)
	if err != nil || got.ID != gr.ID || got.Scope.MaxRowsPerQuery != 50 {
		t.Errorf("FindGrant = %+v, %v", got, err)
	}
}

func TestListGrantsFilters(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	user := g.User(t, "Ada")
	a := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))
	b := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))
	if _, err := g.Svc.Revoke(ctx, b.ID, "done"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    mosaic.GrantFilter
		want []string
	}{
		{"all", mosaic.GrantFilter{}, []string{a.ID, b.ID}},
		{"by peer", mosaic.GrantFilter{PeerID: a.PeerID}, []string{a.ID}},
		{"pending", mosaic.GrantFilter{Status: mosaic.GrantPending}, []string{a.ID}},
		{"revoked", mosaic.GrantFilter{Status: mosaic.GrantRevoked}, []string{b.ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := g.Svc.ListGrants(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d grants, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i].ID != tc.want[i] {
					t.Errorf("grant %d = %s, want %s", i, got[i].ID, tc.want[i])
				}
			}
		})
	}
	_, err := g.Svc.ListGrants(ctx, mosaic.GrantFilter{Status: "paused"})
	wantCode(t, err, http.StatusBadRequest, "invalid_status")
}

func TestRevoke(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := federation.WithRequestID(context.Background(), "req-revoke")
	user := g.User(t, "Ada")
	gr := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))

	got, err := g.Svc.Revoke(ctx, gr.ID, "contract ended")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != mosaic.GrantRevoked || got.RevokedReason != "contract ended" ||
		got.RevokedAt == nil {
		t.Errorf("revoked grant = %+v", got)
	}
	evs := g.Audit(t, mosaic.AuditFilter{GrantID: gr.ID})
	if len(evs) != 1 {
		t.Fatalf("audit events = %d, want 1", len(evs))
	}
	ev := evs[0]
	if ev.Verb != mosaic.VerbRevoke || ev.Reason != "contract ended" || ev.RequestID != "req-revoke" ||
		ev.PeerID != gr.PeerID || ev.SubjectUserID != user.ID || ev.Outcome != mosaic.OutcomeAllowed {
		t.Errorf("revoke event = %+v", ev)
	}

	tests := []struct {
		name   string
		id     string
		reason string
		status int
		code   string
	}{
		{"again", gr.ID, "", 409, "grant_not_revocable"},
		{"unknown grant", mosaic.NewID(), "", 404, "grant_not_found"},
		{"malformed id", "../x", "", 404, "not_found"},
		{"reason too long", gr.ID, string(make([]byte, 501)), 400, "invalid_reason"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.Svc.Revoke(ctx, tc.id, tc.reason)
			wantCode(t, err, tc.status, tc.code)
		})
	}
	if n := len(g.Audit(t, mosaic.AuditFilter{GrantID: gr.ID})); n != 1 {
		t.Errorf("audit events after refused revokes = %d, want 1", n)
	}
}

// listGrants lists every grant.
func listGrants(t *testing.T, g *fedtest.Gateway) []*mosaic.Grant {
	t.Helper()
	gs, err := g.Svc.ListGrants(context.Background(), mosaic.GrantFilter{Limit: mosaic.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

func TestGrantExpiry(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	user := g.User(t, "Ada")
	expires := time.Now().Add(1200 * time.Millisecond)
	create := func(exp *time.Time) *mosaic.Grant {
		gr, err := g.Svc.CreateGrant(ctx, federation.GrantInput{
			UserID: user.ID, PeerName: "P", Scope: fedtest.Scope(5, "tasks"), ExpiresAt: exp,
		})
		if err != nil {
			t.Fatal(err)
		}
		return gr
	}
	expiredPending, livePending := create(&expires), create(nil)
	expiredActive := enrollExpiring(t, g, user.ID, expires)
	liveActive := g.Enroll(t, user.ID, fedtest.Scope(5, "tasks")).Grant
	time.Sleep(time.Until(expires) + 100*time.Millisecond)

	// Shown and listed as expired, though nothing marked them yet.
	for _, gr := range []*mosaic.Grant{expiredPending, expiredActive} {
		got, err := g.Svc.FindGrant(ctx, gr.ID)
		if err != nil || got.Status != mosaic.GrantExpired {
			t.Errorf("FindGrant = %+v, %v; want expired", got, err)
		}
	}
	tests := []struct {
		status mosaic.GrantStatus
		want   []string
	}{
		{mosaic.GrantExpired, []string{expiredPending.ID, expiredActive.ID}},
		{mosaic.GrantPending, []string{livePending.ID}},
		{mosaic.GrantActive, []string{liveActive.ID}},
	}
	for _, tc := range tests {
		t.Run("list "+string(tc.status), func(t *testing.T) {
			got, err := g.Svc.ListGrants(ctx, mosaic.GrantFilter{Status: tc.status})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, gr := range got {
				ids = append(ids, gr.ID)
				if gr.Status != tc.status {
					t.Errorf("grant %s listed as %s under %s", gr.ID, gr.Status, tc.status)
				}
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("listed %v, want %v", ids, tc.want)
			}
		})
	}
	for _, gr := range listGrants(t, g) {
		if gr.ID == expiredActive.ID && gr.Status != mosaic.GrantExpired {
			t.Errorf("unfiltered listing shows %s as %s", gr.ID, gr.Status)
		}
	}

	// Expired is final: no revocation, no audit event.
	for _, gr := range []*mosaic.Grant{expiredPending, expiredActive} {
		_, err := g.Svc.Revoke(ctx, gr.ID, "too late")
		wantCode(t, err, http.StatusConflict, "grant_not_revocable")
		if evs := g.Audit(t, mosaic.AuditFilter{GrantID: gr.ID}); len(evs) > 0 &&
			evs[0].Verb == mosaic.VerbRevoke {
			t.Errorf("refused revocation audited: %+v", evs[0])
		}
	}
}

// enrollExpiring creates a grant of userID's tasks that expires at exp and
// redeems a token for it, returning the active grant.
func enrollExpiring(t *testing.T, g *fedtest.Gateway, userID string,
	exp time.Time) *mosaic.Grant {
	t.Helper()
	gr, err := g.Svc.CreateGrant(context.Background(), federation.GrantInput{
		UserID: userID, PeerName: "Expiring", Scope: fedtest.Scope(5, "tasks"), ExpiresAt: &exp,
	})
	if err != nil {
		t.Fatal(err)
	}
	redeemChain(t, g, gr.ID)
	return gr
}
