package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// TestSweepMarksExpiredGrants checks that the running gateway marks a grant
// expired in the database once its expiry has passed, and leaves a grant
// without expiry alone.
func TestSweepMarksExpiredGrants(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := start(t, dir, options{sweepInterval: 100 * time.Millisecond})
	data := seedGrantor(t, n)
	scope := map[string]any{"resources": []string{"tasks"}, "max_rows_per_query": 5}

	var expiring, lasting mosaic.Grant
	n.mustAdmin(t, http.StatusCreated, http.MethodPost, pathGrants, map[string]any{
		"userId": data.alice, "peerName": "Soon", "scope": scope,
		"expiresAt": time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano),
	}, &expiring)
	n.mustAdmin(t, http.StatusCreated, http.MethodPost, pathGrants, map[string]any{
		"userId": data.alice, "peerName": "Never", "scope": scope,
	}, &lasting)

	db := openDB(t, dir)
	status := func(id string) string {
		t.Helper()
		var s string
		if err := db.QueryRow(`SELECT status FROM grants WHERE id = ?`, id).Scan(&s); err != nil {
			t.Fatalf("status of grant %s: %v", id, err)
		}
		return s
	}
	deadline := time.Now().Add(10 * time.Second)
	swept := func() bool {
		return status(expiring.ID) == string(mosaic.GrantExpired) &&
			strings.Contains(n.logs.String(), "grants expired")
	}
	for !swept() {
		if time.Now().After(deadline) {
			t.Fatalf("grant %q in the database 10s after its expiry\nlogs:\n%s",
				status(expiring.ID), n.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := status(lasting.ID); got != string(mosaic.GrantPending) {
		t.Fatalf("grant without expiry is %q, want pending", got)
	}
}
