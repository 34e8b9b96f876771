package embedded

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// sign issues a peer client certificate. Nothing from the CSR but its
// public key goes into it: the subject is req.CommonName alone, the usage is
// client authentication only, the identity extensions carry req.Identity,
// notBefore is backdated by ClockSkew and notAfter never passes the
// intermediate's. The signing intermediate is taken once, so a rotation
// meanwhile cannot mix two.
func (c *CA) sign(req mosaic.SignRequest) (*mosaic.IssuedCert, error) {
	s := c.cur.Load()
	pub, err := signingKey(req)
	if err != nil {
		return nil, err
	}
	exts, err := pki.IdentityExtensions(req.Identity)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter, err := c.validity(s.inter, req.Lifetime)
	if err != nil {
		return nil, err
	}
	serial, err := pki.NewSerial(c.opts.Rand)
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindUpstream, "ca_failed", "cannot draw a serial", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: req.CommonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions:       exts,
	}
	cert, err := createCert(c.opts.Rand, tmpl, s.inter, pub, s.key)
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindUpstream, "ca_failed", "signing failed", err)
	}
	return &mosaic.IssuedCert{
		Cert:          cert,
		Intermediates: []*x509.Certificate{s.inter},
		Roots:         []*x509.Certificate{c.root},
	}, nil
}

// validity returns the validity period of a peer certificate with the
// requested lifetime (zero: the default): from ClockSkew before now to the
// end of the lifetime or the end of inter, whichever comes first.
func (c *CA) validity(inter *x509.Certificate,
	lifetime time.Duration) (time.Time, time.Time, error) {
	if lifetime == 0 {
		lifetime = c.opts.DefaultLifetime
	}
	if lifetime < 0 {
		return time.Time{}, time.Time{}, mosaic.Errorf(mosaic.KindInvalid, "invalid_lifetime",
			"certificate lifetime %s is negative", lifetime)
	}
	now := c.opts.Now()
	notAfter := minTime(now.Add(lifetime), inter.NotAfter)
	if !notAfter.After(now) {
		return time.Time{}, time.Time{}, mosaic.Errorf(mosaic.KindUnavailable, "ca_unavailable",
			"the embedded CA's intermediate certificate has expired")
	}
	return now.Add(-ClockSkew), notAfter, nil
}

// signingKey checks the parts of a request that the certificate is made
// from and returns the public key it will carry.
func signingKey(req mosaic.SignRequest) (*ecdsa.PublicKey, error) {
	if req.CommonName == "" {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_common_name", "common name is empty")
	}
	if req.CSR == nil {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "invalid_csr", "no CSR")
	}
	pub, ok := req.CSR.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, mosaic.Errorf(mosaic.KindInvalid, "csr_key_unsupported",
			"CSR key is %s, only ECDSA P-256 is accepted", req.CSR.PublicKeyAlgorithm)
	}
	return pub, nil
}
