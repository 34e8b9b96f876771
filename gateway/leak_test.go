package gateway_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
)

// leakStory is two gateway processes, A (peer) and B (grantor), logging
// at debug level, and everything the story has seen that must hold no
// secret.
type leakStory struct {
	t          *testing.T
	dirA, dirB string
	a, b       *proc
	files      string // a directory for the CLI's input files

	// texts are the outputs to search, by where they came from: CLI
	// output, API error bodies, logs, database dumps and files.
	texts map[string][]byte
	// secrets are the values to look for, by what they are; keys are the
	// private keys, as PKCS#8 DER, by whose they are.
	secrets map[string][]byte
	keys    map[string][]byte
}

// TestSecretsNeverLeak runs the whole story on two gateway processes,
// driven by the mosaic CLI wherever it can be: B creates a user with data
// and a credential, grants A access and issues a token; A enrolls with the
// CLI, reads, is refused, and is cut off after B revokes; bad input is
// thrown at both along the way. Then no enrollment token (but in the one
// "grant token" output), no admin token, no sealing secret, no credential
// secret and no private key may appear in any log, CLI output, API error
// body, SQL dump of either database, or raw database or WAL file.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	s := &leakStory{t: t, dirA: t.TempDir(), dirB: t.TempDir(), files: t.TempDir(),
		texts: map[string][]byte{}, secrets: map[string][]byte{}, keys: map[string][]byte{}}
	secretB := strongSecret + "-leak-grantor"
	adminB := "b-admin-" + randomText(t)
	s.secrets["secret of B"] = []byte(secretB)
	s.secrets["admin token of B"] = []byte(adminB)
	debug := map[string]string{"MOSAIC_LOG_LEVEL": "debug", gateway.EnvEnrollRateLimit: "off"}
	s.b = startProc(t, s.dirB, "", mergeEnv(debug, map[string]string{
		seal.EnvSecret: secretB, gateway.EnvAdminToken: adminB}))
	s.a = startProc(t, s.dirA, "", debug)
	s.secrets["admin token of A"] = []byte(s.a.info.AdminToken)

	grantID, peerID := s.happyPath()
	s.badInput(grantID, peerID)

	// B revokes; A is refused from then on.
	s.cli("B grant revoke", s.dirB, 0, "federation", "grant", "revoke", grantID,
		"--reason", "end of the story")
	s.cli("A query after revoke", s.dirA, 1, "federation", "query", peerID, "tasks")
	s.cli("B audit", s.dirB, 0, "federation", "audit", "--json")

	s.readFiles("running")
	s.a.mustStop(t)
	s.b.mustStop(t)
	s.texts["logs of A"] = []byte(s.a.logs.String())
	s.texts["logs of B"] = []byte(s.b.logs.String())
	if !strings.Contains(s.b.logs.String(), "/api/federation/enrollment/") {
		t.Error("B's logs do not record the enrollment requests: nothing to check")
	}
	s.readFiles("stopped")
	s.dumpDatabases()
	s.assertNoLeak()
}

