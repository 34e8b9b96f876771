package gateway_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// replicas are two gateway processes sharing one PostgreSQL database, with
// what the tests need of them.
type replicas struct {
	r     [2]*proc
	root  *x509.Certificate // the CA root both serve
	dbURL string
	alice string   // a user with tasks
	tasks []string // ids of Alice's tasks
}

// TestReplicas runs two "mosaic gateway serve" processes on one PostgreSQL
// database with the same secret and admin token, started at the same
// moment on an empty database, and checks that the guarantees of DESIGN
// §3.3, §3.4 and §7 hold across them.
func TestReplicas(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	secret := strongSecret + "-replicas"
	adminToken := "replica-admin-token-" + strings.Repeat("x", 24)
	// The burst of redeems comes from one address: the enrollment rate
	// limit, tested on its own, would refuse most of it.
	env := map[string]string{seal.EnvSecret: secret, gateway.EnvAdminToken: adminToken,
		gateway.EnvEnrollRateLimit: "off"}

	// Both start at once on the empty database.
	rs := &replicas{dbURL: dbURL}
	for i := range rs.r {
		rs.r[i] = launch(t, t.TempDir(), dbURL, env)
	}
	for _, r := range rs.r {
		r.waitReady(t)
		if r.info.AdminToken != adminToken {
			t.Fatalf("admin.json of a replica does not hold %s", gateway.EnvAdminToken)
		}
	}
	rs.root = assertOneCA(t, rs)
	rs.seed(t)

	t.Run("across replicas", func(t *testing.T) {
		t.Run("concurrent redeems of one token", func(t *testing.T) {
			t.Parallel()
			testConcurrentRedeems(t, rs)
		})
		t.Run("revocation on one replica, next request on the other", func(t *testing.T) {
			t.Parallel()
			testRevokeAcrossReplicas(t, rs)
		})
		t.Run("certificate issued by one replica, accepted by the other", func(t *testing.T) {
			t.Parallel()
			testCertAcrossReplicas(t, rs)
		})
		t.Run("token expiry by the database clock", func(t *testing.T) {
			t.Parallel()
			testTokenExpiryAcrossReplicas(t, rs)
		})
	})

	for _, r := range rs.r {
		r.mustStop(t)
		assertNoSecrets(t, "replica", r.logs.String(), map[string]string{
			"secret": secret, "admin token": adminToken,
		})
	}
}

// assertOneCA checks that replicas started together on an empty database
// made one CA and applied the schema once: both serve the same chain, the
// stored root is that chain's root, and each migration is recorded once.
// It returns the root.
func assertOneCA(t *testing.T, rs *replicas) *x509.Certificate {
	t.Helper()
	chains := [2][]*x509.Certificate{caChain(t, rs.r[0].fedBase()), caChain(t, rs.r[1].fedBase())}
	if !sameCerts(chains[0], chains[1]) {
		t.Fatalf("the replicas serve different CA chains: %s and %s",
			pki.Pin(chains[0][0]), pki.Pin(chains[1][0]))
	}
	db := dbConn(t, rs.dbURL)
	var roots int
	var rootPEM string
	dbQueryRow(t, db, "SELECT count(*), COALESCE(max(cert_pem), '') FROM keys WHERE name = $1",
		[]any{embedded.KeyRoot}, &roots, &rootPEM)
	stored, err := pki.ParseCerts(rootPEM)
	if roots != 1 || err != nil || len(stored) != 1 || !stored[0].Equal(chains[0][0]) {
		t.Fatalf("%d stored %s, not the served root (%v)", roots, embedded.KeyRoot, err)
	}

	var versions, distinct, applied int
	dbQueryRow(t, db, `SELECT count(*), count(DISTINCT version_id),
		count(*) FILTER (WHERE version_id > 0) FROM goose_db_version`, nil,
		&versions, &distinct, &applied)
	if versions != distinct || applied == 0 {
		t.Errorf("goose_db_version: %d rows for %d versions (%d migrations): "+
			"the schema was applied more than once, or not at all", versions, distinct, applied)
	}
	for i, r := range rs.r {
		status, body := call(t, http.MethodGet, r.info.AdminURL+"/readyz", "", nil)
		if status != http.StatusOK {
			t.Errorf("replica %d: GET /readyz: %d %s", i+1, status, body)
		}
	}
	return chains[0][0]
}

