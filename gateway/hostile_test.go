package gateway_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
)

// minHostileCases is how many refused requests the bad-input suite must
// hold at least.
const minHostileCases = 80

// Special values of hreq fields.
const (
	noType = "-" // send no Content-Type
	noAuth = "-" // send no Authorization
)

// knownBugs are the cases, by name, that fail for a reported bug: they
// are skipped until it is fixed.
var knownBugs = map[string]string{}

// hreq is one hostile request: to the admin API (with the admin token
// unless auth says otherwise) or to the federation API (with cert as the
// client certificate, if any).
type hreq struct {
	fed     bool
	method  string
	path    string // as sent, escapes included
	body    string
	ctype   string // "" means application/json on POST, PUT and PATCH
	chunked bool   // send the body without a Content-Length
	auth    string // admin API: "" means the admin token, noAuth none
	cert    *tls.Certificate
	token   string // the enrollment token in the path, if any
}

// hostileCase is a request and the refusal it must get.
type hostileCase struct {
	name   string
	req    hreq
	status int
	code   string
}

// adminReq is a request to the admin API.
func adminReq(method, path, body string) hreq {
	return hreq{method: method, path: path, body: body}
}

// enrollReq is an enrollment request for token with body.
func enrollReq(token, body string) hreq {
	return hreq{fed: true, method: http.MethodPost, path: "/api/federation/enrollment/" + token,
		body: body, token: token}
}

// readReq is a federated read presenting cert (none if nil).
func readReq(path string, cert *tls.Certificate) hreq {
	return hreq{fed: true, method: http.MethodGet, path: path, cert: cert}
}

// typed returns r with another Content-Type.
func (r hreq) typed(ctype string) hreq { r.ctype = ctype; return r }

// chunk returns r sent without a Content-Length.
func (r hreq) chunk() hreq { r.chunked = true; return r }

// authed returns r with another Authorization header.
func (r hreq) authed(auth string) hreq { r.auth = auth; return r }

// hostile is the gateway the bad-input suite runs against, with the state
// its cases need.
type hostile struct {
	n      *node
	db     *sql.DB
	secret []byte
	root   *x509.Certificate
	inter  *x509.Certificate
	signer *ecdsa.PrivateKey // the intermediate's key, to forge certificates
	admin  *http.Client
	fed    *http.Client // presents no certificate

	mu      sync.Mutex
	clients map[*tls.Certificate]*http.Client

	alice, bob string
	// live is the token of the pending grant: every case that could spend
	// it is checked to leave it unspent, and it is redeemed at the end.
	live      string
	liveGrant mosaic.Grant
	// used, expired and revokedTok are spent, expired, and of a revoked
	// grant.
	used, expired, revokedTok string
	active                    mosaic.Grant
	activeCert                *tls.Certificate
	revoked                   mosaic.Grant
	outbound                  string // a pending outbound peer
}

// TestHostileInput sends well over minHostileCases malformed, oversized,
// forged or otherwise hostile requests to the admin, enrollment and
// federation APIs of a real gateway. Each must be refused with its exact
// status and code and change nothing: every table but the audit log is
// byte for byte the same afterwards, the live enrollment token is neither
// used nor claimed, and each request that reached the federation API left
// exactly one denied audit event under its request id. The token is
// redeemed at the end, with a CSR whose 300-byte common name is ignored.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	h := newHostile(t)
	var cases []hostileCase
	cases = append(cases, h.bodyCases(t)...)
	cases = append(cases, h.tokenCases(t)...)
	cases = append(cases, h.csrCases(t)...)
	cases = append(cases, h.readCases(t)...)
	cases = append(cases, h.adminCases(t)...)
	if n := len(cases) - len(knownBugs); n < minHostileCases {
		t.Fatalf("%d cases run, want at least %d", n, minHostileCases)
	}
	t.Logf("%d hostile requests, %d of them skipped as known bugs", len(cases),
		len(knownBugs))

	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("case name %q used twice", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			if bug, ok := knownBugs[tc.name]; ok {
				t.Skip("BUG: " + bug)
			}
			h.check(t, tc)
		})
	}
	for name := range knownBugs {
		if !names[name] {
			t.Errorf("known bug of no case: %q", name)
		}
	}

	// Controls: what looks hostile but is fine is accepted as it is.
	h.redeemLiveWithLongName(t)
	h.metacharactersStoredLiterally(t)
}

