package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// expiryWait is long enough for a one-second token to expire by the
// database clock, with a margin for millisecond rounding.
const expiryWait = 1100 * time.Millisecond

func testCreateToken(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	e := newEnrollment(t, s, 90*time.Second)
	tok := e.token
	if tok.GrantID != e.grant.ID || tok.PeerID != e.peer.ID {
		t.Fatalf("token bound to grant %s peer %s, want %s %s",
			tok.GrantID, tok.PeerID, e.grant.ID, e.peer.ID)
	}
	recent(t, "CreatedAt", tok.CreatedAt)
	if d := tok.ExpiresAt.Sub(tok.CreatedAt); d != 90*time.Second {
		t.Fatalf("ExpiresAt - CreatedAt = %v, want the ttl 90s", d)
	}

	got, err := s.FindToken(ctx, tok.Hash)
	must(t, err)
	if got.Hash != tok.Hash || got.GrantID != tok.GrantID || got.PeerID != tok.PeerID ||
		!got.CreatedAt.Equal(tok.CreatedAt) || !got.ExpiresAt.Equal(tok.ExpiresAt) ||
		got.Expired || got.ClaimID != "" || got.ClaimedAt != nil || got.UsedAt != nil ||
		got.IssuedKeyHash != "" || got.IssuedSerial != "" {
		t.Fatalf("FindToken = %+v, want a fresh token like %+v", got, tok)
	}

	_, err = s.FindToken(ctx, newHash(t))
	wantErr(t, err, mosaic.KindNotFound, "token_not_found")

	revoked := newEnrollment(t, s, time.Minute)
	_, err = s.RevokeGrant(ctx, revoked.grant.ID, "", time.Time{}, revokeEvent(revoked.grant.ID))
	must(t, err)
	expired := newUser(t, s)
	past := time.Now().Add(-time.Hour)
	expiredGrant := &mosaic.Grant{UserID: expired.ID, Scope: testScope(), ExpiresAt: &past}
	must(t, s.CreateGrant(ctx, expiredGrant, &mosaic.Peer{CommonName: "x", DisplayName: "x"}))
	other := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerPending)

	tests := []struct {
		name, hash, grantID, peerID string
		kind                        mosaic.Kind
		code                        string
	}{
		{"unknown grant", newHash(t), mosaic.NewID(), e.peer.ID,
			mosaic.KindNotFound, "grant_not_found"},
		{"peer not the grant's", newHash(t), e.grant.ID, other.ID,
			mosaic.KindInvalid, "peer_mismatch"},
		{"revoked grant", newHash(t), revoked.grant.ID, revoked.peer.ID,
			mosaic.KindConflict, "grant_not_pending"},
		{"expired grant", newHash(t), expiredGrant.ID, expiredGrant.PeerID,
			mosaic.KindConflict, "grant_expired"},
		{"hash taken", tok.Hash, e.grant.ID, e.peer.ID, mosaic.KindConflict, "token_exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateToken(ctx, tt.hash, tt.grantID, tt.peerID, time.Minute)
			wantErr(t, err, tt.kind, tt.code)
			if tt.code != "token_exists" {
				_, err = s.FindToken(ctx, tt.hash)
				wantErr(t, err, mosaic.KindNotFound, "token_not_found")
			}
		})
	}

	t.Run("a token is never stored", func(t *testing.T) {
		tok, err := mosaic.NewTokenSecret(fixedReader{})
		must(t, err)
		_, err = s.CreateToken(ctx, tok.Reveal(), e.grant.ID, e.peer.ID, time.Minute)
		if err == nil {
			t.Fatal("CreateToken stored something that is not a SHA-256 hash")
		}
	})
}

// fixedReader reads as an endless run of one byte.
type fixedReader struct{}

func (fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0x5a
	}
	return len(p), nil
}

// testTokenExpiry waits for a one-second token to expire by the database
// clock: FindToken reports it and it can no longer be claimed.
func testTokenExpiry(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	e := newEnrollment(t, s, time.Second)
	held := newEnrollment(t, s, time.Second)
	must(t, s.ClaimToken(ctx, held.token.Hash, "early", time.Hour))
	time.Sleep(expiryWait)

	got, err := s.FindToken(ctx, e.token.Hash)
	must(t, err)
	if !got.Expired {
		t.Fatalf("token past ExpiresAt %v not reported expired", got.ExpiresAt)
	}
	err = s.ClaimToken(ctx, e.token.Hash, "late", time.Minute)
	wantErr(t, err, mosaic.KindGone, "token_expired")

	// A claim taken in time may still finish the activation.
	must(t, s.ActivateGrant(ctx, held.activation("early")))
}

