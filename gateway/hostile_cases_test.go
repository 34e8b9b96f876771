// The standard library refuses RSA keys under 1024 bits unless told
// otherwise; the bad-input suite makes a 512-bit one to send in a CSR.

//go:debug rsa1024min=0

package gateway_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
)

// Admin API paths of the hostile cases.
const (
	grantsPath  = "/api/admin/federation/grants"
	peersPath   = "/api/admin/federation/peers"
	usersPath   = "/api/admin/users"
	okScopeJSON = `"scope":{"resources":["tasks"],"max_rows_per_query":5}`
)

// csrCases are enrollments with the live token and a CSR that must be
// refused before the token is claimed.
func (h *hostile) csrCases(t *testing.T) []hostileCase {
	t.Helper()
	key, good := newCSR(t)
	der := derOf(t, good)
	other, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys := generateForeignKeys(t)
	flipped := append([]byte(nil), der...)
	flipped[len(flipped)-1] ^= 0x01
	encrypted := strings.Replace(good, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\n"+
		"DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n", 1)
	bc := func(ca bool) []byte {
		return mustDER(t, struct {
			IsCA bool `asn1:"optional"`
		}{ca})
	}
	ku := func(bit int) []byte {
		b := asn1.BitString{Bytes: make([]byte, 2), BitLength: 9}
		b.Bytes[bit/8] |= 0x80 >> (bit % 8)
		return mustDER(t, b)
	}
	c := func(csr string) hreq { return enrollReq(h.live, csrBody(csr)) }
	return []hostileCase{
		{"CSR empty", c(""), 400, "invalid_csr"},
		{"CSR garbage", c("hello, gateway"), 400, "invalid_csr"},
		{"CSR as bare base64 DER", c(base64.StdEncoding.EncodeToString(der)), 400,
			"invalid_csr"},
		{"CSR in a CERTIFICATE block", c(pemText("CERTIFICATE", der)), 400, "invalid_csr"},
		{"CSR in a PRIVATE KEY block", c(pemText("PRIVATE KEY", der)), 400, "invalid_csr"},
		{"two CSR blocks", c(good + good), 400, "invalid_csr"},
		{"CSR and a certificate", c(good + pemText("CERTIFICATE", h.root.Raw)), 400,
			"invalid_csr"},
		{"trailing bytes after the DER", c(pemText("CERTIFICATE REQUEST",
			append(append([]byte(nil), der...), 0, 0))), 400, "invalid_csr"},
		{"text after the PEM block", c(good + "junk\n"), 400, "invalid_csr"},
		{"encrypted-PEM headers", c(encrypted), 400, "invalid_csr"},
		{"truncated DER", c(pemText("CERTIFICATE REQUEST", der[:40])), 400, "invalid_csr"},
		{"CSR over 16 KiB", c(good + strings.Repeat(" ", pki.MaxCSRPEM)), 400,
			"invalid_csr"},
		{"CSR with NUL bytes", c(strings.Replace(good, "\n", "\n\x00", 2)), 400,
			"invalid_csr"},
		{"bad signature", c(pemText("CERTIFICATE REQUEST", flipped)), 400,
			"csr_signature_invalid"},
		{"key of another pair", c(rawCSR(t, &other.PublicKey,
			pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, signedBy(t, key))),
			400, "csr_signature_invalid"},
		{"RSA 512", c(csrFor(t, nil, keys.rsa512)), 400, "csr_key_unsupported"},
		{"RSA 2048", c(csrFor(t, nil, keys.rsa2048)), 400, "csr_key_unsupported"},
		{"RSA 4096", c(csrFor(t, nil, keys.rsa4096)), 400, "csr_key_unsupported"},
		{"RSA 16384 (hand-built)", c(hugeRSACSR(t, 16384)), 400, "csr_key_unsupported"},
		{"P-224", c(csrFor(t, nil, keys.p224)), 400, "csr_key_unsupported"},
		{"P-384", c(csrFor(t, nil, keys.p384)), 400, "csr_key_unsupported"},
		{"P-521", c(csrFor(t, nil, keys.p521)), 400, "csr_key_unsupported"},
		{"Ed25519", c(csrFor(t, nil, keys.ed25519)), 400, "csr_key_unsupported"},
		{"SHA-1 signature", c(csrFor(t, &x509.CertificateRequest{
			SignatureAlgorithm: x509.ECDSAWithSHA1}, key)), 400, "csr_signature_invalid"},
		{"asks for the grant id extension", c(csrFor(t, csrWithExt(mosaic.OIDGrantID,
			utf8Ext(t, h.liveGrant.ID)), key)), 400, "csr_forbidden_extension"},
		{"asks for the subject user extension", c(csrFor(t,
			csrWithExt(mosaic.OIDSubjectUserID, utf8Ext(t, h.bob)), key)), 400,
			"csr_forbidden_extension"},
		{"asks to be a CA", c(csrFor(t, csrWithExt(asn1.ObjectIdentifier{2, 5, 29, 19},
			bc(true)), key)), 400, "csr_forbidden_extension"},
		{"asks for certificate signing", c(csrFor(t, csrWithExt(
			asn1.ObjectIdentifier{2, 5, 29, 15}, ku(5)), key)), 400, "csr_forbidden_extension"},
		{"asks for CRL signing", c(csrFor(t, csrWithExt(
			asn1.ObjectIdentifier{2, 5, 29, 15}, ku(6)), key)), 400, "csr_forbidden_extension"},
	}
}