// check sends one hostile request and checks its answer (status, code,
// JSON, no secret echoed) and that nothing changed.
func (h *hostile) check(t *testing.T, tc hostileCase) {
	t.Helper()
	before := dumpDB(t, h.db, "audit_events", "sqlite_sequence")
	auditBefore := queryInt(t, h.db, `SELECT COUNT(*) FROM audit_events`)

	a := h.send(t, tc.req)
	if a.status != tc.status || errorCode(a.body) != tc.code {
		t.Errorf("answer %d %s, want %d %s", a.status, a.body, tc.status, tc.code)
	}
	for what, secret := range map[string]string{"live enrollment token": h.live,
		"admin token": h.n.info.AdminToken} {
		if strings.Contains(string(a.body), secret) {
			t.Errorf("answer echoes the %s", what)
		}
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("answer Content-Type %q, want application/json", ct)
	}
	requestID := a.header.Get("X-Request-Id")
	if requestID == "" {
		t.Error("answer has no X-Request-Id")
	}

	after := dumpDB(t, h.db, "audit_events", "sqlite_sequence")
	if changed := changedTables(before, after); len(changed) > 0 {
		t.Errorf("the request changed %v", changed)
	}
	h.assertLiveUnspent(t)

	added := queryInt(t, h.db, `SELECT COUNT(*) FROM audit_events`) - auditBefore
	if !tc.req.fed {
		if added != 0 {
			t.Errorf("admin request added %d audit events", added)
		}
		return
	}
	if added != 1 {
		t.Errorf("federation request added %d audit events, want 1", added)
	}
	h.assertDeniedAudit(t, tc, requestID)
}

// assertLiveUnspent checks that the live token is neither used nor held.
func (h *hostile) assertLiveUnspent(t *testing.T) {
	t.Helper()
	var used, claim sql.NullString
	err := h.db.QueryRow(`SELECT used_at, claim_id FROM enrollment_tokens WHERE hash = ?`,
		mosaic.TokenSecret(h.live).Hash()).Scan(&used, &claim)
	if err != nil {
		t.Fatalf("read the live token: %v", err)
	}
	if used.Valid || claim.Valid {
		t.Errorf("live token spent: used_at %v, claim_id %v", used, claim)
	}
}

// assertDeniedAudit checks the audit event of a refused federation
// request: denied, with the status and code answered, the verb of its
// path and, for an enrollment, its token's hash prefix.
func (h *hostile) assertDeniedAudit(t *testing.T, tc hostileCase, requestID string) {
	t.Helper()
	var verb, outcome, reason, prefix string
	var status int
	err := h.db.QueryRow(`SELECT verb, outcome, reason, status, token_hash_prefix
		FROM audit_events WHERE request_id = ?`, requestID).
		Scan(&verb, &outcome, &reason, &status, &prefix)
	if err != nil {
		t.Fatalf("audit event of request %s: %v", requestID, err)
	}
	wantVerb := mosaic.VerbRead
	if strings.HasPrefix(tc.req.path, "/api/federation/enrollment") {
		wantVerb = mosaic.VerbEnroll
	}
	if verb != wantVerb || outcome != string(mosaic.OutcomeDenied) ||
		reason != tc.code || status != tc.status {
		t.Errorf("audit event %s %s %s %d, want %s denied %s %d",
			verb, outcome, reason, status, wantVerb, tc.code, tc.status)
	}
	if tc.req.token == "" {
		return
	}
	token, err := url.PathUnescape(tc.req.token)
	if err != nil {
		t.Fatal(err)
	}
	if want := tokenHashPrefix(token); prefix != want {
		t.Errorf("audit token hash prefix %q, want %q", prefix, want)
	}
}

// send makes a hostile request.
func (h *hostile) send(t *testing.T, r hreq) rawAnswer {
	t.Helper()
	x := rawReq{method: r.method, header: map[string]string{}, chunked: r.chunked}
	if r.body != "" {
		x.body = []byte(r.body)
	}
	switch {
	case r.ctype == noType:
	case r.ctype != "":
		x.header["Content-Type"] = r.ctype
	case r.method == http.MethodPost || r.method == http.MethodPut ||
		r.method == http.MethodPatch:
		x.header["Content-Type"] = "application/json"
	}
	if r.fed {
		x.url = h.n.publicBase() + r.path
		return sendRaw(t, h.fedClient(t, r.cert), x)
	}
	x.url = h.n.info.AdminURL + r.path
	switch r.auth {
	case "":
		x.header["Authorization"] = "Bearer " + h.n.info.AdminToken
	case noAuth:
	default:
		x.header["Authorization"] = r.auth
	}
	return sendRaw(t, h.admin, x)
}

