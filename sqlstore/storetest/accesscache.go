package storetest

import (
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// RunAccessCache runs the suite of the grant access cache: every change
// to a grant or its peer, through any store on the database or straight
// in the database, reaches the next GrantAccess. open must return a new,
// empty database for the test it is given.
func RunAccessCache(t *testing.T, open func(t *testing.T) *ChainEnv) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, env *ChainEnv)
	}{
		{"ThroughEachStore", testAccessCacheThroughEachStore},
		{"OutsideTheStore", testAccessCacheOutsideTheStore},
		{"NotShared", testAccessCacheNotShared},
		{"ReadScope", testAccessCacheReadScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// access reads a grant's access through s.
func access(t *testing.T, s mosaic.Store, grantID string) *mosaic.GrantAccess {
	t.Helper()
	a, err := s.GrantAccess(t.Context(), grantID)
	must(t, err)
	return a
}

// wantAccess reads a grant's access through every store and checks its
// status, current serial and peer state.
func wantAccess(t *testing.T, step, grantID string, status mosaic.GrantStatus, serial string,
	peer mosaic.PeerState, stores ...mosaic.Store) {
	t.Helper()
	for i, s := range stores {
		// Twice: the second read is the cached one, if any.
		for range 2 {
			a := access(t, s, grantID)
			if a.Grant.Status != status || a.Cert.Serial != serial || a.PeerState != peer {
				t.Fatalf("%s: store %d reads %s, serial %q, peer %s; want %s, %q, %s", step, i,
					a.Grant.Status, a.Cert.Serial, a.PeerState, status, serial, peer)
			}
		}
	}
}

func testAccessCacheThroughEachStore(t *testing.T, env *ChainEnv) {
	a, b := env.Store, env.Open(t)
	e, act := activeEnrollment(t, a)
	id := e.grant.ID
	wantAccess(t, "active", id, mosaic.GrantActive, act.CertSerial, mosaic.PeerActive, a, b)

	at := time.Date(2030, 6, 2, 12, 0, 0, 0, time.UTC)
	rn := e.renewal(act.CertSerial, act.CertSerial, at)
	must(t, b.RenewGrantCert(t.Context(), rn))
	wantAccess(t, "renewed through the second", id, mosaic.GrantActive, rn.CertSerial,
		mosaic.PeerActive, a, b)

	_, err := a.RevokeGrant(t.Context(), id, "done", time.Time{}, &mosaic.AuditEvent{
		Verb: mosaic.VerbRevoke, Status: 200, Outcome: mosaic.OutcomeAllowed})
	must(t, err)
	wantAccess(t, "revoked through the first", id, mosaic.GrantRevoked, rn.CertSerial,
		mosaic.PeerActive, a, b)

	other, otherAct := activeEnrollment(t, a)
	wantAccess(t, "another active", other.grant.ID, mosaic.GrantActive, otherAct.CertSerial,
		mosaic.PeerActive, a, b)
	_, err = b.RemovePeer(t.Context(), removal(other.peer.ID, "gone"))
	must(t, err)
	wantAccess(t, "its peer removed through the second", other.grant.ID, mosaic.GrantRevoked,
		otherAct.CertSerial, mosaic.PeerRevoked, a, b)
}

func testAccessCacheOutsideTheStore(t *testing.T, env *ChainEnv) {
	s := env.Store
	e, act := activeEnrollment(t, s)
	id := e.grant.ID
	wantAccess(t, "active", id, mosaic.GrantActive, act.CertSerial, mosaic.PeerActive, s)

	env.Exec(t, `UPDATE grants SET cert_serial = ? WHERE id = ?`, "changed", id)
	wantAccess(t, "serial changed", id, mosaic.GrantActive, "changed", mosaic.PeerActive, s)
	env.Exec(t, `UPDATE peers SET state = ? WHERE id = ?`, string(mosaic.PeerRevoked), e.peer.ID)
	wantAccess(t, "peer revoked", id, mosaic.GrantActive, "changed", mosaic.PeerRevoked, s)
	env.Exec(t, `UPDATE grants SET status = ? WHERE id = ?`, string(mosaic.GrantRevoked), id)
	wantAccess(t, "grant revoked", id, mosaic.GrantRevoked, "changed", mosaic.PeerRevoked, s)
}

// testAccessCacheNotShared changes the access a caller got: the next
// caller's access is as read.
func testAccessCacheNotShared(t *testing.T, env *ChainEnv) {
	s := env.Store
	e, act := activeEnrollment(t, s)
	first := access(t, s, e.grant.ID)
	first.Grant.Status = mosaic.GrantRevoked
	first.Grant.Scope.Resources[0] = mosaic.ResourceCredentials
	*first.Cert.NotAfter = time.Time{}
	first.Cert.Serial = "changed"
	first.PeerState = mosaic.PeerRevoked

	again := access(t, s, e.grant.ID)
	if again.Grant.Status != mosaic.GrantActive || again.Cert.Serial != act.CertSerial ||
		again.PeerState != mosaic.PeerActive ||
		again.Grant.Scope.Resources[0] != testScope().Resources[0] ||
		!again.Cert.NotAfter.Equal(act.CertNotAfter) {
		t.Fatalf("after a caller changed its access: %+v %+v %s", again.Grant, again.Cert,
			again.PeerState)
	}
}

// testAccessCacheReadScope reads a grant's access and its user's tasks in
// read scopes (mosaic.WithReadScope): a scope reads the versions once, so
// its later reads serve what was cached at its first; the next scope, as
// the next request, sees every change committed before it began.
func testAccessCacheReadScope(t *testing.T, env *ChainEnv) {
	s := env.Store
	e, act := activeEnrollment(t, s)
	id := e.grant.ID
	wantAccess(t, "active", id, mosaic.GrantActive, act.CertSerial, mosaic.PeerActive, s)
	wantTitles(t, "no tasks", e.grant.UserID, nil, s)

	scope := mosaic.WithReadScope(t.Context())
	scoped := func() (*mosaic.GrantAccess, int) {
		t.Helper()
		a, err := s.GrantAccess(scope, id)
		must(t, err)
		page, err := s.ReadPage(scope, mosaic.PageQuery{Resource: mosaic.ResourceTasks,
			UserID: e.grant.UserID, Limit: 50})
		must(t, err)
		return a, len(page.Items)
	}
	if a, n := scoped(); a.Grant.Status != mosaic.GrantActive || n != 0 {
		t.Fatalf("first read of the scope: %s, %d tasks; want active, 0", a.Grant.Status, n)
	}

	_, err := s.RevokeGrant(t.Context(), id, "done", time.Time{}, &mosaic.AuditEvent{
		Verb: mosaic.VerbRevoke, Status: 200, Outcome: mosaic.OutcomeAllowed})
	must(t, err)
	must(t, s.CreateTask(t.Context(), &mosaic.Task{ID: "01", UserID: e.grant.UserID,
		Title: "one"}))
	if a, n := scoped(); a.Grant.Status != mosaic.GrantActive || n != 0 {
		t.Fatalf("same scope after the changes: %s, %d tasks; want what its first read "+
			"saw (active, 0)", a.Grant.Status, n)
	}
	wantAccess(t, "next request", id, mosaic.GrantRevoked, act.CertSerial, mosaic.PeerActive, s)
	wantTitles(t, "next request", e.grant.UserID, []string{"one"}, s)
}
