package gateway_test

import (
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
)

// TestLifecycleRotationsAndRenewal runs the rotations beside automatic
// renewal on two gateway processes, each keeping its sealing secret in its
// data directory. B issues certificates for 12 seconds and reloads its CA
// every 200 ms; A looks for renewals every second.
//
// B rotates its CA while serving: it signs with the new intermediate I2
// without a restart, A's certificate from I1 goes on reading, and A's next
// automatic renewal stores a certificate from I2 with I2 in its chain. A
// rotates its secret while serving: its peer key moves to the new version
// and the renewer seals the fresh key under it. B rotates its secret: the
// keys of both intermediates move to the new version, and B restarted with
// the new secret alone signs A's next renewal. Reads never fail while B
// serves.
func TestLifecycleRotationsAndRenewal(t *testing.T) {
	t.Parallel()
	r := &renewal{t: t, dirA: t.TempDir(), dirB: t.TempDir(),
		envA: map[string]string{"MOSAIC_RENEW_INTERVAL": "1s"},
		envB: map[string]string{"MOSAIC_CERT_LIFETIME": "12s",
			gateway.EnvCAReloadInterval: "200ms"},
	}
	r.b = startProc(t, r.dirB, "", r.envB)
	r.a = startProc(t, r.dirA, "", r.envA)
	_ = r.enroll()
	i1 := caChain(t, r.b.fedBase())[1]
	first := r.peer()
	assertIssuedBy(t, r.dirA, r.peerID, i1)
	reads := startReads(r.a.info, r.peerID)

	// B rotates its CA while serving and picks I2 up; the I1 certificate
	// still reads.
	var rot embedded.Rotation
	cliJSONIn(t, r.dirB, &rot, "gateway", "rotate-ca")
	i2 := waitForIntermediate(t, r.b, rot.New.Serial)
	r.read()
	if r.peer().CertSerial != first.CertSerial {
		t.Fatal("A renewed before it read with its certificate from I1 after the rotation")
	}

	// A rotates its secret while serving: its peer key is re-sealed.
	mustRotate(t, nil, "--data-dir", r.dirA, "--generate")
	secretA := readSecret(t, r.dirA)
	dbA := openDB(t, r.dirA)
	wantPeerKey(t, dbA, first, secretA)

	// A's next renewal, on its own: a certificate from I2, its key sealed
	// under the new version.
	renewed := r.readUntil(func(p *mosaic.Peer) bool {
		return p.CertSerial != first.CertSerial
	}, 20*time.Second)
	reads.finish(t)
	assertIssuedBy(t, r.dirA, r.peerID, i2)
	wantPeerKey(t, dbA, renewed, secretA)
	if !strings.Contains(r.b.logs.String(), `msg="CA rotated: signing with a new intermediate"`) {
		t.Error("B did not log that it picked up the new intermediate")
	}

	// B rotates its secret; restarted with the new one alone, it signs.
	dbB := openDB(t, r.dirB)
	names := []string{embedded.KeyRoot, embedded.KeyIntermediate, rot.New.Name}
	wantKeysUnder(t, dbB, 1, names)
	mustRotate(t, nil, "--data-dir", r.dirB, "--generate")
	wantKeysUnder(t, dbB, 2, names)
	wantKeysOpen(t, dbB, readSecret(t, r.dirB))
	fedAddr := strings.TrimPrefix(r.b.fedBase(), "https://")
	r.b.mustStop(t)
	if err := os.Remove(filepath.Join(r.dirB, seal.PreviousSecretFileName)); err != nil {
		t.Fatal(err)
	}
	r.b = startProc(t, r.dirB, "", r.envB, "--federation-addr", fedAddr)
	again := r.readUntil(func(p *mosaic.Peer) bool {
		return p.CertSerial != renewed.CertSerial && p.RenewFailures == 0
	}, 20*time.Second)
	assertIssuedBy(t, r.dirA, r.peerID, i2)
	wantPeerKey(t, dbA, again, secretA)
}

