package sqlstore

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

func TestRebind(t *testing.T) {
	stmt := `UPDATE t SET a = ?, at = {{now}} WHERE b = '?' AND c > {{now}} - ?`
	tests := []struct {
		name string
		d    *dialect
		want string
	}{
		{"sqlite", sqliteDialect, `UPDATE t SET a = ?, at = ` + sqliteDialect.nowMillis +
			` WHERE b = '?' AND c > ` + sqliteDialect.nowMillis + ` - ?`},
		{"postgres", postgresDialect, `UPDATE t SET a = $1, at = ` + postgresDialect.nowMillis +
			` WHERE b = '?' AND c > ` + postgresDialect.nowMillis + ` - $2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.rebind(stmt); got != tt.want {
				t.Fatalf("rebind =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestConnectionSettings checks the PRAGMAs on a connection of each pool:
// the writer's and a reader's.
func TestConnectionSettings(t *testing.T) {
	db, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		name, pragma, want string
		pool               *sql.DB
	}{
		{"writer", "journal_mode", "wal", db.pool},
		{"writer", "foreign_keys", "1", db.pool},
		{"writer", "busy_timeout", "5000", db.pool},
		{"writer", "synchronous", "2", db.pool},
		{"writer", "temp_store", "2", db.pool}, // MEMORY
		{"writer", "query_only", "0", db.pool},
		{"reader", "journal_mode", "wal", db.reads},
		{"reader", "busy_timeout", "5000", db.reads},
		{"reader", "query_only", "1", db.reads},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.pragma, func(t *testing.T) {
			var got string
			err := tt.pool.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got)
			if err != nil || got != tt.want {
				t.Fatalf("PRAGMA %s = %q (%v), want %q", tt.pragma, got, err, tt.want)
			}
		})
	}
}

// TestReadersCannotWrite checks that a write sent to the read pool is
// refused by SQLite and changes nothing.
func TestReadersCannotWrite(t *testing.T) {
	db, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.read().exec(t.Context(), sqlPutSetting, "k", "v"); err == nil {
		t.Fatal("a reader wrote a setting")
	}
	if _, err := db.GetSetting(t.Context(), "k"); !mosaic.IsKind(err, mosaic.KindNotFound) {
		t.Fatalf("setting after a refused write: %v, want not found", err)
	}
}

// TestNowMillis checks the database clock expression against the test's.
func TestNowMillis(t *testing.T) {
	db, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ms int64
	err = db.read().queryRow(t.Context(), "SELECT {{now}}").Scan(&ms)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(fromMillis(ms)); d < -time.Second || d > time.Second {
		t.Fatalf("database now is %v off the test's clock", d)
	}
}

// TestBusyIsUnavailable holds the write lock from another connection and
// checks that a store write that cannot get it is KindUnavailable
// "database_busy", with the driver's detail kept out of the message.
func TestBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	holder, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()

	// A second handle with no busy timeout fails at once instead of
	// waiting five seconds.
	impatient, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	quick := &DB{pool: impatient, reads: impatient, d: sqliteDialect, migrations: db.migrations}
	err = quick.PutSetting(t.Context(), "k", "v")
	if !mosaic.IsKind(err, mosaic.KindUnavailable) || mosaic.ErrorCode(err) != "database_busy" {
		t.Fatalf("got %v, want KindUnavailable database_busy", err)
	}
	if msg := mosaic.ErrorMessage(err); msg != "the database is busy, try again" {
		t.Fatalf("message %q", msg)
	}
}
