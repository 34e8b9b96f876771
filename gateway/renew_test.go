package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
)

// renewal is a test of certificate renewal between two gateway processes.
type renewal struct {
	t          *testing.T
	a, b       *proc
	dirA, dirB string
	envA, envB map[string]string
	peerID     string
}

// TestRenewalProcesses runs two gateway processes. B issues certificates
// for 15 seconds; A looks for renewals every second. A's certificate is
// renewed on its own and reads go on across the renewal. With B stopped, a
// renewal fails and shows in "peer list" and "doctor"; once B is back, the
// next attempt succeeds and both show it.
func TestRenewalProcesses(t *testing.T) {
	t.Parallel()
	r := &renewal{t: t, dirA: t.TempDir(), dirB: t.TempDir(),
		envA: map[string]string{seal.EnvSecret: strongSecret + "-a",
			"MOSAIC_RENEW_INTERVAL": "1s"},
		envB: map[string]string{seal.EnvSecret: strongSecret + "-b",
			"MOSAIC_CERT_LIFETIME": "15s"},
	}
	r.b = startProc(t, r.dirB, "", r.envB)
	r.a = startProc(t, r.dirA, "", r.envA)
	_ = r.enroll()

	// Renewed on its own, about 10 seconds in; reads never fail.
	first := r.peer()
	if first.Renewal != mosaic.RenewalOK {
		t.Fatalf("new peer's renewal state %q", first.Renewal)
	}
	renewed := r.readUntil(func(p *mosaic.Peer) bool { return p.CertSerial != first.CertSerial },
		20*time.Second)
	if renewed.RenewFailures != 0 || renewed.CertNotAfter.Sub(*first.CertNotAfter) <= 0 {
		t.Fatalf("renewed peer = %+v", renewed)
	}
	r.readFor(time.Second)
	if !strings.Contains(r.a.logs.String(), `msg="outbound certificate renewed"`) {
		t.Error("A did not log the renewal")
	}

	// B stops: a renewal fails, and both the list and the doctor say so.
	fedAddr := strings.TrimPrefix(r.b.fedBase(), "https://")
	r.b.mustStop(t)
	out, errOut, code := runCLI(t, nil, "--data-dir", r.dirA, "federation", "peer", "renew",
		r.peerID)
	if code == 0 || !strings.Contains(errOut, "peer_unreachable") ||
		strings.Count(errOut, "\n") != 1 {
		t.Fatalf("peer renew with B down: exit %d: %s%s", code, out, errOut)
	}
	list := r.cli("federation", "peer", "list", "--role", "outbound")
	if !strings.Contains(list, "failing ×") || !strings.Contains(list, "peer_unreachable") {
		t.Errorf("peer list with the renewal failing:\n%s", list)
	}
	doctor := r.doctor()
	if !strings.Contains(doctor, "peer_renewal") || !strings.Contains(doctor, "renewal failing") {
		t.Errorf("doctor with the renewal failing:\n%s", doctor)
	}

	// B is back on the same address: the next attempt succeeds.
	r.b = startProc(t, r.dirB, "", r.envB, "--federation-addr", fedAddr)
	back := r.readUntil(func(p *mosaic.Peer) bool {
		return p.CertSerial != renewed.CertSerial && p.RenewFailures == 0
	}, 15*time.Second)
	if back.Renewal != mosaic.RenewalOK || back.RenewLastError != "" {
		t.Fatalf("peer after recovering = %+v", back)
	}
	if list := r.cli("federation", "peer", "list", "--role", "outbound"); strings.Contains(list,
		"failing") {
		t.Errorf("peer list after recovering:\n%s", list)
	}
	if doctor := r.doctor(); strings.Contains(doctor, "peer_renewal") {
		t.Errorf("doctor after recovering:\n%s", doctor)
	}
	r.assertAudited()
}

// enroll gives A a grant of Alice's tasks on B with "peer add", and
// returns the grant's id.
func (r *renewal) enroll() string {
	t := r.t
	var alice mosaic.User
	r.b.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Alice", "email": "alice@b.example.test"}, &alice)
	r.b.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/tasks",
		map[string]any{"userId": alice.ID, "title": "Renew certs"}, nil)
	grant := newGrant(t, r.b, alice.ID, "Gateway A")
	var tok tokenAnswer
	r.b.mustAdmin(t, http.StatusCreated, http.MethodPost,
		"/api/admin/federation/grants/"+grant.ID+"/tokens", map[string]any{"ttlSeconds": 300},
		&tok)
	r.peerID = r.addPeer(tok.EnrollmentURL)
	return grant.ID
}

