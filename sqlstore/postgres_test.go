package sqlstore_test

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for rawPostgres
	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/sqlstore"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// openPostgres opens a store on the database at dbURL and closes it when
// the test ends.
func openPostgres(t *testing.T, dbURL string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenPostgres(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// rawPostgres opens the database without the store, to look at what it
// wrote.
func rawPostgres(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return raw
}

func TestPostgresStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) mosaic.Store {
		return openPostgres(t, storetest.PostgresURL(t))
	})
}

// pgSchema returns the database's tables, columns and indexes.
func pgSchema(t *testing.T, raw *sql.DB) string {
	t.Helper()
	return lines(t, raw, `
		SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
		FROM information_schema.columns WHERE table_schema = 'public'
		UNION ALL
		SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
		ORDER BY 1`)
}

// lines runs a query of one text column and returns its rows, one a line.
func lines(t *testing.T, raw *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := raw.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// gooseVersions lists the rows of goose's version table, in order.
func gooseVersions(t *testing.T, raw *sql.DB) string {
	t.Helper()
	return lines(t, raw, `SELECT version_id || ' ' || is_applied FROM goose_db_version
		ORDER BY id`)
}

// TestPostgresConcurrentOpen starts several stores at once on an empty
// database, as replicas do: every open succeeds and the schema is applied
// exactly once.
func TestPostgresConcurrentOpen(t *testing.T) {
	const n = 8
	dbURL := storetest.PostgresURL(t)
	dbs := make([]*sqlstore.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = sqlstore.OpenPostgres(t.Context(), dbURL)
		})
	}
	close(start)
	wg.Wait()
	for i, db := range dbs {
		if db != nil {
			t.Cleanup(func() { _ = db.Close() })
		}
		if errs[i] != nil {
			t.Errorf("OpenPostgres %d: %v", i, errs[i])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	raw := rawPostgres(t, dbURL)
	want := appliedVersions(schemaVersion)
	if got := gooseVersions(t, raw); got != want {
		t.Fatalf("goose_db_version rows:\n%swant\n%s", got, want)
	}
	for i, db := range dbs {
		v, err := db.SchemaVersion(t.Context())
		if err != nil || v != schemaVersion {
			t.Fatalf("store %d: schema version %d, %v; want %d", i, v, err, schemaVersion)
		}
	}

	// Every store works on the one schema.
	u := &mosaic.User{Name: "Shared", Email: "shared@example.test"}
	if err := dbs[0].CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := dbs[n-1].FindUser(t.Context(), u.ID); err != nil {
		t.Fatalf("user written by one store not found by another: %v", err)
	}
}

func TestPostgresReopen(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	db, err := sqlstore.OpenPostgres(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u := &mosaic.User{Name: "Kept", Email: "kept@example.test"}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw := rawPostgres(t, dbURL)
	before := pgSchema(t, raw)

	for i := range 2 {
		db := openPostgres(t, dbURL)
		if _, err := db.FindUser(t.Context(), u.ID); err != nil {
			t.Fatalf("reopen %d: user lost: %v", i, err)
		}
	}
	if after := pgSchema(t, raw); after != before {
		t.Fatalf("reopening changed the schema:\n%s\nwas\n%s", after, before)
	}
	if got := gooseVersions(t, raw); got != appliedVersions(schemaVersion) {
		t.Fatalf("goose_db_version rows after reopening:\n%s", got)
	}
}

func TestPostgresSchemaNewerThanBuild(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	db, err := sqlstore.OpenPostgres(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A later build applied the next migration.
	raw := rawPostgres(t, dbURL)
	_, err = raw.ExecContext(t.Context(),
		`INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`,
		schemaVersion+1)
	if err != nil {
		t.Fatal(err)
	}
	before := pgSchema(t, raw)

	db, err = sqlstore.OpenPostgres(t.Context(), dbURL)
	if err == nil {
		_ = db.Close()
		t.Fatal("OpenPostgres accepted a database newer than this build")
	}
	newer := fmt.Sprintf("version %d", schemaVersion+1)
	if !errors.Is(err, sqlstore.ErrSchemaTooNew) || !strings.Contains(err.Error(), newer) {
		t.Fatalf("OpenPostgres error %q, want ErrSchemaTooNew naming %s", err, newer)
	}
	if after := pgSchema(t, raw); after != before {
		t.Fatalf("refused open changed the schema:\n%s\nwas\n%s", after, before)
	}
	want := appliedVersions(schemaVersion + 1)
	if got := gooseVersions(t, raw); got != want {
		t.Fatalf("goose_db_version rows:\n%swant\n%s", got, want)
	}
}

// TestPostgresSameSchemaAsSQLite compares the columns of both stores'
// schemas: a column added to one migration and not the other fails here.
func TestPostgresSameSchemaAsSQLite(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	openPostgres(t, dbURL)
	pg := lines(t, rawPostgres(t, dbURL), `
		SELECT table_name || '.' || column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name <> 'goose_db_version' ORDER BY 1`)

	path := filepath.Join(t.TempDir(), "mosaic.db")
	openSQLite(t, path)
	lite := lines(t, rawDB(t, path), `
		SELECT m.name || '.' || c.name FROM sqlite_master m, pragma_table_info(m.name) c
		WHERE m.type = 'table' AND m.name NOT IN ('goose_db_version', 'sqlite_sequence')
		ORDER BY 1`)

	if pg != lite {
		t.Fatalf("PostgreSQL columns:\n%s\nSQLite columns:\n%s", pg, lite)
	}
	if strings.Count(pg, "\n") < 80 {
		t.Fatalf("only %d columns compared", strings.Count(pg, "\n"))
	}
}

// TestPostgresColumnTypes reads back what the store wrote: sealed columns
// are BYTEA holding exactly the bytes given, timestamps BIGINT unix
// milliseconds.
func TestPostgresColumnTypes(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	db := openPostgres(t, dbURL)
	ctx := t.Context()
	sealed := make([]byte, 64)
	_, _ = rand.Read(sealed)
	at := time.Date(2030, 1, 2, 3, 4, 5, 678_900_000, time.UTC)

	u := &mosaic.User{Name: "Owner", Email: "owner@example.test", CreatedAt: at}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	cred := &mosaic.Credential{UserID: u.ID, Name: "db", Kind: "password", SealedSecret: sealed}
	if err := db.CreateCredential(ctx, cred); err != nil {
		t.Fatal(err)
	}

	raw := rawPostgres(t, dbURL)
	var secret []byte
	var secretType string
	err := raw.QueryRowContext(ctx, `SELECT sealed_secret, pg_typeof(sealed_secret)::text
		FROM credentials WHERE id = $1`, cred.ID).Scan(&secret, &secretType)
	if err != nil {
		t.Fatal(err)
	}
	if secretType != "bytea" || !bytes.Equal(secret, sealed) {
		t.Fatalf("sealed secret stored as %s %x, want bytea %x", secretType, secret, sealed)
	}

	var ms int64
	var msType string
	err = raw.QueryRowContext(ctx, `SELECT created_at, pg_typeof(created_at)::text
		FROM users WHERE id = $1`, u.ID).Scan(&ms, &msType)
	if err != nil {
		t.Fatal(err)
	}
	if msType != "bigint" || ms != at.UnixMilli() {
		t.Fatalf("created_at stored as %s %d, want bigint %d", msType, ms, at.UnixMilli())
	}
}

// enroll creates, through db, a user, a pending grant to a new inbound peer
// and a one-minute enrollment token for it, and returns the grant and the
// token's hash.
func enroll(t *testing.T, db *sqlstore.DB) (*mosaic.Grant, string) {
	t.Helper()
	ctx := t.Context()
	u := &mosaic.User{Name: "Owner", Email: mosaic.NewID() + "@example.test"}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	g := &mosaic.Grant{UserID: u.ID, Scope: mosaic.Scope{
		Resources: []mosaic.Resource{mosaic.ResourceTasks}, MaxRowsPerQuery: 10}}
	peer := &mosaic.Peer{CommonName: "peer-a", DisplayName: "Peer A"}
	if err := db.CreateGrant(ctx, g, peer); err != nil {
		t.Fatal(err)
	}
	secret, err := mosaic.NewTokenSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := db.CreateToken(ctx, secret.Hash(), g.ID, g.PeerID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return g, tok.Hash
}

// TestPostgresClaimAcrossPools races 50 claims for one token through two
// separate stores on one database, as two replicas would: exactly one wins.
func TestPostgresClaimAcrossPools(t *testing.T) {
	const n = 50
	dbURL := storetest.PostgresURL(t)
	replicas := []*sqlstore.DB{openPostgres(t, dbURL), openPostgres(t, dbURL)}
	_, hash := enroll(t, replicas[0])

	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			claim := fmt.Sprintf("claim-%d", i)
			errs[i] = replicas[i%2].ClaimToken(t.Context(), hash, claim, time.Minute)
		})
	}
	close(start)
	wg.Wait()

	var winners []int
	for i, err := range errs {
		switch {
		case err == nil:
			winners = append(winners, i)
		case mosaic.ErrorCode(err) != "token_used" || !mosaic.IsKind(err, mosaic.KindGone):
			t.Errorf("claim %d: %v, want KindGone token_used", i, err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("winning claims %v, want exactly one", winners)
	}
	for r, db := range replicas {
		tok, err := db.FindToken(t.Context(), hash)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("claim-%d", winners[0]); tok.ClaimID != want {
			t.Fatalf("replica %d sees claim %q, want the winner's %q", r, tok.ClaimID, want)
		}
	}
}

// TestPostgresRevokeSeenAcrossPools revokes through one store and reads
// through another: the revocation is visible at once, and the other store
// can no longer activate the grant.
func TestPostgresRevokeSeenAcrossPools(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	a, b := openPostgres(t, dbURL), openPostgres(t, dbURL)
	g, hash := enroll(t, a)
	if err := b.ClaimToken(t.Context(), hash, "redeem", time.Minute); err != nil {
		t.Fatal(err)
	}

	ev := &mosaic.AuditEvent{GrantID: g.ID, Verb: mosaic.VerbRevoke, Status: 200,
		Outcome: mosaic.OutcomeAllowed}
	if _, err := a.RevokeGrant(t.Context(), g.ID, "", time.Time{}, ev); err != nil {
		t.Fatal(err)
	}
	got, err := b.FindGrant(t.Context(), g.ID)
	if err != nil || got.Status != mosaic.GrantRevoked {
		t.Fatalf("other store sees grant %+v (%v), want revoked", got, err)
	}

	err = b.ActivateGrant(t.Context(), mosaic.Activation{
		GrantID: g.ID, PeerID: g.PeerID, TokenHash: hash, ClaimID: "redeem",
		CertPEM: "cert", CertSerial: "01", CertFingerprint: "ff", KeyHash: "ee",
		CertNotAfter: time.Now().Add(time.Hour),
		Event: &mosaic.AuditEvent{GrantID: g.ID, Verb: mosaic.VerbEnroll, Status: 200,
			Outcome: mosaic.OutcomeAllowed},
	})
	if mosaic.ErrorCode(err) != "grant_not_pending" {
		t.Fatalf("ActivateGrant after revocation: %v, want grant_not_pending", err)
	}
}

// TestPostgresUnreachable opens a store on a port nobody listens on.
func TestPostgresUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	dbURL := "postgres://mosaic:secret-password@" + addr + "/mosaic?sslmode=disable"
	db, err := sqlstore.OpenPostgres(t.Context(), dbURL)
	if err == nil {
		_ = db.Close()
		t.Fatal("OpenPostgres succeeded with no server")
	}
	if !mosaic.IsKind(err, mosaic.KindUnavailable) ||
		mosaic.ErrorCode(err) != "database_unavailable" {
		t.Fatalf("got %v, want KindUnavailable database_unavailable", err)
	}
	if strings.Contains(err.Error(), "secret-password") {
		t.Fatalf("error repeats the password: %v", err)
	}
}

// TestPostgresConnectionLost opens a store through a TCP relay, cuts the
// relay and checks that store calls report the database unavailable.
func TestPostgresConnectionLost(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	r := newRelay(t, u.Host)
	u.Host = r.addr()
	db := openPostgres(t, u.String())
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}

	r.cut()
	calls := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return db.Ping(t.Context()) }},
		{"FindUser", func() error { _, err := db.FindUser(t.Context(), "u"); return err }},
		{"CreateTeam", func() error { return db.CreateTeam(t.Context(), &mosaic.Team{Name: "t"}) }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !mosaic.IsKind(err, mosaic.KindUnavailable) ||
				mosaic.ErrorCode(err) != "database_unavailable" {
				t.Fatalf("got %v, want KindUnavailable database_unavailable", err)
			}
		})
	}
}

// relay forwards TCP connections to a server until it is cut.
type relay struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// newRelay listens on a loopback port and forwards to target.
func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln}
	t.Cleanup(r.cut)
	go r.serve(target)
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) serve(target string) {
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", target)
		if err != nil {
			_ = in.Close()
			continue
		}
		if !r.track(in, out) {
			return
		}
		go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
		go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
	}
}

// track records a relayed pair, or closes it if the relay was cut.
func (r *relay) track(conns ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	r.conns = append(r.conns, conns...)
	return true
}

// cut stops listening and closes every relayed connection.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	_ = r.ln.Close()
	for _, c := range r.conns {
		_ = c.Close()
	}
}
