package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Lifetimes of the CA certificates, and how far their notBefore is set
// back for clock skew.
const (
	rootLifetime         = 10 * 365 * 24 * time.Hour
	intermediateLifetime = 5 * 365 * 24 * time.Hour
	caBackdate           = 5 * time.Minute
)

// caPKI is a new root and intermediate with their keys in PEM.
type caPKI struct {
	root        *x509.Certificate
	inter       *x509.Certificate
	rootKeyPEM  []byte
	interKeyPEM []byte
}

// newPKI makes a root CA and an intermediate CA signed by it, both ECDSA
// P-256. The intermediate may sign only end-entity certificates.
func newPKI(name string, now time.Time) (*caPKI, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notBefore := now.Add(-caBackdate).UTC()
	rootTmpl, err := caTemplate(name+" Root", notBefore, now.Add(rootLifetime), 1)
	if err != nil {
		return nil, err
	}
	root, err := createCert(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	interTmpl, err := caTemplate(name+" Intermediate", notBefore,
		now.Add(intermediateLifetime), 0)
	if err != nil {
		return nil, err
	}
	inter, err := createCert(interTmpl, root, &interKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	rootPEM, err := keyPEM(rootKey)
	if err != nil {
		return nil, err
	}
	interPEM, err := keyPEM(interKey)
	if err != nil {
		return nil, err
	}
	return &caPKI{root: root, inter: inter, rootKeyPEM: rootPEM, interKeyPEM: interPEM}, nil
}

// caTemplate returns the template of a CA certificate with a random
// 128-bit serial and the given path length limit.
func caTemplate(cn string, notBefore, notAfter time.Time,
	maxPathLen int) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	serial.SetBit(serial, 127, 1) // always 128 bits long
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter.UTC(),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            maxPathLen,
		MaxPathLenZero:        maxPathLen == 0,
	}, nil
}

// createCert signs tmpl with parent's key and parses the result.
func createCert(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey,
	key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("create %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// certPEM returns cert in PEM.
func certPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// keyPEM returns key as an unencrypted "EC PRIVATE KEY" PEM block.
func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// provisionerKey is the JWK provisioner's key pair as JSON Web Keys.
type provisionerKey struct {
	private []byte
	public  []byte
}

// newProvisionerKey makes a P-256 key for ES256 tokens, with its SHA-256
// thumbprint as key id, the id step-ca finds the provisioner by.
func newProvisionerKey() (*provisionerKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: key, Algorithm: string(jose.ES256), Use: "sig"}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(sum)
	private, err := json.Marshal(jwk)
	if err != nil {
		return nil, err
	}
	public, err := json.Marshal(jwk.Public())
	if err != nil {
		return nil, err
	}
	return &provisionerKey{private: append(private, '\n'), public: public}, nil
}