// fedClient returns the federation client presenting cert.
func (h *hostile) fedClient(t *testing.T, cert *tls.Certificate) *http.Client {
	t.Helper()
	if cert == nil {
		return h.fed
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.clients[cert]; ok {
		return c
	}
	c := httpsClient(t, h.root, cert)
	h.clients[cert] = c
	return c
}

// newHostile starts the gateway and builds the state the cases need.
func newHostile(t *testing.T) *hostile {
	t.Helper()
	dir := t.TempDir()
	secret := strongSecret + "-hostile"
	h := &hostile{secret: []byte(secret), clients: map[*tls.Certificate]*http.Client{}}
	// The enrollment rate limit is off: the suite sends far more
	// enrollment requests from one address than it allows.
	h.n = start(t, dir, options{env: map[string]string{seal.EnvSecret: secret,
		gateway.EnvEnrollRateLimit: "off"}})
	chain := caChain(t, h.n.publicBase())
	if len(chain) < 2 {
		t.Fatalf("CA chain of %d certificates, want root and intermediate", len(chain))
	}
	h.root, h.inter = chain[0], chain[1]
	h.admin = plainClient(t)
	h.fed = httpsClient(t, h.root, nil)
	h.db = openDB(t, dir)
	h.signer = intermediateSigner(t, h.db, h.secret)

	var alice, bob mosaic.User
	h.n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Alice Example", "email": "alice@b.example.test"}, &alice)
	h.n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Bob Other", "email": "bob@b.example.test"}, &bob)
	h.alice, h.bob = alice.ID, bob.ID
	h.n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/tasks",
		map[string]any{"userId": alice.ID, "title": "Write the report"}, nil)

	// A token that expires in one second, waited for below.
	expiring := h.grantWithToken(t, "Expiring peer", 1)
	h.expired = expiring.Token
	var live issuedToken
	h.liveGrant, live = h.grantAndToken(t, "Live peer", 900)
	h.live = live.Token

	// An enrolled grant, whose token is used.
	var used issuedToken
	h.active, used = h.grantAndToken(t, "Enrolled peer", 900)
	h.used = used.Token
	cert := enrollAt(t, h.n.publicBase(), h.root, h.used)
	h.activeCert = &cert

	// A grant revoked while its token was still unused.
	var revokedTok issuedToken
	h.revoked, revokedTok = h.grantAndToken(t, "Revoked peer", 900)
	h.revokedTok = revokedTok.Token
	h.n.mustAdmin(t, http.StatusOK, http.MethodPatch,
		"/api/admin/federation/grants/"+h.revoked.ID+"/revoke",
		map[string]any{"reason": "set-up"}, nil)

	var kp struct {
		PeerID string `json:"peerId"`
	}
	h.n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/federation/peers/keypair",
		map[string]string{"commonName": "gateway-far", "displayName": "Gateway Far",
			"endpointUrl": "https://127.0.0.1:9", "caPin": pki.Pin(h.root)}, &kp)
	h.outbound = kp.PeerID

	if wait := time.Until(expiring.ExpiresAt.Add(200 * time.Millisecond)); wait > 0 {
		time.Sleep(wait)
	}
	return h
}

// grantAndToken creates a pending grant of Alice's tasks to a new peer and
// an enrollment token for it.
func (h *hostile) grantAndToken(t *testing.T, peerName string, ttl int) (mosaic.Grant,
	issuedToken) {
	t.Helper()
	var g mosaic.Grant
	h.n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/federation/grants",
		map[string]any{"userId": h.alice, "peerName": peerName, "scope": map[string]any{
			"resources": []string{"tasks"}, "max_rows_per_query": 10,
		}}, &g)
	var tok issuedToken
	h.n.mustAdmin(t, http.StatusCreated, http.MethodPost,
		"/api/admin/federation/grants/"+g.ID+"/tokens", map[string]any{"ttlSeconds": ttl}, &tok)
	return g, tok
}

// grantWithToken is grantAndToken for a token alone.
func (h *hostile) grantWithToken(t *testing.T, peerName string, ttl int) issuedToken {
	t.Helper()
	_, tok := h.grantAndToken(t, peerName, ttl)
	return tok
}

