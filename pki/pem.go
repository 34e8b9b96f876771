package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/mosaicgw/mosaic"
)

// MaxCertsPEM bounds the PEM text ParseCerts accepts, the same size as an
// API request body.
const MaxCertsPEM = 64 << 10

// PEM block types.
const (
	pemCertificate = "CERTIFICATE"
	pemCSR         = "CERTIFICATE REQUEST"
)

// pemBegin and pemEnd open the boundary lines of a PEM block.
const (
	pemBegin = "-----BEGIN "
	pemEnd   = "-----END "
)

// splitPEM decodes text as a sequence of PEM blocks with nothing but
// whitespace before, between and after them. Blocks with headers (such as
// the Proc-Type of an encrypted key) are refused. The errors are plain; the
// callers give them a kind and code.
func splitPEM(text string) ([]*pem.Block, error) {
	var blocks []*pem.Block
	rest := strings.TrimLeft(text, " \t\r\n")
	for rest != "" {
		if !strings.HasPrefix(rest, pemBegin) {
			return nil, fmt.Errorf("unexpected text outside a PEM block")
		}
		// Cut the text at the end of the first END line, so a damaged block
		// cannot make the decoder skip ahead to a later one.
		end := strings.Index(rest, pemEnd)
		if end < 0 {
			return nil, fmt.Errorf("PEM block without an END line")
		}
		if nl := strings.IndexByte(rest[end:], '\n'); nl >= 0 {
			end += nl + 1
		} else {
			end = len(rest)
		}
		segment := rest[:end]
		if strings.Count(segment, pemBegin) != 1 {
			return nil, fmt.Errorf("PEM block without an END line")
		}
		block, after := pem.Decode([]byte(segment))
		if block == nil || len(bytes.TrimSpace(after)) != 0 {
			return nil, fmt.Errorf("malformed PEM block")
		}
		if len(block.Headers) != 0 {
			return nil, fmt.Errorf("PEM block %q has headers", block.Type)
		}
		blocks = append(blocks, block)
		rest = strings.TrimLeft(rest[end:], " \t\r\n")
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("no PEM block")
	}
	return blocks, nil
}

// EncodeCerts returns certs as concatenated PEM CERTIFICATE blocks.
func EncodeCerts(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: pemCertificate, Bytes: c.Raw})
	}
	return b.String()
}

// ParseCerts parses one or more PEM CERTIFICATE blocks. It is strict: at most
// MaxCertsPEM bytes, only CERTIFICATE blocks, no PEM headers, nothing but
// whitespace around the blocks, and DER with no trailing bytes. Errors are
// KindInvalid with code "invalid_certificate".
func ParseCerts(pemText string) ([]*x509.Certificate, error) {
	if len(pemText) > MaxCertsPEM {
		return nil, certError("certificate PEM larger than %d bytes", MaxCertsPEM)
	}
	blocks, err := splitPEM(pemText)
	if err != nil {
		return nil, certError("certificate PEM: %v", err)
	}
	certs := make([]*x509.Certificate, 0, len(blocks))
	for i, b := range blocks {
		if b.Type != pemCertificate {
			return nil, certError("PEM block %d is %q, not %q", i+1, b.Type, pemCertificate)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, mosaic.WrapError(mosaic.KindInvalid, "invalid_certificate",
				fmt.Sprintf("certificate %d does not parse", i+1), err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// certError is a KindInvalid "invalid_certificate" error.
func certError(format string, args ...any) error {
	return mosaic.Errorf(mosaic.KindInvalid, "invalid_certificate", format, args...)
}

// EncodePrivateKey returns the PKCS#8 DER of k. The result is a secret: seal
// it before it leaves memory.
func EncodePrivateKey(k *ecdsa.PrivateKey) ([]byte, error) {
	if k == nil {
		return nil, fmt.Errorf("pki: encode private key: nil key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("pki: encode private key: %w", err)
	}
	return der, nil
}

// ParsePrivateKey parses a PKCS#8 DER ECDSA private key, as written by
// EncodePrivateKey. Keys of other types and bytes after the key are refused.
func ParsePrivateKey(der []byte) (*ecdsa.PrivateKey, error) {
	var outer asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("pki: parse private key: not one DER value")
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse private key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("pki: parse private key: %T is not an ECDSA key", k)
	}
	return ek, nil
}
