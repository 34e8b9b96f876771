package gateway_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/gateway"
)

// cliIn runs the mosaic CLI against the gateway of dataDir, fails the test
// unless it exits with want, and returns its standard output.
func cliIn(t *testing.T, dataDir string, want int, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, nil, append([]string{"--data-dir", dataDir}, args...)...)
	if code != want {
		t.Fatalf("mosaic %s: exit %d, want %d: %s%s", strings.Join(args, " "), code, want,
			out, errOut)
	}
	return out + errOut
}

// cliJSONIn runs the CLI with --json, expecting success, and decodes its
// output into v.
func cliJSONIn(t *testing.T, dataDir string, v any, args ...string) {
	t.Helper()
	out := cliIn(t, dataDir, 0, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("mosaic %s --json: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inFile writes content to a new file and returns its path.
func inFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPeerRemovalStory runs peer removal on two gateway processes, driven
// by the CLI: A enrolls with B and reads; B removes A, and the next read on
// a connection kept open is refused, as is A's query; B grants the same
// peer again, A enrolls again and reads; then A removes its first
// enrollment, whose key is wiped and whose queries are refused, while the
// second goes on reading.
func TestPeerRemovalStory(t *testing.T) {
	t.Parallel()
	dirA, dirB := t.TempDir(), t.TempDir()
	env := map[string]string{gateway.EnvEnrollRateLimit: "off"}
	b := startProc(t, dirB, "", env)
	startProc(t, dirA, "", env)

	// B: Alice with a task and a grant to a new peer; A enrolls and reads.
	var alice mosaic.User
	cliJSONIn(t, dirB, &alice, "user", "create", "--name", "Alice", "--email", "alice@b.test")
	cliIn(t, dirB, 0, "task", "create", "--user", alice.ID, "--title", "Renew the lease")
	scope := inFile(t, "scope.json", `{"resources":["tasks"],"max_rows_per_query":10}`)
	var first mosaic.Grant
	cliJSONIn(t, dirB, &first, "federation", "grant", "create", "--user", alice.ID,
		"--peer-name", "Gateway A", "--scope", scope)
	peerOnB := first.PeerID
	firstOnA := enrollWithCLI(t, dirA, dirB, first.ID)
	queryTasks(t, dirA, firstOnA)

	// A second grant of the same peer, enrolled by a client of the test
	// that keeps its connection open.
	var second mosaic.Grant
	cliJSONIn(t, dirB, &second, "federation", "grant", "create", "--user", alice.ID,
		"--peer", peerOnB, "--scope", scope)
	root := caChain(t, b.fedBase())[0]
	cert := enrollAt(t, b.fedBase(), root, newToken(t, b, second.ID, 600).Token)
	client := httpsClient(t, root, &cert)
	url := b.fedBase() + "/api/federation/v1/tasks"
	before := fedGet(t, client, url)
	if before.status != http.StatusOK {
		t.Fatalf("read before removal: %d %s", before.status, before.body)
	}

	// B removes the peer: both grants revoked, every read refused.
	out := cliIn(t, dirB, 0, "federation", "peer", "remove", peerOnB, "--reason", "paused")
	if !strings.Contains(out, "2 grant(s) revoked") {
		t.Errorf("peer remove on B: %q", out)
	}
	after := fedGet(t, client, url)
	if !after.reused || after.local != before.local {
		t.Fatal("the read after the removal did not reuse the open connection")
	}
	if after.status != http.StatusForbidden || errorCode(after.body) != "grant_not_active" {
		t.Errorf("read on the open connection after removal: %d %s", after.status, after.body)
	}
	if out := cliIn(t, dirA, 1, "federation", "query", firstOnA, "tasks"); !strings.Contains(
		out, "grant_not_active") {
		t.Errorf("A's query after removal: %q", out)
	}
	if out := cliIn(t, dirB, 1, "federation", "peer", "remove", peerOnB); !strings.Contains(
		out, "peer_removed") {
		t.Errorf("second removal on B: %q", out)
	}
	assertRemovalAudited(t, b, peerOnB, first.ID, second.ID)

	// B grants the same peer again; A enrolls again and reads.
	var third mosaic.Grant
	cliJSONIn(t, dirB, &third, "federation", "grant", "create", "--user", alice.ID,
		"--peer", peerOnB, "--scope", scope)
	secondOnA := enrollWithCLI(t, dirA, dirB, third.ID)
	queryTasks(t, dirA, secondOnA)
	var peers struct{ Items []mosaic.Peer }
	b.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/federation/peers", nil, &peers)
	if len(peers.Items) != 1 || peers.Items[0].State != mosaic.PeerActive {
		t.Errorf("peers on B: %+v, want the one peer active again", peers.Items)
	}

	// A removes its first enrollment: its key is gone, its queries refused.
	if out := cliIn(t, dirA, 0, "federation", "peer", "remove", firstOnA); !strings.Contains(
		out, "wiped") {
		t.Errorf("peer remove on A: %q", out)
	}
	if out := cliIn(t, dirA, 1, "federation", "query", firstOnA, "tasks"); !strings.Contains(
		out, "peer_removed") {
		t.Errorf("A's query through the removed peer: %q", out)
	}
	db := openDB(t, dirA)
	if n := queryInt(t, db, `SELECT COUNT(*) FROM peers WHERE id = ? AND state = 'revoked'
		AND sealed_key IS NULL AND cert_pem = ''`, firstOnA); n != 1 {
		t.Error("the removed outbound peer keeps its sealed key or certificate")
	}
	queryTasks(t, dirA, secondOnA)
}

// enrollWithCLI issues a token for grantID on B and has A enroll with it
// through "peer add"; it returns the new peer's id on A.
func enrollWithCLI(t *testing.T, dirA, dirB, grantID string) string {
	t.Helper()
	var tok tokenAnswer
	cliJSONIn(t, dirB, &tok, "federation", "grant", "token", grantID, "--ttl", "600")
	var p mosaic.Peer
	cliJSONIn(t, dirA, &p, "federation", "peer", "add", "--url-file",
		inFile(t, "url", tok.EnrollmentURL), "--name", "Gateway B")
	if p.State != mosaic.PeerActive {
		t.Fatalf("peer add: peer %s is %s", p.ID, p.State)
	}
	return p.ID
}

// queryTasks reads tasks through an outbound peer on A and expects
// Alice's one task.
func queryTasks(t *testing.T, dirA, peerID string) {
	t.Helper()
	var page queryAnswer
	cliJSONIn(t, dirA, &page, "federation", "query", peerID, "tasks")
	if len(page.Items) != 1 || page.Items[0].Title != "Renew the lease" {
		t.Errorf("query through %s: %+v", peerID, page.Items)
	}
}

// assertRemovalAudited checks B's audit of a peer removal: each grant's
// revocation with the reason, and the removal itself.
func assertRemovalAudited(t *testing.T, b *proc, peerID string, grantIDs ...string) {
	t.Helper()
	var audit struct{ Items []mosaic.AuditEvent }
	b.mustAdmin(t, http.StatusOK, http.MethodGet,
		"/api/admin/federation/audit?limit=100&peer="+peerID, nil, &audit)
	revoked := map[string]bool{}
	removals := 0
	for _, e := range audit.Items {
		switch {
		case e.Verb == mosaic.VerbRevoke && e.Reason == "paused":
			revoked[e.GrantID] = true
		case e.Verb == mosaic.VerbRemovePeer && e.Reason == "paused":
			removals++
		}
	}
	for _, id := range grantIDs {
		if !revoked[id] {
			t.Errorf("no audited revocation of grant %s", id)
		}
	}
	if removals != 1 {
		t.Errorf("%d audited removals of peer %s, want 1", removals, peerID)
	}
}
