package embedded

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// Names of the keys this package keeps in the key store.
const (
	KeyRoot         = "ca-root"
	KeyIntermediate = "ca-intermediate"
	KeyTLSServer    = "tls-server"
)

// keyAAD is the additional data a stored key is sealed with, binding it to
// its name.
func keyAAD(name string) []byte {
	return mosaic.SealedRef{Table: mosaic.SealedKeys, ID: name}.AAD()
}

// sealKey returns the stored form of a certificate and its private key: the
// certificate in PEM, the key in PKCS#8 DER sealed under the key's name.
func sealKey(sealer mosaic.Sealer, name string, cert *x509.Certificate,
	key *ecdsa.PrivateKey, now time.Time) (*mosaic.StoredKey, error) {
	der, err := pki.EncodePrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("embedded ca: %s: %w", name, err)
	}
	defer clear(der)
	sealed, err := sealer.Seal(der, keyAAD(name))
	if err != nil {
		return nil, fmt.Errorf("embedded ca: seal %s key: %w", name, err)
	}
	return &mosaic.StoredKey{
		Name:      name,
		CertPEM:   pki.EncodeCerts(cert),
		SealedKey: sealed,
		CreatedAt: now,
	}, nil
}

// storedCert parses the one certificate of a stored key.
func storedCert(sk *mosaic.StoredKey) (*x509.Certificate, error) {
	certs, err := pki.ParseCerts(sk.CertPEM)
	if err != nil {
		return nil, fmt.Errorf("embedded ca: stored %s certificate: %w", sk.Name, err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("embedded ca: stored %s holds %d certificates, want 1",
			sk.Name, len(certs))
	}
	return certs[0], nil
}

// openKey parses a stored key's certificate, unseals its private key and
// checks that the two belong together. A wrong secret fails here.
func openKey(sealer mosaic.Sealer,
	sk *mosaic.StoredKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := storedCert(sk)
	if err != nil {
		return nil, nil, err
	}
	der, err := sealer.Open(sk.SealedKey, keyAAD(sk.Name))
	if err != nil {
		return nil, nil, fmt.Errorf("embedded ca: cannot unseal the %s key "+
			"(wrong MOSAIC_SECRET, or the stored key is damaged): %w", sk.Name, err)
	}
	defer clear(der)
	key, err := pki.ParsePrivateKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded ca: %s key: %w", sk.Name, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("embedded ca: %s key does not match its certificate", sk.Name)
	}
	return cert, key, nil
}