// mergeEnv returns the union of two environments.
func mergeEnv(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// randomText returns 32 random bytes in hex.
func randomText(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// happyPath runs the story as it is meant to go, through the CLI: data on
// B, a grant and a token, A's enrollment and reads. It returns the grant's
// id on B and the peer's id on A.
func (s *leakStory) happyPath() (grantID, peerID string) {
	t := s.t
	var user mosaic.User
	s.cliJSON("B user create", s.dirB, &user, "user", "create", "--name", "Alice Example",
		"--email", "alice@b.leak.test")
	for _, title := range []string{"Write the report", "Renew certificates"} {
		s.cli("B task create", s.dirB, 0, "task", "create", "--user", user.ID, "--title", title)
	}
	credential := "hunter2-" + randomText(t)
	s.secrets["credential secret"] = []byte(credential)
	s.cli("B credential create", s.dirB, 0, "credential", "create", "--user", user.ID,
		"--name", "mail", "--kind", "password", "--secret-file", s.file("secret", credential))

	var grant mosaic.Grant
	scope := `{"resources":["tasks","credentials"],"max_rows_per_query":10}`
	s.cliJSON("B grant create", s.dirB, &grant, "federation", "grant", "create", "--user",
		user.ID, "--peer-name", "Gateway A", "--scope", s.file("scope.json", scope))

	// The one output that shows the token: kept out of the texts searched.
	out, errOut, code := runCLI(t, nil, "--data-dir", s.dirB, "federation", "grant", "token",
		grant.ID, "--ttl", "600", "--json")
	var tok tokenAnswer
	if code != 0 || json.Unmarshal([]byte(out), &tok) != nil || tok.Token == "" {
		t.Fatalf("grant token: exit %d: %s%s", code, out, errOut)
	}
	s.texts["B grant token (stderr)"] = []byte(errOut)
	s.secrets["enrollment token"] = []byte(tok.Token)
	s.addTokenBytes("enrollment token", tok.Token)

	var peer mosaic.Peer
	s.cliJSON("A peer add", s.dirA, &peer, "federation", "peer", "add", "--url-file",
		s.file("url", tok.EnrollmentURL), "--name", "Gateway B")
	s.cli("A query tasks", s.dirA, 0, "federation", "query", peer.ID, "tasks", "--json")
	s.cli("A query credentials", s.dirA, 0, "federation", "query", peer.ID, "credentials")
	s.cli("A query notes", s.dirA, 1, "federation", "query", peer.ID, "notes")
	s.cli("A peer list", s.dirA, 0, "federation", "peer", "list", "--json")
	s.cli("B peer list", s.dirB, 0, "federation", "peer", "list")
	s.cli("B grant show", s.dirB, 0, "federation", "grant", "show", grant.ID)
	s.cli("B grant list", s.dirB, 0, "federation", "grant", "list", "--json")
	s.cli("B credential list", s.dirB, 0, "credential", "list", "--user", user.ID, "--json")
	return grant.ID, peer.ID
}

// badInput throws bad requests at both gateways: a spent token again, a
// second token with bad CSRs and bodies and in the wrong places, wrong
// admin tokens, a bad enrollment URL.
func (s *leakStory) badInput(grantID, peerID string) {
	t := s.t
	b := &node{info: s.b.info}
	root := caChain(t, s.b.fedBase())[0]
	fed := httpsClient(t, root, nil)

	// The spent token, with the CLI and with a new key.
	s.cli("A peer add again", s.dirA, 1, "federation", "peer", "add", "--url-file",
		filepath.Join(s.files, "url"))
	_, csr := s.newKey("key of a refused CSR")
	status, body := redeemAt(fed, s.b.fedBase(), string(s.secrets["enrollment token"]), csr)
	s.apiError("redeem of the spent token", status, body, http.StatusGone)

	// A second grant and token, issued through the API, never redeemed.
	var users struct {
		Items []mosaic.User `json:"items"`
	}
	b.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/users", nil, &users)
	second := newGrant(t, s.b, users.Items[0].ID, "Gateway C")
	token := newToken(t, s.b, second.ID, 900).Token
	s.secrets["second enrollment token"] = []byte(token)
	s.addTokenBytes("second enrollment token", token)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.keys["P-384 key of a refused CSR"] = mustPKCS8(t, p384)
	requests := map[string]rawReq{
		"redeem with a P-384 CSR": s.enrollment(token, csrBody(csrFor(t, nil, p384))),
		"redeem with the token in the body": s.enrollment(token,
			`{"csrPem":"x","token":"`+token+`"}`),
		"redeem with the token as the CSR": s.enrollment(token, csrBody(token)),
		"redeem with a private key as the CSR": s.enrollment(token,
			csrBody(pemText("PRIVATE KEY", s.keys["key of a refused CSR"]))),
		"redeem with a malformed token": s.enrollment(token+"x", csrBody(csr)),
		"token under a read path":       s.fedGet("/api/federation/v1/" + token),
		"token behind dot-dot":          s.fedGet("/api/federation/enrollment/../" + token),
		"token as a cursor":             s.fedGet("/api/federation/v1/tasks?cursor=" + token),
	}
	for name, r := range requests {
		a := sendRaw(t, fed, r)
		s.apiError(name, a.status, a.body, 0)
	}
	s.adminWithWrongTokens(token)

	// A's admin API and CLI with bad input.
	s.cli("A query a bad cursor", s.dirA, 1, "federation", "query", peerID, "tasks",
		"--cursor", "!!")
	s.cli("A peer add with a wrong pin", s.dirA, 1, "federation", "peer", "add",
		s.b.fedBase()+"/api/federation/enrollment/"+token+"#ca=sha256:"+
			strings.Repeat("0", 64))
	s.cli("B grant token with a wrong admin token", s.dirB, 1, "--admin-token", token,
		"federation", "grant", "token", grantID)
}

// adminWithWrongTokens calls both admin APIs with the enrollment token
// and mangled admin tokens as bearer tokens.
func (s *leakStory) adminWithWrongTokens(token string) {
	t := s.t
	client := plainClient(t)
	for _, c := range []struct {
		name string
		at   *proc
		auth string
	}{
		{"A with the enrollment token", s.a, "Bearer " + token},
		{"B with the enrollment token", s.b, "Bearer " + token},
		{"B with A's admin token", s.b, "Bearer " + s.a.info.AdminToken},
		{"A with B's admin token", s.a, "Bearer " + s.b.info.AdminToken},
		{"B with its admin token altered", s.b, "Bearer " + s.b.info.AdminToken + "x"},
	} {
		a := sendRaw(t, client, rawReq{method: http.MethodGet,
			url:    c.at.info.AdminURL + "/api/admin/federation/grants",
			header: map[string]string{"Authorization": c.auth}})
		s.apiError("admin of "+c.name, a.status, a.body, http.StatusUnauthorized)
	}
}

// enrollment is an enrollment request to B.
func (s *leakStory) enrollment(token, body string) rawReq {
	return rawReq{method: http.MethodPost, url: s.b.fedBase() + "/api/federation/enrollment/" +
		token, body: []byte(body), header: map[string]string{"Content-Type": "application/json"}}
}

// fedGet is a GET of B's federation API.
func (s *leakStory) fedGet(path string) rawReq {
	return rawReq{method: http.MethodGet, url: s.b.fedBase() + path}
}

// apiError records an error answer, which must be one: a status of 400 or
// more (want, if not zero) and a JSON error body.
func (s *leakStory) apiError(name string, status int, body []byte, want int) {
	s.t.Helper()
	if status < 400 || (want != 0 && status != want) || errorCode(body) == "" {
		s.t.Errorf("%s: answer %d %s, want an error %d", name, status, body, want)
	}
	s.texts["API error: "+name] = body
}

// newKey makes a P-256 key and a CSR for it, and remembers the key.
func (s *leakStory) newKey(name string) (*ecdsa.PrivateKey, string) {
	key, csr := newCSR(s.t)
	s.keys[name] = mustPKCS8(s.t, key)
	return key, csr
}

// mustPKCS8 returns the PKCS#8 DER of an ECDSA key.
func mustPKCS8(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := pki.EncodePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// addTokenBytes adds the 32 bytes a token encodes to the secrets.
func (s *leakStory) addTokenBytes(what, token string) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		s.t.Fatal(err)
	}
	s.secrets[what+" (raw bytes)"] = raw
}

// file writes content to a new file of the story's input directory.
func (s *leakStory) file(name, content string) string {
	s.t.Helper()
	path := filepath.Join(s.files, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// cli runs the mosaic CLI against the gateway of dataDir, fails the test
// unless it exits with want (0 or non-zero for 1), and records its output.
func (s *leakStory) cli(name, dataDir string, want int, args ...string) string {
	s.t.Helper()
	out, errOut, code := runCLI(s.t, nil, append([]string{"--data-dir", dataDir}, args...)...)
	if (want == 0) != (code == 0) {
		s.t.Fatalf("%s: exit %d, want %d: %s%s", name, code, want, out, errOut)
	}
	s.texts["CLI "+name+" (stdout)"] = []byte(out)
	s.texts["CLI "+name+" (stderr)"] = []byte(errOut)
	return out
}

// cliJSON is cli for a command that succeeds and prints JSON into v.
func (s *leakStory) cliJSON(name, dataDir string, v any, args ...string) {
	s.t.Helper()
	out := s.cli(name, dataDir, 0, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		s.t.Fatalf("%s: decode %s: %v", name, out, err)
	}
}

// readFiles records the raw bytes of both databases and their WAL files.
func (s *leakStory) readFiles(when string) {
	for gw, dir := range map[string]string{"A": s.dirA, "B": s.dirB} {
		for _, name := range []string{"mosaic.db", "mosaic.db-wal", "mosaic.db-shm"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				s.texts["file "+name+" of "+gw+" ("+when+")"] = data
			} else if !os.IsNotExist(err) {
				s.t.Fatal(err)
			}
		}
	}
	if _, ok := s.texts["file mosaic.db of B ("+when+")"]; !ok {
		s.t.Fatalf("no database file of B to read (%s)", when)
	}
}

// dumpDatabases records every column of every row of both databases, and
// adds the private keys sealed in them, opened with their secrets, to the
// keys to look for.
func (s *leakStory) dumpDatabases() {
	t := s.t
	secretA, source, err := seal.LoadSecret(func(string) string { return "" }, s.dirA)
	if err != nil {
		t.Fatalf("secret of A: %v", err)
	}
	t.Logf("secret of A from %s", source)
	s.secrets["secret of A"] = secretA
	for gw, dir := range map[string]string{"A": s.dirA, "B": s.dirB} {
		db := openDB(t, dir)
		for table, dump := range dumpDB(t, db) {
			s.texts["table "+table+" of "+gw] = []byte(dump)
		}
		secret := s.secrets["secret of "+gw]
		for name, der := range unsealedKeys(t, db, secret) {
			s.keys[name+" of "+gw] = der
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for name := range s.keys {
		if strings.HasPrefix(name, "peer key ") && strings.HasSuffix(name, " of A") {
			return
		}
	}
	t.Fatal("no sealed peer key found on A: nothing to check")
}

// assertNoLeak searches every text for every secret and every form of
// every private key.
func (s *leakStory) assertNoLeak() {
	t := s.t
	needles := map[string][]byte{}
	for what, v := range s.secrets {
		needles[what] = v
	}
	for whose, der := range s.keys {
		for form, v := range keyForms(t, der) {
			needles["private key "+whose+" ("+form+")"] = v
		}
	}
	names := make([]string, 0, len(s.texts))
	for name := range s.texts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		text := s.texts[name]
		if pemPrivateKey.Match(text) {
			t.Errorf("%s holds a PEM private key", name)
		}
		for what, v := range needles {
			if bytes.Contains(text, v) {
				t.Errorf("%s holds the %s", name, what)
			}
		}
	}
	t.Logf("searched %d texts for %d secrets and %d private keys in %d forms",
		len(s.texts), len(s.secrets), len(s.keys), len(needles)-len(s.secrets))
}

// pemPrivateKey matches the first line of a PEM private key of any kind.
// (An error message may name the type of a PEM block it refused.)
var pemPrivateKey = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`)

// keyForms returns the forms a PKCS#8 ECDSA key could leak in: its DER,
// the first two lines of its PEM, its DER in hex, and its private scalar
// raw, in hex and in base64.
func keyForms(t *testing.T, der []byte) map[string][]byte {
	t.Helper()
	key, err := pki.ParsePrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	d := key.D.FillBytes(make([]byte, (key.Curve.Params().BitSize+7)/8))
	b64 := base64.StdEncoding.EncodeToString(der)
	return map[string][]byte{
		"PKCS#8 DER":          der,
		"PEM line 1":          []byte(b64[:64]),
		"PEM line 2":          []byte(b64[64:128]),
		"DER in hex":          []byte(hex.EncodeToString(der)),
		"scalar":              d,
		"scalar in hex":       []byte(hex.EncodeToString(d)),
		"scalar in base64":    []byte(base64.StdEncoding.EncodeToString(d)),
		"scalar in base64url": []byte(base64.RawURLEncoding.EncodeToString(d)),
	}
}
