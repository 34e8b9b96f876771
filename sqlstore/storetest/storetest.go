// Package storetest is the behaviour suite of mosaic.Store. Every store
// implementation runs the same suite, so a guarantee that holds on one
// database and not on another shows up as a failing test:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) mosaic.Store { … })
//	}
//
// Some tests wait for tokens and claims to expire by the database clock, so
// the suite runs its tests in parallel, each on its own store.
//
// RunAuditChain is the suite of the audit log's hash chain. It needs more
// than a store: a second store on the same database and a way to change
// the database behind the store's back (see ChainEnv).
package storetest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// Run runs the suite. open must return a new, empty, migrated store for the
// test it is given, and close it when that test ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) mosaic.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s mosaic.Store)
	}{
		{"Ping", testPing},
		{"Users", testUsers},
		{"ConcurrentWritesSomeRefused", testConcurrentWritesSomeRefused},
		{"Teams", testTeams},
		{"CreateResources", testCreateResources},
		{"ReadPageOwned", testReadPageOwned},
		{"ReadPageUsersAndTeams", testReadPageUsersAndTeams},
		{"ReadPageSince", testReadPageSince},
		{"ReadPageErrors", testReadPageErrors},
		{"Peers", testPeers},
		{"ListPeers", testListPeers},
		{"ActivateOutboundPeer", testActivateOutboundPeer},
		{"RemoveInboundPeer", testRemoveInboundPeer},
		{"RemovePeerRefused", testRemovePeerRefused},
		{"RemoveOutboundPeer", testRemoveOutboundPeer},
		{"RegrantRemovedPeer", testRegrantRemovedPeer},
		{"RemovePeerConcurrentGrant", testRemovePeerConcurrentGrant},
		{"RemovePeerRacingLifecycle", testRemovePeerRacingLifecycle},
		{"CreateGrant", testCreateGrant},
		{"CreateGrantRefused", testCreateGrantRefused},
		{"ListGrants", testListGrants},
		{"RevokeGrant", testRevokeGrant},
		{"GrantExpiry", testGrantExpiry},
		{"ExpireGrants", testExpireGrants},
		{"CreateToken", testCreateToken},
		{"TokenExpiry", testTokenExpiry},
		{"ClaimToken", testClaimToken},
		{"ClaimTokenConcurrent", testClaimTokenConcurrent},
		{"StaleClaim", testStaleClaim},
		{"ReleaseClaim", testReleaseClaim},
		{"ActivateGrant", testActivateGrant},
		{"ActivateGrantRefused", testActivateGrantRefused},
		{"ActivateExpiredGrant", testActivateExpiredGrant},
		{"GrantAccess", testGrantAccess},
		{"RenewGrantCert", testRenewGrantCert},
		{"RenewGrantCertRefused", testRenewGrantCertRefused},
		{"RenewGrantCertConcurrent", testRenewGrantCertConcurrent},
		{"Reenrollment", testReenrollment},
		{"ReenrollTokenBinding", testReenrollTokenBinding},
		{"RenewOutboundPeer", testRenewOutboundPeer},
		{"LeaseRenewal", testLeaseRenewal},
		{"RenewRemovedPeer", testRenewRemovedPeer},
		{"RenewRemovedPeerConcurrent", testRenewRemovedPeerConcurrent},
		{"Audit", testAudit},
		{"AuditLimits", testAuditLimits},
		{"Keys", testKeys},
		{"PutKeyIfAbsentConcurrent", testPutKeyIfAbsentConcurrent},
		{"Settings", testSettings},
		{"ListKeysWithPrefix", testListKeysWithPrefix},
		{"RotateKey", testRotateKey},
		{"RotateKeyConcurrent", testRotateKeyConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

func testPing(t *testing.T, s mosaic.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// wantErr fails the test unless err is an *mosaic.Error of that kind and
// code.
func wantErr(t *testing.T, err error, kind mosaic.Kind, code string) {
	t.Helper()
	var e *mosaic.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want *mosaic.Error %s", err, code)
	}
	if e.Kind != kind || e.Code != code {
		t.Fatalf("got kind %d code %q (%v), want kind %d code %q", e.Kind, e.Code, err, kind, code)
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sameTime fails the test unless got is want truncated to milliseconds, in
// UTC.
func sameTime(t *testing.T, field string, got, want time.Time) {
	t.Helper()
	want = want.Truncate(time.Millisecond).UTC()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("%s = %v, want %v (UTC)", field, got, want)
	}
}

// recent fails the test unless got is within a minute of the test's clock:
// the database and the test run on the same host.
func recent(t *testing.T, field string, got time.Time) {
	t.Helper()
	if d := time.Since(got); d < -time.Minute || d > time.Minute || got.Location() != time.UTC {
		t.Fatalf("%s = %v, not a current UTC time", field, got)
	}
}

var seq atomic.Int64

// unique returns a string no other call returns.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%s", prefix, seq.Add(1), mosaic.NewID()[24:])
}

// newUser inserts a user with a unique email.
func newUser(t *testing.T, s mosaic.Store) *mosaic.User {
	t.Helper()
	name := unique("user")
	u := &mosaic.User{Name: name, Email: name + "@example.test"}
	must(t, s.CreateUser(t.Context(), u))
	return u
}

// newPeer inserts a peer of that role and state.
func newPeer(t *testing.T, s mosaic.Store, role mosaic.PeerRole,
	state mosaic.PeerState) *mosaic.Peer {
	t.Helper()
	p := &mosaic.Peer{Role: role, State: state, CommonName: unique("cn"), DisplayName: "Peer"}
	must(t, s.CreatePeer(t.Context(), p))
	return p
}

// testScope is a valid scope.
func testScope() mosaic.Scope {
	return mosaic.Scope{
		Resources:         []mosaic.Resource{mosaic.ResourceTasks, mosaic.ResourceNotes},
		ExcludedResources: []mosaic.Resource{mosaic.ResourceCredentials},
		MaxRowsPerQuery:   50,
	}
}

// newGrant inserts a pending grant for the user and an existing peer.
func newGrant(t *testing.T, s mosaic.Store, userID, peerID string) *mosaic.Grant {
	t.Helper()
	g := &mosaic.Grant{UserID: userID, PeerID: peerID, Scope: testScope()}
	must(t, s.CreateGrant(t.Context(), g, nil))
	return g
}

// newHash returns a random token hash.
func newHash(t *testing.T) string {
	t.Helper()
	tok, err := mosaic.NewTokenSecret(rand.Reader)
	must(t, err)
	return tok.Hash()
}

// enrollment is a user, a pending inbound peer, a pending grant between
// them and a token for it.
type enrollment struct {
	user  *mosaic.User
	peer  *mosaic.Peer
	grant *mosaic.Grant
	token *mosaic.EnrollmentToken
}

// newEnrollment creates an enrollment whose token lives for ttl.
func newEnrollment(t *testing.T, s mosaic.Store, ttl time.Duration) *enrollment {
	t.Helper()
	e := &enrollment{user: newUser(t, s)}
	e.peer = &mosaic.Peer{CommonName: unique("cn"), DisplayName: "Peer A"}
	e.grant = &mosaic.Grant{UserID: e.user.ID, Scope: testScope()}
	must(t, s.CreateGrant(t.Context(), e.grant, e.peer))
	tok, err := s.CreateToken(t.Context(), newHash(t), e.grant.ID, e.peer.ID, ttl)
	must(t, err)
	e.token = tok
	return e
}

// activation returns what a redeem holding claimID would store.
func (e *enrollment) activation(claimID string) mosaic.Activation {
	serial := unique("serial")
	der := sha256.Sum256([]byte(serial))
	return mosaic.Activation{
		GrantID:         e.grant.ID,
		PeerID:          e.peer.ID,
		TokenHash:       e.token.Hash,
		ClaimID:         claimID,
		CertPEM:         "-----BEGIN CERTIFICATE-----\n" + serial + "\n-----END CERTIFICATE-----\n",
		CertSerial:      serial,
		CertFingerprint: hex.EncodeToString(der[:]),
		CertNotAfter:    time.Date(2031, 1, 2, 3, 4, 5, 678_000_000, time.UTC),
		KeyHash:         hex.EncodeToString(der[:]),
		At:              time.Date(2030, 6, 1, 12, 0, 0, 123_456_789, time.UTC),
		Event: &mosaic.AuditEvent{
			RequestID:       unique("req"),
			PeerID:          e.peer.ID,
			GrantID:         e.grant.ID,
			SubjectUserID:   e.user.ID,
			Verb:            mosaic.VerbEnroll,
			Status:          200,
			Outcome:         mosaic.OutcomeAllowed,
			TokenHashPrefix: mosaic.HashPrefix(e.token.Hash),
			CertSerial:      serial,
		},
	}
}

// auditOf returns the audit events of a grant, newest first.
func auditOf(t *testing.T, s mosaic.Store, grantID string) []*mosaic.AuditEvent {
	t.Helper()
	evs, err := s.ListAudit(t.Context(), mosaic.AuditFilter{GrantID: grantID})
	must(t, err)
	return evs
}
