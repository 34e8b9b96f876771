package gateway_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
)

// Shape of the crash test.
const (
	crashEnrollments = 200
	crashWorkers     = 8
	crashReaders     = 2
	// crashKills is how many times the gateway is killed at most, and
	// crashKillWindow for how long: the enrollments left after the last
	// kill run undisturbed. The enrollments take 10 to 40 seconds, with 20
	// to 30 kills, depending on the machine's load.
	crashKills      = 30
	crashKillWindow = 45 * time.Second
	// crashDeadline bounds the enrollments, to fail rather than hang.
	crashDeadline = 150 * time.Second
	// envCrashSeed names the variable that replays a run's kill points.
	envCrashSeed = "MOSAIC_CRASH_SEED"
)

// crashGateway is a "mosaic gateway serve" process on one SQLite data
// directory that the test kills with SIGKILL and starts again.
type crashGateway struct {
	t   *testing.T
	dir string
	env map[string]string

	mu  sync.Mutex
	cur *crashProc    // nil while down
	up  chan struct{} // closed when cur is set
	// starts counts the processes started.
	starts int
}

// crashProc is one process of a crashGateway.
type crashProc struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
	err    error // what Wait returned, set before exited is closed
	info   *gateway.AdminInfo
	down   chan struct{} // closed once the process is gone
}

// newCrashGateway starts the first process.
func newCrashGateway(t *testing.T, dir string, env map[string]string) *crashGateway {
	t.Helper()
	g := &crashGateway{t: t, dir: dir, env: env, up: make(chan struct{})}
	t.Cleanup(func() {
		g.mu.Lock()
		p := g.cur
		g.mu.Unlock()
		if p != nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	g.start()
	return g
}

// start launches a process and waits until it serves.
func (g *crashGateway) start() {
	t := g.t
	t.Helper()
	p := &crashProc{logs: &syncBuffer{}, exited: make(chan struct{}), down: make(chan struct{})}
	p.cmd = command(t, g.env, "gateway", "serve", "--data-dir", g.dir,
		"--admin-addr", "127.0.0.1:0", "--federation-addr", "127.0.0.1:0")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start mosaic gateway serve: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for !strings.Contains(p.logs.String(), `msg="gateway started"`) {
		select {
		case <-p.exited:
			t.Fatalf("gateway exited before it was ready (%v):\n%s", p.err, p.logs)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready after %s:\n%s", startTimeout, p.logs)
		}
	}
	info, err := gateway.ReadAdminFile(filepath.Join(g.dir, gateway.AdminFile))
	if err != nil {
		t.Fatalf("admin file: %v", err)
	}
	p.info = info

	g.mu.Lock()
	g.cur, g.starts = p, g.starts+1
	close(g.up)
	g.mu.Unlock()
}

// kill ends the process with SIGKILL and waits until it is gone.
func (g *crashGateway) kill() {
	g.mu.Lock()
	p := g.cur
	g.cur, g.up = nil, make(chan struct{})
	g.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		g.t.Fatalf("SIGKILL: %v", err)
	}
	<-p.exited
	close(p.down)
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		g.t.Errorf("gateway ended with %v, not by SIGKILL:\n%s", p.err, p.logs)
	}
}

// stop ends the process with SIGTERM and checks that it exits cleanly.
func (g *crashGateway) stop() {
	g.mu.Lock()
	p := g.cur
	g.cur = nil
	g.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		g.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	close(p.down)
	if p.err != nil || !strings.Contains(p.logs.String(), `msg="gateway stopped"`) {
		g.t.Errorf("gateway did not stop cleanly (%v):\n%s", p.err, p.logs)
	}
}

// current waits until a process serves and returns it.
func (g *crashGateway) current() *crashProc {
	for {
		g.mu.Lock()
		p, up := g.cur, g.up
		g.mu.Unlock()
		if p != nil {
			return p
		}
		<-up
	}
}

// call makes one request of the process's admin API and returns the
// status and body, or an error when no answer came (the process died).
func (p *crashProc) call(client *http.Client, method, path string, body any) (int, []byte,
	error) {
	data, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(method, p.info.AdminURL+path, bytes.NewReader(data))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.info.AdminToken)
	return doRequest(client, req)
}

// doRequest sends req and reads the whole answer.
func doRequest(client *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, data, nil
}

// crashOutcomes counts what happened during a crash test.
type crashOutcomes struct {
	grantRetries, tokenRetries atomic.Int64 // answers lost to a kill
	redeemFirst                atomic.Int64 // enrolled at the first attempt
	redeemAfterLoss            atomic.Int64 // enrolled after an answer was lost
	redeemAfterStale           atomic.Int64 // enrolled after a 410 for a stranded claim
	redeemLost                 atomic.Int64 // redeem answers lost to a kill
	strandedAnswers            atomic.Int64 // 410 "being redeemed" while a claim was stranded
	readsOK, readsLost         atomic.Int64
}

