package remote

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"net/http"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// FetchPinnedCA fetches a gateway's CA bundle from baseURL and finds in it
// the certificate whose SubjectPublicKeyInfo hashes to pin ("sha256:<hex>"):
// the trust anchor for every later call to that gateway. It returns every
// certificate of the bundle and the anchor.
//
// The bundle is public, so it is fetched without verifying the server
// (client nil means a client that does just that); the pin is what makes it
// trustworthy. No certificate matching the pin is KindInvalid "pin_mismatch",
// and a pinned certificate that is not a CA is KindInvalid "pin_not_ca". A
// bundle that does not parse strictly is KindUpstream "invalid_ca_bundle";
// a network or TLS failure is KindUpstream "peer_unreachable".
func FetchPinnedCA(ctx context.Context, baseURL, pin string, client *http.Client) (
	[]*x509.Certificate, *x509.Certificate, error) {
	digest, err := pki.ParsePin(pin)
	if err != nil {
		return nil, nil, err
	}
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, nil, err
	}
	if client == nil {
		client = newHTTPClient(&tls.Config{
			MinVersion: tls.VersionTLS12,
			// The bundle is checked against the pin below instead.
			InsecureSkipVerify: true,
		}, enrollTimeout)
		defer client.CloseIdleConnections()
	}

	certs, err := fetchCABundle(ctx, client, base)
	if err != nil {
		return nil, nil, err
	}
	anchor := findPinned(certs, digest)
	if anchor == nil {
		return nil, nil, mosaic.Errorf(mosaic.KindInvalid, "pin_mismatch",
			"no certificate of the remote gateway's CA matches the pin")
	}
	if !anchor.BasicConstraintsValid || !anchor.IsCA {
		return nil, nil, mosaic.Errorf(mosaic.KindInvalid, "pin_not_ca",
			"the pinned certificate of the remote gateway is not a CA")
	}
	return certs, anchor, nil
}

// fetchCABundle gets and strictly parses the CA bundle of the gateway at
// base.
func fetchCABundle(ctx context.Context, client *http.Client, base string) (
	[]*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+caPath, nil)
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindInvalid, "invalid_base_url",
			"remote gateway URL is not usable", err)
	}
	req.Header.Set("Accept", "application/pem-certificate-chain")
	resp, err := client.Do(req)
	if err != nil {
		return nil, unreachable(err)
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body, maxSmallBody)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, DecodeError(resp.StatusCode, body)
	}

	certs, err := pki.ParseCerts(string(body))
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindUpstream, "invalid_ca_bundle",
			"the remote gateway's CA bundle is malformed: "+mosaic.ErrorMessage(err), err)
	}
	return certs, nil
}

// findPinned returns the first certificate whose SubjectPublicKeyInfo
// hashes to digest, or nil.
func findPinned(certs []*x509.Certificate, digest []byte) *x509.Certificate {
	for _, c := range certs {
		if subtle.ConstantTimeCompare(pinDigest(c), digest) == 1 {
			return c
		}
	}
	return nil
}

// pinDigest returns the SHA-256 of cert's SubjectPublicKeyInfo, the digest
// a pin names.
func pinDigest(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return sum[:]
}
