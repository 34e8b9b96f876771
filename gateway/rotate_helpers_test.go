package gateway_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/seal"
)

// secretEnv is the environment of a gateway or rotation with the current
// secret and, when not empty, the previous one.
func secretEnv(current, previous string) map[string]string {
	env := map[string]string{seal.EnvSecret: current}
	if previous != "" {
		env[seal.EnvSecretPrevious] = previous
	}
	return env
}

// rotationFixture is a gateway A holding every kind of sealed value: its
// CA and TLS keys, the key of an outbound peer (grantor B, in this
// process, which lets A read Alice's tasks), and credentials.
type rotationFixture struct {
	b      *node
	peerID string            // B as A's outbound peer
	alice  string            // B's user whose tasks A reads
	owner  string            // A's user who owns the credentials
	creds  map[string]string // A's credential ids and their secrets
}

// newRotationFixture enrolls a with a new grantor and stores n credentials
// on a.
func newRotationFixture(t *testing.T, a *proc, n int) *rotationFixture {
	t.Helper()
	f := &rotationFixture{b: start(t, t.TempDir(), options{}), creds: map[string]string{}}
	f.alice = seedGrantor(t, f.b).alice
	var grant mosaic.Grant
	f.b.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/federation/grants",
		map[string]any{"userId": f.alice, "peerName": "Gateway A", "scope": map[string]any{
			"resources": []string{"tasks"}, "max_rows_per_query": 2}}, &grant)
	var tok tokenAnswer
	f.b.mustAdmin(t, http.StatusCreated, http.MethodPost,
		"/api/admin/federation/grants/"+grant.ID+"/tokens", map[string]any{"ttlSeconds": 600},
		&tok)
	f.peerID = enroll(t, &node{info: a.info}, tok.EnrollmentURL)

	var owner mosaic.User
	a.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/users",
		map[string]any{"name": "Owner", "email": "owner@a.example.test"}, &owner)
	f.owner = owner.ID
	for range n {
		f.addCredential(t, a.info)
	}
	return f
}

// addCredential stores one more credential on the gateway of info and
// remembers its secret.
func (f *rotationFixture) addCredential(t *testing.T, info *gateway.AdminInfo) {
	t.Helper()
	id, secret, err := f.tryCredential(info)
	if err != nil {
		t.Fatal(err)
	}
	f.creds[id] = secret
}

// tryCredential stores one credential and returns its id and secret. It
// is safe to call from any goroutine; the caller records the result.
func (f *rotationFixture) tryCredential(info *gateway.AdminInfo) (string, string, error) {
	secret := "credential-secret-" + mosaic.NewID()
	status, body, err := tryAdmin(info, http.MethodPost, "/api/admin/credentials",
		map[string]any{"userId": f.owner, "name": "mail", "kind": "password", "secret": secret})
	if err != nil || status != http.StatusCreated {
		return "", "", fmt.Errorf("create credential: %d %s %v", status, body, err)
	}
	var c mosaic.Credential
	if err := json.Unmarshal(body, &c); err != nil {
		return "", "", err
	}
	return c.ID, secret, nil
}

// tryQuery reads Alice's tasks from B through A's admin API, which opens
// A's sealed peer key, and returns an error unless the answer is 200.
func (f *rotationFixture) tryQuery(info *gateway.AdminInfo) error {
	status, body, err := tryAdmin(info, http.MethodGet,
		"/api/admin/federation/peers/"+f.peerID+"/query/tasks?limit=10", nil)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("query: %d %s %v", status, body, err)
	}
	return nil
}

// tryAdmin is one admin API call that reports failures as errors, for use
// from any goroutine.
func tryAdmin(info *gateway.AdminInfo, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, info.AdminURL+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+info.AdminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: httpTimeout}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// sealedColumns are the sealed columns of the schema and the column that
// names each row.
var sealedColumns = []struct {
	table mosaic.SealedTable
	id    string
	col   string
}{
	{mosaic.SealedKeys, "name", "sealed_key"},
	{mosaic.SealedPeerKeys, "id", "sealed_key"},
	{mosaic.SealedCredentials, "id", "sealed_secret"},
}

