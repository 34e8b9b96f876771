package bench

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore"
	"github.com/mosaicgw/mosaic/sqlstore/auditchain"
)

// seedTarget is a store with the gateway's schema and the seeder of its
// database.
type seedTarget struct {
	store  *sqlstore.DB
	seeder *Seeder
}

// sqliteTarget makes a SQLite store in a temporary data directory.
func sqliteTarget(t *testing.T) seedTarget {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "mosaic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sd, err := OpenSeeder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sd.Close() })
	return seedTarget{store: store, seeder: sd}
}

// postgresTarget makes a PostgreSQL store in a throwaway database, or
// skips when the server is unreachable.
func postgresTarget(t *testing.T) seedTarget {
	t.Helper()
	ctx := context.Background()
	url := os.Getenv("MOSAIC_TEST_POSTGRES_URL")
	if url == "" {
		url = DefaultPostgresURL
	}
	pg, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Skipf("PostgreSQL unreachable: %v", err)
	}
	t.Cleanup(func() { pg.Close(context.Background()) })
	dbURL, err := pg.CreateDatabase(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlstore.OpenPostgres(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sd, err := OpenSeeder("", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sd.Close() })
	return seedTarget{store: store, seeder: sd}
}

func TestSeeder(t *testing.T) {
	tests := []struct {
		name string
		open func(*testing.T) seedTarget
	}{
		{"sqlite", sqliteTarget},
		{"postgres", postgresTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testSeeder(t, tt.open(t))
		})
	}
}

// testSeeder seeds grants and audit rows between two appends of the store
// and reads them back through the store, checking that the indexes
// survive and that the audit chain verifies across the seeded rows.
func testSeeder(t *testing.T, st seedTarget) {
	t.Helper()
	ctx := context.Background()
	user := &mosaic.User{Name: "Owner", Email: "owner@bench.example"}
	if err := st.store.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	before := indexNames(t, st.seeder)
	appendAudit(t, st.store, "before the seed")
	if err := st.seeder.Grants(ctx, user.ID, 250); err != nil {
		t.Fatal(err)
	}
	if err := st.seeder.Audit(ctx, user.ID, 1000, 250); err != nil {
		t.Fatal(err)
	}
	appendAudit(t, st.store, "after the seed")
	if after := indexNames(t, st.seeder); !slices.Equal(before, after) {
		t.Errorf("indexes %v after seeding, want %v", after, before)
	}
	for table, want := range map[string]int{"grants": 250, "peers": 250, "audit_events": 1002} {
		if n, err := st.seeder.Count(ctx, table); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}

	g, err := st.store.FindGrant(ctx, seedGrantPrefix+"000000000250")
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != mosaic.GrantActive || g.UserID != user.ID ||
		!g.Scope.Allows(mosaic.ResourceTasks) || g.Scope.MaxRowsPerQuery != PageRows {
		t.Errorf("seeded grant %+v: want an active grant of the user's tasks", g)
	}
	p, err := st.store.FindPeer(ctx, g.PeerID)
	if err != nil || p.State != mosaic.PeerActive || p.Role != mosaic.PeerInbound {
		t.Errorf("seeded peer %+v (%v): want an active inbound peer", p, err)
	}
	evs, err := st.store.ListAudit(ctx, mosaic.AuditFilter{GrantID: g.ID, Limit: 100})
	if err != nil || len(evs) != 4 {
		t.Errorf("%d audit events of grant 250 (%v), want 4", len(evs), err)
	}
	checkChain(t, st.store, 1002)
}

// appendAudit appends one event through the store.
func appendAudit(t *testing.T, store *sqlstore.DB, requestID string) {
	t.Helper()
	err := store.AppendAudit(context.Background(), &mosaic.AuditEvent{RequestID: requestID,
		Verb: "read", Resource: "tasks", Status: 200, Outcome: mosaic.OutcomeAllowed})
	if err != nil {
		t.Fatal(err)
	}
}

// checkChain verifies the audit chain of store: rows rows, intact, the
// last one the store's own append after the seed.
func checkChain(t *testing.T, store *sqlstore.DB, rows int64) {
	t.Helper()
	ctx := context.Background()
	r, err := auditchain.Verify(ctx, store, 128)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Intact || r.Rows != rows {
		t.Fatalf("chain intact %v over %d rows (break %+v), want intact over %d", r.Intact,
			r.Rows, r.Break, rows)
	}
	head, err := store.ScanAudit(ctx, auditchain.Query{After: r.HeadID - 1, Limit: 1})
	if err != nil || len(head) != 1 || head[0].RequestID != "after the seed" {
		t.Errorf("head of the chain %+v (%v), want the append after the seed", head, err)
	}
}

// indexNames lists the secondary indexes of the seeded tables.
func indexNames(t *testing.T, sd *Seeder) []string {
	t.Helper()
	var names []string
	for _, table := range []string{"peers", "grants", "audit_events"} {
		tx, err := sd.db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		idx, err := sd.indexes(context.Background(), tx, table)
		tx.Rollback()
		if err != nil {
			t.Fatal(err)
		}
		for _, ix := range idx {
			names = append(names, ix.name)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		t.Fatal("no secondary indexes found: the listing is broken")
	}
	return names
}