// sameCerts reports whether a and b hold the same certificates in the same
// order.
func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// seed creates Alice with two tasks through the first replica.
func (rs *replicas) seed(t *testing.T) {
	t.Helper()
	var alice mosaic.User
	rs.r[0].mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Alice Example", "email": "alice@b.example.test"}, &alice)
	rs.alice = alice.ID
	for _, title := range []string{"Write the report", "Review the design"} {
		var task mosaic.Task
		rs.r[1].mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/tasks",
			map[string]any{"userId": alice.ID, "title": title}, &task)
		rs.tasks = append(rs.tasks, task.ID)
	}
	sort.Strings(rs.tasks)
}

// testConcurrentRedeems sends 100 redeems of one token, each with its own
// key, half to each replica, all at once: exactly one gets a certificate,
// the others 410, and exactly one certificate is ever signed.
func testConcurrentRedeems(t *testing.T, rs *replicas) {
	const n = 100
	g := newGrant(t, rs.r[0], rs.alice, "Gateway race")
	tok := newToken(t, rs.r[0], g.ID, 600)
	csrs := make([]string, n)
	for i := range csrs {
		_, csrs[i] = newCSR(t)
	}
	var clients [2]*http.Client
	for i := range clients {
		tr := &http.Transport{MaxIdleConnsPerHost: n, TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12, RootCAs: pki.NewPool(rs.root)}}
		t.Cleanup(tr.CloseIdleConnections)
		clients[i] = &http.Client{Timeout: httpTimeout, Transport: tr}
	}

	type answer struct {
		status int
		body   []byte
	}
	answers := make([]answer, n)
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-begin
			r := i % 2
			answers[i].status, answers[i].body = redeemAt(clients[r], rs.r[r].fedBase(),
				tok.Token, csrs[i])
		})
	}
	close(begin)
	wg.Wait()

	var won []answer
	tally := map[string]int{}
	for _, a := range answers {
		if a.status == http.StatusOK {
			won = append(won, a)
		}
		tally[fmt.Sprintf("%d %s", a.status, errorCode(a.body))]++
	}
	if len(won) != 1 || tally["410 token_used"] != n-1 {
		t.Fatalf("answers to %d redeems: %v; want one 200 and the others 410 token_used",
			n, tally)
	}
	var ans enrollAnswer
	if err := json.Unmarshal(won[0].body, &ans); err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.ParseCerts(ans.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := pki.ParseIdentity(leaf[0]); err != nil || id.GrantID != g.ID {
		t.Errorf("issued certificate names grant %q (%v), want %s", id.GrantID, err, g.ID)
	}
	assertOneIssue(t, dbConn(t, rs.dbURL), g.ID, pki.SerialHex(leaf[0]), n)
}

