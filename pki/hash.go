package pki

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/mosaicgw/mosaic"
)

// PinPrefix starts every CA pin.
const PinPrefix = "sha256:"

// KeyHash returns the lower-case hex SHA-256 of pub's DER
// SubjectPublicKeyInfo. It identifies a key pair, such as the one a CSR
// asks a certificate for.
func KeyHash(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("pki: key hash: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// Pin returns the pin of a CA certificate: "sha256:" and the lower-case hex
// SHA-256 of its SubjectPublicKeyInfo as encoded in the certificate.
func Pin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return PinPrefix + hex.EncodeToString(sum[:])
}

// ParsePin checks a pin given by a person or taken from a URL and returns its
// 32-byte digest. It must be "sha256:" followed by exactly 64 hex digits of
// either case. Errors are KindInvalid with code "invalid_pin".
func ParsePin(s string) ([]byte, error) {
	digest, ok := strings.CutPrefix(s, PinPrefix)
	if !ok || len(digest) != 2*sha256.Size {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_pin",
			"CA pin must be %q followed by %d hex digits", PinPrefix, 2*sha256.Size)
	}
	b, err := hex.DecodeString(digest)
	if err != nil {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_pin",
			"CA pin must be %q followed by %d hex digits", PinPrefix, 2*sha256.Size)
	}
	return b, nil
}

// MatchesPin reports whether cert's SubjectPublicKeyInfo hashes to pin, a
// digest returned by ParsePin.
func MatchesPin(cert *x509.Certificate, pin []byte) bool {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return len(pin) == len(sum) && string(pin) == string(sum[:])
}

// Fingerprint returns the lower-case hex SHA-256 of cert's DER.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// SerialHex returns cert's serial number in lower-case hex.
func SerialHex(cert *x509.Certificate) string {
	return cert.SerialNumber.Text(16)
}

// serialBytes is the size of a serial as drawn: 160 bits, the most RFC 5280
// allows, with the top bit cleared so that it stays positive.
const serialBytes = 20

// minSerialBits is the least number of significant bits a serial may have.
const minSerialBits = 128

// NewSerial draws a certificate serial number from r (crypto/rand.Reader in
// production): positive, 20 octets at most, and at least 128 bits long, with
// 159 bits from r. A reader that keeps returning short values is an error.
func NewSerial(r io.Reader) (*big.Int, error) {
	buf := make([]byte, serialBytes)
	for range 16 {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("pki: new serial: %w", err)
		}
		buf[0] &= 0x7f
		n := new(big.Int).SetBytes(buf)
		if n.BitLen() >= minSerialBits {
			return n, nil
		}
	}
	return nil, fmt.Errorf("pki: new serial: random source keeps returning small values")
}
