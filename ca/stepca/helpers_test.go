package stepca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// testPKI is a root, an intermediate and a TLS server certificate for
// 127.0.0.1 under them, standing for step-ca's.
type testPKI struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
	server            tls.Certificate
}

// newTestPKI makes a testPKI valid around now.
func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	now := time.Now()
	p := &testPKI{rootKey: mustKey(t), interKey: mustKey(t)}
	p.root = mustCreate(t, caTemplate("test step root", now), nil, &p.rootKey.PublicKey, p.rootKey)
	p.inter = mustCreate(t, caTemplate("test step intermediate", now), p.root,
		&p.interKey.PublicKey, p.rootKey)
	serverKey := mustKey(t)
	server := mustCreate(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}, p.inter, &serverKey.PublicKey, p.interKey)
	p.server = tls.Certificate{Certificate: [][]byte{server.Raw, p.inter.Raw},
		PrivateKey: serverKey, Leaf: server}
	return p
}

// caTemplate is a CA certificate valid for a year around now.
func caTemplate(cn string, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// rootPEM returns the root in PEM.
func (p *testPKI) rootPEM() []byte { return []byte(pki.EncodeCerts(p.root)) }

// leaf issues a client certificate for pub with the identity extensions of
// id, valid for lifetime.
func (p *testPKI) leaf(t *testing.T, pub crypto.PublicKey, id mosaic.Identity,
	lifetime time.Duration) *x509.Certificate {
	t.Helper()
	exts, err := pki.IdentityExtensions(id)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return mustCreate(t, &x509.Certificate{
		Subject:         pkix.Name{CommonName: "peer"},
		NotBefore:       now.Add(-time.Minute),
		NotAfter:        now.Add(lifetime),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		ExtraExtensions: exts,
	}, p.inter, pub, p.interKey)
}

// mustCreate signs tmpl (self-signed when parent is nil) with a fresh
// serial and parses it.
func mustCreate(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey,
	signer crypto.Signer) *x509.Certificate {
	t.Helper()
	serial, err := pki.NewSerial(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// mustKey returns a new P-256 key.
func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jwkJSON returns key as a private JSON Web Key with the given kid (none
// when empty) and algorithm (none when empty).
func jwkJSON(t *testing.T, key any, kid, alg string) []byte {
	t.Helper()
	data, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// thumbprint returns the base64url SHA-256 thumbprint of key's JWK.
func thumbprint(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	jwk := jose.JSONWebKey{Key: &key.PublicKey}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// testClient is a CA configured against url with the test PKI's root and a
// fresh provisioner key.
type testClient struct {
	*CA
	key *ecdsa.PrivateKey
}

// newTestClient returns a CA for url trusting p's root.
func newTestClient(t *testing.T, p *testPKI, url string, timeout time.Duration) *testClient {
	t.Helper()
	key := mustKey(t)
	ca, err := New(Config{
		URL:                url,
		ProvisionerKeyJSON: jwkJSON(t, key, "test-kid", "ES256"),
		RootPEM:            p.rootPEM(),
		Timeout:            timeout,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(ca.Close)
	return &testClient{CA: ca, key: key}
}

// startServer serves handler over TLS on loopback with p's server
// certificate, until the test ends.
func startServer(t *testing.T, p *testPKI, handler http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(handler)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// testCSR returns a CSR for a new P-256 key with the given names.
func testCSR(t *testing.T, tmpl *x509.CertificateRequest) (*ecdsa.PrivateKey,
	*x509.CertificateRequest) {
	t.Helper()
	key := mustKey(t)
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "peer's own name"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

// testID is the identity of most sign requests.
var testID = mosaic.Identity{
	GrantID:       "0190a5b2-7c1e-7def-8abc-0123456789ab",
	SubjectUserID: "0190a5b2-0000-7000-8000-000000000001",
}

// signRequest returns a valid request for csr.
func testRequest(csr *x509.CertificateRequest) mosaic.SignRequest {
	return mosaic.SignRequest{CSR: csr, CommonName: "peer-b-chose", Identity: testID}
}

// wantError fails the test unless err has that kind and code.
func wantError(t *testing.T, err error, kind mosaic.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if mosaic.ErrorKind(err) != kind || mosaic.ErrorCode(err) != code {
		t.Fatalf("error = %v (kind %d), want kind %d code %s", err, mosaic.ErrorKind(err), kind, code)
	}
}

// wantNoSecret fails the test if err's text contains secret.
func wantNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	if err != nil && secret != "" && strings.Contains(err.Error(), secret) {
		t.Fatalf("error %q contains a secret", err)
	}
}