// TestLifecycleRemovalAndRenewal runs peer removal beside automatic
// renewal on two gateway processes. B issues certificates for 18 seconds;
// A looks for renewals every second and holds two outbound peers for B's
// one inbound peer, under two grants.
//
// A removes the first: the renewer never touches it again, though its
// renewal falls due, and neither a secret rotation nor anything else gives
// it a key back. B removes its inbound peer: A's next automatic renewal of
// the second is refused, and "peer list" and doctor show it failing. A new
// grant for the removed peer lets A enroll again and read.
func TestLifecycleRemovalAndRenewal(t *testing.T) {
	t.Parallel()
	r := &renewal{t: t, dirA: t.TempDir(), dirB: t.TempDir(),
		envA: map[string]string{"MOSAIC_RENEW_INTERVAL": "1s"},
		envB: map[string]string{"MOSAIC_CERT_LIFETIME": "18s",
			gateway.EnvEnrollRateLimit: "off"},
	}
	r.b = startProc(t, r.dirB, "", r.envB)
	r.a = startProc(t, r.dirA, "", r.envA)
	var first mosaic.Grant
	r.b.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/federation/grants/"+r.enroll(),
		nil, &first)
	removedID := r.peerID
	second := r.grantAgain(first)
	r.peerID = r.enrollUnder(second.ID)
	r.read()

	// A removes its first peer, then rotates its secret.
	if out := r.cli("federation", "peer", "remove", removedID); !strings.Contains(out, "wiped") {
		t.Errorf("peer remove on A: %q", out)
	}
	dbA := openDB(t, r.dirA)
	removedRow := peerRow(t, dbA, removedID)
	mustRotate(t, nil, "--data-dir", r.dirA, "--generate")

	// B removes its inbound peer: A's next renewal of the other is refused.
	cliIn(t, r.dirB, 0, "federation", "peer", "remove", first.PeerID, "--reason", "paused")
	failing := r.waitPeer(func(p *mosaic.Peer) bool { return p.RenewFailures > 0 },
		25*time.Second)
	list := r.cli("federation", "peer", "list", "--role", "outbound")
	doctor := r.doctor()
	if failing.Renewal != mosaic.RenewalFailing ||
		!strings.Contains(failing.RenewLastError, "renewal_refused") ||
		!strings.Contains(failing.RenewLastError, "grant_not_active") {
		t.Errorf("A's peer after B removed it = %+v", failing)
	}
	if !strings.Contains(list, "failing ×1: renewal_refused") {
		t.Errorf("peer list after B removed A:\n%s", list)
	}
	if !strings.Contains(doctor, "renewal failing") || !strings.Contains(doctor,
		"grant_not_active") {
		t.Errorf("doctor after B removed A:\n%s", doctor)
	}
	if !regexp.MustCompile(`need attention: peer ` + r.peerID + ` \([^)]*\): renewal failing`).
		MatchString(doctor) {
		t.Errorf("doctor's outbound_peers summary does not name peer %s:\n%s", r.peerID, doctor)
	}

	// The removed peer's renewal fell due long ago; nothing touched it.
	assertUntouched(t, r, dbA, removedID, removedRow, first.ID)

	// A new grant for the removed peer: A enrolls again and reads.
	third := r.grantAgain(first)
	r.peerID = r.enrollUnder(third.ID)
	r.read()
}

// assertUntouched checks that A's removed peer is as its removal left it,
// with no key, though its renewal was due, and that B never saw a renewal
// under its grant.
func assertUntouched(t *testing.T, r *renewal, dbA *sql.DB, peerID, row, grantID string) {
	t.Helper()
	if got := peerRow(t, dbA, peerID); got != row {
		t.Errorf("the removed peer changed after its removal:\n%s\nwas\n%s", got, row)
	}
	if n := queryInt(t, dbA, `SELECT COUNT(*) FROM peers WHERE id = ? AND state = 'revoked'
		AND sealed_key IS NULL AND cert_pem = '' AND renew_next_at < ?`, peerID,
		time.Now().UnixMilli()); n != 1 {
		t.Error("the removed peer has a key or certificate, or its renewal never fell due")
	}
	var evs struct{ Items []mosaic.AuditEvent }
	r.b.mustAdmin(t, http.StatusOK, http.MethodGet,
		"/api/admin/federation/audit?limit=1000&grant="+grantID, nil, &evs)
	for _, ev := range evs.Items {
		if ev.Verb == mosaic.VerbRenew {
			t.Errorf("B saw a renewal under the removed peer's grant: %+v", ev)
		}
	}
	for _, line := range strings.Split(r.a.logs.String(), "\n") {
		if strings.Contains(line, "renew") && strings.Contains(line, peerID) {
			t.Errorf("A logged a renewal of the removed peer: %s", line)
		}
	}
}

// grantAgain gives the inbound peer of g a new grant of the same user's
// tasks on B, and returns it.
func (r *renewal) grantAgain(g mosaic.Grant) mosaic.Grant {
	r.t.Helper()
	var out mosaic.Grant
	r.b.mustAdmin(r.t, http.StatusCreated, http.MethodPost, "/api/admin/federation/grants",
		map[string]any{"userId": g.UserID, "peerId": g.PeerID, "scope": map[string]any{
			"resources": []string{"tasks"}, "max_rows_per_query": 10}}, &out)
	return out
}

// enrollUnder has B issue a token for a grant and A enroll with it
// through "peer add", and returns A's new peer.
func (r *renewal) enrollUnder(grantID string) string {
	r.t.Helper()
	var tok tokenAnswer
	r.b.mustAdmin(r.t, http.StatusCreated, http.MethodPost,
		"/api/admin/federation/grants/"+grantID+"/tokens", map[string]any{"ttlSeconds": 300},
		&tok)
	return r.addPeer(tok.EnrollmentURL)
}