// foreignKeys are keys of every type a CSR may not carry.
type foreignKeys struct {
	rsa512, rsa2048, rsa4096 *rsa.PrivateKey
	p224, p384, p521         *ecdsa.PrivateKey
	ed25519                  ed25519.PrivateKey
}

// generateForeignKeys makes the keys, the RSA ones in parallel.
func generateForeignKeys(t *testing.T) foreignKeys {
	t.Helper()
	var k foreignKeys
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, bits := range []int{512, 2048, 4096} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, err := rsa.GenerateKey(rand.Reader, bits)
			errs[i] = err
			switch bits {
			case 512:
				k.rsa512 = key
			case 2048:
				k.rsa2048 = key
			default:
				k.rsa4096 = key
			}
		}()
	}
	var err error
	if k.p224, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.p521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, k.ed25519, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("generate an RSA key: %v", err)
		}
	}
	return k
}

// adminCases are the hostile requests of the admin API: authentication,
// bodies, scopes, ids, names and parameters.
func (h *hostile) adminCases(t *testing.T) []hostileCase {
	t.Helper()
	var cases []hostileCase
	for _, part := range [][]hostileCase{
		h.adminAuthAndUserCases(), h.scopeCases(), h.grantCases(), h.grantPathCases(),
		h.tokenAndPeerCases(), h.dataCases(),
	} {
		cases = append(cases, part...)
	}
	return cases
}

// adminPost is a POST of body to the admin API.
func adminPost(path, body string) hreq { return adminReq(http.MethodPost, path, body) }

// adminGet is a GET of the admin API.
func adminGet(path string) hreq { return adminReq(http.MethodGet, path, "") }

// adminAuthAndUserCases refuse requests without the admin token, and user
// bodies that are too large, not JSON, or not acceptable.
func (h *hostile) adminAuthAndUserCases() []hostileCase {
	users := adminGet(usersPath)
	user := func(fields string) hreq { return adminPost(usersPath, "{"+fields+"}") }
	ok := `"name":"N","email":"n@b.test"`
	big := `"name":"` + strings.Repeat("n", httpapi.MaxBodyBytes) + `","email":"x@y.test"`
	return []hostileCase{
		{"admin without a token", users.authed(noAuth), 401, "unauthorized"},
		{"admin with a wrong token", users.authed("Bearer " + h.n.info.AdminToken + "x"),
			401, "unauthorized"},
		{"admin with an enrollment token", users.authed("Bearer " + h.live),
			401, "unauthorized"},
		{"admin token as Basic", users.authed("Basic " + h.n.info.AdminToken),
			401, "unauthorized"},
		{"user body over the limit", user(big), 413, "body_too_large"},
		{"user body over the limit chunked", user(big).chunk(), 413, "body_too_large"},
		{"user body as text/plain", user(ok).typed("text/plain"),
			415, "unsupported_media_type"},
		{"user unknown field", user(ok + `,"admin":true`), 400, "unknown_field"},
		{"user duplicate key", user(ok + `,"name":"M"`), 400, "duplicate_key"},
		{"user case-folded key", user(`"Name":"N","email":"n@b.test"`), 400, "unknown_field"},
		{"user trailing data", adminPost(usersPath, "{"+ok+"}]"), 400, "trailing_data"},
		{"user emailVerified a string", user(ok + `,"emailVerified":"yes"`),
			400, "invalid_json"},
		{"user name with a control character", user(`"name":"N\u0007","email":"n@b.test"`),
			400, "invalid_name"},
		{"user name with a bidi override", user(`"name":"N\u202e","email":"n@b.test"`),
			400, "invalid_name"},
		{"user name with invalid UTF-8",
			user("\"name\":\"Bad\xff\xfeName\",\"email\":\"n@b.test\""), 400, "invalid_json"},
		{"user name with a lone surrogate escape",
			user(`"name":"Bad\ud800Name","email":"n@b.test"`), 400, "invalid_json"},
		{"user email not an address", user(`"name":"N","email":"not an email"`),
			400, "invalid_email"},
		{"user email taken in another case", user(`"name":"N","email":"ALICE@b.example.test"`),
			409, "email_taken"},
	}
}

