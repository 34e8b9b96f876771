package stepca

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// TokenLifetime is how long a one-time token is valid after it is signed.
// step-ca allows a minute of clock skew around it.
const TokenLifetime = 5 * time.Minute

// Claims of the one-time token that the provisioner's template reads.
const (
	ClaimGrantID       = "mosaic_grant_id"
	ClaimSubjectUserID = "mosaic_subject_user_id"
	ClaimCommonName    = "mosaic_common_name"
	ClaimSerial        = "mosaic_serial"
)

// tokenClaims is the payload of a one-time token for step-ca's JWK
// provisioner. step-ca checks iss (the provisioner's name), aud (its sign
// URL), sub (not empty), the times with a minute of leeway, jti (never used
// before) and, when present, cnf (the SHA-256 of the CSR's DER); sans are
// compared with the CSR's names; sha is the root fingerprint step clients
// send. The template sees every claim as .Token.<name>; mosaic_serial is
// the certificate's serial, drawn here like the embedded CA's (159 random
// bits, at least 128 significant), in hex with a 0x prefix.
type tokenClaims struct {
	jwt.Claims
	SANs          []string     `json:"sans"`
	SHA           string       `json:"sha"`
	Confirmation  confirmation `json:"cnf"`
	GrantID       string       `json:"mosaic_grant_id"`
	SubjectUserID string       `json:"mosaic_subject_user_id"`
	CommonName    string       `json:"mosaic_common_name"`
	Serial        string       `json:"mosaic_serial"`
}

// confirmation binds a token to one CSR: step-ca refuses the token with any
// other.
type confirmation struct {
	CSRFingerprint string `json:"x5rt#S256"`
}

// token signs the one-time token for req. It is a secret until step-ca has
// used it: it goes into the request body and nowhere else.
func (c *CA) token(req mosaic.SignRequest) (string, error) {
	jti, err := randomHex(16)
	if err != nil {
		return "", err
	}
	serial, err := pki.NewSerial(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("stepca: %w", err)
	}
	now := c.now().UTC()
	sub, sans := csrNames(req.CSR, req.CommonName)
	sum := sha256.Sum256(req.CSR.Raw)
	claims := tokenClaims{
		Claims: jwt.Claims{
			Issuer:    c.provisioner,
			Subject:   sub,
			Audience:  jwt.Audience{c.base + signPath},
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(TokenLifetime)),
			ID:        jti,
		},
		SANs:          sans,
		SHA:           c.rootSHA,
		Confirmation:  confirmation{CSRFingerprint: base64.RawURLEncoding.EncodeToString(sum[:])},
		GrantID:       req.Identity.GrantID,
		SubjectUserID: req.Identity.SubjectUserID,
		CommonName:    req.CommonName,
		Serial:        "0x" + serial.Text(16),
	}

	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: tokenAlgorithm,
		Key:       jose.JSONWebKey{Key: c.key, KeyID: c.kid},
	}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("stepca: token signer: %w", err)
	}
	ott, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("stepca: sign token: %w", err)
	}
	return ott, nil
}

// csrNames returns the sub and sans claims for a CSR. step-ca's JWK
// provisioner checks the CSR against them: the CSR's common name, if it has
// one, must be the subject or one of the SANs, and each kind of SAN the CSR
// asks for (DNS, IP, email, URI) must be exactly the token's of that kind.
// The peer chose those names and the template copies none of them (the
// certificate's subject is mosaic_common_name), so the token repeats them.
// A CSR without a common name gets commonName as the subject, which step-ca
// requires; a CSR without SANs gets the subject as the one SAN, as step
// clients send it.
func csrNames(csr *x509.CertificateRequest, commonName string) (string, []string) {
	sub := csr.Subject.CommonName
	if sub == "" {
		sub = commonName
	}
	sans := append([]string{}, csr.DNSNames...)
	for _, ip := range csr.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, csr.EmailAddresses...)
	for _, u := range csr.URIs {
		sans = append(sans, u.String())
	}
	if len(sans) == 0 {
		sans = []string{sub}
	}
	return sub, sans
}

// randomHex returns n random bytes in hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("stepca: random token id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
