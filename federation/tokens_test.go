package federation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
)

func TestIssueTokenTTL(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	user := g.User(t, "Ada")
	tests := []struct {
		name string
		ask  time.Duration
		want time.Duration
	}{
		{"default", 0, 900 * time.Second},
		{"negative means default", -time.Second, 900 * time.Second},
		{"short", 60 * time.Second, 60 * time.Second},
		{"the maximum", 900 * time.Second, 900 * time.Second},
		{"clamped", 5000 * time.Second, 900 * time.Second},
		{"sub-second rounds up", time.Millisecond, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gr := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))
			before := time.Now()
			tok, err := g.Svc.IssueToken(context.Background(), gr.ID, gr.PeerID, tc.ask)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TTL != tc.want {
				t.Errorf("TTL = %s, want %s", tok.TTL, tc.want)
			}
			// The store sets the expiry by the database clock.
			lo, hi := before.Add(tc.want-2*time.Second), time.Now().Add(tc.want+2*time.Second)
			if tok.ExpiresAt.Before(lo) || tok.ExpiresAt.After(hi) {
				t.Errorf("expiresAt = %s, want within [%s, %s]", tok.ExpiresAt, lo, hi)
			}
		})
	}
}

func TestIssueTokenAnswer(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{PublicURL: "https://b.example:8443/"})
	user := g.User(t, "Ada")
	gr := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))
	tok := g.Token(t, gr.ID)

	secret := tok.Token.Reveal()
	if _, err := mosaic.ParseTokenSecret(secret); err != nil {
		t.Fatalf("token %q is not well formed: %v", secret, err)
	}
	want := "https://b.example:8443/api/federation/enrollment/" + secret + "#ca=" + g.CA.Pin()
	if got := tok.EnrollmentURL(); got != want {
		t.Errorf("enrollment URL = %q, want %q", got, want)
	}
	if tok.GrantID != gr.ID || tok.PeerID != gr.PeerID || tok.CAPin != g.CA.Pin() {
		t.Errorf("token answer = %+v", tok)
	}
	// Printing the answer does not print the token.
	if s := fmt.Sprintf("%v %+v", tok, *tok); strings.Contains(s, secret) {
		t.Errorf("printed token answer holds the token: %s", s)
	}
	if strings.Contains(g.Logs.String(), secret) {
		t.Error("the log holds the token")
	}
}

func TestIssueTokenRefusals(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	user := g.User(t, "Ada")
	pending := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))
	other := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))
	revoked := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))
	if _, err := g.Svc.Revoke(ctx, revoked.ID, ""); err != nil {
		t.Fatal(err)
	}
	active := g.Enroll(t, user.ID, fedtest.Scope(5, "tasks")).Grant

	tests := []struct {
		name    string
		grantID string
		peerID  string
		status  int
		code    string
	}{
		{"peer mismatch", pending.ID, other.PeerID, 400, "peer_mismatch"},
		{"revoked grant", revoked.ID, "", 409, "grant_not_pending"},
		{"active grant", active.ID, active.PeerID, 409, "grant_not_pending"},
		{"unknown grant", mosaic.NewID(), "", 404, "grant_not_found"},
		{"malformed grant id", "x'--", "", 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.Svc.IssueToken(ctx, tc.grantID, tc.peerID, time.Minute)
			wantCode(t, err, tc.status, tc.code)
		})
	}
}

func TestStoreHoldsOnlyTheTokenHash(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	user := g.User(t, "Ada")
	gr := g.Grant(t, user.ID, fedtest.Scope(5, "tasks"))
	tok := g.Token(t, gr.ID)
	secret := tok.Token.Reveal()

	// The check must be able to see what is in the files: the hash is.
	if !g.FilesContain(t, tok.Token.Hash()) {
		t.Fatal("the token hash is not in the database files; the scan sees nothing")
	}
	if g.FilesContain(t, secret) {
		t.Error("the database files hold the token")
	}
}

// TestTokenLookupByHashOnly checks that a redeem looks its token up by the
// token's SHA-256 alone: the database compares whole digests, so how much
// of a guess is right changes nothing in how it is looked up or answered.
func TestTokenLookupByHashOnly(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	_, token := pendingToken(t, g)
	// A guess right in all but its last character.
	last := "A"
	if strings.HasSuffix(token, last) {
		last = "Q"
	}
	guess := token[:len(token)-1] + last
	_, csr := fedtest.NewCSR(t)

	_, err := redeem(g, guess, csr)
	wantCode(t, err, 404, "token_not_found")
	_, err = redeem(g, token[:20], csr)
	wantCode(t, err, 400, "invalid_token")
	if _, err := redeem(g, token, csr); err != nil {
		t.Fatal(err)
	}
	if _, err := redeem(g, token, csr); err != nil { // the retry path
		t.Fatal(err)
	}

	// The store saw hashes of whole tokens, never a token or a part of one.
	hashes := map[string]bool{
		mosaic.TokenSecret(token).Hash(): true,
		mosaic.TokenSecret(guess).Hash(): true,
	}
	keys := g.Faults.TokenKeys()
	if len(keys) < 5 {
		t.Fatalf("the store saw %d token keys; the check sees nothing", len(keys))
	}
	for _, k := range keys {
		if !hashes[k] || strings.Contains(k, token[:8]) || strings.Contains(k, guess[:8]) {
			t.Errorf("the store was asked for token key %q, not a token's SHA-256", k)
		}
	}
}