// scopeCases are grants whose scope is invalid in every way DESIGN §2
// names, or malformed.
func (h *hostile) scopeCases() []hostileCase {
	scoped := func(scope string) hreq {
		return adminPost(grantsPath, `{"userId":"`+h.alice+`","peerName":"P","scope":`+scope+`}`)
	}
	rows := func(n string) hreq {
		return scoped(`{"resources":["tasks"],"max_rows_per_query":` + n + `}`)
	}
	res := func(list string) hreq {
		return scoped(`{"resources":` + list + `,"max_rows_per_query":5}`)
	}
	return []hostileCase{
		{"scope with an unknown resource", res(`["tasks","payroll"]`), 400, "invalid_scope"},
		{"scope with a resource allowed and excluded",
			scoped(`{"resources":["tasks"],"excluded_resources":["tasks"],"max_rows_per_query":5}`),
			400, "invalid_scope"},
		{"scope with no resources", res(`[]`), 400, "invalid_scope"},
		{"scope with null resources", res(`null`), 400, "invalid_scope"},
		{"scope missing", adminPost(grantsPath, `{"userId":"`+h.alice+`","peerName":"P"}`),
			400, "invalid_scope"},
		{"scope with a resource twice", res(`["tasks","tasks"]`), 400, "invalid_scope"},
		{"scope excluding an unknown resource",
			scoped(`{"resources":["tasks"],"excluded_resources":["*"],"max_rows_per_query":5}`),
			400, "invalid_scope"},
		{"scope with a resource in upper case", res(`["Tasks"]`), 400, "invalid_scope"},
		{"scope with the row cap zero", rows("0"), 400, "invalid_scope"},
		{"scope with the row cap 10001", rows("10001"), 400, "invalid_scope"},
		{"scope with the row cap negative", rows("-1"), 400, "invalid_scope"},
		{"scope with the row cap missing", scoped(`{"resources":["tasks"]}`),
			400, "invalid_scope"},
		{"scope with the row cap 2^32+1", rows("4294967297"), 400, "invalid_scope"},
		{"scope with the row cap 2^63", rows("9223372036854775808"), 400, "invalid_json"},
		{"scope with the row cap 1e400", rows("1e400"), 400, "invalid_json"},
		{"scope with the row cap a string", rows(`"5"`), 400, "invalid_json"},
		{"scope with the row cap a fraction", rows("1.5"), 400, "invalid_json"},
		{"scope with the row cap true", rows("true"), 400, "invalid_json"},
		{"scope with resources a string", res(`"tasks"`), 400, "invalid_json"},
		{"scope with a case-folded key",
			scoped(`{"Resources":["tasks"],"max_rows_per_query":5}`), 400, "unknown_field"},
		{"scope with an unknown key", scoped(`{"resources":["tasks"],"max_rows":5}`),
			400, "unknown_field"},
		{"scope with a duplicate key",
			scoped(`{"resources":["tasks"],"resources":["notes"],"max_rows_per_query":5}`),
			400, "duplicate_key"},
	}
}

