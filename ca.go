package mosaic

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"time"
)

// Identity is who a peer certificate speaks for: one grant and its subject
// user. Both are carried in the certificate as extensions.
type Identity struct {
	GrantID       string
	SubjectUserID string
}

// Object identifiers of the identity extensions. Each holds a DER UTF8String
// with the id's text and is non-critical.
var (
	OIDGrantID       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
	OIDSubjectUserID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}
)

// SignRequest asks a CA for a peer's client certificate.
type SignRequest struct {
	// CSR has already passed the enrollment checks; only its public key is
	// used.
	CSR *x509.CertificateRequest
	// CommonName is the subject we chose for the peer.
	CommonName string
	Identity   Identity
	// Lifetime is how long the certificate should be valid; zero means the
	// CA's default.
	Lifetime time.Duration
}

// IssuedCert is what a CA returns: the certificate, the intermediates
// between it and a root (leaf excluded), and the roots.
type IssuedCert struct {
	Cert          *x509.Certificate
	Intermediates []*x509.Certificate
	Roots         []*x509.Certificate
}

// CA issues peer certificates. Sign errors are KindUpstream or
// KindUnavailable when the CA could not be reached or refused, so the
// caller can release its token claim.
type CA interface {
	// Sign issues a client certificate for the request.
	Sign(ctx context.Context, req SignRequest) (*IssuedCert, error)
	// ClientRoots returns the roots that certificates from Sign chain to;
	// the federation listener trusts exactly these for client certificates.
	ClientRoots(ctx context.Context) ([]*x509.Certificate, error)
}

// Sealer encrypts values at rest. The additional data binds a sealed value
// to its place (such as a row id): opening it elsewhere fails.
type Sealer interface {
	// Seal encrypts plaintext bound to aad.
	Seal(plaintext, aad []byte) ([]byte, error)
	// Open decrypts sealed bound to aad. A wrong secret, a tampered value
	// or a different aad is an error, never a partial result.
	Open(sealed, aad []byte) ([]byte, error)
}