// bodyCases are enrollment requests with the live token whose bodies are
// refused before the token is looked at.
func (h *hostile) bodyCases(t *testing.T) []hostileCase {
	t.Helper()
	_, good := newCSR(t)
	ok := csrBody(good)
	big := `{"csrPem":"` + strings.Repeat("A", httpapi.MaxBodyBytes) + `"}`
	deep := `{"csrPem":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`
	e := func(body string) hreq { return enrollReq(h.live, body) }
	return []hostileCase{
		{"body over the limit with Content-Length", e(big), 413, "body_too_large"},
		{"body over the limit chunked", e(big).chunk(), 413, "body_too_large"},
		{"body as text/plain", e(ok).typed("text/plain"), 415, "unsupported_media_type"},
		{"body without Content-Type", e(ok).typed(noType), 415, "unsupported_media_type"},
		{"body as JSON in Latin-1", e(ok).typed("application/json; charset=iso-8859-1"),
			415, "unsupported_media_type"},
		{"body as a form", e("csrPem=x").typed("application/x-www-form-urlencoded"),
			415, "unsupported_media_type"},
		{"body as JSON with a stray parameter", e(ok).typed("application/json; x=1"),
			415, "unsupported_media_type"},
		{"empty body", e(""), 400, "invalid_json"},
		{"truncated JSON", e(`{"csrPem":`), 400, "invalid_json"},
		{"malformed JSON", e(`{csrPem: 'x'}`), 400, "invalid_json"},
		{"null body", e("null"), 400, "invalid_json"},
		{"array body", e(`[` + ok + `]`), 400, "invalid_json"},
		{"string body", e(`"csrPem"`), 400, "invalid_json"},
		{"byte order mark before the body", e("\ufeff" + ok), 400, "invalid_json"},
		{"second object after the body", e(ok + `{}`), 400, "trailing_data"},
		{"garbage after the body", e(ok + ` x`), 400, "trailing_data"},
		{"unknown field", e(`{"csrPem":"x","token":"y"}`), 400, "unknown_field"},
		{"duplicate key", e(`{"csrPem":"x","csrPem":"y"}`), 400, "duplicate_key"},
		{"case-folded key CsrPem", e(`{"CsrPem":` + jsonString(good) + `}`), 400,
			"unknown_field"},
		{"case-folded key CSRPEM", e(`{"CSRPEM":` + jsonString(good) + `}`), 400,
			"unknown_field"},
		{"csrPem a number", e(`{"csrPem":12345}`), 400, "invalid_json"},
		{"csrPem a huge number", e(`{"csrPem":1e400}`), 400, "invalid_json"},
		{"csrPem an array", e(`{"csrPem":["x"]}`), 400, "invalid_json"},
		{"csrPem an object", e(`{"csrPem":{"pem":"x"}}`), 400, "invalid_json"},
		{"csrPem null", e(`{"csrPem":null}`), 400, "invalid_csr"},
		{"nesting 100 deep", e(deep), 400, "invalid_json"},
		{"invalid UTF-8 in the CSR", e("{\"csrPem\":\"\xff\xfe" + "\"}"), 400, "invalid_json"},
	}
}

// jsonString is s as a JSON string.
func jsonString(s string) string { return string(mustJSON(s)) }

