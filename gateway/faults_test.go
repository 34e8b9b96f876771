package gateway_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// faultEnv is the environment of the gateways of the fault tests. Their
// enrollments come from one address, faster than the enrollment rate
// limit (tested on its own) allows.
var faultEnv = map[string]string{seal.EnvSecret: strongSecret,
	gateway.EnvEnrollRateLimit: "off"}

// Paths of the admin API the fault tests use.
const (
	pathUsers  = "/api/admin/users"
	pathGrants = "/api/admin/federation/grants"
	pathPeers  = "/api/admin/federation/peers"
)

// TestFaultSQLiteLocked holds the write lock of a gateway's SQLite file
// from another connection for longer than the gateway waits for it: admin
// writes and an enrollment answer 503 database_busy with Retry-After and
// change nothing, a federated read is withheld (503 audit_unavailable),
// admin reads go on, and once the lock is released the same requests
// succeed on the same gateway, the enrollment with the same token.
func TestFaultSQLiteLocked(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	f := newFaultNode(t, start(t, dataDir, options{env: faultEnv}))
	alice := faultUser(t, f, "Alice Example", "alice@b.example.test")
	read := f.readCall(t, "federated read", enrolledCert(t, f, alice), "tasks")
	g := faultGrant(t, f, alice, "Gateway A")
	tok := faultToken(t, f, g.ID)
	_, csr := newCSR(t)
	db := openDB(t, dataDir)
	before := dumpDB(t, db, "audit_events")

	writes := []faultCall{
		f.adminCall("user create", http.MethodPost, pathUsers,
			map[string]any{"name": "Bob Other", "email": "bob@b.example.test"}),
		f.adminCall("grant create", http.MethodPost, pathGrants, grantBody(alice, "Gateway C")),
		f.adminCall("token create", http.MethodPost, pathGrants+"/"+g.ID+"/tokens",
			map[string]any{"ttlSeconds": 600}),
		f.redeemCall("enrollment", tok.Token, csr),
	}
	release := holdSQLiteWriteLock(t, dataDir)
	mustSend(t, f.adminCall("user list", http.MethodGet, pathUsers, nil), http.StatusOK, nil)
	// Each write waits out the gateway's busy timeout, all at once; the
	// lock is held until every answer is in.
	answers := sendAll(t, append(writes, read))
	release()
	for i, a := range answers[:len(writes)] {
		assertUnavailable(t, writes[i].name+" while the database is locked", a, "database_busy")
	}
	assertUnavailable(t, "federated read while the database is locked", answers[len(writes)],
		"audit_unavailable")
	assertFaultLogged(t, f.logs.String(), "database_busy")
	if changed := changedTables(before, dumpDB(t, db, "audit_events")); len(changed) > 0 {
		t.Errorf("the refused writes changed %v", changed)
	}

	for i, want := range []int{http.StatusCreated, http.StatusCreated, http.StatusCreated,
		http.StatusOK} {
		mustSend(t, writes[i], want, nil)
	}
	mustSend(t, read, http.StatusOK, nil)
	assertGrantStatus(t, f.node, g.ID, mosaic.GrantActive)
}

