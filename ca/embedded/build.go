package embedded

import (
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// Subject names of the CA certificates; a random suffix tells apart the CAs
// of different gateways.
const (
	rootName         = "Mosaic Federation Root CA"
	intermediateName = "Mosaic Federation Intermediate CA"
	organization     = "Mosaic"
)

// newRoot makes a self-signed root CA and returns it in stored form.
func newRoot(opts Options, sealer mosaic.Sealer) (*mosaic.StoredKey, error) {
	now := opts.Now()
	suffix, err := nameSuffix(opts.Rand)
	if err != nil {
		return nil, err
	}
	key, err := pki.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("embedded ca: root: %w", err)
	}
	tmpl, err := caTemplate(opts.Rand, rootName+" "+suffix, now, now.Add(rootLifetime))
	if err != nil {
		return nil, err
	}
	tmpl.MaxPathLen = 1

	cert, err := createCert(opts.Rand, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("embedded ca: root: %w", err)
	}
	return sealKey(sealer, KeyRoot, cert, key, now)
}

// newIntermediate makes an intermediate CA signed by the stored root and
// returns it in stored form under name, or, when name is empty, under a
// name of its own made from its serial (see rotatedName). Its subject
// carries the root's suffix.
func newIntermediate(opts Options, sealer mosaic.Sealer, rootRec *mosaic.StoredKey,
	name string) (*mosaic.StoredKey, error) {
	root, rootKey, err := openKey(sealer, rootRec)
	if err != nil {
		return nil, err
	}
	now := opts.Now()
	key, err := pki.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("embedded ca: intermediate: %w", err)
	}
	notAfter := minTime(now.Add(intermediateLifetime), root.NotAfter)
	tmpl, err := caTemplate(opts.Rand, intermediateName+rootSuffix(root), now, notAfter)
	if err != nil {
		return nil, err
	}
	tmpl.MaxPathLen = 0
	tmpl.MaxPathLenZero = true

	cert, err := createCert(opts.Rand, tmpl, root, &key.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("embedded ca: intermediate: %w", err)
	}
	if name == "" {
		name = rotatedName(cert)
	}
	return sealKey(sealer, name, cert, key, now)
}

// rotatedName is the key name of an intermediate made by a rotation:
// KeyIntermediate, a dash and its serial in hex.
func rotatedName(cert *x509.Certificate) string {
	return KeyIntermediate + "-" + pki.SerialHex(cert)
}

// caTemplate is the part common to the root and the intermediate.
func caTemplate(r io.Reader, cn string, now, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := pki.NewSerial(r)
	if err != nil {
		return nil, fmt.Errorf("embedded ca: %w", err)
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{organization}},
		NotBefore:             now.Add(-ClockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil
}

// createCert signs tmpl with parent's key and parses the result.
func createCert(r io.Reader, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey,
	signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(r, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse created certificate: %w", err)
	}
	return cert, nil
}

// nameSuffix returns eight random hex digits.
func nameSuffix(r io.Reader) (string, error) {
	b := make([]byte, 4)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("embedded ca: name suffix: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// rootSuffix returns " " and the random suffix of the root's name, or ""
// if it has none.
func rootSuffix(root *x509.Certificate) string {
	cn := root.Subject.CommonName
	if len(cn) > len(rootName) && cn[:len(rootName)] == rootName {
		return cn[len(rootName):]
	}
	return ""
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