// crashJob is one enrollment: a grant, a token, a key, and in the end a
// certificate.
type crashJob struct {
	grantID string
	token   string
	key     *ecdsa.PrivateKey
	csr     string
	cert    *x509.Certificate
	client  *http.Client // reads with the certificate
}

// crashRun is the state the workers, readers and killer share.
type crashRun struct {
	t     *testing.T
	g     *crashGateway
	root  *x509.Certificate
	alice string
	admin *http.Client
	anon  *http.Client
	out   crashOutcomes

	mu       sync.Mutex
	done     []*crashJob
	stranded map[string]bool // hashes of tokens seen claimed but unused while down
	failed   atomic.Bool
}

// TestCrashSafety drives crashEnrollments enrollments (a grant and a token
// through the admin API, a redeem with a fresh CSR) and federated reads
// concurrently against a gateway process, kills it with SIGKILL at random
// points and starts it again. While it is down the invariants are checked
// in its database: integrity, no active grant without its certificate and
// active peer, no used token without its allowed audit event, and so on.
// A claim stranded by a kill blocks its token (410) until it is aged past
// federation.DefaultClaimTimeout in the database, what waiting that long
// would do; then the redeem of the same token must succeed. The kills stop
// after crashKills or crashKillWindow, and the rest runs undisturbed.
// MOSAIC_CRASH_SEED replays a run's kill points (the interleaving of
// requests still varies).
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: kills and restarts a gateway process many times")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envCrashSeed); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", envCrashSeed, err)
		}
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envCrashSeed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	dir := t.TempDir()
	env := map[string]string{seal.EnvSecret: strongSecret + "-crash",
		gateway.EnvAdminToken:      "crash-admin-token-0123456789abcdefghij",
		gateway.EnvEnrollRateLimit: "off"}
	r := &crashRun{t: t, g: newCrashGateway(t, dir, env), stranded: map[string]bool{}}
	r.admin = &http.Client{Timeout: httpTimeout}
	r.root = caChain(t, r.g.current().info.PublicURL)[0]
	// Enrollments share a client, with a connection for each worker.
	tr := &http.Transport{MaxIdleConnsPerHost: crashWorkers, TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12, RootCAs: pki.NewPool(r.root)}}
	t.Cleanup(tr.CloseIdleConnections)
	r.anon = &http.Client{Timeout: httpTimeout, Transport: tr}
	r.createData()
	begun := time.Now()

	jobs := make(chan *crashJob, crashEnrollments)
	for range crashEnrollments {
		key, csr := newCSR(t)
		jobs <- &crashJob{key: key, csr: csr}
	}
	close(jobs)
	var workers, readers sync.WaitGroup
	for range crashWorkers {
		workers.Go(func() { r.work(jobs) })
	}
	stop := make(chan struct{})
	for range crashReaders {
		readers.Go(func() { r.read(stop) })
	}
	allDone := make(chan struct{})
	go func() { workers.Wait(); close(allDone) }()
	kills := r.killUntil(allDone, rng, begun)
	close(stop)
	readers.Wait()
	if r.failed.Load() {
		t.FailNow()
	}
	r.finish(kills, time.Since(begun))
}