// addPeer runs "peer add" on A with an enrollment URL, passed in a file,
// and returns the new peer's id.
func (r *renewal) addPeer(enrollmentURL string) string {
	t := r.t
	t.Helper()
	urlFile := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(urlFile, []byte(enrollmentURL), 0o600); err != nil {
		t.Fatal(err)
	}
	var p mosaic.Peer
	if err := json.Unmarshal([]byte(r.cli("federation", "peer", "add", "--url-file", urlFile,
		"--json")), &p); err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// cli runs the mosaic CLI against A and returns its output; it must
// succeed.
func (r *renewal) cli(args ...string) string {
	r.t.Helper()
	out, errOut, code := runCLI(r.t, nil, append([]string{"--data-dir", r.dirA}, args...)...)
	if code != 0 {
		r.t.Fatalf("mosaic %s: exit %d: %s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// doctor runs "gateway doctor" on A, which must pass (warnings allowed).
func (r *renewal) doctor() string {
	r.t.Helper()
	out, errOut, code := runCLI(r.t, r.envA, "gateway", "doctor", "--data-dir", r.dirA)
	if code != 0 {
		r.t.Fatalf("doctor: exit %d: %s%s", code, out, errOut)
	}
	return out
}

// peer returns A's outbound peer.
func (r *renewal) peer() *mosaic.Peer {
	r.t.Helper()
	var list struct{ Items []*mosaic.Peer }
	r.a.mustAdmin(r.t, http.StatusOK, http.MethodGet,
		"/api/admin/federation/peers?role=outbound", nil, &list)
	for _, p := range list.Items {
		if p.ID == r.peerID {
			return p
		}
	}
	r.t.Fatalf("peer %s not listed", r.peerID)
	return nil
}

// read reads Alice's tasks through A; it must succeed.
func (r *renewal) read() {
	r.t.Helper()
	var page queryAnswer
	r.a.mustAdmin(r.t, http.StatusOK, http.MethodGet,
		"/api/admin/federation/peers/"+r.peerID+"/query/tasks?"+url.Values{}.Encode(), nil, &page)
	if len(page.Items) != 1 {
		r.t.Fatalf("read %d tasks, want 1", len(page.Items))
	}
}

// readUntil reads every 200 ms until A's peer satisfies done, and returns
// it; it fails the test after limit.
func (r *renewal) readUntil(done func(*mosaic.Peer) bool, limit time.Duration) *mosaic.Peer {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r.read()
		if p := r.peer(); done(p) {
			return p
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("peer not as expected after %s: %+v", limit, r.peer())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readFor reads every 200 ms for d.
func (r *renewal) readFor(d time.Duration) {
	r.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		r.read()
	}
}

// assertAudited checks that B audited the renewals as allowed.
func (r *renewal) assertAudited() {
	r.t.Helper()
	var evs struct{ Items []mosaic.AuditEvent }
	r.b.mustAdmin(r.t, http.StatusOK, http.MethodGet,
		"/api/admin/federation/audit?outcome=allowed&limit=1000", nil, &evs)
	renewals := 0
	for _, ev := range evs.Items {
		if ev.Verb == mosaic.VerbRenew && ev.CertSerial != "" {
			renewals++
		}
	}
	if renewals < 2 {
		r.t.Errorf("B audited %d renewals, want at least 2", renewals)
	}
}

// TestReenrollmentProcesses lets A's certificate from B expire (B issues
// them for 8 seconds, A does not renew within the test): A shows it
// expired and cannot renew, doctor fails for it, and B's operator issues a
// new token for the same, still active, grant; "peer add" with it gives A
// a new peer that reads again under the grant.
func TestReenrollmentProcesses(t *testing.T) {
	t.Parallel()
	r := &renewal{t: t, dirA: t.TempDir(), dirB: t.TempDir(),
		envA: map[string]string{seal.EnvSecret: strongSecret + "-a",
			"MOSAIC_RENEW_INTERVAL": "1h"},
		envB: map[string]string{seal.EnvSecret: strongSecret + "-b",
			"MOSAIC_CERT_LIFETIME": "8s"},
	}
	r.b = startProc(t, r.dirB, "", r.envB)
	r.a = startProc(t, r.dirA, "", r.envA)
	grantID := r.enroll()
	r.read()

	// While the certificate is valid, the grant takes no new token.
	_, errOut, code := runCLI(t, nil, "--data-dir", r.dirB, "federation", "grant", "token",
		grantID)
	if code == 0 || !strings.Contains(errOut, "grant_not_pending") {
		t.Fatalf("grant token for an active grant with a valid certificate: exit %d: %s",
			code, errOut)
	}

	// Expired: refused by B, shown by A, no renewal.
	old := r.peer()
	time.Sleep(time.Until(*old.CertNotAfter) + 500*time.Millisecond)
	status, body := (&node{info: r.a.info}).admin(t, http.MethodGet,
		"/api/admin/federation/peers/"+r.peerID+"/query/tasks", nil)
	if status != http.StatusForbidden || errorCode(body) != "certificate_invalid" {
		t.Fatalf("read with an expired certificate: %d %s", status, body)
	}
	if p := r.peer(); p.Renewal != mosaic.RenewalExpired {
		t.Fatalf("renewal state %q of an expired certificate", p.Renewal)
	}
	_, errOut, code = runCLI(t, nil, "--data-dir", r.dirA, "federation", "peer", "renew",
		r.peerID)
	if code == 0 || !strings.Contains(errOut, "certificate_expired") {
		t.Fatalf("peer renew of an expired certificate: exit %d: %s", code, errOut)
	}
	out, _, code := runCLI(t, r.envA, "gateway", "doctor", "--data-dir", r.dirA)
	if code == 0 || !strings.Contains(out, "certificate expired") {
		t.Fatalf("doctor with an expired certificate: exit %d:\n%s", code, out)
	}

	// A new token for the same grant; "peer add" with it reads again.
	var tok tokenAnswer
	r.b.mustAdmin(t, http.StatusCreated, http.MethodPost,
		"/api/admin/federation/grants/"+grantID+"/tokens", map[string]any{"ttlSeconds": 300},
		&tok)
	r.peerID = r.addPeer(tok.EnrollmentURL)
	if r.peerID == old.ID {
		t.Fatal("peer add reused the expired peer")
	}
	r.read()
	var g mosaic.Grant
	r.b.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/federation/grants/"+grantID,
		nil, &g)
	if g.Status != mosaic.GrantActive {
		t.Fatalf("grant after re-enrollment: %+v", g)
	}
	if list := r.cli("federation", "peer", "list", "--role", "outbound"); !strings.Contains(
		list, "expired") || !strings.Contains(list, " ok") {
		t.Errorf("peer list after re-enrollment:\n%s", list)
	}
	if out := r.doctor(); !strings.Contains(out, "enrolled again as peer "+r.peerID) {
		t.Errorf("doctor after re-enrollment:\n%s", out)
	}
}