// assertOneIssue checks in the database that a grant's enrollment left one
// allowed audit event with the issued serial, n-1 denied ones without any
// serial (nothing else was signed), and the serial on the active grant,
// its active peer and its token.
func assertOneIssue(t *testing.T, db *pgx.Conn, grantID, serial string, n int) {
	t.Helper()
	var allowed, usedDenials, withSerial int
	var allowedSerial string
	dbQueryRow(t, db, `SELECT
		count(*) FILTER (WHERE outcome = 'allowed'),
		count(*) FILTER (WHERE outcome = 'denied' AND reason = 'token_used'),
		count(*) FILTER (WHERE cert_serial <> ''),
		COALESCE(max(cert_serial) FILTER (WHERE outcome = 'allowed'), '')
		FROM audit_events WHERE verb = $1 AND grant_id = $2`,
		[]any{mosaic.VerbEnroll, grantID}, &allowed, &usedDenials, &withSerial, &allowedSerial)
	if allowed != 1 || usedDenials != n-1 || withSerial != 1 || allowedSerial != serial {
		t.Errorf("enroll audit: %d allowed (serial %s), %d token_used denials, %d events "+
			"with a serial; want 1 (serial %s), %d, 1", allowed, allowedSerial, usedDenials,
			withSerial, serial, n-1)
	}

	var grantStatus, grantSerial, peerState, peerSerial, tokenSerial string
	dbQueryRow(t, db, `SELECT g.status, g.cert_serial, p.state, p.cert_serial, k.issued_serial
		FROM grants g JOIN peers p ON p.id = g.peer_id
		JOIN enrollment_tokens k ON k.grant_id = g.id WHERE g.id = $1`, []any{grantID},
		&grantStatus, &grantSerial, &peerState, &peerSerial, &tokenSerial)
	if grantStatus != "active" || peerState != "active" {
		t.Errorf("grant %s, peer %s; want both active", grantStatus, peerState)
	}
	for what, got := range map[string]string{
		"grant": grantSerial, "peer": peerSerial, "token": tokenSerial,
	} {
		if got != serial {
			t.Errorf("%s holds serial %q, want the delivered %s", what, got, serial)
		}
	}
}

// testRevokeAcrossReplicas revokes a grant on the first replica while a
// kept-alive connection to the second is open: the very next request on
// that connection is refused.
func testRevokeAcrossReplicas(t *testing.T, rs *replicas) {
	g := newGrant(t, rs.r[0], rs.alice, "Gateway revoke")
	tok := newToken(t, rs.r[0], g.ID, 600)
	cert := enrollAt(t, rs.r[0].fedBase(), rs.root, tok.Token)
	client := httpsClient(t, rs.root, &cert)
	url := rs.r[1].fedBase() + "/api/federation/v1/tasks"

	first := fedGet(t, client, url)
	if first.status != http.StatusOK {
		t.Fatalf("read before revoke: %d %s", first.status, first.body)
	}
	second := fedGet(t, client, url)
	if second.status != http.StatusOK || !second.reused || second.local != first.local {
		t.Fatalf("second read: %d, reused %v; want 200 on the same connection",
			second.status, second.reused)
	}

	rs.r[0].mustAdmin(t, http.StatusOK, http.MethodPatch,
		"/api/admin/federation/grants/"+g.ID+"/revoke",
		map[string]any{"reason": "replica test"}, nil)
	next := fedGet(t, client, url)
	if !next.reused || next.local != first.local {
		t.Fatalf("the read after revoke did not reuse the open connection")
	}
	if next.status != http.StatusForbidden || errorCode(next.body) != "grant_not_active" {
		t.Fatalf("read after revoke on the other replica: %d %s, want 403 grant_not_active",
			next.status, next.body)
	}
	// The first replica refuses too, on a new connection.
	other := fedGet(t, httpsClient(t, rs.root, &cert),
		rs.r[0].fedBase()+"/api/federation/v1/tasks")
	if other.status != http.StatusForbidden || errorCode(other.body) != "grant_not_active" {
		t.Errorf("read after revoke on the revoking replica: %d %s", other.status, other.body)
	}
}

// testCertAcrossReplicas enrolls through the first replica and reads
// through the second, then the first: both answer Alice's tasks.
func testCertAcrossReplicas(t *testing.T, rs *replicas) {
	g := newGrant(t, rs.r[0], rs.alice, "Gateway across")
	tok := newToken(t, rs.r[0], g.ID, 600)
	cert := enrollAt(t, rs.r[0].fedBase(), rs.root, tok.Token)
	for i, r := range []*proc{rs.r[1], rs.r[0]} {
		res := fedGet(t, httpsClient(t, rs.root, &cert), r.fedBase()+"/api/federation/v1/tasks")
		if res.status != http.StatusOK {
			t.Fatalf("read %d: %d %s", i+1, res.status, res.body)
		}
		var q queryAnswer
		if err := json.Unmarshal(res.body, &q); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, task := range q.Items {
			ids = append(ids, task.ID)
		}
		sort.Strings(ids)
		if fmt.Sprint(ids) != fmt.Sprint(rs.tasks) {
			t.Errorf("read %d: tasks %v, want Alice's %v", i+1, ids, rs.tasks)
		}
	}
}