// tokenCases are enrollments with a good CSR whose token is malformed,
// unknown, spent, or hidden behind a path trick.
func (h *hostile) tokenCases(t *testing.T) []hostileCase {
	t.Helper()
	_, good := newCSR(t)
	ok := csrBody(good)
	live := h.live
	e := func(token string) hreq { return enrollReq(token, ok) }
	path := func(p string) hreq {
		return hreq{fed: true, method: http.MethodPost, path: p, body: ok}
	}
	unknown, err := mosaic.NewTokenSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return []hostileCase{
		{"token of 42 characters", e(live[:42]), 400, "invalid_token"},
		{"token of 44 characters", e(live + "A"), 400, "invalid_token"},
		{"token with +", e("+" + live[1:]), 400, "invalid_token"},
		{"token with =", e(live[:42] + "="), 400, "invalid_token"},
		{"token with .", e("." + live[1:]), 400, "invalid_token"},
		{"token with an escaped space", e("%20" + live[1:]), 400, "invalid_token"},
		{"token with an escaped slash", e(live[:20] + "%2F" + live[21:]), 400, "invalid_token"},
		{"non-canonical encoding of the live token", e(nonCanonical(t, live)), 400,
			"invalid_token"},
		{"look-alike: fullwidth first character", e(url.PathEscape(fullwidth(live[:1]) +
			live[1:])), 400, "invalid_token"},
		{"look-alike: Cyrillic a, same byte length", e(url.PathEscape(live[:41] + "а")),
			400, "invalid_token"},
		{"token with NUL", e(live[:20] + "%00" + live[21:]), 400, "invalid_token"},
		{"token with CR LF", e(live[:20] + "%0D%0A" + live[22:]), 400, "invalid_token"},
		{"long token", e(strings.Repeat(live, 100)), 400, "invalid_token"},
		{"case-flipped live token", e(flipCase(t, live)), 404, "token_not_found"},
		{"unknown token", e(unknown.Reveal()), 404, "token_not_found"},
		{"used token", e(h.used), 410, "token_used"},
		{"expired token", e(h.expired), 410, "token_expired"},
		{"token of a revoked grant", e(h.revokedTok), 409, "grant_not_pending"},
		{"dot-dot before the token",
			path("/api/federation/enrollment/../enrollment/" + live), 400, "invalid_path"},
		{"escaped dot-dot before the token",
			path("/api/federation/enrollment/%2e%2e/enrollment/" + live), 400, "invalid_path"},
		{"escaped upper-case dot-dot",
			path("/api/federation/%2E%2E/federation/enrollment/" + live), 400, "invalid_path"},
		{"dot segment", path("/api/federation/./enrollment/" + live), 400, "invalid_path"},
		{"double slash before the token", path("/api/federation/enrollment//" + live), 400,
			"invalid_path"},
		{"trailing slash after the token", path("/api/federation/enrollment/" + live + "/"),
			404, "not_found"},
		{"segment after the token", path("/api/federation/enrollment/" + live + "/x"), 404,
			"not_found"},
		{"no token", path("/api/federation/enrollment"), 404, "not_found"},
		{"empty token", path("/api/federation/enrollment/"), 404, "not_found"},
		{"GET on the enrollment", hreq{fed: true, method: http.MethodGet,
			path: "/api/federation/enrollment/" + live}, 405, "method_not_allowed"},
		{"PUT on the enrollment", hreq{fed: true, method: http.MethodPut,
			path: "/api/federation/enrollment/" + live, body: ok}, 405, "method_not_allowed"},
	}
}

// nonCanonical returns another base64url text of the same bytes as token:
// its last character carries bits a strict decoder refuses.
func nonCanonical(t *testing.T, token string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, token[len(token)-1])
	if i%4 != 0 {
		t.Fatalf("token %d characters long ends in a non-canonical character", len(token))
	}
	other := token[:len(token)-1] + string(alphabet[i+1])
	a, errA := base64.RawURLEncoding.DecodeString(token)
	b, errB := base64.RawURLEncoding.DecodeString(other)
	if errA != nil || errB != nil || string(a) != string(b) {
		t.Fatal("non-canonical token does not decode to the same bytes")
	}
	return other
}

// fullwidth returns the fullwidth form of an ASCII string.
func fullwidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r - 0x21 + 0xFF01)
	}
	return b.String()
}

// flipCase flips the case of the first letter of token, keeping it a
// well-formed token.
func flipCase(t *testing.T, token string) string {
	t.Helper()
	for i := 0; i < len(token)-1; i++ {
		c := token[i]
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		default:
			continue
		}
		flipped := token[:i] + string(c) + token[i+1:]
		if _, err := mosaic.ParseTokenSecret(flipped); err != nil {
			t.Fatal(err)
		}
		return flipped
	}
	t.Fatal("token has no letter")
	return ""
}

// redeemLiveWithLongName redeems the live token, spared by every case,
// with a CSR whose 300-byte common name the gateway ignores: the token
// still works, and the certificate's subject is the gateway's choice.
func (h *hostile) redeemLiveWithLongName(t *testing.T) {
	t.Helper()
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("n", 300)
	csr := csrFor(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: long}}, key)
	status, body := redeemAt(h.fed, h.n.publicBase(), h.live, csr)
	if status != http.StatusOK {
		t.Fatalf("redeem of the live token after the hostile requests: %d %s", status, body)
	}
	cert := clientCert(t, key, body)
	if cn := cert.Leaf.Subject.CommonName; cn == long || strings.Contains(cn, "nnnn") {
		t.Errorf("certificate subject %q comes from the CSR", cn)
	}
	assertGrantStatus(t, h.n, h.liveGrant.ID, mosaic.GrantActive)
}

