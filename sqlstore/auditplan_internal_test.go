package sqlstore

import (
	"path/filepath"
	"strings"
	"testing"
)

// auditListings are the audit listings by one filter, as ListAudit builds
// them, with the index each must read.
var auditListings = []struct {
	name, cond, index string
}{
	{"peer", condAuditPeer, "audit_events_by_peer"},
	{"grant", condAuditGrant, "audit_events_by_grant"},
	{"outcome", condAuditOutcome, "audit_events_by_outcome"},
}

// TestSQLiteAuditListingsUseIndexes checks the plans of the audit
// listings: each filter reads its index, newest first, without sorting.
func TestSQLiteAuditListingsUseIndexes(t *testing.T) {
	db, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, l := range auditListings {
		t.Run(l.name, func(t *testing.T) {
			q := filtered(sqlListAudit, []string{l.cond}, sqlListAuditEnd)
			rows, err := db.pool.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, "x", 10)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(plan, "; ")
			if !strings.Contains(got, "USING INDEX "+l.index) || strings.Contains(got, "TEMP B-TREE") {
				t.Fatalf("plan %q: want %s read without a sort", got, l.index)
			}
		})
	}
}

// TestPostgresAuditListingsUseIndexes checks the same on PostgreSQL, with
// sequential scans priced out as on a large log.
func TestPostgresAuditListingsUseIndexes(t *testing.T) {
	db := openPostgresTest(t)
	conn, err := db.pool.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	for _, l := range auditListings {
		t.Run(l.name, func(t *testing.T) {
			q := db.d.rebind(filtered(sqlListAudit, []string{l.cond}, sqlListAuditEnd))
			rows, err := conn.QueryContext(t.Context(), "EXPLAIN "+q, "x", 10)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, strings.TrimSpace(line))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(plan, "; ")
			if !strings.Contains(got, "Index Scan Backward using "+l.index) ||
				strings.Contains(got, "Sort") {
				t.Fatalf("plan %q: want %s read backwards without a sort", got, l.index)
			}
		})
	}
}
