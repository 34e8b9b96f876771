package gateway

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
)

// Validity thresholds below which a certificate check warns.
const (
	caWarnLeft  = 90 * 24 * time.Hour
	tlsWarnLeft = 14 * 24 * time.Hour
)

// readiness runs the checks behind GET /readyz: the database answers, its
// schema is the one this build knows, the CA can sign, the TLS certificate
// is valid, and the sealed values are under the current key version, as
// of the last count or, when ctx asks for fresh checks, of a count made
// now (see httpapi.WantsFreshChecks).
func (g *gw) readiness(ctx context.Context) mosaic.Checks {
	fresh := httpapi.WantsFreshChecks(ctx)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	now := time.Now()
	checks := mosaic.Checks{
		g.checkDatabase(ctx),
		g.checkMigrations(ctx),
		g.caCheck(now),
		certCheck("tls_certificate", g.serverCert.Load().Leaf, now, tlsWarnLeft),
	}
	if fresh {
		checks = append(checks, g.seals.fresh(ctx, sealFreshWait))
	} else {
		checks = append(checks, g.seals.check())
	}
	if g.step != nil {
		checks = append(checks, g.checkStep(ctx))
	}
	return checks
}

// caCheck reports on the embedded CA's signing intermediate: its serial
// and how long it remains valid. When it warns or fails and a new
// intermediate could outlive it under the same root, it says to rotate.
func (g *gw) caCheck(now time.Time) mosaic.Check {
	inter := g.ca.Intermediate()
	c := certCheck("ca", inter, now, caWarnLeft)
	c.Reason = "signing intermediate " + pki.SerialHex(inter) + " " + c.Reason
	if c.Status != mosaic.CheckOK && inter.NotAfter.Before(g.ca.Root().NotAfter) {
		c.Reason += "; run mosaic gateway rotate-ca"
	}
	return c
}

// checkStep reports whether step-ca answers its health check and serves
// the root the gateway was configured with.
func (g *gw) checkStep(ctx context.Context) mosaic.Check {
	c := mosaic.Check{Name: "step_ca", Status: mosaic.CheckFail}
	if err := g.step.Health(ctx); err != nil {
		c.Reason = "no healthy answer at " + g.step.URL() + ": " + mosaic.ErrorMessage(err)
		return c
	}
	if err := g.step.CheckRoot(ctx); err != nil {
		c.Reason = "root served by " + g.step.URL() + " is not STEP_CA_ROOT_CERT_PATH: " +
			mosaic.ErrorMessage(err)
		return c
	}
	c.Status, c.Reason = mosaic.CheckOK, "healthy at "+g.step.URL()+", root matches"
	return c
}

// checkDatabase reports whether the database answers a ping.
func (g *gw) checkDatabase(ctx context.Context) mosaic.Check {
	if err := g.store.Ping(ctx); err != nil {
		return mosaic.Check{Name: "database", Status: mosaic.CheckFail, Reason: "unreachable"}
	}
	return mosaic.Check{Name: "database", Status: mosaic.CheckOK, Reason: "reachable"}
}

// checkMigrations reports whether the schema is the newest this build
// knows.
func (g *gw) checkMigrations(ctx context.Context) mosaic.Check {
	c := mosaic.Check{Name: "migrations"}
	current, known, err := g.db.SchemaStatus(ctx)
	switch {
	case err != nil:
		c.Status, c.Reason = mosaic.CheckFail, "cannot read the schema version"
	case current != known:
		c.Status, c.Reason = mosaic.CheckFail,
			fmt.Sprintf("schema at version %d, this build expects %d", current, known)
	default:
		c.Status, c.Reason = mosaic.CheckOK, fmt.Sprintf("schema at version %d", current)
	}
	return c
}

// certCheck reports how long a certificate remains valid: fail when it is
// not valid now, warn when less than warnLeft remains.
func certCheck(name string, cert *x509.Certificate, now time.Time, warnLeft time.Duration) mosaic.Check {
	c := mosaic.Check{Name: name}
	switch {
	case cert == nil:
		c.Status, c.Reason = mosaic.CheckFail, "no certificate"
	case now.Before(cert.NotBefore):
		c.Status, c.Reason = mosaic.CheckFail, "not valid before "+cert.NotBefore.UTC().Format(time.RFC3339)
	case !now.Before(cert.NotAfter):
		c.Status, c.Reason = mosaic.CheckFail, "expired at "+cert.NotAfter.UTC().Format(time.RFC3339)
	default:
		left := cert.NotAfter.Sub(now)
		c.Status = mosaic.CheckOK
		if left < warnLeft {
			c.Status = mosaic.CheckWarn
		}
		c.Reason = fmt.Sprintf("valid until %s (%d days left)",
			cert.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24))
	}
	return c
}