// grantCases are grant creations with bad users, peers, names and
// expiry times.
func (h *hostile) grantCases() []hostileCase {
	grantBy := func(userID, fields string) hreq {
		return adminPost(grantsPath, `{"userId":`+jsonString(userID)+`,`+fields+`}`)
	}
	grant := func(fields string) hreq { return grantBy(h.alice, fields) }
	named := func(name string) hreq {
		return grant(`"peerName":` + jsonString(name) + `,` + okScopeJSON)
	}
	expiring := func(at string) hreq {
		return grant(`"peerName":"P",` + okScopeJSON + `,"expiresAt":` + at)
	}
	peer := func(id string) hreq { return grant(`"peerId":"` + id + `",` + okScopeJSON) }
	unknown := mosaic.NewID()
	return []hostileCase{
		{"grant userId malformed", grantBy("alice", `"peerName":"P",`+okScopeJSON),
			400, "invalid_userId"},
		{"grant userId upper case",
			grantBy(strings.ToUpper(h.alice), `"peerName":"P",`+okScopeJSON),
			400, "invalid_userId"},
		{"grant userId SQL", grantBy("' OR '1'='1", `"peerName":"P",`+okScopeJSON),
			400, "invalid_userId"},
		{"grant for an unknown user", grantBy(unknown, `"peerName":"P",`+okScopeJSON),
			404, "user_not_found"},
		{"grant to an unknown peer", peer(unknown), 404, "peer_not_found"},
		{"grant peerId malformed", peer("../peers"), 400, "invalid_peerId"},
		{"grant with peerId and peerName",
			grant(`"peerId":"` + h.liveGrant.PeerID + `","peerName":"P",` + okScopeJSON),
			400, "invalid_peer"},
		{"grant with no peer", grant(okScopeJSON), 400, "invalid_peer"},
		{"grant to an outbound peer", peer(h.outbound), 400, "invalid_peer"},
		{"peer name with BEL", named("Peer\a"), 400, "invalid_peerName"},
		{"peer name with a line feed", named("Peer\nAdmin"), 400, "invalid_peerName"},
		{"peer name with NUL", named("Peer\x00"), 400, "invalid_peerName"},
		{"peer name with ESC", named("Peer\x1b[31m"), 400, "invalid_peerName"},
		{"peer name with DEL", named("Peer\x7f"), 400, "invalid_peerName"},
		{"peer name with C1 control", named("Peer\u0085"), 400, "invalid_peerName"},
		{"peer name with a bidi override", named("Peer\u202eevil"), 400, "invalid_peerName"},
		{"peer name with a zero-width space", named("Pe\u200ber"), 400, "invalid_peerName"},
		{"peer name blank", named("   "), 400, "invalid_peerName"},
		{"peer name of 201 bytes", named(strings.Repeat("p", 201)), 400, "invalid_peerName"},
		{"grant expiry in the past", expiring(`"2001-01-01T00:00:00Z"`),
			400, "invalid_expiresAt"},
		{"grant expiry a number", expiring(`1893456000`), 400, "invalid_expiresAt"},
		{"grant expiry not a time", expiring(`"tomorrow"`), 400, "invalid_expiresAt"},
		{"grant expiry an object", expiring(`{"t":1}`), 400, "invalid_expiresAt"},
	}
}

// grantPathCases show, list and revoke grants with bad ids, filters and
// bodies, and send path tricks to the admin API.
func (h *hostile) grantPathCases() []hostileCase {
	revoke := func(id, body string) hreq {
		return adminReq(http.MethodPatch, grantsPath+"/"+id+"/revoke", body)
	}
	live := h.liveGrant.ID
	unknown := mosaic.NewID()
	return []hostileCase{
		{"show a malformed grant id", adminGet(grantsPath + "/not-a-uuid"), 404, "not_found"},
		{"show an unknown grant", adminGet(grantsPath + "/" + unknown), 404, "grant_not_found"},
		{"show a grant id in upper case", adminGet(grantsPath + "/" + strings.ToUpper(live)),
			404, "not_found"},
		{"show a grant id with SQL", adminGet(grantsPath + "/" + url.PathEscape("1' OR '1'='1")),
			404, "not_found"},
		{"list grants of a bad status", adminGet(grantsPath + "?status=everything"),
			400, "invalid_status"},
		{"list grants of a malformed peer", adminGet(grantsPath + "?peer=%27--"),
			400, "invalid_peer"},
		{"escaped dot-dot in an admin path", adminGet(grantsPath + "/%2e%2e/peers"),
			400, "invalid_path"},
		{"dot-dot in an admin path", adminGet(grantsPath + "/../../users"), 400, "invalid_path"},
		{"double slash in an admin path", adminGet("/api/admin//users"), 400, "invalid_path"},
		{"revoke a malformed id", revoke("x", `{"reason":"r"}`), 404, "not_found"},
		{"revoke an unknown grant", revoke(unknown, `{"reason":"r"}`), 404, "grant_not_found"},
		{"revoke a revoked grant", revoke(h.revoked.ID, `{"reason":"again"}`),
			409, "grant_not_revocable"},
		{"revoke with a control character", revoke(live, `{"reason":"r\u0000"}`),
			400, "invalid_reason"},
		{"revoke with a 501-byte reason",
			revoke(live, `{"reason":"`+strings.Repeat("r", 501)+`"}`), 400, "invalid_reason"},
		{"revoke with an unknown field", revoke(live, `{"reason":"r","force":true}`),
			400, "unknown_field"},
		{"revoke with a non-JSON body", revoke(live, `reason=r`).typed("text/plain"),
			415, "unsupported_media_type"},
	}
}

