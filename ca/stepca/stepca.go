// Package stepca is the certificate authority backend that has a step-ca
// server issue peer certificates. For each certificate the gateway signs a
// one-time token for step-ca's JWK provisioner that carries the grant id,
// the subject user id and the subject chosen for the peer as claims, and
// posts it with the peer's CSR to step-ca's sign endpoint. The provisioner's
// X.509 template (deploy/step-ca/federation.tpl) turns those claims into the
// certificate; the gateway then checks the result with pki.VerifyIssued like
// any other CA's. Every connection to step-ca is TLS verified against the
// configured root and nothing else.
package stepca

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// DefaultProvisioner is the name of the JWK provisioner when none is
// configured.
const DefaultProvisioner = "mosaic-fed"

// DefaultTimeout bounds each call to step-ca when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// signPath is the path of step-ca's sign endpoint under its URL. The token's
// audience is the URL of this endpoint.
const signPath = "/1.0/sign"

// Config is what a CA needs to reach step-ca.
type Config struct {
	// URL is step-ca's base URL, such as https://ca.example:9000. It must be
	// https; a path prefix is kept.
	URL string
	// ProvisionerName is the name of the JWK provisioner; empty means
	// DefaultProvisioner.
	ProvisionerName string
	// ProvisionerKeyJSON is the provisioner's private key, a JSON Web Key of
	// type EC on P-256. It is a secret.
	ProvisionerKeyJSON []byte
	// RootPEM is step-ca's root certificate, the one trust anchor of both
	// the TLS connection to step-ca and the certificates it issues.
	RootPEM []byte
	// Timeout bounds each call to step-ca, connecting included; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Now is the clock the tokens are dated by; nil means time.Now.
	Now func() time.Time
}

// String describes the configuration without the provisioner key.
func (c Config) String() string {
	return fmt.Sprintf("stepca.Config{URL: %q, ProvisionerName: %q, ProvisionerKeyJSON: [redacted], "+
		"RootPEM: %d bytes, Timeout: %s}", c.URL, c.ProvisionerName, len(c.RootPEM), c.Timeout)
}

// GoString is String, so that %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

// CA issues peer certificates through step-ca. It implements mosaic.CA and
// is safe for concurrent use.
type CA struct {
	base        string // URL without a trailing slash
	provisioner string
	key         *ecdsa.PrivateKey
	kid         string
	root        *x509.Certificate
	rootSHA     string // hex SHA-256 of the root's DER
	timeout     time.Duration
	now         func() time.Time
	client      *http.Client
}

var _ mosaic.CA = (*CA)(nil)

// New checks cfg and returns a CA. It does not contact step-ca; Health and
// CheckRoot do. Errors name the setting that is wrong and never contain the
// provisioner key.
func New(cfg Config) (*CA, error) {
	base, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	name := cfg.ProvisionerName
	if name == "" {
		name = DefaultProvisioner
	}
	key, kid, err := parseProvisionerKey(cfg.ProvisionerKeyJSON)
	if err != nil {
		return nil, err
	}
	root, err := parseRoot(cfg.RootPEM)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	switch {
	case timeout < 0:
		return nil, fmt.Errorf("stepca: timeout %s is negative", timeout)
	case timeout == 0:
		timeout = DefaultTimeout
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &CA{
		base:        base,
		provisioner: name,
		key:         key,
		kid:         kid,
		root:        root,
		rootSHA:     pki.Fingerprint(root),
		timeout:     timeout,
		now:         now,
		client:      newClient(root, timeout),
	}, nil
}

// parseURL checks step-ca's URL and returns it without a trailing slash.
func parseURL(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("stepca: the step-ca URL is not set")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("stepca: step-ca URL %q does not parse: %w", raw, err)
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("stepca: step-ca URL %q must start with https://", raw)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("stepca: step-ca URL %q has no host", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("stepca: step-ca URL %q may not carry user, query or fragment", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// newClient returns the HTTP client for step-ca: TLS 1.2 or later verified
// against root alone, no proxy, no redirects, every phase bounded by
// timeout.
func newClient(root *x509.Certificate, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			RootCAs:    pki.NewPool(root),
			MinVersion: tls.VersionTLS12,
		},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// ClientRoots returns step-ca's root, the one trust anchor of the
// certificates Sign issues.
func (c *CA) ClientRoots(_ context.Context) ([]*x509.Certificate, error) {
	return []*x509.Certificate{c.root}, nil
}

// Root returns step-ca's root certificate as configured.
func (c *CA) Root() *x509.Certificate { return c.root }

// URL returns step-ca's base URL.
func (c *CA) URL() string { return c.base }

// Provisioner returns the name of the JWK provisioner tokens are signed for.
func (c *CA) Provisioner() string { return c.provisioner }

// Close releases idle connections to step-ca.
func (c *CA) Close() { c.client.CloseIdleConnections() }