// waitPeer polls A's peer every 200 ms, without reading through it, until
// it satisfies done, and returns it; it fails the test after limit.
func (r *renewal) waitPeer(done func(*mosaic.Peer) bool, limit time.Duration) *mosaic.Peer {
	r.t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(200 * time.Millisecond) {
		if p := r.peer(); done(p) {
			return p
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("peer not as expected after %s: %+v", limit, r.peer())
		}
	}
}

// peerRow returns every column of a peer's row in a gateway database, as
// text.
func peerRow(t *testing.T, db *sql.DB, peerID string) string {
	t.Helper()
	var row string
	for _, line := range strings.Split(dumpTable(t, db, "peers"), "\n") {
		if strings.HasPrefix(line, peerID+"\x1f") {
			row = line
		}
	}
	if row == "" {
		t.Fatalf("no peer %s in the database", peerID)
	}
	return row
}

// wantPeerKey checks that the sealed key stored for peer p is under the
// key version of secret, opens with that secret alone and is the key of
// p's certificate.
func wantPeerKey(t *testing.T, db *sql.DB, p *mosaic.Peer, secret string) {
	t.Helper()
	var blob []byte
	if err := db.QueryRow(`SELECT sealed_key FROM peers WHERE id = ?`, p.ID).Scan(
		&blob); err != nil {
		t.Fatal(err)
	}
	version, err := seal.KeyVersion(blob)
	if err != nil || version != 2 {
		t.Fatalf("peer key under version %d (%v), want 2", version, err)
	}
	der, err := onlySecret(t, version, secret).Open(blob, peerKeyAAD(p.ID))
	if err != nil {
		t.Fatalf("the peer key does not open with the current secret alone: %v", err)
	}
	key, err := pki.ParsePrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCerts(p.CertPEM)
	if err != nil || !key.PublicKey.Equal(certs[0].PublicKey) {
		t.Fatalf("the sealed peer key is not the key of certificate %s (%v)", p.CertSerial, err)
	}
}

// wantKeysUnder checks that the named keys of a gateway's key store are
// sealed under version.
func wantKeysUnder(t *testing.T, db *sql.DB, version uint32, names []string) {
	t.Helper()
	for _, name := range names {
		var blob []byte
		if err := db.QueryRow(`SELECT sealed_key FROM keys WHERE name = ?`, name).Scan(
			&blob); err != nil {
			t.Fatalf("key %s: %v", name, err)
		}
		if v, err := seal.KeyVersion(blob); err != nil || v != version {
			t.Errorf("key %s under version %d (%v), want %d", name, v, err, version)
		}
	}
}

// wantKeysOpen checks that every key of a gateway's key store opens with
// secret alone, as version 2, to a private key.
func wantKeysOpen(t *testing.T, db *sql.DB, secret string) {
	t.Helper()
	opener := onlySecret(t, 2, secret)
	rows, err := db.Query(`SELECT name, sealed_key FROM keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var blob []byte
		if err := rows.Scan(&name, &blob); err != nil {
			t.Fatal(err)
		}
		der, err := opener.Open(blob, sealedKeyAAD(name))
		if err == nil {
			_, err = pki.ParsePrivateKey(der)
		}
		if err != nil {
			t.Errorf("key %s with the new secret alone: %v", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// onlySecret returns a Sealer that holds secret as version and no other.
func onlySecret(t *testing.T, version uint32, secret string) *seal.Sealer {
	t.Helper()
	s, err := seal.NewWithVersions(version, map[uint32][]byte{version: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reads reads Alice's tasks through A's admin API every 100 ms, in the
// background, until finish, and keeps what failed.
type reads struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	n        int
	failures []string
}

// startReads starts reading through A's outbound peer.
func startReads(info *gateway.AdminInfo, peerID string) *reads {
	rd := &reads{stop: make(chan struct{})}
	path := "/api/admin/federation/peers/" + peerID + "/query/tasks"
	rd.wg.Go(func() {
		for {
			select {
			case <-rd.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			status, body, err := tryAdmin(info, http.MethodGet, path, nil)
			rd.n++
			if err != nil || status != http.StatusOK {
				rd.failures = append(rd.failures, string(body)+errText(err))
			}
		}
	})
	return rd
}

// finish stops the reads and fails the test if one failed or none ran.
func (rd *reads) finish(t *testing.T) {
	t.Helper()
	close(rd.stop)
	rd.wg.Wait()
	if len(rd.failures) > 0 || rd.n == 0 {
		t.Errorf("%d of %d background reads failed: %q", len(rd.failures), rd.n, rd.failures)
	}
	t.Logf("%d background reads", rd.n)
}

// errText is err's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return " " + err.Error()
}
