package gateway_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the driver the tests read gateway databases with

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
)

// openDB opens the SQLite database of a gateway's data directory through
// database/sql, beside the gateway that may be using it, and closes it
// when the test ends. The tests read it to see what a request changed.
func openDB(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(dataDir, "mosaic.db") + "?_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatalf("open the database of %s: %v", dataDir, err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// tableNames lists the tables of a SQLite database, sorted.
func tableNames(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// dumpTable returns every row of table, every column, as text: one line a
// row, columns separated by a unit separator, blobs as their raw bytes.
func dumpTable(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM "` + table + `" ORDER BY rowid`)
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(0x1f)
			}
			switch v := v.(type) {
			case nil:
				b.WriteString("NULL")
			case []byte:
				b.Write(v)
			default:
				fmt.Fprint(&b, v)
			}
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// dumpDB returns every table of db but those in skip, by name.
func dumpDB(t *testing.T, db *sql.DB, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range tableNames(t, db) {
		if !containsString(skip, name) {
			out[name] = dumpTable(t, db, name)
		}
	}
	return out
}

// changedTables names the tables whose dump differs between two dumps.
func changedTables(before, after map[string]string) []string {
	var changed []string
	for name, b := range before {
		if after[name] != b {
			changed = append(changed, name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			changed = append(changed, name)
		}
	}
	sort.Strings(changed)
	return changed
}

// containsString reports whether list holds s.
func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// queryInt runs a query answering one integer.
func queryInt(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return n
}

// rawReq is one HTTP request of a test, sent exactly as described.
type rawReq struct {
	method string
	url    string
	header map[string]string
	body   []byte
	// chunked sends the body without a Content-Length.
	chunked bool
}

// rawAnswer is what came back.
type rawAnswer struct {
	status int
	header http.Header
	body   []byte
}

// sendRaw makes the request with client and reads the whole answer.
func sendRaw(t *testing.T, client *http.Client, r rawReq) rawAnswer {
	t.Helper()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, r.url, body)
	if err != nil {
		t.Fatalf("request %s %s: %v", r.method, r.url, err)
	}
	if r.chunked {
		// A reader of unknown length: the client sends it chunked.
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(r.body)))
		req.ContentLength = -1
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", r.method, r.url, err)
	}
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: data}
}

// plainClient is a client for the admin API.
func plainClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: httpTimeout, Transport: tr}
}

// pemText encodes der as one PEM block of type typ.
func pemText(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// derOf returns the DER of the first PEM block of text.
func derOf(t *testing.T, text string) []byte {
	t.Helper()
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		t.Fatal("no PEM block")
	}
	return block.Bytes
}

// csrFor makes a CSR from tmpl (nil: a plain one) signed by signer.
func csrFor(t *testing.T, tmpl *x509.CertificateRequest, signer crypto.Signer) string {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "peer"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, signer)
	if err != nil {
		t.Fatalf("create CSR: %v", err)
	}
	return pemText("CERTIFICATE REQUEST", der)
}

// csrWithExt returns a CSR template asking for one extension.
func csrWithExt(oid asn1.ObjectIdentifier, value []byte) *x509.CertificateRequest {
	return &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: "peer"},
		ExtraExtensions: []pkix.Extension{{Id: oid, Value: value}},
	}
}

// Signature algorithms of hand-made CSRs.
var (
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
)

// rawCSR builds a CSR by hand for pub, with the signature sign makes over
// the request info: the standard library refuses to make CSRs whose
// signature does not match their key, which is what some tests need.
func rawCSR(t *testing.T, pub crypto.PublicKey, alg pkix.AlgorithmIdentifier,
	sign func(tbs []byte) []byte) string {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	subject := mustDER(t, pkix.Name{CommonName: "peer"}.ToRDNSequence())
	tbs := mustDER(t, struct {
		Version    int
		Subject    asn1.RawValue
		PublicKey  asn1.RawValue
		Attributes asn1.RawValue
	}{0, asn1.RawValue{FullBytes: subject}, asn1.RawValue{FullBytes: spki},
		asn1.RawValue{FullBytes: []byte{0xa0, 0x00}}})
	sig := sign(tbs)
	der := mustDER(t, struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, alg, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	return pemText("CERTIFICATE REQUEST", der)
}

// signedBy returns a rawCSR signing function: ECDSA with SHA-256 by key.
func signedBy(t *testing.T, key *ecdsa.PrivateKey) func([]byte) []byte {
	return func(tbs []byte) []byte {
		sum := sha256.Sum256(tbs)
		sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

// hugeRSACSR returns a CSR for an RSA public key of bits bits with a dummy
// signature: the key must be refused before its signature is looked at,
// and generating such a key would take minutes.
func hugeRSACSR(t *testing.T, bits int) string {
	t.Helper()
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(0x1234567))
	alg := pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}
	return rawCSR(t, &rsa.PublicKey{N: n, E: 65537}, alg,
		func([]byte) []byte { return make([]byte, bits/8) })
}

// mustDER marshals v in DER.
func mustDER(t *testing.T, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// utf8Ext returns the DER UTF8String of s, an identity extension's value.
func utf8Ext(t *testing.T, s string) []byte {
	t.Helper()
	der, err := pki.MarshalUTF8String(s)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// csrBody is an enrollment body carrying csrPEM.
func csrBody(csrPEM string) string {
	return string(mustJSON(map[string]string{"csrPem": csrPEM}))
}

// mustJSON marshals v; it panics on values no test builds.
func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// sealedKeyAAD is the additional data the embedded CA seals a stored key
// with; if the CA changes it, unsealing fails and so does the test.
func sealedKeyAAD(name string) []byte { return []byte("mosaic/key/" + name) }

// peerKeyAAD is the additional data an outbound peer's key is sealed with.
func peerKeyAAD(peerID string) []byte { return []byte("mosaic/peer-key/" + peerID) }

// unsealedKeys reads every sealed private key of a gateway's database (the
// CA's keys, the TLS server key, and the keys of outbound peers), opens
// each with secret and returns its PKCS#8 DER by name. Each sealed value
// is checked not to be a usable key as it is stored.
func unsealedKeys(t *testing.T, db *sql.DB, secret []byte) map[string][]byte {
	t.Helper()
	sealer, err := seal.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	open := func(name string, blob, aad []byte) {
		if _, err := pki.ParsePrivateKey(blob); err == nil {
			t.Errorf("sealed key %s is stored as a plain private key", name)
		}
		if _, err := x509.ParsePKCS8PrivateKey(blob); err == nil {
			t.Errorf("sealed key %s parses as PKCS#8", name)
		}
		if _, err := x509.ParseECPrivateKey(blob); err == nil {
			t.Errorf("sealed key %s parses as an EC private key", name)
		}
		der, err := sealer.Open(blob, aad)
		if err != nil {
			t.Fatalf("unseal %s: %v", name, err)
		}
		if _, err := pki.ParsePrivateKey(der); err != nil {
			t.Fatalf("unsealed %s is not a private key: %v", name, err)
		}
		out[name] = der
	}
	for _, name := range []string{embedded.KeyRoot, embedded.KeyIntermediate,
		embedded.KeyTLSServer} {
		var blob []byte
		err := db.QueryRow(`SELECT sealed_key FROM keys WHERE name = ?`, name).Scan(&blob)
		if err != nil {
			t.Fatalf("read sealed key %s: %v", name, err)
		}
		open(name, blob, sealedKeyAAD(name))
	}
	rows, err := db.Query(`SELECT id, sealed_key FROM peers WHERE sealed_key IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type sealedPeer struct {
		id   string
		blob []byte
	}
	var peers []sealedPeer
	for rows.Next() {
		var p sealedPeer
		if err := rows.Scan(&p.id, &p.blob); err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		open("peer key "+p.id, p.blob, peerKeyAAD(p.id))
	}
	return out
}

// intermediateSigner returns the gateway's intermediate CA key, unsealed
// from its database with secret, to forge certificates that chain to the
// gateway's CA like the ones it issues.
func intermediateSigner(t *testing.T, db *sql.DB, secret []byte) *ecdsa.PrivateKey {
	t.Helper()
	key, err := pki.ParsePrivateKey(unsealedKeys(t, db, secret)[embedded.KeyIntermediate])
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// tokenHashPrefix is the part of a token's hash the audit trail keeps.
func tokenHashPrefix(token string) string {
	return mosaic.HashPrefix(mosaic.TokenSecret(token).Hash())
}

// tlsCertOf is the TLS client certificate of a leaf and its key, sent with
// the given intermediates.
func tlsCertOf(leaf *x509.Certificate, key crypto.PrivateKey,
	intermediates ...*x509.Certificate) *tls.Certificate {
	c := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, x := range intermediates {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}
