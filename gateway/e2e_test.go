package gateway_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/remote"
	"github.com/mosaicgw/mosaic/seal"
)

// grantorData is what the test puts on the grantor B.
type grantorData struct {
	alice, bob       string // user ids
	credentialSecret string
}

// tokenAnswer is B's answer to a token request.
type tokenAnswer struct {
	Token         string `json:"token"`
	CAPin         string `json:"caPin"`
	EnrollmentURL string `json:"enrollmentUrl"`
}

// queryAnswer is a federated read's answer.
type queryAnswer struct {
	Items        []mosaic.Task `json:"items"`
	NextCursor   string        `json:"nextCursor"`
	LimitApplied int           `json:"limitApplied"`
	LimitCapped  bool          `json:"limitCapped"`
}

// TestFederationEndToEnd runs two gateways in this process: B grants A
// read access to Alice's tasks, A enrolls and reads them over mutual TLS
// through its admin API, B restarts, B revokes, and A is refused. No log
// of either gateway holds a secret.
func TestFederationEndToEnd(t *testing.T) {
	t.Parallel()
	secretB := strongSecret + "-grantor"
	envB := map[string]string{seal.EnvSecret: secretB}
	dirA, dirB := t.TempDir(), t.TempDir()
	a := start(t, dirA, options{})
	b := start(t, dirB, options{env: envB})
	nodes := []*node{a, b}

	// B: data, a grant and an enrollment token.
	data := seedGrantor(t, b)
	var grant mosaic.Grant
	b.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/federation/grants",
		map[string]any{"userId": data.alice, "peerName": "Gateway A", "scope": map[string]any{
			"resources": []string{"tasks"}, "excluded_resources": []string{"credentials"},
			"max_rows_per_query": 2,
		}}, &grant)
	var tok tokenAnswer
	b.mustAdmin(t, http.StatusCreated, http.MethodPost,
		"/api/admin/federation/grants/"+grant.ID+"/tokens",
		map[string]any{"ttlSeconds": 600}, &tok)
	if pin := pki.Pin(fetchCA(t, b)); tok.CAPin != pin {
		t.Fatalf("token caPin %s, want the served CA's %s", tok.CAPin, pin)
	}

	// A: enroll with B; the grant becomes active and the token is spent.
	peerID := enroll(t, a, tok.EnrollmentURL)
	assertGrantStatus(t, b, grant.ID, mosaic.GrantActive)
	assertTokenSpent(t, tok.EnrollmentURL)

	// A reads Alice's tasks, capped and paged, and is refused credentials.
	readAliceTasks(t, a, peerID, data.alice)
	assertQueryDenied(t, a, peerID, "credentials", "resource_not_in_scope")

	// B restarts on the same federation address and still serves A.
	fedAddr := b.fedAddr.String()
	b.mustStop(t)
	b = start(t, dirB, options{env: envB, federationAddr: fedAddr})
	nodes = append(nodes, b)
	readAliceTasks(t, a, peerID, data.alice)

	// B revokes; A's very next read is refused and B audits it.
	var revoked mosaic.Grant
	b.mustAdmin(t, http.StatusOK, http.MethodPatch,
		"/api/admin/federation/grants/"+grant.ID+"/revoke",
		map[string]any{"reason": "end of the test"}, &revoked)
	if revoked.Status != mosaic.GrantRevoked {
		t.Fatalf("grant status %s after revoke", revoked.Status)
	}
	assertQueryDenied(t, a, peerID, "tasks", "grant_not_active")
	assertAudited(t, b, grant.ID)

	// Nothing secret reached any log.
	for _, n := range nodes {
		n.mustStop(t)
	}
	secrets := map[string]string{
		"admin token of A": a.info.AdminToken, "admin token of B": b.info.AdminToken,
		"enrollment token": tok.Token, "secret of A": readSecret(t, dirA),
		"secret of B": secretB, "credential secret": data.credentialSecret,
	}
	if !strings.Contains(nodes[1].logs.String(), "/api/federation/enrollment/") {
		t.Error("B's logs do not record the enrollment requests: nothing to check")
	}
	for i, n := range nodes {
		assertNoSecrets(t, []string{"A", "B", "restarted B"}[i], n.logs.String(), secrets)
	}
}

// seedGrantor creates Alice with three tasks and a credential, and Bob
// with one task, on g.
func seedGrantor(t *testing.T, g *node) grantorData {
	t.Helper()
	var alice, bob mosaic.User
	g.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Alice Example", "email": "alice@b.example.test"}, &alice)
	g.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Bob Other", "email": "bob@b.example.test"}, &bob)
	for _, title := range []string{"Write the report", "Review the design", "Renew certs"} {
		g.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/tasks",
			map[string]any{"userId": alice.ID, "title": title}, nil)
	}
	g.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/tasks",
		map[string]any{"userId": bob.ID, "title": "Bob's private task"}, nil)
	d := grantorData{alice: alice.ID, bob: bob.ID, credentialSecret: "hunter2-never-federated"}
	g.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/credentials",
		map[string]any{"userId": alice.ID, "name": "mail", "kind": "password",
			"secret": d.credentialSecret}, nil)
	return d
}

