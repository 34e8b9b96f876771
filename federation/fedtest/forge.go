package fedtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/pki"
)

// intermediateAAD is the additional data the embedded CA seals its
// intermediate key with. If the CA changes it, Forge fails loudly.
const intermediateAAD = "mosaic/key/" + embedded.KeyIntermediate

// ClientTemplate returns the template of a client certificate as the CA
// issues them (client authentication only, not a CA, valid from an hour ago
// for a day) carrying the identity extensions of id, or none when id is
// the zero Identity.
func ClientTemplate(t testing.TB, id mosaic.Identity) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "forged peer"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if id != (mosaic.Identity{}) {
		exts, err := pki.IdentityExtensions(id)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = exts
	}
	return tmpl
}

// Forged is a certificate made for a test, with its key.
type Forged struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Forge signs tmpl with a fresh key for it, using the gateway's real
// intermediate key: the certificate chains to the CA's root like one the CA
// issued, but carries whatever the test put in the template, which the CA
// itself would never issue.
func (g *Gateway) Forge(t testing.TB, tmpl *x509.Certificate) *Forged {
	t.Helper()
	sk, err := g.Store.GetKey(context.Background(), embedded.KeyIntermediate)
	if err != nil {
		t.Fatalf("read the intermediate: %v", err)
	}
	der, err := g.Sealer.Open(sk.SealedKey, []byte(intermediateAAD))
	if err != nil {
		t.Fatalf("unseal the intermediate key: %v", err)
	}
	signer, err := pki.ParsePrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return SignWith(t, tmpl, g.CA.Intermediate(), signer)
}

// SignWith signs tmpl with a fresh key for it, by parent's key signer.
func SignWith(t testing.TB, tmpl, parent *x509.Certificate, signer *ecdsa.PrivateKey) *Forged {
	t.Helper()
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Forged{Cert: cert, Key: key}
}

// Chain returns the forged leaf followed by intermediates, as a client
// would present them.
func (f *Forged) Chain(intermediates ...*x509.Certificate) []*x509.Certificate {
	return append([]*x509.Certificate{f.Cert}, intermediates...)
}

// TLS returns the forged certificate as a TLS client certificate that sends
// intermediates after the leaf.
func (f *Forged) TLS(intermediates ...*x509.Certificate) tls.Certificate {
	c := tls.Certificate{Certificate: [][]byte{f.Cert.Raw}, PrivateKey: f.Key, Leaf: f.Cert}
	for _, x := range intermediates {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}