// metacharactersStoredLiterally creates a user, a task and a peer whose
// names hold SQL and shell metacharacters: they are accepted and stored
// exactly as given.
func (h *hostile) metacharactersStoredLiterally(t *testing.T) {
	t.Helper()
	userName := `Robert'); DROP TABLE users;-- "quoted" \ back`
	title := `'; DELETE FROM tasks WHERE '1'='1`
	peerName := "$(touch /tmp/mosaic-pwned) `id` ; rm -rf / # && | > < *"
	var u mosaic.User
	h.n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": userName, "email": "bobby.tables@b.example.test"}, &u)
	h.n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/tasks",
		map[string]any{"userId": u.ID, "title": title}, nil)
	var g mosaic.Grant
	h.n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/federation/grants",
		map[string]any{"userId": u.ID, "peerName": peerName, "scope": map[string]any{
			"resources": []string{"tasks"}, "max_rows_per_query": 1}}, &g)

	stored := map[string][2]string{
		"user name": {queryText(t, h.db, `SELECT name FROM users WHERE id = ?`, u.ID),
			userName},
		"task title": {queryText(t, h.db, `SELECT title FROM tasks WHERE user_id = ?`, u.ID),
			title},
		"peer name": {queryText(t, h.db, `SELECT display_name FROM peers WHERE id = ?`,
			g.PeerID), peerName},
	}
	for what, got := range stored {
		if got[0] != got[1] {
			t.Errorf("%s stored as %q, want %q", what, got[0], got[1])
		}
	}
	if n := queryInt(t, h.db, `SELECT COUNT(*) FROM users`); n != 3 {
		t.Errorf("%d users, want 3", n)
	}
}

// queryText runs a query answering one text value.
func queryText(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	var s string
	if err := db.QueryRow(query, args...).Scan(&s); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return s
}

// dripBound is how long a client dripping a body may hold an enrollment
// request: the servers' 30-second read timeout, and a margin for a slow
// machine.
const dripBound = 45 * time.Second

// TestSlowBodyDrip sends an enrollment body one byte a second: the read
// timeout must end the request well before the body is complete, the
// refusal is audited, and the token stays unspent. It waits for the
// timeout, in parallel with the other tests.
func TestSlowBodyDrip(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the read timeout")
	}
	t.Parallel()
	dir := t.TempDir()
	n := start(t, dir, options{env: map[string]string{gateway.EnvEnrollRateLimit: "off"}})
	root := caChain(t, n.publicBase())[0]
	var alice mosaic.User
	n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Alice", "email": "alice@b.example.test"}, &alice)
	var g mosaic.Grant
	n.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/federation/grants",
		map[string]any{"userId": alice.ID, "peerName": "Dripping peer", "scope": map[string]any{
			"resources": []string{"tasks"}, "max_rows_per_query": 10}}, &g)
	var tok issuedToken
	n.mustAdmin(t, http.StatusCreated, http.MethodPost,
		"/api/admin/federation/grants/"+g.ID+"/tokens", map[string]any{"ttlSeconds": 900}, &tok)

	conn, err := tls.Dial("tcp", n.fedAddr.String(), &tls.Config{RootCAs: pki.NewPool(root)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	begun := time.Now()
	head := "POST /api/federation/enrollment/" + tok.Token + " HTTP/1.1\r\n" +
		"Host: " + n.fedAddr.String() + "\r\nContent-Type: application/json\r\n" +
		"Content-Length: 4096\r\n\r\n{\"csrPem\":\""
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	go func() {
		for time.Since(begun) < 2*dripBound {
			time.Sleep(time.Second)
			if _, err := conn.Write([]byte("A")); err != nil {
				return
			}
		}
	}()
	if err := conn.SetReadDeadline(begun.Add(dripBound)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	elapsed := time.Since(begun)
	if err != nil {
		t.Fatalf("no answer after %s: %v", elapsed.Round(time.Second), err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("answered after %s", elapsed.Round(time.Second))
	if resp.StatusCode != http.StatusBadRequest || errorCode(body) != "invalid_body" {
		t.Errorf("answer %d %s, want 400 invalid_body", resp.StatusCode, body)
	}

	// The refusal is audited, and the token is still there to redeem.
	db := openDB(t, dir)
	requestID := resp.Header.Get("X-Request-Id")
	var reason, prefix string
	err = db.QueryRow(`SELECT reason, token_hash_prefix FROM audit_events
		WHERE request_id = ? AND verb = 'enroll' AND outcome = 'denied'`, requestID).
		Scan(&reason, &prefix)
	if err != nil || reason != "invalid_body" || prefix != tokenHashPrefix(tok.Token) {
		t.Errorf("audit of the dripped request: %q %q %v", reason, prefix, err)
	}
	enrollAt(t, n.publicBase(), root, tok.Token)
}
