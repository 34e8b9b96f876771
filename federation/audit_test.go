package federation_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// exportAll exports the records e selects and the sizes of the batches
// they came in.
func exportAll(t *testing.T, g *fedtest.Gateway, e federation.AuditExport) (
	[]*auditchain.Record, []int) {
	t.Helper()
	var recs []*auditchain.Record
	var sizes []int
	err := g.Svc.ExportAudit(context.Background(), e, func(b []*auditchain.Record) error {
		recs = append(recs, b...)
		sizes = append(sizes, len(b))
		return nil
	})
	if err != nil {
		t.Fatalf("ExportAudit: %v", err)
	}
	return recs, sizes
}

// verifyAudit verifies the gateway's audit chain.
func verifyAudit(t *testing.T, g *fedtest.Gateway) *auditchain.Report {
	t.Helper()
	r, err := g.Svc.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return r
}

// TestAuditChainOfFlows writes audit events through every flow that
// writes them and checks that they form one intact chain.
func TestAuditChainOfFlows(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	ctx := federation.WithRequestID(context.Background(), "req-chain")
	user := g.User(t, "Ada")

	e := g.Enroll(t, user.ID, fedtest.Scope(5, "tasks"))
	_, csr := fedtest.NewCSR(t)
	if _, err := redeem(g, "no-such-token", csr); err == nil {
		t.Fatal("redeem of an unknown token succeeded")
	}
	g.Svc.RecordDeniedRequest(ctx, federation.DeniedRequest{Path: "/api/federation/nothing",
		Source: "192.0.2.9:1", Status: 404, Reason: "not_found"})
	g.Svc.RecordRateLimited(ctx, federation.RateLimited{Source: "192.0.2.9",
		Since: time.Now().Add(-time.Minute), Refused: 7})
	if _, err := g.Svc.Revoke(ctx, e.Grant.ID, "contract ended"); err != nil {
		t.Fatal(err)
	}

	listed := g.Audit(t, mosaic.AuditFilter{})
	r := verifyAudit(t, g)
	if !r.Intact || r.Rows != int64(len(listed)) || len(listed) != 5 || r.HeadID != listed[0].ID {
		t.Fatalf("verify = %+v over %d events, want intact with 5 rows", r, len(listed))
	}

	recs, _ := exportAll(t, g, federation.AuditExport{})
	if len(recs) != len(listed) {
		t.Fatalf("exported %d records, listed %d events", len(recs), len(listed))
	}
	prev := ""
	for i, rec := range recs {
		if rec.AuditEvent != *listed[len(listed)-1-i] || rec.PrevHash != prev || rec.Hash == "" {
			t.Fatalf("record %d = %+v, want event %+v linked to %q", i, rec,
				listed[len(listed)-1-i], prev)
		}
		prev = rec.Hash
	}
	if r.HeadHash != prev {
		t.Fatalf("head hash %s, want the last record's %s", r.HeadHash, prev)
	}
}

// TestVerifyAuditBroken alters a row in the database file behind the
// gateway's back.
func TestVerifyAuditBroken(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	for i := range 4 {
		g.Svc.RecordDeniedRequest(context.Background(), federation.DeniedRequest{
			Path: "/x", Status: 404, Reason: "not_found", RequestID: "req-" + string(rune('a'+i))})
	}
	evs := g.Audit(t, mosaic.AuditFilter{})
	altered := evs[2].ID

	raw, err := sql.Open("sqlite", "file:"+g.DBPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, err = raw.Exec(`UPDATE audit_events SET reason = 'ok', status = 200 WHERE id = ?`, altered)
	if err != nil {
		t.Fatal(err)
	}

	r := verifyAudit(t, g)
	if r.Intact || r.Break == nil || r.Break.ID != altered ||
		r.Break.Problem != auditchain.ProblemHashMismatch {
		t.Fatalf("verify = %+v (break %+v), want hash_mismatch at row %d", r, r.Break, altered)
	}
	if !strings.Contains(g.Logs.String(), "audit chain broken") {
		t.Error("the broken chain was not logged")
	}
}

func TestExportAuditSelection(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []int64
	for i := range federation.AuditBatch + 2 {
		ev := &mosaic.AuditEvent{Time: base.Add(time.Duration(i) * time.Second),
			Verb: mosaic.VerbRead, Status: 403, Outcome: mosaic.OutcomeDenied}
		if err := g.Store.AppendAudit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	tests := []struct {
		name    string
		since   string
		want    []int64
		batches []int
	}{
		{"everything, in batches", "", ids, []int{federation.AuditBatch, 2}},
		{"since", base.Add(time.Duration(federation.AuditBatch-1) * time.Second).
			Format(time.RFC3339), ids[federation.AuditBatch-1:], []int{3}},
		{"since, in another zone", "2030-01-01T01:00:02+01:00", ids[2:],
			[]int{federation.AuditBatch}},
		{"nothing since", "2031-01-01T00:00:00Z", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, sizes := exportAll(t, g, federation.AuditExport{Format: "jsonl", Since: tc.since})
			var got []int64
			for _, r := range recs {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, tc.want) || !slices.Equal(sizes, tc.batches) {
				t.Fatalf("exported %d records in batches %v, want %d in %v", len(got), sizes,
					len(tc.want), tc.batches)
			}
		})
	}
}

func TestExportAuditRefusals(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	g.Svc.RecordDeniedRequest(context.Background(), federation.DeniedRequest{Path: "/x",
		Status: 404, Reason: "not_found"})
	tests := []struct {
		name string
		e    federation.AuditExport
		code string
	}{
		{"unknown format", federation.AuditExport{Format: "csv"}, "invalid_format"},
		{"format in capitals", federation.AuditExport{Format: "JSONL"}, "invalid_format"},
		{"since not RFC 3339", federation.AuditExport{Since: "2030-01-01"}, "invalid_since"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emitted := false
			err := g.Svc.ExportAudit(context.Background(), tc.e, func([]*auditchain.Record) error {
				emitted = true
				return nil
			})
			wantCode(t, err, 400, tc.code)
			if emitted {
				t.Error("records were emitted before the refusal")
			}
		})
	}
}

// TestAuditChainNeedsChainStore gives the service a store that does not
// keep an audit chain.
func TestAuditChainNeedsChainStore(t *testing.T) {
	g := fedtest.New(t, fedtest.Options{})
	svc := federation.New(federation.Config{Store: struct{ mosaic.Store }{g.Store}})
	_, err := svc.VerifyAudit(context.Background())
	if mosaic.ErrorKind(err) != mosaic.KindInternal {
		t.Errorf("VerifyAudit: %v, want an internal error", err)
	}
	err = svc.ExportAudit(context.Background(), federation.AuditExport{},
		func([]*auditchain.Record) error { return nil })
	if mosaic.ErrorKind(err) != mosaic.KindInternal {
		t.Errorf("ExportAudit: %v, want an internal error", err)
	}
}