// TestFaultPostgresGone runs a gateway on PostgreSQL through a relay and
// cuts it: admin reads and writes, an enrollment and a federated read
// answer 503 database_unavailable with Retry-After, never 500, and write
// nothing; once the relay is back the same requests succeed without a
// restart, the enrollment with the same token.
func TestFaultPostgresGone(t *testing.T) {
	t.Parallel()
	direct := storetest.PostgresURL(t)
	relay, relayed := relayedURL(t, direct)
	f := newFaultNode(t, start(t, t.TempDir(), options{env: faultEnv, databaseURL: relayed}))
	alice := faultUser(t, f, "Alice Example", "alice@b.example.test")
	cert := enrolledCert(t, f, alice)
	pending := faultGrant(t, f, alice, "Gateway B")
	tok := faultToken(t, f, pending.ID)
	_, csr := newCSR(t)

	calls := []faultCall{
		f.adminCall("user list", http.MethodGet, pathUsers, nil),
		f.adminCall("grant show", http.MethodGet, pathGrants+"/"+pending.ID, nil),
		f.adminCall("peer list", http.MethodGet, pathPeers, nil),
		f.adminCall("user create", http.MethodPost, pathUsers,
			map[string]any{"name": "Bob Other", "email": "bob@b.example.test"}),
		f.adminCall("grant create", http.MethodPost, pathGrants, grantBody(alice, "Gateway C")),
		f.adminCall("token create", http.MethodPost, pathGrants+"/"+pending.ID+"/tokens",
			map[string]any{"ttlSeconds": 600}),
		f.redeemCall("enrollment", tok.Token, csr),
		f.readCall(t, "federated read", cert, "tasks"),
	}
	want := []int{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusCreated,
		http.StatusCreated, http.StatusCreated, http.StatusOK, http.StatusOK}
	mustSend(t, calls[len(calls)-1], http.StatusOK, nil)
	db := dbConn(t, direct)
	before := pgCounts(t, db)

	// On PostgreSQL the admin API reads its token's hash on every request,
	// so the admin calls stop there; TestFaultPostgresCutMidWrite cuts
	// admin writes in their transactions.
	relay.setDown(true)
	for _, c := range calls {
		a, err := c.send()
		if err != nil {
			t.Fatalf("%s with the database cut: %v", c.name, err)
		}
		assertUnavailable(t, c.name+" with the database cut", a, "database_unavailable")
	}
	relay.setDown(false)

	if after := pgCounts(t, db); after != before {
		t.Errorf("rows before the cut: %+v, after: %+v", before, after)
	}
	assertPendingUnclaimed(t, db, pending.ID)
	for i, c := range calls {
		mustSend(t, c, want[i], nil)
	}
	assertGrantStatus(t, f.node, pending.ID, mosaic.GrantActive)
	assertFaultLogged(t, f.logs.String(), "database_unavailable")
}

// TestFaultPostgresCutMidWrite cuts a gateway from PostgreSQL while one of
// its write transactions waits inside the database, on a table lock the
// test holds, so that the cut lands in the middle of the transaction: the
// request answers 503 database_unavailable, the transaction rolls back with
// its connection, and once the relay is back the same request succeeds.
// An enrollment cut in its activation, after the token was claimed and the
// certificate signed, leaves grant and peer pending and the token unused,
// logs the undelivered certificate's serial, and can be redeemed once the
// claim the gateway could not give back has gone stale.
func TestFaultPostgresCutMidWrite(t *testing.T) {
	t.Parallel()
	direct := storetest.PostgresURL(t)
	relay, relayed := relayedURL(t, direct)
	f := newFaultNode(t, start(t, t.TempDir(), options{env: faultEnv, databaseURL: relayed}))
	alice := faultUser(t, f, "Alice Example", "alice@b.example.test")
	g := faultGrant(t, f, alice, "Gateway A")
	tok := faultToken(t, f, g.ID)
	_, csr := newCSR(t)
	cut := &midCut{relay: relay, db: dbConn(t, direct), locker: dbConn(t, direct)}

	cases := []struct {
		name  string
		table string // the table the request's write waits for
		call  faultCall
		want  int // the status of the request sent again
		// written, when set, is what the rows may be after the cut: a
		// single statement goes on in the database once the lock is gone
		// and commits without its client, so the gateway cannot know
		// whether it happened. Then it is there whole, and the request
		// sent again is 409 with the code in conflict. Otherwise nothing
		// changes.
		written  func(rowCounts) rowCounts
		conflict string
		check    func(t *testing.T) // after the cut, before the request is sent again
	}{
		{name: "user create", table: "users", call: f.adminCall("user create",
			http.MethodPost, pathUsers,
			map[string]any{"name": "Bob Other", "email": "bob@b.example.test"}),
			want: http.StatusCreated, conflict: "email_taken",
			written: func(c rowCounts) rowCounts { c.users++; return c }},
		{name: "grant create with a new peer", table: "grants", call: f.adminCall(
			"grant create", http.MethodPost, pathGrants, grantBody(alice, "Gateway C")),
			want: http.StatusCreated},
		{name: "enrollment in its activation", table: "peers",
			call: f.redeemCall("enrollment", tok.Token, csr), want: http.StatusOK,
			check: func(t *testing.T) {
				assertNotActivated(t, cut.db, g.ID)
				assertUndeliveredLogged(t, f.logs.String())
				ageClaim(t, cut.db, g.ID)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer relay.setDown(false)
			before := pgCounts(t, cut.db)
			a := cut.during(t, tc.table, tc.call)
			assertUnavailable(t, tc.name+" cut mid-transaction", a, "database_unavailable")
			want := tc.want
			switch after := pgCounts(t, cut.db); {
			case after == before:
			case tc.written != nil && after == tc.written(before):
				t.Logf("%s: the statement cut from its client committed: %+v", tc.name, after)
				want = http.StatusConflict
			default:
				t.Errorf("rows before the cut: %+v, after: %+v", before, after)
			}
			if tc.check != nil {
				tc.check(t)
			}
			relay.setDown(false)
			again := mustSend(t, tc.call, want, nil)
			if want == http.StatusConflict && errorCode(again.body) != tc.conflict {
				t.Errorf("%s sent again: %s, want code %s", tc.name, again.body, tc.conflict)
			}
		})
	}
	assertGrantStatus(t, f.node, g.ID, mosaic.GrantActive)
	assertFaultLogged(t, f.logs.String(), "database_unavailable")
}

