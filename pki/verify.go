package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/mosaicgw/mosaic"
)

// publicKey is what every public key of the standard library implements.
type publicKey interface {
	Equal(crypto.PublicKey) bool
}

// VerifyIssued checks a certificate a CA issued for csr before the gateway
// trusts it, the same way for every CA backend: both identity extensions
// present and equal to want, the CSR's public key, a chain to ic.Roots
// through ic.Intermediates valid at now for client authentication, extended
// key usage exactly client authentication, not a CA, and a notAfter later
// than now. Errors are KindUpstream with code "issued_cert_invalid" and a
// message naming the check that failed.
func VerifyIssued(ic *mosaic.IssuedCert, csr *x509.CertificateRequest, want mosaic.Identity,
	now time.Time) error {
	if ic == nil || ic.Cert == nil {
		return issuedError("no certificate", nil)
	}
	if csr == nil {
		return issuedError("no CSR to compare with", nil)
	}
	cert := ic.Cert

	got, err := ParseIdentity(cert)
	if err != nil {
		return issuedError("identity extensions", err)
	}
	if got != want {
		return issuedError("identity extensions do not name the grant and user", nil)
	}
	if !sameKey(cert.PublicKey, csr.PublicKey) {
		return issuedError("public key is not the CSR's", nil)
	}
	if err := checkClientLeaf(cert, now); err != nil {
		return issuedError(err.Error(), nil)
	}
	if len(ic.Roots) == 0 {
		return issuedError("no roots to verify the chain", nil)
	}
	if err := verifyChainAnchored(cert, ic.Intermediates, ic.Roots, now); err != nil {
		return issuedError("chain does not verify", err)
	}
	return nil
}

// issuedError is the error of VerifyIssued.
func issuedError(check string, err error) error {
	return mosaic.WrapError(mosaic.KindUpstream, "issued_cert_invalid",
		"issued certificate invalid: "+check, err)
}

// sameKey reports whether a and b are the same public key.
func sameKey(a, b crypto.PublicKey) bool {
	k, ok := a.(publicKey)
	return ok && b != nil && k.Equal(b)
}

// checkClientLeaf checks what a peer client certificate must be on its own:
// extended key usage exactly client authentication, not a CA, no right to
// sign certificates, and not expired at now.
func checkClientLeaf(cert *x509.Certificate, now time.Time) error {
	eku := cert.ExtKeyUsage
	if len(eku) != 1 || eku[0] != x509.ExtKeyUsageClientAuth || len(cert.UnknownExtKeyUsage) != 0 {
		return fmt.Errorf("extended key usage is not exactly client authentication")
	}
	if cert.IsCA || cert.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 {
		return fmt.Errorf("certificate is a CA")
	}
	if !cert.NotAfter.After(now) {
		return fmt.Errorf("certificate expired at %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// verifyChain verifies cert for client authentication at now, through
// intermediates, to one of roots.
func verifyChain(cert *x509.Certificate, intermediates, roots []*x509.Certificate,
	now time.Time) error {
	opts := x509.VerifyOptions{
		Roots:         NewPool(roots...),
		Intermediates: NewPool(intermediates...),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	_, err := cert.Verify(opts)
	return err
}

// NewPool returns a certificate pool holding certs.
func NewPool(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// VerifyPeerCert checks the certificate a grantor issued to this gateway
// before it is stored (the peer side of an enrollment). leaf is the issued
// certificate; chain holds the certificates that came with it (intermediates
// and roots, in any order, such as certChainPem and caPem together); pin is
// the CA pin taken at enrollment; ourKey is the public key of the key pair we
// made the CSR with. The leaf must carry ourKey and both identity extensions,
// be a client certificate valid at now, chain must hold the certificate
// whose pin equals pin, and the leaf must chain through the certificates of
// chain either to that pinned CA or to a root CA certificate (self-signed)
// found in chain. The second case is a grantor whose client certificates
// come from another CA than its pinned one, such as step-ca: its root
// arrives in certChainPem, over the connection the pin authenticated. It
// returns the identity the certificate carries. Errors are KindInvalid with
// code "peer_cert_invalid" and a message naming the failed check.
func VerifyPeerCert(leaf *x509.Certificate, chain []*x509.Certificate, pin string,
	ourKey crypto.PublicKey, now time.Time) (mosaic.Identity, error) {
	if leaf == nil {
		return mosaic.Identity{}, peerCertError("no certificate", nil)
	}
	digest, err := ParsePin(pin)
	if err != nil {
		return mosaic.Identity{}, err
	}
	if !sameKey(leaf.PublicKey, ourKey) {
		return mosaic.Identity{}, peerCertError("certificate is not for our key", nil)
	}
	id, err := ParseIdentity(leaf)
	if err != nil {
		return mosaic.Identity{}, peerCertError("identity extensions: "+mosaic.ErrorMessage(err), err)
	}
	if err := checkClientLeaf(leaf, now); err != nil {
		return mosaic.Identity{}, peerCertError(err.Error(), nil)
	}

	// The pinned certificate and the root CAs that came with it are the
	// trust anchors; the others may only be intermediates on the way.
	var anchors, others []*x509.Certificate
	pinned := false
	for _, c := range chain {
		switch {
		case MatchesPin(c, digest):
			pinned = true
			anchors = append(anchors, c)
		case isRootCA(c):
			anchors = append(anchors, c)
		default:
			others = append(others, c)
		}
	}
	if !pinned {
		return mosaic.Identity{}, peerCertError("no certificate in the chain matches the CA pin", nil)
	}
	if err := verifyChain(leaf, others, anchors, now); err != nil {
		return mosaic.Identity{}, peerCertError(
			"chain does not verify to the pinned CA or a root in the chain", err)
	}
	return id, nil
}

// isRootCA reports whether cert is a root CA certificate: a CA that names
// itself as issuer and whose own key verifies its signature. Only such a
// certificate may anchor a chain besides the pinned one; a self-signed
// certificate that is not a CA (such as a self-signed leaf) may not.
func isRootCA(cert *x509.Certificate) bool {
	return cert.BasicConstraintsValid && cert.IsCA &&
		bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil
}

// peerCertError is the error of VerifyPeerCert.
func peerCertError(check string, err error) error {
	return mosaic.WrapError(mosaic.KindInvalid, "peer_cert_invalid",
		"peer certificate invalid: "+check, err)
}
