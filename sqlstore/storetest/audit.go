package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

func testAudit(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	peerA, peerB, grant := mosaic.NewID(), mosaic.NewID(), mosaic.NewID()
	at := time.Date(2029, 9, 9, 9, 9, 9, 999_999_999, time.UTC)
	full := &mosaic.AuditEvent{
		Time: at, RequestID: "req-1", PeerID: peerA, GrantID: grant,
		SubjectUserID: mosaic.NewID(), Verb: mosaic.VerbRead, Resource: "tasks", Status: 200,
		Outcome: mosaic.OutcomeAllowed, Reason: "ok", Rows: 17, SourceAddr: "192.0.2.1:5555",
		TokenHashPrefix: "0123456789ab", CertSerial: "beef",
	}
	must(t, s.AppendAudit(ctx, full))
	if full.ID == 0 {
		t.Fatal("AppendAudit did not set the id")
	}
	sameTime(t, "Time", full.Time, at)

	denied := &mosaic.AuditEvent{PeerID: peerB, Verb: mosaic.VerbEnroll, Status: 410,
		Outcome: mosaic.OutcomeDenied, Reason: "token_used"}
	must(t, s.AppendAudit(ctx, denied))
	recent(t, "database-stamped Time", denied.Time)
	if denied.ID <= full.ID {
		t.Fatalf("ids %d then %d, want increasing", full.ID, denied.ID)
	}
	third := &mosaic.AuditEvent{PeerID: peerA, GrantID: grant, Verb: mosaic.VerbRead,
		Status: 403, Outcome: mosaic.OutcomeDenied, Reason: "resource_not_in_scope"}
	must(t, s.AppendAudit(ctx, third))

	all, err := s.ListAudit(ctx, mosaic.AuditFilter{})
	must(t, err)
	if len(all) != 3 || *all[2] != *full {
		t.Fatalf("ListAudit = %+v, want 3 events ending with %+v", all, full)
	}

	tests := []struct {
		name string
		f    mosaic.AuditFilter
		want []int64
	}{
		{"newest first", mosaic.AuditFilter{}, []int64{third.ID, denied.ID, full.ID}},
		{"by peer", mosaic.AuditFilter{PeerID: peerA}, []int64{third.ID, full.ID}},
		{"by grant", mosaic.AuditFilter{GrantID: grant}, []int64{third.ID, full.ID}},
		{"by outcome", mosaic.AuditFilter{Outcome: mosaic.OutcomeDenied},
			[]int64{third.ID, denied.ID}},
		{"by peer and outcome", mosaic.AuditFilter{PeerID: peerA,
			Outcome: mosaic.OutcomeAllowed}, []int64{full.ID}},
		{"limit", mosaic.AuditFilter{Limit: 2}, []int64{third.ID, denied.ID}},
		{"none", mosaic.AuditFilter{GrantID: mosaic.NewID()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := s.ListAudit(ctx, tt.f)
			must(t, err)
			var ids []int64
			for _, ev := range evs {
				ids = append(ids, ev.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("ids %v, want %v", ids, tt.want)
			}
		})
	}
}

// testAuditLimits checks the default and maximum listing sizes.
func testAuditLimits(t *testing.T, s mosaic.Store) {
	if testing.Short() {
		t.Skip("writes more than mosaic.MaxListLimit events")
	}
	ctx := t.Context()
	n := mosaic.MaxListLimit + 1
	for range n {
		must(t, s.AppendAudit(ctx, &mosaic.AuditEvent{Verb: mosaic.VerbRead, Status: 403,
			Outcome: mosaic.OutcomeDenied}))
	}
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{"zero means default", 0, mosaic.DefaultListLimit},
		{"negative means default", -5, mosaic.DefaultListLimit},
		{"within bounds", 7, 7},
		{"capped at the maximum", n + 50, mosaic.MaxListLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := s.ListAudit(ctx, mosaic.AuditFilter{Limit: tt.limit})
			must(t, err)
			if len(evs) != tt.want {
				t.Fatalf("%d events, want %d", len(evs), tt.want)
			}
		})
	}
}
