package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
)

// renewPath is the federation API's renewal route.
const renewPath = "/api/federation/v1/renew"

// TestLifecycleSecretsNeverLeak runs the lifecycle features on two
// gateway processes logging at debug level, through the CLI wherever it
// can: A renews its certificate twice; a hostile client of B sends
// renewals carrying a token, a private key and the same key; B removes A,
// whose next renewal is refused, and A removes B; B rotates its CA and A
// its sealing secret, while both serve. Then no token, admin token,
// sealing secret (old or new) or private key (every peer key A held, the
// hostile client's, every CA key before and after the rotation) may
// appear in any log, CLI output, API error body, database dump or raw
// database file.
func TestLifecycleSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	s := &leakStory{t: t, dirA: t.TempDir(), dirB: t.TempDir(), files: t.TempDir(),
		texts: map[string][]byte{}, secrets: map[string][]byte{}, keys: map[string][]byte{}}
	secretB := strongSecret + "-lifecycle-grantor"
	adminB := "b-admin-" + randomText(t)
	s.secrets["secret of B"] = []byte(secretB)
	s.secrets["admin token of B"] = []byte(adminB)
	debug := map[string]string{"MOSAIC_LOG_LEVEL": "debug", gateway.EnvEnrollRateLimit: "off"}
	envB := mergeEnv(debug, map[string]string{seal.EnvSecret: secretB,
		gateway.EnvAdminToken: adminB})
	s.b = startProc(t, s.dirB, "", envB)
	s.a = startProc(t, s.dirA, "", debug)
	s.secrets["admin token of A"] = []byte(s.a.info.AdminToken)
	secretA, _, err := seal.LoadSecret(func(string) string { return "" }, s.dirA)
	if err != nil {
		t.Fatal(err)
	}
	s.secrets["secret of A"] = secretA
	sealerA, sealerB := sealerOf(t, string(secretA)), sealerOf(t, secretB)

	grantID, peerID := s.happyPath()
	s.collectKeys("A", s.dirA, sealerA, "enrolled")
	s.collectKeys("B", s.dirB, sealerB, "enrolled")

	// A renews twice; each key it held is looked for.
	for _, when := range []string{"renewed once", "renewed twice"} {
		s.cli("A peer renew ("+when+")", s.dirA, 0, "federation", "peer", "renew", peerID)
		s.collectKeys("A", s.dirA, sealerA, when)
	}
	s.hostileRenewals()

	// B removes A: A's renewal is refused. A removes B.
	var grant mosaic.Grant
	s.cliJSON("B grant show", s.dirB, &grant, "federation", "grant", "show", grantID)
	s.cli("B peer remove", s.dirB, 0, "federation", "peer", "remove", grant.PeerID,
		"--reason", "end of the lifecycle story")
	s.cli("A peer renew after removal on B", s.dirA, 1, "federation", "peer", "renew", peerID)
	s.cli("A peer list after a refused renewal", s.dirA, 0, "federation", "peer", "list")
	s.cli("A peer remove", s.dirA, 0, "federation", "peer", "remove", peerID)
	s.cli("A peer renew after removal on A", s.dirA, 1, "federation", "peer", "renew", peerID)
	s.cli("A peer remove again", s.dirA, 1, "federation", "peer", "remove", peerID)

	// Both rotate while they serve.
	s.cliEnv("B rotate-ca", envB, 0, "gateway", "rotate-ca", "--data-dir", s.dirB, "--json")
	s.collectKeys("B", s.dirB, sealerB, "CA rotated")
	s.cliEnv("A rotate-secret", nil, 0, "gateway", "rotate-secret", "--data-dir", s.dirA,
		"--generate", "--json")
	newA, err := os.ReadFile(filepath.Join(s.dirA, seal.SecretFileName))
	if err != nil {
		t.Fatal(err)
	}
	s.secrets["new secret of A"] = bytes.TrimSpace(newA)
	s.collectKeys("A", s.dirA, sealerOf(t, string(secretA), string(bytes.TrimSpace(newA))),
		"secret rotated")
	s.cli("A doctor", s.dirA, 0, "gateway", "doctor", "--json")

	s.readFiles("running")
	s.a.mustStop(t)
	s.b.mustStop(t)
	s.texts["logs of A"] = []byte(s.a.logs.String())
	s.texts["logs of B"] = []byte(s.b.logs.String())
	if !strings.Contains(s.b.logs.String(), "peer certificate renewed") {
		t.Error("B's logs do not record the renewals: nothing to check")
	}
	s.readFiles("stopped")
	for gw, dir := range map[string]string{"A": s.dirA, "B": s.dirB} {
		db := openDB(t, dir)
		for table, dump := range dumpDB(t, db) {
			s.texts["table "+table+" of "+gw] = []byte(dump)
		}
	}
	s.assertNoLeak()
}