// readSealed reads every sealed value of a gateway database behind its
// back.
func readSealed(t *testing.T, db *sql.DB) map[mosaic.SealedRef][]byte {
	t.Helper()
	out := map[mosaic.SealedRef][]byte{}
	for _, c := range sealedColumns {
		rows, err := db.Query(`SELECT ` + c.id + `, ` + c.col + ` FROM ` + string(c.table) +
			` WHERE ` + c.col + ` IS NOT NULL`)
		if err != nil {
			t.Fatalf("read %s: %v", c.table, err)
		}
		for rows.Next() {
			ref := mosaic.SealedRef{Table: c.table}
			var v []byte
			if err := rows.Scan(&ref.ID, &v); err != nil {
				t.Fatal(err)
			}
			out[ref] = v
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// byVersion counts sealed values by key version, per table:
// "credentials/1" → n.
func byVersion(t *testing.T, values map[mosaic.SealedRef][]byte) map[string]int {
	t.Helper()
	out := map[string]int{}
	for ref, v := range values {
		version, err := seal.KeyVersion(v)
		if err != nil {
			t.Fatalf("%s is not a sealed value: %v", ref, err)
		}
		out[fmt.Sprintf("%s/%d", ref.Table, version)]++
	}
	return out
}

// wantAllUnder checks that every sealed value is under version, that
// there are as many as want, each kind present, and that each opens with
// opener; credentials open to the secrets the fixture stored.
func wantAllUnder(t *testing.T, values map[mosaic.SealedRef][]byte, version uint32,
	opener *seal.Sealer, creds map[string]string) {
	t.Helper()
	counts := byVersion(t, values)
	for key, n := range counts {
		if !strings.HasSuffix(key, fmt.Sprintf("/%d", version)) {
			t.Errorf("%d values are under %s, want every value under version %d", n, key,
				version)
		}
	}
	if counts[fmt.Sprintf("keys/%d", version)] != 3 || counts[fmt.Sprintf("peers/%d", version)] != 1 {
		t.Errorf("sealed values by version %v, want the 3 keys and 1 peer key", counts)
	}
	wantOpen(t, values, opener, creds)
}

// wantOpen checks that every sealed value opens with opener, credentials
// to their secrets, and that every credential of creds is there.
func wantOpen(t *testing.T, values map[mosaic.SealedRef][]byte, opener *seal.Sealer,
	creds map[string]string) {
	t.Helper()
	for ref, v := range values {
		got, err := opener.Open(v, ref.AAD())
		if err != nil {
			t.Errorf("%s does not open: %v", ref, err)
			continue
		}
		if want, ok := creds[ref.ID]; ref.Table == mosaic.SealedCredentials && string(got) != want {
			t.Errorf("credential %s opens to another secret (known %v)", ref.ID, ok)
		}
	}
	for id := range creds {
		if _, ok := values[mosaic.SealedRef{Table: mosaic.SealedCredentials, ID: id}]; !ok {
			t.Errorf("credential %s is gone", id)
		}
	}
}

// sealerOf returns a Sealer holding the secrets as versions 1, 2, … in
// order, sealing with the last.
func sealerOf(t *testing.T, secrets ...string) *seal.Sealer {
	t.Helper()
	m := map[uint32][]byte{}
	for i, s := range secrets {
		m[uint32(i+1)] = []byte(s)
	}
	s, err := seal.NewWithVersions(uint32(len(secrets)), m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rotateReport is the JSON output of "mosaic gateway rotate-secret".
type rotateReport struct {
	seal.RotateReport
	SecretFile string `json:"secretFile"`
}

// runRotate runs "mosaic gateway rotate-secret --json" with env and the
// extra args, and returns its report, its stderr and its exit code.
func runRotate(t *testing.T, env map[string]string, args ...string) (rotateReport, string, int) {
	t.Helper()
	args = append([]string{"gateway", "rotate-secret", "--json"}, args...)
	out, errOut, code := runCLI(t, env, args...)
	var rep rotateReport
	if out != "" {
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rep); err != nil {
			t.Fatalf("rotate-secret output %q: %v", out, err)
		}
	}
	return rep, errOut, code
}

// mustRotate runs rotate-secret and fails the test unless it exits 0 with
// every value under the current version.
func mustRotate(t *testing.T, env map[string]string, args ...string) rotateReport {
	t.Helper()
	rep, errOut, code := runRotate(t, env, args...)
	if code != 0 || !rep.Done() {
		t.Fatalf("rotate-secret %v: exit %d, report %+v: %s", args, code, rep, errOut)
	}
	return rep
}