// createData creates the user whose data is shared, with a few tasks.
func (r *crashRun) createData() {
	t := r.t
	p := r.g.current()
	status, body, err := p.call(r.admin, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Alice Crash", "email": "alice@crash.test"})
	var u mosaic.User
	if err != nil || status != http.StatusCreated || json.Unmarshal(body, &u) != nil {
		t.Fatalf("create user: %d %s %v", status, body, err)
	}
	r.alice = u.ID
	for i := range 3 {
		status, body, err := p.call(r.admin, http.MethodPost, "/api/admin/tasks",
			map[string]any{"userId": u.ID, "title": fmt.Sprintf("Task %d", i)})
		if err != nil || status != http.StatusCreated {
			t.Fatalf("create task: %d %s %v", status, body, err)
		}
	}
}

// fail reports a broken expectation from any goroutine.
func (r *crashRun) fail(format string, args ...any) {
	r.t.Errorf(format, args...)
	r.failed.Store(true)
}

// work carries jobs through, retrying each step the kills interrupt.
func (r *crashRun) work(jobs <-chan *crashJob) {
	for job := range jobs {
		if r.failed.Load() || !r.enroll(job) {
			continue
		}
		r.mu.Lock()
		r.done = append(r.done, job)
		r.mu.Unlock()
	}
}

// enroll runs one job to its certificate; false if it failed for good.
func (r *crashRun) enroll(job *crashJob) bool {
	for job.grantID == "" {
		p := r.g.current()
		status, body, err := p.call(r.admin, http.MethodPost, "/api/admin/federation/grants",
			map[string]any{"userId": r.alice, "peerName": "Crash peer", "scope": map[string]any{
				"resources": []string{"tasks"}, "max_rows_per_query": 10}})
		var gr mosaic.Grant
		switch {
		case err != nil:
			r.out.grantRetries.Add(1)
			r.waitDown(p)
		case status != http.StatusCreated || json.Unmarshal(body, &gr) != nil:
			r.fail("create grant: %d %s", status, body)
			return false
		default:
			job.grantID = gr.ID
		}
	}
	for job.token == "" {
		p := r.g.current()
		status, body, err := p.call(r.admin, http.MethodPost,
			"/api/admin/federation/grants/"+job.grantID+"/tokens", map[string]any{})
		var tok issuedToken
		switch {
		case err != nil:
			r.out.tokenRetries.Add(1)
			r.waitDown(p)
		case status != http.StatusCreated || json.Unmarshal(body, &tok) != nil:
			r.fail("issue token for grant %s: %d %s", job.grantID, status, body)
			return false
		default:
			job.token = tok.Token
		}
	}
	return r.redeem(job)
}

// redeem redeems the job's token with its CSR until it gets the
// certificate: again after a lost answer, and after a stranded claim has
// gone stale.
func (r *crashRun) redeem(job *crashJob) bool {
	lost, stale := false, false
	for {
		p := r.g.current()
		status, body := redeemAt(r.anon, p.info.PublicURL, job.token, job.csr)
		switch {
		case status == 0:
			lost = true
			r.out.redeemLost.Add(1)
			r.waitDown(p)
			continue
		case status == http.StatusGone && strings.Contains(string(body), "being redeemed"):
			// A claim left by a killed process: it goes stale while
			// the gateway is down (see killUntil).
			stale = true
			r.out.strandedAnswers.Add(1)
			r.waitDown(p)
			continue
		case status != http.StatusOK:
			r.fail("redeem for grant %s (lost answer %v, stranded claim %v): %d %s",
				job.grantID, lost, stale, status, body)
			return false
		}
		return r.accept(job, body, lost, stale)
	}
}

// accept checks a redeem's certificate and counts how it came.
func (r *crashRun) accept(job *crashJob, body []byte, lost, stale bool) bool {
	cert, err := parseEnrollment(job.key, body)
	if err != nil {
		r.fail("redeem answer for grant %s: %v", job.grantID, err)
		return false
	}
	id, err := pki.ParseIdentity(cert.Leaf)
	if err != nil || id.GrantID != job.grantID || id.SubjectUserID != r.alice {
		r.fail("certificate for grant %s names %+v (%v)", job.grantID, id, err)
		return false
	}
	job.cert = cert.Leaf
	job.client = httpsClient(r.t, r.root, cert)
	switch {
	case stale:
		r.out.redeemAfterStale.Add(1)
	case lost:
		r.out.redeemAfterLoss.Add(1)
	default:
		r.out.redeemFirst.Add(1)
	}
	return true
}

// waitDown waits a little, or until p is killed if that comes first,
// before a request p did not answer is sent again.
func (r *crashRun) waitDown(p *crashProc) {
	select {
	case <-p.down:
	case <-time.After(250 * time.Millisecond):
	}
}

// parseEnrollment builds the TLS client certificate of a redeem's answer
// and checks that it carries the key of the CSR. Unlike clientCert it
// reports failures as errors, for the workers' goroutines.
func parseEnrollment(key *ecdsa.PrivateKey, answer []byte) (*tls.Certificate, error) {
	var a enrollAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return nil, err
	}
	leaf, err := pki.ParseCerts(a.CertPEM)
	if err != nil || len(leaf) != 1 {
		return nil, fmt.Errorf("certPem: %d certificates, %v", len(leaf), err)
	}
	if !key.PublicKey.Equal(leaf[0].PublicKey) {
		return nil, errors.New("the certificate is not for the CSR's key")
	}
	chain, err := pki.ParseCerts(a.CertChainPEM)
	if err != nil {
		return nil, fmt.Errorf("certChainPem: %v", err)
	}
	return tlsCertOf(leaf[0], key, chain...), nil
}

