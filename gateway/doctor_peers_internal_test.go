package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

func TestJudgePeersNamesThem(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	peer := func(n int, notAfter, dueAt time.Duration, failures int) *mosaic.Peer {
		return &mosaic.Peer{ID: fmt.Sprintf("p%d", n), DisplayName: fmt.Sprintf("Gateway %d", n),
			Role: mosaic.PeerOutbound, State: mosaic.PeerActive,
			CertNotAfter: at(notAfter), RenewNextAt: at(dueAt), RenewFailures: failures,
			RenewLastError: "renewal_refused: grant_not_active"}
	}
	healthy := func(n int) *mosaic.Peer { return peer(n, 10*time.Hour, 5*time.Hour, 0) }
	failing := func(n int) *mosaic.Peer { return peer(n, 10*time.Hour, -time.Hour, 2) }
	expired := func(n int) *mosaic.Peer { return peer(n, -time.Hour, -9*time.Hour, 0) }
	late := func(n int) *mosaic.Peer { return peer(n, time.Hour, -10*time.Hour, 0) }

	tests := []struct {
		name   string
		peers  []*mosaic.Peer
		status mosaic.CheckStatus
		reason string
		named  int // peers with a check of their own
	}{
		{"none", nil, mosaic.CheckOK, "no active outbound peers", 0},
		{"all renewed", []*mosaic.Peer{healthy(1), healthy(2)}, mosaic.CheckOK,
			"2 active outbound peers, certificates renewed on time", 0},
		{"one failing", []*mosaic.Peer{failing(1)}, mosaic.CheckWarn,
			"1 of 1 active outbound peers need attention: peer p1 (Gateway 1): renewal failing", 1},
		{"three of four", []*mosaic.Peer{late(1), healthy(2), expired(3), failing(4)},
			mosaic.CheckFail, "3 of 4 active outbound peers need attention: " +
				"peer p1 (Gateway 1): renewal late; peer p3 (Gateway 3): certificate expired; " +
				"peer p4 (Gateway 4): renewal failing", 3},
		{"five of six", []*mosaic.Peer{failing(1), failing(2), healthy(3), late(4), failing(5),
			expired(6)}, mosaic.CheckFail, "5 of 6 active outbound peers need attention: " +
			"peer p1 (Gateway 1): renewal failing; peer p2 (Gateway 2): renewal failing; " +
			"peer p4 (Gateway 4): renewal late; and 2 more", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := judgePeers(tt.peers, now)
			summary := checks[0]
			if summary.Name != checkOutboundPeers || summary.Status != tt.status ||
				summary.Reason != tt.reason {
				t.Errorf("summary %+v\nwant %s %q", summary, tt.status, tt.reason)
			}
			// Every peer that needs attention has its own check too.
			if len(checks)-1 != tt.named {
				t.Errorf("%d peer checks, want %d: %+v", len(checks)-1, tt.named, checks)
			}
		})
	}
}
