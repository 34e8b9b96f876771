package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/mosaicgw/mosaic/pki"
)

// DefaultCAReloadInterval is how often a running gateway reads the embedded
// CA's signing intermediate again, to pick up a rotation made by
// "mosaic gateway rotate-ca" or another replica, when neither
// Config.CAReloadInterval nor EnvCAReloadInterval says otherwise.
const DefaultCAReloadInterval = time.Minute

// EnvCAReloadInterval names the environment variable that sets the CA
// reload interval (a Go duration such as "30s") when
// Config.CAReloadInterval is zero.
const EnvCAReloadInterval = "MOSAIC_CA_RELOAD_INTERVAL"

// caReloadInterval returns the CA reload interval: the one configured,
// else the one of EnvCAReloadInterval, else the default.
func (c Config) caReloadInterval() (time.Duration, error) {
	if c.CAReloadInterval != 0 {
		if c.CAReloadInterval < 0 {
			return 0, fmt.Errorf("gateway: CA reload interval %s: must be positive",
				c.CAReloadInterval)
		}
		return c.CAReloadInterval, nil
	}
	v := strings.TrimSpace(c.Env(EnvCAReloadInterval))
	if v == "" {
		return DefaultCAReloadInterval, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("gateway: %s %q: want a positive duration such as 30s",
			EnvCAReloadInterval, v)
	}
	return d, nil
}

// loadServerCert gets the federation listener's TLS certificate for the
// public URL's host from the embedded CA (the stored one while it is the
// signing intermediate's, else a new one) and serves it from then on.
func (g *gw) loadServerCert(ctx context.Context) error {
	u, err := url.Parse(g.publicURL)
	if err != nil {
		return fmt.Errorf("gateway: TLS certificate: public URL: %w", err)
	}
	cert, err := g.ca.ServerCertificate(ctx, g.store, g.sealer, u.Hostname())
	if err != nil {
		return fmt.Errorf("gateway: TLS certificate: %w", err)
	}
	g.serverCert.Store(cert)
	return nil
}

// startCAReloader reloads the embedded CA every interval until ctx ends,
// and returns a function that stops it and waits for it to finish.
func (g *gw) startCAReloader(ctx context.Context, interval time.Duration) (stop func()) {
	return every(ctx, interval, g.reloadCA)
}

// reloadCA reads the embedded CA's signing intermediate again. When it
// changed, new peer certificates come from the new one at once, and the
// federation listener's TLS certificate is reissued from it for the
// handshakes that follow; connections already open keep theirs. A failure
// keeps what was in use and is tried again at the next tick.
func (g *gw) reloadCA(ctx context.Context) {
	changed, err := g.ca.Reload(ctx)
	if err != nil {
		if ctx.Err() == nil {
			g.log.Warn("CA reload failed; signing with the intermediate loaded before",
				slog.String("error", err.Error()))
		}
		return
	}
	inter := g.ca.Intermediate()
	if changed {
		g.log.Info("CA rotated: signing with a new intermediate",
			slog.String("intermediate_serial", pki.SerialHex(inter)),
			slog.Time("not_after", inter.NotAfter.UTC()))
	}
	if g.serverCert.Load().Leaf.CheckSignatureFrom(inter) == nil {
		return
	}
	if err := g.loadServerCert(ctx); err != nil {
		if ctx.Err() == nil {
			g.log.Warn("TLS certificate not reissued after a CA rotation; serving the previous one",
				slog.String("error", err.Error()))
		}
		return
	}
	leaf := g.serverCert.Load().Leaf
	g.log.Info("federation TLS certificate reissued by the new intermediate",
		slog.String("cert_serial", pki.SerialHex(leaf)),
		slog.Time("not_after", leaf.NotAfter.UTC()))
}