// tokenAndPeerCases issue tokens that must not be issued, and send bad
// peer key pairs, certificates, filters and queries.
func (h *hostile) tokenAndPeerCases() []hostileCase {
	tokensOf := func(id, body string) hreq { return adminPost(grantsPath+"/"+id+"/tokens", body) }
	tokens := func(body string) hreq { return tokensOf(h.liveGrant.ID, body) }
	pin := pki.Pin(h.root)
	keypair := func(cn, dn, endpoint, pin string) hreq {
		return adminPost(peersPath+"/keypair", string(mustJSON(map[string]string{
			"commonName": cn, "displayName": dn, "endpointUrl": endpoint, "caPin": pin})))
	}
	endpoint := func(u string) hreq { return keypair("cn", "dn", u, pin) }
	const garbage = `{"certPem":"x","certChainPem":"y","caPem":"z"}`
	storeCert := func(id string) hreq {
		return adminReq(http.MethodPatch, peersPath+"/"+id+"/cert", garbage)
	}
	unknown := mosaic.NewID()
	return []hostileCase{
		{"token for the active grant", tokensOf(h.active.ID, `{}`), 409, "grant_not_pending"},
		{"token for the revoked grant", tokensOf(h.revoked.ID, `{}`),
			409, "grant_not_pending"},
		{"token for an unknown grant", tokensOf(unknown, `{}`), 404, "grant_not_found"},
		{"token for another peer", tokens(`{"peerId":"` + h.active.PeerID + `"}`),
			400, "peer_mismatch"},
		{"token with a malformed peer", tokens(`{"peerId":"x"}`), 400, "peer_mismatch"},
		{"token ttl negative", tokens(`{"ttlSeconds":-1}`), 400, "invalid_ttlSeconds"},
		{"token ttl a string", tokens(`{"ttlSeconds":"900"}`), 400, "invalid_json"},
		{"token ttl a fraction", tokens(`{"ttlSeconds":1.5}`), 400, "invalid_json"},
		{"token ttl 2^63", tokens(`{"ttlSeconds":9223372036854775808}`), 400, "invalid_json"},
		{"token ttl 1e400", tokens(`{"ttlSeconds":1e400}`), 400, "invalid_json"},
		{"token ttl case-folded", tokens(`{"TTLSeconds":60}`), 400, "unknown_field"},
		{"list peers of a bad role", adminGet(peersPath + "?role=admin"), 400, "invalid_role"},
		{"list peers of a bad state", adminGet(peersPath + "?state=%00"), 400, "invalid_state"},
		{"keypair endpoint over http", endpoint("http://127.0.0.1:9"),
			400, "invalid_endpointUrl"},
		{"keypair endpoint port 0", endpoint("https://127.0.0.1:0"),
			400, "invalid_endpointUrl"},
		{"keypair endpoint port 65536", endpoint("https://127.0.0.1:65536"),
			400, "invalid_endpointUrl"},
		{"keypair endpoint port with a leading zero", endpoint("https://127.0.0.1:08443"),
			400, "invalid_endpointUrl"},
		{"keypair endpoint with a path", endpoint("https://127.0.0.1:9/../x"),
			400, "invalid_endpointUrl"},
		{"keypair endpoint with a user", endpoint("https://u:p@127.0.0.1:9"),
			400, "invalid_endpointUrl"},
		{"keypair pin malformed", keypair("cn", "dn", "https://127.0.0.1:9", "sha256:xyz"),
			400, "invalid_pin"},
		{"keypair common name with a control character",
			keypair("cn\r\n", "dn", "https://127.0.0.1:9", pin), 400, "invalid_commonName"},
		{"keypair display name with a bidi isolate",
			keypair("cn", "d\u2066n", "https://127.0.0.1:9", pin), 400, "invalid_displayName"},
		{"store garbage as a peer certificate", storeCert(h.outbound),
			400, "invalid_certificate"},
		{"store a certificate for an unknown peer", storeCert(unknown), 404, "peer_not_found"},
		{"store a certificate on an inbound peer", storeCert(h.liveGrant.PeerID),
			409, "peer_not_pending"},
		{"query an unknown peer", adminGet(peersPath + "/" + unknown + "/query/tasks"),
			404, "peer_not_found"},
		{"query a pending peer", adminGet(peersPath + "/" + h.outbound + "/query/tasks"),
			409, "peer_not_active"},
	}
}