// TestFaultDiskFull fills the disk under an initialised gateway's SQLite
// data directory: writes answer 503 storage_full with Retry-After and
// change nothing, a federated read is withheld (503 audit_unavailable),
// admin reads go on; once space is freed the same requests succeed on the
// same gateway, the enrollment with the same token, and the database
// passes an integrity check.
func TestFaultDiskFull(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, 16<<20)
	dataDir := filepath.Join(disk, "data")
	f := newFaultNode(t, start(t, dataDir, options{env: faultEnv}))
	alice := faultUser(t, f, "Alice Example", "alice@b.example.test")
	read := f.readCall(t, "federated read", enrolledCert(t, f, alice), "tasks")
	g := faultGrant(t, f, alice, "Gateway A")
	tok := faultToken(t, f, g.ID)
	_, csr := newCSR(t)
	db := openDB(t, dataDir)
	before := dumpDB(t, db, "audit_events")

	writes := []faultCall{
		f.adminCall("user create", http.MethodPost, pathUsers,
			map[string]any{"name": "Bob Other", "email": "bob@b.example.test"}),
		f.adminCall("grant create", http.MethodPost, pathGrants, grantBody(alice, "Gateway C")),
		f.adminCall("token create", http.MethodPost, pathGrants+"/"+g.ID+"/tokens",
			map[string]any{"ttlSeconds": 600}),
		f.redeemCall("enrollment", tok.Token, csr),
	}
	reads := []faultCall{
		f.adminCall("user list", http.MethodGet, pathUsers, nil),
		f.adminCall("grant list", http.MethodGet, pathGrants, nil),
		f.adminCall("grant show", http.MethodGet, pathGrants+"/"+g.ID, nil),
		f.adminCall("peer list", http.MethodGet, pathPeers, nil),
	}
	filler := fillDisk(t, disk)
	for _, c := range writes {
		a, err := c.send()
		if err != nil {
			t.Fatalf("%s on a full disk: %v", c.name, err)
		}
		assertUnavailable(t, c.name+" on a full disk", a, "storage_full")
	}
	a, err := read.send()
	if err != nil {
		t.Fatal(err)
	}
	assertUnavailable(t, "federated read on a full disk", a, "audit_unavailable")
	for _, c := range reads {
		mustSend(t, c, http.StatusOK, nil)
	}
	if changed := changedTables(before, dumpDB(t, db, "audit_events")); len(changed) > 0 {
		t.Errorf("the refused writes changed %v", changed)
	}
	assertFaultLogged(t, f.logs.String(), "storage_full")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{http.StatusCreated, http.StatusCreated, http.StatusCreated,
		http.StatusOK} {
		mustSend(t, writes[i], want, nil)
	}
	mustSend(t, read, http.StatusOK, nil)
	assertGrantStatus(t, f.node, g.ID, mosaic.GrantActive)
	var integrity string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil ||
		integrity != "ok" {
		t.Errorf("integrity check: %q %v", integrity, err)
	}
}