// cliEnv is cli with an environment, for commands that work on the
// database directly.
func (s *leakStory) cliEnv(name string, env map[string]string, want int, args ...string) {
	s.t.Helper()
	out, errOut, code := runCLI(s.t, env, args...)
	if (want == 0) != (code == 0) {
		s.t.Fatalf("%s: exit %d, want %d: %s%s", name, code, want, out, errOut)
	}
	s.texts["CLI "+name+" (stdout)"] = []byte(out)
	s.texts["CLI "+name+" (stderr)"] = []byte(errOut)
}

// collectKeys opens every sealed private key of a gateway's database (CA
// keys of every generation, the TLS key, outbound peer keys) with sealer
// and adds each to the keys to look for.
func (s *leakStory) collectKeys(gw, dir string, sealer *seal.Sealer, when string) {
	t := s.t
	t.Helper()
	db := openDB(t, dir)
	found := 0
	for ref, v := range readSealed(t, db) {
		if ref.Table == mosaic.SealedCredentials {
			continue
		}
		der, err := sealer.Open(v, ref.AAD())
		if err != nil {
			t.Fatalf("open %s of %s: %v", ref, gw, err)
		}
		s.keys[string(ref.Table)+"/"+ref.ID+" of "+gw+" ("+when+")"] = der
		found++
	}
	if found < 3 {
		t.Fatalf("only %d sealed keys in %s's database", found, gw)
	}
}

// hostileRenewals enrolls a client of B with a key of the test's own and
// has it send renewals that carry secrets where a CSR belongs: each is a
// JSON error. Then it renews properly.
func (s *leakStory) hostileRenewals() {
	t := s.t
	b := &node{info: s.b.info}
	var users struct {
		Items []mosaic.User `json:"items"`
	}
	b.mustAdmin(t, http.StatusOK, http.MethodGet, "/api/admin/users", nil, &users)
	second := newGrant(t, s.b, users.Items[0].ID, "Hostile client")
	token := newToken(t, s.b, second.ID, 900).Token
	s.secrets["hostile client's token"] = []byte(token)
	s.addTokenBytes("hostile client's token", token)

	root := caChain(t, s.b.fedBase())[0]
	key, csr := s.newKey("hostile client's key")
	status, body := redeemAt(httpsClient(t, root, nil), s.b.fedBase(), token, csr)
	if status != http.StatusOK {
		t.Fatalf("hostile client's enrollment: %d %s", status, body)
	}
	var out struct{ CertPEM, CertChainPEM string }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCerts(out.CertPEM + out.CertChainPEM)
	if err != nil {
		t.Fatal(err)
	}
	client := httpsClient(t, root, tlsCertOf(certs[0], key, certs[1:]...))

	keyPEM := pemText("PRIVATE KEY", s.keys["hostile client's key"])
	for name, body := range map[string]string{
		"renewal with the private key as the CSR": csrBody(keyPEM),
		"renewal with the token as the CSR":       csrBody(token),
		"renewal with the token in the body":      `{"csrPem":"x","token":"` + token + `"}`,
		"renewal with the same key":               csrBody(csr),
		"renewal with the key in a field":         `{"csrPem":"x","key":` + mustQuote(keyPEM) + `}`,
	} {
		a := sendRaw(t, client, rawReq{method: http.MethodPost, url: s.b.fedBase() + renewPath,
			body: []byte(body), header: map[string]string{"Content-Type": "application/json"}})
		s.apiError(name, a.status, a.body, 0)
	}
	_, fresh := s.newKey("hostile client's renewed key")
	a := sendRaw(t, client, rawReq{method: http.MethodPost, url: s.b.fedBase() + renewPath,
		body:   []byte(csrBody(fresh)),
		header: map[string]string{"Content-Type": "application/json"}})
	if a.status != http.StatusOK {
		t.Fatalf("hostile client's proper renewal: %d %s", a.status, a.body)
	}
}

// mustQuote returns s as a JSON string.
func mustQuote(s string) string {
	data, _ := json.Marshal(s) // a string always marshals
	return string(data)
}