// enroll does what "mosaic federation peer add" does on gateway a: check
// the grantor's CA against the pin, have a make a key pair, send the CSR
// to the grantor and store the certificate on a. It returns the new peer's
// id on a.
func enroll(t *testing.T, a *node, enrollmentURL string) string {
	t.Helper()
	ctx := context.Background()
	u, err := remote.ParseEnrollmentURL(enrollmentURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := remote.FetchPinnedCA(ctx, u.BaseURL, u.Pin, nil); err != nil {
		t.Fatalf("pinned CA: %v", err)
	}

	var kp struct {
		PeerID string `json:"peerId"`
		CSRPEM string `json:"csrPem"`
	}
	a.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/federation/peers/keypair",
		map[string]string{"commonName": "gateway-b", "displayName": "Gateway B",
			"endpointUrl": u.BaseURL, "caPin": u.Pin}, &kp)
	res, err := remote.Enroll(ctx, u, kp.CSRPEM)
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	var p mosaic.Peer
	a.mustAdmin(t, http.StatusOK, http.MethodPatch,
		"/api/admin/federation/peers/"+kp.PeerID+"/cert", res, &p)
	if p.State != mosaic.PeerActive || p.Role != mosaic.PeerOutbound {
		t.Fatalf("peer on A is %s %s, want active outbound", p.State, p.Role)
	}
	return p.ID
}

// assertTokenSpent checks that the enrollment token cannot be redeemed
// again, even with another key.
func assertTokenSpent(t *testing.T, enrollmentURL string) {
	t.Helper()
	u, err := remote.ParseEnrollmentURL(enrollmentURL)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key, "intruder")
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Enroll(context.Background(), u, csr)
	if code := mosaic.ErrorCode(err); code != "token_used" {
		t.Errorf("second redeem: %v, want token_used", err)
	}
}

// assertGrantStatus checks a grant's status on the grantor.
func assertGrantStatus(t *testing.T, b *node, grantID string, want mosaic.GrantStatus) {
	t.Helper()
	var g mosaic.Grant
	b.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/federation/grants/"+grantID,
		nil, &g)
	if g.Status != want {
		t.Errorf("grant %s is %s, want %s", grantID, g.Status, want)
	}
}

// readAliceTasks reads the tasks of the grant's subject through a's admin
// API: two pages, the first capped at the grant's two rows, holding
// exactly Alice's three tasks.
func readAliceTasks(t *testing.T, a *node, peerID, alice string) {
	t.Helper()
	path := "/api/admin/federation/peers/" + peerID + "/query/tasks"
	var first, second queryAnswer
	a.mustAdmin(t, http.StatusOK, http.MethodGet, path+"?limit=10", nil, &first)
	if len(first.Items) != 2 || first.LimitApplied != 2 || !first.LimitCapped {
		t.Errorf("first page: %d rows, limit %d, capped %v; want 2, 2, true",
			len(first.Items), first.LimitApplied, first.LimitCapped)
	}
	if first.NextCursor == "" {
		t.Fatal("first page has no next cursor")
	}
	a.mustAdmin(t, http.StatusOK, http.MethodGet,
		path+"?cursor="+url.QueryEscape(first.NextCursor), nil, &second)
	if len(second.Items) != 1 || second.NextCursor != "" {
		t.Errorf("second page: %d rows, cursor %q; want 1 and none",
			len(second.Items), second.NextCursor)
	}
	seen := map[string]bool{}
	for _, task := range append(first.Items, second.Items...) {
		if task.UserID != alice {
			t.Errorf("task %q of user %s was returned", task.Title, task.UserID)
		}
		if seen[task.ID] {
			t.Errorf("task %s returned twice", task.ID)
		}
		seen[task.ID] = true
	}
}

// assertQueryDenied checks that a's read of resource through peerID is
// refused by the grantor with a 403 and code.
func assertQueryDenied(t *testing.T, a *node, peerID, resource, code string) {
	t.Helper()
	status, body := a.admin(t, http.MethodGet,
		"/api/admin/federation/peers/"+peerID+"/query/"+resource, nil)
	if status != http.StatusForbidden || errorCode(body) != code {
		t.Errorf("query %s: %d %s, want 403 %s", resource, status, body, code)
	}
}

// assertAudited checks that the grantor audited allowed reads of the grant
// and the denial after its revocation.
func assertAudited(t *testing.T, b *node, grantID string) {
	t.Helper()
	var audit struct {
		Items []mosaic.AuditEvent `json:"items"`
	}
	b.mustAdmin(t, http.StatusOK, http.MethodGet,
		"/api/admin/federation/audit?limit=100&grant="+grantID, nil, &audit)
	var allowed, revokedDenials int
	for _, e := range audit.Items {
		switch {
		case e.Outcome == mosaic.OutcomeAllowed && e.Resource == "tasks":
			allowed++
		case e.Outcome == mosaic.OutcomeDenied && e.Reason == "grant_not_active":
			revokedDenials++
		}
	}
	if allowed != 4 || revokedDenials != 1 {
		t.Errorf("audit of grant %s: %d allowed task reads and %d grant_not_active "+
			"denials, want 4 and 1 (%d events)", grantID, allowed, revokedDenials,
			len(audit.Items))
	}
}
