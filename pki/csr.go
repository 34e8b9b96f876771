package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"

	"github.com/mosaicgw/mosaic"
)

// MaxCSRPEM bounds the PEM text of a certificate signing request.
const MaxCSRPEM = 16 << 10

// Object identifiers of the standard extensions a CSR may not ask for with
// CA rights.
var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
)

// Bits of the keyUsage BIT STRING that only a CA needs (RFC 5280 4.2.1.3).
const (
	keyUsageBitCertSign = 5
	keyUsageBitCRLSign  = 6
)

// ParseCSR parses and checks a peer's certificate signing request, cheap
// checks first: size, PEM shape (exactly one "CERTIFICATE REQUEST" block, no
// headers, nothing but whitespace around it), DER with no trailing bytes, an
// ECDSA P-256 key (before the signature is checked, so a huge RSA key costs
// nothing), an ECDSA signature over SHA-256/384/512 that verifies, and no
// request for the identity extensions or CA rights. Other names and
// extensions are left alone: the CA uses nothing from the CSR but its key.
// Errors are KindInvalid with codes "invalid_csr", "csr_key_unsupported",
// "csr_signature_invalid" and "csr_forbidden_extension".
func ParseCSR(pemText string) (*x509.CertificateRequest, error) {
	if len(pemText) > MaxCSRPEM {
		return nil, csrError("invalid_csr", "CSR larger than %d bytes", MaxCSRPEM)
	}
	blocks, err := splitPEM(pemText)
	if err != nil {
		return nil, csrError("invalid_csr", "CSR PEM: %v", err)
	}
	if len(blocks) != 1 {
		return nil, csrError("invalid_csr", "CSR PEM has %d blocks, want 1", len(blocks))
	}
	if blocks[0].Type != pemCSR {
		return nil, csrError("invalid_csr", "PEM block is %q, not %q", blocks[0].Type, pemCSR)
	}
	csr, err := x509.ParseCertificateRequest(blocks[0].Bytes)
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindInvalid, "invalid_csr",
			"CSR does not parse: "+err.Error(), err)
	}

	// The key type is checked before the signature: verifying is the one
	// expensive step, and only a P-256 key gets that far.
	if err := checkCSRKey(csr); err != nil {
		return nil, err
	}
	if err := checkCSRSignature(csr); err != nil {
		return nil, err
	}
	if err := checkCSRExtensions(csr); err != nil {
		return nil, err
	}
	return csr, nil
}

// csrError is a KindInvalid error about a CSR.
func csrError(code, format string, args ...any) error {
	return mosaic.Errorf(mosaic.KindInvalid, code, format, args...)
}

// checkCSRKey accepts only an ECDSA key on P-256.
func checkCSRKey(csr *x509.CertificateRequest) error {
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || csr.PublicKeyAlgorithm != x509.ECDSA {
		return csrError("csr_key_unsupported",
			"CSR key is %s, only ECDSA P-256 is accepted", csr.PublicKeyAlgorithm)
	}
	if pub.Curve != elliptic.P256() {
		return csrError("csr_key_unsupported",
			"CSR key is ECDSA %s, only P-256 is accepted", pub.Curve.Params().Name)
	}
	return nil
}

// checkCSRSignature accepts an ECDSA signature with SHA-2 that verifies.
func checkCSRSignature(csr *x509.CertificateRequest) error {
	switch csr.SignatureAlgorithm {
	case x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
	default:
		return csrError("csr_signature_invalid",
			"CSR signature algorithm %s is not accepted", csr.SignatureAlgorithm)
	}
	if err := csr.CheckSignature(); err != nil {
		return mosaic.WrapError(mosaic.KindInvalid, "csr_signature_invalid",
			"CSR signature does not verify: "+err.Error(), err)
	}
	return nil
}

// checkCSRExtensions refuses a request for the identity extensions, which
// only the grantor may set, and for CA rights.
func checkCSRExtensions(csr *x509.CertificateRequest) error {
	for _, ext := range csr.Extensions {
		switch {
		case ext.Id.Equal(mosaic.OIDGrantID), ext.Id.Equal(mosaic.OIDSubjectUserID):
			return csrError("csr_forbidden_extension",
				"CSR requests identity extension %s", ext.Id)
		case ext.Id.Equal(oidBasicConstraints):
			if err := checkBasicConstraints(ext.Value); err != nil {
				return err
			}
		case ext.Id.Equal(oidKeyUsage):
			if err := checkKeyUsage(ext.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkBasicConstraints refuses basicConstraints with cA true, and any value
// that does not parse.
func checkBasicConstraints(der []byte) error {
	var bc struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}
	rest, err := asn1.Unmarshal(der, &bc)
	if err != nil || len(rest) != 0 {
		return csrError("csr_forbidden_extension", "CSR basicConstraints does not parse")
	}
	if bc.IsCA {
		return csrError("csr_forbidden_extension", "CSR requests CA rights (basicConstraints cA)")
	}
	return nil
}

// checkKeyUsage refuses a keyUsage with keyCertSign or cRLSign, and any
// value that does not parse.
func checkKeyUsage(der []byte) error {
	var bits asn1.BitString
	rest, err := asn1.Unmarshal(der, &bits)
	if err != nil || len(rest) != 0 {
		return csrError("csr_forbidden_extension", "CSR keyUsage does not parse")
	}
	if bits.At(keyUsageBitCertSign) == 1 || bits.At(keyUsageBitCRLSign) == 1 {
		return csrError("csr_forbidden_extension",
			"CSR requests CA rights (keyUsage certificate or CRL signing)")
	}
	return nil
}

// GenerateKey returns a new ECDSA P-256 key pair, the only kind of key a peer
// certificate may carry.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate key: %w", err)
	}
	return k, nil
}

// NewCSR returns a PEM certificate signing request for key with the given
// common name, signed with ECDSA and SHA-256. The grantor decides the
// subject of the certificate; the name only helps its operator.
func NewCSR(key *ecdsa.PrivateKey, commonName string) (string, error) {
	tmpl := &x509.CertificateRequest{
		Subject:            pkix.Name{CommonName: commonName},
		SignatureAlgorithm: x509.ECDSAWithSHA256,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return "", fmt.Errorf("pki: new csr: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: der})), nil
}
