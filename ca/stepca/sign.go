package stepca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// signRequest is the body of POST /1.0/sign.
type signRequest struct {
	CSR      string `json:"csr"`
	OTT      string `json:"ott"`
	NotAfter string `json:"notAfter,omitempty"`
}

// signResponse is step-ca's answer to a sign request: the leaf, its issuer,
// and the chain from the leaf up to (not including) the root.
type signResponse struct {
	Crt       string   `json:"crt"`
	CA        string   `json:"ca"`
	CertChain []string `json:"certChain"`
}

// Sign has step-ca issue a peer's client certificate. The one-time token
// carries the identity and the subject; the provisioner's template decides
// everything else, and the gateway verifies the result afterwards
// (pki.VerifyIssued). The answer holds the leaf, the intermediates step-ca
// sent and the configured root. Errors: an unusable request is
// KindInvalid; step-ca unreachable, too slow or overloaded is KindUnavailable
// "ca_unavailable"; step-ca refusing the token is KindUpstream "ca_refused";
// any other failure is KindUpstream "ca_failed". No error contains the token.
func (c *CA) Sign(ctx context.Context, req mosaic.SignRequest) (*mosaic.IssuedCert, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	ott, err := c.token(req)
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindUpstream, "ca_failed",
			"cannot make a token for step-ca", err)
	}
	body := signRequest{
		CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: req.CSR.Raw})),
		OTT: ott,
	}
	if req.Lifetime > 0 {
		body.NotAfter = req.Lifetime.String()
	}

	var resp signResponse
	if err := c.call(ctx, http.MethodPost, signPath, body, ott, &resp); err != nil {
		return nil, err
	}
	ic, err := c.issued(&resp)
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindUpstream, "ca_failed",
			"step-ca's answer is not usable", err)
	}
	return ic, nil
}

// checkRequest checks what Sign needs from a request before anything is
// signed: a subject, a CSR with a P-256 key, a lifetime that is not
// negative, and identity values that can go into the extensions.
func checkRequest(req mosaic.SignRequest) error {
	if req.CommonName == "" {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_common_name", "common name is empty")
	}
	if req.CSR == nil || len(req.CSR.Raw) == 0 {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_csr", "no CSR")
	}
	pub, ok := req.CSR.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return mosaic.Errorf(mosaic.KindInvalid, "csr_key_unsupported",
			"CSR key is %s, only ECDSA P-256 is accepted", req.CSR.PublicKeyAlgorithm)
	}
	if req.Lifetime < 0 {
		return mosaic.Errorf(mosaic.KindInvalid, "invalid_lifetime",
			"certificate lifetime %s is negative", req.Lifetime)
	}
	_, err := pki.IdentityExtensions(req.Identity)
	return err
}

// issued turns step-ca's answer into an IssuedCert: the leaf, the
// certificates of the chain that are neither the leaf nor a self-signed
// root, and the configured root (never one step-ca sent). A leaf that
// outlives its issuer is refused: peers could not use it to its end.
func (c *CA) issued(resp *signResponse) (*mosaic.IssuedCert, error) {
	leaf, err := oneCert("crt", resp.Crt)
	if err != nil {
		return nil, err
	}
	chainPEM := resp.CertChain
	if len(chainPEM) == 0 && resp.CA != "" {
		chainPEM = []string{resp.Crt, resp.CA}
	}

	var inters []*x509.Certificate
	for i, text := range chainPEM {
		cert, err := oneCert(fmt.Sprintf("certChain[%d]", i), text)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(cert.Raw, leaf.Raw) || selfSigned(cert) || contains(inters, cert) {
			continue
		}
		inters = append(inters, cert)
	}
	if len(inters) == 0 {
		return nil, fmt.Errorf("step-ca sent no intermediate certificate")
	}
	for _, in := range inters {
		if leaf.NotAfter.After(in.NotAfter) {
			return nil, fmt.Errorf("certificate serial %s ends %s, after its issuer %q (%s)",
				pki.SerialHex(leaf), leaf.NotAfter.UTC().Format(time.RFC3339),
				in.Subject.CommonName, in.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return &mosaic.IssuedCert{
		Cert:          leaf,
		Intermediates: inters,
		Roots:         []*x509.Certificate{c.root},
	}, nil
}

// oneCert parses a field of step-ca's answer that holds one PEM certificate.
func oneCert(field, text string) (*x509.Certificate, error) {
	certs, err := pki.ParseCerts(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%s holds %d certificates, want 1", field, len(certs))
	}
	return certs[0], nil
}

// selfSigned reports whether cert names itself as issuer and its own key
// verifies its signature: a root, not an intermediate.
func selfSigned(cert *x509.Certificate) bool {
	return bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil
}

// contains reports whether certs holds cert.
func contains(certs []*x509.Certificate, cert *x509.Certificate) bool {
	for _, c := range certs {
		if bytes.Equal(c.Raw, cert.Raw) {
			return true
		}
	}
	return false
}
