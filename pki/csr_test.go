package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// csrPEM makes a CSR for signer from tmpl and returns it in PEM.
func csrPEM(t *testing.T, tmpl *x509.CertificateRequest, signer crypto.Signer) string {
	t.Helper()
	if tmpl == nil {
		tmpl = &x509.CertificateRequest{Subject: pkix.Name{CommonName: "peer"}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, signer)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	return pemOf(pemCSR, der)
}

// Signature algorithm identifiers for hand-made CSRs.
var (
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
)

// rawCSR builds a CSR by hand for pub, signed by sign over the DER of the
// request info. The standard library refuses to make CSRs whose signature
// does not match the key; these are exactly what the tests need.
func rawCSR(t *testing.T, pub crypto.PublicKey, alg pkix.AlgorithmIdentifier,
	sign func(tbs []byte) []byte) string {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	subject := extDER(t, pkix.Name{CommonName: "peer"}.ToRDNSequence())
	tbs := extDER(t, struct {
		Version    int
		Subject    asn1.RawValue
		PublicKey  asn1.RawValue
		Attributes asn1.RawValue
	}{0, asn1.RawValue{FullBytes: subject}, asn1.RawValue{FullBytes: spki},
		asn1.RawValue{FullBytes: []byte{0xa0, 0x00}}})
	sig := sign(tbs)
	der := extDER(t, struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, alg, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	return pemOf(pemCSR, der)
}

// signedBy returns a rawCSR signing function using ECDSA with SHA-256.
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

// hugeRSA returns a CSR for an RSA public key of the given size with a
// dummy signature. Only its shape matters: the key must be refused before
// any signature check, and generating such a key would take minutes.
func hugeRSA(t *testing.T, bits int) string {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(0x1234567))
	alg := pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}
	return rawCSR(t, &rsa.PublicKey{N: n, E: 65537}, alg,
		func([]byte) []byte { return make([]byte, bits/8) })
}

// extDER marshals v as an extension value.
func extDER(t *testing.T, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// basicConstraints is the value of the basicConstraints extension.
type basicConstraints struct {
	IsCA       bool `asn1:"optional"`
	MaxPathLen int  `asn1:"optional,default:-1"`
}

// keyUsageDER returns a keyUsage value with the given bits set.
func keyUsageDER(t *testing.T, bits ...int) []byte {
	t.Helper()
	b := asn1.BitString{Bytes: make([]byte, 2), BitLength: 9}
	for _, i := range bits {
		b.Bytes[i/8] |= 0x80 >> (i % 8)
	}
	return extDER(t, b)
}

// withExt returns a CSR template requesting one extension.
func withExt(oid asn1.ObjectIdentifier, value []byte) *x509.CertificateRequest {
	return &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: "peer"},
		ExtraExtensions: []pkix.Extension{{Id: oid, Value: value}},
	}
}

// flipLastDERByte changes the signature of a PEM CSR.
func flipLastDERByte(t *testing.T, text string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(text))
	der := bytes.Clone(block.Bytes)
	der[len(der)-1] ^= 0x01
	return pemOf(pemCSR, der)
}

// derOf returns the DER of a PEM CSR.
func derOf(text string) []byte {
	block, _ := pem.Decode([]byte(text))
	return block.Bytes
}

func TestParseCSRAccepts(t *testing.T) {
	key := mustKey(t)
	long := &x509.CertificateRequest{Subject: pkix.Name{CommonName: strings.Repeat("n", 300)}}
	notCA := withExt(oidBasicConstraints, extDER(t, basicConstraints{IsCA: false, MaxPathLen: -1}))
	tests := []struct {
		name string
		text string
	}{
		{"plain", csrPEM(t, nil, key)},
		{"SHA-384", csrPEM(t, &x509.CertificateRequest{SignatureAlgorithm: x509.ECDSAWithSHA384}, key)},
		{"SHA-512", csrPEM(t, &x509.CertificateRequest{SignatureAlgorithm: x509.ECDSAWithSHA512}, key)},
		{"300-byte CN (ignored)", csrPEM(t, long, key)},
		{"DNS names and emails (ignored)", csrPEM(t, &x509.CertificateRequest{
			DNSNames: []string{"evil.example"}, EmailAddresses: []string{"a@b.example"}}, key)},
		{"basicConstraints without CA", csrPEM(t, notCA, key)},
		{"keyUsage digitalSignature", csrPEM(t, withExt(oidKeyUsage, keyUsageDER(t, 0)), key)},
		{"surrounding whitespace", "\n\n  " + csrPEM(t, nil, key) + "\n\t \n"},
		{"CRLF line ends", strings.ReplaceAll(csrPEM(t, nil, key), "\n", "\r\n")},
		{"no final newline", strings.TrimSuffix(csrPEM(t, nil, key), "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr, err := ParseCSR(tt.text)
			if err != nil {
				t.Fatalf("ParseCSR: %v", err)
			}
			if !key.PublicKey.Equal(csr.PublicKey) {
				t.Errorf("CSR key is not the signer's")
			}
		})
	}
}

