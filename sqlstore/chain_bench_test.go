package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// benchChainRows is how many audit rows BenchmarkVerifyAuditChain
// verifies, and benchBatch the batch size it reads them in (that of
// federation.AuditBatch).
const (
	benchChainRows = 1_000_000
	benchBatch     = 1000
)

// BenchmarkVerifyAuditChain verifies a chain of a million audit rows in a
// SQLite file, reading it in batches as the gateway does, and reports the
// rows verified per second. Only -bench runs it: seeding takes a while.
func BenchmarkVerifyAuditChain(b *testing.B) {
	path := filepath.Join(b.TempDir(), "mosaic.db")
	db, err := sqlstore.OpenSQLite(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := seedChain(b.Context(), path, benchChainRows); err != nil {
		b.Fatal(err)
	}

	for b.Loop() {
		r, err := auditchain.Verify(b.Context(), db, benchBatch)
		if err != nil {
			b.Fatal(err)
		}
		if !r.Intact || r.Rows != benchChainRows {
			b.Fatalf("report %+v, want intact with %d rows", r, benchChainRows)
		}
	}
	b.ReportMetric(float64(benchChainRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// seedChain writes n linked audit rows into the SQLite file at path in one
// transaction, hashing them as the store would: denied and allowed reads
// of a few peers and grants, a millisecond apart.
func seedChain(ctx context.Context, path string, n int) error {
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer raw.Close()
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_events (id, occurred_at,
		request_id, peer_id, grant_id, subject_user_id, verb, resource, status, outcome,
		reason, row_count, source_addr, token_hash_prefix, cert_serial, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()

	peers := []string{mosaic.NewID(), mosaic.NewID(), mosaic.NewID()}
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := ""
	for i := range n {
		ev := mosaic.AuditEvent{
			ID:        int64(i + 1),
			Time:      start.Add(time.Duration(i) * time.Millisecond),
			RequestID: fmt.Sprintf("%024x", i), PeerID: peers[i%3], GrantID: peers[(i+1)%3],
			SubjectUserID: peers[(i+2)%3], Verb: mosaic.VerbRead, Resource: "tasks",
			Status: 200, Outcome: mosaic.OutcomeAllowed, Rows: i % 50,
			SourceAddr: "192.0.2.10:41234", CertSerial: "5f3a9c0e1d2b4a6f8e7d6c5b4a392817",
		}
		if i%10 == 0 {
			ev.Status, ev.Outcome, ev.Reason, ev.Rows = 403, mosaic.OutcomeDenied,
				"resource_not_in_scope", 0
		}
		hash := auditchain.Hash(prev, &ev)
		_, err := stmt.ExecContext(ctx, ev.ID, ev.Time.UnixMilli(), ev.RequestID, ev.PeerID,
			ev.GrantID, ev.SubjectUserID, ev.Verb, ev.Resource, ev.Status, string(ev.Outcome),
			ev.Reason, ev.Rows, ev.SourceAddr, ev.TokenHashPrefix, ev.CertSerial, prev, hash)
		if err != nil {
			return err
		}
		prev = hash
	}
	return tx.Commit()
}
