package embedded

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// Server certificate lifetime, and how long before its end it is replaced.
const (
	serverLifetime    = 365 * 24 * time.Hour
	serverRenewBefore = 30 * 24 * time.Hour
)

// ServerCertificate returns the federation listener's TLS certificate for
// host, a DNS name or an IP address without port. The certificate is issued
// by the signing intermediate for server authentication, names host alone
// (as an IP or DNS subject alternative name) and lasts a year. It is kept in
// keys under KeyTLSServer with its key sealed, and reused while it names the
// same host, was issued by the signing intermediate and has more than 30
// days left; otherwise a new one replaces it. After a rotation the next
// call thus issues one from the new intermediate. The result holds the leaf
// and its intermediate, with Leaf set.
func (c *CA) ServerCertificate(ctx context.Context, keys mosaic.KeyStore, sealer mosaic.Sealer,
	host string) (*tls.Certificate, error) {
	ip, dns, err := parseHost(host)
	if err != nil {
		return nil, err
	}
	now, s := c.opts.Now(), c.cur.Load()

	sk, err := keys.GetKey(ctx, KeyTLSServer)
	switch {
	case err == nil:
		cert, key, err := reusable(s.inter, sealer, sk, ip, dns, now)
		if err != nil {
			return nil, err
		}
		if cert != nil {
			return tlsCertificate(cert, key, s.inter), nil
		}
	case !mosaic.IsKind(err, mosaic.KindNotFound):
		return nil, fmt.Errorf("embedded ca: read %s: %w", KeyTLSServer, err)
	}

	cert, key, err := c.issueServer(s, ip, dns, now)
	if err != nil {
		return nil, err
	}
	fresh, err := sealKey(sealer, KeyTLSServer, cert, key, now)
	if err != nil {
		return nil, err
	}
	// TODO(tls-server): replicas that serve different host names share one
	// stored certificate and replace each other's at every start; a key
	// name per host would let each keep its own.
	if err := keys.PutKey(ctx, fresh); err != nil {
		return nil, fmt.Errorf("embedded ca: store %s: %w", KeyTLSServer, err)
	}
	return tlsCertificate(cert, key, s.inter), nil
}

// parseHost splits host into an IP address or a DNS name.
func parseHost(host string) (net.IP, string, error) {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip := net.ParseIP(h); ip != nil {
		return ip, "", nil
	}
	dns := strings.ToLower(strings.TrimSuffix(h, "."))
	if dns == "" || len(dns) > 253 || strings.ContainsAny(dns, ":/ \t\r\n[]@*") {
		return nil, "", mosaic.Errorf(mosaic.KindInvalid, "invalid_host",
			"server host %q is not a DNS name or IP address", host)
	}
	return nil, dns, nil
}

// reusable returns the stored server certificate and its key if it can
// still be served for the host: issued by inter, naming the host alone, and
// more than serverRenewBefore from its end. A certificate that can be
// reused but whose key does not unseal is an error, not a reason to replace
// it silently.
func reusable(inter *x509.Certificate, sealer mosaic.Sealer, sk *mosaic.StoredKey, ip net.IP,
	dns string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := storedCert(sk)
	if err != nil || !servesHost(cert, ip, dns) {
		return nil, nil, nil
	}
	if cert.CheckSignatureFrom(inter) != nil || cert.NotAfter.Sub(now) <= serverRenewBefore {
		return nil, nil, nil
	}
	cert, key, err := openKey(sealer, sk)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// servesHost reports whether cert names exactly the host and nothing else.
func servesHost(cert *x509.Certificate, ip net.IP, dns string) bool {
	if ip != nil {
		return len(cert.DNSNames) == 0 && len(cert.IPAddresses) == 1 && cert.IPAddresses[0].Equal(ip)
	}
	return len(cert.IPAddresses) == 0 && slices.Equal(cert.DNSNames, []string{dns})
}

// issueServer makes a new server key and certificate for the host, signed
// by s.
func (c *CA) issueServer(s *signer, ip net.IP, dns string,
	now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := pki.GenerateKey()
	if err != nil {
		return nil, nil, fmt.Errorf("embedded ca: server key: %w", err)
	}
	serial, err := pki.NewSerial(c.opts.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded ca: server certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             now.Add(-ClockSkew),
		NotAfter:              minTime(now.Add(serverLifetime), s.inter.NotAfter),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if ip != nil {
		tmpl.Subject = pkix.Name{CommonName: ip.String()}
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.Subject = pkix.Name{CommonName: dns}
		tmpl.DNSNames = []string{dns}
	}
	cert, err := createCert(c.opts.Rand, tmpl, s.inter, &key.PublicKey, s.key)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded ca: server certificate: %w", err)
	}
	return cert, key, nil
}

// tlsCertificate assembles what a TLS listener serves: leaf, intermediate.
func tlsCertificate(cert *x509.Certificate, key *ecdsa.PrivateKey,
	inter *x509.Certificate) *tls.Certificate {
	return &tls.Certificate{
		Certificate: [][]byte{cert.Raw, inter.Raw},
		PrivateKey:  key,
		Leaf:        cert,
	}
}
