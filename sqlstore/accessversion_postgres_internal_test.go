package sqlstore

import (
	"fmt"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// TestPostgresAccessVersionOncePerTransaction checks the access version
// triggers on one session: a transaction that changes many grants and
// peers moves the version on once, at its commit; one rolled back does not
// move it; and every later transaction on the same session moves it again,
// so the once-per-transaction marker never outlives its transaction.
func TestPostgresAccessVersionOncePerTransaction(t *testing.T) {
	db := openPostgresTest(t)
	ctx := t.Context()
	conn, err := db.pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	version := func() int64 {
		t.Helper()
		var v int64
		row := conn.QueryRowContext(ctx, `SELECT version FROM access_version WHERE id = 1`)
		if err := row.Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	inTx := func(commit bool, stmts ...string) {
		t.Helper()
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				_ = tx.Rollback()
				t.Fatal(err)
			}
		}
		end := tx.Rollback
		if commit {
			end = tx.Commit
		}
		if err := end(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		p := &mosaic.Peer{Role: mosaic.PeerInbound, State: mosaic.PeerPending,
			CommonName: fmt.Sprintf("cn-%d", i), DisplayName: "Peer"}
		if err := db.CreatePeer(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	v0 := version()
	touchAll := `UPDATE peers SET display_name = display_name || 'x'`
	inTx(true, touchAll, touchAll, `UPDATE grants SET updated_at = updated_at`)
	if v := version(); v != v0+1 {
		t.Fatalf("after one transaction changing many rows: version %d, want %d", v, v0+1)
	}
	inTx(false, touchAll)
	if v := version(); v != v0+1 {
		t.Fatalf("after a rolled back transaction: version %d, want %d", v, v0+1)
	}
	for i := range 3 {
		inTx(true, touchAll)
		if v := version(); v != v0+2+int64(i) {
			t.Fatalf("after transaction %d on the same session: version %d, want %d",
				i+2, v, v0+2+int64(i))
		}
	}
	// A single statement outside an explicit transaction too.
	if _, err := conn.ExecContext(ctx, touchAll); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != v0+5 {
		t.Fatalf("after a statement of its own: version %d, want %d", v, v0+5)
	}
}