func TestParseCSRRejects(t *testing.T) {
	t.Setenv("GODEBUG", "rsa1024min=0")
	key := mustKey(t)
	good := csrPEM(t, nil, key)
	rsa512, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	other := mustKey(t)
	encrypted := pemWithHeaders(derOf(good), map[string]string{
		"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"})
	cert := newTestCA(t).root
	ecdsaSHA256 := pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}

	tests := []struct {
		name string
		text string
		code string
		msg  string // part of the client message
	}{
		{"empty", "", "invalid_csr", "no PEM block"},
		{"whitespace only", " \n\t", "invalid_csr", "no PEM block"},
		{"not PEM", "hello", "invalid_csr", "outside a PEM block"},
		{"raw DER", string(derOf(good)), "invalid_csr", "outside a PEM block"},
		{"larger than 16 KiB", good + strings.Repeat(" ", MaxCSRPEM), "invalid_csr", "larger than"},
		{"text before block", "junk\n" + good, "invalid_csr", "outside a PEM block"},
		{"text after block", good + "junk\n", "invalid_csr", "outside a PEM block"},
		{"two CSR blocks", good + good, "invalid_csr", "2 blocks"},
		{"CSR and certificate", good + pemOf(pemCertificate, cert.Raw), "invalid_csr", "2 blocks"},
		{"wrong type CERTIFICATE", pemOf(pemCertificate, derOf(good)), "invalid_csr", "not"},
		{"old type NEW CERTIFICATE REQUEST", pemOf("NEW CERTIFICATE REQUEST", derOf(good)),
			"invalid_csr", "not"},
		{"encrypted headers", encrypted, "invalid_csr", "headers"},
		{"missing END line", strings.Split(good, "-----END")[0], "invalid_csr", "END"},
		{"damaged base64", strings.Replace(good, "\n", "\n!!", 2), "invalid_csr", "malformed"},
		{"damaged block then good block", "-----BEGIN CERTIFICATE REQUEST-----\n!!\n" + good,
			"invalid_csr", "END"},
		{"trailing bytes after DER", pemOf(pemCSR, append(bytes.Clone(derOf(good)), 0, 0)),
			"invalid_csr", "does not parse"},
		{"truncated DER", pemOf(pemCSR, derOf(good)[:40]), "invalid_csr", "does not parse"},
		{"RSA 512", csrPEM(t, nil, rsa512), "csr_key_unsupported", "RSA"},
		{"RSA 2048", csrPEM(t, nil, rsa2048), "csr_key_unsupported", "RSA"},
		{"RSA 16384", hugeRSA(t, 16384), "csr_key_unsupported", "RSA"},
		{"P-384", csrPEM(t, nil, p384), "csr_key_unsupported", "P-384"},
		{"P-521", csrPEM(t, nil, p521), "csr_key_unsupported", "P-521"},
		{"Ed25519", csrPEM(t, nil, ed), "csr_key_unsupported", "Ed25519"},
		{"SHA-1 signature",
			csrPEM(t, &x509.CertificateRequest{SignatureAlgorithm: x509.ECDSAWithSHA1}, key),
			"csr_signature_invalid", "ECDSA-SHA1"},
		{"bad signature", flipLastDERByte(t, good), "csr_signature_invalid", "does not verify"},
		{"key of another pair", rawCSR(t, &other.PublicKey, ecdsaSHA256, signedBy(t, key)),
			"csr_signature_invalid", "does not verify"},
		{"requests grant id", csrPEM(t, withExt(mosaic.OIDGrantID, mustUTF8(t, "g")), key),
			"csr_forbidden_extension", "identity extension"},
		{"requests subject user id",
			csrPEM(t, withExt(mosaic.OIDSubjectUserID, mustUTF8(t, "u")), key),
			"csr_forbidden_extension", "identity extension"},
		{"requests CA", csrPEM(t, withExt(oidBasicConstraints,
			extDER(t, basicConstraints{IsCA: true, MaxPathLen: -1})), key),
			"csr_forbidden_extension", "CA rights"},
		{"requests certSign", csrPEM(t, withExt(oidKeyUsage, keyUsageDER(t, 0, 5)), key),
			"csr_forbidden_extension", "CA rights"},
		{"requests cRLSign", csrPEM(t, withExt(oidKeyUsage, keyUsageDER(t, 6)), key),
			"csr_forbidden_extension", "CA rights"},
		{"malformed basicConstraints", csrPEM(t, withExt(oidBasicConstraints, []byte{0x30, 0x03}),
			key), "csr_forbidden_extension", "does not parse"},
		{"malformed keyUsage", csrPEM(t, withExt(oidKeyUsage, []byte{0x04, 0x00}), key),
			"csr_forbidden_extension", "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr, err := ParseCSR(tt.text)
			if csr != nil {
				t.Errorf("ParseCSR returned a CSR with its error")
			}
			wantError(t, err, mosaic.KindInvalid, tt.code)
			if !strings.Contains(mosaic.ErrorMessage(err), tt.msg) {
				t.Errorf("message %q does not say %q", mosaic.ErrorMessage(err), tt.msg)
			}
		})
	}
}

// pemWithHeaders wraps der in a CSR PEM block with headers.
func pemWithHeaders(der []byte, headers map[string]string) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: pemCSR, Headers: headers, Bytes: der}))
}

// mustUTF8 returns the DER UTF8String of s.
func mustUTF8(t *testing.T, s string) []byte {
	t.Helper()
	der, err := MarshalUTF8String(s)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestNewCSR(t *testing.T) {
	key := mustKey(t)
	text, err := NewCSR(key, "gateway-a")
	if err != nil {
		t.Fatalf("NewCSR: %v", err)
	}
	csr, err := ParseCSR(text)
	if err != nil {
		t.Fatalf("ParseCSR: %v", err)
	}
	if csr.Subject.CommonName != "gateway-a" || csr.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("CSR = %q signed %s", csr.Subject.CommonName, csr.SignatureAlgorithm)
	}
}

func TestRawCSRHelperMakesValidCSRs(t *testing.T) {
	// The hand-made CSRs above are only meaningful if the same builder
	// makes an acceptable CSR when key and signature belong together.
	key := mustKey(t)
	alg := pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}
	if _, err := ParseCSR(rawCSR(t, &key.PublicKey, alg, signedBy(t, key))); err != nil {
		t.Fatalf("ParseCSR of a well-formed hand-made CSR: %v", err)
	}
}