// faultUser creates a user and returns its id.
func faultUser(t *testing.T, f *faultNode, name, email string) string {
	t.Helper()
	var u mosaic.User
	mustSend(t, f.adminCall("user create", http.MethodPost, pathUsers,
		map[string]any{"name": name, "email": email}), http.StatusCreated, &u)
	return u.ID
}

// enrolledCert gives the user a task and a peer an active grant of the
// user's tasks, and returns the peer's client certificate.
func enrolledCert(t *testing.T, f *faultNode, userID string) *tls.Certificate {
	t.Helper()
	mustSend(t, f.adminCall("task create", http.MethodPost, "/api/admin/tasks",
		map[string]any{"userId": userID, "title": "Write the report"}), http.StatusCreated, nil)
	g := faultGrant(t, f, userID, "Gateway R")
	cert := enrollAt(t, f.publicBase(), f.root, faultToken(t, f, g.ID).Token)
	return &cert
}

// grantBody asks for a grant of the user's tasks to a new peer.
func grantBody(userID, peerName string) map[string]any {
	return map[string]any{"userId": userID, "peerName": peerName, "scope": map[string]any{
		"resources": []string{"tasks"}, "max_rows_per_query": 10}}
}

// faultGrant creates a pending grant of the user's tasks to a new peer.
func faultGrant(t *testing.T, f *faultNode, userID, peerName string) mosaic.Grant {
	t.Helper()
	var g mosaic.Grant
	mustSend(t, f.adminCall("grant create", http.MethodPost, pathGrants,
		grantBody(userID, peerName)), http.StatusCreated, &g)
	return g
}

// faultToken issues an enrollment token for a grant.
func faultToken(t *testing.T, f *faultNode, grantID string) issuedToken {
	t.Helper()
	var tok issuedToken
	mustSend(t, f.adminCall("token create", http.MethodPost, pathGrants+"/"+grantID+"/tokens",
		map[string]any{"ttlSeconds": 600}), http.StatusCreated, &tok)
	return tok
}

// rowCounts are the rows of the tables a refused request could have
// written to, audit events aside.
type rowCounts struct {
	users, peers, grants, tokens, used int
}

// pgCounts counts the rows of a gateway's PostgreSQL database.
func pgCounts(t *testing.T, db *pgx.Conn) rowCounts {
	t.Helper()
	var c rowCounts
	dbQueryRow(t, db, `SELECT
		(SELECT count(*) FROM users), (SELECT count(*) FROM peers),
		(SELECT count(*) FROM grants), (SELECT count(*) FROM enrollment_tokens),
		(SELECT count(*) FROM enrollment_tokens WHERE used_at IS NOT NULL)`, nil,
		&c.users, &c.peers, &c.grants, &c.tokens, &c.used)
	return c
}

// assertPendingUnclaimed checks that a grant is pending and its one token
// neither used nor claimed.
func assertPendingUnclaimed(t *testing.T, db *pgx.Conn, grantID string) {
	t.Helper()
	var status string
	var tokens, open int
	dbQueryRow(t, db, `SELECT g.status, count(t.hash),
		count(t.hash) FILTER (WHERE t.used_at IS NULL AND t.claim_id IS NULL)
		FROM grants g LEFT JOIN enrollment_tokens t ON t.grant_id = g.id
		WHERE g.id = $1 GROUP BY g.status`, []any{grantID}, &status, &tokens, &open)
	if status != string(mosaic.GrantPending) || tokens != 1 || open != 1 {
		t.Errorf("grant %s is %s with %d tokens, %d unused and unclaimed; "+
			"want pending with 1 and 1", grantID, status, tokens, open)
	}
}