// dataCases send bad users' data, listings and routes.
func (h *hostile) dataCases() []hostileCase {
	owned := func(path, fields string) hreq {
		return adminPost(path, `{"userId":"`+h.alice+`",`+fields+`}`)
	}
	return []hostileCase{
		{"audit limit not a number", adminGet("/api/admin/federation/audit?limit=all"),
			400, "invalid_limit"},
		{"audit of a bad outcome", adminGet("/api/admin/federation/audit?outcome=maybe"),
			400, "invalid_outcome"},
		{"task for an unknown user",
			adminPost("/api/admin/tasks", `{"userId":"`+mosaic.NewID()+`","title":"t"}`),
			404, "user_not_found"},
		{"task with a bad status", owned("/api/admin/tasks", `"title":"t","status":"gone"`),
			400, "invalid_status"},
		{"task title with NUL", owned("/api/admin/tasks", `"title":"t\u0000"`),
			400, "invalid_title"},
		{"note body with a control character",
			owned("/api/admin/notes", `"title":"t","body":"b\u0001"`), 400, "invalid_body"},
		{"credential without a secret",
			owned("/api/admin/credentials", `"name":"n","kind":"k","secret":""`),
			400, "invalid_secret"},
		{"task list limit not a number", adminGet("/api/admin/tasks?limit=x"),
			400, "invalid_limit"},
		{"task list cursor garbage", adminGet("/api/admin/tasks?cursor=%27"),
			400, "invalid_cursor"},
		{"DELETE on users", adminReq(http.MethodDelete, usersPath, ""),
			405, "method_not_allowed"},
		{"unknown admin route", adminGet("/api/admin/secrets"), 404, "not_found"},
	}
}

