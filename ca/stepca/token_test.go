package stepca

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mosaicgw/mosaic/pki"
)

// parseToken verifies ott with the provisioner's public key and returns
// its header and claims.
func parseToken(t *testing.T, c *testClient, ott string) (jose.Header, tokenClaims) {
	t.Helper()
	tok, err := jwt.ParseSigned(ott, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("token does not parse as an ES256 JWT: %v", err)
	}
	var claims tokenClaims
	if err := tok.Claims(&c.key.PublicKey, &claims); err != nil {
		t.Fatalf("token does not verify with the provisioner key: %v", err)
	}
	return tok.Headers[0], claims
}

func TestToken(t *testing.T) {
	p := newTestPKI(t)
	c := newTestClient(t, p, "https://ca.example:9000", 0)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	_, csr := testCSR(t, nil)
	req := testRequest(csr)

	ott, err := c.token(req)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	header, claims := parseToken(t, c, ott)
	if header.KeyID != "test-kid" || header.Algorithm != "ES256" ||
		header.ExtraHeaders[jose.HeaderType] != "JWT" {
		t.Errorf("header = kid %q alg %q typ %v", header.KeyID, header.Algorithm,
			header.ExtraHeaders[jose.HeaderType])
	}

	// The claims step-ca checks.
	err = claims.Claims.ValidateWithLeeway(jwt.Expected{
		Issuer:      DefaultProvisioner,
		AnyAudience: jwt.Audience{"https://ca.example:9000/1.0/sign"},
		Time:        now,
	}, 0)
	if err != nil {
		t.Errorf("standard claims: %v", err)
	}
	if claims.Subject != "peer's own name" || !slices.Equal(claims.SANs, []string{"peer's own name"}) {
		t.Errorf("sub %q sans %q, want the CSR's common name", claims.Subject, claims.SANs)
	}
	if !claims.IssuedAt.Time().Equal(now) || !claims.NotBefore.Time().Equal(now) ||
		!claims.Expiry.Time().Equal(now.Add(TokenLifetime)) || TokenLifetime > 5*time.Minute {
		t.Errorf("times iat %v nbf %v exp %v", claims.IssuedAt.Time(), claims.NotBefore.Time(),
			claims.Expiry.Time())
	}
	if claims.SHA != pki.Fingerprint(p.root) {
		t.Errorf("sha = %q, want the root's fingerprint", claims.SHA)
	}
	sum := sha256.Sum256(csr.Raw)
	if claims.Confirmation.CSRFingerprint != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Errorf("cnf does not bind the CSR")
	}
	if len(claims.ID) < 32 {
		t.Errorf("jti %q is shorter than 128 bits", claims.ID)
	}

	// The claims the template reads.
	if claims.GrantID != testID.GrantID || claims.SubjectUserID != testID.SubjectUserID ||
		claims.CommonName != "peer-b-chose" {
		t.Errorf("identity claims = %q %q %q", claims.GrantID, claims.SubjectUserID,
			claims.CommonName)
	}
	serial, ok := new(big.Int).SetString(strings.TrimPrefix(claims.Serial, "0x"), 16)
	if !strings.HasPrefix(claims.Serial, "0x") || !ok || serial.BitLen() < 128 ||
		serial.BitLen() > 159 {
		t.Errorf("serial claim %q is not a 128 to 159 bit hex number", claims.Serial)
	}

	// Every token is new.
	again, err := c.token(req)
	if err != nil {
		t.Fatal(err)
	}
	_, second := parseToken(t, c, again)
	if second.ID == claims.ID || second.Serial == claims.Serial {
		t.Errorf("two tokens share jti %q or serial %q", claims.ID, claims.Serial)
	}
}

func TestTokenAudienceKeepsPathPrefix(t *testing.T) {
	p := newTestPKI(t)
	c := newTestClient(t, p, "https://ca.example/step/", 0)
	_, csr := testCSR(t, nil)
	ott, err := c.token(testRequest(csr))
	if err != nil {
		t.Fatal(err)
	}
	_, claims := parseToken(t, c, ott)
	if !slices.Equal([]string(claims.Audience), []string{"https://ca.example/step/1.0/sign"}) {
		t.Errorf("aud = %q", claims.Audience)
	}
}

func TestCSRNames(t *testing.T) {
	uri, _ := url.Parse("spiffe://example.org/peer")
	tests := []struct {
		name     string
		csr      *x509.CertificateRequest
		wantSub  string
		wantSANs []string
	}{
		{"common name only", &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a"}},
			"a", []string{"a"}},
		{"no common name", &x509.CertificateRequest{}, "b-chose", []string{"b-chose"}},
		{"every kind of SAN", &x509.CertificateRequest{
			Subject:        pkix.Name{CommonName: "a"},
			DNSNames:       []string{"a.example", "b.example"},
			IPAddresses:    []net.IP{net.IPv4(192, 0, 2, 1)},
			EmailAddresses: []string{"x@example.org"},
			URIs:           []*url.URL{uri},
		}, "a", []string{"a.example", "b.example", "192.0.2.1", "x@example.org",
			"spiffe://example.org/peer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, sans := csrNames(tt.csr, "b-chose")
			if sub != tt.wantSub || !slices.Equal(sans, tt.wantSANs) {
				t.Errorf("csrNames = %q %q, want %q %q", sub, sans, tt.wantSub, tt.wantSANs)
			}
		})
	}
}