// assertNotActivated checks that nothing of a refused activation stayed:
// the grant and its peer pending without a certificate, the token unused,
// no allowed enrollment audited.
func assertNotActivated(t *testing.T, db *pgx.Conn, grantID string) {
	t.Helper()
	var grant, peer, certPEM string
	var used bool
	var allowed int
	dbQueryRow(t, db, `SELECT g.status, p.state, p.cert_pem, t.used_at IS NOT NULL,
		(SELECT count(*) FROM audit_events a WHERE a.grant_id = g.id AND a.outcome = 'allowed')
		FROM grants g JOIN peers p ON p.id = g.peer_id
		JOIN enrollment_tokens t ON t.grant_id = g.id WHERE g.id = $1`, []any{grantID},
		&grant, &peer, &certPEM, &used, &allowed)
	if grant != string(mosaic.GrantPending) || peer != string(mosaic.PeerPending) ||
		certPEM != "" || used || allowed != 0 {
		t.Errorf("after the cut activation: grant %s, peer %s with %d bytes of certificate, "+
			"token used %v, %d allowed events; want pending, pending, 0, false, 0",
			grant, peer, len(certPEM), used, allowed)
	}
}

// undelivered matches the log line of an enrollment refused after its
// certificate was signed: it names the certificate's serial.
var undelivered = regexp.MustCompile(
	`msg="enrollment denied".* reason=database_unavailable .*cert_serial=[0-9a-f]{32,}`)

// assertUndeliveredLogged checks that the serial of a certificate signed
// but never delivered is logged, since the audit trail could not take it.
func assertUndeliveredLogged(t *testing.T, logs string) {
	t.Helper()
	if !undelivered.MatchString(logs) {
		t.Errorf("no log line names the serial of the undelivered certificate:\n%s", logs)
	}
}

// ageClaim moves a claim the gateway could not give back past the claim
// timeout, as waiting federation.DefaultClaimTimeout would.
func ageClaim(t *testing.T, db *pgx.Conn, grantID string) {
	t.Helper()
	tag, err := db.Exec(t.Context(), `UPDATE enrollment_tokens
		SET claimed_at = claimed_at - $1 WHERE grant_id = $2 AND claim_id IS NOT NULL`,
		(federation.DefaultClaimTimeout + time.Second).Milliseconds(), grantID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("claims left held by the cut enrollment: %d", tag.RowsAffected())
}

// midCut cuts a gateway from its PostgreSQL database in the middle of a
// write transaction. db and locker are connections of the test's own,
// straight to the database.
type midCut struct {
	relay      *relay
	db, locker *pgx.Conn
}

// during sends call while the test holds a lock on table that the call's
// write must wait for, cuts the relay once it waits, and returns the
// answer once every session of the gateway, the waiting one included, has
// ended. The relay stays down.
func (c *midCut) during(t *testing.T, table string, call faultCall) rawAnswer {
	t.Helper()
	ctx := t.Context()
	lock, err := c.locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(context.WithoutCancel(ctx))
	// SHARE mode lets reads of the table go on and makes writes wait.
	stmt := "LOCK TABLE " + pgx.Identifier{table}.Sanitize() + " IN SHARE MODE"
	if _, err := lock.Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
	type result struct {
		a   rawAnswer
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := call.send()
		done <- result{a, err}
	}()
	waitFor(t, call.name+" waits for "+table, func() bool {
		if len(done) > 0 {
			r := <-done
			t.Fatalf("%s answered before it waited for %s: %d %s %v",
				call.name, table, r.a.status, r.a.body, r.err)
		}
		var waiting int
		dbQueryRow(t, c.db, `SELECT count(*) FROM pg_locks
			WHERE relation = to_regclass($1) AND NOT granted`, []any{table}, &waiting)
		return waiting > 0
	})
	c.relay.setDown(true)
	var res result
	select {
	case res = <-done:
	case <-time.After(httpTimeout):
		t.Fatalf("no answer to %s cut mid-transaction", call.name)
	}
	if res.err != nil {
		t.Fatalf("%s: %v", call.name, res.err)
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the gateway's sessions have ended", func() bool {
		var n int
		dbQueryRow(t, c.db, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND backend_type = 'client backend'
				AND pid <> pg_backend_pid() AND pid <> $1`,
			[]any{c.locker.PgConn().PID()}, &n)
		return n == 0
	})
	return res.a
}
