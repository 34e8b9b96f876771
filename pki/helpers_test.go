package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testID is the identity most test certificates carry.
var testID = mosaic.Identity{
	GrantID:       "0190a5b2-7c1e-7def-8abc-0123456789ab",
	SubjectUserID: "0190a5b2-0000-7000-8000-000000000001",
}

// testCA is a root and an intermediate made for one test.
type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

// newTestCA makes a root and an intermediate valid around testNow.
func newTestCA(t *testing.T) *testCA {
	t.Helper()
	rootKey, interKey := mustKey(t), mustKey(t)
	root := mustCreate(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "test root"},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, &rootKey.PublicKey, rootKey)
	inter := mustCreate(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "test intermediate"},
		NotBefore:             testNow.Add(-time.Hour),
		NotAfter:              testNow.Add(180 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, root, &interKey.PublicKey, rootKey)
	return &testCA{root: root, inter: inter, rootKey: rootKey, interKey: interKey}
}

// leafTemplate is a correct peer client certificate for testID.
func leafTemplate(t *testing.T) *x509.Certificate {
	t.Helper()
	exts, err := IdentityExtensions(testID)
	if err != nil {
		t.Fatal(err)
	}
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: "peer"},
		NotBefore:             testNow.Add(-5 * time.Minute),
		NotAfter:              testNow.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		ExtraExtensions:       exts,
	}
}

// issue signs tmpl for pub with the intermediate.
func (ca *testCA) issue(t *testing.T, tmpl *x509.Certificate,
	pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	return mustCreate(t, tmpl, ca.inter, pub, ca.interKey)
}

// mustCreate signs tmpl (self-signed when parent is nil) and parses it.
func mustCreate(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey,
	signer crypto.Signer) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		serial, err := NewSerial(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.SerialNumber = serial
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return cert
}

// mustKey returns a new P-256 key.
func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// csrFor returns a parsed CSR for key, made the way a peer makes it.
func csrFor(t *testing.T, key *ecdsa.PrivateKey) *x509.CertificateRequest {
	t.Helper()
	text, err := NewCSR(key, "peer")
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ParseCSR(text)
	if err != nil {
		t.Fatalf("ParseCSR of NewCSR output: %v", err)
	}
	return csr
}

// pemOf wraps der in one PEM block.
func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// wantError checks err's kind and code.
func wantError(t *testing.T, err error, kind mosaic.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if mosaic.ErrorKind(err) != kind || mosaic.ErrorCode(err) != code {
		t.Fatalf("error = %v (kind %d), want kind %d code %s", err, mosaic.ErrorKind(err), kind, code)
	}
}