// testTokenExpiryAcrossReplicas issues a two-second token through the
// first replica. Its expiry is the database clock's creation time plus two
// seconds; before it both replicas take the token (a malformed CSR is
// refused as such), after it both answer 410 token_expired.
func testTokenExpiryAcrossReplicas(t *testing.T, rs *replicas) {
	g := newGrant(t, rs.r[0], rs.alice, "Gateway expiry")
	db := dbConn(t, rs.dbURL)
	before := dbNowMillis(t, db)
	tok := newToken(t, rs.r[0], g.ID, 2)
	after := dbNowMillis(t, db)
	expires := tok.ExpiresAt.UnixMilli()
	if tok.TTLSeconds != 2 || expires < before+2000 || expires > after+2000 {
		t.Fatalf("token of ttl %ds expires at %d, want the database clock's %d..%d + 2000",
			tok.TTLSeconds, expires, before, after)
	}
	var stored int64
	dbQueryRow(t, db, "SELECT expires_at FROM enrollment_tokens WHERE grant_id = $1",
		[]any{g.ID}, &stored)
	if stored != expires {
		t.Errorf("answered expiresAt %d, stored %d", expires, stored)
	}

	client := httpsClient(t, rs.root, nil)
	ask := func(r int, csr string) (status int, code string, when expiry) {
		from := dbNowMillis(t, db)
		st, body := redeemAt(client, rs.r[r].fedBase(), tok.Token, csr)
		to := dbNowMillis(t, db)
		return st, errorCode(body), judge(from, to, expires)
	}

	// Before expiry: the token is accepted and the CSR refused.
	checkedBefore := 0
	for r := range rs.r {
		status, code, when := ask(r, "not a CSR")
		switch {
		case when == beforeExpiry && (status != http.StatusBadRequest || code != "invalid_csr"):
			t.Errorf("replica %d before expiry: %d %s, want 400 invalid_csr", r+1, status, code)
		case when == beforeExpiry:
			checkedBefore++
		}
	}
	if checkedBefore == 0 {
		t.Fatal("the token expired before either replica could be asked")
	}

	// After expiry, by the database clock: both refuse a valid CSR alike.
	time.Sleep(time.Until(tok.ExpiresAt))
	for dbNowMillis(t, db) < expires {
		time.Sleep(10 * time.Millisecond)
	}
	for r := range rs.r {
		_, csr := newCSR(t)
		status, code, when := ask(r, csr)
		if when != afterExpiry || status != http.StatusGone || code != "token_expired" {
			t.Errorf("replica %d after expiry: %d %s, want 410 token_expired", r+1, status, code)
		}
	}
	var status string
	dbQueryRow(t, db, "SELECT status FROM grants WHERE id = $1", []any{g.ID}, &status)
	if status != "pending" {
		t.Errorf("grant %s after redeems of an expired token, want pending", status)
	}
}

// expiry says where a request stood against a token's expiry by the
// database clock.
type expiry int

const (
	beforeExpiry expiry = iota // the whole request ran before it
	afterExpiry                // the whole request ran at or after it
	aroundExpiry               // it may have run on either side
)

// judge places a request the database clock bracketed between from and to
// (milliseconds) against expires: a token is expired when the clock is at
// or past its expiry.
func judge(from, to, expires int64) expiry {
	switch {
	case to < expires:
		return beforeExpiry
	case from >= expires:
		return afterExpiry
	}
	return aroundExpiry
}

// traced is one federated read's answer and the connection it used.
type traced struct {
	status int
	body   []byte
	reused bool
	local  string // the client's address of the connection
}

// fedGet makes a GET with client and records which connection it used.
func fedGet(t *testing.T, client *http.Client, url string) traced {
	t.Helper()
	var res traced
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		res.reused, res.local = info.Reused, info.Conn.LocalAddr().String()
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace),
		http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, resp.Body); err != nil {
		t.Fatal(err)
	}
	res.status, res.body = resp.StatusCode, buf.Bytes()
	return res
}