// read reads tasks with the certificates enrolled so far until stop is
// closed. An answer other than 200 is a failure: every grant a
// certificate was delivered for must stay active through every crash.
func (r *crashRun) read(stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		r.mu.Lock()
		var job *crashJob
		if len(r.done) > 0 {
			job = r.done[i%len(r.done)]
		}
		r.mu.Unlock()
		if job == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p := r.g.current()
		req, err := http.NewRequest(http.MethodGet, p.info.PublicURL+"/api/federation/v1/tasks",
			nil)
		if err != nil {
			r.fail("read request: %v", err)
			return
		}
		status, body, err := doRequest(job.client, req)
		switch {
		case err != nil:
			r.out.readsLost.Add(1)
		case status != http.StatusOK:
			r.fail("read under grant %s: %d %s", job.grantID, status, body)
		default:
			r.out.readsOK.Add(1)
		}
	}
}

// killUntil kills the gateway at random points from begun until done is
// closed, the kill window is over or it has killed it crashKills times,
// and each time checks the invariants while it is down, ages the claims the
// kill stranded, and starts it again. It returns how many kills it made.
func (r *crashRun) killUntil(done <-chan struct{}, rng *rand.Rand, begun time.Time) int {
	kills := 0
	for last := false; !last; {
		pause := time.Duration(20+rng.IntN(280)) * time.Millisecond
		select {
		case <-done:
			return kills
		case <-time.After(pause):
		}
		r.g.kill()
		kills++
		last = kills == crashKills || time.Since(begun) >= crashKillWindow
		r.withDB(func(db *sql.DB) {
			r.checkInvariants(db)
			// Every other time but the last, the stranded claims are
			// left as they are: until they go stale, their tokens
			// answer 410.
			if kills%2 == 0 || last {
				r.ageClaims(db)
			}
		})
		r.g.start()
	}
	select {
	case <-done:
	case <-time.After(time.Until(begun.Add(crashDeadline))):
		r.fail("enrollments not done after %s (%d kills)", crashDeadline, kills)
	}
	return kills
}

// withDB opens the gateway's database while no process runs, and closes
// it before the next one starts.
func (r *crashRun) withDB(f func(db *sql.DB)) {
	t := r.t
	dsn := "file:" + filepath.Join(r.g.dir, "mosaic.db") + "?_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Errorf("close the database: %v", err)
		}
	}()
	f(db)
}

// crashInvariants are queries that must find nothing, by what finding
// something would mean.
var crashInvariants = map[string]string{
	// Each grant of the test has a peer of its own, whose certificate is
	// the grant's.
	"active grant without a certificate serial or an active peer with it": `
		SELECT g.id FROM grants g LEFT JOIN peers p ON p.id = g.peer_id
		WHERE g.status = 'active' AND (g.cert_serial = '' OR p.id IS NULL
			OR p.state != 'active' OR p.cert_pem = '' OR p.cert_serial != g.cert_serial)`,
	"active grant without a token used for its certificate": `
		SELECT g.id FROM grants g WHERE g.status = 'active' AND NOT EXISTS (
			SELECT 1 FROM enrollment_tokens t WHERE t.grant_id = g.id
				AND t.used_at IS NOT NULL AND t.issued_serial = g.cert_serial)`,
	"used token without an allowed enroll audit event for its grant": `
		SELECT t.hash FROM enrollment_tokens t WHERE t.used_at IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM audit_events a WHERE a.grant_id = t.grant_id
				AND a.verb = 'enroll' AND a.outcome = 'allowed' AND a.status = 200)`,
	"used token whose grant is not active with its certificate": `
		SELECT t.hash FROM enrollment_tokens t JOIN grants g ON g.id = t.grant_id
		WHERE t.used_at IS NOT NULL AND (g.status != 'active' OR g.cert_serial != t.issued_serial
			OR t.issued_key_hash = '')`,
	"grant with two used tokens": `
		SELECT grant_id FROM enrollment_tokens WHERE used_at IS NOT NULL
		GROUP BY grant_id HAVING COUNT(*) > 1`,
	"claimed unused token whose grant is no longer pending": `
		SELECT t.hash FROM enrollment_tokens t JOIN grants g ON g.id = t.grant_id
		WHERE t.claim_id IS NOT NULL AND t.used_at IS NULL AND g.status != 'pending'`,
	"claimed token without a claim time": `
		SELECT hash FROM enrollment_tokens WHERE (claim_id IS NULL) != (claimed_at IS NULL)`,
	"pending grant whose peer has a certificate": `
		SELECT g.id FROM grants g JOIN peers p ON p.id = g.peer_id
		WHERE g.status = 'pending' AND (p.state != 'pending' OR p.cert_pem != '')`,
}

