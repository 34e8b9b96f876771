package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
)

// doctorTimeout bounds each network check of Doctor.
const doctorTimeout = 5 * time.Second

// Doctor checks a gateway from outside, as an operator would: the secret
// (and the previous one during a rotation) is present, the admin listener
// answers and reports itself ready (the database, its schema, the CA, the
// TLS certificate and the key versions of the sealed values, counted
// afresh), the federation listener serves a TLS certificate that chains to
// the CA it publishes, and our certificates from outbound peers are renewed
// in time (see peerChecks). It reads admin.json in the data directory for
// the addresses and the admin token, and changes nothing.
func Doctor(ctx context.Context, cfg Config) mosaic.Checks {
	cfg = cfg.withDefaults()
	checks := mosaic.Checks{secretCheck(cfg)}

	info, err := ReadAdminFile(filepath.Join(cfg.DataDir, AdminFile))
	if err != nil {
		checks = append(checks, previousSecretChecks(cfg, mosaic.Check{})...)
		return append(checks, mosaic.Check{Name: "admin_file", Status: mosaic.CheckFail,
			Reason: "cannot read " + filepath.Join(cfg.DataDir, AdminFile) + "; has the gateway run?"})
	}
	ready := readyChecks(ctx, info)
	checks = append(checks, previousSecretChecks(cfg, findCheck(ready, checkSealing))...)
	checks = append(checks, ready...)

	publicURL := info.PublicURL
	if cfg.PublicURL != "" {
		publicURL = cfg.PublicURL
	}
	checks = append(checks, federationChecks(ctx, publicURL)...)
	if ready[0].Status == mosaic.CheckOK {
		checks = append(checks, peerChecks(ctx, info, time.Now())...)
	}
	return checks
}

// findCheck returns the check named name, or a zero Check.
func findCheck(checks mosaic.Checks, name string) mosaic.Check {
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	return mosaic.Check{}
}

// secretCheck reports where the sealing secret would come from.
func secretCheck(cfg Config) mosaic.Check {
	c := mosaic.Check{Name: "secret", Status: mosaic.CheckOK}
	for _, name := range []string{seal.EnvSecret, seal.EnvSecretAlias} {
		if v := cfg.Env(name); v != "" {
			if len(v) < seal.MinSecretLen {
				c.Status, c.Reason = mosaic.CheckFail, name+" is shorter than 32 bytes"
				return c
			}
			c.Reason = "from " + name
			return c
		}
	}
	path := filepath.Join(cfg.DataDir, seal.SecretFileName)
	st, err := os.Stat(path)
	switch {
	case err != nil:
		// The gateway may have the secret in its own environment, as
		// replicas do; readiness then shows the CA unsealed.
		c.Status, c.Reason = mosaic.CheckWarn, "no "+seal.EnvSecret+" in this environment and no "+
			path+"; fine if the gateway gets "+seal.EnvSecret+" from its own environment"
	case st.Mode().Perm()&0o077 != 0:
		c.Status, c.Reason = mosaic.CheckFail, path+" is readable by other users"
	default:
		c.Reason = "from " + path
	}
	return c
}

// readyChecks asks the admin listener for its readiness checks, made
// fresh: the sealed values counted now rather than in the background
// earlier, which the admin token allows.
func readyChecks(ctx context.Context, info *AdminInfo) mosaic.Checks {
	adminURL := info.AdminURL
	fail := func(reason string) mosaic.Checks {
		return mosaic.Checks{{Name: "admin_listener", Status: mosaic.CheckFail, Reason: reason}}
	}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		adminURL+httpapi.FreshReadinessPath, nil)
	if err != nil {
		return fail("bad admin URL in admin.json")
	}
	req.Header.Set("Authorization", "Bearer "+info.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fail("no answer at " + adminURL)
	}
	defer resp.Body.Close()
	var body struct {
		Checks mosaic.Checks `json:"checks"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return fail(fmt.Sprintf("unreadable readiness answer (HTTP %d) at %s", resp.StatusCode, adminURL))
	}
	ok := mosaic.Check{Name: "admin_listener", Status: mosaic.CheckOK, Reason: "answering at " + adminURL}
	return append(mosaic.Checks{ok}, body.Checks...)
}

// federationChecks connects to the federation listener, fetches the CA it
// publishes and checks the TLS certificate it serves against that CA.
func federationChecks(ctx context.Context, publicURL string) mosaic.Checks {
	fail := func(reason string) mosaic.Checks {
		return mosaic.Checks{{Name: "federation_listener", Status: mosaic.CheckFail, Reason: reason}}
	}
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return fail("no public URL known; pass --public-url")
	}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()

	// The CA chain is public; fetch it without trusting anything yet.
	insecure := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
	}}
	defer insecure.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+u.Host+"/api/federation/ca", nil)
	resp, err := insecure.Do(req)
	if err != nil {
		return fail("no TLS answer at " + u.Host)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	chain, err := pki.ParseCerts(string(data))
	if err != nil || len(chain) == 0 || resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return fail("no CA chain served at " + u.Host)
	}

	now := time.Now()
	checks := mosaic.Checks{{Name: "federation_listener", Status: mosaic.CheckOK,
		Reason: "TLS at " + u.Host + ", " + tls.VersionName(resp.TLS.Version)}}
	checks = append(checks, certCheck("ca_root", chain[0], now, caWarnLeft))
	leaf := resp.TLS.PeerCertificates[0]
	served := certCheck("served_tls_certificate", leaf, now, tlsWarnLeft)
	if err := verifyServed(leaf, resp.TLS.PeerCertificates[1:], chain, u.Hostname()); err != nil {
		served.Status, served.Reason = mosaic.CheckFail, err.Error()
	}
	return append(checks, served)
}

// verifyServed checks that the TLS certificate the listener serves is valid
// for host and chains to the CA it publishes.
func verifyServed(leaf *x509.Certificate, inter, ca []*x509.Certificate, host string) error {
	pool := x509.NewCertPool()
	for _, c := range ca {
		pool.AddCert(c)
	}
	inters := x509.NewCertPool()
	for _, c := range inter {
		inters.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, Intermediates: inters})
	if err != nil {
		return fmt.Errorf("does not verify against the published CA for %s: %v", host, err)
	}
	return nil
}
