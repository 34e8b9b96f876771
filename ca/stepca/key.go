package stepca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mosaicgw/mosaic/pki"
)

// tokenAlgorithm is the signature algorithm of the one-time tokens, the
// only one the provisioner key may be for.
const tokenAlgorithm = jose.ES256

// maxKeyJSON bounds the provisioner key's JSON.
const maxKeyJSON = 16 << 10

// parseProvisionerKey reads the provisioner's private key from a JSON Web
// Key: type EC on P-256, for signatures with ES256 if it says. The key id is
// the JWK's "kid", or its SHA-256 thumbprint (as step uses) when it has
// none. No error wraps the parser's, so none can quote the key.
func parseProvisionerKey(data []byte) (*ecdsa.PrivateKey, string, error) {
	const what = "stepca: provisioner key"
	switch {
	case len(data) == 0:
		return nil, "", fmt.Errorf("%s is not set", what)
	case len(data) > maxKeyJSON:
		return nil, "", fmt.Errorf("%s is larger than %d bytes", what, maxKeyJSON)
	case !json.Valid(data):
		return nil, "", fmt.Errorf("%s is not valid JSON", what)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return nil, "", fmt.Errorf("%s is not a usable JSON Web Key "+
			"(an encrypted key must be decrypted first)", what)
	}
	if jwk.IsPublic() {
		return nil, "", fmt.Errorf("%s is a public key; the private key is needed", what)
	}
	key, ok := jwk.Key.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, "", fmt.Errorf("%s must be an EC key on P-256 (ES256)", what)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != string(tokenAlgorithm) {
		return nil, "", fmt.Errorf("%s is for algorithm %q, want %q", what, jwk.Algorithm, tokenAlgorithm)
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return nil, "", fmt.Errorf("%s is for use %q, want \"sig\"", what, jwk.Use)
	}
	if err := checkKeyPair(key); err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}

	kid := jwk.KeyID
	if kid == "" {
		sum, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, "", fmt.Errorf("%s: cannot compute its thumbprint", what)
		}
		kid = base64.RawURLEncoding.EncodeToString(sum)
	}
	return key, kid, nil
}

// checkKeyPair signs and verifies a test message, so that a JWK whose
// private part does not belong to its public part is found at start rather
// than by step-ca refusing every token.
func checkKeyPair(key *ecdsa.PrivateKey) error {
	sum := sha256.Sum256([]byte("mosaic step-ca provisioner key check"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil || !ecdsa.VerifyASN1(&key.PublicKey, sum[:], sig) {
		return fmt.Errorf("private and public parts do not match")
	}
	return nil
}

// parseRoot reads step-ca's root: exactly one PEM certificate, a CA that
// signed itself.
func parseRoot(pemText []byte) (*x509.Certificate, error) {
	if len(pemText) == 0 {
		return nil, fmt.Errorf("stepca: the step-ca root certificate is not set")
	}
	certs, err := pki.ParseCerts(string(pemText))
	if err != nil {
		return nil, fmt.Errorf("stepca: step-ca root certificate: %w", err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("stepca: step-ca root certificate file holds %d certificates, want 1",
			len(certs))
	}
	root := certs[0]
	if !root.BasicConstraintsValid || !root.IsCA {
		return nil, fmt.Errorf("stepca: step-ca root certificate %q is not a CA",
			root.Subject.CommonName)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("stepca: step-ca root certificate %q is not self-signed: %w",
			root.Subject.CommonName, err)
	}
	return root, nil
}