// checkInvariants checks the database of a gateway that is down.
func (r *crashRun) checkInvariants(db *sql.DB) {
	t := r.t
	var integrity string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil ||
		integrity != "ok" {
		r.fail("integrity check: %q %v", integrity, err)
	}
	for what, query := range crashInvariants {
		found := queryStrings(t, db, query)
		if len(found) > 0 {
			r.fail("%s: %v", what, found)
		}
	}
}

// ageClaims moves the claims that kills stranded back past the claim
// timeout, as waiting federation.DefaultClaimTimeout would, and remembers
// them.
func (r *crashRun) ageClaims(db *sql.DB) {
	t := r.t
	hashes := queryStrings(t, db,
		`SELECT hash FROM enrollment_tokens WHERE claim_id IS NOT NULL AND used_at IS NULL`)
	if len(hashes) == 0 {
		return
	}
	r.mu.Lock()
	for _, h := range hashes {
		r.stranded[h] = true
	}
	r.mu.Unlock()
	age := (federation.DefaultClaimTimeout + time.Second).Milliseconds()
	_, err := db.Exec(`UPDATE enrollment_tokens SET claimed_at = claimed_at - ?
		WHERE claim_id IS NOT NULL AND used_at IS NULL`, age)
	if err != nil {
		r.fail("age the stranded claims: %v", err)
	}
}

// queryStrings runs a query answering one text column.
func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// finish reads once more with every certificate, stops the gateway
// cleanly, checks the invariants and every enrollment in the database, and
// reports the outcomes.
func (r *crashRun) finish(kills int, took time.Duration) {
	t := r.t
	if len(r.done) != crashEnrollments {
		t.Fatalf("%d enrollments done, want %d", len(r.done), crashEnrollments)
	}
	p := r.g.current()
	for _, job := range r.done {
		req, err := http.NewRequest(http.MethodGet, p.info.PublicURL+"/api/federation/v1/tasks",
			nil)
		if err != nil {
			t.Fatal(err)
		}
		if status, body, err := doRequest(job.client, req); err != nil || status != http.StatusOK {
			t.Errorf("final read under grant %s: %d %s %v", job.grantID, status, body, err)
		}
	}
	r.g.stop()

	var retried, pendingGrants int
	r.withDB(func(db *sql.DB) {
		r.checkInvariants(db)
		for _, job := range r.done {
			var status, serial string
			err := db.QueryRow(`SELECT status, cert_serial FROM grants WHERE id = ?`,
				job.grantID).Scan(&status, &serial)
			if err != nil || status != "active" || serial != pki.SerialHex(job.cert) {
				t.Errorf("grant %s: %s serial %s (%v), want active with the serial %s",
					job.grantID, status, serial, err, pki.SerialHex(job.cert))
			}
		}
		for h := range r.stranded {
			if queryInt(t, db, `SELECT COUNT(*) FROM enrollment_tokens
				WHERE hash = ? AND used_at IS NOT NULL`, h) != 1 {
				t.Errorf("token %s… was stranded and never redeemed", mosaic.HashPrefix(h))
			}
		}
		retried = queryInt(t, db, `SELECT COUNT(*) FROM audit_events
			WHERE verb = 'enroll' AND outcome = 'allowed' AND reason = 'retry_same_key'`)
		pendingGrants = queryInt(t, db, `SELECT COUNT(*) FROM grants WHERE status = 'pending'`)
	})

	strandedRedeemed := 0
	for _, job := range r.done {
		if r.stranded[mosaic.TokenSecret(job.token).Hash()] {
			strandedRedeemed++
		}
	}
	o := &r.out
	t.Logf("%d enrollments in %s with %d kills and %d starts", len(r.done),
		took.Round(time.Millisecond), kills, r.g.starts)
	t.Logf("enrolled: %d at the first attempt, %d after a lost answer, %d after a "+
		"410 for a stranded claim; %d given the same certificate again after a lost "+
		"answer, %d with a token whose claim a kill had stranded", o.redeemFirst.Load(),
		o.redeemAfterLoss.Load(), o.redeemAfterStale.Load(), retried, strandedRedeemed)
	t.Logf("lost answers: %d grant creations (%d pending grants left), %d token issues, "+
		"%d redeems", o.grantRetries.Load(), pendingGrants, o.tokenRetries.Load(),
		o.redeemLost.Load())
	t.Logf("stranded claims: %d aged, all then redeemed with their token; %d answers "+
		"410 while they were not yet stale", len(r.stranded), o.strandedAnswers.Load())
	t.Logf("reads: %d answered 200, %d lost to kills", o.readsOK.Load(), o.readsLost.Load())
}
