package sqlstore

import (
	"fmt"
	"math/bits"
	"path/filepath"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// TestAuditChunks checks how a batch is cut into inserts: into prepared
// sizes, largest first, as many inserts as n has bits, on SQLite; at once
// on PostgreSQL, which prepares nothing when the store opens.
func TestAuditChunks(t *testing.T) {
	sqlite, postgres := &DB{d: sqliteDialect}, &DB{d: postgresDialect}
	prepared := map[int]bool{}
	for _, n := range auditChunkSizes() {
		prepared[n] = true
	}
	for n := 1; n <= maxAuditBatch; n++ {
		var sizes []int
		for rest := n; rest > 0; {
			size := sqlite.auditChunk(rest)
			if !prepared[size] || size > rest {
				t.Fatalf("n=%d: a chunk of %d rows of %d left, not a prepared size", n, size, rest)
			}
			sizes = append(sizes, size)
			rest -= size
		}
		if len(sizes) != bits.OnesCount(uint(n)) {
			t.Fatalf("n=%d: chunks %v, want %d", n, sizes, bits.OnesCount(uint(n)))
		}
		if got := postgres.auditChunk(n); got != n {
			t.Fatalf("PostgreSQL n=%d: a first insert of %d rows, want all", n, got)
		}
	}
}

// TestAuditBatchSizes writes group commits of many sizes on SQLite, each
// in prepared chunks: every event gets the next id, in the batch's order,
// and the chain stays intact.
func TestAuditBatchSizes(t *testing.T) {
	db, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, n := range auditChunkSizes() {
		if db.writeStmts.get(db.auditInsert(n)) == nil {
			t.Fatalf("the insert of %d audit rows is not prepared", n)
		}
	}

	var total int
	last := int64(0)
	for _, n := range []int{1, 2, 3, 5, 29, 64, 127, 255, 256} {
		batch := make([]*auditJob, n)
		for i := range batch {
			batch[i] = &auditJob{ev: &mosaic.AuditEvent{RequestID: fmt.Sprintf("b%d-%d", n, i),
				Verb: mosaic.VerbRead, Status: 403, Outcome: mosaic.OutcomeDenied}}
		}
		db.writeAuditBatch(t.Context(), batch)
		for i, j := range batch {
			if !j.done || j.err != nil {
				t.Fatalf("batch of %d, event %d: done %v, %v", n, i, j.done, j.err)
			}
			if j.row.id != last+1 {
				t.Fatalf("batch of %d, event %d: id %d, want %d", n, i, j.row.id, last+1)
			}
			last = j.row.id
		}
		total += n
	}

	r, err := auditchain.Verify(t.Context(), db, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Intact || r.Rows != int64(total) {
		t.Fatalf("verify = %+v, want intact with %d rows", r, total)
	}
	recs, err := db.ScanAudit(t.Context(), auditchain.Query{Limit: total})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != total {
		t.Fatalf("%d rows, want %d", len(recs), total)
	}
}