func testClaimToken(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	e := newEnrollment(t, s, time.Minute)
	must(t, s.ClaimToken(ctx, e.token.Hash, "first", time.Minute))
	got, err := s.FindToken(ctx, e.token.Hash)
	must(t, err)
	if got.ClaimID != "first" || got.ClaimedAt == nil || got.UsedAt != nil {
		t.Fatalf("claimed token = %+v, want claim first, unused", got)
	}
	recent(t, "ClaimedAt", *got.ClaimedAt)

	tests := []struct {
		name, hash, claimID string
		kind                mosaic.Kind
		code                string
	}{
		{"held by another claim", e.token.Hash, "second", mosaic.KindGone, "token_used"},
		{"held, same claim id", e.token.Hash, "first", mosaic.KindGone, "token_used"},
		{"unknown token", newHash(t), "third", mosaic.KindNotFound, "token_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, s.ClaimToken(ctx, tt.hash, tt.claimID, time.Minute), tt.kind, tt.code)
		})
	}
	got, err = s.FindToken(ctx, e.token.Hash)
	must(t, err)
	if got.ClaimID != "first" {
		t.Fatalf("failed claims took the token: claim %q", got.ClaimID)
	}

	t.Run("used token", func(t *testing.T) {
		must(t, s.ActivateGrant(ctx, e.activation("first")))
		err := s.ClaimToken(ctx, e.token.Hash, "after", time.Millisecond)
		wantErr(t, err, mosaic.KindGone, "token_used")
	})
}

// testClaimTokenConcurrent races 50 claims for one token: exactly one wins,
// every other one is told the token is used.
func testClaimTokenConcurrent(t *testing.T, s mosaic.Store) {
	const n = 50
	e := newEnrollment(t, s, time.Minute)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.ClaimToken(t.Context(), e.token.Hash, unique("claim"), time.Minute)
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("claims %d and %d both succeeded", winner, i)
			}
			winner = i
			continue
		}
		wantErr(t, err, mosaic.KindGone, "token_used")
	}
	if winner < 0 {
		t.Fatal("no claim succeeded")
	}
	got, err := s.FindToken(t.Context(), e.token.Hash)
	must(t, err)
	if got.ClaimID == "" {
		t.Fatal("token not held after the race")
	}
}

// testStaleClaim checks that a claim older than staleAfter can be taken
// over, and that the old holder then can neither release nor use it.
func testStaleClaim(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	e := newEnrollment(t, s, time.Minute)
	must(t, s.ClaimToken(ctx, e.token.Hash, "crashed", time.Hour))
	wantErr(t, s.ClaimToken(ctx, e.token.Hash, "retry", time.Hour), mosaic.KindGone, "token_used")

	time.Sleep(150 * time.Millisecond)
	must(t, s.ClaimToken(ctx, e.token.Hash, "retry", 100*time.Millisecond))

	must(t, s.ReleaseClaim(ctx, e.token.Hash, "crashed"))
	got, err := s.FindToken(ctx, e.token.Hash)
	must(t, err)
	if got.ClaimID != "retry" {
		t.Fatalf("old holder's release took the claim away: claim %q", got.ClaimID)
	}
	err = s.ActivateGrant(ctx, e.activation("crashed"))
	wantErr(t, err, mosaic.KindConflict, "claim_lost")
	must(t, s.ActivateGrant(ctx, e.activation("retry")))
}

func testReleaseClaim(t *testing.T, s mosaic.Store) {
	ctx := t.Context()

	t.Run("release then reclaim", func(t *testing.T) {
		e := newEnrollment(t, s, time.Minute)
		must(t, s.ClaimToken(ctx, e.token.Hash, "a", time.Hour))
		must(t, s.ReleaseClaim(ctx, e.token.Hash, "a"))
		got, err := s.FindToken(ctx, e.token.Hash)
		must(t, err)
		if got.ClaimID != "" || got.ClaimedAt != nil {
			t.Fatalf("released token still claimed: %+v", got)
		}
		must(t, s.ClaimToken(ctx, e.token.Hash, "b", time.Hour))
		must(t, s.ActivateGrant(ctx, e.activation("b")))
	})

	t.Run("release by another claim id", func(t *testing.T) {
		e := newEnrollment(t, s, time.Minute)
		must(t, s.ClaimToken(ctx, e.token.Hash, "a", time.Hour))
		must(t, s.ReleaseClaim(ctx, e.token.Hash, "b"))
		wantErr(t, s.ClaimToken(ctx, e.token.Hash, "c", time.Hour), mosaic.KindGone, "token_used")
	})

	t.Run("release after use", func(t *testing.T) {
		e := newEnrollment(t, s, time.Minute)
		must(t, s.ClaimToken(ctx, e.token.Hash, "a", time.Hour))
		must(t, s.ActivateGrant(ctx, e.activation("a")))
		must(t, s.ReleaseClaim(ctx, e.token.Hash, "a"))
		got, err := s.FindToken(ctx, e.token.Hash)
		must(t, err)
		if got.UsedAt == nil || got.ClaimID != "a" {
			t.Fatalf("release after use changed the token: %+v", got)
		}
		err = s.ClaimToken(ctx, e.token.Hash, "b", time.Millisecond)
		wantErr(t, err, mosaic.KindGone, "token_used")
	})

	t.Run("unknown token", func(t *testing.T) {
		must(t, s.ReleaseClaim(ctx, newHash(t), "a"))
	})
}

// revokeEvent is the audit event of an admin revoking a grant.
func revokeEvent(grantID string) *mosaic.AuditEvent {
	return &mosaic.AuditEvent{RequestID: unique("req"), GrantID: grantID,
		Verb: mosaic.VerbRevoke, Status: 200, Outcome: mosaic.OutcomeAllowed}
}