// readCases are federated reads with no, foreign or forged certificates,
// and with bad parameters under a good one.
func (h *hostile) readCases(t *testing.T) []hostileCase {
	t.Helper()
	const tasks = "/api/federation/v1/tasks"
	activeID := mosaic.Identity{GrantID: h.active.ID, SubjectUserID: h.alice}
	forge := func(id mosaic.Identity, edit func(*x509.Certificate)) *tls.Certificate {
		tmpl := fedtest.ClientTemplate(t, id)
		if edit != nil {
			edit(tmpl)
		}
		f := fedtest.SignWith(t, tmpl, h.inter, h.signer)
		c := f.TLS(h.inter)
		return &c
	}
	badIDs := func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{
			{Id: mosaic.OIDGrantID, Value: utf8Ext(t, "grant")},
			{Id: mosaic.OIDSubjectUserID, Value: utf8Ext(t, "user")},
		}
	}
	leafOnly := tlsCertOf(h.activeCert.Leaf, h.activeCert.PrivateKey)
	r := func(path string) hreq { return readReq(path, h.activeCert) }
	return []hostileCase{
		{"read without a certificate", readReq(tasks, nil), 401, "client_certificate_required"},
		{"certificate of another CA", readReq(tasks, foreignCert(t, activeID)), 403,
			"certificate_invalid"},
		{"leaf without its intermediate", readReq(tasks, leafOnly), 403,
			"certificate_invalid"},
		{"expired certificate", readReq(tasks, forge(activeID, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
		})), 403, "certificate_invalid"},
		{"certificate not yet valid", readReq(tasks, forge(activeID, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(time.Hour), time.Now().Add(48*time.Hour)
		})), 403, "certificate_invalid"},
		{"server-auth certificate", readReq(tasks, forge(activeID, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		})), 403, "certificate_invalid"},
		{"CA certificate", readReq(tasks, forge(activeID, func(c *x509.Certificate) {
			c.IsCA, c.KeyUsage = true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
		})), 403, "certificate_invalid"},
		{"no identity extensions", readReq(tasks, forge(mosaic.Identity{}, nil)), 403,
			"identity_invalid"},
		{"identity not ids", readReq(tasks, forge(mosaic.Identity{}, badIDs)), 403,
			"identity_invalid"},
		{"identity of another subject", readReq(tasks, forge(mosaic.Identity{
			GrantID: h.active.ID, SubjectUserID: h.bob}, nil)), 403, "identity_invalid"},
		{"identity of an unknown grant", readReq(tasks, forge(mosaic.Identity{
			GrantID: mosaic.NewID(), SubjectUserID: h.alice}, nil)), 403, "grant_not_found"},
		{"identity of the pending grant", readReq(tasks, forge(mosaic.Identity{
			GrantID: h.liveGrant.ID, SubjectUserID: h.alice}, nil)), 403, "grant_not_active"},
		{"identity of the revoked grant", readReq(tasks, forge(mosaic.Identity{
			GrantID: h.revoked.ID, SubjectUserID: h.alice}, nil)), 403, "grant_not_active"},
		{"second certificate for the active grant", readReq(tasks, forge(activeID, nil)), 403,
			"serial_superseded"},
		{"resource not in scope", r("/api/federation/v1/notes"), 403, "resource_not_in_scope"},
		{"credentials not in scope", r("/api/federation/v1/credentials"), 403,
			"resource_not_in_scope"},
		{"unknown resource", r("/api/federation/v1/secrets"), 404, "unknown_resource"},
		{"resource with NUL", r("/api/federation/v1/tasks%00"), 404, "unknown_resource"},
		{"resource upper case", r("/api/federation/v1/TASKS"), 404, "unknown_resource"},
		{"limit not a number", r(tasks + "?limit=ten"), 400, "invalid_limit"},
		{"limit zero", r(tasks + "?limit=0"), 400, "invalid_limit"},
		{"limit negative", r(tasks + "?limit=-5"), 400, "invalid_limit"},
		{"limit out of range", r(tasks + "?limit=99999999999999999999999"), 400,
			"invalid_limit"},
		{"limit a fraction", r(tasks + "?limit=1.5"), 400, "invalid_limit"},
		{"cursor garbage", r(tasks + "?cursor=%27%20OR%201%3D1--"), 400, "invalid_cursor"},
		{"cursor of no row id", r(tasks + "?cursor=" +
			base64.RawURLEncoding.EncodeToString([]byte("1 OR 1=1"))), 400, "invalid_cursor"},
		{"since garbage", r(tasks + "?since=yesterday"), 400, "invalid_since"},
		{"POST on a read", hreq{fed: true, method: http.MethodPost, path: tasks,
			body: "{}", cert: h.activeCert}, 405, "method_not_allowed"},
		{"unknown API version", r("/api/federation/v2/tasks"), 404, "not_found"},
		{"unknown federation route", r("/api/federation/admin"), 404, "not_found"},
		{"dot-dot in a read", r("/api/federation/v1/../v1/tasks"), 400, "invalid_path"},
		{"escaped dot-dot as the resource", r("/api/federation/v1/%2e%2e"), 400,
			"invalid_path"},
		{"admin path on the federation listener", r("/api/admin/users"), 404, "not_found"},
	}
}

// foreignCert is a client certificate carrying id, issued by a CA the
// gateway does not know.
func foreignCert(t *testing.T, id mosaic.Identity) *tls.Certificate {
	t.Helper()
	caKey, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := fedtest.ClientTemplate(t, mosaic.Identity{})
	caTmpl.Subject = pkix.Name{CommonName: "Other CA"}
	caTmpl.IsCA, caTmpl.ExtKeyUsage = true, nil
	caTmpl.KeyUsage = x509.KeyUsageCertSign
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	f := fedtest.SignWith(t, fedtest.ClientTemplate(t, id), ca, caKey)
	c := f.TLS(ca)
	return &c
}
